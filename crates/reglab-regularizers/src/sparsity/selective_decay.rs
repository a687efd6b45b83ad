//! `selective-decay=λ[:keep=0.1][:scope=global|layer][:score=magnitude]`: weight decay on the
//! irrelevant weights only, those outside the top `keep` fraction by magnitude.
//!
//! ## Formula
//! Let `w ∈ R^n` be the selected weights (all of the term's tensors together with
//! `scope=global`, the default; each tensor on its own with `scope=layer`), `m = round((1 − keep)·n)`
//! the number to decay (`round` half away from zero, as `--prune magnitude` counts its zeros) and
//! ```text
//! τ = sort_asc(|w|)[m]             (0-based: the smallest kept magnitude; τ = +∞ if m = n, 0 if m = 0)
//! I = { i : |w_i| < τ }            (the irrelevant entries: |I| = m when no magnitude ties τ)
//! r(w) = ½ Σ_{i∈I} w_i²
//! ∂r/∂w_i = w_i for i ∈ I, 0 otherwise  (I held fixed: the set changes only where |w_i| = τ)
//! ```
//! and the objective adds `λ_t · r`, so a plain SGD step is
//! `w ← w − η∇L − ηλ_t·w·1[i ∈ I]`: weight decay restricted to `I`. Ties at `τ` are kept (never
//! decayed), so `|I| ≤ m`. `r` is piecewise quadratic: continuous, with its gradient jumping where
//! an entry's magnitude crosses `τ`. Its value is layout-free (elementwise given `τ`).
//!
//! Use: decay pushes the irrelevant weights toward 0 while the relevant ones train freely, then
//! magnitude pruning removes them; `keep = 1 − S` decays exactly the entries that
//! `--prune magnitude:sparsity=S` (same scope) would remove at that moment. The paper prunes
//! iteratively; here that is `--prune magnitude:sparsity=S:schedule=gradual:start=E0:end=E1`.
//!
//! Global ranking: as `hypersparse`, this regularizer [`Regularizer::couples_targets`] with
//! `scope=global`, and `RegSet::eval` computes `τ` over all of the term's targets in
//! [`Regularizer::prepare`]; an unprepared target (a direct `eval`, the bench) is ranked alone.
//!
//! ## Difference from the paper's score
//! The paper classes a weight as irrelevant from the training loss (its sensitivity: a
//! survey summary describes the decay as concentrated on weights with a small loss gradient),
//! not from `|w|`. The [`Regularizer`] interface sees the weights only, never `∇L`, so the one
//! score here is the magnitude `|w|` (`score=magnitude`, the catalog's alternative); the exact
//! sensitivity formula of the paper could not be checked (no official code found), and no
//! gradient-based variant is offered.
//!
//! Symbols and shapes: `w` the selected tensors flattened (any layout), `n` their total size,
//! `keep ∈ [0, 1]` the fraction kept free, `m`, `τ`, `I` as above, `λ ≥ 0` the strength.
//!
//! ## Paper
//! Bonetta, Ribero, Cancelliere, "Regularization-based pruning of irrelevant weights in deep
//! neural architectures", Applied Intelligence 53, 2023 (arXiv 2204.04977).

use super::hypersparse::{Pass, Scope, abs_rank, check, read_scope};
use reglab_core::{Error, Mode, Regularizer, Result, Spec, Target, TargetGrad};

/// Selective weight decay. See the module documentation.
#[derive(Debug, Clone)]
pub struct SelectiveDecay {
    /// Fraction of the entries kept free of decay, `[0, 1]`.
    pub keep: f64,
    /// Global (default) or per-tensor ranking.
    pub scope: Scope,
    /// Scratch: magnitudes for the selection of `τ`.
    scratch: Vec<f32>,
    /// Prepared targets with the global threshold.
    pass: Pass<f32>,
}

