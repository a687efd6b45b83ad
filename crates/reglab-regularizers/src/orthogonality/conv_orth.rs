//! `conv-orth=λ:stride=1:padding=P`: orthogonal convolution (OCNN), the self-convolution of a
//! kernel against the identity, `‖conv(K, K; stride, padding) − I_r0‖²_F`.
//!
//! ## Formula
//! ```text
//! O[a, b, p, q] = Σ_{c<C} Σ_{u<kh} Σ_{v<kw} K̃[a, c, S·p + u, S·q + v] · K[b, c, u, v]
//!              = Σ_{c,u,v} K[a, c, u + t_p, v + t_q] · K[b, c, u, v],   t_p = S·p − P_h, t_q = S·q − P_w
//! R = O − I_r0,   I_r0[a, b, p, q] = δ_ab · [p = ⌊h'/2⌋] · [q = ⌊w'/2⌋]
//! r(K) = ‖R‖²_F = Σ_{a,b,p,q} R[a, b, p, q]²
//! ∂r/∂K[a, c, y, x] = 2 Σ_{b,p,q} R[a, b, p, q] · K[b, c, y − t_p, x − t_q]      (K as the input)
//!                   + 2 Σ_{b,p,q} R[b, a, p, q] · K[b, c, y + t_p, x + t_q]      (K as the weight)
//! ```
//! and the training objective adds `λ · Σ_layers r`. `conv` is PyTorch's `conv2d` (a
//! cross-correlation): the kernel tensor is the input, a batch of `M` images with `C` channels
//! of size `kh×kw`, zero-padded by `P`, and also the weight; entries of `K` outside
//! `[0, kh)×[0, kw)` are zero.
//!
//! Symbols and shapes:
//! - `K ∈ R^{M×C×kh×kw}`: a convolution kernel in PyTorch layout `[out, in, kh, kw]`
//!   (`M = out`, `C = in`); only 4-D tensors are accepted (matrices and vectors are skipped,
//!   [`Regularizer::accepts`] is false for them). `K̃` is `K` zero-padded by `P_h`, `P_w`.
//! - `S = stride ≥ 1`; `P_h`, `P_w`: the padding, by default the paper's
//!   `P = ⌊(k − 1)/S⌋ · S` per axis (`k − 1`, "full", for `S = 1`), or the value of `padding=`
//!   on both axes.
//! - `O, R, I_r0 ∈ R^{M×M×h'×w'}` with `h' = ⌊2P_h/S⌋ + 1`, `w' = ⌊2P_w/S⌋ + 1`; output
//!   position `(p, q)` is the relative shift `(t_p, t_q)` of the two copies of `K`. `I_r0` holds
//!   the `M×M` identity at the centre `(⌊h'/2⌋, ⌊w'/2⌋)` and zeros elsewhere.
//! - `λ ≥ 0`: the strength (outside `r`). The bias is not involved.
//!
//! When `S` divides `P` (always with the default padding), the centre is the zero shift and
//! `r = 0` says: the filters are orthonormal (`O[·,·,centre] = K Kᵀ = I` for `K` read as
//! `[M, C·kh·kw]`) *and* every filter is orthogonal to every shift by a multiple of `S` of every
//! filter (itself included) — the rows of the layer's doubly block-Toeplitz matrix (on an
//! unbounded or circular image) are orthonormal. E.g. an orthonormal `M×C` matrix at the centre
//! tap and zeros elsewhere gives `r = 0`; orthonormal flattened filters alone (`soft-orth` = 0)
//! do not. With `padding=0`, `h' = w' = 1` and `r` is `soft-orth`'s `‖K Kᵀ − I‖²_F`. Zero needs
//! `M ≤ C·S²` (otherwise the layer has more rows than columns); the paper's column form
//! `Conv(Kᵀ, Kᵀ)` for that case is not implemented.
//!
//! ## The official code
//! samaonline/Orthogonal-Convolutional-Neural-Networks, `imagenet/utils.py`,
//! `deconv_orth_dist(kernel, stride=2, padding=1)`: `torch.norm(conv2d(kernel, kernel, stride,
//! padding) − target)` with the identity at `ct = ⌊w'/2⌋` on both axes. So
//! **official = √r** (the norm is not squared; the paper's loss is), and its gradient is
//! `∇r / (2√r)`. The training scripts (`main_orth18.py` and siblings) call it on 3×3 kernels with
//! `stride=1` or `stride=2` and the default `padding=1`, not the paper's `P = 2`: for `stride=1`
//! that drops the shifts ±2, for `stride=2` the shifts are ±1 and the identity sits at shift
//! `+1` — the code's convention, reproduced here for `padding` not a multiple of `stride`
//! (`conv-orth=λ:stride=2:padding=1` matches the official value), but then `r` is no longer an
//! orthogonality measure (a centre-tap orthogonal kernel scores `M`, not 0). Rectangular
//! kernels are allowed here (centre `⌊h'/2⌋` on the height axis; the official code takes
//! `⌊w'/2⌋` for both).
//!
//! Computation: `K` is unfolded once into `X ∈ R^{(M·h'·w')×(C·kh·kw)}` (row `(a, p, q)` is the
//! padded window of image `a` at shift `(t_p, t_q)`), then `R = X Kᵀ − I_r0` is one f32 GEMM;
//! the gradient is `2 Rᵀ X` (one GEMM, added in place) plus the fold of `2 R K` (one GEMM into the
//! same buffer as `X`, then added back at the window positions). When `S` divides `P_h` and
//! `P_w` (the default), `R[a, b, t] = R[b, a, −t]` makes the two terms equal and the gradient is
//! `4 Rᵀ X` alone. The value is summed in f64.
//! Both scratch buffers are kept between calls, so steady-state training allocates nothing. For
//! the realistic `[32, 16, 3, 3]` with `stride=1`, `X` is 800×144. [`Mode`] makes no
//! difference; a `Layout` on a 4-D tensor is ignored (it is row-major by convention).
//!
//! ## Papers
//! Wang, Chen, Chakraborty, Yu, "Orthogonal Convolutional Neural Networks", CVPR 2020 (arXiv
//! 1911.12207): the condition `Conv(K, K, padding = P, stride = S) = I_r0` with
//! `P = ⌊(k − 1)/S⌋·S` and the loss `L_orth = ‖Conv(K, K, padding = P, stride = S) − I_r0‖²_F`.
//! Achour, Malgouyres, Mamalet, "Existence, Stability and Scalability of Orthogonal
//! Convolutional Neural Networks", JMLR 2022: when orthogonal convolutions exist, and that this
//! penalty is a stable measure of a layer's distance to orthogonality.

