//! A sum of regularizers, each with its strength, schedule and selection, each reporting its
//! own value: `R(θ) = Σ_j λ_j s_j(t) r_j(θ|S_j)`.

use crate::error::{Error, Result};
use crate::regularizer::{Mode, PostStep, Regularizer, Target, TargetGrad, TargetMut};
use crate::schedule::Schedule;
use crate::select::Selection;
use crate::spec::Spec;
use crate::tensor::NamedTensor;

/// One term of a [`RegSet`].
pub struct Term {
    /// The spec it was built from (name, λ, options).
    pub spec: Spec,
    /// The regularizer.
    pub reg: Box<dyn Regularizer>,
    /// Which targets it sees; `None`: the set's default.
    pub selection: Option<Selection>,
    /// Strength schedule.
    pub schedule: Schedule,
    /// The term acts on steps before this one only (`until=STEPS`).
    pub until: Option<u64>,
}

impl Term {
    /// A term from a parsed spec and the regularizer built from it.
    pub fn new(spec: Spec, reg: Box<dyn Regularizer>) -> Result<Self> {
        let common = spec.common()?;
        let selection = match &common.select {
            Some(p) => Some(Selection::pattern(p).map_err(|why| Error::Spec { spec: spec.raw().into(), why })?),
            None => reg.default_selection(),
        };
        Ok(Self { spec, reg, selection, schedule: common.schedule, until: common.until })
    }

    /// λ_t (0 from step `until` on).
    pub fn strength(&self, step: u64, total: u64) -> f64 {
        if self.until.is_some_and(|u| step >= u) {
            return 0.0;
        }
        self.spec.strength * self.schedule.factor(step, total)
    }
}

/// The value of one term on one target, `λ_t · r`.
#[derive(Debug, Clone, PartialEq)]
pub struct TermValue {
    /// Index of the term in the set.
    pub term: usize,
    /// Index of the target in the slice given.
    pub target: usize,
    /// `λ_t · r(θ)` on that target.
    pub value: f64,
}

/// Values of an evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// `λ_t · r_j(θ)` summed over targets, per term.
    pub per_term: Vec<f64>,
    /// Per term and target.
    pub detail: Vec<TermValue>,
}

impl Evaluation {
    /// Total over terms.
    pub fn total(&self) -> f64 {
        self.per_term.iter().sum()
    }
}

/// A sum of regularizers.
pub struct RegSet {
    terms: Vec<Term>,
    default_selection: Selection,
}

impl RegSet {
    /// A set whose terms without a `select` option see `default_selection`.
    pub fn new(terms: Vec<Term>, default_selection: Selection) -> Self {
        Self { terms, default_selection }
    }

    /// The terms.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// True without terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Change the strength λ of term `j` (a strength learned during training); the schedule
    /// still multiplies it. An error for an unknown term or a λ that is negative or not finite.
    pub fn set_strength(&mut self, j: usize, strength: f64) -> Result<()> {
        let n = self.terms.len();
        let t = self.terms.get_mut(j).ok_or_else(|| Error::Spec { spec: format!("term {j}"), why: format!("the set has {n} terms") })?;
        if !(strength >= 0.0 && strength.is_finite()) {
            return Err(Error::Spec { spec: t.spec.raw().into(), why: format!("strength must be finite and non-negative, got {strength}") });
        }
        t.spec.strength = strength;
        Ok(())
    }

    /// Whether term `j` acts on `target`.
    pub fn applies(&self, j: usize, target: &Target<'_>) -> bool {
        let t = &self.terms[j];
        let sel = t.selection.as_ref().unwrap_or(&self.default_selection);
        sel.matches(target.name, target.role) && t.reg.accepts(&target.weight)
    }

    /// Whether any term needs the targets' initial values.
    pub fn needs_init(&self) -> bool {
        self.terms.iter().any(|t| t.reg.needs_init())
    }

    /// Whether any term changes the weights after the optimizer step (a proximal step or a
    /// post-step transform).
    pub fn has_after_step(&self) -> bool {
        self.terms.iter().any(|t| t.reg.has_prox() || t.reg.has_post_step())
    }

    /// Names (`reglab list` names) of the terms, in order, made unique by the spec when repeated.
    pub fn labels(&self) -> Vec<String> {
        crate::spec::unique_labels(&self.terms.iter().map(|t| &t.spec).collect::<Vec<_>>())
    }

