//! `group-orth=λ:groups=32:variant=inter`: group orthogonalization regularization (GOR),
//! soft orthonormality of sets of filters chosen by groups of rows.
//!
//! ## Formula
//! ```text
//! G = min(groups, ⌊out/4⌋),  n = out / G          (error unless G ≥ 1 and G divides out)
//! W_g = W[g·n .. (g+1)·n, :] ∈ R^{n×d},  g = 0..G  (contiguous blocks of rows)
//! dist(S) = ‖SᵀS − I_d‖²_F  if m ≥ d   ("tall")     for S ∈ R^{m×d}
//!         = ‖S Sᵀ − I_m‖²_F  if m < d   ("wide")
//! variant=inter:  r(W) = Σ_{g<G} dist(W_g)                       (the n filters of each group)
//! variant=intra:  r(W) = Σ_{i<n} dist([W_0[i]; W_1[i]; …; W_{G−1}[i]])  (row i of every group)
//! ∇dist(S) = 4 S (SᵀS − I_d)  (tall),   4 (S Sᵀ − I_m) S  (wide)
//! ```
//! and the training objective adds `λ · Σ_layers r`.
//!
//! Symbols and shapes:
//! - `W ∈ R^{out×d}`: the layer weight in PyTorch layout, rows are units or filters, `d = in`
//!   for a linear layer; a convolution kernel `[out, in, kh, kw]` is read as `[out, in·kh·kw]`.
//!   Stored either row-major or transposed (burn's `Linear`, `[in, out]`); the gradient is
//!   written in the storage layout of `W`.
//! - `groups`: the requested number of groups `N` (the official default 32, GroupNorm's);
//!   `G` the number used: at most `⌊out/4⌋`, so every group holds at least 4 filters (the
//!   official `min_num_filters = 4`), and `n = out/G ≥ 4` filters per group.
//! - `W_g[i]`: row `g·n + i` of `W`, the `i`-th filter of group `g`.
//! - `S ∈ R^{m×d}`: one set to orthonormalise, `m = n` (inter) or `m = G` (intra); `dist`
//!   takes the smaller Gram matrix, so it asks for orthonormal rows when `m ≤ d` and for
//!   orthonormal columns when `m > d` (then `m = d` counts as tall; both forms agree there).
//! - `λ ≥ 0`: the strength (outside `r`). The bias is not involved.
//!
//! **Names.** The variants keep the official code's names, which read the reverse of the plain
//! meaning: `inter` orthonormalises the filters *within* each contiguous group (the official
//! `inter_reg_loss`: `w.reshape(G, n, d)`, one set per group), `intra` the filters at the same
//! position *across* the groups (`intra_reg_loss`: `w.reshape(G, n, d).permute(1, 0, 2)`, one
//! set per position). The default is `inter`, the variant of the official README's training
//! command (`--reg-type inter`; the training script itself defaults to no GOR).
//!
//! **Shapes the official code refuses.** `calc_group_reg_loss` fails with an assertion when
//! `G` does not divide `out` (e.g. `out = 400` with the default 32 groups: `G = 32`,
//! `400 mod 32 = 16`; choose `groups` dividing `out`, such as 16, 20 or 25 there) and with a
//! division by zero when `out < 4` (`G = 0`) or `groups = 0`. Here these are an
//! [`Error::Shape`](reglab_core::Error::Shape) from `eval` (and a spec error for `groups=0`), not a panic and not a silent
//! skip. Its `group_size == 1` special case is unreachable (`n ≥ 4`); the general formula covers
//! it anyway (one set, `W` itself).
//!
//! Special cases: `groups=1` and `inter` is one set `W`, i.e. `soft-orth` (`‖W Wᵀ − I‖²_F`)
//! when `out ≤ d`, and `soft-orth − (out − d)` when `out > d`. `r = 0` exactly when every set
//! has orthonormal rows (`m ≤ d`) or orthonormal columns (`m > d`).
//!
//! Computation: per set, one f32 GEMM for the `min(m, d)²` Gram matrix on a strided view of `W`
//! (no copy, whatever the storage and variant) and, for the gradient, one GEMM for `4(S D)` or
//! `4(D S)`, added in place (row-major, `inter`) or through an `m×d` scratch; values are summed
//! in f64. Scratch buffers are kept between calls. [`Mode`] makes no difference.
//!
//! ## Paper
//! Kurtz, Bar, Giryes, "Group Orthogonalization Regularization for Vision Models Adaptation and
//! Robustness", BMVC 2023 (arXiv 2306.10001); official code YoavKurtz/GOR,
//! `weight_regularization.py` (`calc_group_reg_loss`, `inter_reg_loss`, `intra_reg_loss`,
//! `calc_dist`).

