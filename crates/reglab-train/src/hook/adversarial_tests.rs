//! Attacks on a model and the adversarial-training hooks, on small synthetic problems in the
//! data range [0, 1].

use crate::attack::{Objective, apply, host, labels_of, perturb, robust_correct};
use crate::model::{ModelSpec, Net};
use crate::optim::OptimSpec;
use crate::trainer::{TrainConfig, Trainer};
use burn::tensor::{Device, Tensor, TensorData};
use reglab_core::Dataset;
use reglab_regularizers::adversarial::attack::{Attack, cross_entropy_rows};
use reglab_regularizers::adversarial::elle::{linearity_error_logits, midpoints, triplets};

/// Three classes in 8 dimensions, every value in [0, 1].
fn blobs01(n: usize, seed: u64) -> Dataset {
    let mut d = crate::test_data::blobs(n, seed);
    d.features.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    d
}

fn cfg(regs: &[&str], model: &str) -> TrainConfig {
    TrainConfig {
        model: model.parse().unwrap(),
        optim: OptimSpec::Sgd { momentum: 0.0 },
        lr: 0.2,
        batch: 16,
        epochs: 3,
        seed: 5,
        regs: regs.iter().map(|s| reglab_core::Spec::parse(s).unwrap()).collect(),
        reparam: None,
        prune: None,
    }
}

fn trainer(regs: &[&str], model: &str) -> Trainer {
    Trainer::new(&cfg(regs, model), &[8], 3, &Device::flex().autodiff(), None, 1000).unwrap()
}

