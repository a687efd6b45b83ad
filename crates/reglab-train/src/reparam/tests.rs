//! Tests of the reparameterizations: chain rule against finite differences, invariants of the
//! effective weights, the data-dependent initialisation, and training/resume through a
//! [`crate::trainer::Trainer`].

use super::*;
use crate::model::ModelSpec;
use crate::optim::OptimSpec;
use crate::test_data::{blob_trainer as trainer, blobs};
use crate::trainer::TrainConfig;
use reglab_core::testing::random_vec;

fn shapes() -> Vec<Shape2> {
    vec![
        Shape2 { rows: 3, cols: 5, layout: Layout::RowMajor },
        Shape2 { rows: 4, cols: 3, layout: Layout::Transposed },
        Shape2 { rows: 1, cols: 6, layout: Layout::RowMajor },
    ]
}

/// A smooth loss of the effective weight: L(W) = Σ a⊙W + ½Σ W² + ⅓ Σ W³ (∇ = a + W + W²).
fn loss(a: &[f32], w: &[f32]) -> f64 {
    a.iter().zip(w).map(|(&a, &w)| a as f64 * w as f64 + 0.5 * (w as f64).powi(2) + (w as f64).powi(3) / 3.0).sum()
}
fn loss_grad(a: &[f32], w: &[f32]) -> Vec<f32> {
    a.iter().zip(w).map(|(&a, &w)| a + w + w * w).collect()
}

/// Max relative error of the chain rule (∇_P, ∇_e) against central differences of L(f(P, e)).
fn chain_rule_error(rule: &mut dyn Rule, s: Shape2, seed: u64) -> f64 {
    let p = random_vec(s.len(), 1.0, seed);
    let a = random_vec(s.len(), 1.0, seed + 1);
    let mut e = vec![0.0f32; rule.extras_len(s)];
    rule.init_extras(s, &p, &mut e);
    // perturb extras away from their neutral start
    for (k, x) in e.iter_mut().enumerate() {
        *x *= 1.0 + 0.1 * ((k % 5) as f32 - 2.0);
    }
    let f = |rule: &mut dyn Rule, p: &[f32], e: &[f32]| {
        let mut w = vec![0.0; s.len()];
        rule.forward(0, s, p, e, &mut w, false);
        loss(&a, &w)
    };
    let mut w = vec![0.0; s.len()];
    rule.forward(0, s, &p, &e, &mut w, true);
    let gw = loss_grad(&a, &w);
    let mut gp = vec![0.0; s.len()];
    let mut ge = vec![0.0; e.len()];
    rule.backward(0, s, &p, &e, &gw, &mut gp, &mut ge);
    let h = 1e-2f32;
    let mut worst = 0.0f64;
    let mut check = |num: f64, ana: f32| {
        let err = (num - ana as f64).abs() / (ana.abs() as f64).max(1.0);
        worst = worst.max(err);
    };
    for i in 0..p.len() {
        let (mut pp, mut pm) = (p.clone(), p.clone());
        pp[i] += h;
        pm[i] -= h;
        check((f(rule, &pp, &e) - f(rule, &pm, &e)) / (pp[i] as f64 - pm[i] as f64), gp[i]);
    }
    for i in 0..e.len() {
        let (mut ep, mut em) = (e.clone(), e.clone());
        ep[i] += h;
        em[i] -= h;
        check((f(rule, &p, &ep) - f(rule, &p, &em)) / (ep[i] as f64 - em[i] as f64), ge[i]);
    }
    worst
}

fn layer_infos(s: &[Shape2]) -> Vec<LayerInfo> {
    s.iter()
        .enumerate()
        .map(|(i, s)| LayerInfo {
            name: format!("layers.{i}"),
            kind: if s.layout == Layout::Transposed { crate::model::LayerKind::Linear } else { crate::model::LayerKind::Conv2d },
            shape: if s.layout == Layout::Transposed { vec![s.rows, s.cols] } else { vec![s.rows, s.cols, 1, 1] },
            has_bias: true,
        })
        .collect()
}