impl SelectiveDecay {
    /// Build from a spec (`selective-decay=λ[:keep=0.1][:scope=global|layer][:score=magnitude]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        if let Some(v) = spec.options.get("score")
            && v != "magnitude"
        {
            return Err(Error::Spec {
                spec: spec.raw().to_string(),
                why: format!("option `score={v}`: only `magnitude` (|w|); a loss-gradient sensitivity needs ∇L, which regularizers do not see"),
            });
        }
        let mut o = spec.options();
        o.choice("score", &["magnitude"], "magnitude")?;
        let keep = o.f64("keep", 0.1)?;
        o.ensure((0.0..=1.0).contains(&keep), format!("keep must be in [0, 1], got {keep}"))?;
        let scope = read_scope(&mut o)?;
        o.finish()?;
        Ok(Self { keep, scope, scratch: Vec::new(), pass: Pass::default() })
    }

    /// The threshold `τ` of a set of tensors ranked together: entries with `|w| < τ` decay.
    pub fn threshold(&mut self, parts: &[&[f32]]) -> f32 {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        let m = ((1.0 - self.keep) * n as f64).round() as usize;
        if m == 0 {
            0.0
        } else if m >= n {
            f32::INFINITY
        } else {
            abs_rank(&mut self.scratch, parts, m)
        }
    }
}