use reglab_core::linalg::{gemm, sum_sq};
use reglab_core::regularizer::{check_values, shape_error};
use reglab_core::{MatRef, Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// Orthogonal convolution `‖conv(K, K) − I_r0‖²_F`. See the module documentation.
#[derive(Debug, Clone)]
pub struct ConvOrth {
    /// Stride `S ≥ 1`.
    stride: usize,
    /// Padding on both axes; `None`: the paper's `⌊(k − 1)/S⌋·S` per axis.
    padding: Option<usize>,
    /// Scratch: the unfolded kernel `X`, then `2 R K`; `[M·h'·w', C·kh·kw]` row-major.
    xcol: Vec<f32>,
    /// Scratch: the residual `R`, `[M·h'·w', M]` row-major (row `(a, p, q)`, column `b`).
    res: Vec<f32>,
}

/// Geometry of one evaluation.
struct Geom {
    m: usize,
    c: usize,
    kh: usize,
    kw: usize,
    s: usize,
    ph: usize,
    pw: usize,
    ho: usize,
    wo: usize,
}

impl Geom {
    /// Shift `(t_p, t_q)` of output position `(p, q)`.
    fn shift(&self, p: usize, q: usize) -> (isize, isize) {
        ((self.s * p) as isize - self.ph as isize, (self.s * q) as isize - self.pw as isize)
    }

    /// Valid `v` range `[lo, hi)` for the column shift `t` (so that `0 ≤ v + t < kw`).
    fn cols(&self, t: isize) -> (usize, usize) {
        let lo = (-t).max(0) as usize;
        let hi = (self.kw as isize - t).clamp(0, self.kw as isize) as usize;
        (lo.min(hi), hi)
    }
}

impl ConvOrth {
    /// Build from a spec (`conv-orth=λ:stride=1:padding=P`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let stride = o.usize("stride", 1)?;
        o.ensure(stride >= 1, "option `stride` must be at least 1")?;
        let padding = match o.f64_opt("padding")? {
            None => None,
            Some(p) => {
                o.ensure(p >= 0.0 && p.fract() == 0.0 && p <= 1e6, "option `padding` must be a non-negative integer")?;
                Some(p as usize)
            }
        };
        o.finish()?;
        Ok(Self { stride, padding, xcol: Vec::new(), res: Vec::new() })
    }

    fn geom(&self, shape: &[usize]) -> Geom {
        let (m, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
        let s = self.stride;
        let ph = self.padding.unwrap_or((kh - 1) / s * s);
        let pw = self.padding.unwrap_or((kw - 1) / s * s);
        Geom { m, c, kh, kw, s, ph, pw, ho: 2 * ph / s + 1, wo: 2 * pw / s + 1 }
    }
}

impl Regularizer for ConvOrth {
    fn name(&self) -> &'static str {
        "conv-orth"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.shape.len() == 4
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let wt = &t.weight;
        if wt.shape.len() != 4 {
            return Err(shape_error(t, format!("conv-orth needs a kernel [out, in, kh, kw], got shape {:?}", wt.shape)));
        }
        check_values(t, grad.as_deref())?;
        if wt.shape.contains(&0) {
            return Err(shape_error(t, format!("conv-orth needs a non-empty kernel, got shape {:?}", wt.shape)));
        }
        let gm = self.geom(wt.shape);
        let (m, c, kh, kw) = (gm.m, gm.c, gm.kh, gm.kw);
        let (ho, wo) = (gm.ho, gm.wo);
        let d = c * kh * kw;
        let rows = m * ho * wo;
        let k = wt.data;
        let kmat = MatRef { data: k, rows: m, cols: d, rs: d, cs: 1 };

        // X: row (a, p, q) = K[a, :, u + t_p, v + t_q] over (c, u, v), zero outside
        self.xcol.resize(rows * d, 0.0);
        let x = &mut self.xcol[..rows * d];
        x.fill(0.0);
        for a in 0..m {
            for p in 0..ho {
                for q in 0..wo {
                    let (th, tw) = gm.shift(p, q);
                    let (v0, v1) = gm.cols(tw);
                    if v0 == v1 {
                        continue;
                    }
                    let row = &mut x[((a * ho + p) * wo + q) * d..][..d];
                    for ci in 0..c {
                        for u in 0..kh {
                            let y = u as isize + th;
                            if y < 0 || y >= kh as isize {
                                continue;
                            }
                            let src = ((a * c + ci) * kh + y as usize) * kw;
                            let dst = (ci * kh + u) * kw;
                            let xs = (v0 as isize + tw) as usize;
                            row[dst + v0..dst + v1].copy_from_slice(&k[src + xs..src + xs + (v1 - v0)]);
                        }
                    }
                }
            }
        }

        // R = X Kᵀ − I_r0
        self.res.resize(rows * m, 0.0);
        let r = &mut self.res[..rows * m];
        let xm = MatRef { data: x, rows, cols: d, rs: d, cs: 1 };
        gemm(1.0, xm, kmat.t(), 0.0, r);
        let centre = (ho / 2) * wo + wo / 2;
        for a in 0..m {
            r[(a * ho * wo + centre) * m + a] -= 1.0;
        }
        let value = sum_sq(r);

        if let Some(g) = grad {
            let rm = MatRef { data: r, rows, cols: m, rs: m, cs: 1 };
            // With the identity at the zero shift (S divides P on both axes) the shifts are
            // symmetric and R[a, b, t] = R[b, a, −t], so the two halves of the gradient are
            // equal: G += 4 Rᵀ X, no fold.
            if gm.ph.is_multiple_of(gm.s) && gm.pw.is_multiple_of(gm.s) {
                gemm(4.0 * scale, rm.t(), xm, 1.0, g.weight);
                return Ok(value);
            }
            let alpha = 2.0 * scale;
            // K as the weight: G += α Rᵀ X
            gemm(alpha, rm.t(), xm, 1.0, g.weight);
            // K as the input: α R K, folded back onto the windows it was read from
            gemm(alpha, rm, kmat, 0.0, x);
            for a in 0..m {
                for p in 0..ho {
                    for q in 0..wo {
                        let (th, tw) = gm.shift(p, q);
                        let (v0, v1) = gm.cols(tw);
                        if v0 == v1 {
                            continue;
                        }
                        let row = &x[((a * ho + p) * wo + q) * d..][..d];
                        for ci in 0..c {
                            for u in 0..kh {
                                let y = u as isize + th;
                                if y < 0 || y >= kh as isize {
                                    continue;
                                }
                                let dst = ((a * c + ci) * kh + y as usize) * kw + (v0 as isize + tw) as usize;
                                let src = (ci * kh + u) * kw + v0;
                                for (gi, &xi) in g.weight[dst..dst + (v1 - v0)].iter_mut().zip(&row[src..src + (v1 - v0)]) {
                                    *gi += xi;
                                }
                            }
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
    use reglab_core::Error;
    use reglab_core::testing::{Case, gradient_error, rel};

    fn reg(opts: &str) -> ConvOrth {
        ConvOrth::from_spec(&Spec::parse(&format!("conv-orth=1{opts}")).unwrap()).unwrap()
    }

    /// Naive value by the definition: pad K explicitly, slide with the stride, compare with the
    /// identity at the centre.
    fn naive(k: &[f32], shape: &[usize], stride: usize, padding: Option<usize>) -> f64 {
        let (m, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
        let ph = padding.unwrap_or((kh - 1) / stride * stride);
        let pw = padding.unwrap_or((kw - 1) / stride * stride);
        let (hp, wp) = (kh + 2 * ph, kw + 2 * pw);
        let mut pad = vec![0.0f64; m * c * hp * wp];
        for a in 0..m {
            for ci in 0..c {
                for y in 0..kh {
                    for x in 0..kw {
                        pad[((a * c + ci) * hp + y + ph) * wp + x + pw] = k[((a * c + ci) * kh + y) * kw + x] as f64;
                    }
                }
            }
        }
        let ho = (hp - kh) / stride + 1;
        let wo = (wp - kw) / stride + 1;
        let mut s = 0.0;
        for a in 0..m {
            for b in 0..m {
                for p in 0..ho {
                    for q in 0..wo {
                        let mut o = 0.0;
                        for ci in 0..c {
                            for u in 0..kh {
                                for v in 0..kw {
                                    o += pad[((a * c + ci) * hp + stride * p + u) * wp + stride * q + v] * k[((b * c + ci) * kh + u) * kw + v] as f64;
                                }
                            }
                        }
                        if a == b && p == ho / 2 && q == wo / 2 {
                            o -= 1.0;
                        }
                        s += o * o;
                    }
                }
            }
        }
        s
    }

    fn opts(stride: usize, padding: Option<usize>) -> String {
        match padding {
            None => format!(":stride={stride}"),
            Some(p) => format!(":stride={stride}:padding={p}"),
        }
    }

    /// `((i·37 mod 19) − 9)/20` for `i = 0..n`: the fixed kernel fed to the official code.
    fn fixed(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 37 % 19) as f32 - 9.0) / 20.0).collect()
    }

    const COMBOS: [(usize, Option<usize>); 8] =
        [(1, None), (1, Some(1)), (1, Some(0)), (2, None), (2, Some(1)), (3, None), (2, Some(3)), (1, Some(4))];

    #[test]
    fn value_matches_explicit_loops() {
        for (i, shape) in [[3usize, 2, 3, 3], [2, 3, 3, 2], [4, 1, 2, 2], [2, 2, 1, 1], [3, 2, 5, 5]].iter().enumerate() {
            let c = Case::random("conv.weight", shape, 60 + i as u64);
            for (s, p) in COMBOS {
                let want = naive(&c.weight, shape, s, p);
                let got = c.value(&mut reg(&opts(s, p)));
                assert!(rel(got, want) < 1e-5, "{shape:?} stride {s} padding {p:?}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for (i, shape) in [[3usize, 2, 3, 3], [2, 3, 3, 2], [4, 2, 2, 2], [2, 2, 1, 1]].iter().enumerate() {
            let c = Case::random("conv.weight", shape, 70 + i as u64);
            for (s, p) in COMBOS {
                let e = gradient_error(&mut reg(&opts(s, p)), &c, 1e-2);
                assert!(e < 1e-3, "{shape:?} stride {s} padding {p:?}: {e}");
            }
        }
    }

    #[test]
    fn gradient_is_added_scaled() {
        let c = Case::random("conv.weight", &[3, 2, 3, 3], 80);
        let mut r = reg("");
        let (_, g1, _) = c.value_and_grad(&mut r);
        let mut gw = vec![1.0f32; g1.len()];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        r.eval(&c.target(), Some(&mut g), 0.25, Mode::Step).unwrap();
        for (a, b) in gw.iter().zip(&g1) {
            assert!((a - (1.0 + 0.25 * b)).abs() < 1e-5);
        }
    }

    // Official values and gradients: samaonline/Orthogonal-Convolutional-Neural-Networks
    // imagenet/utils.py `deconv_orth_dist(kernel, stride, padding)` (commit 5cd1c7e as stored),
    // run by hand in float64 on CPU (`.cuda()` made a no-op) on the kernel [4, 2, 3, 3] filled
    // with `((i·37 mod 19) − 9)/20` in row-major order; gradient by autograd. It returns the
    // unsquared norm: ours must be its square, our gradient 2·norm·(its gradient).
    const OCNN_S1_P1_NORM: f64 = 5.076026989684e+00;
    const OCNN_S1_P1_NORM_GRAD: [f64; 72] = [
        -3.5362302124e-01,
        4.1050806157e-01,
        6.8892462690e-01,
        9.3843078646e-01,
        1.4072029196e+00,
        8.4780873087e-01,
        5.1959928609e-01,
        3.6431051367e-01,
        4.3094727519e-02,
        1.2347255073e-01,
        -3.0141683705e-02,
        -1.3997167498e-01,
        -3.1461613645e-01,
        -6.3908249633e-01,
        -5.5348405470e-01,
        -3.8445422059e-01,
        -5.2762721819e-01,
        -2.8048511225e-01,
        -8.2618749044e-01,
        -5.7540080183e-01,
        2.3960668501e-01,
        7.2532120248e-01,
        1.4613791485e+00,
        1.0540724096e+00,
        6.6577660183e-01,
        6.4868646418e-01,
        2.3281003084e-01,
        2.3724263138e-01,
        2.1138579487e-01,
        9.3084611441e-03,
        -1.0323034158e-01,
        -3.5382002571e-01,
        -4.2621916794e-01,
        -4.1710771127e-01,
        -6.8631431769e-01,
        -5.0344491966e-01,
        -8.7204028052e-01,
        -1.0213696678e+00,
        -2.7708678517e-01,
        4.8788156663e-01,
        1.2806767996e+00,
        1.0226501968e+00,
        7.1276216761e-01,
        7.9737558690e-01,
        3.4579209361e-01,
        2.6024290310e-01,
        3.2003375934e-01,
        1.5110242746e-01,
        -2.4724060817e-02,
        -1.5932736403e-01,
        -1.9134059018e-01,
        -4.2262383639e-01,
        -7.2803001393e-01,
        -5.5047973655e-01,
        -8.1121515082e-01,
        -1.2277810998e+00,
        -5.1117734505e-01,
        -2.6891109972e-01,
        6.9946436597e-01,
        9.3882479539e-01,
        7.9717858243e-01,
        9.9098172847e-01,
        4.9339769176e-01,
        2.1118879040e-01,
        3.4539808468e-01,
        1.8715424523e-01,
        2.5590880479e-01,
        1.4184321743e-01,
        -6.4075703431e-02,
        -2.8403119269e-01,
        -5.9849957579e-01,
        -5.6289101808e-01,
    ];
    const OCNN_S2_P1_NORM: f64 = 3.022166027868e+00;
    const OCNN_S2_P1_NORM_GRAD: [f64; 72] = [
        7.1968249922e-02,
        4.3007233488e-01,
        4.3189222166e-01,
        2.0663987162e-01,
        8.2093438187e-01,
        2.7488562585e-01,
        6.8659364868e-02,
        -1.3897317226e-02,
        -2.1284403109e-01,
        1.9853310323e-02,
        -2.8539133590e-02,
        -1.0191365966e-01,
        -1.0753876425e-02,
        -3.1881107494e-01,
        -3.1897651920e-01,
        -5.4182992758e-02,
        -4.9054220924e-02,
        4.7730666902e-02,
        -2.3575806009e-01,
        -2.5321242875e-01,
        3.2087912810e-01,
        1.9605143944e-02,
        5.8931242810e-01,
        5.2834622098e-01,
        8.6940954791e-02,
        -2.8125522958e-03,
        -2.2583140493e-01,
        5.6085601664e-02,
        9.3724169152e-02,
        -3.4246960308e-02,
        1.4203389094e-01,
        -3.9458454268e-02,
        -2.0870792477e-01,
        -6.0469874360e-02,
        -7.6352522619e-02,
        2.8787299969e-02,
        -2.2914028998e-01,
        -3.7067784816e-01,
        -1.1746541941e-02,
        2.4320305146e-02,
        3.3411466832e-01,
        3.1657757753e-01,
        1.0522254471e-01,
        8.2722126347e-03,
        -2.3881877876e-01,
        3.8879399383e-02,
        8.8678119444e-02,
        2.3989416641e-02,
        1.1878897343e-01,
        6.0718040739e-02,
        -3.7142234730e-02,
        -6.6756755962e-02,
        -1.0365082431e-01,
        9.8439330353e-03,
        -4.4256337596e-01,
        -5.4001004080e-01,
        1.7123480154e-02,
        -5.3835559827e-01,
        5.2197661725e-02,
        3.2484979017e-01,
        3.3725810912e-01,
        5.2387922616e-01,
        -2.5180615260e-01,
        5.6251045916e-02,
        1.3078368176e-01,
        1.9356977565e-02,
        2.8729394480e-01,
        2.0018754576e-01,
        -6.9900196764e-02,
        -7.1471917164e-02,
        -1.5295321162e-01,
        -9.0994338982e-03,
    ];
    const OCNN_S1_P2_NORM: f64 = 5.946831088908e+00;
    const OCNN_S2_P2_NORM: f64 = 3.399766536102e+00;

    #[test]
    fn matches_the_official_code() {
        let shape = [4usize, 2, 3, 3];
        let c = Case { weight: fixed(72), ..Case::random("conv.weight", &shape, 0) };
        // the official calls (padding 1) and the paper's padding (2 for both strides here)
        for (s, p, norm) in [(1, Some(1), OCNN_S1_P1_NORM), (2, Some(1), OCNN_S2_P1_NORM), (1, None, OCNN_S1_P2_NORM), (2, None, OCNN_S2_P2_NORM)] {
            let v = c.value(&mut reg(&opts(s, p)));
            assert!(rel(v, norm * norm) < 1e-5, "stride {s} padding {p:?}: {v} vs {}", norm * norm);
        }
        for (s, norm, ngrad) in [(1, OCNN_S1_P1_NORM, &OCNN_S1_P1_NORM_GRAD), (2, OCNN_S2_P1_NORM, &OCNN_S2_P1_NORM_GRAD)] {
            let (_, g, _) = c.value_and_grad(&mut reg(&opts(s, Some(1))));
            let big = ngrad.iter().fold(0.0f64, |a, x| a.max(2.0 * norm * x.abs()));
            for (i, (&got, &w)) in g.iter().zip(ngrad.iter()).enumerate() {
                let want = 2.0 * norm * w;
                assert!((got as f64 - want).abs() < 1e-5 * big, "stride {s} [{i}]: {got} vs {want}");
            }
        }
    }

    /// `Q ∈ R^{m×c}` with orthonormal rows (m ≤ c): rows of a product of two Householders.
    fn orthonormal_rows(m: usize, c: usize, seed: u64) -> Vec<f64> {
        let mut q: Vec<f64> = (0..c * c).map(|ij| if ij / c == ij % c { 1.0 } else { 0.0 }).collect();
        for s in 0..2 {
            let h: Vec<f64> = reglab_core::testing::random_vec(c, 1.0, seed + s).iter().map(|&x| x as f64).collect();
            let hh: f64 = h.iter().map(|x| x * x).sum();
            let hq: Vec<f64> = (0..c).map(|j| (0..c).map(|i| h[i] * q[i * c + j]).sum()).collect();
            for i in 0..c {
                for j in 0..c {
                    q[i * c + j] -= 2.0 * h[i] * hq[j] / hh;
                }
            }
        }
        q.truncate(m * c);
        q
    }

    #[test]
    fn zero_for_an_orthogonal_centre_tap_positive_otherwise() {
        // [3, 5, 3, 3]: an orthonormal 3×5 at the centre tap, zero elsewhere
        let (m, c) = (3, 5);
        let q = orthonormal_rows(m, c, 81);
        let mut w = vec![0.0f32; m * c * 9];
        for a in 0..m {
            for ci in 0..c {
                w[(a * c + ci) * 9 + 4] = q[a * c + ci] as f32;
            }
        }
        let k = Case { weight: w, ..Case::random("conv.weight", &[m, c, 3, 3], 0) };
        for (s, p) in [(1, None), (2, None), (1, Some(1)), (3, None), (1, Some(0))] {
            let (v, g, _) = k.value_and_grad(&mut reg(&opts(s, p)));
            assert!(v < 1e-10, "stride {s} padding {p:?}: {v}");
            assert!(g.iter().all(|x| x.abs() < 1e-5), "stride {s} padding {p:?}");
        }
        // the official stride-2/padding-1 convention puts the identity at shift +1: r = M there
        assert!(rel(k.value(&mut reg(":stride=2:padding=1")), m as f64) < 1e-5);
        // kernel orthogonality is not enough: one filter 1/√2 at taps (0,0) and (0,1) has unit
        // norm (soft-orth 0) but overlaps its own shift by one column: O = 1/2 at shifts (0, ±1)
        let mut w = vec![0.0f32; 9];
        w[0] = std::f32::consts::FRAC_1_SQRT_2;
        w[1] = std::f32::consts::FRAC_1_SQRT_2;
        let f = Case { weight: w, ..Case::random("conv.weight", &[1, 1, 3, 3], 0) };
        assert!(f.value(&mut reg(":padding=0")) < 1e-12);
        assert!(rel(f.value(&mut reg("")), 0.5) < 1e-6);
        // and random kernels are far from orthogonal
        assert!(Case::random("conv.weight", &[3, 5, 3, 3], 82).value(&mut reg("")) > 0.1);
    }

    #[test]
    fn padding_zero_is_soft_orth() {
        use crate::orthogonality::soft_orth::SoftOrth;
        let mut so = SoftOrth::from_spec(&Spec::parse("soft-orth=1").unwrap()).unwrap();
        for (i, shape) in [[3usize, 2, 3, 3], [6, 1, 2, 2]].iter().enumerate() {
            let c = Case::random("conv.weight", shape, 83 + i as u64);
            let (v, g, _) = c.value_and_grad(&mut reg(":padding=0"));
            let (w, h, _) = c.value_and_grad(&mut so);
            assert!(rel(v, w) < 1e-5, "{shape:?}");
            assert!(g.iter().zip(&h).all(|(a, b)| (a - b).abs() < 1e-4 * (1.0 + b.abs())), "{shape:?}");
        }
    }

    #[test]
    fn only_kernels_and_errors_not_panics() {
        let mut r = reg("");
        let m = Case::random("fc.weight", &[4, 6], 85);
        let v = Case::random("norm.weight", &[4], 86);
        let k = Case::random("conv.weight", &[4, 2, 3, 3], 87);
        assert!(!r.accepts(&m.target().weight) && !r.accepts(&v.target().weight));
        assert!(!r.accepts(&Case::random("c1.weight", &[4, 2, 3], 88).target().weight));
        assert!(r.accepts(&k.target().weight));
        assert!(matches!(r.eval(&m.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(matches!(r.eval(&v.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        let mut gw = vec![0.0; 71];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&k.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        let e = Case { weight: vec![], ..Case::random("conv.weight", &[4, 0, 3, 3], 0) };
        assert!(matches!(r.eval(&e.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        for bad in ["conv-orth=1:stride=0", "conv-orth=1:padding=-1", "conv-orth=1:padding=1.5", "conv-orth=1:stride=x", "conv-orth=1:k=2"] {
            assert!(ConvOrth::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
        let d = reg("");
        assert_eq!((d.stride, d.padding), (1, None));
    }

    #[test]
    fn scratch_is_reused_and_steady_state_does_not_reallocate() {
        let mut r = reg("");
        let big = Case::random("a.weight", &[6, 3, 3, 3], 89);
        let small = Case::random("b.weight", &[2, 2, 3, 3], 90);
        big.value_and_grad(&mut r);
        assert_eq!(small.value(&mut r), small.value(&mut reg("")));
        let k = Case::random("conv.weight", &[32, 16, 3, 3], 91);
        k.value_and_grad(&mut r);
        let (px, pr) = (r.xcol.as_ptr(), r.res.as_ptr());
        for _ in 0..3 {
            k.value_and_grad(&mut r);
        }
        assert_eq!((px, pr), (r.xcol.as_ptr(), r.res.as_ptr()));
    }
}
