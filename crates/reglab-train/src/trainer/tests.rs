//! Training-loop tests on small synthetic problems (the real-data runs are in the CLI tests).

use super::*;
use crate::test_data::blobs;

fn cfg(regs: &[&str]) -> TrainConfig {
    TrainConfig {
        model: "mlp:16".parse().unwrap(),
        optim: OptimSpec::Adam,
        lr: 1e-2,
        batch: 16,
        epochs: 5,
        seed: 3,
        regs: regs.iter().map(|s| s.to_string()).collect(),
        reparam: None,
        prune: None,
    }
}

fn run(c: &TrainConfig) -> (Vec<EpochMetrics>, Vec<NamedTensor>) {
    let dev = Device::flex().autodiff();
    let (train, test) = (blobs(240, 1), blobs(90, 2));
    let steps = (train.len().div_ceil(c.batch) * c.epochs) as u64;
    let mut t = Trainer::new(c, &[8], 3, &dev, None, steps).unwrap();
    let m = t.fit(&train, &test, &mut |_| {}, &mut |_, _| Ok(())).unwrap();
    (m, t.net.to_pytorch())
}

#[test]
fn learns_a_separable_problem() {
    let (m, _) = run(&cfg(&[]));
    assert!(m.last().unwrap().test_accuracy > 0.95, "{m:?}");
    assert!(m.last().unwrap().train_loss < m[0].train_loss);
}

#[test]
fn same_seed_same_bits_other_seed_other_bits() {
    let a = run(&cfg(&["l2=1e-3"]));
    let b = run(&cfg(&["l2=1e-3"]));
    assert_eq!(a, b);
    let mut c2 = cfg(&["l2=1e-3"]);
    c2.seed = 4;
    assert_ne!(run(&c2).1, a.1);
}

#[test]
fn l2_shrinks_the_weights_and_reports_its_value() {
    let (plain, w0) = run(&cfg(&[]));
    let (reg, w1) = run(&cfg(&["l2=0.5"]));
    let norm = |w: &[NamedTensor]| -> f64 {
        w.iter().filter(|t| t.name.ends_with("weight")).map(|t| reglab_core::linalg::sum_sq(&t.data)).sum()
    };
    assert!(norm(&w1) < 0.5 * norm(&w0), "{} vs {}", norm(&w1), norm(&w0));
    assert!(plain[0].reg.is_empty());
    // reported value = λ/2·Σ‖W‖² over layer weights at the end of the epoch
    let want = 0.25 * norm(&w1);
    let got = reg.last().unwrap().reg["l2"];
    assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
}

#[test]
fn a_diverging_run_names_epoch_and_step() {
    let mut c = cfg(&[]);
    c.optim = OptimSpec::Sgd { momentum: 0.0 };
    c.lr = 1e12;
    let dev = Device::flex().autodiff();
    let mut t = Trainer::new(&c, &[8], 3, &dev, None, 100).unwrap();
    let e = t.fit(&blobs(240, 1), &blobs(30, 2), &mut |_| {}, &mut |_, _| Ok(())).unwrap_err();
    match e {
        TrainError::NonFinite { epoch, step, .. } => assert!(epoch >= 1 && step >= 1),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("epoch") && e.to_string().contains("step"));
}

