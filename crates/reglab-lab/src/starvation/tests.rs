//! A short run end to end, determinism and bad input.

use super::StarvationExperiment;

const SMALL: &str = r#"
kind = "starvation"
name = "starvation-small"
seeds = [0, 1]
points = 40
test_points = 60
margins = [-0.1, 0.1]
width = 32
steps = 150
grid = 41

[[arm]]
name = "cross-entropy"

[[arm]]
name = "spectral decoupling"
reg = ["spectral-decoupling=0.006"]
"#;

#[test]
fn a_run_writes_its_files_and_is_the_same_on_any_thread_count() {
    use crate::rundir::SweepOptions;
    let exp = StarvationExperiment::parse(SMALL, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ra: super::sweep::StarvationResults = crate::kind::run_solver(&exp, &SweepOptions { out: a.clone(), threads: 1 }).unwrap();
    let rb: super::sweep::StarvationResults = crate::kind::run_solver(&exp, &SweepOptions { out: b.clone(), threads: 3 }).unwrap();
    assert_eq!(ra, rb);
    for f in ["results.json", "results.csv", "summary.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    for f in ["report.html", "plots/boundary-0p1-cross-entropy.png", "plots/boundary-m0p1-spectral-decoupling.svg"] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    assert_eq!(ra.runs.len(), 8);
    assert_eq!(ra.summary.len(), 4);
    for c in &ra.runs {
        let r = &c.run;
        assert!(r.train_acc >= 0.85, "a short run fits most of the toy: {c:?}");
        assert!(r.margin.is_finite() && r.margin >= 0.0 && r.margin < 2.0, "{c:?}");
        assert!(r.lattice.is_empty(), "results.json leaves the lattices out");
    }
    // the two arms of a seed start from the same weights on the same points: they differ only
    // through the penalty
    let pick = |arm: &str| ra.runs.iter().find(|c| c.margin == 0.1 && c.seed == 0 && c.arm == arm).unwrap().run.clone();
    assert_ne!(pick("cross-entropy"), pick("spectral decoupling"));
}

#[test]
fn spectral_decoupling_of_strength_zero_is_the_plain_loss() {
    let dev = burn::tensor::Device::flex().autodiff();
    let exp = StarvationExperiment::parse(SMALL, &["steps=40".into()]).unwrap();
    let (train, test) = super::sweep::points(&exp, 0.1, 0);
    let plain = super::train::train_toy(&train, &test, &exp.toy_config(), &[], 0, &dev, &|| {}).unwrap();
    let zero = super::train::train_toy(&train, &test, &exp.toy_config(), &["spectral-decoupling=0".into()], 0, &dev, &|| {}).unwrap();
    assert_eq!(plain, zero);
    let sd = super::train::train_toy(&train, &test, &exp.toy_config(), &["spectral-decoupling=0.5".into()], 0, &dev, &|| {}).unwrap();
    // a strong penalty on the logits keeps them small: the lattice's largest |logit| shrinks
    let max = |r: &super::train::ToyRun| r.lattice.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(max(&sd) < max(&plain), "{} vs {}", max(&sd), max(&plain));
}

#[test]
fn a_bad_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bad = SMALL.replace("spectral-decoupling=0.006", "spectral-decoupling=nan");
    assert!(StarvationExperiment::parse(&bad, &[]).unwrap_err().contains("`arm[1].reg`"));
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let req = crate::kind::RunRequest::quiet(out.clone());
    assert!(crate::kinds::run_file(&path, &[], &req).is_err());
    assert!(!out.exists());
}