#[test]
fn specs_parse_print_and_reject_bad_ones() {
    for s in
        ["weight-norm", "weight-norm:init=none", "spectral-norm", "centered-norm", "multipliers:scalar", "multipliers:rowcol", "lawn:free=3:layers=2"]
    {
        let r: ReparamSpec = s.parse().unwrap();
        assert_eq!(r.to_string(), s);
    }
    assert_eq!("multipliers".parse::<ReparamSpec>().unwrap(), ReparamSpec::Multipliers { rowcol: false });
    for (bad, why) in [
        ("batch-norm", "unknown reparameterization `batch-norm`"),
        ("lawn:layers=0", "`layers` must be ≥ 1"),
        ("lawn:free=x", "`free` must be a non-negative integer"),
        ("weight-norm:k=2", "unknown option `k`"),
        ("weight-norm:init=zeros", "`init` is `data` or `none`"),
        ("multipliers:diag", "`scalar` or `rowcol`"),
    ] {
        let e = bad.parse::<ReparamSpec>().unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn weight_norm_chain_rule_and_row_norms() {
    for (k, s) in shapes().into_iter().enumerate() {
        let e = chain_rule_error(&mut weight_norm::WeightNorm, s, 10 + k as u64);
        assert!(e < 2e-3, "{s:?}: {e}");
        // W_i has norm g_i, direction P_i
        let p = random_vec(s.len(), 1.0, 20 + k as u64);
        let g: Vec<f32> = (0..s.rows).map(|i| 0.5 + i as f32).collect();
        let mut w = vec![0.0; s.len()];
        weight_norm::WeightNorm.forward(0, s, &p, &g, &mut w, true);
        for (i, n) in s.row_sq_norms(&w).iter().enumerate() {
            assert!((n.sqrt() - g[i] as f64).abs() < 1e-5, "row {i}: {} vs {}", n.sqrt(), g[i]);
        }
        // the neutral start gives W = P
        let mut g0 = vec![0.0; s.rows];
        weight_norm::WeightNorm.init_extras(s, &p, &mut g0);
        weight_norm::WeightNorm.forward(0, s, &p, &g0, &mut w, true);
        for (a, b) in w.iter().zip(&p) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}

#[test]
fn centered_norm_chain_rule_and_invariants() {
    for (k, s) in shapes().into_iter().enumerate() {
        let e = chain_rule_error(&mut centered_norm::CenteredNorm, s, 50 + k as u64);
        assert!(e < 2e-3, "{s:?}: {e}");
        let p = random_vec(s.len(), 1.0, 60 + k as u64);
        let mut w = vec![0.0; s.len()];
        centered_norm::CenteredNorm.forward(0, s, &p, &[], &mut w, true);
        // rows of mean 0 and norm 1, computed independently of the rule's own statistics
        for i in 0..s.rows {
            let row: Vec<f64> = (0..s.cols).map(|j| w[s.at(i, j)] as f64).collect();
            assert!(row.iter().sum::<f64>().abs() < 1e-5, "row {i} mean");
            assert!((row.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-5, "row {i} norm");
        }
        // adding a constant to a row of P and scaling it changes nothing
        let mut q = p.clone();
        s.each(|i, _, x| q[x] = (p[x] + 0.3 * i as f32) * (1.0 + i as f32));
        let mut wq = vec![0.0; s.len()];
        centered_norm::CenteredNorm.forward(0, s, &q, &[], &mut wq, true);
        for (a, b) in w.iter().zip(&wq) {
            assert!((a - b).abs() < 1e-5);
        }
    }
    // by hand: the row [1, 2, 3] centres to [−1, 0, 1] and normalises to [−1, 0, 1]/√2
    let s = Shape2 { rows: 1, cols: 3, layout: Layout::RowMajor };
    let mut w = vec![0.0; 3];
    centered_norm::CenteredNorm.forward(0, s, &[1.0, 2.0, 3.0], &[], &mut w, true);
    let r = std::f32::consts::FRAC_1_SQRT_2;
    assert_eq!(w, vec![-r, 0.0, r]);
}

#[test]
fn multipliers_chain_rule_and_neutral_start() {
    for rowcol in [false, true] {
        for (k, s) in shapes().into_iter().enumerate() {
            let mut r = multipliers::Multipliers { rowcol };
            let e = chain_rule_error(&mut r, s, 30 + k as u64);
            assert!(e < 2e-3, "rowcol={rowcol} {s:?}: {e}");
            let p = random_vec(s.len(), 1.0, 40);
            let mut ex = vec![0.0; r.extras_len(s)];
            r.init_extras(s, &p, &mut ex);
            let mut w = vec![0.0; s.len()];
            r.forward(0, s, &p, &ex, &mut w, true);
            assert_eq!(w, p);
        }
    }
    // the symmetry (r·a, c/a) leaves W unchanged
    let s = Shape2 { rows: 3, cols: 4, layout: Layout::Transposed };
    let p = random_vec(12, 1.0, 41);
    let ex: Vec<f32> = (0..7).map(|k| 0.5 + 0.25 * k as f32).collect();
    let ex2: Vec<f32> = ex.iter().enumerate().map(|(k, &x)| if k < 3 { x * 2.0 } else { x / 2.0 }).collect();
    let (mut w1, mut w2) = (vec![0.0; 12], vec![0.0; 12]);
    let mut r = multipliers::Multipliers { rowcol: true };
    r.forward(0, s, &p, &ex, &mut w1, true);
    r.forward(0, s, &p, &ex2, &mut w2, true);
    for (a, b) in w1.iter().zip(&w2) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn spectral_norm_converges_to_unit_sigma_and_its_chain_rule_holds() {
    let sh = shapes();
    let infos = layer_infos(&sh);
    for (k, s) in sh.iter().copied().enumerate() {
        let mut r = spectral_norm::SpectralNorm::new(&infos);
        // the chain rule with u, v held constant: converge them first, then compare
        let p = random_vec(s.len(), 1.0, 50 + k as u64);
        let mut w = vec![0.0; s.len()];
        for _ in 0..200 {
            r.forward(k, s, &p, &[], &mut w, true);
        }
        // σ_max(W) = 1 by an independent power iteration
        let m = reglab_core::MatRef::from_layout(&w, s.rows, s.cols, s.layout);
        let (sigma, _, _) = reglab_core::linalg::top_singular(m, &vec![1.0; s.cols], 1e-12, 10_000);
        assert!((sigma - 1.0).abs() < 1e-4, "{s:?}: σ(W) = {sigma}");
        // finite differences of L(P/σ(P)) with σ(P) exact agree with the held-(u, v) gradient
        // at a converged point (∂σ/∂P = u vᵀ there)
        let a = random_vec(s.len(), 1.0, 60);
        let f = |p: &[f32]| {
            let m = reglab_core::MatRef::from_layout(p, s.rows, s.cols, s.layout);
            let (sg, _, _) = reglab_core::linalg::top_singular(m, &vec![1.0; s.cols], 1e-14, 100_000);
            let w: Vec<f32> = p.iter().map(|&x| (x as f64 / sg) as f32).collect();
            loss(&a, &w)
        };
        let gw = loss_grad(&a, &w);
        let mut gp = vec![0.0; s.len()];
        r.backward(k, s, &p, &[], &gw, &mut gp, &mut []);
        let h = 1e-2f32;
        for i in 0..p.len() {
            let (mut pp, mut pm) = (p.clone(), p.clone());
            pp[i] += h;
            pm[i] -= h;
            let num = (f(&pp) - f(&pm)) / (pp[i] as f64 - pm[i] as f64);
            assert!((num - gp[i] as f64).abs() < 5e-3 * (gp[i].abs() as f64).max(1.0), "{s:?} [{i}]: {num} vs {}", gp[i]);
        }
    }
}

#[test]
fn lawn_projects_then_keeps_the_frozen_norm() {
    let s = Shape2 { rows: 3, cols: 4, layout: Layout::Transposed };
    let mut r = lawn::Lawn::new(1, 1);
    r.set_steps_per_epoch(2);
    let mut p = random_vec(12, 1.0, 70);
    let g = random_vec(12, 1.0, 71);
    let mut gp = vec![0.0; 12];
    // free phase: identity gradient, no projection
    r.backward(0, s, &p, &[], &g, &mut gp, &mut []);
    assert_eq!(gp, g);
    r.after_step(0, s, &mut p, 0);
    let before = p.clone();
    r.after_step(0, s, &mut p, 1); // end of the free phase: the norm is frozen, P unchanged
    assert_eq!(p, before);
    let c = reglab_core::linalg::sum_sq(&p).sqrt();
    // constrained phase: the gradient is tangent (⟨∇, P⟩ = 0) and P returns to the sphere
    r.backward(0, s, &p, &[], &g, &mut gp, &mut []);
    let d: f64 = gp.iter().zip(&p).map(|(&a, &b)| a as f64 * b as f64).sum();
    assert!(d.abs() < 1e-5, "{d}");
    p.iter_mut().for_each(|x| *x *= 1.7);
    r.after_step(0, s, &mut p, 2);
    assert!((reglab_core::linalg::sum_sq(&p).sqrt() - c).abs() < 1e-5 * c);
    // state round trip
    let mut r2 = lawn::Lawn::new(1, 1);
    r2.load_state(&r.state()).unwrap();
    assert_eq!(r2.state(), r.state());
    assert!(r2.load_state(&[]).is_err());
}

fn cfg(reparam: &str, optim: OptimSpec) -> TrainConfig {
    TrainConfig {
        model: "mlp:16,16".parse::<ModelSpec>().unwrap(),
        optim,
        lr: 1e-2,
        batch: 16,
        epochs: 4,
        seed: 5,
        regs: vec![],
        reparam: Some(reparam.parse().unwrap()),
        prune: None,
    }
}

#[test]
fn every_reparam_trains_and_checkpoints_hold_effective_weights() {
    let (train, test) = (blobs(240, 1), blobs(90, 2));
    for r in ["weight-norm", "spectral-norm", "centered-norm", "multipliers:scalar", "multipliers:rowcol", "lawn:free=1:layers=2"] {
        let c = cfg(r, OptimSpec::Adam);
        let mut t = trainer(&c);
        let m = t.fit(&train, &test, &mut |_| {}, &mut |_, _| Ok(())).unwrap();
        assert!(m.last().unwrap().test_accuracy > 0.9, "{r}: {m:?}");
        let ck = t.checkpoint().unwrap();
        let w = &ck.model[0];
        assert_eq!(w.name, "layers.0.weight");
        assert_eq!(w.shape, vec![16, 8]);
        let p = ck.reg.iter().find(|t| t.name == "reparam/layers.0.param");
        match r {
            "spectral-norm" => {
                let m = reglab_core::MatRef::from_layout(&w.data, 16, 8, Layout::RowMajor);
                let (s, _, _) = reglab_core::linalg::top_singular(m, &[1.0; 8], 1e-10, 10_000);
                // one power-iteration step per update: σ̂ = uᵀPv ≤ σ_max(P), so σ_max(W) ≥ 1,
                // and above 1 by the lag of the iteration, large when the top of the spectrum
                // is flat (spectral normalization flattens it)
                assert!((0.999..1.3).contains(&s), "{r}: σ_max(W) = {s}");
                assert_ne!(p.unwrap().data, w.data);
            }
            "weight-norm" => {
                let g = &ck.reg.iter().find(|t| t.name == "reparam/layers.0.extras").unwrap().data;
                let s = Shape2 { rows: 16, cols: 8, layout: Layout::RowMajor };
                for (i, n) in s.row_sq_norms(&w.data).iter().enumerate() {
                    assert!((n.sqrt() - g[i].abs() as f64).abs() < 1e-4 * (1.0 + g[i].abs() as f64), "row {i}");
                }
            }
            _ => {}
        }
    }
}

#[test]
fn weight_norm_data_init_standardizes_the_first_layer() {
    let train = blobs(240, 1);
    let mut c = cfg("weight-norm", OptimSpec::Adam);
    c.lr = 1e-12; // one epoch that barely moves the weights: we look at the initialisation
    c.epochs = 1;
    let mut t = trainer(&c);
    let before = t.net.to_pytorch();
    t.train_epoch(&train, 1, &mut |_| {}).unwrap();
    assert!(!t.reparam().unwrap().pending_data_init());
    let after = t.net.to_pytorch();
    assert_ne!(before[1].data, after[1].data, "the bias is set by the initialisation");
    // pre-activations of layer 0 over the first 500 (all 240) examples: mean ≈ 0, sd ≈ 1
    let x = Tensor::<2>::from_data(TensorData::new(train.features.clone(), [240, 8]), &burn::tensor::Device::flex());
    let pre = t.net.valid().preactivation(x, 0).unwrap();
    let v: &[f32] = pre.as_slice().unwrap();
    for u in 0..16 {
        let col: Vec<f64> = (0..240).map(|b| v[b * 16 + u] as f64).collect();
        let mu = col.iter().sum::<f64>() / 240.0;
        let sd = (col.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / 240.0).sqrt();
        assert!(mu.abs() < 1e-3 && (sd - 1.0).abs() < 1e-3, "unit {u}: μ {mu}, σ {sd}");
    }
}

/// Equality of two checkpoints' tensors, naming the first one that differs (not printing
/// them). The optimizers' serialized states are not compared byte for byte (burn writes its
/// per-parameter map in hash order); their effect is, by continuing training.
fn same(a: &crate::trainer::Checkpoint, b: &crate::trainer::Checkpoint, what: &str) {
    for (x, y) in a.model.iter().chain(&a.reg).zip(b.model.iter().chain(&b.reg)) {
        assert_eq!(x.name, y.name, "{what}");
        if x.name != "reparam/optim" {
            assert!(x.data == y.data, "{what}: `{}` differs", x.name);
        }
    }
    assert_eq!(a.reg.len(), b.reg.len(), "{what}");
    assert_eq!(a.step, b.step, "{what}");
}

#[test]
fn resume_continues_bit_for_bit() {
    let (train, _) = (blobs(240, 1), ());
    for r in ["weight-norm", "spectral-norm", "centered-norm", "multipliers:rowcol", "lawn:free=1:layers=1"] {
        let c = cfg(r, OptimSpec::Adamw { weight_decay: 0.01 });
        let mut a = trainer(&c);
        for e in 1..=3 {
            a.train_epoch(&train, e, &mut |_| {}).unwrap();
        }
        let mut b = trainer(&c);
        b.train_epoch(&train, 1, &mut |_| {}).unwrap();
        let ck = b.checkpoint().unwrap();
        let mut b2 = trainer(&c);
        b2.restore(ck.clone()).unwrap();
        same(&ck, &b2.checkpoint().unwrap(), &format!("{r}, restored"));
        for e in 2..=3 {
            b2.train_epoch(&train, e, &mut |_| {}).unwrap();
        }
        same(&a.checkpoint().unwrap(), &b2.checkpoint().unwrap(), r);
    }
}

#[test]
fn multipliers_have_no_weight_decay() {
    // with a zero gradient the only change would be AdamW's decay: P shrinks, s does not
    let c = cfg("multipliers:scalar", OptimSpec::Adamw { weight_decay: 0.5 });
    let mut t = trainer(&c);
    let train = blobs(48, 3);
    t.train_epoch(&train, 1, &mut |_| {}).unwrap();
    let ck = t.checkpoint().unwrap();
    let s = ck.reg.iter().find(|t| t.name == "reparam/layers.0.extras").unwrap().data[0];
    // s moved by its gradient only: Adam steps are ≤ lr each, 3 steps
    assert!((s - 1.0).abs() <= 3.0 * 1e-2 + 1e-6, "{s}");
}

#[test]
fn restore_without_reparam_state_is_an_error() {
    let c = cfg("weight-norm", OptimSpec::Adam);
    let mut t = trainer(&c);
    let mut ck = t.checkpoint().unwrap();
    ck.reg.retain(|t| !t.name.starts_with("reparam/"));
    let e = t.restore(ck).unwrap_err().to_string();
    assert!(e.contains("reparam/layers.0.param"), "{e}");
}
