//! Training-loop tests on small synthetic problems (the real-data runs are in the CLI tests).

use super::*;
use crate::optim::OptimSpec;
use crate::test_data::blobs;

fn cfg(regs: &[&str]) -> TrainConfig {
    TrainConfig {
        model: "mlp:16".parse().unwrap(),
        optim: OptimSpec::Adam,
        lr: 1e-2,
        batch: 16,
        epochs: 5,
        seed: 3,
        regs: regs.iter().map(|s| reglab_core::Spec::parse(s).unwrap()).collect(),
        reparam: None,
        prune: None,
    }
}

/// The error of a configuration with `regs`: where the specs are parsed (a bad strength) or
/// where the trainer is built (an unknown name, a bad option).
fn config_error(regs: &[&str]) -> String {
    let specs: Result<Vec<reglab_core::Spec>, _> = regs.iter().map(|s| reglab_core::Spec::parse(s)).collect();
    match specs {
        Err(e) => e.to_string(),
        Ok(regs) => {
            let c = TrainConfig { regs, ..cfg(&[]) };
            Trainer::new(&c, &[8], 3, &Device::flex().autodiff(), None, 10).err().expect("an error").to_string()
        }
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
    let norm = |w: &[NamedTensor]| -> f64 { w.iter().filter(|t| t.name.ends_with("weight")).map(|t| reglab_core::linalg::sum_sq(&t.data)).sum() };
    assert!(norm(&w1) < 0.5 * norm(&w0), "{} vs {}", norm(&w1), norm(&w0));
    assert!(plain[0].reg.is_empty());
    // reported value = λ/2·Σ‖W‖² over layer weights at the end of the epoch
    let want = 0.25 * norm(&w1);
    let got = reg.last().unwrap().reg["l2"];
    assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
}

#[test]
fn reported_values_are_the_terms_as_they_act_at_the_measured_step() {
    // 240 examples in batches of 16: 15 steps an epoch, 75 in all. At the end of epoch e the
    // row is measured at step t = 15e: the warm-up term reports λ·min(1, (t + 1)/40)/2·‖W‖²
    // (not its step-0 factor 1/40), the `until=30` term λ/2·‖W − W₀‖² up to epoch 1 and 0 from
    // epoch 2 on (t ≥ 30).
    let c = cfg(&["l2=0.5:schedule=warmup:warmup=40", "l2-init=0.3:until=30"]);
    let dev = Device::flex().autodiff();
    let (train, test) = (blobs(240, 1), blobs(90, 2));
    let mut t = Trainer::new(&c, &[8], 3, &dev, None, 75).unwrap();
    let init = t.reg().anchor_pytorch();
    let mut weights = Vec::new();
    let m = t
        .fit(&train, &test, &mut |_| {}, &mut |t, _| {
            weights.push(t.net.to_pytorch());
            Ok(())
        })
        .unwrap();
    let sum_sq = |w: &[NamedTensor], w0: Option<&[NamedTensor]>| -> f64 {
        w.iter()
            .filter(|t| t.name.ends_with("weight"))
            .map(|t| match w0 {
                None => reglab_core::linalg::sum_sq(&t.data),
                Some(w0) => {
                    let a = &w0.iter().find(|a| a.name == t.name).unwrap().data;
                    t.data.iter().zip(a).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
                }
            })
            .sum()
    };
    for (e, (row, w)) in m.iter().zip(&weights).enumerate() {
        let step = 15 * (e + 1) as u64;
        let warm = 0.5 * ((step + 1) as f64 / 40.0).min(1.0) / 2.0 * sum_sq(w, None);
        let anchored = if step >= 30 { 0.0 } else { 0.3 / 2.0 * sum_sq(w, Some(&init)) };
        let (got_w, got_a) = (row.reg["l2"], row.reg["l2-init"]);
        assert!((got_w - warm).abs() <= 1e-6 * warm, "epoch {}: l2 {got_w} vs {warm}", e + 1);
        assert!((got_a - anchored).abs() <= 1e-6 * anchored.max(1e-12), "epoch {}: l2-init {got_a} vs {anchored}", e + 1);
    }
    assert_eq!(m[1].reg["l2-init"], 0.0, "switched off by until=30 at step 30");
    assert!(m[0].reg["l2-init"] > 0.0, "acting before step 30");
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
    for (c, want) in [(TrainConfig { lr: -1.0, ..cfg(&[]) }, "learning rate"), (TrainConfig { batch: 0, ..cfg(&[]) }, "batch")] {
        let e = Trainer::new(&c, &[8], 3, &dev, None, 10).err().expect("error").to_string();
        assert!(e.contains(want), "{e}");
    }
    for (regs, want) in [(["l7=1"], "unknown regularizer"), (["l2=-1"], "non-negative")] {
        let e = config_error(&regs);
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
    t.chain_mut().find_mut::<crate::hook::output::OutputTerms>().unwrap().prepare(train.len(), 3).unwrap();
    t.step_on(x, y, Some(BatchInfo { labels: &labels, index: &idx, mix: None })).unwrap();
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
fn feasible_learning_replaces_the_cross_entropy_and_lowers_the_worst_losses() {
    let data = blobs(60, 4);
    let sgd = |regs: &[&str]| TrainConfig { batch: 20, optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 0.1, ..cfg(regs) };
    // every constraint met (ε = 100): every multiplier stays 0, so nothing moves — the
    // cross-entropy is not in the step
    let mut t = crate::test_data::blob_trainer(&sgd(&["feasible=1:eps=100"]));
    let w0 = t.net.to_pytorch();
    let (loss, _) = t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    assert_eq!(t.net.to_pytorch(), w0);
    assert!(loss > 0.5, "the reported loss is still the cross-entropy: {loss}");
    // with ε below the losses it trains, and its worst example ends better than ERM's at the
    // same budget and step size
    let worst = |regs: &[&str]| {
        let mut t = crate::test_data::blob_trainer(&sgd(regs));
        for e in 1..=10 {
            t.train_epoch(&data, e, &mut |_| {}).unwrap();
        }
        t.example_losses(&data).into_iter().fold(0.0f64, f64::max)
    };
    let (erm, feasible) = (worst(&[]), worst(&["feasible=1:eps=0.05:dual_lr=0.5"]));
    assert!(feasible < erm, "max loss {feasible} under feasible learning against {erm} under ERM");
    // the per-example losses average to the reported mean
    let t = crate::test_data::blob_trainer(&sgd(&[]));
    let l = t.example_losses(&data);
    let (mean, _) = t.evaluate(&data);
    assert!((l.iter().sum::<f64>() / 60.0 - mean).abs() < 1e-9);
}

#[test]
fn output_terms_without_indices_or_with_bad_specs_are_errors() {
    let mut t = crate::test_data::blob_trainer(&cfg(&["elr=3"]));
    let train = blobs(240, 1);
    let (x, y) = t.batch_tensors(&train, &[0, 1, 2]);
    assert!(t.step(x, y).unwrap_err().to_string().contains("example indices"));
    for (spec, why) in [("elr=3:beta=2", "beta"), ("label-smoothing=2", "> 1"), ("elr=3:select=x", "select"), ("elr=-1", "non-negative")] {
        let e = config_error(&[spec]);
        assert!(e.contains(why), "{spec}: {e}");
    }
}

/// Blobs shaped as 1×2×4 images (cutout needs images).
fn image_blobs(n: usize, seed: u64) -> Dataset {
    Dataset { example_shape: vec![1, 2, 4], ..blobs(n, seed) }
}

#[test]
fn mixup_step_equals_the_two_weighted_cross_entropies_on_the_mixed_batch() {
    // The trainer's step on a mixup batch against burn's autodiff of λ·CE(z, y) + (1 − λ)·CE(z, y_π)
    // on the same mixed inputs.
    let c = TrainConfig { optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 0.5, ..cfg(&["mixup=0.4"]) };
    let mut t = crate::test_data::blob_trainer(&c);
    let reference_net = t.net.clone();
    let train = blobs(240, 1);
    let idx: Vec<usize> = (0..32).collect();
    let lab: Vec<usize> = idx.iter().map(|&i| train.labels[i] as usize).collect();
    let mut mix = None;
    let terms = &t.chain.find::<crate::hook::data::DataPerturbations>().unwrap().terms;
    let (x, y, labels) = make_batch(&train, &idx, &t.device, |x| {
        let mut b = BatchMut { x, n: 32, example_shape: &[8], labels: &lab };
        mix = reglab_core::batch::apply_all(terms, &mut b, c.seed, 0).unwrap();
        Ok(())
    })
    .unwrap();
    let mix = mix.expect("mixup mixes");
    assert!(mix.lam > 0.0 && mix.lam < 1.0 && mix.labels_b != lab);
    let (xr, ya) = (x.clone(), y.clone());
    t.step_on(x, y, Some(BatchInfo { labels: &labels, index: &idx, mix: Some(&mix) })).unwrap();

    let dev = Device::flex().autodiff();
    let yb = Tensor::<1, Int>::from_data(TensorData::new(mix.labels_b.iter().map(|&l| l as i64).collect::<Vec<_>>(), [32]), &dev);
    let ce = CrossEntropyLossConfig::new().init(&dev);
    let z = reference_net.forward(xr);
    let loss = ce.forward(z.clone(), ya).mul_scalar(mix.lam) + ce.forward(z, yb).mul_scalar(1.0 - mix.lam);
    let grads = GradientsParams::from_grads(loss.backward(), &reference_net);
    let net = OptimSpec::Sgd { momentum: 0.0 }.init().step(0.5, reference_net, grads);
    let mut worst = 0.0f32;
    for (a, b) in t.net.to_pytorch().iter().zip(&net.to_pytorch()) {
        for (p, q) in a.data.iter().zip(&b.data) {
            worst = worst.max((p - q).abs());
        }
    }
    assert!(worst < 2e-6, "largest difference {worst}");
}

#[test]
fn data_perturbations_train_report_and_resume_bit_for_bit() {
    let dev = Device::flex().autodiff();
    let c = TrainConfig { epochs: 3, ..cfg(&["cutout=2", "mixup=1", "input-noise=0.05"]) };
    let (train, test) = (image_blobs(240, 1), image_blobs(90, 2));
    let mut a = Trainer::new(&c, &[1, 2, 4], 3, &dev, None, 100).unwrap();
    let m = a.fit(&train, &test, &mut |_| {}, &mut |_, _| Ok(())).unwrap();
    assert!(m.last().unwrap().test_accuracy > 0.9, "{m:?}");
    assert!(m.last().unwrap().reg.contains_key("mixup"), "{:?}", m.last().unwrap().reg);
    // no state: a trainer restored after epoch 1 draws the same perturbations in epochs 2–3
    let mut b = Trainer::new(&c, &[1, 2, 4], 3, &dev, None, 100).unwrap();
    b.train_epoch(&train, 1, &mut |_| {}).unwrap();
    let ck = b.checkpoint().unwrap();
    let mut b2 = Trainer::new(&c, &[1, 2, 4], 3, &dev, None, 100).unwrap();
    b2.restore(ck).unwrap();
    for e in 2..=3 {
        b2.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    assert_eq!(a.net.to_pytorch(), b2.net.to_pytorch());
    // the perturbations change training: without them the weights differ
    let mut plain = Trainer::new(&cfg(&[]), &[1, 2, 4], 3, &dev, None, 100).unwrap();
    for e in 1..=3 {
        plain.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    assert_ne!(plain.net.to_pytorch(), a.net.to_pytorch());
    // cutout on examples that are not images is a configuration error
    let e = Trainer::new(&cfg(&["cutout=2"]), &[8], 3, &dev, None, 10).err().unwrap().to_string();
    assert!(e.contains("cutout=2") && e.contains("not images"), "{e}");
    assert!(Trainer::new(&cfg(&["mixup=1", "mixup=2"]), &[8], 3, &dev, None, 10).err().unwrap().to_string().contains("twice"));
}

#[test]
fn dropout_trains_differently_repeats_resumes_and_zero_is_no_dropout() {
    let dev = Device::flex().autodiff();
    let train = blobs(240, 1);
    let weights = |regs: &[&str], epochs: usize| {
        let mut t = Trainer::new(&cfg(regs), &[8], 3, &dev, None, 100).unwrap();
        for e in 1..=epochs {
            t.train_epoch(&train, e, &mut |_| {}).unwrap();
        }
        t
    };
    let plain = weights(&[], 2).net.to_pytorch();
    assert_eq!(weights(&["dropout=0"], 2).net.to_pytorch(), plain, "p = 0 multiplies by exactly 1");
    let a = weights(&["dropout=0.5"], 2);
    assert_ne!(a.net.to_pytorch(), plain);
    assert_eq!(weights(&["dropout=0.5"], 2).net.to_pytorch(), a.net.to_pytorch(), "same seed, same masks");
    // evaluation sees the whole network: evaluate twice, same numbers
    assert_eq!(a.evaluate(&train), a.evaluate(&train));
    // resume after epoch 1
    let mut b = weights(&["dropout=0.5"], 1);
    let ck = b.checkpoint().unwrap();
    b = Trainer::new(&cfg(&["dropout=0.5"]), &[8], 3, &dev, None, 100).unwrap();
    b.restore(ck).unwrap();
    b.train_epoch(&train, 2, &mut |_| {}).unwrap();
    assert_eq!(b.net.to_pytorch(), a.net.to_pytorch());
    // a CNN drops its features before the head
    let c = TrainConfig { model: "cnn:2".parse().unwrap(), ..cfg(&["dropout=0.5"]) };
    let mut t = Trainer::new(&c, &[1, 2, 4], 3, &dev, None, 100).unwrap();
    t.train_epoch(&image_blobs(60, 1), 1, &mut |_| {}).unwrap();
}

/// A fresh SGD (lr 1, no momentum) trainer and the 32-example blob batch; the step's
/// gradient is then `θ_before − θ_after`.
fn sgd1(regs: &[&str]) -> (Trainer, Dataset, Vec<usize>) {
    let c = TrainConfig { optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 1.0, model: "mlp:6".parse().unwrap(), ..cfg(regs) };
    (crate::test_data::blob_trainer(&c), blobs(240, 1), (0..32).collect())
}

fn flat(t: &Trainer) -> Vec<f32> {
    crate::sharpness::params(&t.net).unwrap().into_iter().flat_map(|(v, _)| v).collect()
}

/// The cross-entropy gradient of `t` at `theta + delta` on the batch, flat.
fn grad_at(t: &mut Trainer, data: &Dataset, idx: &[usize], theta: &[crate::sharpness::Flat], delta: Option<&[Vec<f32>]>) -> Vec<Vec<f32>> {
    crate::sharpness::set_params(&mut t.net, theta, delta);
    let (x, y) = t.batch_tensors(data, idx);
    let g = t.ce_grads(x, y, None).unwrap();
    crate::sharpness::set_params(&mut t.net, theta, None);
    g
}

#[test]
fn sam_and_amp_steps_take_the_gradient_at_the_perturbed_weights() {
    for spec in ["sam=0.3", "amp=0.2:lr=2:steps=2"] {
        let (mut t, data, idx) = sgd1(&[spec]);
        let (mut r, _, _) = sgd1(&[]);
        let theta = crate::sharpness::params(&r.net).unwrap();
        // the reference, by hand from plain cross-entropy gradients
        let delta: Vec<Vec<f32>> = if spec.starts_with("sam") {
            let g = grad_at(&mut r, &data, &idx, &theta, None);
            reglab_regularizers::stochastic::sharpness::sam_delta(&g, 0.3)
        } else {
            let mut d: Vec<Vec<f32>> = theta.iter().map(|(v, _)| vec![0.0; v.len()]).collect();
            for _ in 0..2 {
                let g = grad_at(&mut r, &data, &idx, &theta, Some(&d));
                reglab_regularizers::stochastic::sharpness::amp_update(&mut d, &g, 0.2, 2.0);
            }
            for (dp, _) in d.iter().zip(&theta) {
                assert!(dp.iter().map(|v| v * v).sum::<f32>().sqrt() <= 0.2 + 1e-6);
            }
            d
        };
        let want: Vec<f32> = grad_at(&mut r, &data, &idx, &theta, Some(&delta)).into_iter().flatten().collect();
        let before = flat(&t);
        t.train_batch(&data, &idx).unwrap();
        let got: Vec<f32> = before.iter().zip(flat(&t)).map(|(a, b)| a - b).collect();
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{spec}: {worst}");
        // and it is not the plain gradient at θ
        let plain: Vec<f32> = grad_at(&mut r, &data, &idx, &theta, None).into_iter().flatten().collect();
        assert!(plain.iter().zip(&want).any(|(a, b)| (a - b).abs() > 1e-3), "{spec}: the perturbation changed nothing");
    }
}

#[test]
fn grad_norm_step_is_the_gradient_of_ce_plus_lambda_squared_gradient_norm() {
    // F(θ) = CE(θ) + λ‖∇CE(θ)‖²: central differences of F along a few coordinates against the
    // step's gradient (finite-difference Hessian-vector product inside, h = 1e-3)
    let lambda = 0.5;
    let (mut t, data, idx) = sgd1(&["grad-norm=0.5:h=1e-3"]);
    let (mut r, _, _) = sgd1(&[]);
    let theta = crate::sharpness::params(&r.net).unwrap();
    let f = |r: &mut Trainer, delta: Option<&[Vec<f32>]>| -> f64 {
        crate::sharpness::set_params(&mut r.net, &theta, delta);
        let (x, y) = r.batch_tensors(&data, &idx);
        let ce = r.loss_fn.forward(r.net.forward(x.clone()), y.clone()).into_scalar::<f32>() as f64;
        let g = r.ce_grads(x, y, None).unwrap();
        crate::sharpness::set_params(&mut r.net, &theta, None);
        ce + lambda * g.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum::<f64>()
    };
    let before = flat(&t);
    t.train_batch(&data, &idx).unwrap();
    let got: Vec<f32> = before.iter().zip(flat(&t)).map(|(a, b)| a - b).collect();
    let sizes: Vec<usize> = theta.iter().map(|(v, _)| v.len()).collect();
    let (mut num, mut ana) = (Vec::new(), Vec::new());
    // (coordinates whose ±1e-2 moves cross no ReLU kink: ‖∇CE‖² jumps at a kink, e.g. at
    // coordinate 0 of this network, where no derivative exists to compare with)
    for k in [3usize, 5, 17, 40, 47, 50, 60] {
        let eps = 1e-2f32;
        let mut d: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
        let (mut tensor, mut j) = (0, k);
        while j >= sizes[tensor] {
            j -= sizes[tensor];
            tensor += 1;
        }
        d[tensor][j] = eps;
        let fp = f(&mut r, Some(&d));
        d[tensor][j] = -eps;
        let fm = f(&mut r, Some(&d));
        num.push((fp - fm) / (2.0 * eps as f64));
        ana.push(got[k] as f64);
    }
    let err = num.iter().zip(&ana).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt() / ana.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!(err < 2e-2, "relative error {err}: numeric {num:?} step {ana:?}");
    // the penalty changes the step, and two sharpness terms are refused
    let plain: Vec<f32> = grad_at(&mut r, &data, &idx, &theta, None).into_iter().flatten().collect();
    assert!(plain.iter().zip(&got).any(|(a, b)| (a - b).abs() > 1e-4));
    let dev = Device::flex().autodiff();
    assert!(Trainer::new(&cfg(&["sam=0.1", "amp=0.1"]), &[8], 3, &dev, None, 10).err().unwrap().to_string().contains("at most one"));
}

#[test]
fn mixout_step_uses_the_mixed_weights_and_the_masked_gradient() {
    for (spec, exact) in [("mixout=0.3", true), ("mixout=0.3:grad=official", false)] {
        let (mut t, data, idx) = sgd1(&[spec]);
        let (mut r, _, _) = sgd1(&[]);
        // by hand: W̃ from the initial weights (the anchor), the same masks (seed 3, step 0)
        let m = reglab_regularizers::stochastic::mixout::Mixout { p: 0.3, exact };
        let mut mixed = Vec::new();
        let mut factors = Vec::new();
        for (i, l) in r.net.layers().iter().enumerate() {
            let (w, _) = r.net.layer_data(i);
            let shape = w.shape().to_vec();
            let w: Vec<f32> = w.try_into_vec().unwrap();
            let mask = m.mask(shape[0], 3, 0, i);
            assert_eq!(l.shape[1], shape[0]);
            // anchor = initial weights, so mixed-out columns keep W and kept ones (W − pW)/(1 − p) = W:
            // W̃ = W at step 0; use a moved anchor instead to see the mixing
            let u: Vec<f32> = w.iter().map(|v| v * 0.5).collect();
            mixed.push((i, m.mix(&w, &u, &mask, |k| k / shape[1]), shape.clone(), u));
            factors.push((m.grad_factor(&mask), shape[1]));
        }
        // give both trainers the moved anchors: t through its mixout state, r by hand
        if let Some(h) = t.chain_mut().find_mut::<crate::hook::mixout::MixoutHook>() {
            for (i, _, _, u) in &mixed {
                h.anchors_mut()[*i] = Some(u.clone());
            }
        }
        for (i, wm, shape, _) in &mixed {
            r.net.set_weight(*i, TensorData::new(wm.clone(), shape.clone()));
        }
        let at = crate::sharpness::params(&r.net).unwrap();
        let g = grad_at(&mut r, &data, &idx, &at, None);
        let before = flat(&t);
        t.train_batch(&data, &idx).unwrap();
        let got: Vec<f32> = before.iter().zip(flat(&t)).map(|(a, b)| a - b).collect();
        // expected step: weights g̃ ⊙ factor (per input row of [in, out]), biases g̃
        let mut want = Vec::new();
        for (k, gk) in g.iter().enumerate() {
            if k % 2 == 0 {
                let (f, out) = &factors[k / 2];
                want.extend(gk.iter().enumerate().map(|(e, v)| v * f[e / out]));
            } else {
                want.extend(gk.iter().copied());
            }
        }
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{spec}: {worst}");
    }
    let dev = Device::flex().autodiff();
    assert!(Trainer::new(&cfg(&["mixout=0.1", "sam=0.1"]), &[8], 3, &dev, None, 10).err().unwrap().to_string().contains("not supported"));
}

#[test]
#[allow(clippy::excessive_precision)]
fn amp_step_matches_the_official_amp_optimizer() {
    // Fixture: the official `AMP` optimizer (hiyouga/AMP-Regularizer amp.py, 5ab39fb6) run
    // unchanged in torch 2.15 around SGD (lr 1, no momentum) on a 4-3-3 ReLU MLP with fixed
    // weights and a fixed batch of 5 (labels 0, 1, 2, 1, 0): the weights after one step, for
    // (ε 0.2, inner_lr 2, inner_iter 2) and (ε 5, inner_lr 1, inner_iter 1). Names and layout
    // are PyTorch's ([out, in]).
    let init: Vec<NamedTensor> = vec![
        NamedTensor::new(
            "layers.0.weight",
            vec![3, 4],
            vec![
                0.25244128704071045,
                0.27278923988342285,
                0.04233600199222565,
                -0.22704075276851654,
                -0.2876772880554199,
                -0.08382464945316315,
                0.19709597527980804,
                0.2968074679374695,
                0.12363554537296295,
                -0.1632063388824463,
                -0.2999970614910126,
                -0.16097187995910645,
            ],
        ),
        NamedTensor::new("layers.0.bias", vec![3], vec![0.10000000149011612, -0.20000000298023224, 0.05000000074505806]),
        NamedTensor::new(
            "layers.1.weight",
            vec![3, 3],
            vec![
                0.4000000059604645,
                0.21612092852592468,
                -0.16645874083042145,
                -0.39599698781967163,
                -0.2614574432373047,
                0.11346487700939178,
                0.384068101644516,
                0.3015609085559845,
                -0.058200012892484665,
            ],
        ),
        NamedTensor::new("layers.1.bias", vec![3], vec![0.0, 0.10000000149011612, -0.10000000149011612]),
    ];
    let x: Vec<f32> = vec![
        -0.30000001192092896,
        -0.10000000149011612,
        0.10000000149011612,
        0.30000001192092896,
        0.5,
        0.699999988079071,
        0.8999999761581421,
        -0.30000001192092896,
        -0.10000000149011612,
        0.10000000149011612,
        0.30000001192092896,
        0.5,
        0.699999988079071,
        0.8999999761581421,
        -0.30000001192092896,
        -0.10000000149011612,
        0.10000000149011612,
        0.30000001192092896,
        0.5,
        0.699999988079071,
    ];
    let data = Dataset { name: "amp".into(), example_shape: vec![4], features: x, labels: vec![0, 1, 2, 1, 0], classes: 3 };
    let want = [
        (
            "amp=0.2:lr=2:steps=2",
            vec![
                NamedTensor::new(
                    "layers.0.weight",
                    vec![3, 4],
                    vec![
                        0.024288371205329895,
                        0.011771708726882935,
                        -0.008679352700710297,
                        -0.06840457022190094,
                        -0.2876772880554199,
                        -0.08382464945316315,
                        0.19709597527980804,
                        0.2968074679374695,
                        0.1489710658788681,
                        -0.13063210248947144,
                        -0.3108551502227783,
                        -0.1645912379026413,
                    ],
                ),
                NamedTensor::new("layers.0.bias", vec![3], vec![-0.0643230676651001, -0.19999998807907104, 0.08619359135627747]),
                NamedTensor::new(
                    "layers.1.weight",
                    vec![3, 3],
                    vec![
                        0.28501462936401367,
                        0.21612092852592468,
                        -0.16832201182842255,
                        -0.11478012800216675,
                        -0.2614574432373047,
                        0.11741319298744202,
                        0.21783658862113953,
                        0.3015609085559845,
                        -0.0602850466966629,
                    ],
                ),
                NamedTensor::new("layers.1.bias", vec![3], vec![0.04122205078601837, 0.25863853096961975, -0.29986056685447693]),
            ],
        ),
        (
            "amp=5:lr=1:steps=1",
            vec![
                NamedTensor::new(
                    "layers.0.weight",
                    vec![3, 4],
                    vec![
                        0.05272771418094635,
                        0.03203415870666504,
                        -0.006538465619087219,
                        -0.08460061252117157,
                        -0.2876772880554199,
                        -0.08382464945316315,
                        0.19709597527980804,
                        0.2968074679374695,
                        0.1471332460641861,
                        -0.13299500942230225,
                        -0.3100675046443939,
                        -0.1643286943435669,
                    ],
                ),
                NamedTensor::new("layers.0.bias", vec![3], vec![-0.10520767420530319, -0.19999998807907104, 0.08356814086437225]),
                NamedTensor::new(
                    "layers.1.weight",
                    vec![3, 3],
                    vec![
                        0.27809959650039673,
                        0.21612092852592468,
                        -0.16780783236026764,
                        -0.12080317735671997,
                        -0.2614574432373047,
                        0.1162446141242981,
                        0.23077476024627686,
                        0.3015609085559845,
                        -0.059630654752254486,
                    ],
                ),
                NamedTensor::new("layers.1.bias", vec![3], vec![0.04389569163322449, 0.23500031232833862, -0.2788960039615631]),
            ],
        ),
    ];
    let dev = Device::flex().autodiff();
    for (spec, want) in want {
        let c = TrainConfig { optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 1.0, model: "mlp:3".parse().unwrap(), batch: 5, ..cfg(&[spec]) };
        let mut t = Trainer::new(&c, &[4], 3, &dev, None, 10).unwrap();
        t.net.load_pytorch(&init).unwrap();
        t.train_batch(&data, &[0, 1, 2, 3, 4]).unwrap();
        for (got, w) in t.net.to_pytorch().iter().zip(&want) {
            assert_eq!(got.name, w.name);
            for (a, b) in got.data.iter().zip(&w.data) {
                assert!((a - b).abs() < 2e-6, "{spec} {}: {a} vs {b}", got.name);
            }
        }
    }
}

/// Features of `net` on every example of `data`, row-major.
fn features_of(net: &Net, data: &Dataset) -> Vec<f32> {
    let x = Tensor::<2>::from_data(TensorData::new(data.features.clone(), [data.len(), data.example_len()]), &Device::flex());
    net.valid().features(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

#[test]
fn feature_distillation_reports_its_value_and_holds_the_features_near_the_initial_ones() {
    // one mini-batch = the whole set, so each epoch is one step on the same examples
    let data = blobs(32, 4);
    let c = TrainConfig { batch: 32, ..cfg(&["feature-distill=0.5"]) };
    let mut t = crate::test_data::blob_trainer(&c);
    let f0 = features_of(&t.net, &data);
    t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    // the first step's features are the reference's: the term is 0 there
    assert_eq!(t.reg_values().unwrap()["feature-distill"], 0.0);
    // the second step: λ·mean‖f_θ₁ − f_θ₀‖², computed independently from the weights after step 1
    let f1 = features_of(&t.net, &data);
    let want = 0.5 * f1.iter().zip(&f0).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / 32.0;
    t.train_epoch(&data, 2, &mut |_| {}).unwrap();
    let got = t.reg_values().unwrap()["feature-distill"];
    assert!(want > 0.0 && (got - want).abs() <= 1e-4 * want, "{got} vs {want}");
    // against no distillation, the features move less
    let drift = |regs: &[&str]| {
        let mut t = crate::test_data::blob_trainer(&TrainConfig { batch: 32, epochs: 1, ..cfg(regs) });
        let f0 = features_of(&t.net, &data);
        for e in 1..=30 {
            t.train_epoch(&data, e, &mut |_| {}).unwrap();
        }
        features_of(&t.net, &data).iter().zip(&f0).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>()
    };
    let (plain, held) = (drift(&[]), drift(&["feature-distill=5"]));
    assert!(held < 0.5 * plain, "distilled drift {held} against plain {plain}");
    // a linear model has no features to distill
    let linear = TrainConfig { model: "mlp".parse().unwrap(), ..c.clone() };
    let mut t = crate::test_data::blob_trainer(&linear);
    let e = t.train_epoch(&data, 1, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("hidden features"), "{e}");
}

/// Train `c` 3 epochs on `data` in one go, and again with a checkpoint after epoch 1 restored
/// into a fresh trainer: the checkpoint must hold a hook state tensor named per `state`, and the
/// two runs must end with the same weights, bit for bit.
fn assert_resumes_bit_for_bit(c: &TrainConfig, data: &Dataset, state: impl Fn(&str) -> bool) {
    let mut a = crate::test_data::blob_trainer(c);
    for e in 1..=3 {
        a.train_epoch(data, e, &mut |_| {}).unwrap();
    }
    let mut b = crate::test_data::blob_trainer(c);
    b.train_epoch(data, 1, &mut |_| {}).unwrap();
    let ck = b.checkpoint().unwrap();
    assert!(ck.reg.iter().any(|t| state(&t.name)), "{:?}", ck.reg.iter().map(|t| &t.name).collect::<Vec<_>>());
    let mut b2 = crate::test_data::blob_trainer(c);
    b2.restore(ck).unwrap();
    for e in 2..=3 {
        b2.train_epoch(data, e, &mut |_| {}).unwrap();
    }
    assert_eq!(a.net.to_pytorch(), b2.net.to_pytorch());
}

/// Within-class over between-class scatter of the features, `tr Σ_W / tr Σ_B` (the NC1 measure).
fn within_over_between(f: &[f32], labels: &[u8], d: usize) -> f64 {
    let classes = *labels.iter().max().unwrap() as usize + 1;
    let mut mean = vec![vec![0.0f64; d]; classes];
    let mut count = vec![0.0f64; classes];
    for (i, &y) in labels.iter().enumerate() {
        count[y as usize] += 1.0;
        (0..d).for_each(|j| mean[y as usize][j] += f[i * d + j] as f64);
    }
    mean.iter_mut().zip(&count).for_each(|(m, c)| m.iter_mut().for_each(|v| *v /= c));
    let global: Vec<f64> = (0..d).map(|j| mean.iter().map(|m| m[j]).sum::<f64>() / classes as f64).collect();
    let within: f64 =
        labels.iter().enumerate().map(|(i, &y)| (0..d).map(|j| (f[i * d + j] as f64 - mean[y as usize][j]).powi(2)).sum::<f64>()).sum::<f64>()
            / labels.len() as f64;
    let between: f64 = mean.iter().map(|m| (0..d).map(|j| (m[j] - global[j]).powi(2)).sum::<f64>()).sum::<f64>() / classes as f64;
    within / between
}

#[test]
fn neural_collapse_reports_its_value_tightens_the_classes_and_resumes_bit_for_bit() {
    use crate::hook::neural_collapse::NeuralCollapseHook;
    let data = blobs(96, 4);
    let c = TrainConfig { batch: 32, ..cfg(&["neural-collapse=0.1:sep=0.1"]) };
    let mut t = crate::test_data::blob_trainer(&c);
    // the first step's value is λ₁L₁ + λ₂L₂ at the seed's means and the network's features,
    // computed independently of the hook from the batch the trainer draws
    let m0 = t.chain().find::<NeuralCollapseHook>().expect("the hook").means().to_vec();
    assert_eq!(m0.len(), 3 * 16);
    t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    let v = t.reg_values().unwrap()["neural-collapse"];
    assert!(v.is_finite() && v > 0.0, "{v}");
    assert_ne!(t.chain().find::<NeuralCollapseHook>().unwrap().means(), &m0[..], "the means moved");
    // resume: the means travel in the checkpoint and the run continues bit for bit
    assert_resumes_bit_for_bit(&c, &data, |n| n.ends_with("neural-collapse.means"));
    // the features' within-class scatter, relative to the between-class one, ends lower than
    // without the term
    let nc1 = |regs: &[&str]| {
        let mut t = crate::test_data::blob_trainer(&TrainConfig { batch: 32, ..cfg(regs) });
        for e in 1..=20 {
            t.train_epoch(&data, e, &mut |_| {}).unwrap();
        }
        within_over_between(&features_of(&t.net, &data), &data.labels, 16)
    };
    // (measured: 0.055 against 0.075; a much larger λ₁ pulls the ReLU features toward means
    // drawn from N(0, 1), which they cannot reach, and does worse)
    let (plain, collapsed) = (nc1(&[]), nc1(&["neural-collapse=1:sep=0.1"]));
    assert!(collapsed < 0.85 * plain, "NC1 {collapsed} with the term against {plain} without");
    // a linear model has no features; bad options are errors
    let linear = TrainConfig { model: "mlp".parse().unwrap(), ..c.clone() };
    let e = Trainer::new(&linear, &[8], 3, &Device::flex().autodiff(), None, 10).err().expect("an error").to_string();
    assert!(e.contains("hidden features"), "{e}");
    assert!(config_error(&["neural-collapse=1:variant=x"]).contains("variant"));
    assert!(config_error(&["neural-collapse=0"]).contains("> 0"));
}

#[test]
fn ridg_adds_its_head_gradient_reports_its_value_and_resumes_bit_for_bit() {
    use reglab_regularizers::feature::ridg::Ridg;
    // one mini-batch = the whole set, plain SGD: on the first step the two runs share weights
    // and the cross-entropy gradient, so the head weights differ by exactly −lr·λ·∂L/∂W
    let data = blobs(30, 4);
    let sgd = |regs: &[&str]| TrainConfig { batch: 30, optim: OptimSpec::Sgd { momentum: 0.0 }, lr: 0.1, ..cfg(regs) };
    let head = |t: &Trainer| t.net.to_pytorch().into_iter().find(|t| t.name == "layers.1.weight").expect("the head");
    let mut plain = crate::test_data::blob_trainer(&sgd(&["ridg=0"]));
    let mut reg = crate::test_data::blob_trainer(&sgd(&["ridg=2:momentum=0.5"]));
    let w0 = head(&reg);
    let h = features_of(&reg.net, &data);
    plain.train_epoch(&data, 1, &mut |_| {}).unwrap();
    reg.train_epoch(&data, 1, &mut |_| {}).unwrap();
    // independent: the term on the features and head before the step
    let mut want = Ridg::from_spec(&reglab_core::Spec::parse("ridg=2:momentum=0.5").unwrap()).unwrap();
    want.bind(3, 16).unwrap();
    let labels: Vec<usize> = data.labels.iter().map(|&y| y as usize).collect();
    let mut gw = vec![0.0; 48];
    let v = want.step(&h, &labels, 30, &w0.data, &mut vec![0.0; 30 * 16], &mut gw).unwrap();
    assert!(v > 0.0);
    assert!((reg.reg_values().unwrap()["ridg"] - v).abs() <= 1e-5 * v, "{} vs {v}", reg.reg_values().unwrap()["ridg"]);
    let (wp, wr) = (head(&plain), head(&reg));
    for (k, ((r, p), g)) in wr.data.iter().zip(&wp.data).zip(&gw).enumerate() {
        let got = (r - p) as f64;
        assert!((got + 0.1 * g).abs() < 1e-5, "head [{k}]: {got} vs {}", -0.1 * g);
    }
    assert!(gw.iter().any(|g| g.abs() > 1e-3), "the check can fail");
    // resume: the bank travels in the checkpoint
    assert_resumes_bit_for_bit(&TrainConfig { batch: 16, ..cfg(&["ridg=1:momentum=0.1"]) }, &data, |n| n.ends_with("ridg.bank"));
    assert!(config_error(&["ridg=1:momentum=2"]).contains("momentum"));
}

#[test]
fn ewc_computes_the_fisher_once_applies_it_and_resumes_from_the_checkpoint() {
    use crate::hook::ewc::EwcHook;
    let data = blobs(64, 5);
    let c = TrainConfig { batch: 16, ..cfg(&["ewc=2:n=20:probes=exact:normalize=none"]) };
    let mut t = crate::test_data::blob_trainer(&c);
    let theta0 = t.net.to_pytorch();
    t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    // the Fisher is the exact one of the initial network on the 20 reference inputs
    let fisher = t.chain().find::<EwcHook>().unwrap().fisher();
    let mut at0 = t.net.clone();
    at0.load_pytorch(&theta0).unwrap();
    let idx = crate::prune::fish::sample_indices(data.len(), 20, 0x00e3_c0de);
    let mut want = crate::fisher::feature_fisher(&at0, &data, &idx, reglab_regularizers::anchor::ewc::Probes::Exact, 0x00e3_c0de).unwrap();
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(fisher, want);
    // the reported value is the epoch's mean of λ/2 Σ F (θ − θ⁰)² (0 at the first step, > 0 after;
    // the value and gradient themselves are tested against direct sums in the regularizer)
    let v = t.reg_values().unwrap()["ewc"];
    assert!(v > 0.0 && v.is_finite(), "{v}");
    // resume: the Fisher travels in the checkpoint and the run continues bit for bit
    assert_resumes_bit_for_bit(&c, &data, |n| n.starts_with("ewc/fisher/"));
    // a strong EWC keeps the weights closer to θ⁰ than none
    let dist = |regs: &[&str]| {
        let mut t = crate::test_data::blob_trainer(&TrainConfig { batch: 16, ..cfg(regs) });
        let w0 = t.net.to_pytorch();
        for e in 1..=5 {
            t.train_epoch(&data, e, &mut |_| {}).unwrap();
        }
        t.net.to_pytorch().iter().zip(&w0).map(|(a, b)| a.data.iter().zip(&b.data).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>()).sum::<f64>()
    };
    let (plain, held) = (dist(&[]), dist(&["ewc=50:n=32"]));
    assert!(held < 0.5 * plain, "EWC distance {held} against plain {plain}");
    // bad specs are errors that name the option
    for (s, want) in [("ewc=1:probes=0", "probes"), ("ewc=1:select=layers.0.*", "select"), ("ewc=1:n=0", "`n`")] {
        assert!(config_error(&[s]).contains(want), "{s}: {}", config_error(&[s]));
    }
}

#[test]
fn online_ewc_consolidates_at_each_task_end_and_resumes_from_the_checkpoint() {
    use crate::hook::ewc::EwcHook;
    let (task1, task2) = (blobs(64, 5), blobs(64, 9));
    let spec = "ewc=5:n=20:fisher=labels:consolidate=task:gamma=0.5:normalize=none";
    let c = TrainConfig { batch: 16, ..cfg(&[spec]) };
    let mut t = crate::test_data::blob_trainer(&c);
    // the first task trains as without EWC, bit for bit: nothing to consolidate toward yet
    let mut plain = crate::test_data::blob_trainer(&TrainConfig { batch: 16, ..cfg(&[]) });
    t.train_epoch(&task1, 1, &mut |_| {}).unwrap();
    plain.train_epoch(&task1, 1, &mut |_| {}).unwrap();
    assert_eq!(t.net.to_pytorch(), plain.net.to_pytorch());
    // end of task 1: F = F₁ (the label Fisher of the current weights), anchor = current weights
    let idx = crate::prune::fish::sample_indices(task1.len(), 20, 0x00e3_c0de);
    let mut f1 = crate::fisher::label_fisher(&t.net, &task1, &idx).unwrap();
    f1.sort_by(|a, b| a.name.cmp(&b.name));
    let theta1 = t.net.to_pytorch();
    t.end_task(&task1).unwrap();
    assert_eq!(t.chain().find::<EwcHook>().unwrap().fisher(), f1);
    let ck = t.checkpoint().unwrap();
    for w in &theta1 {
        let a = ck.reg.iter().find(|x| x.name == format!("ewc/anchor/{}", w.name)).expect("anchor in the checkpoint");
        assert_eq!(a.data, w.data, "{}", w.name);
    }
    // task 2 is held near θ₁: EWC moves less than plain training from the same start
    let mut free = crate::test_data::blob_trainer(&TrainConfig { batch: 16, ..cfg(&[]) });
    free.restore(Checkpoint { reg: vec![], ..ck.clone() }).unwrap();
    let mut t2 = crate::test_data::blob_trainer(&c);
    t2.restore(ck.clone()).unwrap();
    for e in 2..=4 {
        t.train_epoch(&task2, e, &mut |_| {}).unwrap();
        t2.train_epoch(&task2, e, &mut |_| {}).unwrap();
        free.train_epoch(&task2, e, &mut |_| {}).unwrap();
    }
    // resumed from the checkpoint after the consolidation: bit for bit
    assert_eq!(t.net.to_pytorch(), t2.net.to_pytorch());
    let dist = |w: &[NamedTensor]| {
        w.iter().zip(&theta1).map(|(a, b)| a.data.iter().zip(&b.data).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>()).sum::<f64>()
    };
    assert!(dist(&t.net.to_pytorch()) < dist(&free.net.to_pytorch()), "EWC should stay nearer θ₁ than plain training");
    // end of task 2: F = γ·F₁ + F₂
    let mut f2 = crate::fisher::label_fisher(&t.net, &task2, &crate::prune::fish::sample_indices(task2.len(), 20, 0x00e3_c0de)).unwrap();
    f2.sort_by(|a, b| a.name.cmp(&b.name));
    t.end_task(&task2).unwrap();
    for ((got, a), b) in t.chain().find::<EwcHook>().unwrap().fisher().iter().zip(&f1).zip(&f2) {
        for ((g, x), y) in got.data.iter().zip(&a.data).zip(&b.data) {
            assert!((g - (0.5 * x + y)).abs() <= 1e-6 * (1.0 + y.abs()), "{}: {g} vs {}", got.name, 0.5 * x + y);
        }
    }
    // a checkpoint with the Fisher but without the anchor is refused
    let mut broken = t.checkpoint().unwrap();
    broken.reg.retain(|x| !x.name.starts_with("ewc/anchor/"));
    assert!(crate::test_data::blob_trainer(&c).restore(broken).unwrap_err().to_string().contains("anchor"));
    // a plain `ewc` ignores the task ends
    let mut start = crate::test_data::blob_trainer(&TrainConfig { batch: 16, ..cfg(&["ewc=5:n=20"]) });
    start.train_epoch(&task1, 1, &mut |_| {}).unwrap();
    let before = start.chain().find::<EwcHook>().unwrap().fisher();
    start.end_task(&task1).unwrap();
    assert_eq!(start.chain().find::<EwcHook>().unwrap().fisher(), before);
}

#[test]
fn half_fine_tuning_leaves_the_frozen_layers_bit_identical_and_redraws_per_epoch() {
    use crate::hook::hft::HalfFineTuning;
    let data = blobs(64, 6);
    let c = TrainConfig { model: "mlp:16,16,16".parse().unwrap(), batch: 16, ..cfg(&["hft=0.5"]) };
    let mut t = crate::test_data::blob_trainer(&c);
    let w0 = t.net.to_pytorch();
    let frozen = t.chain().find::<HalfFineTuning>().unwrap().frozen().to_vec();
    assert_eq!(frozen.iter().filter(|&&f| f).count(), 2, "2 of the 4 layers before the head: {frozen:?}");
    for e in 1..=3 {
        t.train_epoch(&data, e, &mut |_| {}).unwrap();
    }
    let w = t.net.to_pytorch();
    for (i, f) in frozen.iter().enumerate() {
        let same = |suffix: &str| {
            let n = format!("layers.{i}.{suffix}");
            w.iter().find(|x| x.name == n).unwrap() == w0.iter().find(|x| x.name == n).unwrap()
        };
        assert_eq!(same("weight") && same("bias"), *f, "layer {i}: frozen {f}");
    }
    // AdamW's decoupled decay does not touch frozen layers either
    let cw = TrainConfig { optim: OptimSpec::Adamw { weight_decay: 0.1 }, ..c.clone() };
    let mut t = crate::test_data::blob_trainer(&cw);
    let w0 = t.net.to_pytorch();
    let frozen = t.chain().find::<HalfFineTuning>().unwrap().frozen().to_vec();
    t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    let i = frozen.iter().position(|&f| f).unwrap();
    let n = format!("layers.{i}.weight");
    assert_eq!(t.net.to_pytorch().iter().find(|x| x.name == n), w0.iter().find(|x| x.name == n));
    // redraw=epoch: the frozen half changes across epochs, repeatably
    let cr = TrainConfig { model: "mlp:16,16,16,16,16,16".parse().unwrap(), ..cfg(&["hft=0.5:redraw=epoch"]) };
    let draws = |c: &TrainConfig| {
        let mut t = crate::test_data::blob_trainer(c);
        (1..=4)
            .map(|e| {
                t.train_epoch(&data, e, &mut |_| {}).unwrap();
                t.chain().find::<HalfFineTuning>().unwrap().frozen().to_vec()
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (draws(&cr), draws(&cr));
    assert_eq!(a, b);
    assert!(a.windows(2).any(|w| w[0] != w[1]), "{a:?}");
    for (s, want) in [("hft=1", "(0, 1)"), ("hft=0", "(0, 1)"), ("hft=0.5:redraw=step", "redraw")] {
        assert!(config_error(&[s]).contains(want), "{s}: {}", config_error(&[s]));
    }
}

/// Mean cross-entropy plus `λ·mean symKL(f(x + δ), f(x))` of `net` on `(x, y)`, in f64 from
/// the forward passes alone (no autodiff): SMART's objective with δ fixed.
fn smart_objective(net: &Net, x: &Tensor<2>, y: &[u8], delta: &[f32], lambda: f64) -> f64 {
    let host = |t: Tensor<2>| t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let z = host(net.forward(x.clone()));
    let d = Tensor::<2>::from_data(TensorData::new(delta.to_vec(), x.dims()), &x.device());
    let za = host(net.forward_delta(x.clone(), d));
    let c = z.len() / y.len();
    let mut ce = 0.0;
    for (i, &yi) in y.iter().enumerate() {
        let row = &z[i * c..(i + 1) * c];
        let lse = row.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
        ce += lse - row[yi as usize] as f64;
    }
    ce / y.len() as f64 + lambda * reglab_regularizers::stochastic::smart::sym_kl(&za, &z, c).0
}

#[test]
fn smart_step_is_the_gradient_of_its_objective_and_its_teacher_moves_and_resumes() {
    use crate::hook::smart::SmartHook;
    let (mut t, data, idx) = sgd1(&["smart=5:mu=0:sigma=0.3:eps=0.5:eta=0.2"]);
    let theta = crate::sharpness::params(&t.net).unwrap();
    let (x, y) = t.batch_tensors(&data, &idx);
    let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
    let before = flat(&t);
    t.step_on(x.clone(), y, Some(BatchInfo { labels: &labels, index: &idx, mix: None })).unwrap();
    let g: Vec<f32> = before.iter().zip(flat(&t)).map(|(a, b)| a - b).collect();
    let delta = t.chain().find::<SmartHook>().unwrap().last_delta.clone();
    // the ascent moved δ off its noise and kept it in the ε-ball
    assert!(delta.iter().all(|d| d.abs() <= 0.5 + 1e-6) && delta.iter().any(|d| d.abs() > 0.0));
    // central differences of CE + λ·R_s (δ fixed) at entries across every tensor (h small enough
    // not to cross a ReLU kink of these 32 examples)
    let h = 1e-4f32;
    let sizes: Vec<usize> = theta.iter().map(|(v, _)| v.len()).collect();
    let mut checked = 0;
    let mut offset = 0;
    for (k, &len) in sizes.iter().enumerate() {
        for j in (0..len).step_by(len.div_ceil(4).max(1)) {
            let mut f = |s: f32| {
                let d: Vec<Vec<f32>> =
                    sizes.iter().enumerate().map(|(kk, &l)| (0..l).map(|jj| if kk == k && jj == j { s } else { 0.0 }).collect()).collect();
                crate::sharpness::set_params(&mut t.net, &theta, Some(&d));
                smart_objective(&t.net, &x, &labels, &delta, 5.0)
            };
            let fd = (f(h) - f(-h)) / (2.0 * h as f64);
            let got = g[offset + j] as f64;
            assert!((fd - got).abs() < 2e-3 * (1.0 + fd.abs()), "tensor {k} entry {j}: finite differences {fd}, step {got}");
            checked += 1;
        }
        offset += len;
    }
    assert!(checked >= 8);
    // the teacher: θ̃₁ = (1 − β)θ₁ + βθ₀ after the first step
    let (mut t, data, idx) = sgd1(&["smart=1:beta=0.25:warm=1"]);
    let theta0 = flat(&t);
    let (x, y) = t.batch_tensors(&data, &idx);
    let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
    t.step_on(x, y, Some(BatchInfo { labels: &labels, index: &idx, mix: None })).unwrap();
    let theta1 = flat(&t);
    let mut teacher = t.net.clone();
    teacher.load_pytorch(&t.chain().find::<SmartHook>().unwrap().teacher().unwrap()).unwrap();
    let tilde: Vec<f32> = crate::sharpness::params(&teacher).unwrap().into_iter().flat_map(|(v, _)| v).collect();
    for ((a, b), c) in tilde.iter().zip(&theta1).zip(&theta0) {
        assert!((a - (0.75 * b + 0.25 * c)).abs() < 1e-6);
    }
    // two epochs against one, a checkpoint, a new trainer and one more: bit for bit
    let c = TrainConfig { batch: 16, ..cfg(&["smart=1"]) };
    let data = blobs(64, 8);
    let mut a = crate::test_data::blob_trainer(&c);
    for e in 1..=2 {
        a.train_epoch(&data, e, &mut |_| {}).unwrap();
    }
    assert!(a.reg_values().unwrap()["smart"] > 0.0 && a.reg_values().unwrap()["smart-bregman"] > 0.0);
    let mut b = crate::test_data::blob_trainer(&c);
    b.train_epoch(&data, 1, &mut |_| {}).unwrap();
    let ck = b.checkpoint().unwrap();
    assert!(ck.reg.iter().any(|t| t.name.starts_with("smart/teacher/")));
    let mut b2 = crate::test_data::blob_trainer(&c);
    b2.restore(ck).unwrap();
    b2.train_epoch(&data, 2, &mut |_| {}).unwrap();
    assert_eq!(a.net.to_pytorch(), b2.net.to_pytorch());
    for (s, want) in [("smart=1:eps=0", "eps"), ("smart=-1", "non-negative"), ("smart=1:select=x", "select")] {
        assert!(config_error(&[s]).contains(want), "{s}: {}", config_error(&[s]));
    }
}

#[test]
fn epochs_trained_in_parts_equal_whole_epochs_bit_for_bit() {
    let dev = Device::flex().autodiff();
    let c = cfg(&["l2=1e-3", "label-smoothing=0.1", "dropout=0.2"]);
    let train = blobs(240, 1);
    let steps = train.len().div_ceil(c.batch);
    let mut a = Trainer::new(&c, &[8], 3, &dev, None, 100).unwrap();
    let mut b = Trainer::new(&c, &[8], 3, &dev, None, 100).unwrap();
    for e in 1..=2 {
        a.train_epoch(&train, e, &mut |_| {}).unwrap();
        for part in 0..4 {
            b.train_steps(&train, e, part * steps / 4..(part + 1) * steps / 4, &mut |_| {}).unwrap();
        }
    }
    assert_eq!(a.net.to_pytorch(), b.net.to_pytorch());
    assert_eq!(a.steps_done(), b.steps_done());
    // an empty or out-of-epoch range is an error, not a silent no-op
    assert!(b.train_steps(&train, 3, 2..2, &mut |_| {}).is_err());
    assert!(b.train_steps(&train, 3, 0..steps + 1, &mut |_| {}).is_err());
}

/// A NaN or infinity in the batch, in a weight or in a gradient stops training before the
/// weights change, naming epoch and step and where it was: the input's row and column, the
/// layer and entry, or the layer, the entry and the regularizers whose gradient made it.
#[test]
fn non_finite_batches_weights_and_gradients_are_named() {
    let c = TrainConfig { batch: 16, ..cfg(&[]) };
    let (train, test) = (blobs(64, 1), blobs(16, 2));
    // the weights as bits (a NaN weight equals itself)
    let bits = |t: &Trainer| -> Vec<Vec<u32>> { t.net.to_pytorch().iter().map(|x| x.data.iter().map(|v| v.to_bits()).collect()).collect() };
    let msg = |mut t: Trainer, data: &Dataset| -> String {
        let before = bits(&t);
        let e = t.fit(data, &test, &mut |_| {}, &mut |_, _| Ok(())).unwrap_err();
        assert!(matches!(e, TrainError::NonFinite { epoch: 1, step: 1.., .. }), "{e}");
        assert!(bits(&t) == before, "the weights changed");
        e.to_string()
    };
    // an input: row and column of the batch (column 5 of every example, so row 0 of the first)
    let mut bad = train.clone();
    bad.features.iter_mut().skip(5).step_by(8).for_each(|v| *v = f32::INFINITY);
    let e = msg(crate::test_data::blob_trainer(&c), &bad);
    assert!(e.contains("the training loss") && e.contains("input inf at row 0, column 5"), "{e}");
    // a weight: its layer and entry
    let mut t = crate::test_data::blob_trainer(&c);
    let mut w = t.net.to_pytorch();
    let l0 = w.iter_mut().find(|x| x.name == "layers.0.weight").unwrap();
    l0.data[7] = f32::NAN;
    t.net.load_pytorch(&w).unwrap();
    let e = msg(t, &train);
    assert!(e.contains("`layers.0.weight` holds NaN"), "{e}");
    // a gradient: λ = 10⁴⁰ keeps the penalty's value finite (f64) but its gradient λW overflows
    // f32; the layer, the entry and the term are named
    let e = msg(crate::test_data::blob_trainer(&TrainConfig { batch: 16, ..cfg(&["l2=1e40"]) }), &train);
    assert!(e.contains("the gradient of `layers.0.weight`") && e.contains("after the regularizers `l2`"), "{e}");
    assert!(e.contains("epoch 1, step 1"), "{e}");
}