impl Regularizer for SelectiveDecay {
    fn name(&self) -> &'static str {
        "selective-decay"
    }

    fn couples_targets(&self) -> bool {
        self.scope == Scope::Global
    }

    fn prepare(&mut self, targets: &[&Target<'_>]) -> Result<()> {
        self.pass.clear();
        for t in targets {
            check(t, None)?;
        }
        let parts: Vec<&[f32]> = targets.iter().map(|t| t.weight.data).collect();
        let tau = self.threshold(&parts);
        for t in targets {
            self.pass.push(t, tau);
        }
        Ok(())
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check(t, grad.as_deref())?;
        let w = t.weight.data;
        let tau = match self.pass.take(t) {
            Some(tau) => tau,
            None => self.threshold(&[w]),
        };
        let mut value = 0.0f64;
        match grad {
            Some(g) => {
                for (gi, &wi) in g.weight.iter_mut().zip(w) {
                    if wi.abs() < tau {
                        value += (wi as f64) * (wi as f64);
                        *gi += scale * wi;
                    }
                }
            }
            None => {
                for &wi in w {
                    if wi.abs() < tau {
                        value += (wi as f64) * (wi as f64);
                    }
                }
            }
        }
        Ok(0.5 * value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, gradient_error, random_vec, rel};
    use reglab_core::{RegSet, Selection, Term};

    fn reg(opts: &str) -> SelectiveDecay {
        SelectiveDecay::from_spec(&Spec::parse(&format!("selective-decay=1{opts}")).unwrap()).unwrap()
    }

    /// Independent reference: rank by a full sort, decay the m smallest (no ties in the inputs).
    fn naive(keep: f64, w: &[f32]) -> (f64, Vec<f64>) {
        let n = w.len();
        let m = ((1.0 - keep) * n as f64).round() as usize;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| w[i].abs().total_cmp(&w[j].abs()));
        let mut g = vec![0.0; n];
        let mut v = 0.0;
        for &i in &order[..m] {
            g[i] = w[i] as f64;
            v += 0.5 * (w[i] as f64).powi(2);
        }
        (v, g)
    }

    /// Distinct magnitudes at least `gap` apart, away from 0, random signs.
    fn spread(n: usize, seed: u64, gap: f32) -> Vec<f32> {
        let r = random_vec(n, 1.0, seed);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&i, &j| r[i].total_cmp(&r[j]));
        let mut w = vec![0.0; n];
        for (rank, &i) in idx.iter().enumerate() {
            w[i] = (0.05 + gap * rank as f32).copysign(r[(i + 1) % n]);
        }
        w
    }

    #[test]
    fn hand_value_on_a_small_matrix() {
        // |w| sorted: 0.1, 0.2, 0.3, 0.4, 0.5, 0.6; keep = 0.5 → m = 3 decayed: 0.1, −0.2, 0.3
        let c = Case { weight: vec![0.5, -0.2, 0.3, -0.6, 0.1, 0.4], ..Case::random("fc.weight", &[2, 3], 0) };
        let (v, g, _) = c.value_and_grad(&mut reg(":keep=0.5"));
        assert!((v - 0.5 * (0.01 + 0.04 + 0.09)).abs() < 1e-8, "{v}");
        assert_eq!(g, vec![0.0, -0.2, 0.3, 0.0, 0.1, 0.0]);
        assert_eq!(c.transposed().value(&mut reg(":keep=0.5")), v);
        // keep = 1: nothing decays; keep = 0: plain ½‖w‖² (l2)
        assert_eq!(c.value(&mut reg(":keep=1")), 0.0);
        assert!(rel(c.value(&mut reg(":keep=0")), 0.5 * 0.91) < 1e-7);
        // keep = 0.1 of 6: m = round(5.4) = 5, only −0.6 stays
        let (_, g, _) = c.value_and_grad(&mut reg(""));
        assert_eq!(g, vec![0.5, -0.2, 0.3, 0.0, 0.1, 0.4]);
    }

    #[test]
    fn value_and_gradient_match_a_naive_sort() {
        for (shape, keep, seed) in [(vec![7usize, 5], 0.1, 1u64), (vec![4, 3, 2, 2], 0.3, 2), (vec![1, 9], 0.5, 3), (vec![13], 0.77, 4)] {
            let c = Case::random("x.weight", &shape, seed);
            let (want_v, want_g) = naive(keep, &c.weight);
            let (v, g, _) = c.value_and_grad(&mut reg(&format!(":keep={keep}")));
            assert!(rel(v, want_v) < 1e-12, "{shape:?}: {v} vs {want_v}");
            assert_eq!(g.iter().map(|&x| x as f64).collect::<Vec<_>>(), want_g, "{shape:?}");
            if shape.len() == 2 {
                assert!(rel(c.transposed().value(&mut reg(&format!(":keep={keep}"))), want_v) < 1e-12);
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences_away_from_the_threshold() {
        // magnitudes 0.01 apart, step 1e-3: no entry crosses τ (the threshold entry itself stays
        // kept on both sides: r does not depend on it)
        for c in [
            Case { weight: spread(35, 5, 0.01), ..Case::random("a.weight", &[7, 5], 0) },
            Case { weight: spread(35, 6, 0.01), ..Case::random("a.weight", &[7, 5], 0) }.transposed(),
            Case { weight: spread(48, 7, 0.01), ..Case::random("conv.weight", &[4, 3, 2, 2], 0) },
        ] {
            for keep in [0.1, 0.5] {
                let e = gradient_error(&mut reg(&format!(":keep={keep}")), &c, 1e-3);
                assert!(e < 1e-4, "{:?} {:?} keep={keep}: {e}", c.shape, c.layout);
            }
        }
    }

    /// Value and gradients of two targets through a RegSet (prepare, then eval each).
    fn through_regset(spec: &str, a: &Case, b: &Case) -> (f64, Vec<f32>, Vec<f32>) {
        let spec = Spec::parse(spec).unwrap();
        let term = Term::new(spec.clone(), Box::new(SelectiveDecay::from_spec(&spec).unwrap())).unwrap();
        let mut set = RegSet::new(vec![term], Selection::LayerWeights);
        let (mut ga, mut gb) = (vec![0.0f32; a.weight.len()], vec![0.0f32; b.weight.len()]);
        let targets = [a.target(), b.target()];
        let ev = {
            let mut grads = [TargetGrad { weight: &mut ga, bias: None }, TargetGrad { weight: &mut gb, bias: None }];
            set.eval(&targets, Some(&mut grads), 0, 1, Mode::Step, false).unwrap()
        };
        (ev.total(), ga, gb)
    }

    #[test]
    fn global_scope_ranks_all_tensors_together() {
        // a small-magnitude tensor and a large one: globally keep=0.5 keeps exactly the large one
        let small = Case { weight: spread(12, 8, 0.01), ..Case::random("s.weight", &[3, 4], 0) };
        let mut large = Case { weight: spread(12, 9, 0.01), ..Case::random("l.weight", &[4, 3], 0) };
        large.weight.iter_mut().for_each(|x| *x *= 10.0);
        let (v, gs, gl) = through_regset("selective-decay=2:keep=0.5", &small, &large);
        let half_sq = 0.5 * small.weight.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        assert!(rel(v, 2.0 * half_sq) < 1e-12, "{v}");
        assert_eq!(gs, small.weight.iter().map(|x| 2.0 * x).collect::<Vec<_>>());
        assert!(gl.iter().all(|&x| x == 0.0));
        // the naive reference on the concatenation agrees, in the other layout too
        let cat: Vec<f32> = small.weight.iter().chain(&large.weight).copied().collect();
        let (want_v, _) = naive(0.5, &cat);
        let (vt, _, _) = through_regset("selective-decay=1:keep=0.5", &small.transposed(), &large.transposed());
        assert!(rel(vt, want_v) < 1e-12);
        // per layer: half of each decays
        let (_, ls, ll) = through_regset("selective-decay=1:keep=0.5:scope=layer", &small, &large);
        assert_eq!(ls.iter().filter(|&&x| x != 0.0).count(), 6);
        assert_eq!(ll.iter().filter(|&&x| x != 0.0).count(), 6);
    }

    #[test]
    fn ties_at_the_threshold_are_kept_and_zeros_cost_nothing() {
        // |w| = 0.3 three times around rank m: all three kept
        let c = Case { weight: vec![0.1, 0.3, -0.3, 0.3, 0.9, 0.0], ..Case::random("fc.weight", &[2, 3], 0) };
        // keep = 0.5: m = 3, τ = sorted[3] = 0.3 → decay 0.0, 0.1 only
        let (v, g, _) = c.value_and_grad(&mut reg(":keep=0.5"));
        assert!((v - 0.005).abs() < 1e-9, "{v}");
        assert_eq!(g, vec![0.1, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // a pruned (all-zero) tensor: value 0, gradient 0
        let z = Case { weight: vec![0.0; 6], ..c.clone() };
        let (v, g, _) = z.value_and_grad(&mut reg(""));
        assert_eq!(v, 0.0);
        assert!(g.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn invariants_homogeneous_and_scale_equivariant_selection() {
        // r(αw) = α² r(w): the ranking does not change with the scale
        let c = Case::random("fc.weight", &[6, 7], 9);
        let v = c.value(&mut reg(":keep=0.3"));
        let s = Case { weight: c.weight.iter().map(|x| -4.0 * x).collect(), ..c.clone() };
        assert!(rel(s.value(&mut reg(":keep=0.3")), 16.0 * v) < 1e-12);
        // monotone in keep: keeping more decays less
        let vs: Vec<f64> = [0.0, 0.25, 0.5, 0.75, 1.0].iter().map(|k| c.value(&mut reg(&format!(":keep={k}")))).collect();
        assert!(vs.windows(2).all(|p| p[1] < p[0]) && vs[4] == 0.0, "{vs:?}");
        // scale multiplies the added gradient
        let mut gw = vec![1.0f32; 42];
        let mut tg = TargetGrad { weight: &mut gw, bias: None };
        reg(":keep=0.3").eval(&c.target(), Some(&mut tg), 0.5, Mode::Step).unwrap();
        let (_, g, _) = c.value_and_grad(&mut reg(":keep=0.3"));
        assert!(gw.iter().zip(&g).all(|(a, b)| *a == 1.0 + 0.5 * b));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut r = reg("");
        let c = Case::random("fc.weight", &[3, 4], 10);
        let mut gw = vec![0.0; 11];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        let bad = Case { weight: vec![0.1; 5], ..c.clone() };
        assert!(matches!(r.eval(&bad.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(matches!(r.prepare(&[&c.target(), &bad.target()]), Err(Error::Shape { .. })));
        let e = Case { weight: vec![], ..Case::random("e.weight", &[0, 4], 0) };
        assert_eq!(e.value(&mut r), 0.0);
        for bad in ["keep=1.5", "keep=-0.1", "keep=x", "scope=row", "score=gradient", "score=x", "k=2"] {
            let e = SelectiveDecay::from_spec(&Spec::parse(&format!("selective-decay=1:{bad}")).unwrap());
            assert!(matches!(e, Err(Error::Spec { .. })), "{bad}");
        }
        let msg = SelectiveDecay::from_spec(&Spec::parse("selective-decay=1:score=gradient").unwrap()).err().unwrap().to_string();
        assert!(msg.contains("∇L"), "{msg}");
        let d = reg(":score=magnitude");
        assert_eq!((d.keep, d.scope), (0.1, Scope::Global));
    }
}
