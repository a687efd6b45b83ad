//! Tests of the pruning masks (the magnitude masks' own tests are in
//! `reglab_regularizers::sparsity::magnitude_mask`): spec parsing, the random masks' layer densities against RigL's code, masks held through optimizer steps, and
//! save / restore / resume through a [`crate::trainer::Trainer`].

use super::magnitude::cubic_sparsity;
use super::random::{kept_counts, layer_densities, random_masks};
use super::*;
use crate::model::ModelSpec;
use crate::optim::OptimSpec;
use crate::test_data::{blob_trainer as trainer, blobs};
use crate::trainer::{Checkpoint, TrainConfig, Trainer};
use reglab_core::Dataset;
use reglab_core::testing::random_vec;

fn zeros(v: &[f32]) -> usize {
    v.iter().filter(|&&x| x == 0.0).count()
}

#[test]
fn specs_parse_print_and_reject_bad_ones() {
    for s in [
        "magnitude:sparsity=0.9:scope=global:at=2",
        "magnitude:sparsity=0.5:scope=layer:schedule=gradual:start=1:end=4",
        "magnitude:sparsity=0:scope=global:at=1:skip_last=true",
        "random:sparsity=0.9:density=uniform",
        "random:sparsity=0.8:density=erk:skip_last=true",
        "random:sparsity=0.95:density=er",
    ] {
        let p: PruneSpec = s.parse().unwrap();
        assert_eq!(p.to_string(), s);
    }
    let p: PruneSpec = "magnitude:sparsity=0.9:at=2".parse().unwrap();
    assert_eq!(p.method, Method::Magnitude { scope: Scope::Global, schedule: Schedule::OneShot { at: 2 } });
    let p: PruneSpec = "magnitude:sparsity=0.9:schedule=gradual:end=3".parse().unwrap();
    assert_eq!(p.method, Method::Magnitude { scope: Scope::Global, schedule: Schedule::Gradual { start: 0, end: 3 } });
    assert_eq!("random:sparsity=0.5".parse::<PruneSpec>().unwrap().method, Method::Random { density: Density::Uniform });
    for (bad, why) in [
        ("lottery:sparsity=0.9", "unknown pruning method `lottery`"),
        ("magnitude:at=2", "`sparsity=S` is required"),
        ("magnitude:sparsity=1:at=2", "[0, 1)"),
        ("magnitude:sparsity=-0.1:at=2", "[0, 1)"),
        ("magnitude:sparsity=x:at=2", "`sparsity` must be a number"),
        ("magnitude:sparsity=0.9", "needs `at=E`"),
        ("magnitude:sparsity=0.9:at=0", "`at` must be ≥ 1"),
        ("magnitude:sparsity=0.9:at=-1", "`at` must be an epoch"),
        ("magnitude:sparsity=0.9:at=2:end=3", "`end` is for schedule=gradual"),
        ("magnitude:sparsity=0.9:schedule=gradual", "needs `end=E1`"),
        ("magnitude:sparsity=0.9:schedule=gradual:start=3:end=3", "must be after"),
        ("magnitude:sparsity=0.9:schedule=gradual:at=2:end=3", "`at` is for schedule=oneshot"),
        ("magnitude:sparsity=0.9:schedule=cubic:at=2", "`schedule` is `oneshot` or `gradual`"),
        ("magnitude:sparsity=0.9:at=2:scope=net", "`scope` is `global` or `layer`"),
        ("magnitude:sparsity=0.9:at=2:k=3", "unknown option `k`"),
        ("magnitude:sparsity=0.9:at=2:at=3", "given twice"),
        ("magnitude:sparsity=0.9:at", "not key=value"),
        ("random:sparsity=0.9:density=snip", "`density` is `uniform`, `er` or `erk`"),
        ("random:sparsity=0.9:skip_last=yes", "`skip_last` is `true` or `false`"),
        ("random:sparsity=0.9:at=2", "unknown option `at`"),
    ] {
        let e = bad.parse::<PruneSpec>().unwrap_err();
        assert!(e.contains(why) && e.starts_with("bad pruning spec"), "{bad}: {e}");
    }
}

/// RigL's `get_sparsities_erdos_renyi` (google-research/rigl, rigl/sparse_utils.py, commit
/// 112a9bfb), run by hand with numpy on TF kernel shapes (dense `[in, out]`, conv
/// `[kh, kw, in, out]`) equal to these PyTorch shapes, `erk_power_scale = 1`; densities are
/// `1 − sparsity` of its output.
#[test]
fn er_and_erk_densities_match_rigls_code() {
    let mlp = vec![vec![400usize, 784], vec![400, 400], vec![10, 400]];
    let cnn = vec![vec![16usize, 1, 3, 3], vec![32, 16, 3, 3], vec![10, 128]];
    type Case<'a> = (&'a Vec<Vec<usize>>, f64, Density, [f64; 3]);
    #[rustfmt::skip]
    let cases: [Case<'_>; 8] = [
        (&mlp, 0.9, Density::Er, [0.08327435813034889, 0.11028225806451608, 1.0]),
        (&mlp, 0.9, Density::Erk, [0.08327435813034889, 0.11028225806451608, 1.0]),
        (&mlp, 0.5, Density::Er, [0.4468194535878868, 0.5917338709677419, 1.0]),
        (&mlp, 0.5, Density::Erk, [0.4468194535878868, 0.5917338709677419, 1.0]),
        (&cnn, 0.9, Density::Er, [0.8876210235131398, 0.07831950207468874, 0.09006742738589213]),
        (&cnn, 0.9, Density::Erk, [0.44870801033591734, 0.03292151162790702, 0.3028779069767442]),
        (&cnn, 0.5, Density::Er, [1.0, 0.47236842105263155, 0.5432236842105264]),
        (&cnn, 0.5, Density::Erk, [1.0, 0.34548611111111116, 1.0]),
    ];
    for (shapes, s, d, want) in cases {
        let got = layer_densities(shapes, s, d);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{shapes:?} {s} {d:?}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn random_densities_follow_the_formulas_and_the_total_is_exact() {
    let shapes = vec![vec![16usize, 1, 3, 3], vec![32, 16, 3, 3], vec![64, 288], vec![10, 64]];
    let n: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let total: usize = n.iter().sum();
    for d in [Density::Uniform, Density::Er, Density::Erk] {
        for s in [0.5, 0.8, 0.9, 0.99] {
            let dens = layer_densities(&shapes, s, d);
            // the ratio d_l / p_l is one ε for the layers that are not dense
            let p: Vec<f64> = shapes
                .iter()
                .map(|sh| match d {
                    Density::Uniform => 1.0,
                    Density::Er => (sh[0] + sh[1]) as f64 / (sh[0] * sh[1]) as f64,
                    Density::Erk => sh.iter().sum::<usize>() as f64 / sh.iter().product::<usize>() as f64,
                })
                .collect();
            let eps: Vec<f64> = dens.iter().zip(&p).filter(|(d, _)| **d < 1.0).map(|(d, p)| d / p).collect();
            assert!(eps.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-12 * w[0]), "{d:?} {s}: {dens:?}");
            assert!(dens.iter().all(|&x| x > 0.0 && x <= 1.0), "{dens:?}");
            // a dense layer has a ratio at least that of every sparse one
            for (l, &x) in dens.iter().enumerate() {
                if x == 1.0 && d != Density::Uniform {
                    assert!(dens.iter().zip(&p).all(|(&y, &q)| y == 1.0 || q <= p[l]), "{d:?} {s}: {dens:?}");
                }
            }
            let k = kept_counts(&shapes, s, d);
            assert_eq!(total - k.iter().sum::<usize>(), zeros_for(s, total), "{d:?} {s}");
            for l in 0..4 {
                assert!((k[l] as f64 - dens[l] * n[l] as f64).abs() <= 2.0, "{d:?} {s} layer {l}: {} vs {}", k[l], dens[l] * n[l] as f64);
            }
            let m = random_masks(&shapes, s, d, 7);
            for l in 0..4 {
                assert_eq!(m[l].len(), n[l]);
                assert_eq!(n[l] - zeros(&m[l]), k[l]);
                assert!(m[l].iter().all(|&x| x == 0.0 || x == 1.0));
            }
            assert_eq!(m, random_masks(&shapes, s, d, 7), "same seed, same mask");
            assert_ne!(m, random_masks(&shapes, s, d, 8), "another seed, another mask");
        }
    }
    // ERK gives the small first conv (p large) more density than the big hidden layer
    let dens = layer_densities(&shapes, 0.9, Density::Erk);
    assert!(dens[0] > dens[2], "{dens:?}");
    // uniform: 1 − S everywhere
    assert_eq!(layer_densities(&shapes, 0.9, Density::Uniform), vec![1.0 - 0.9; 4]);
}

