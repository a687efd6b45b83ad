//! The network's forward pass against a plain computation, training on a small modulus, and
//! determinism.

use super::data::modular_addition;
use super::train::{QuadraticMlp, TrainConfig, train};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

#[test]
fn the_forward_pass_is_the_square_of_the_summed_rows_times_w2() {
    let dev = Device::flex().autodiff();
    let (p, width) = (5usize, 3usize);
    let m = QuadraticMlp::new(p, width, 0.7, 4, &dev);
    let (w1, w2) = (host(m.w1.val()), host(m.w2.val()));
    let pairs = [(0u32, 4u32), (3, 3), (2, 0)];
    let idx = |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [3]), &dev);
    let mask_v = vec![2.0f32, 0.0, 2.0, 0.0, 2.0, 2.0, 2.0, 2.0, 0.0];
    let mask = Tensor::<2>::from_data(TensorData::new(mask_v.clone(), [3, width]), &dev);
    let ia = idx(pairs.iter().map(|q| i64::from(q.0)).collect());
    let ib = idx(pairs.iter().map(|q| p as i64 + i64::from(q.1)).collect());
    let out = host(m.forward(ia, ib, Some(mask)));
    for (i, &(a, b)) in pairs.iter().enumerate() {
        for k in 0..p {
            let mut want = 0.0f64;
            for n in 0..width {
                let h = (w1[a as usize * width + n] + w1[(p + b as usize) * width + n]) * mask_v[i * width + n];
                want += f64::from(h * h) * f64::from(w2[n * p + k]);
            }
            assert!((f64::from(out[i * p + k]) - want).abs() < 1e-5 * want.abs().max(1.0), "pair {i}, class {k}: {} vs {want}", out[i * p + k]);
        }
    }
}

fn small(weight_decay: f64, dropout: f64, steps: usize) -> TrainConfig {
    TrainConfig { width: 64, init_std: 0.5 / 128f64.cbrt(), steps, lr: 1e-2, betas: (0.9, 0.98), weight_decay, dropout, log_every: 50 }
}

