//! End-to-end tests of the `reglab` binary: real data, real training, every error path the
//! foundation promises (exit code 2 and one clear line for bad input, never a panic).

mod common;

use common::{assert_input_error, reglab, run_args as run, stderr, stdout, write_safetensors};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The shared data directory: $REGLAB_DATA, else ../shared/data beside the repository; `None`
/// without MNIST there on a developer's machine, a failure in CI (`CI` set), where the data is
/// present and a skipped test would pass unseen.
fn data_root() -> Option<PathBuf> {
    let p = std::env::var_os("REGLAB_DATA").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if p.join("mnist").is_dir() {
        return Some(p);
    }
    assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "no MNIST under {}, and CI is set: the data must be present in CI", p.display());
    None
}

fn test_accuracy(o: &Output) -> f64 {
    let s = stdout(o);
    let last = s.lines().last().unwrap_or("");
    last.strip_prefix("test_accuracy=").unwrap_or_else(|| panic!("last line `{last}`")).parse().unwrap()
}

#[test]
fn help_on_every_subcommand() {
    for sub in ["train", "penalty", "list"] {
        let o = run(&[sub, "--help"]);
        assert!(o.status.success(), "{sub}");
        assert!(stdout(&o).contains("Usage"), "{sub}");
    }
}

#[test]
fn list_names_every_regularizer_with_its_paper() {
    let o = run(&["list", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for n in ["l2", "l1", "l2-init", "wasserstein-init", "spectral", "soft-orth"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(v.as_array().unwrap().iter().all(|e| !e["paper"].as_str().unwrap().is_empty()));
}

/// The λ-learning methods are procedures (experiment kinds), not terms: `reglab list PAPER` finds
/// them by their papers' names too; a name nothing contains is an error.
#[test]
fn list_finds_experiment_kinds_by_their_papers() {
    for (needle, kind) in [
        ("salehi", "inverse"),
        ("MAID", "inverse"),
        ("DE-ELBo", "evidence"),
        ("lorraine", "tune"),
        ("Dohmatob", "collapse"),
        ("model collapse", "collapse"),
        ("Doshi", "grokking"),
        ("grok", "grokking"),
        ("gradient starvation", "starvation"),
    ] {
        let o = run(&["list", needle]);
        assert!(o.status.success(), "{needle}");
        let out = stdout(&o);
        assert!(out.contains("Experiment kinds") && out.lines().any(|l| l.starts_with(kind)), "{needle}: {out}");
    }
    // a paper with both a term and an experiment lists both
    let out = stdout(&run(&["list", "gradient starvation"]));
    assert!(out.contains("spectral-decoupling") && out.lines().any(|l| l.starts_with("starvation")), "{out}");
    let o = run(&["list", "no-such-paper-xyz"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-paper-xyz"));
}

/// The done-criterion table: digits, mlp:128, ≤ 30 epochs, test accuracy ≥ 0.95 with no
/// regularizer and with each of the six at a sensible strength.
#[test]
fn digits_reach_95_percent_with_and_without_each_regularizer() {
    let dir = tempfile::tempdir().unwrap();
    let arms: &[&[&str]] = &[
        &[],
        &["--reg", "l2=1e-4"],
        &["--reg", "l1=1e-5"],
        &["--reg", "l2-init=1e-3"],
        &["--reg", "wasserstein-init=1e-3"],
        &["--reg", "spectral=1e-3"],
        &["--reg", "soft-orth=1e-4"],
    ];
    for (i, arm) in arms.iter().enumerate() {
        let out = dir.path().join(format!("arm{i}"));
        let mut args =
            vec!["train", "--data", "digits", "--model", "mlp:128", "--epochs", "30", "--lr", "3e-3", "--batch", "32", "--seed", "0", "-q", "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(arm);
        let o = run(&args);
        assert!(o.status.success(), "{arm:?}: {}", stderr(&o));
        let acc = test_accuracy(&o);
        eprintln!("digits mlp:128 {arm:?}: test_accuracy={acc}");
        assert!(acc >= 0.95, "{arm:?}: {acc}");
        for f in ["metrics.json", "timing.json", "config.toml", "model.safetensors", "init.safetensors"] {
            assert!(out.join(f).is_file(), "{f}");
        }
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(m["epochs"].as_array().unwrap().len(), 30);
        assert_eq!(m["test_accuracy"].as_f64().unwrap(), acc);
        if let Some(spec) = arm.get(1) {
            let name = spec.split('=').next().unwrap();
            let v = m["epochs"][29]["reg"][name].as_f64().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{name} = {v}");
        }
    }
}

/// The `reg/` values of metrics.json are each term as it acts at the step where the row is
/// measured: with a 100-step warm-up, the last epoch (after 4 × 45 = 180 steps) reports
/// λ/2·‖W‖² of the final weights, not the step-0 factor λ/100; a term past its `until` reports 0.
#[test]
fn reported_regularizer_values_follow_the_schedule_to_the_final_weights() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("warm");
    let o = run(&[
        "train",
        "--data",
        "digits",
        "--model",
        "mlp:64",
        "--epochs",
        "4",
        "--batch",
        "32",
        "--seed",
        "1",
        "-q",
        "--reg",
        "l2=1e-2:schedule=warmup:warmup=100",
        "--reg",
        "l2-init=1e-2:until=50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let epochs = m["epochs"].as_array().unwrap();
    let last = &epochs[3]["reg"];
    let weights = reglab_train::tensorfile::read(&out.join("model.safetensors")).unwrap();
    let sq: f64 = weights.iter().filter(|t| t.name.ends_with(".weight")).map(|t| t.data.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>()).sum();
    let want = 1e-2 / 2.0 * sq;
    let got = last["l2"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-5 * want, "l2 in the last epoch {got}, λ/2·‖W‖² of the final weights {want}");
    assert_eq!(last["l2-init"].as_f64().unwrap(), 0.0, "l2-init past until=50");
    // after epoch 1 (45 steps) until=50 has not come (the per-epoch factors are checked
    // exactly against the weights of every epoch in reglab-train's trainer tests)
    let first = &epochs[0]["reg"];
    assert!(first["l2-init"].as_f64().unwrap() > 0.0, "{first}");
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let go = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = run(&[
            "train",
            "--epochs",
            "3",
            "--reg",
            "spectral=1e-2",
            "--reg",
            "wasserstein-init=1e-3",
            "--seed",
            seed,
            "-q",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        (std::fs::read(out.join("metrics.json")).unwrap(), std::fs::read(out.join("model.safetensors")).unwrap())
    };
    let a = go("a", "5");
    let b = go("b", "5");
    let c = go("c", "6");
    assert!(a == b, "same seed must give identical metrics.json and model.safetensors");
    assert!(a.0 != c.0);
    // the spectral regularizer's power-iteration vectors are saved with the checkpoint
    let st = reglab_train::tensorfile::read(&dir.path().join("a/regularizers.safetensors")).unwrap();
    let names: Vec<&str> = st.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"reg.0.spectral/layers.0.weight/u"), "{names:?}");
    assert!(names.contains(&"reg.0.spectral/layers.1.weight/v"), "{names:?}");
    let text = String::from_utf8(a.0).unwrap();
    assert!(!text.contains("seconds") && !text.contains("time"), "no timings in metrics.json");
}

#[test]
fn mnist_mlp_256_256_reaches_97_percent_in_5_epochs() {
    let Some(root) = data_root() else {
        eprintln!("skipped: no MNIST under $REGLAB_DATA or ../shared/data");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = reglab()
        .env("REGLAB_DATA", &root)
        .args(["train", "--data", "mnist", "--model", "mlp:256,256", "--epochs", "5", "--lr", "1e-3", "--batch", "64", "-q", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let acc = test_accuracy(&o);
    eprintln!("mnist mlp:256,256 5 epochs: test_accuracy={acc}");
    assert!(acc >= 0.97, "{acc}");
}

#[test]
fn an_anchor_checkpoint_replaces_the_initial_weights() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let o = run(&["train", "--epochs", "2", "-q", "--seed", "1", "--out", first.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // anchored at the trained weights of the first run: the init snapshot is that checkpoint
    let second = dir.path().join("second");
    let anchor = first.join("model.safetensors");
    let o = run(&["train", "--epochs", "1", "-q", "--reg", "l2-init=1", "--anchor", anchor.to_str().unwrap(), "--out", second.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = reglab_train::tensorfile::read(&anchor).unwrap();
    let i = reglab_train::tensorfile::read(&second.join("init.safetensors")).unwrap();
    assert_eq!(a, i);
    // an anchor of another architecture is a clear error
    let o = run(&[
        "train",
        "--model",
        "mlp:32",
        "--reg",
        "l2-init=1",
        "--anchor",
        anchor.to_str().unwrap(),
        "--out",
        dir.path().join("third").to_str().unwrap(),
    ]);
    assert_input_error(&o, "layers.0.weight");
}

#[test]
fn bad_regularizer_specs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert_input_error(&run(&["train", "--reg", "l3=1", "--out", out]), "unknown regularizer `l3`; known: l2");
    assert_input_error(&run(&["train", "--reg", "l2=-1", "--out", out]), "must be non-negative");
    assert_input_error(&run(&["train", "--reg", "l2=nan", "--out", out]), "must be finite");
    assert_input_error(&run(&["train", "--reg", "l2=inf", "--out", out]), "must be finite");
    assert_input_error(&run(&["train", "--reg", "spectral", "--out", out]), "expected NAME=STRENGTH");
    assert_input_error(&run(&["train", "--reg", "spectral=1:k=x", "--out", out]), "option `k=x`");
    assert_input_error(&run(&["train", "--reg", "spectral=1:q=2", "--out", out]), "unknown option `q`");
    assert_input_error(&run(&["train", "--model", "resnet", "--out", out]), "unknown model");
    assert_input_error(&run(&["train", "--optim", "rmsprop", "--out", out]), "unknown optimizer");
    assert_input_error(&run(&["train", "--lr=-1", "--out", out]), "learning rate");
    assert_input_error(&run(&["train", "--device", "gpu", "--out", out]), "gpu");
    // nothing was written for rejected input
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn bad_data_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run(&["train", "--data", "imagenet", "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "imagenet");
    let o = run(&["train", "--data", &format!("mnist:{}", dir.path().join("none").display()), "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "train-images-idx3-ubyte");
    // a truncated IDX file
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let mut img = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    img.extend(vec![0u8; 100]);
    std::fs::write(bad.join("train-images-idx3-ubyte"), &img).unwrap();
    std::fs::write(bad.join("train-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 2, 1, 2]).unwrap();
    let mut t10k = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
    t10k.extend(vec![0u8; 784]);
    std::fs::write(bad.join("t10k-images-idx3-ubyte"), &t10k).unwrap();
    std::fs::write(bad.join("t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 1, 3]).unwrap();
    let o = run(&["train", "--data", &format!("mnist:{}", bad.display()), "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "train-images-idx3-ubyte");
    assert!(stderr(&o).contains("truncated") || stderr(&o).contains("short"), "{}", stderr(&o));
    assert!(!out.exists(), "no run directory for bad data");
}

#[test]
fn a_diverging_run_stops_names_epoch_and_step_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run(&["train", "--optim", "sgd:0", "--lr", "1e12", "--epochs", "3", "-q", "--out", out.to_str().unwrap()]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("epoch 1, step") && e.contains("last good checkpoint"), "{e}");
    assert!(!e.contains("panicked"));
    // the checkpoint is a complete, finite file; no half-written metrics
    let ck = std::fs::read(out.join("model.safetensors")).unwrap();
    assert!(ck.len() > 1000);
    assert!(!out.join("metrics.json").exists());
}

#[test]
fn penalty_reports_per_tensor_values_and_writes_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.safetensors");
    let w0 = dir.path().join("w0.safetensors");
    let g = dir.path().join("g.safetensors");
    // W = diag(2, 1) padded: σ_max([W | b]) with b = 0 is 2.
    write_safetensors(&w, &[("fc.weight", vec![2, 3], vec![2.0, 0.0, 0.0, 0.0, 1.0, 0.0]), ("fc.bias", vec![2], vec![0.0, 0.0])]);
    write_safetensors(&w0, &[("fc.weight", vec![2, 3], vec![0.0; 6]), ("fc.bias", vec![2], vec![0.0, 0.0])]);
    let o = run(&[
        "penalty",
        "--weights",
        w.to_str().unwrap(),
        "--init",
        w0.to_str().unwrap(),
        "--reg",
        "spectral=1",
        "--reg",
        "l2-init=2",
        "--json",
        "--grad-out",
        g.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // spectral: (2² − 1)² = 9 on fc.weight (bias joined); l2-init: 2/2·(4 + 1) = 5 on the weight, 0 on the bias
    let terms = v["terms"].as_array().unwrap();
    let find = |r: &str, t: &str| terms.iter().find(|x| x["reg"] == r && x["tensor"] == t).map(|x| x["value"].as_f64().unwrap());
    assert!((find("spectral", "fc.weight").unwrap() - 9.0).abs() < 1e-9);
    assert_eq!(find("spectral", "fc.bias"), None, "1-D tensors are skipped by spectral");
    assert!((find("l2-init", "fc.weight").unwrap() - 5.0).abs() < 1e-12);
    assert_eq!(find("l2-init", "fc.bias").unwrap(), 0.0);
    assert!((v["total"].as_f64().unwrap() - 14.0).abs() < 1e-9);
    // gradient: spectral 2k(σ^k − 1)σ^{k−1} u vᵀ = 2·2·3·2 at (0,0) = 24, plus l2-init 2·(W − 0) = 4
    let grads = reglab_train::tensorfile::read(&g).unwrap();
    let gw = grads.iter().find(|t| t.name == "fc.weight").unwrap();
    assert!((gw.data[0] - 28.0).abs() < 1e-4, "{:?}", gw.data);
    assert!((gw.data[4] - 2.0).abs() < 1e-4, "{:?}", gw.data);
    // plain table output ends with the total
    let o = run(&["penalty", "--weights", w.to_str().unwrap(), "--reg", "soft-orth=1"]);
    assert!(o.status.success());
    assert!(stdout(&o).lines().last().unwrap().starts_with("total="));
}

#[test]
fn penalty_errors() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.safetensors");
    write_safetensors(&w, &[("fc.weight", vec![2, 2], vec![1.0, 0.0, 0.0, 1.0])]);
    let ws = w.to_str().unwrap();
    assert_input_error(&run(&["penalty", "--weights", "/nonexistent.safetensors", "--reg", "l2=1"]), "/nonexistent.safetensors");
    assert_input_error(&run(&["penalty", "--weights", ws, "--reg", "l2-init=1"]), "needs the initial weights");
    assert_input_error(&run(&["penalty", "--weights", ws, "--reg", "nope=1"]), "unknown regularizer");
    assert_input_error(&run(&["penalty", "--weights", ws, "--reg", "l2=-3"]), "non-negative");
    assert_input_error(&run(&["penalty", "--weights", ws, "--reg", "l2=1", "--select", "zzz*"]), "no tensor");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}xxxxxxx").unwrap();
    assert_input_error(&run(&["penalty", "--weights", junk.to_str().unwrap(), "--reg", "l2=1"]), "junk.safetensors");
}

#[test]
fn the_cnn_trains_on_digits_under_a_conv_regularizer_and_saves_pytorch_conv_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cnn");
    let o = run(&[
        "train",
        "--data",
        "digits",
        "--model",
        "cnn",
        "--epochs",
        "15",
        "--lr",
        "3e-3",
        "--batch",
        "32",
        "--reg",
        "soft-orth=1e-4",
        "--reg",
        "spectral=1e-3",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let acc = test_accuracy(&o);
    assert!(acc >= 0.95, "{acc}");
    let t = reglab_train::tensorfile::read(&out.join("model.safetensors")).unwrap();
    let shape = |n: &str| t.iter().find(|x| x.name == n).map(|x| x.shape.clone()).unwrap();
    assert_eq!(shape("convs.0.weight"), vec![16, 1, 3, 3]);
    assert_eq!(shape("convs.1.weight"), vec![32, 16, 3, 3]);
    assert_eq!(shape("head.weight"), vec![10, 32 * 2 * 2]);
    // both regularizers acted on the conv kernels, read as [out, in·kh·kw]
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(m["epochs"][14]["reg"]["soft-orth"].as_f64().unwrap() > 0.0);
    let p =
        run(&["penalty", "--weights", out.join("model.safetensors").to_str().unwrap(), "--reg", "soft-orth=1e-4", "--select", "convs.*", "--json"]);
    assert!(p.status.success(), "{}", stderr(&p));
    let v: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    assert_eq!(v["terms"].as_array().unwrap().len(), 2, "two conv kernels (biases are 1-D)");
}

#[test]
fn reparameterized_runs_save_effective_weights_under_pytorch_names() {
    let dir = tempfile::tempdir().unwrap();
    for (r, sub) in [("spectral-norm", "sn"), ("weight-norm", "wn"), ("multipliers:rowcol", "mu"), ("lawn:free=2:layers=1", "lawn")] {
        let out = dir.path().join(sub);
        let o = run(&["train", "--data", "digits", "--model", "mlp:64", "--epochs", "4", "--reparam", r, "--out", out.to_str().unwrap(), "-q"]);
        assert!(o.status.success(), "{r}: {}", stderr(&o));
        assert!(test_accuracy(&o) > 0.8, "{r}: {}", stdout(&o));
        let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(cfg.contains(&format!("reparam = \"{r}\"")), "{cfg}");
        let t = reglab_train::tensorfile::read(&out.join("model.safetensors")).unwrap();
        let mut names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"], "{r}");
        if r == "spectral-norm" {
            // W = P/σ(P) with one power-iteration step per update: σ_max(W) ≈ 1 for each layer
            // (a little above when the top of the spectrum is flat: the iteration lags)
            let o = run(&["inspect", "--json", out.join("model.safetensors").to_str().unwrap()]);
            let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
            for row in rows.iter().filter(|r| !r["sigma_max"].is_null()) {
                let s = row["sigma_max"].as_f64().unwrap();
                assert!((0.99..1.25).contains(&s), "{}: σ_max {s}", row["name"]);
            }
        }
    }
    let o = run(&["train", "--data", "digits", "--reparam", "batch-norm"]);
    common::assert_input_error_all(&o, &["unknown reparameterization `batch-norm`", "weight-norm"]);
}

#[test]
fn pruned_runs_save_exactly_the_target_zeros_and_still_classify() {
    let dir = tempfile::tempdir().unwrap();
    // mlp:128 on digits: 128·64 + 10·128 = 9472 weights; 90 %: round(8524.8) = 8525 zeros
    for (spec, sub, canonical) in [
        ("magnitude:sparsity=0.9:at=2", "mag", "magnitude:sparsity=0.9:scope=global:at=2"),
        (
            "magnitude:sparsity=0.9:scope=layer:schedule=gradual:start=1:end=3",
            "grad",
            "magnitude:sparsity=0.9:scope=layer:schedule=gradual:start=1:end=3",
        ),
        ("random:sparsity=0.9:density=erk", "rand", "random:sparsity=0.9:density=erk"),
    ] {
        let out = dir.path().join(sub);
        // a random mask from the start learns slower than a network pruned after training
        let epochs = if sub == "rand" { "10" } else { "4" };
        let o = run(&["train", "--data", "digits", "--prune", spec, "--epochs", epochs, "--lr", "3e-3", "--out", out.to_str().unwrap(), "-q"]);
        assert!(o.status.success(), "{spec}: {}", stderr(&o));
        let acc = test_accuracy(&o);
        eprintln!("digits mlp:128 --prune {spec}: test_accuracy={acc}");
        assert!(acc > 0.8, "{spec}: {}", stdout(&o));
        let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(cfg.contains(&format!("prune = \"{canonical}\"")), "{cfg}");
        let t = reglab_train::tensorfile::read(&out.join("model.safetensors")).unwrap();
        let weights: Vec<_> = t.iter().filter(|t| t.name.ends_with(".weight")).collect();
        let n: usize = weights.iter().map(|t| t.data.len()).sum();
        let zeros: usize = weights.iter().map(|t| t.data.iter().filter(|&&x| x == 0.0).count()).sum();
        assert_eq!((zeros, n), (8525, 9472), "{spec}");
        let bias_zeros: usize = t.iter().filter(|t| t.name.ends_with(".bias")).map(|t| t.data.iter().filter(|&&x| x == 0.0).count()).sum();
        assert_eq!(bias_zeros, 0, "{spec}: biases are not pruned");
        // the initial weights: pruned for a random mask (drawn at initialisation), dense otherwise
        let init = reglab_train::tensorfile::read(&out.join("init.safetensors")).unwrap();
        let init_zeros: usize = init.iter().filter(|t| t.name.ends_with(".weight")).map(|t| t.data.iter().filter(|&&x| x == 0.0).count()).sum();
        assert_eq!(init_zeros, if sub == "rand" { 8525 } else { 0 }, "{spec}");
        // metrics.json: the sparsity per epoch (gradual: 0, then the cubic schedule from epoch 2)
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        let sp: Vec<f64> = m["epochs"].as_array().unwrap().iter().map(|e| e["sparsity"].as_f64().unwrap()).collect();
        let full = 8525.0 / 9472.0;
        match sub {
            "mag" => assert_eq!(sp, [0.0, full, full, full]),
            "grad" => {
                // s_2 = 0.9(1 − (1 − 1/2)³) = 0.7875 → round(0.7875·9472) = 7459 zeros
                assert_eq!(sp, [0.0, 7459.0 / 9472.0, full, full]);
            }
            _ => assert_eq!(sp, [full; 10]),
        }
        // reglab inspect's footer counts the same zeros
        let o = run(&["inspect", out.join("model.safetensors").to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let footer = stdout(&o).lines().last().unwrap_or("").to_string();
        assert_eq!(footer, format!("weights (rank ≥ 2): 8525 of 9472 entries are 0, sparsity {:.4}", full));
    }
    for (bad, want) in [
        ("magnitude:sparsity=0.9", "needs `at=E`"),
        ("magnitude:sparsity=1.5:at=1", "[0, 1)"),
        ("lottery:sparsity=0.5", "unknown pruning method `lottery`"),
        ("random:sparsity=0.5:density=snip", "`density`"),
    ] {
        let o = run(&["train", "--data", "digits", "--prune", bad, "--out", dir.path().join("bad").to_str().unwrap()]);
        common::assert_input_error_all(&o, &["bad pruning spec", want]);
    }
    let o = run(&[
        "train",
        "--data",
        "digits",
        "--prune",
        "random:sparsity=0.5",
        "--reparam",
        "weight-norm",
        "--out",
        dir.path().join("both").to_str().unwrap(),
    ]);
    common::assert_input_error_all(&o, &["cannot be combined with a reparameterization"]);
}

#[test]
fn fish_runs_change_only_the_kept_entries() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fish");
    let o = run(&["train", "--data", "digits", "--prune", "fish:keep=0.1:samples=256", "--epochs", "5", "--out", out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let acc = test_accuracy(&o);
    eprintln!("digits mlp:128 --prune fish:keep=0.1:samples=256, 5 epochs: test_accuracy={acc}");
    assert!(acc > 0.5, "{}", stdout(&o));
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(cfg.contains("prune = \"fish:keep=0.1:samples=256:at=0:biases=true\""), "{cfg}");
    // mlp:128 on digits: 64·128 + 128 + 128·10 + 10 = 9610 parameters, round(961.0) = 961 train;
    // the rest keep their initial values exactly (frozen, not zeroed)
    let init = reglab_train::tensorfile::read(&out.join("init.safetensors")).unwrap();
    let model = reglab_train::tensorfile::read(&out.join("model.safetensors")).unwrap();
    assert_eq!(init.len(), model.len());
    let (mut n, mut changed) = (0, 0);
    for (a, b) in init.iter().zip(&model) {
        assert_eq!(a.name, b.name);
        n += a.data.len();
        changed += a.data.iter().zip(&b.data).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
    }
    assert_eq!(n, 9610);
    assert!((900..=961).contains(&changed), "{changed} entries changed, at most 961 may");
    let zeros: usize = model.iter().map(|t| t.data.iter().filter(|&&x| x == 0.0).count()).sum();
    assert!(zeros < 10, "fish zeroes nothing: {zeros}");
    for (bad, want) in [
        ("fish:keep=0", "(0, 1]"),
        ("fish:keep=0.1:samples=0", "`samples`"),
        ("fish:sparsity=0.9", "`keep=K`"),
        ("fish:keep=0.00001", "train no entry"),
    ] {
        let o = run(&["train", "--data", "digits", "--prune", bad, "--out", dir.path().join("bad").to_str().unwrap()]);
        common::assert_input_error(&o, want);
    }
}

/// The terms on the logits, the inputs and the forward pass, from `reglab train` on the digits:
/// each trains to a usable network, reports its value where it has one, and the listing and the
/// penalty command know them.
#[test]
fn output_data_and_stochastic_terms_train_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let arms: &[(&[&str], Option<&str>)] = &[
        (&["--reg", "label-smoothing=0.1"], Some("label-smoothing")),
        (&["--reg", "confidence-penalty=0.1"], Some("confidence-penalty")),
        (&["--reg", "spectral-decoupling=0.01"], Some("spectral-decoupling")),
        (&["--reg", "elr=3"], Some("elr")),
        (&["--reg", "mixup=0.2"], Some("mixup")),
        (&["--reg", "input-noise=0.05", "--reg", "dropout=0.2"], None),
        (&["--reg", "mixout=0.1"], None),
        (&["--reg", "sam=0.05"], None),
        (&["--reg", "amp=0.1"], None),
        (&["--reg", "grad-norm=0.01"], Some("grad-norm")),
        (&["--reg", "cutout=2", "--model", "cnn:8"], None),
    ];
    for (i, (arm, reported)) in arms.iter().enumerate() {
        let out = dir.path().join(format!("arm{i}"));
        let mut args = vec!["train", "--data", "digits", "--epochs", "8", "--lr", "3e-3", "--batch", "32", "-q", "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(arm);
        if !arm.contains(&"--model") {
            args.extend_from_slice(&["--model", "mlp:128"]);
        }
        let o = run(&args);
        assert!(o.status.success(), "{arm:?}: {}", stderr(&o));
        let acc = test_accuracy(&o);
        // (the small CNN learns the 8×8 digits more slowly than the MLP)
        assert!(acc >= if arm.contains(&"--model") { 0.5 } else { 0.8 }, "{arm:?}: {acc}");
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        if let Some(name) = reported {
            assert!(m["epochs"][7]["reg"][name].as_f64().is_some_and(f64::is_finite), "{name} in {}", m["epochs"][7]["reg"]);
        }
    }
    let o = run(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for n in ["elr", "label-smoothing", "cutout", "mixup", "dropout", "mixout", "amp", "sam", "grad-norm"] {
        assert!(v.as_array().unwrap().iter().any(|e| e["name"] == n), "{n} missing from reglab list");
    }
    let w = dir.path().join("arm0/model.safetensors");
    for spec in ["elr=3", "cutout=4", "dropout=0.5"] {
        let o = run(&["penalty", "--weights", w.to_str().unwrap(), "--reg", spec]);
        assert_eq!(o.status.code(), Some(2), "{spec}");
        assert!(stderr(&o).contains("not on tensors"), "{spec}: {}", stderr(&o));
    }
    let o = run(&["train", "--data", "digits", "--reg", "cutout=4:holes=0", "--out", dir.path().join("bad").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("holes") && !dir.path().join("bad").exists(), "{}", stderr(&o));
}