#[test]
fn random_masks_are_spread_over_the_layer() {
    // 10 000 entries at density 0.3: each half holds about half of the kept entries
    let m = random_masks(&[vec![100, 100]], 0.7, Density::Uniform, 3).remove(0);
    let kept_first = m[..5000].iter().filter(|&&x| x == 1.0).count();
    assert!((1400..1600).contains(&kept_first), "{kept_first} of 3000 in the first half");
}

// ---- bound to a model and a trainer ----

fn cfg(prune: &str, optim: OptimSpec) -> TrainConfig {
    TrainConfig {
        model: "mlp:16,16".parse::<ModelSpec>().unwrap(),
        optim,
        lr: 1e-2,
        batch: 16,
        epochs: 4,
        seed: 5,
        regs: vec![],
        reparam: None,
        prune: Some(prune.parse().unwrap()),
    }
}

/// Zeros among the layer weights of a checkpoint, per layer.
fn weight_zeros(ck: &[NamedTensor]) -> Vec<usize> {
    ck.iter().filter(|t| t.shape.len() >= 2).map(|t| zeros(&t.data)).collect()
}

#[test]
fn masks_hold_exact_zeros_through_steps_with_every_optimizer() {
    let train = blobs(240, 1);
    // 16·8 + 16·16 + 3·16 = 432 weights; 90 %: 389 zeros
    for optim in [OptimSpec::Adam, OptimSpec::Sgd { momentum: 0.9 }, OptimSpec::Adamw { weight_decay: 0.1 }] {
        for p in ["random:sparsity=0.9:density=erk", "magnitude:sparsity=0.9:at=1", "magnitude:sparsity=0.9:scope=layer:at=1"] {
            let c = cfg(p, optim.clone());
            let mut t = trainer(&c);
            let init = weight_zeros(&t.net.to_pytorch());
            if p.starts_with("random") {
                assert_eq!(init.iter().sum::<usize>(), 389, "{p}: the mask acts at initialisation");
                // the snapshot of the initial weights (init.safetensors) is the pruned one
                assert_eq!(weight_zeros(&t.reg().anchor_pytorch()), init);
            } else {
                assert_eq!(init.iter().sum::<usize>(), 0, "{p}: no mask before epoch 1 ends");
                assert!(t.checkpoint().unwrap().reg.is_empty());
            }
            t.train_epoch(&train, 1, &mut |_| {}).unwrap();
            let pruned = t.checkpoint().unwrap();
            let masks: Vec<&NamedTensor> = pruned.reg.iter().filter(|t| t.name.starts_with("prune/")).collect();
            assert_eq!(masks.len(), 3, "{p}");
            let z = weight_zeros(&pruned.model);
            assert_eq!(z.iter().sum::<usize>(), 389, "{p}: {z:?}");
            if p.contains("scope=layer") {
                // 0.9·128 = 115.2, 0.9·256 = 230.4, 0.9·48 = 43.2: floors 388, the one left to
                // the largest remainder (layer 1)
                assert_eq!(z, vec![115, 231, 43], "{p}");
            }
            for e in 2..=3 {
                t.train_epoch(&train, e, &mut |_| {}).unwrap();
            }
            let after = t.checkpoint().unwrap();
            // the zeros are those of the masks, exactly, and the kept weights still train
            for (w, m) in after.model.iter().filter(|t| t.shape.len() >= 2).zip(&masks) {
                assert_eq!(m.name, format!("prune/{}.mask", w.name.trim_end_matches(".weight")));
                for (&x, &k) in w.data.iter().zip(&m.data) {
                    assert!(k == 1.0 || x.to_bits() == 0, "{p} {optim:?}: pruned {} = {x}", w.name);
                }
            }
            assert_eq!(weight_zeros(&after.model).iter().sum::<usize>(), 389, "{p} {optim:?}");
            assert_ne!(after.model, pruned.model, "{p}: the kept weights train");
        }
    }
}

#[test]
fn a_pruned_network_still_learns() {
    // 4 + 2 epochs on the blobs: pruning half of the weights after epoch 2 costs little
    for p in ["magnitude:sparsity=0.5:at=2", "magnitude:sparsity=0.5:schedule=gradual:start=1:end=4", "random:sparsity=0.5:density=erk"] {
        let c = TrainConfig { epochs: 6, ..cfg(p, OptimSpec::Adam) };
        let mut t = trainer(&c);
        let m = t.fit(&blobs(240, 1), &blobs(90, 2), &mut |_| {}, &mut |_, _| Ok(())).unwrap();
        let last = m.last().unwrap();
        assert_eq!(last.sparsity, 216.0 / 432.0, "{p}");
        assert!(last.test_accuracy > 0.9, "{p}: {m:?}");
    }
}