use reglab_core::linalg::{gemm, sum_sq};
use reglab_core::regularizer::{check_matrix, shape_error};
use reglab_core::{MatRef, Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// The official minimum group size (`min_num_filters`).
const MIN_GROUP: usize = 4;

/// Which sets of filters are orthonormalised (the official names; see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// One set per group: its `n` contiguous filters.
    Inter,
    /// One set per position `i < n`: the `i`-th filter of every group.
    Intra,
}

/// Group orthogonalization regularization. See the module documentation.
#[derive(Debug, Clone)]
pub struct GroupOrth {
    /// Requested number of groups `N ≥ 1`.
    groups: usize,
    /// Which sets.
    variant: Variant,
    /// Scratch for the Gram matrix minus identity, `min(m, d)²`.
    gram: Vec<f32>,
    /// Scratch for one set's gradient, `m×d` row-major.
    gset: Vec<f32>,
}

impl GroupOrth {
    /// Build from a spec (`group-orth=λ:groups=32:variant=inter|intra`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let groups = o.usize("groups", 32)?;
        o.ensure(groups >= 1, "option `groups` must be at least 1")?;
        let variant = match o.choice("variant", &["inter", "intra"], "inter")?.as_str() {
            "intra" => Variant::Intra,
            _ => Variant::Inter,
        };
        o.finish()?;
        Ok(Self { groups, variant, gram: Vec::new(), gset: Vec::new() })
    }

    /// `(G, n)` for `out` rows, or why the shape is refused.
    fn split(&self, out: usize) -> std::result::Result<(usize, usize), String> {
        let g = self.groups.min(out / MIN_GROUP);
        if g == 0 {
            return Err(format!("group-orth needs at least {MIN_GROUP} rows (filters per group), got {out}"));
        }
        if !out.is_multiple_of(g) {
            return Err(format!(
                "group-orth: {out} rows are not divisible by G = min(groups = {}, {out}/{MIN_GROUP}) = {g} groups \
                 (as in the official code); choose a `groups` that divides {out}",
                self.groups
            ));
        }
        Ok((g, out / g))
    }
}