#[test]
fn bad_configs_are_errors() {
    let dev = Device::flex().autodiff();
    for (c, want) in [
        (TrainConfig { lr: -1.0, ..cfg(&[]) }, "learning rate"),
        (TrainConfig { batch: 0, ..cfg(&[]) }, "batch"),
        (cfg(&["l7=1"]), "unknown regularizer"),
        (cfg(&["l2=-1"]), "non-negative"),
    ] {
        let e = Trainer::new(&c, &[8], 3, &dev, None, 10).err().expect("error").to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn a_restored_trainer_continues_bit_identically() {
    let dev = Device::flex().autodiff();
    let c = cfg(&["spectral=1e-2", "l2=1e-3"]);
    let (train, test) = (blobs(240, 1), blobs(90, 2));
    let steps = (train.len().div_ceil(c.batch) * 4) as u64;
    // uninterrupted: 4 epochs
    let mut a = Trainer::new(&c, &[8], 3, &dev, None, steps).unwrap();
    for e in 1..=4 {
        a.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    // interrupted after 2 epochs, checkpoint, new trainer, restore, 2 more
    let mut b = Trainer::new(&c, &[8], 3, &dev, None, steps).unwrap();
    for e in 1..=2 {
        b.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    let ck = b.checkpoint().unwrap();
    drop(b);
    let mut b2 = Trainer::new(&c, &[8], 3, &dev, None, steps).unwrap();
    b2.restore(ck).unwrap();
    for e in 3..=4 {
        b2.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    assert_eq!(a.net.to_pytorch(), b2.net.to_pytorch());
    assert_eq!(a.evaluate(&test), b2.evaluate(&test));
    let (ca, cb) = (a.checkpoint().unwrap(), b2.checkpoint().unwrap());
    // (the optimizer's record bytes are not canonical: their tensor order may differ)
    assert!(ca.reg == cb.reg && ca.step == cb.step, "regularizer state and step counter");
}

/// One SGD step (no momentum) of a fresh `cfg` trainer on the first 32 blobs, through
/// [`Trainer::step_on`].
fn one_sgd_step(regs: &[&str]) -> (Trainer, Vec<NamedTensor>) {
    let c = TrainConfig { optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 0.5, ..cfg(regs) };
    let mut t = crate::test_data::blob_trainer(&c);
    let train = blobs(240, 1);
    let idx: Vec<usize> = (0..32).collect();
    let (x, y) = t.batch_tensors(&train, &idx);
    let labels: Vec<u8> = idx.iter().map(|&i| train.labels[i]).collect();
    t.output.prepare(train.len(), 3).unwrap();
    t.step_on(x, y, Some((&labels, &idx))).unwrap();
    let w = t.net.to_pytorch();
    (t, w)
}

#[test]
fn label_smoothing_step_equals_burns_smoothed_cross_entropy() {
    // The output term's logit gradient, carried by Σ G ⊙ z through the network, gives the same
    // step as burn's own cross-entropy with smoothed targets built in the autodiff graph.
    let (_, with_term) = one_sgd_step(&["label-smoothing=0.3"]);
    let c = TrainConfig { optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 0.5, ..cfg(&[]) };
    let t = crate::test_data::blob_trainer(&c);
    let train = blobs(240, 1);
    let idx: Vec<usize> = (0..32).collect();
    let (x, y) = t.batch_tensors(&train, &idx);
    let dev = Device::flex().autodiff();
    let smoothed = CrossEntropyLossConfig::new().with_smoothing(Some(0.3)).init(&dev);
    let loss = smoothed.forward(t.net.forward(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &t.net);
    let mut opt = OptimSpec::Sgd { momentum: 0.0 }.init();
    let net = opt.step(0.5, t.net.clone(), grads);
    let reference = net.to_pytorch();
    let mut worst = 0.0f32;
    for (a, b) in with_term.iter().zip(&reference) {
        for (x, y) in a.data.iter().zip(&b.data) {
            worst = worst.max((x - y).abs());
        }
    }
    assert!(worst < 2e-6, "largest difference {worst}");
    // and the term changed the step: without it the weights differ
    let (_, plain) = one_sgd_step(&[]);
    assert!(plain.iter().zip(&reference).any(|(a, b)| a.data.iter().zip(&b.data).any(|(x, y)| (x - y).abs() > 1e-4)));
}

#[test]
fn output_terms_report_their_epoch_mean_and_elr_targets_resume_bit_for_bit() {
    let c = cfg(&["elr=3:beta=0.7", "confidence-penalty=0.1", "l2=1e-4"]);
    let (m, _) = run(&c);
    let reg = &m.last().unwrap().reg;
    assert_eq!(reg.keys().collect::<Vec<_>>(), vec!["confidence-penalty", "elr", "l2"]);
    // −β·H ∈ [−β ln 3, 0]; log(1 − ⟨t, p⟩) < 0
    assert!(reg["confidence-penalty"] < 0.0 && reg["confidence-penalty"] > -0.1 * 3f64.ln());
    assert!(reg["elr"] < 0.0, "{reg:?}");
    // resume: the ELR targets travel in the checkpoint
    let dev = Device::flex().autodiff();
    let train = blobs(240, 1);
    let mut a = Trainer::new(&c, &[8], 3, &dev, None, 100).unwrap();
    for e in 1..=3 {
        a.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    let mut b = Trainer::new(&c, &[8], 3, &dev, None, 100).unwrap();
    b.train_epoch(&train, 1, &mut |_| {}).unwrap();
    let ck = b.checkpoint().unwrap();
    let targets = ck.reg.iter().find(|t| t.name == "output/elr.targets").expect("targets saved");
    assert_eq!(targets.shape, vec![240, 3]);
    assert!(targets.data.chunks(3).all(|r| r.iter().sum::<f32>() > 0.29), "every example was seen once: Σt = 0.3");
    let mut b2 = Trainer::new(&c, &[8], 3, &dev, None, 100).unwrap();
    b2.restore(ck).unwrap();
    for e in 2..=3 {
        b2.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    assert_eq!(a.net.to_pytorch(), b2.net.to_pytorch());
    assert_eq!(a.checkpoint().unwrap().reg, b2.checkpoint().unwrap().reg);
}

#[test]
fn output_terms_without_indices_or_with_bad_specs_are_errors() {
    let mut t = crate::test_data::blob_trainer(&cfg(&["elr=3"]));
    let train = blobs(240, 1);
    let (x, y) = t.batch_tensors(&train, &[0, 1, 2]);
    assert!(t.step(x, y).unwrap_err().to_string().contains("example indices"));
    let dev = Device::flex().autodiff();
    for (spec, why) in [("elr=3:beta=2", "beta"), ("label-smoothing=2", "> 1"), ("elr=3:select=x", "select"), ("elr=-1", "non-negative")] {
        let e = Trainer::new(&cfg(&[spec]), &[8], 3, &dev, None, 10).err().unwrap().to_string();
        assert!(e.contains(why), "{spec}: {e}");
    }
}