#[test]
fn gradients_of_pruned_entries_are_zeroed_in_storage_layout() {
    use burn::optim::GradientsParams;
    let c = cfg("random:sparsity=0.7:density=uniform", OptimSpec::Adam);
    let t = trainer(&c);
    let masks = t.prune().unwrap();
    let x = burn::tensor::Tensor::<2>::from_data(TensorData::new(random_vec(5 * 8, 1.0, 9), [5, 8]), &burn::tensor::Device::flex().autodiff());
    let y = t.net.forward(x);
    let loss = (y.clone() * y).sum();
    let mut grads = GradientsParams::from_grads(loss.backward(), &t.net);
    masks.mask_gradients(&t.net, &mut grads).unwrap();
    let ck = masks.state();
    for (i, l) in t.net.layers().iter().enumerate() {
        let (wid, _) = t.net.param_ids(i);
        let g = grads.remove::<2>(wid).unwrap().into_data();
        let g: Vec<f32> = g.as_slice::<f32>().unwrap().to_vec();
        // burn stores [in, out]; the saved mask is [out, in]
        let g = reglab_core::linalg::transpose(&g, l.shape[1], l.shape[0]);
        let m = &ck[i].data;
        assert_eq!(ck[i].shape, l.shape);
        let (mut kept_nonzero, mut pruned) = (0, 0);
        for (&g, &k) in g.iter().zip(m) {
            if k == 0.0 {
                assert_eq!(g, 0.0, "{}", l.name);
                pruned += 1;
            } else if g != 0.0 {
                kept_nonzero += 1;
            }
        }
        assert!(pruned > 0 && kept_nonzero > 0, "{}: {pruned} pruned, {kept_nonzero} kept non-zero", l.name);
    }
    // with the mask from the start and masked gradients alone (no zeroing of the weights),
    // Adam(W) and SGD-momentum steps leave the pruned weights at exactly 0: their moments are 0
    let before = weight_zeros(&t.net.to_pytorch());
    assert_eq!(before.iter().sum::<usize>(), zeros_for(0.7, 432));
    for o in [OptimSpec::Adamw { weight_decay: 0.1 }, OptimSpec::Sgd { momentum: 0.9 }] {
        let mut opt = o.init();
        let mut net = t.net.clone();
        for k in 0..5 {
            let x = burn::tensor::Tensor::<2>::from_data(
                TensorData::new(random_vec(5 * 8, 1.0, 20 + k), [5, 8]),
                &burn::tensor::Device::flex().autodiff(),
            );
            let y = net.forward(x);
            let mut grads = GradientsParams::from_grads((y.clone() * y).sum().backward(), &net);
            masks.mask_gradients(&net, &mut grads).unwrap();
            net = opt.step(0.1, net, grads);
        }
        let after = net.to_pytorch();
        assert_eq!(weight_zeros(&after), before, "{o:?}");
        assert_ne!(after, t.net.to_pytorch(), "{o:?}: the kept weights moved");
    }
}

#[test]
fn gradual_pruning_follows_the_cubic_schedule_each_epoch() {
    let train = blobs(240, 1);
    let c = cfg("magnitude:sparsity=0.8:scope=layer:schedule=gradual:start=1:end=4", OptimSpec::Adam);
    let mut t = trainer(&c);
    let mut prev: Option<Vec<NamedTensor>> = None;
    for e in 1..=5 {
        t.train_epoch(&train, e, &mut |_| {}).unwrap();
        let ck = t.checkpoint().unwrap();
        let want = zeros_for(cubic_sparsity(0.8, 1, 4, e), 432);
        assert_eq!(weight_zeros(&ck.model).iter().sum::<usize>(), want, "epoch {e}");
        let masks: Vec<NamedTensor> = ck.reg.into_iter().filter(|t| t.name.starts_with("prune/")).collect();
        assert_eq!(masks.is_empty(), e == 1, "epoch {e}: no mask until the schedule is past 0");
        if let Some(p) = &prev {
            for (a, b) in p.iter().zip(&masks) {
                assert!(a.data.iter().zip(&b.data).all(|(&a, &b)| a == 1.0 || b == 0.0), "epoch {e}: {} grew back", a.name);
            }
        }
        if !masks.is_empty() {
            prev = Some(masks);
        }
    }
    assert_eq!(zeros_for(0.8, 432), 346);
}

#[test]
fn skip_last_leaves_the_classifier_dense_and_convs_are_masked() {
    let c = TrainConfig { model: "cnn:4,8".parse().unwrap(), ..cfg("random:sparsity=0.9:density=erk:skip_last=true", OptimSpec::Adam) };
    let dev = burn::tensor::Device::flex().autodiff();
    let mut t = Trainer::new(&c, &[1, 8, 8], 10, &dev, None, 100).unwrap();
    let ck = t.checkpoint().unwrap();
    let names: Vec<&str> = ck.reg.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["prune/convs.0.mask", "prune/convs.1.mask"]);
    // 4·1·9 + 8·4·9 = 324 conv weights; 90 %: 292 zeros; the head [10, 32] is dense
    let z = weight_zeros(&ck.model);
    assert_eq!(z[0] + z[1], 292);
    assert_eq!(z[2], 0);
    // a step on random images keeps them
    let data = Dataset {
        name: "img".into(),
        example_shape: vec![1, 8, 8],
        features: random_vec(32 * 64, 1.0, 4),
        labels: (0..32).map(|i| (i % 10) as u8).collect(),
        classes: 10,
    };
    t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    let z = weight_zeros(&t.checkpoint().unwrap().model);
    assert_eq!(z[0] + z[1], 292);
    // a model of one layer has nothing left to prune
    let one = TrainConfig { model: "mlp".parse().unwrap(), ..cfg("random:sparsity=0.5:skip_last=true", OptimSpec::Adam) };
    let e = Trainer::new(&one, &[8], 3, &dev, None, 10).err().unwrap().to_string();
    assert!(e.contains("skip_last") && e.contains("no layer"), "{e}");
}

/// Equality of two checkpoints' tensors, naming the first one that differs (the optimizer's
/// bytes are not canonical; their effect is compared by continuing training).
fn same(a: &Checkpoint, b: &Checkpoint, what: &str) {
    assert_eq!(a.reg.len(), b.reg.len(), "{what}");
    for (x, y) in a.model.iter().chain(&a.reg).zip(b.model.iter().chain(&b.reg)) {
        assert_eq!(x.name, y.name, "{what}");
        assert!(x.data == y.data, "{what}: `{}` differs", x.name);
    }
    assert_eq!(a.step, b.step, "{what}");
}