impl Regularizer for GroupOrth {
    fn name(&self) -> &'static str {
        "group-orth"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check_matrix("group-orth", t, grad.as_deref())?;
        let wt = &t.weight;
        let w = wt.matrix();
        let (out, d) = (w.rows, w.cols);
        let (ng, n) = self.split(out).map_err(|why| shape_error(t, why))?;
        if d == 0 {
            return Ok(0.0);
        }
        // set k: m rows, starting at row `first`, every `step` rows
        let (sets, m, step) = match self.variant {
            Variant::Inter => (ng, n, 1),
            Variant::Intra => (n, ng, n),
        };
        let variant = self.variant;
        let first = |k: usize| match variant {
            Variant::Inter => k * n,
            Variant::Intra => k,
        };
        let tall = m >= d;
        let k = if tall { d } else { m };
        self.gram.resize(k * k, 0.0);
        if grad.is_some() {
            self.gset.resize(m * d, 0.0);
        }
        let mut grad = grad;
        let mut value = 0.0f64;
        for s in 0..sets {
            let f = first(s);
            let sv = MatRef { data: &w.data[f * w.rs..], rows: m, cols: d, rs: step * w.rs, cs: w.cs };
            let dm = &mut self.gram[..k * k];
            if tall {
                gemm(1.0, sv.t(), sv, 0.0, dm); // SᵀS, d×d
            } else {
                gemm(1.0, sv, sv.t(), 0.0, dm); // S Sᵀ, m×m
            }
            for i in 0..k {
                dm[i * k + i] -= 1.0;
            }
            value += sum_sq(dm);
            if let Some(g) = grad.as_deref_mut() {
                let dref = MatRef { data: dm, rows: k, cols: k, rs: k, cs: 1 };
                let alpha = 4.0 * scale;
                if w.cs == 1 && step == 1 {
                    // row-major and contiguous rows: add straight into the gradient block
                    let block = &mut g.weight[f * d..(f + m) * d];
                    if tall {
                        gemm(alpha, sv, dref, 1.0, block);
                    } else {
                        gemm(alpha, dref, sv, 1.0, block);
                    }
                } else {
                    let gs = &mut self.gset[..m * d];
                    if tall {
                        gemm(alpha, sv, dref, 0.0, gs);
                    } else {
                        gemm(alpha, dref, sv, 0.0, gs);
                    }
                    for r in 0..m {
                        let base = (f + r * step) * w.rs;
                        for (c, &x) in gs[r * d..(r + 1) * d].iter().enumerate() {
                            g.weight[base + c * w.cs] += x;
                        }
                    }
                }
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, dense, fixture_weights, gradient_error, rel};
    use reglab_core::{Error, Layout};

    fn reg(opts: &str) -> GroupOrth {
        GroupOrth::from_spec(&Spec::parse(&format!("group-orth=1{opts}")).unwrap()).unwrap()
    }

    /// Naive dist of the rows `idx` of a dense matrix: explicit Gram of the smaller side.
    fn naive_dist(m: &[f64], cols: usize, idx: &[usize]) -> f64 {
        let rows = idx.len();
        let mut s = 0.0;
        if rows >= cols {
            for a in 0..cols {
                for b in 0..cols {
                    let g: f64 = idx.iter().map(|&r| m[r * cols + a] * m[r * cols + b]).sum();
                    s += (g - if a == b { 1.0 } else { 0.0 }).powi(2);
                }
            }
        } else {
            for (i, &ra) in idx.iter().enumerate() {
                for (j, &rb) in idx.iter().enumerate() {
                    let g: f64 = (0..cols).map(|k| m[ra * cols + k] * m[rb * cols + k]).sum();
                    s += (g - if i == j { 1.0 } else { 0.0 }).powi(2);
                }
            }
        }
        s
    }

    /// Naive value with the sets written out as index lists.
    fn naive(c: &Case, groups: usize, intra: bool) -> f64 {
        let (rows, cols, m) = dense(c);
        let g = groups.min(rows / 4);
        let n = rows / g;
        if intra {
            (0..n).map(|i| naive_dist(&m, cols, &(0..g).map(|q| q * n + i).collect::<Vec<_>>())).sum()
        } else {
            (0..g).map(|q| naive_dist(&m, cols, &(q * n..(q + 1) * n).collect::<Vec<_>>())).sum()
        }
    }

    #[test]
    fn value_matches_naive_sets() {
        // (shape, groups): wide and tall sets for both variants, several G
        for (k, (shape, groups)) in
            [(&[8usize, 12][..], 2usize), (&[16, 3][..], 32), (&[12, 5][..], 3), (&[16, 6][..], 2), (&[8, 3, 2, 2][..], 2), (&[20, 2, 1, 3][..], 32)]
                .into_iter()
                .enumerate()
        {
            for (variant, intra) in [("inter", false), ("intra", true)] {
                let c = Case::random("a.weight", shape, 30 + k as u64);
                let want = naive(&c, groups, intra);
                let mut r = reg(&format!(":groups={groups}:variant={variant}"));
                assert!(rel(c.value(&mut r), want) < 1e-5, "{shape:?} {groups} {variant}: {} vs {want}", c.value(&mut r));
                if shape.len() == 2 {
                    assert!(rel(c.transposed().value(&mut r), want) < 1e-5, "{shape:?} {variant} transposed");
                }
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for (variant, groups) in [("inter", 2), ("intra", 2), ("inter", 32), ("intra", 3)] {
            let mut r = reg(&format!(":groups={groups}:variant={variant}"));
            for c in [
                Case::random("a.weight", &[8, 5], 40),
                Case::random("b.weight", &[12, 3], 41),
                Case::random("a.weight", &[8, 5], 42).transposed(),
                Case::random("b.weight", &[12, 3], 43).transposed(),
                Case::random("conv.weight", &[12, 2, 2, 2], 44),
                Case::random("conv.weight", &[8, 1, 1, 2], 45),
            ] {
                let e = gradient_error(&mut r, &c, 1e-2);
                assert!(e < 1e-3, "{variant} groups={groups} {} {:?} {:?}: {e}", c.name, c.shape, c.layout);
            }
        }
    }

    // Official values and gradients: YoavKurtz/GOR weight_regularization.py (commit 874a9ff as
    // stored), `calc_group_reg_loss(nn.Sequential(layer), num_groups, reg_type)` run by hand in
    // float64 on CPU (`.cuda()` made a no-op), gradient by autograd on `layer.weight`, for
    // CONV: `nn.Conv2d(2, 8, 2)`, weight [8, 2, 2, 2], num_groups = 2 (G = 2, n = 4, sets wide);
    // FC: `nn.Linear(3, 16)` with `regularize_fc_layers=True`, weight [16, 3], num_groups = 32
    // (G = 4, n = 4, sets tall); weights filled with `((i·37 mod 19) − 9)/10` in row-major order.
    const GOR_CONV_INTER_VALUE: f64 = 6.181340000000e+01;
    const GOR_CONV_INTER_GRAD: [f64; 64] = [
        -9.5840000000e+00,
        9.3880000000e+00,
        8.5240000000e+00,
        7.6600000000e+00,
        7.1000000000e+00,
        6.2360000000e+00,
        5.3720000000e+00,
        4.5080000000e+00,
        5.4640000000e+00,
        6.4000000000e-01,
        1.4400000000e+00,
        2.2400000000e+00,
        -5.3200000000e+00,
        -4.5200000000e+00,
        -3.7200000000e+00,
        -2.9200000000e+00,
        -1.1864000000e+01,
        -1.2136000000e+01,
        -1.2712000000e+01,
        -1.3288000000e+01,
        1.3496000000e+01,
        1.2920000000e+01,
        1.2344000000e+01,
        1.1768000000e+01,
        1.1320000000e+00,
        3.4360000000e+00,
        3.8400000000e+00,
        4.2440000000e+00,
        -3.7120000000e+00,
        -3.3080000000e+00,
        -2.9040000000e+00,
        -2.5000000000e+00,
        -4.2200000000e+00,
        -4.3800000000e+00,
        -1.5104000000e+01,
        -1.5264000000e+01,
        -1.5424000000e+01,
        -1.5584000000e+01,
        -1.5744000000e+01,
        3.9320000000e+00,
        4.5400000000e+00,
        5.0440000000e+00,
        7.6000000000e+00,
        8.1040000000e+00,
        8.6080000000e+00,
        9.1120000000e+00,
        9.6160000000e+00,
        -3.0280000000e+00,
        9.8800000000e-01,
        1.3960000000e+00,
        -9.5200000000e+00,
        -9.1120000000e+00,
        -8.7040000000e+00,
        -8.2960000000e+00,
        -7.8880000000e+00,
        -5.6400000000e-01,
        -7.5800000000e+00,
        -7.8000000000e+00,
        1.5996000000e+01,
        1.5776000000e+01,
        1.5556000000e+01,
        1.5336000000e+01,
        1.5116000000e+01,
        4.3320000000e+00,
    ];
    const GOR_CONV_INTRA_VALUE: f64 = 4.750920000000e+01;
    const GOR_CONV_INTRA_GRAD: [f64; 64] = [
        -7.2120000000e+00,
        1.2308000000e+01,
        1.1992000000e+01,
        1.1676000000e+01,
        1.1360000000e+01,
        1.1044000000e+01,
        1.0728000000e+01,
        -3.4200000000e+00,
        -7.0400000000e-01,
        -4.9600000000e-01,
        -2.8800000000e-01,
        -8.0000000000e-02,
        1.2800000000e-01,
        3.3600000000e-01,
        5.4400000000e-01,
        7.5200000000e-01,
        -8.6400000000e+00,
        -9.6400000000e+00,
        -1.0640000000e+01,
        -1.1640000000e+01,
        1.4720000000e+01,
        1.3720000000e+01,
        1.2720000000e+01,
        1.1720000000e+01,
        4.4800000000e-01,
        7.6400000000e-01,
        -1.8840000000e+00,
        -1.5680000000e+00,
        -1.2520000000e+00,
        -9.3600000000e-01,
        -6.2000000000e-01,
        -3.0400000000e-01,
        3.4200000000e+00,
        -1.0728000000e+01,
        -1.1044000000e+01,
        -1.1360000000e+01,
        -1.1676000000e+01,
        -1.1992000000e+01,
        -1.2308000000e+01,
        7.2120000000e+00,
        3.2320000000e+00,
        2.8640000000e+00,
        2.4960000000e+00,
        2.1280000000e+00,
        1.7600000000e+00,
        1.3920000000e+00,
        1.0240000000e+00,
        6.5600000000e-01,
        2.6400000000e+00,
        2.9200000000e+00,
        3.2000000000e+00,
        3.4800000000e+00,
        -4.6000000000e+00,
        -4.3200000000e+00,
        -4.0400000000e+00,
        -3.7600000000e+00,
        -1.0892000000e+01,
        -1.2000000000e+01,
        1.0908000000e+01,
        9.8000000000e+00,
        8.6920000000e+00,
        7.5840000000e+00,
        6.4760000000e+00,
        5.3680000000e+00,
    ];
    const GOR_FC_INTER_VALUE: f64 = 2.767180000000e+01;
    const GOR_FC_INTER_GRAD: [f64; 48] = [
        -3.6240000000e+00,
        5.3640000000e+00,
        4.7760000000e+00,
        6.8000000000e-02,
        2.0280000000e+00,
        1.6320000000e+00,
        1.8800000000e-01,
        7.4400000000e-01,
        7.6800000000e-01,
        3.0800000000e-01,
        -5.4000000000e-01,
        -9.6000000000e-02,
        -2.7280000000e+00,
        -2.4520000000e+00,
        -1.6440000000e+00,
        -5.6080000000e+00,
        -5.5000000000e+00,
        -3.0360000000e+00,
        -7.0440000000e+00,
        -7.4080000000e+00,
        1.8040000000e+00,
        6.8720000000e+00,
        7.7080000000e+00,
        2.9960000000e+00,
        1.2800000000e-01,
        5.9200000000e-01,
        1.0560000000e+00,
        -2.5600000000e-01,
        1.3600000000e-01,
        5.2800000000e-01,
        -6.4000000000e-01,
        -3.2000000000e-01,
        -2.2204460493e-16,
        -1.0240000000e+00,
        -7.7600000000e-01,
        -5.2800000000e-01,
        -1.2856000000e+01,
        -1.1816000000e+01,
        -1.0776000000e+01,
        1.2232000000e+01,
        1.1928000000e+01,
        1.1624000000e+01,
        7.5280000000e+00,
        7.4760000000e+00,
        7.4240000000e+00,
        2.8240000000e+00,
        3.0240000000e+00,
        3.2240000000e+00,
    ];
    const GOR_FC_INTRA_VALUE: f64 = 2.580940000000e+01;
    const GOR_FC_INTRA_GRAD: [f64; 48] = [
        -1.6400000000e+00,
        7.8600000000e+00,
        7.7840000000e+00,
        7.8160000000e+00,
        7.5360000000e+00,
        7.2560000000e+00,
        1.3680000000e+00,
        1.6920000000e+00,
        -1.1000000000e+00,
        -3.3600000000e-01,
        3.2000000000e-02,
        4.0000000000e-01,
        -7.0800000000e-01,
        -3.5360000000e+00,
        -3.2480000000e+00,
        -8.4080000000e+00,
        -7.3920000000e+00,
        -6.3760000000e+00,
        -6.0520000000e+00,
        -6.1600000000e+00,
        3.3080000000e+00,
        3.7520000000e+00,
        3.7840000000e+00,
        3.8160000000e+00,
        1.3640000000e+00,
        3.1560000000e+00,
        3.8080000000e+00,
        1.0560000000e+00,
        1.3160000000e+00,
        1.5760000000e+00,
        -5.5200000000e-01,
        -2.8000000000e-02,
        4.2000000000e-01,
        -3.2560000000e+00,
        -2.6480000000e+00,
        -2.0400000000e+00,
        -2.1880000000e+00,
        -8.3160000000e+00,
        -8.2880000000e+00,
        1.0520000000e+01,
        1.0024000000e+01,
        9.5280000000e+00,
        2.1360000000e+00,
        2.3800000000e+00,
        -1.7080000000e+00,
        8.3200000000e-01,
        1.1040000000e+00,
        1.3760000000e+00,
    ];

    /// (shape, groups, variant, official value, official gradient)
    type Fixture<'a> = (&'a [usize], usize, &'a str, f64, &'a [f64]);

    #[test]
    fn matches_the_official_code() {
        let cases: [Fixture; 4] = [
            (&[8, 2, 2, 2], 2, "inter", GOR_CONV_INTER_VALUE, &GOR_CONV_INTER_GRAD),
            (&[8, 2, 2, 2], 2, "intra", GOR_CONV_INTRA_VALUE, &GOR_CONV_INTRA_GRAD),
            (&[16, 3], 32, "inter", GOR_FC_INTER_VALUE, &GOR_FC_INTER_GRAD),
            (&[16, 3], 32, "intra", GOR_FC_INTRA_VALUE, &GOR_FC_INTRA_GRAD),
        ];
        for (shape, groups, variant, value, want) in cases {
            let n: usize = shape.iter().product();
            let c = Case { weight: fixture_weights(n), ..Case::random("p.weight", shape, 0) };
            let mut layouts = vec![c.clone()];
            if shape.len() == 2 {
                layouts.push(c.transposed());
            }
            let mut r = reg(&format!(":groups={groups}:variant={variant}"));
            for case in layouts {
                let (v, g, _) = case.value_and_grad(&mut r);
                assert!(rel(v, value) < 1e-5, "{shape:?} {variant} {:?}: {v} vs {value}", case.layout);
                let (rows, cols) = (shape[0], n / shape[0]);
                let scale = want.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                for i in 0..rows {
                    for k in 0..cols {
                        let got = match case.layout {
                            Layout::RowMajor => g[i * cols + k],
                            Layout::Transposed => g[k * rows + i],
                        } as f64;
                        let w = want[i * cols + k];
                        assert!((got - w).abs() < 1e-5 * scale, "{shape:?} {variant} {:?} ({i},{k}): {got} vs {w}", case.layout);
                    }
                }
            }
        }
    }

    #[test]
    fn zero_when_the_sets_are_orthonormal() {
        // 8×8 permutation-like rows e_{π(r)}: every set of rows is orthonormal (wide or square)
        let perm = [3usize, 6, 0, 7, 2, 5, 1, 4];
        let mut w = vec![0.0f32; 64];
        for (r, &p) in perm.iter().enumerate() {
            w[r * 8 + p] = if r % 2 == 0 { 1.0 } else { -1.0 };
        }
        let c = Case { weight: w, ..Case::random("p.weight", &[8, 8], 0) };
        for v in ["inter", "intra"] {
            let (val, g, _) = c.value_and_grad(&mut reg(&format!(":groups=2:variant={v}")));
            assert_eq!(val, 0.0, "{v}");
            assert!(g.iter().all(|&x| x == 0.0), "{v}");
        }
        // inter only: each group's 4 rows orthonormal in R^4, but the two groups equal, so the
        // intra sets (row i of both groups) are two equal unit rows: dist = 2 per set
        let mut w = vec![0.0f32; 32];
        for r in 0..8 {
            w[r * 4 + r % 4] = 1.0;
        }
        let c = Case { weight: w, ..Case::random("q.weight", &[8, 4], 0) };
        assert_eq!(c.value(&mut reg(":groups=2:variant=inter")), 0.0);
        // S = [e_i; e_i] (2×4, wide): S Sᵀ − I = [[0, 1], [1, 0]], dist = 2; four sets
        assert_eq!(c.value(&mut reg(":groups=2:variant=intra")), 8.0);
        // and the transposed storage sees the same
        assert_eq!(c.transposed().value(&mut reg(":groups=2:variant=intra")), 8.0);
        // random weights are far from it
        assert!(Case::random("r.weight", &[8, 4], 46).value(&mut reg(":groups=2")) > 0.1);
    }

    #[test]
    fn one_inter_group_is_soft_orth() {
        use crate::orthogonality::soft_orth::SoftOrth;
        let mut so = SoftOrth::from_spec(&Spec::parse("soft-orth=1").unwrap()).unwrap();
        // out ≤ d: the same penalty
        for c in [Case::random("a.weight", &[6, 9], 47), Case::random("b.weight", &[4, 2, 3, 3], 48)] {
            let v = c.value(&mut reg(":groups=1"));
            assert!(rel(v, c.value(&mut so)) < 1e-5, "{}: {v} vs {}", c.name, c.value(&mut so));
        }
        // out > d: GOR uses WᵀW − I_d, soft-orth W Wᵀ − I_out, which has out − d more
        let c = Case::random("t.weight", &[9, 4], 49);
        assert!(rel(c.value(&mut reg(":groups=1")), c.value(&mut so) - 5.0) < 1e-5);
    }

    #[test]
    fn groups_follow_the_official_rule() {
        // out = 16, groups = 32: G = min(32, 4) = 4 groups of 4; groups = 2: 2 groups of 8
        let c = Case::random("a.weight", &[16, 20], 50);
        let (rows, cols, m) = dense(&c);
        assert_eq!((rows, cols), (16, 20));
        let four: f64 = (0..4).map(|q| naive_dist(&m, 20, &(q * 4..q * 4 + 4).collect::<Vec<_>>())).sum();
        let two: f64 = (0..2).map(|q| naive_dist(&m, 20, &(q * 8..q * 8 + 8).collect::<Vec<_>>())).sum();
        assert!(rel(c.value(&mut reg("")), four) < 1e-5);
        assert!(rel(c.value(&mut reg(":groups=2")), two) < 1e-5);
        assert!(rel(four, two) > 1e-3);
    }

    #[test]
    fn refused_shapes_and_options_are_errors_not_panics() {
        let mut r = reg("");
        // 400 rows, G = 32 does not divide: the official assertion
        let c = Case::random("layers.0.weight", &[400, 6], 51);
        let e = r.eval(&c.target(), None, 1.0, Mode::Step).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }) && e.to_string().contains("divisible"), "{e}");
        assert!(c.value(&mut reg(":groups=25")) > 0.0);
        // 18 rows: G = min(32, 4) = 4 does not divide 18
        let c = Case::random("a.weight", &[18, 3], 52);
        assert!(matches!(r.eval(&c.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        // fewer than 4 rows: the official division by zero
        let c = Case::random("head.weight", &[3, 5], 53);
        assert!(matches!(r.eval(&c.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        // vectors, gradient buffers of the wrong size
        let v = Case::random("norm.weight", &[8], 54);
        assert!(matches!(r.eval(&v.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(!r.accepts(&v.target().weight));
        let c = Case::random("fc.weight", &[8, 4], 55);
        assert!(r.accepts(&c.target().weight));
        let mut gw = vec![0.0; 31];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        // options
        for bad in ["group-orth=1:groups=0", "group-orth=1:variant=both", "group-orth=1:groups=x", "group-orth=1:k=2"] {
            assert!(GroupOrth::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
        let d = reg("");
        assert_eq!((d.groups, d.variant), (32, Variant::Inter));
    }

    #[test]
    fn scratch_is_reused_across_shapes_and_gradients_accumulate() {
        let mut r = reg(":groups=2:variant=intra");
        let big = Case::random("a.weight", &[16, 9], 56);
        let small = Case::random("b.weight", &[8, 3], 57);
        big.value_and_grad(&mut r);
        assert_eq!(small.value(&mut r), small.value(&mut reg(":groups=2:variant=intra")));
        // eval adds scale·∇r into the buffer, in every path (in place and through scratch)
        for (v, c) in [("inter", small.clone()), ("intra", small.clone()), ("inter", small.transposed())] {
            let mut r = reg(&format!(":groups=2:variant={v}"));
            let (_, g1, _) = c.value_and_grad(&mut r);
            let mut gw = vec![1.0f32; g1.len()];
            let mut g = TargetGrad { weight: &mut gw, bias: None };
            r.eval(&c.target(), Some(&mut g), 0.5, Mode::Step).unwrap();
            for (a, b) in gw.iter().zip(&g1) {
                assert!((a - (1.0 + 0.5 * b)).abs() < 1e-5, "{v} {:?}", c.layout);
            }
        }
    }
}