/// A model trained a little (plain), a batch of 48 and its labels.
fn trained() -> (Trainer, Tensor<2>, Vec<usize>) {
    let mut t = trainer(&[], "mlp:16");
    let train = blobs01(240, 1);
    for e in 1..=3 {
        t.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    let data = blobs01(48, 2);
    let idx: Vec<usize> = (0..48).collect();
    let (x, y) = t.batch_tensors(&data, &idx);
    (t, x, labels_of(&y).unwrap())
}

fn mean_loss(net: &Net, x: &Tensor<2>, y: &[usize]) -> f64 {
    let z = host(net.forward(x.clone())).unwrap();
    let (l, _) = cross_entropy_rows(&z, y, 3);
    l.iter().sum::<f64>() / l.len() as f64
}

#[test]
fn pgd_raises_the_loss_more_than_fgsm_which_raises_it_above_clean() {
    let (t, x, y) = trained();
    let clean = mean_loss(&t.net, &x, &y);
    let f = perturb(&t.net, &x, &y, &Attack::fgsm(0.15), Objective::CrossEntropy, 0, 0).unwrap();
    let fgsm = mean_loss(&t.net, &apply(&x, &f), &y);
    let pgd_attack = Attack::pgd(0.15, 20, 2.5 * 0.15 / 20.0, 3);
    let p = perturb(&t.net, &x, &y, &pgd_attack, Objective::CrossEntropy, 0, 0).unwrap();
    let pgd = mean_loss(&t.net, &apply(&x, &p), &y);
    assert!(fgsm > clean + 0.05, "FGSM {fgsm} vs clean {clean}");
    assert!(pgd >= fgsm, "PGD {pgd} vs FGSM {fgsm}");
    assert_eq!(p.passes, 3 * 21, "20 steps and a final evaluation per restart");
}

#[test]
fn perturbations_stay_in_the_ball_and_the_data_range() {
    let (t, x, y) = trained();
    let xh = host(x.clone()).unwrap();
    for a in [Attack::fgsm(0.3), Attack::pgd(0.2, 7, 0.09, 2), Attack { project: false, init: 2.0, ..Attack::fgsm(0.1) }] {
        let p = perturb(&t.net, &x, &y, &a, Objective::CrossEntropy, 1, 2).unwrap();
        for (d, xi) in p.delta.iter().zip(&xh) {
            let v = xi + d;
            assert!((0.0..=1.0).contains(&v), "{a:?}: x + δ = {v}");
            if a.project {
                assert!(d.abs() <= a.eps as f32 + 1e-6, "{a:?}: δ = {d}");
            }
        }
        assert!(p.delta.iter().any(|d| d.abs() > 1e-3), "the attack moves");
    }
    // ℓ2: each example's δ in the ball
    let a = Attack { norm: reglab_regularizers::adversarial::attack::Norm::L2, ..Attack::pgd(0.5, 5, 0.2, 1) };
    let p = perturb(&t.net, &x, &y, &a, Objective::CrossEntropy, 1, 2).unwrap();
    for row in p.delta.chunks(8) {
        assert!(row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() <= 0.5 + 1e-5);
    }
}

#[test]
fn fgsm_on_a_linear_model_is_its_closed_form() {
    // z = W x + b, ∇ₓ CE = Wᵀ(p − e_y), δ = ε·sign(∇ₓ CE), then clipped to [0, 1]
    let t = trainer(&[], "mlp:");
    assert!(matches!(cfg(&[], "mlp:").model, ModelSpec::Mlp { ref hidden, .. } if hidden.is_empty()));
    let data = blobs01(12, 4);
    let idx: Vec<usize> = (0..12).collect();
    let (x, y) = t.batch_tensors(&data, &idx);
    let y = labels_of(&y).unwrap();
    assert_eq!(y.len(), 12);
    let eps = 0.05f32;
    let p = perturb(&t.net, &x, &y, &Attack::fgsm(eps as f64), Objective::CrossEntropy, 0, 0).unwrap();
    let w = t.net.to_pytorch();
    let (wt, b) = (&w[0], &w[1]); // [3, 8], [3]
    assert_eq!(wt.shape, vec![3, 8]);
    for (i, &yi) in y.iter().enumerate() {
        let xi = data.example(i);
        let z: Vec<f64> = (0..3).map(|k| b.data[k] as f64 + (0..8).map(|j| wt.data[k * 8 + j] as f64 * xi[j] as f64).sum::<f64>()).collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
        for (j, &xij) in xi.iter().enumerate().take(8) {
            let g: f64 = (0..3).map(|k| wt.data[k * 8 + j] as f64 * ((z[k] - m).exp() / s - if k == yi { 1.0 } else { 0.0 })).sum();
            let want = (xij + eps * g.signum() as f32).clamp(0.0, 1.0) - xij;
            assert!((p.delta[i * 8 + j] - want).abs() < 1e-6, "example {i}, input {j}: {} vs {want}", p.delta[i * 8 + j]);
        }
    }
}

#[test]
fn attacks_repeat_and_restarts_keep_the_worst_start_per_example() {
    let (t, x, y) = trained();
    let one = Attack::pgd(0.2, 3, 0.1, 1);
    let a = perturb(&t.net, &x, &y, &one, Objective::CrossEntropy, 9, 4).unwrap();
    let b = perturb(&t.net, &x, &y, &one, Objective::CrossEntropy, 9, 4).unwrap();
    assert_eq!(a.delta, b.delta, "same (seed, step): same δ");
    let other = perturb(&t.net, &x, &y, &one, Objective::CrossEntropy, 9, 5).unwrap();
    assert_ne!(a.delta, other.delta, "another step: another start");
    // restart 0 of three is the single run; the kept δ is at least as bad per example
    let three = perturb(&t.net, &x, &y, &Attack { restarts: 3, ..one }, Objective::CrossEntropy, 9, 4).unwrap();
    let per = |p: &crate::attack::Perturbed| cross_entropy_rows(&host(t.net.forward(apply(&x, p))).unwrap(), &y, 3).0;
    for (l3, l1) in per(&three).iter().zip(per(&a)) {
        assert!(*l3 >= l1 - 1e-6, "{l3} < {l1}");
    }
}

#[test]
fn robust_accuracy_counts_an_example_only_if_every_restart_fails() {
    let (t, x, y) = trained();
    let (clean, robust) = robust_correct(&t.net, &x, &y, &Attack::pgd(0.3, 10, 0.075, 2), 0).unwrap();
    assert!(robust.iter().zip(&clean).all(|(r, c)| !*r || *c), "robust ⊆ clean");
    assert!(robust.iter().filter(|r| **r).count() < clean.iter().filter(|c| **c).count(), "ε = 0.3 breaks some examples");
    let (clean, robust) = robust_correct(&t.net, &x, &y, &Attack::pgd(1e-7, 2, 1e-7, 2), 0).unwrap();
    assert_eq!(clean, robust, "a vanishing ball breaks nothing");
}

#[test]
fn an_fgsm_training_step_is_a_plain_step_on_the_fgsm_examples() {
    let data = blobs01(32, 7);
    let idx: Vec<usize> = (0..32).collect();
    let mut at = trainer(&["fgsm-at=0.1"], "mlp:16");
    let mut plain = trainer(&[], "mlp:16");
    let (x, y) = plain.batch_tensors(&data, &idx);
    let labels = labels_of(&y).unwrap();
    let p = perturb(&plain.net, &x, &labels, &Attack::fgsm(0.1), Objective::CrossEntropy, 5, 0).unwrap();
    let xa = apply(&x, &p);
    plain.step(xa, y.clone()).unwrap();
    at.step(x, y).unwrap();
    assert_eq!(at.net.to_pytorch(), plain.net.to_pytorch());
}

#[test]
fn elle_reports_the_linearity_error_of_its_triplets() {
    let data = blobs01(32, 7);
    let idx: Vec<usize> = (0..32).collect();
    let mut t = trainer(&["fgsm-at=0.1", "elle=0.5"], "mlp:16");
    let before = t.net.clone();
    let (x, y) = t.batch_tensors(&data, &idx);
    let labels = labels_of(&y).unwrap();
    t.step_on(x.clone(), y, Some(crate::trainer::BatchInfo { labels: &data.labels, index: &idx, mix: None })).unwrap();
    // independently: the triplets of (seed 5, step 0) through the initial model
    let xh = host(x).unwrap();
    let (xa, xb, alpha) = triplets(&xh, 32, 0.1, 5, 0);
    let xc = midpoints(&xa, &xb, &alpha);
    let all: Vec<f32> = xa.into_iter().chain(xb).chain(xc).collect();
    let z = host(before.forward(Tensor::<2>::from_data(TensorData::new(all, [96, 8]), &Device::flex().autodiff()))).unwrap();
    let (want, _) = linearity_error_logits(&z, &labels, &alpha, 3);
    let h = t.chain().find::<super::elle::ElleHook>().expect("the ELLE hook");
    assert_eq!(h.lambda(), 0.5);
    assert!((h.last_error - want).abs() <= 1e-9 * want.max(1e-12), "{} vs {want}", h.last_error);
    assert!(want > 0.0);
}

#[test]
fn adversarial_runs_repeat_bit_for_bit_and_elle_a_resumes_bit_for_bit() {
    let train = blobs01(96, 1);
    for regs in [
        vec!["fgsm-rs-at=0.2", "elle-a=50"],
        vec!["aaer=1:eps=0.2"],
        vec!["arow=2:eps=0.2,steps=3"],
        vec!["trades=2:eps=0.2,steps=2"],
        vec!["pgd-at=0.2:steps=3"],
    ] {
        let run = |epochs: std::ops::RangeInclusive<usize>, t: &mut Trainer| {
            for e in epochs {
                t.train_epoch(&train, e, &mut |_| {}).unwrap();
            }
        };
        let mut a = trainer(&regs, "mlp:16");
        run(1..=4, &mut a);
        let mut b = trainer(&regs, "mlp:16");
        run(1..=2, &mut b);
        let ck = b.checkpoint().unwrap();
        let mut b2 = trainer(&regs, "mlp:16");
        b2.restore(ck).unwrap();
        run(3..=4, &mut b2);
        assert_eq!(a.net.to_pytorch(), b2.net.to_pytorch(), "{regs:?}");
        let va = a.reg_values().unwrap();
        assert_eq!(va, b2.reg_values().unwrap(), "{regs:?}");
        assert!(va.values().all(|v| v.is_finite()), "{regs:?}: {va:?}");
        // each regularizer reports its value (adversarial training alone has none)
        assert_eq!(va.is_empty(), regs[0].starts_with("pgd-at"), "{regs:?}: {va:?}");
    }
}

#[test]
fn adversarial_configs_that_cannot_work_are_named_errors() {
    let err = |regs: &[&str]| Trainer::new(&cfg(regs, "mlp:16"), &[8], 3, &Device::flex().autodiff(), None, 10).err().expect("an error").to_string();
    let e = err(&["fgsm-at=0.1", "pgd-at=0.1"]);
    assert!(e.contains("fgsm-at=0.1") && e.contains("pgd-at=0.1") && e.contains("at most one"), "{e}");
    let e = err(&["aaer=1:eps=0.1", "fgsm-rs-at=0.1"]);
    assert!(e.contains("at most one"), "{e}");
    let e = err(&["arow=6:eps=0.1", "fgsm-at=0.1"]);
    assert!(e.contains("clean batch"), "{e}");
    let e = err(&["elle=100"]);
    assert!(e.contains("eps=") && e.contains("fgsm-at"), "{e}");
    let e = err(&["pgd-at=0.1:steps=0"]);
    assert!(e.contains("steps"), "{e}");
    // ELLE with its own ε needs no adversarial training
    assert!(Trainer::new(&cfg(&["elle=1:eps=0.1"], "mlp:16"), &[8], 3, &Device::flex().autodiff(), None, 10).is_ok());
}