/// Train `p` 4 epochs straight, and `stop` epochs then checkpoint, restore into a new trainer
/// and continue to 4: the restored trainer equals its checkpoint and the end equals the
/// uninterrupted run. `at_stop` checks the checkpoint.
fn resume_equals_uninterrupted(p: &str, stop: usize, at_stop: impl Fn(&Checkpoint)) {
    let train = blobs(240, 1);
    let c = cfg(p, OptimSpec::Adamw { weight_decay: 0.01 });
    let mut a = trainer(&c);
    for e in 1..=4 {
        a.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    let mut b = trainer(&c);
    for e in 1..=stop {
        b.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    let ck = b.checkpoint().unwrap();
    at_stop(&ck);
    drop(b);
    let mut b2 = trainer(&c);
    b2.restore(ck.clone()).unwrap();
    same(&ck, &b2.checkpoint().unwrap(), &format!("{p}, restored"));
    for e in stop + 1..=4 {
        b2.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    same(&a.checkpoint().unwrap(), &b2.checkpoint().unwrap(), p);
}

#[test]
fn resume_continues_bit_for_bit() {
    for (p, stop) in [
        ("magnitude:sparsity=0.9:at=2", 1), // saved before the mask exists
        ("magnitude:sparsity=0.9:at=2", 2), // saved right after it was made
        ("magnitude:sparsity=0.8:scope=layer:schedule=gradual:start=0:end=3", 2),
        ("random:sparsity=0.9:density=erk", 1),
    ] {
        resume_equals_uninterrupted(p, stop, |_| {});
    }
}

#[test]
fn restoring_the_wrong_masks_is_an_error() {
    let c = cfg("random:sparsity=0.5", OptimSpec::Adam);
    let mut t = trainer(&c);
    let ck = t.checkpoint().unwrap();
    // a random-mask run needs its masks
    let mut no_masks = ck.clone();
    no_masks.reg.clear();
    let e = t.restore(no_masks).unwrap_err().to_string();
    assert!(e.contains("prune/layers.0.mask"), "{e}");
    // masks into a run without pruning
    let mut plain = trainer(&TrainConfig { prune: None, ..c.clone() });
    let e = plain.restore(ck.clone()).unwrap_err().to_string();
    assert!(e.contains("pruning masks") && e.contains("prune/layers.0.mask"), "{e}");
    // a mask of another layer, shape or value
    let mut t2 = trainer(&TrainConfig { prune: Some("random:sparsity=0.5:skip_last=true".parse().unwrap()), ..c.clone() });
    let e = t2.restore(ck.clone()).unwrap_err().to_string();
    assert!(e.contains("prune/layers.2.mask") && e.contains("does not prune"), "{e}");
    let mut bad = ck.clone();
    bad.reg[0].data[0] = 0.5;
    assert!(t.restore(bad).unwrap_err().to_string().contains("other than 0 and 1"));
    let mut bad = ck;
    bad.reg[0].shape = vec![8, 16];
    assert!(t.restore(bad).unwrap_err().to_string().contains("shape"));
}

#[test]
fn pruning_with_a_reparameterization_is_a_config_error() {
    let c = TrainConfig { reparam: Some("weight-norm".parse().unwrap()), ..cfg("magnitude:sparsity=0.5:at=1", OptimSpec::Adam) };
    let dev = burn::tensor::Device::flex().autodiff();
    let e = Trainer::new(&c, &[8], 3, &dev, None, 10).err().unwrap();
    assert!(matches!(e, crate::trainer::TrainError::Config(_)));
    assert!(e.to_string().contains("cannot be combined with a reparameterization"), "{e}");
}

#[test]
fn epoch_metrics_report_the_sparsity() {
    let c = cfg("magnitude:sparsity=0.9:at=1", OptimSpec::Adam);
    // (serde goes through the string form; the TOML of a run is tested in the CLI tests)
    assert_eq!(String::from(c.prune.clone().unwrap()), "magnitude:sparsity=0.9:scope=global:at=1");
    let mut t = trainer(&TrainConfig { epochs: 2, ..c });
    let m = t.fit(&blobs(240, 1), &blobs(90, 2), &mut |_| {}, &mut |_, _| Ok(())).unwrap();
    assert_eq!(m[0].sparsity, 389.0 / 432.0);
    assert_eq!(m[1].sparsity, 389.0 / 432.0);
    let (total, per) = weight_sparsity(&t.net);
    assert_eq!(total, 389.0 / 432.0);
    assert_eq!(per.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["layers.0.weight", "layers.1.weight", "layers.2.weight"]);
}

// ---- FISH: a freezing mask from the empirical Fisher ----

use super::fish::{empirical_fisher, kept_for, sample_indices, top_k_masks};

/// `prune/<layer>.mask` or `prune/<layer>.bias.mask` of a model tensor `<layer>.weight|bias`.
fn mask_name(param: &str) -> String {
    match (param.strip_suffix(".weight"), param.strip_suffix(".bias")) {
        (Some(l), _) => format!("prune/{l}.mask"),
        (_, Some(l)) => format!("prune/{l}.bias.mask"),
        _ => panic!("{param}"),
    }
}

/// Per model tensor, its mask in the checkpoint (all ones when the tensor is not masked).
fn masks_of(ck: &Checkpoint) -> Vec<Vec<f32>> {
    ck.model
        .iter()
        .map(|t| ck.reg.iter().find(|m| m.name == mask_name(&t.name)).map(|m| m.data.clone()).unwrap_or_else(|| vec![1.0; t.data.len()]))
        .collect()
}

fn ones(v: &[f32]) -> usize {
    v.iter().filter(|&&x| x == 1.0).count()
}

#[test]
fn fish_specs_parse_print_and_reject_bad_ones() {
    for s in [
        "fish:keep=0.005:samples=1024:at=0:biases=true",
        "fish:keep=0.1:samples=256:at=3:biases=false:skip_last=true",
        "fish:keep=1:samples=1:at=0:biases=true",
    ] {
        let p: PruneSpec = s.parse().unwrap();
        assert_eq!(p.to_string(), s);
    }
    let p: PruneSpec = "fish:keep=0.005".parse().unwrap();
    assert_eq!(p.method, Method::Fish { keep: 0.005, samples: 1024, at: 0, biases: true, zero: false });
    assert_eq!(p.to_string(), "fish:keep=0.005:samples=1024:at=0:biases=true");
    assert!(!p.skip_last);
    assert!((p.sparsity - 0.995).abs() < 1e-15, "the frozen fraction");
    let p: PruneSpec = "fish:keep=0.1:samples=256:at=2:biases=false".parse().unwrap();
    assert_eq!(p.method, Method::Fish { keep: 0.1, samples: 256, at: 2, biases: false, zero: false });
    for (bad, why) in [
        ("fish", "`keep=K` is required"),
        ("fish:samples=10", "`keep=K` is required"),
        ("fish:sparsity=0.9", "not `sparsity`"),
        ("fish:keep=0", "(0, 1]"),
        ("fish:keep=1.5", "(0, 1]"),
        ("fish:keep=-0.1", "(0, 1]"),
        ("fish:keep=NaN", "(0, 1]"),
        ("fish:keep=x", "`keep` must be a number"),
        ("fish:keep=0.1:samples=0", "`samples` must be an integer ≥ 1"),
        ("fish:keep=0.1:samples=1.5", "`samples` must be an integer ≥ 1"),
        ("fish:keep=0.1:at=-1", "`at` must be an epoch"),
        ("fish:keep=0.1:biases=yes", "`biases` is `true` or `false`"),
        ("fish:keep=0.1:skip_last=1", "`skip_last` is `true` or `false`"),
        ("fish:keep=0.1:scope=layer", "unknown option `scope`"),
        ("fish:keep=0.1:keep=0.2", "given twice"),
        ("random:sparsity=0.5:biases=true", "unknown option `biases`"),
        ("magnitude:sparsity=0.5:at=1:keep=0.1", "unknown option `keep`"),
        ("snip:sparsity=0.5", "fish:keep=K"),
    ] {
        let e = bad.parse::<PruneSpec>().unwrap_err();
        assert!(e.contains(why) && e.starts_with("bad pruning spec"), "{bad}: {e}");
    }
    assert_eq!(kept_for(0.005, 478_410), 2392);
    assert_eq!(kept_for(0.1, 467), 47);
    assert_eq!(kept_for(0.5, 3), 2, "round half away from zero");
    assert_eq!(kept_for(1.0, 10), 10);
}

/// The official FISH code run by hand: varunnair18/FISH, cifar10-fast/fisher.py (commit
/// 6e6c2f87), `calculate_the_importance_label(model, loader, num_samples, "cpu", "square")` and
/// the ranking of `FisherMask.calculate_mask` (`torch.topk` of the concatenated parameters,
/// `keep_num = int(n·keep_ratio)`; no parameter named `fc`, so no classifier special case), with
/// torch 2 on CPU, on a PyTorch MLP 3 → 4 → ReLU → 3 (`layers.0`, `layers.1`: nn.Linear) with
/// the literal weights below, a batch-1 loader over the six examples below in order, and
/// `nn.CrossEntropyLoss`. The official function returns the *sum* of the squared per-sample
/// gradients (f32), printed with `repr(float(x))`; `N·F̂` is compared.
#[test]
fn fisher_and_mask_match_the_official_fish_code() {
    let dev = burn::tensor::Device::flex().autodiff();
    let w1 = [0.5f32, -0.25, 0.75, -0.5, 1.0, 0.25, 0.125, 0.5, -0.75, 1.0, -1.0, 0.5];
    let b1 = [0.1f32, -0.2, 0.05, 0.0];
    let w2 = [0.3f32, -0.6, 0.9, 0.2, -0.4, 0.5, -0.1, 0.7, 0.8, 0.1, -0.5, -0.3];
    let b2 = [0.05f32, -0.05, 0.1];
    let x = [1.0f32, 0.5, -0.5, -1.0, 0.25, 0.75, 0.3, -0.7, 0.2, 0.9, 0.9, 0.1, -0.4, -0.6, 1.2, 0.6, -0.2, -0.8];
    let y = [0u8, 2, 1, 0, 2, 1];
    let mut net = crate::model::Net::new(&"mlp:4".parse().unwrap(), &[3], 3, 0, &dev).unwrap();
    net.load_pytorch(&[
        NamedTensor::new("layers.0.weight", vec![4, 3], w1.to_vec()),
        NamedTensor::new("layers.0.bias", vec![4], b1.to_vec()),
        NamedTensor::new("layers.1.weight", vec![3, 4], w2.to_vec()),
        NamedTensor::new("layers.1.bias", vec![3], b2.to_vec()),
    ])
    .unwrap();
    let data = Dataset { name: "tiny".into(), example_shape: vec![3], features: x.to_vec(), labels: y.to_vec(), classes: 3 };
    #[rustfmt::skip]
    let official6: [&[f64]; 4] = [
        &[0.4151051342487335, 0.2706415057182312, 0.5278313159942627, 0.1940651386976242, 0.1939178854227066, 0.002482279669493437,
          0.7007005214691162, 0.45098310708999634, 0.19078895449638367, 0.11925531923770905, 0.1760302186012268, 0.3896411657333374],
        &[0.9128456115722656, 0.23954975605010986, 0.9133983850479126, 0.584312915802002],
        &[0.20574191212654114, 0.047764040529727936, 0.31025388836860657, 0.282565176486969, 0.19862277805805206, 0.0914008617401123,
          0.24549397826194763, 0.6049737930297852, 0.37047967314720154, 0.21001853048801422, 0.06313464045524597, 0.3344358801841736],
        &[1.050774097442627, 1.226137638092041, 0.9777922034263611],
    ];
    // num_samples = 4: the first four examples
    #[rustfmt::skip]
    let official4: [&[f64]; 4] = [
        &[0.3795382082462311, 0.1906159371137619, 0.2077290266752243, 0.1940651386976242, 0.1939178854227066, 0.002482279669493437,
          0.63127601146698, 0.443269282579422, 0.06736768037080765, 0.02091110683977604, 0.10405073314905167, 0.008656229823827744],
        &[0.6905524134635925, 0.23954975605010986, 0.7205526828765869, 0.21202363073825836],
        &[0.09284302592277527, 0.047764040529727936, 0.20756244659423828, 0.16044151782989502, 0.14421579241752625, 0.0914008617401123,
          0.0558919683098793, 0.4887305796146393, 0.04642568901181221, 0.21001853048801422, 0.04991467297077179, 0.09922094643115997],
        &[0.6627882719039917, 0.6804718375205994, 0.5848866105079651],
    ];
    for (samples, official) in [(&[0usize, 1, 2, 3, 4, 5][..], official6), (&[0, 1, 2, 3][..], official4)] {
        let f = empirical_fisher(&net, &data, samples, &[0, 1], true).unwrap();
        let got: [&[f64]; 4] = [&f[0].weight, f[0].bias.as_deref().unwrap(), &f[1].weight, f[1].bias.as_deref().unwrap()];
        for (t, (g, w)) in got.iter().zip(official).enumerate() {
            assert_eq!(g.len(), w.len());
            for (j, (&g, &w)) in g.iter().zip(w).enumerate() {
                let g = g * samples.len() as f64;
                assert!((g - w).abs() <= 2e-6 * w.abs().max(1e-3), "N={} tensor {t} entry {j}: {g} vs official {w}", samples.len());
            }
        }
    }
    // the official mask at keep_ratio 0.3: int(31·0.3) = round(31·0.3) = 9 entries, through the
    // whole path (samples=6: every example, in the seeded order; the sums do not depend on it)
    let spec: PruneSpec = "fish:keep=0.3:samples=6".parse().unwrap();
    let mut m = Masks::new(&spec, &mut net, 11).unwrap();
    m.make_fish(&mut net, &data).unwrap();
    let st = m.state();
    let names: Vec<&str> = st.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["prune/layers.0.mask", "prune/layers.0.bias.mask", "prune/layers.1.mask", "prune/layers.1.bias.mask", "prune/fish.samples"]);
    #[rustfmt::skip]
    let official_mask: [&[f32]; 4] = [
        &[0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 0., 0.],
        &[1., 0., 1., 1.],
        &[0., 0., 0., 0., 0., 0., 0., 1., 0., 0., 0., 0.],
        &[1., 1., 1.],
    ];
    for (t, want) in st.iter().zip(official_mask) {
        assert_eq!(t.data, want, "{}", t.name);
    }
    let mut s = st[4].data.clone();
    s.sort_by(f32::total_cmp);
    assert_eq!(s, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

/// Per-sample gradients of `−log softmax(z)_y` through an MLP with ReLU, derived by hand in f64
/// from the PyTorch-layout parameters, squared and averaged: an independent `F̂`.
fn hand_fisher(params: &[NamedTensor], data: &Dataset, samples: &[usize]) -> Vec<(Vec<f64>, Vec<f64>)> {
    let layers: Vec<(&NamedTensor, &NamedTensor)> = params.chunks(2).map(|c| (&c[0], &c[1])).collect();
    let mut acc: Vec<(Vec<f64>, Vec<f64>)> = layers.iter().map(|(w, b)| (vec![0.0; w.data.len()], vec![0.0; b.data.len()])).collect();
    for &s in samples {
        // forward, keeping every layer's input and pre-activation
        let mut inputs: Vec<Vec<f64>> = Vec::new();
        let mut pre: Vec<Vec<f64>> = Vec::new();
        let mut h: Vec<f64> = data.example(s).iter().map(|&v| v as f64).collect();
        for (l, (w, b)) in layers.iter().enumerate() {
            let (o, i) = (w.shape[0], w.shape[1]);
            let z: Vec<f64> = (0..o).map(|r| b.data[r] as f64 + (0..i).map(|c| w.data[r * i + c] as f64 * h[c]).sum::<f64>()).collect();
            inputs.push(h);
            h = if l + 1 < layers.len() { z.iter().map(|&v| v.max(0.0)).collect() } else { z.clone() };
            pre.push(z);
        }
        // δ of the last layer: softmax − one-hot (the sign does not matter once squared)
        let z = pre.last().unwrap();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let sum: f64 = e.iter().sum();
        let mut delta: Vec<f64> = e.iter().map(|v| v / sum).collect();
        delta[data.labels[s] as usize] -= 1.0;
        for l in (0..layers.len()).rev() {
            let (w, _) = layers[l];
            let (o, i) = (w.shape[0], w.shape[1]);
            for (r, &d) in delta.iter().enumerate() {
                acc[l].1[r] += d * d;
                for (c, &a) in inputs[l].iter().enumerate() {
                    acc[l].0[r * i + c] += (d * a) * (d * a);
                }
            }
            if l > 0 {
                delta = (0..i).map(|c| if pre[l - 1][c] > 0.0 { (0..o).map(|r| w.data[r * i + c] as f64 * delta[r]).sum() } else { 0.0 }).collect();
            }
        }
    }
    let n = samples.len() as f64;
    acc.into_iter().map(|(w, b)| (w.into_iter().map(|v| v / n).collect(), b.into_iter().map(|v| v / n).collect())).collect()
}

#[test]
fn fisher_matches_hand_derived_per_sample_gradients() {
    let c = cfg("fish:keep=0.1:samples=40", OptimSpec::Adam);
    let mut t = trainer(&c);
    let data = blobs(120, 3);
    // a trained network too (not only the initialisation)
    for stage in 0..2 {
        if stage == 1 {
            t.train_epoch(&blobs(240, 1), 1, &mut |_| {}).unwrap();
        }
        let samples: Vec<usize> = (0..40).map(|i| (i * 7) % 120).collect();
        let got = empirical_fisher(&t.net, &data, &samples, &[0, 1, 2], true).unwrap();
        let want = hand_fisher(&t.net.to_pytorch(), &data, &samples);
        let mut nonzero = 0;
        for (l, (g, (ww, wb))) in got.iter().zip(&want).enumerate() {
            for (a, b) in g.weight.iter().zip(ww).chain(g.bias.as_ref().unwrap().iter().zip(wb)) {
                assert!((a - b).abs() <= 1e-5 * b.abs() + 1e-12, "stage {stage} layer {l}: {a} vs {b}");
                nonzero += (*b > 0.0) as usize;
            }
        }
        assert!(nonzero > 200, "stage {stage}: {nonzero} of 467 entries with a non-zero Fisher (the rest: dead ReLUs)");
        // biases=false and a subset of layers: the same numbers, no bias
        let sub = empirical_fisher(&t.net, &data, &samples, &[1], false).unwrap();
        assert_eq!(sub[0].weight, got[1].weight);
        assert!(sub[0].bias.is_none());
    }
    // bad input is an error, not a panic
    assert!(empirical_fisher(&t.net, &data, &[], &[0], true).unwrap_err().contains("at least one"));
    assert!(empirical_fisher(&t.net, &data, &[120], &[0], true).unwrap_err().contains("outside"));
    assert!(empirical_fisher(&t.net, &data, &[0], &[3], true).unwrap_err().contains("does not exist"));
}

#[test]
fn fish_keeps_exactly_round_k_n_entries_with_deterministic_ties() {
    // ties: larger first, then the earlier tensor, then the earlier entry
    let a = [1.0, 2.0, 2.0, 0.0];
    let b = [2.0, 0.0, 3.0];
    assert_eq!(top_k_masks(&[&a, &b], 3), vec![vec![0.0, 1.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]]);
    assert_eq!(top_k_masks(&[&a, &b], 4), vec![vec![0.0, 1.0, 1.0, 0.0], vec![1.0, 0.0, 1.0]]);
    assert_eq!(top_k_masks(&[&[0.0; 3], &[0.0; 2]], 4), vec![vec![1.0; 3], vec![1.0, 0.0]]);
    assert_eq!(top_k_masks(&[&a], 0), vec![vec![0.0; 4]]);
    assert_eq!(top_k_masks(&[&a], 9), vec![vec![1.0; 4]]);
    // bound to the 8-16-16-3 MLP: 432 weights + 35 biases
    let train = blobs(240, 1);
    for (spec, kept, masked) in [
        ("fish:keep=0.1:samples=64", 47, 467),                // round(46.7)
        ("fish:keep=0.1:samples=64:biases=false", 43, 432),   // round(43.2)
        ("fish:keep=0.1:samples=64:skip_last=true", 42, 416), // round(41.6), the head trains
        ("fish:keep=0.5:samples=1000", 234, 467),             // round(233.5): half away from zero
    ] {
        let c = cfg(spec, OptimSpec::Adam);
        let mut t = trainer(&c);
        assert!(t.checkpoint().unwrap().reg.is_empty(), "{spec}: no mask before the first epoch");
        t.train_epoch(&train, 1, &mut |_| {}).unwrap();
        let ck = t.checkpoint().unwrap();
        let masks: Vec<&NamedTensor> = ck.reg.iter().filter(|m| m.name.ends_with(".mask")).collect();
        assert_eq!(masks.iter().map(|m| m.data.len()).sum::<usize>(), masked, "{spec}");
        assert_eq!(masks.iter().map(|m| ones(&m.data)).sum::<usize>(), kept, "{spec}");
        assert!(masks.iter().all(|m| m.data.iter().all(|&x| x == 0.0 || x == 1.0)));
        if spec.contains("biases=false") {
            assert!(masks.iter().all(|m| !m.name.contains(".bias.")), "{spec}");
        }
        if spec.contains("skip_last") {
            assert!(masks.iter().all(|m| !m.name.contains("layers.2")), "{spec}");
        }
        // the samples: the first min(N, 240) of the seeded shuffle, recorded
        let s = ck.reg.iter().find(|m| m.name == "prune/fish.samples").unwrap();
        let want = sample_indices(240, if spec.contains("1000") { 1000 } else { 64 }, 5);
        assert_eq!(s.data, want.iter().map(|&i| i as f32).collect::<Vec<_>>(), "{spec}");
        // every kept entry has a Fisher ≥ every frozen one (recomputed on the init weights, which
        // the frozen entries still hold and the kept ones held before the epoch)
        let init = trainer(&c);
        let m = t.prune().unwrap();
        let sel = m.selected();
        let f = empirical_fisher(&init.net, &train, m.fish_samples().unwrap(), &sel, !spec.contains("biases=false")).unwrap();
        let (mut min_kept, mut max_frozen) = (f64::INFINITY, 0.0f64);
        for (lf, mk) in f.iter().flat_map(|l| std::iter::once(&l.weight).chain(l.bias.as_ref())).zip(&masks) {
            for (&v, &k) in lf.iter().zip(&mk.data) {
                if k == 1.0 {
                    min_kept = min_kept.min(v);
                } else {
                    max_frozen = max_frozen.max(v);
                }
            }
        }
        assert!(min_kept >= max_frozen && max_frozen > 0.0, "{spec}: kept ≥ {min_kept}, frozen ≤ {max_frozen}");
    }
    // too small to keep anything: a configuration error before training
    let c = cfg("fish:keep=0.001", OptimSpec::Adam);
    let dev = burn::tensor::Device::flex().autodiff();
    let e = Trainer::new(&c, &[8], 3, &dev, None, 10).err().unwrap();
    assert!(matches!(e, crate::trainer::TrainError::Config(_)), "{e}");
    assert!(e.to_string().contains("train no entry"), "{e}");
}

#[test]
fn fish_freezes_the_other_entries_at_their_exact_values_with_every_optimizer() {
    let train = blobs(240, 1);
    for optim in [OptimSpec::Adam, OptimSpec::Sgd { momentum: 0.9 }, OptimSpec::Adamw { weight_decay: 0.1 }] {
        for at in [0usize, 1] {
            let spec = format!("fish:keep=0.1:samples=64:at={at}");
            let c = cfg(&spec, optim.clone());
            let mut t = trainer(&c);
            let init = t.checkpoint().unwrap();
            for e in 1..=at {
                t.train_epoch(&train, e, &mut |_| {}).unwrap();
            }
            // at=0: the mask is made before epoch 1's first step, from the initial weights
            let snap = if at == 0 { init.clone() } else { t.checkpoint().unwrap() };
            for e in at + 1..=at + 3 {
                t.train_epoch(&train, e, &mut |_| {}).unwrap();
            }
            let after = t.checkpoint().unwrap();
            let masks = masks_of(&after);
            let (mut moved, mut kept) = (0, 0);
            for ((a, s), m) in after.model.iter().zip(&snap.model).zip(&masks) {
                for ((&x, &x0), &k) in a.data.iter().zip(&s.data).zip(m) {
                    if k == 0.0 {
                        assert_eq!(x.to_bits(), x0.to_bits(), "{spec} {optim:?}: frozen {} moved", a.name);
                    } else {
                        kept += 1;
                        moved += (x != x0) as usize;
                    }
                }
            }
            assert_eq!(kept, 47, "{spec}");
            assert!(moved >= 43, "{spec} {optim:?}: {moved} of the 47 kept entries trained");
            // nothing is zeroed
            assert_eq!(weight_zeros(&after.model).iter().sum::<usize>(), 0, "{spec}");
        }
    }
}

/// Masked gradients alone do not freeze under AdamW (its decoupled decay shrinks every entry);
/// `Masks::apply` writes the frozen values back.
#[test]
fn adamw_decay_moves_frozen_entries_unless_they_are_written_back() {
    let train = blobs(240, 1);
    let c = cfg("fish:keep=0.1:samples=64", OptimSpec::Adam);
    let mut t = trainer(&c);
    let (h, net) = t.hook_and_net_mut::<crate::hook::prune::PruneHook>().unwrap();
    h.masks.make_fish(net, &train).unwrap();
    let masks = t.prune().unwrap();
    let before = t.net.to_pytorch();
    let mut opt = OptimSpec::Adamw { weight_decay: 0.1 }.init();
    let mut net = t.net.clone();
    for k in 0..5 {
        let idx: Vec<usize> = (k * 16..k * 16 + 16).collect();
        let (x, y) = t.batch_tensors(&train, &idx);
        let loss = burn::nn::loss::CrossEntropyLossConfig::new().init(&x.device()).forward(net.forward(x), y);
        let mut grads = burn::optim::GradientsParams::from_grads(loss.backward(), &net);
        masks.mask_gradients(&net, &mut grads).unwrap();
        net = opt.step(0.01, net, grads);
    }
    let ck = Checkpoint { model: net.to_pytorch(), optim: vec![], reg: masks.state(), step: 0 };
    let m = masks_of(&ck);
    // (entries that moved, frozen and kept) against `reference`
    let moved = |model: &[NamedTensor], reference: &[NamedTensor]| -> (usize, usize) {
        let mut n = (0, 0);
        for ((a, b), m) in model.iter().zip(reference).zip(&m) {
            for ((x, y), &k) in a.data.iter().zip(&b.data).zip(m) {
                if x.to_bits() != y.to_bits() {
                    if k == 0.0 { n.0 += 1 } else { n.1 += 1 }
                }
            }
        }
        n
    };
    let (frozen, kept) = moved(&ck.model, &before);
    assert!(frozen > 400 && kept >= 40, "AdamW's decay moves the frozen entries: {frozen} frozen, {kept} kept moved");
    masks.apply(&mut net).unwrap();
    let restored = net.to_pytorch();
    // the frozen entries are back, bit for bit; the kept ones are what the optimizer made of them
    assert_eq!(moved(&restored, &before).0, 0);
    assert_eq!(moved(&restored, &ck.model).1, 0);
}

#[test]
fn fish_resume_continues_bit_for_bit() {
    for (p, stop) in [
        ("fish:keep=0.1:samples=64", 1),
        ("fish:keep=0.1:samples=64:at=2", 1), // saved before the mask exists
        ("fish:keep=0.1:samples=64:at=2", 2), // saved right after it was made
        ("fish:keep=0.2:samples=50:biases=false:skip_last=true:at=1", 2),
    ] {
        resume_equals_uninterrupted(p, stop, |ck| assert_eq!(ck.reg.is_empty(), p.contains("at=2") && stop == 1, "{p}"));
    }
}

#[test]
fn restoring_wrong_fish_state_is_an_error() {
    let train = blobs(240, 1);
    let c = cfg("fish:keep=0.1:samples=64", OptimSpec::Adam);
    let mut t = trainer(&c);
    t.train_epoch(&train, 1, &mut |_| {}).unwrap();
    let ck = t.checkpoint().unwrap();
    // a fish mask is all there or not at all
    let mut partial = ck.clone();
    partial.reg.retain(|m| m.name != "prune/layers.1.bias.mask");
    let e = t.restore(partial).unwrap_err().to_string();
    assert!(e.contains("prune/layers.1.bias.mask"), "{e}");
    // bias masks and samples belong to fish
    let mut r = trainer(&TrainConfig { prune: Some("random:sparsity=0.5".parse().unwrap()), ..c.clone() });
    let e = r.restore(ck.clone()).unwrap_err().to_string();
    assert!(e.contains("bias.mask") && e.contains("does not mask that bias"), "{e}");
    let mut nb = trainer(&TrainConfig { prune: Some("fish:keep=0.1:biases=false".parse().unwrap()), ..c.clone() });
    assert!(nb.restore(ck.clone()).unwrap_err().to_string().contains("does not mask that bias"));
    let mut mag = trainer(&TrainConfig { prune: Some("magnitude:sparsity=0.5:at=1".parse().unwrap()), ..c.clone() });
    let only: Vec<NamedTensor> = ck.reg.iter().filter(|m| m.name == "prune/fish.samples").cloned().collect();
    let e = mag.restore(Checkpoint { reg: only, ..ck.clone() }).unwrap_err().to_string();
    assert!(e.contains("prune/fish.samples") && e.contains("not a fish mask"), "{e}");
    let mut bad = ck.clone();
    bad.reg.iter_mut().find(|m| m.name == "prune/fish.samples").unwrap().data[0] = 1.5;
    assert!(t.restore(bad).unwrap_err().to_string().contains("example indices"));
    let mut bad = ck;
    bad.reg.iter_mut().find(|m| m.name == "prune/layers.0.bias.mask").unwrap().shape = vec![15];
    assert!(t.restore(bad).unwrap_err().to_string().contains("shape"));
}

#[test]
fn fish_samples_are_the_first_n_of_a_seeded_shuffle() {
    let s = sample_indices(240, 64, 5);
    assert_eq!(s.len(), 64);
    let mut u = s.clone();
    u.sort();
    u.dedup();
    assert_eq!(u.len(), 64);
    assert!(s.iter().all(|&i| i < 240));
    assert_eq!(s, sample_indices(240, 64, 5), "same seed, same samples");
    assert_ne!(s, sample_indices(240, 64, 6), "another seed, other samples");
    assert_eq!(&sample_indices(240, 100, 5)[..64], &s[..], "N is a prefix of the same order");
    let mut all = sample_indices(10, 64, 5);
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>(), "N > len: the whole set");
    assert!(s.windows(2).any(|w| w[1] < w[0]), "shuffled, not in order");
}

#[test]
fn fish_masks_convolutions_and_skip_last_trains_the_head() {
    let c =
        TrainConfig { model: "cnn:4,8".parse().unwrap(), ..cfg("fish:keep=0.05:samples=16:skip_last=true", OptimSpec::Adamw { weight_decay: 0.1 }) };
    let dev = burn::tensor::Device::flex().autodiff();
    let mut t = Trainer::new(&c, &[1, 8, 8], 10, &dev, None, 100).unwrap();
    let data = Dataset {
        name: "img".into(),
        example_shape: vec![1, 8, 8],
        features: random_vec(48 * 64, 1.0, 4),
        labels: (0..48).map(|i| (i % 10) as u8).collect(),
        classes: 10,
    };
    let init = t.checkpoint().unwrap();
    t.train_epoch(&data, 1, &mut |_| {}).unwrap();
    let ck = t.checkpoint().unwrap();
    let names: Vec<&str> = ck.reg.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["prune/convs.0.mask", "prune/convs.0.bias.mask", "prune/convs.1.mask", "prune/convs.1.bias.mask", "prune/fish.samples"]);
    // 4·1·9 + 4 + 8·4·9 + 8 = 336 masked entries, round(0.05·336) = round(16.8) = 17 train
    let kept: usize = ck.reg[..4].iter().map(|m| ones(&m.data)).sum();
    assert_eq!(kept, 17);
    let masks = masks_of(&ck);
    for ((a, b), m) in ck.model.iter().zip(&init.model).zip(&masks) {
        let frozen_same = a.data.iter().zip(&b.data).zip(m).all(|((x, y), &k)| k == 1.0 || x.to_bits() == y.to_bits());
        assert!(frozen_same, "{}", a.name);
        if a.name.starts_with("head") {
            assert!(a.data.iter().zip(&b.data).all(|(x, y)| x != y), "the head trains in full: {}", a.name);
        }
    }
}

#[test]
fn fish_zero_mode_prunes_exactly_the_entries_outside_the_fisher_mask() {
    let spec: PruneSpec = "fish:keep=0.25:samples=64:zero=true".parse().unwrap();
    assert_eq!(spec.to_string(), "fish:keep=0.25:samples=64:at=0:zero=true");
    assert!("fish:keep=0.25:zero=true:biases=true".parse::<PruneSpec>().unwrap_err().contains("weights only"));
    let mut c = cfg("fish:keep=0.25:samples=64:zero=true", OptimSpec::Adam);
    c.epochs = 2;
    let train = blobs(120, 1);
    let mut t = trainer(&c);
    for e in 1..=2 {
        t.train_epoch(&train, e, &mut |_| {}).unwrap();
    }
    let model = t.net.to_pytorch();
    let weights: Vec<&NamedTensor> = model.iter().filter(|w| w.shape.len() == 2).collect();
    let n: usize = weights.iter().map(|w| w.data.len()).sum();
    let zeros: usize = weights.iter().map(|w| w.data.iter().filter(|&&x| x == 0.0).count()).sum();
    assert_eq!(zeros, n - (0.25 * n as f64).round() as usize);
    // the biases are not pruned
    assert!(model.iter().filter(|w| w.shape.len() == 1).all(|b| b.data.iter().any(|&x| x != 0.0)));
}

/// The optimizer's per-entry state tensors of `id` with `n` entries, from its serialized form.
fn state_tensors(optim: &[u8], id: u64, n: usize) -> Vec<(String, Vec<f32>)> {
    let reader = burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(optim.to_vec())).unwrap();
    let mut out = Vec::new();
    for t in reader.into_tensors().unwrap() {
        let (name, dtype, shape, pid, bytes) = t.into_parts().unwrap();
        if pid == Some(id) && shape.iter().product::<usize>() == n {
            out.push((name, TensorData::from_bytes(bytes, shape, dtype).try_into_vec::<f32>().unwrap()));
        }
    }
    out
}

#[test]
fn the_optimizer_state_of_pruned_entries_is_exactly_zero() {
    let train = blobs(240, 1);
    for (optim, fields) in [(OptimSpec::Adam, 2), (OptimSpec::Adamw { weight_decay: 0.1 }, 2), (OptimSpec::Sgd { momentum: 0.9 }, 1)] {
        for p in ["magnitude:sparsity=0.8:at=1", "magnitude:sparsity=0.8:schedule=gradual:start=0:end=2", "fish:keep=0.3:at=1:zero=true"] {
            let mut t = trainer(&cfg(p, optim.clone()));
            for e in 1..=3 {
                t.train_epoch(&train, e, &mut |_| {}).unwrap();
                let ck = t.checkpoint().unwrap();
                let masks = t.prune().unwrap().param_masks(&t.net);
                assert!(masks.len() >= 3, "{p}: {} masks", masks.len());
                for m in &masks {
                    let state = state_tensors(&ck.optim, m.id, m.mask.len());
                    assert_eq!(state.len(), fields, "{p} {optim:?}: state tensors of a masked parameter");
                    for (name, v) in &state {
                        let pruned_nonzero = v.iter().zip(m.mask).filter(|(x, k)| **k == 0.0 && x.to_bits() != 0).count();
                        assert_eq!(pruned_nonzero, 0, "{p} {optim:?} epoch {e}: `{name}` of pruned entries");
                        let kept_nonzero = v.iter().zip(m.mask).filter(|(x, k)| **k == 1.0 && **x != 0.0).count();
                        assert!(kept_nonzero > 0, "{p} {optim:?} epoch {e}: `{name}` of the kept entries is all 0");
                    }
                }
            }
        }
    }
}

#[test]
fn masking_the_optimizer_state_leaves_unmasked_parameters_and_the_step_count_alone() {
    // Adam state after a dense epoch, then masked with a mask over one weight only: the other
    // parameters' state and the scalar state come back bit for bit, the masked one's kept
    // entries too, its pruned entries are +0.
    let train = blobs(240, 1);
    let c = TrainConfig { prune: None, ..cfg("magnitude:sparsity=0.5:at=1", OptimSpec::Adam) };
    let mut t = trainer(&c);
    t.train_epoch(&train, 1, &mut |_| {}).unwrap();
    let before = t.checkpoint().unwrap();
    let (wid, bid) = t.net.param_ids(0);
    let n = before.model[0].data.len();
    let mask: Vec<f32> = (0..n).map(|i| (i % 3 != 0) as u8 as f32).collect();
    let optim = c.optim.init().from_bytes(burn::tensor::Bytes::from_bytes_vec(before.optim.clone())).unwrap();
    let masked = optim_state::mask_optimizer_state(optim, &[optim_state::ParamMask { id: wid.val(), mask: &mask }]).unwrap();
    let after = Checkpoint { optim: masked.into_bytes().unwrap().to_vec(), ..before.clone() };
    let r = |b: &[u8]| burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(b.to_vec())).unwrap();
    assert_eq!(r(&before.optim).scalars(), r(&after.optim).scalars(), "scalar state (step counts)");
    let bid = bid.unwrap().val();
    let nb = before.model[1].data.len();
    assert_eq!(state_tensors(&before.optim, bid, nb), state_tensors(&after.optim, bid, nb), "another parameter's state");
    let (sb, sa) = (state_tensors(&before.optim, wid.val(), n), state_tensors(&after.optim, wid.val(), n));
    assert_eq!(sb.len(), 2);
    for ((name, b), (_, a)) in sb.iter().zip(&sa) {
        for (i, (x, y)) in b.iter().zip(a).enumerate() {
            let want = if mask[i] == 1.0 { *x } else { 0.0 };
            assert_eq!(y.to_bits(), want.to_bits(), "`{name}`[{i}]");
        }
    }
}