    /// Evaluate every term on every selected target at step `step` of `total`.
    ///
    /// With `grads` (one per target, aligned), adds `λ_t ∇r_j` into them. With `prox_aware`,
    /// terms that have a proximal step add no gradient (their step runs in [`RegSet::after_step`]).
    pub fn eval(
        &mut self,
        targets: &[Target<'_>],
        mut grads: Option<&mut [TargetGrad<'_>]>,
        step: u64,
        total: u64,
        mode: Mode,
        prox_aware: bool,
    ) -> Result<Evaluation> {
        if let Some(g) = grads.as_deref() {
            assert_eq!(g.len(), targets.len(), "one gradient buffer per target");
        }
        let mut ev = Evaluation { per_term: vec![0.0; self.terms.len()], detail: Vec::new() };
        for j in 0..self.terms.len() {
            let lam = self.terms[j].strength(step, total);
            let skip_grad = prox_aware && self.terms[j].reg.has_prox();
            if self.terms[j].reg.couples_targets() {
                // a joint statistic (e.g. a global magnitude threshold) over this term's targets
                let mine: Vec<&Target<'_>> = targets.iter().filter(|t| self.applies(j, t)).collect();
                self.terms[j].reg.prepare(&mine)?;
            }
            for (i, t) in targets.iter().enumerate() {
                if !self.applies(j, t) {
                    continue;
                }
                let term = &mut self.terms[j];
                if term.reg.needs_init() && t.init.is_none() {
                    return Err(Error::MissingInit { reg: term.spec.name.clone(), tensor: t.name.to_string() });
                }
                let g = match grads.as_deref_mut() {
                    Some(g) if !skip_grad => Some(&mut g[i]),
                    _ => None,
                };
                let r = term.reg.eval(t, g, lam as f32, mode)?;
                let v = lam * r;
                ev.per_term[j] += v;
                ev.detail.push(TermValue { term: j, target: i, value: v });
            }
        }
        Ok(ev)
    }

    /// After the optimizer step with learning rate `lr`, in term order: proximal terms
    /// `θ ← prox_{lr·λ_t·r}(θ)` and post-step transforms (with the run's `seed`), each on its
    /// selected targets (selection is by name and role).
    pub fn after_step(&mut self, targets: &mut [TargetMut<'_>], lr: f64, step: u64, total: u64, seed: u64) -> Result<()> {
        for j in 0..self.terms.len() {
            let (prox, post) = (self.terms[j].reg.has_prox(), self.terms[j].reg.has_post_step());
            if !prox && !post {
                continue;
            }
            let lam = self.terms[j].strength(step, total);
            let sel = self.terms[j].selection.clone().unwrap_or_else(|| self.default_selection.clone());
            for t in targets.iter_mut() {
                let view = crate::tensor::TensorRef { shape: t.shape, layout: t.layout, data: t.weight };
                if !sel.matches(t.name, t.role) || !self.terms[j].reg.accepts(&view) {
                    continue;
                }
                if prox {
                    self.terms[j].reg.prox(t, (lr * lam) as f32)?;
                }
                if post {
                    let ctx = PostStep { strength: lam, lr, step, seed };
                    self.terms[j].reg.post_step(t, &ctx)?;
                }
            }
        }
        Ok(())
    }

    /// Every term's persistent state, names prefixed `reg.<j>.<name>/`.
    pub fn state(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (j, t) in self.terms.iter().enumerate() {
            for mut s in t.reg.state() {
                s.name = format!("reg.{j}.{}/{}", t.spec.name, s.name);
                out.push(s);
            }
        }
        out
    }

    /// Restore what [`RegSet::state`] saved (tensors of other prefixes are ignored).
    pub fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        for (j, t) in self.terms.iter_mut().enumerate() {
            let prefix = format!("reg.{j}.{}/", t.spec.name);
            let mine: Vec<NamedTensor> =
                state.iter().filter_map(|s| s.name.strip_prefix(&prefix).map(|n| NamedTensor { name: n.to_string(), ..s.clone() })).collect();
            t.reg.load_state(&mine)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Case;
    use std::sync::{Arc, Mutex};

    /// What a [`Probe`] saw: the names given to each `prepare`, then to each `eval`.
    type Log = Arc<Mutex<(Vec<Vec<String>>, Vec<String>)>>;

    /// Records what `prepare` and `eval` saw.
    struct Probe {
        couples: bool,
        log: Log,
    }

    impl Regularizer for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn couples_targets(&self) -> bool {
            self.couples
        }
        fn prepare(&mut self, targets: &[&Target<'_>]) -> Result<()> {
            self.log.lock().unwrap().0.push(targets.iter().map(|t| t.name.to_string()).collect());
            Ok(())
        }
        fn eval(&mut self, t: &Target<'_>, _g: Option<&mut TargetGrad<'_>>, _s: f32, _m: Mode) -> Result<f64> {
            self.log.lock().unwrap().1.push(t.name.to_string());
            Ok(1.0)
        }
    }

    #[test]
    fn coupled_terms_are_prepared_with_their_selected_targets_first() {
        let cases = [Case::random("a.weight", &[2, 3], 1), Case::random("a.bias", &[2], 2), Case::random("b.weight", &[3, 2], 3)];
        let targets: Vec<Target<'_>> = cases.iter().map(Case::target).collect();
        for couples in [true, false] {
            let log = Log::default();
            let term = Term::new(Spec::parse("probe=2").unwrap(), Box::new(Probe { couples, log: log.clone() })).unwrap();
            let mut set = RegSet::new(vec![term], Selection::LayerWeights);
            for step in 0..2 {
                let ev = set.eval(&targets, None, step, 2, Mode::Exact, false).unwrap();
                assert_eq!(ev.total(), 4.0);
            }
            let (prepared, evaluated) = log.lock().unwrap().clone();
            // the bias is not selected: neither prepared nor evaluated
            let w = vec!["a.weight".to_string(), "b.weight".to_string()];
            assert_eq!(evaluated, [w.clone(), w.clone()].concat());
            if couples {
                assert_eq!(prepared, vec![w.clone(), w]);
            } else {
                assert!(prepared.is_empty());
            }
        }
    }
}

#[cfg(test)]
mod until_tests {
    use super::*;

    fn term(spec: &str) -> Term {
        let spec = Spec::parse(spec).unwrap();
        struct Zero;
        impl Regularizer for Zero {
            fn name(&self) -> &'static str {
                "zero"
            }
            fn eval(&mut self, _t: &Target<'_>, _g: Option<&mut TargetGrad<'_>>, _s: f32, _m: Mode) -> Result<f64> {
                Ok(0.0)
            }
        }
        Term::new(spec, Box::new(Zero)).unwrap()
    }

    #[test]
    fn until_stops_the_term_at_that_step_whatever_the_schedule() {
        let t = term("zero=0.5:until=10");
        assert_eq!(t.strength(0, 100), 0.5);
        assert_eq!(t.strength(9, 100), 0.5);
        assert_eq!(t.strength(10, 100), 0.0);
        assert_eq!(t.strength(99, 100), 0.0);
        let w = term("zero=2:warmup=4:until=6");
        assert_eq!(w.strength(1, 100), 1.0);
        assert_eq!(w.strength(5, 100), 2.0);
        assert_eq!(w.strength(6, 100), 0.0);
        assert_eq!(term("zero=1").strength(1_000_000, 10), 1.0);
        for bad in ["zero=1:until=0", "zero=1:until=-3", "zero=1:until=x"] {
            let e = Spec::parse(bad).unwrap().common().unwrap_err().to_string();
            assert!(e.contains("until"), "{bad}: {e}");
        }
    }

    #[test]
    fn set_strength_changes_lambda_and_refuses_bad_values() {
        let mut set = RegSet::new(vec![term("zero=0.5:warmup=10")], Selection::All);
        set.set_strength(0, 2.0).unwrap();
        assert_eq!(set.terms()[0].spec.strength, 2.0);
        // the schedule still multiplies the new λ: half-way through the warm-up
        assert_eq!(set.terms()[0].strength(5, 100), 2.0 * set.terms()[0].schedule.factor(5, 100));
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let e = set.set_strength(0, bad).unwrap_err().to_string();
            assert!(e.contains("non-negative") && e.contains("zero=0.5"), "{e}");
        }
        assert!(set.set_strength(1, 1.0).unwrap_err().to_string().contains("1 terms"));
        assert_eq!(set.terms()[0].spec.strength, 2.0);
    }
}