#[test]
fn a_small_modulus_is_learned_and_runs_repeat_bit_for_bit() {
    let dev = Device::flex().autodiff();
    let data = modular_addition(13, 0.7, 0.0, 0, 1).unwrap();
    let ticks = std::sync::atomic::AtomicUsize::new(0);
    let r = train(&data, &small(1.0, 0.0, 300), 3, &dev, &|| {
        ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(ticks.into_inner(), 300);
    assert_eq!(r.probes.iter().map(|q| q.step).collect::<Vec<_>>(), vec![0, 50, 100, 150, 200, 250, 300]);
    let (first, last) = (&r.probes[0], r.probes.last().unwrap());
    assert!(last.train_loss < 0.5 * first.train_loss, "{first:?} → {last:?}");
    assert_eq!(last.train_acc, 1.0, "{last:?}");
    assert_eq!(r.final_ipr.len(), 64);
    assert_eq!(first.train_acc_corrupted, None, "no corrupted examples at ξ = 0");
    // the same seed, the same run; dropout masks are seeded too
    assert_eq!(train(&data, &small(1.0, 0.0, 300), 3, &dev, &|| {}).unwrap(), r);
    let d1 = train(&data, &small(0.0, 0.3, 60), 3, &dev, &|| {}).unwrap();
    assert_eq!(train(&data, &small(0.0, 0.3, 60), 3, &dev, &|| {}).unwrap(), d1);
    assert_ne!(train(&data, &small(0.0, 0.3, 60), 4, &dev, &|| {}).unwrap(), d1);
}

#[test]
fn weight_decay_shrinks_the_weights_as_adamw_does() {
    // with lr·wd = 0.5 per step and no gradient signal to speak of, the norm falls fast
    let dev = Device::flex().autodiff();
    let data = modular_addition(7, 0.5, 0.0, 0, 1).unwrap();
    let cfg = TrainConfig { lr: 1e-2, weight_decay: 50.0, log_every: 10, ..small(0.0, 0.0, 10) };
    let r = train(&data, &cfg, 0, &dev, &|| {}).unwrap();
    let (a, b) = (r.probes[0].weight_norm2, r.probes[1].weight_norm2);
    // ‖w‖ after 10 steps ≤ 0.5¹⁰·‖w₀‖ + 10·lr·√(#weights) (Adam steps are at most lr per weight)
    let bound = (0.5f64.powi(10) * a.sqrt() + 10.0 * 1e-2 * ((2 * 7 + 7) as f64 * 64.0).sqrt()).powi(2);
    assert!(b <= bound, "{a} → {b} (bound {bound})");
    let _ = QuadraticMlp::new(7, 4, 0.1, 0, &dev).valid();
}

/// Timing of the experiment's setting (p = 97, N = 500, full batch): run by hand with
/// `cargo test --release -p reglab-lab grokking_step_time -- --ignored --nocapture`.
#[test]
#[ignore]
fn grokking_step_time() {
    let dev = Device::flex().autodiff();
    let data = modular_addition(97, 0.5, 0.3, 0, 1).unwrap();
    for dropout in [0.0, 0.6] {
        let cfg = TrainConfig { width: 500, init_std: 0.05, steps: 40, lr: 1e-2, betas: (0.9, 0.98), weight_decay: 5.0, dropout, log_every: 20 };
        let t = std::time::Instant::now();
        let r = train(&data, &cfg, 0, &dev, &|| {}).unwrap();
        eprintln!("dropout {dropout}: 40 steps + 3 probes in {:.2} s; {:?}", t.elapsed().as_secs_f64(), r.probes.last().unwrap());
    }
}

const SMALL: &str = r#"
kind = "grokking"
name = "grok-small"
seeds = [0, 1]
p = 11
train_fraction = 0.6
corrupted = [0.0, 0.2]
width = 32
steps = 40
log_every = 10

[[arm]]
name = "none"

[[arm]]
name = "wd, 5"
weight_decay = 5.0

[[arm]]
name = "dropout"
dropout = 0.3
"#;

#[test]
fn a_run_writes_its_files_and_is_the_same_on_any_thread_count() {
    use crate::rundir::SweepOptions;
    let exp = super::GrokkingExperiment::parse(SMALL, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ra: super::sweep::GrokkingResults = crate::kind::run_solver(&exp, &SweepOptions { out: a.clone(), threads: 1 }).unwrap();
    let rb: super::sweep::GrokkingResults = crate::kind::run_solver(&exp, &SweepOptions { out: b.clone(), threads: 3 }).unwrap();
    assert_eq!(ra, rb);
    for f in ["results.json", "results.csv", "summary.csv", "neurons.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    for f in ["report.html", "plots/test-xi0.png", "plots/memorised-xi0p2.svg", "plots/train-vs-xi.png"] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    assert!(!a.join("plots/memorised-xi0.png").exists(), "no corrupted examples at ξ = 0");
    // 2 ξ × 3 arms × 2 seeds runs, 5 probes each; summaries per ξ × arm
    assert_eq!(ra.runs.len(), 12);
    assert!(ra.runs.iter().all(|c| c.run.probes.len() == 5 && c.run.final_ipr.len() == 32));
    assert_eq!(ra.summary.len(), 6);
    assert!(ra.summary.iter().all(|s| (s.xi == 0.0) == s.memorised.is_none()));
    // the arms of a seed start from the same weights on the same labels
    let first = |arm: &str| ra.runs.iter().find(|c| c.xi == 0.2 && c.seed == 1 && c.arm == arm).unwrap().run.probes[0].clone();
    assert_eq!(first("none"), first("wd, 5"));
    assert_eq!(first("none"), first("dropout"));
    // one quoted CSV field for a name with a comma; a cell's rows are its probes
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 12 * 5);
    assert!(csv.lines().any(|l| l.starts_with("0.2,\"wd, 5\",1,40,")), "{csv}");
}

#[test]
fn a_bad_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bad = SMALL.replace("dropout = 0.3", "dropout = 1.5");
    let e = super::GrokkingExperiment::parse(&bad, &[]).unwrap_err();
    assert!(e.contains("`arm[2].dropout`"), "{e}");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let req = crate::kind::RunRequest::quiet(out.clone());
    assert!(crate::kinds::run_file(&path, &[], &req).is_err());
    assert!(!out.exists());
}
