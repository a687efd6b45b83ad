//! End-to-end tests of `reglab run`: the files of a run, determinism across `--jobs`, a run
//! killed with SIGKILL and resumed, and bad experiment files (exit code 2, one line naming the
//! key, nothing written).

mod common;

use common::experiments::{adversarial_experiment, experiment, inverse_experiment, lasso_path_experiment, ot_sparse_experiment, recovery_experiment};
use common::{assert_input_error_all as assert_input_error, reglab, stderr};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// `reglab run EXP --out OUT --quiet` plus `extra`.
fn run(exp: &Path, out: &Path, extra: &[&str]) -> Output {
    reglab().arg("run").arg(exp).arg("--out").arg(out).arg("--quiet").args(extra).output().expect("run reglab")
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}, stderr: {}", o.status.code(), stderr(o));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Data rows of a results.csv (0 if it does not exist or is being replaced).
fn csv_rows(p: &Path) -> usize {
    std::fs::read_to_string(p).map(|s| s.lines().count().saturating_sub(1)).unwrap_or(0)
}

/// Each `(name, text, want)`: the file `NAME.toml` holding `text` is an input error whose one
/// line contains each of `want` and names the file, and its run directory is not created.
fn assert_bad_files_write_nothing(dir: &Path, cases: &[(&str, String, Vec<&str>)]) {
    for (name, text, want) in cases {
        let exp = write(dir, &format!("{name}.toml"), text);
        let out = dir.join(format!("out-{name}"));
        let o = run(&exp, &out, &[]);
        assert_input_error(&o, want);
        assert!(stderr(&o).contains(&format!("{name}.toml")), "the file is named: {}", stderr(&o));
        assert!(!out.exists(), "{name}: {} was created", out.display());
    }
}

/// Each `(extra arguments, want)` on the good file `exp` is an input error naming each of `want`,
/// and the run directory is not created.
fn assert_bad_flags_write_nothing(dir: &Path, exp: &Path, cases: &[(&[&str], &[&str])]) {
    for (extra, want) in cases {
        let out = dir.join("out-set");
        assert_input_error(&run(exp, &out, extra), want);
        assert!(!out.exists(), "{extra:?}");
    }
}

/// `results.json`, `results.csv` and `config.toml` are the same bytes in run directories `a`
/// and `b` (e.g. runs with different `--jobs`).
fn assert_same_results(a: &Path, b: &Path) {
    for f in ["results.json", "results.csv", "config.toml"] {
        assert!(read(&a.join(f)) == read(&b.join(f)), "{f} differs between {} and {}", a.display(), b.display());
    }
}

#[test]
fn a_run_writes_every_file_and_jobs_do_not_change_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", &experiment(3, 2));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run(&exp, &a, &["--jobs", "1"]);
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("report.html"));

    // config.toml: the resolved experiment
    let config = std::fs::read_to_string(a.join("config.toml")).unwrap();
    assert!(config.contains("name = \"tiny\"") && config.contains("tasks = 3") && config.contains("spectral=1e-2"), "{config}");

    // results.json: arms × seeds × tasks rows, sorted, with every metric
    let v: serde_json::Value = serde_json::from_slice(&read(&a.join("results.json"))).unwrap();
    assert_eq!(v["name"], "tiny");
    assert_eq!(v["arms"], serde_json::json!(["none", "spectral"]));
    assert_eq!(v["seeds"], serde_json::json!([0, 1]));
    assert_eq!(v["tasks"], 3);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 2 * 3);
    let keys: Vec<(String, u64, u64)> =
        rows.iter().map(|r| (r["arm"].as_str().unwrap().to_string(), r["seed"].as_u64().unwrap(), r["task"].as_u64().unwrap())).collect();
    let mut want = Vec::new();
    for arm in ["none", "spectral"] {
        for seed in 0..2 {
            for task in 1..=3 {
                want.push((arm.to_string(), seed, task));
            }
        }
    }
    assert_eq!(keys, want);
    let metrics = [
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "sigma_max/layers.0.weight",
        "sigma_max/layers.1.weight",
        "weight_norm",
        "distance_to_init",
        "feature_effective_rank",
        "dead_fraction",
        "sparsity",
        "sparsity/layers.0.weight",
        "sparsity/layers.1.weight",
    ];
    for r in rows {
        let m = r["metrics"].as_object().unwrap();
        for k in metrics {
            assert!(m[k].as_f64().unwrap().is_finite(), "{k} in {r}");
        }
        let spectral = r["arm"] == "spectral";
        assert_eq!(m.contains_key("reg/spectral"), spectral, "{r}");
        assert_eq!(m.len(), metrics.len() + usize::from(spectral), "{r}");
        // random-label: the test set is the training set
        assert_eq!(m["train_accuracy"], m["test_accuracy"]);
    }

    // results.csv: header arm,seed,task + sorted metric names, one line per row
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let mut columns: Vec<&str> = metrics.to_vec();
    columns.push("reg/spectral");
    columns.sort();
    assert_eq!(csv.lines().next().unwrap(), format!("arm,seed,task,{}", columns.join(",")));
    assert_eq!(csv.lines().count(), 1 + 12);
    assert!(csv.lines().nth(1).unwrap().starts_with("none,0,1,"));

    // timing.json: one entry per job
    let t: serde_json::Value = serde_json::from_slice(&read(&a.join("timing.json"))).unwrap();
    assert!(t["total_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(t["jobs"], 1);
    assert_eq!(t["job_seconds"].as_array().unwrap().len(), 4);
    for j in t["job_seconds"].as_array().unwrap() {
        let (all, train) = (j["seconds"].as_f64().unwrap(), j["train_seconds"].as_f64().unwrap());
        assert!(train > 0.0 && train <= all, "{j}");
    }

    // report and plots
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("tiny") && html.contains("spectral"));
    // random labels: the "test" set is the training subset, said in the report, not plotted twice
    assert!(html.contains("no held-out measure"), "the random-label note");
    assert!(!a.join("plots/test_accuracy.png").exists(), "a duplicate of train_accuracy.png");
    for p in ["train_accuracy", "dead_fraction", "sigma_max_layers_0_weight", "reg_spectral"] {
        let png = read(&a.join("plots").join(format!("{p}.png")));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{p}.png");
        assert!(a.join("plots").join(format!("{p}.svg")).is_file(), "{p}.svg");
    }

    // checkpoints, one per job
    for arm in ["none", "spectral"] {
        for seed in 0..2 {
            assert!(a.join(format!("checkpoints/{arm}/seed-{seed}.safetensors")).is_file(), "{arm} {seed}");
        }
    }

    // --jobs 2: the same bytes
    assert_ok(&run(&exp, &b, &["--jobs", "2"]));
    assert_same_results(&a, &b);
    let t: serde_json::Value = serde_json::from_slice(&read(&b.join("timing.json"))).unwrap();
    assert_eq!(t["jobs"], 2);
}

#[test]
fn a_killed_run_resumes_to_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let (tasks, epochs) = (6, 6);
    let exp = write(dir.path(), "tiny.toml", &experiment(tasks, epochs));
    let total_rows = 2 * 2 * tasks;
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));

    // Start a run and SIGKILL it once the first job (arm `none`, seed 0) has finished and the
    // second has published a row: the resumed run must keep the finished job's rows too.
    let mut child = reglab()
        .arg("run")
        .arg(&exp)
        .arg("--out")
        .arg(&killed)
        .args(["--quiet", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn reglab");
    let t0 = Instant::now();
    loop {
        if csv_rows(&killed.join("results.csv")) > tasks {
            break;
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("reglab run ended ({s}) before it could be killed");
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no rows after 300 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let rows_at_kill = csv_rows(&killed.join("results.csv"));
    assert!(rows_at_kill < total_rows, "the run finished ({rows_at_kill} rows) before the kill: make it longer");
    assert!(killed.join("checkpoints/none/seed-0.safetensors").is_file());

    // Without --resume: an error that says to use it, and nothing changed.
    let before = read(&killed.join("results.csv"));
    assert_input_error(&run(&exp, &killed, &[]), &["--resume", "previous run"]);
    // --resume with another experiment: an error.
    assert_input_error(&run(&exp, &killed, &["--resume", "--set", "optim.lr=0.01"]), &["--resume", "differs"]);
    assert_input_error(&run(&exp, &killed, &["--resume", "--set", "arm.1.reg=[\"spectral=1e-3\"]"]), &["--resume", "differs"]);
    assert!(read(&killed.join("results.csv")) == before, "a refused resume changed results.csv");
    // --resume of a directory that holds no run: an error.
    assert_input_error(&run(&exp, &dir.path().join("nothing"), &["--resume"]), &["--resume", "config.toml"]);

    // Resume (with another --jobs: allowed) and compare with an uninterrupted run.
    assert_ok(&run(&exp, &killed, &["--resume", "--jobs", "2"]));
    assert_ok(&run(&exp, &whole, &["--jobs", "2"]));
    assert_eq!(csv_rows(&killed.join("results.csv")), total_rows);
    for f in ["results.json", "results.csv", "config.toml"] {
        assert!(read(&killed.join(f)) == read(&whole.join(f)), "{f} differs after kill + --resume");
    }
    assert!(killed.join("report.html").is_file());

    // Resuming a finished run trains nothing and leaves the same results.
    assert_ok(&run(&exp, &killed, &["--resume"]));
    for f in ["results.json", "results.csv"] {
        assert!(read(&killed.join(f)) == read(&whole.join(f)), "{f} differs after resuming a finished run");
    }
}

#[test]
fn bad_experiment_files_are_input_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = experiment(3, 2);
    let no_arms = good[..good.find("[[arm]]").unwrap()].to_string();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("unknown-key", format!("colour = \"red\"\n{good}"), vec!["unknown field", "`colour`"]),
        ("unknown-optim-key", good.replace("batch = 32", "batch = 32\nlrr = 1"), vec!["unknown field", "`lrr`", "optim"]),
        ("wrong-type", good.replace("lr = 3e-3", "lr = \"x\""), vec!["invalid type", "optim.lr"]),
        ("negative-tasks", good.replace("tasks = 3", "tasks = -1"), vec!["stream.tasks"]),
        ("unknown-reg", good.replace("spectral=1e-2", "nope=1"), vec!["arm[1].reg", "nope"]),
        ("negative-reg", good.replace("spectral=1e-2", "spectral=-1"), vec!["arm[1].reg"]),
        ("empty-arms", no_arms, vec!["[[arm]]"]),
        ("zero-tasks", good.replace("tasks = 3", "tasks = 0"), vec!["stream.tasks"]),
        ("zero-epochs", good.replace("epochs_per_task = 2", "epochs_per_task = 0"), vec!["stream.epochs_per_task"]),
        ("stream-kind", good.replace("random-label", "shuffled"), vec!["stream.kind", "shuffled"]),
        ("duplicate-arm", good.replace("name = \"spectral\"", "name = \"none\""), vec!["arm[1].name", "`none`"]),
        ("malformed", good.replace("[optim]", "[optim"), vec!["TOML parse error", "line"]),
    ];
    assert_bad_files_write_nothing(dir.path(), &cases);

    // a missing file
    let out = dir.path().join("out-missing");
    let o = run(&dir.path().join("missing.toml"), &out, &[]);
    assert_input_error(&o, &["missing.toml"]);
    assert!(!out.exists());

    // bad command-line values: an out-of-range arm index, a new key, --jobs 0
    let exp = write(dir.path(), "good.toml", &good);
    assert_bad_flags_write_nothing(
        dir.path(),
        &exp,
        &[
            (&["--set", "arm.2.reg=[]"][..], &["arm.2.reg", "out of range"][..]),
            (&["--set", "optim.foo=1"], &["unknown field", "`foo`"]),
            (&["--set", "stream.tasks=0"], &["stream.tasks"]),
            (&["--jobs", "0"], &["--jobs"]),
        ],
    );
}

#[test]
fn spectrum_and_binarized_probes_and_per_arm_reparameterizations() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(1, 3)
        .replace("examples = 100", "examples = 100\nspectrum = true\nbinarize = true")
        .replace("kind = \"random-label\"", "kind = \"single\"")
        .replace("reg = [\"spectral=1e-2\"]", "reg = [\"spectral=1e-2\"]\nreparam = \"spectral-norm\"");
    let exp = write(dir.path(), "probes.toml", &text);
    let out = dir.path().join("out");
    assert_ok(&run(&exp, &out, &[]));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for key in ["eff_rank/layers.0.weight", "orth_gap/layers.1.weight", "test_accuracy_binarized", "train_accuracy_binarized"] {
        assert!(header.contains(&key), "{key} not in {header:?}");
    }
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<f64>> = csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap_or(f64::NAN)).collect()).collect();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let b = r[col("test_accuracy_binarized")];
        assert!((0.0..=1.0).contains(&b), "{b}");
        assert!(r[col("eff_rank/layers.0.weight")] >= 1.0);
    }
    // the spectral-norm arm's weights have σ_max ≈ 1: one power-iteration step per update
    // underestimates σ_max(P) while the top of the spectrum is flat (SN flattens it), so W's
    // σ_max sits a little above 1 (1.16 here after 21 updates), far below the free arm's
    let resolved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(resolved.contains("reparam = \"spectral-norm\""), "{resolved}");
    let sig: Vec<f64> = csv
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("spectral,"))
        .map(|l| l.split(',').nth(col("sigma_max/layers.0.weight")).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sig.len(), 2);
    for s in sig {
        assert!((0.99..1.25).contains(&s), "σ_max {s}");
    }
}

#[test]
fn pruned_arms_report_sparsity_checkpoint_their_masks_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    // epochs count over the stream: at=3 is the first epoch of task 2
    let text = experiment(2, 2).replace(
        "name = \"spectral\"\nreg = [\"spectral=1e-2\"]",
        "name = \"pruned\"\nprune = \"magnitude:sparsity=0.8:scope=layer:at=3\"\n\n[[arm]]\nname = \"random\"\nprune = \"random:sparsity=0.5\"",
    );
    let exp = write(dir.path(), "prune.toml", &text);
    let out = dir.path().join("out");
    assert_ok(&run(&exp, &out, &[]));
    let v: serde_json::Value = serde_json::from_slice(&read(&out.join("results.json"))).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 2 * 2);
    // mlp:32 on digits: 32·64 + 10·32 = 2368 weights
    for r in rows {
        let m = &r["metrics"];
        let (arm, task) = (r["arm"].as_str().unwrap(), r["task"].as_u64().unwrap());
        let got = (m["sparsity"].as_f64().unwrap(), m["sparsity/layers.0.weight"].as_f64().unwrap(), m["sparsity/layers.1.weight"].as_f64().unwrap());
        match (arm, task) {
            // 0.8 per layer: 1638.4 → 1638 of 2048, 256 of 320; 1894 = round(0.8·2368)
            ("pruned", 2) => assert_eq!(got, (1894.0 / 2368.0, 1638.0 / 2048.0, 256.0 / 320.0)),
            ("random", _) => assert_eq!(got.0, 1184.0 / 2368.0, "{r}"),
            _ => assert_eq!(got, (0.0, 0.0, 0.0), "{r}"),
        }
    }
    // the job checkpoint holds the masks (names in the safetensors JSON header)
    for (arm, has) in [("pruned", true), ("random", true), ("none", false)] {
        let bytes = read(&out.join(format!("checkpoints/{arm}/seed-0.safetensors")));
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = String::from_utf8_lossy(&bytes[8..8 + header_len]);
        for layer in ["layers.0", "layers.1"] {
            assert_eq!(header.contains(&format!("\"reg/prune/{layer}.mask\"")), has, "{arm}: {header}");
        }
    }
    // resuming the finished run restores every job's masks and changes nothing
    let before = read(&out.join("results.csv"));
    assert_ok(&run(&exp, &out, &["--resume"]));
    assert!(read(&out.join("results.csv")) == before);
    // a bad spec names the arm's key
    let bad = write(dir.path(), "bad.toml", &text.replace("sparsity=0.5", "sparsity=5"));
    assert_input_error(&run(&bad, &dir.path().join("out-bad"), &[]), &["arm[2].prune", "[0, 1)"]);
}

#[test]
fn fish_arms_checkpoint_masks_and_samples_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(2, 2).replace("name = \"spectral\"\nreg = [\"spectral=1e-2\"]", "name = \"fish\"\nprune = \"fish:keep=0.2:samples=64\"");
    let exp = write(dir.path(), "fish.toml", &text);
    let out = dir.path().join("out");
    assert_ok(&run(&exp, &out, &[]));
    let v: serde_json::Value = serde_json::from_slice(&read(&out.join("results.json"))).unwrap();
    for r in v["rows"].as_array().unwrap() {
        // frozen, not zeroed
        assert_eq!(r["metrics"]["sparsity"].as_f64().unwrap(), 0.0, "{r}");
    }
    let bytes = read(&out.join("checkpoints/fish/seed-0.safetensors"));
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&bytes[8..8 + header_len]);
    for name in [
        "reg/prune/layers.0.mask",
        "reg/prune/layers.0.bias.mask",
        "reg/prune/layers.1.mask",
        "reg/prune/layers.1.bias.mask",
        "reg/prune/fish.samples",
    ] {
        assert!(header.contains(&format!("\"{name}\"")), "{name}: {header}");
    }
    let before = read(&out.join("results.csv"));
    assert_ok(&run(&exp, &out, &["--resume"]));
    assert!(read(&out.join("results.csv")) == before);
    let bad = write(dir.path(), "bad.toml", &text.replace("keep=0.2", "keep=2"));
    assert_input_error(&run(&bad, &dir.path().join("out-bad"), &[]), &["arm[1].prune", "(0, 1]"]);
}

#[test]
fn a_recovery_run_writes_its_files_whatever_the_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "rec.toml", &recovery_experiment());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run(&exp, &a, &["--jobs", "2"]);
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("50% at M/N") && stdout.contains("linf") && stdout.contains("report.html"), "{stdout}");
    for f in [
        "config.toml",
        "results.json",
        "results.csv",
        "timing.json",
        "report.html",
        "plots/success.png",
        "plots/success.svg",
        "plots/exact.png",
        "plots/exact.svg",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    assert_eq!(&read(&a.join("plots/success.png"))[..8], b"\x89PNG\r\n\x1a\n");
    let config = std::fs::read_to_string(a.join("config.toml")).unwrap();
    assert!(config.contains("kind = \"cs-recovery\"") && config.contains("restarts = 2") && config.contains("t = 10.0"), "{config}");
    // one row per method and ratio, in file order
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("method,ratio,m,successes,trials,rate,mean_iterations,mean_residual"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 3 * 2);
    let keys: Vec<String> = lines[1..].iter().map(|l| l.split(',').take(3).collect::<Vec<_>>().join(",")).collect();
    assert_eq!(keys, ["cs,0.3,9", "cs,1,30", "box,0.3,9", "box,1,30", "linf,0.3,9", "linf,1,30"]);
    // at M = N every method recovers every trial
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[4], "3", "{l}");
        if f[1] == "1" {
            assert_eq!((f[3], f[5]), ("3", "1"), "{l}");
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&read(&a.join("results.json"))).unwrap();
    assert_eq!(v["methods"], serde_json::json!(["cs", "box", "linf"]));
    assert_eq!(v["crossings"].as_array().unwrap().len(), 3);
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("tiny-recovery") && html.contains("50 % crossing"));

    // one thread: the same bytes
    assert_ok(&run(&exp, &b, &["--jobs", "1"]));
    assert_same_results(&a, &b);
    // --set applies
    let c = dir.path().join("c");
    assert_ok(&run(&exp, &c, &["--set", "problem.trials=2", "--set", "method.1.label=box-relaxation"]));
    let csv = std::fs::read_to_string(c.join("results.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.split(',').nth(4) == Some("2")), "{csv}");
    assert!(csv.contains("\nbox-relaxation,0.3,9,"), "{csv}");
}

#[test]
fn bad_recovery_files_are_input_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = recovery_experiment();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("rec-unknown-key", good.replace("trials = 3", "trials = 3\ncolour = 1"), vec!["unknown field", "`colour`"]),
        ("rec-zero-n", good.replace("n = 30", "n = 0"), vec!["problem.n"]),
        ("rec-zero-trials", good.replace("trials = 3", "trials = 0"), vec!["problem.trials"]),
        ("rec-ratio", good.replace("[0.3, 1.0]", "[0.3, 2.5]"), vec!["problem.ratios[1]", "(0, 2]"]),
        ("rec-lambda", good.replace("lambda = 1e-3", "lambda = -1.0"), vec!["method[0].lambda"]),
        ("rec-lambda-missing", good.replace("lambda = 1e-3\n", ""), vec!["method[0].lambda", "required"]),
        ("rec-method", good.replace("name = \"box\"", "name = \"lasso\""), vec!["method[1].name", "lasso"]),
        ("rec-foreign-key", good.replace("name = \"box\"", "name = \"box\"\nlambda = 1.0"), vec!["method[1].lambda", "box"]),
        ("rec-kind", good.replace("kind = \"cs-recovery\"", "kind = \"recovery\""), vec!["`kind`", "cs-recovery", "train"]),
        ("rec-malformed", good.replace("[problem]", "[problem"), vec!["TOML parse error", "line"]),
    ];
    assert_bad_files_write_nothing(dir.path(), &cases);
    let exp = write(dir.path(), "rec-good.toml", &good);
    assert_bad_flags_write_nothing(
        dir.path(),
        &exp,
        &[
            (&["--set", "problem.trials=0"][..], &["problem.trials"][..]),
            (&["--set", "method.5.lambda=1"], &["method.5.lambda", "out of range"]),
            (&["--set", "problem.foo=1"], &["unknown field", "`foo`"]),
            (&["--jobs", "0"], &["--jobs"]),
            (&["--resume"], &["--resume", "cs-recovery"]),
        ],
    );
}

#[test]
fn a_lasso_path_run_writes_its_files_whatever_the_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "lasso.toml", &lasso_path_experiment());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run(&exp, &a, &["--jobs", "2"]);
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("λ_max") && stdout.contains("fista") && stdout.contains("lasso (reference)") && stdout.contains("report.html"),
        "{stdout}"
    );
    for f in [
        "config.toml",
        "results.json",
        "results.csv",
        "timing.json",
        "report.html",
        "plots/l1_norm.png",
        "plots/l1_norm.svg",
        "plots/zeros.png",
        "plots/zeros.svg",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    assert_eq!(&read(&a.join("plots/zeros.png"))[..8], b"\x89PNG\r\n\x1a\n");
    let config = std::fs::read_to_string(a.join("config.toml")).unwrap();
    assert!(config.contains("kind = \"lasso-path\"") && config.contains("rule = \"constant\"") && config.contains("tol = 0.000001"), "{config}");
    // one row per method and λ, then the reference's
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("method,lambda,l1_norm,zeros,small,objective,objective_gap,iterations,converged,kkt"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 3 * 3);
    let field = |l: &str, i: usize| l.split(',').nth(i).unwrap().to_string();
    let keys: Vec<String> = lines[1..].iter().map(|l| format!("{},{}", field(l, 0), field(l, 1))).collect();
    assert_eq!(
        keys,
        [
            "subgradient,0.01",
            "subgradient,0.1",
            "subgradient,10",
            "fista,0.01",
            "fista,0.1",
            "fista,10",
            "lasso (reference),0.01",
            "lasso (reference),0.1",
            "lasso (reference),10"
        ]
    );
    for l in &lines[1..] {
        let zeros: usize = field(l, 3).parse().unwrap();
        match field(l, 0).as_str() {
            "subgradient" => assert_eq!((zeros, field(l, 8).as_str()), (0, ""), "{l}"),
            _ => {
                assert!(zeros > 0 && field(l, 8) == "true", "{l}");
                if field(l, 1) == "10" {
                    assert_eq!((zeros, field(l, 2).as_str()), (40, "0"), "above λ_max the lasso solution is 0: {l}");
                }
            }
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&read(&a.join("results.json"))).unwrap();
    assert_eq!(v["methods"].as_array().unwrap().len(), 2);
    assert!(v["lambda_max"].as_f64().unwrap() < 10.0);
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("tiny-lasso") && html.contains("plots/l1_norm.png"));

    // one thread: the same bytes
    assert_ok(&run(&exp, &b, &["--jobs", "1"]));
    assert_same_results(&a, &b);
    // --set applies
    let c = dir.path().join("c");
    assert_ok(&run(&exp, &c, &["--set", "path.lambdas=[0.5]", "--set", "method.1.label=accelerated"]));
    let csv = std::fs::read_to_string(c.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    assert!(csv.contains("\naccelerated,0.5,"), "{csv}");
}

#[test]
fn bad_lasso_path_files_are_input_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = lasso_path_experiment();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("lp-unknown-key", good.replace("seed = 2", "seed = 2\ncolour = 1"), vec!["unknown field", "`colour`"]),
        ("lp-k", good.replace("k = 4", "k = 41"), vec!["problem.k", "d = 40"]),
        ("lp-lambdas", good.replace("[0.01, 0.1, 10.0]", "[0.1, 0.01]"), vec!["path.lambdas", "increasing"]),
        ("lp-method", good.replace("name = \"fista\"", "name = \"lars\""), vec!["method[1].name", "lars"]),
        ("lp-foreign-key", good.replace("name = \"fista\"", "name = \"fista\"\nrule = \"sqrt\""), vec!["method[1].rule", "fista"]),
        ("lp-step", good.replace("iterations = 500", "iterations = 500\nstep = -1.0"), vec!["method[0].step"]),
        ("lp-kind", good.replace("kind = \"lasso-path\"", "kind = \"lasso\""), vec!["`kind`", "lasso-path", "cs-recovery", "train"]),
    ];
    assert_bad_files_write_nothing(dir.path(), &cases);
    let exp = write(dir.path(), "lp-good.toml", &good);
    assert_bad_flags_write_nothing(
        dir.path(),
        &exp,
        &[
            (&["--set", "problem.n=0"][..], &["problem.n"][..]),
            (&["--set", "method.4.step=1"], &["method.4.step", "out of range"]),
            (&["--jobs", "0"], &["--jobs"]),
            (&["--resume"], &["--resume", "lasso-path"]),
        ],
    );
    // reglab report merges shards of cells only for the solver kinds; it names what is not one
    let out = dir.path().join("merged");
    let o =
        reglab().args(["report", exp.to_str().unwrap(), "--from", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    assert_input_error(&o, &["not a shard", "reglab run --cell"]);
    assert!(!out.exists());
}

#[test]
fn a_device_the_build_cannot_use_is_an_input_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "e.toml", &experiment(1, 1));
    let out = dir.path().join("out");
    let o = run(&exp, &out, &["--device", "tpu"]);
    assert_input_error(&o, &["tpu"]);
    assert!(!out.exists());
    if !cfg!(feature = "gpu") {
        let o = run(&exp, &out, &["--device", "gpu"]);
        assert_input_error(&o, &["gpu"]);
        assert!(!out.exists(), "nothing written");
    }
}

#[test]
fn a_report_merged_from_runs_of_parts_equals_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let full_text = experiment(2, 1);
    let full = write(dir.path(), "tiny.toml", &full_text);
    // the same experiment split by arm: each part holds one arm
    let split = full_text.find("[[arm]]\nname = \"spectral\"").unwrap();
    let none = write(dir.path(), "none.toml", &full_text[..split]);
    let spectral = write(dir.path(), "spectral.toml", &format!("{}{}", &full_text[..full_text.find("[[arm]]").unwrap()], &full_text[split..]));
    let (a, b, c, m) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"), dir.path().join("m"));
    for (exp, out) in [(&full, &c), (&none, &a), (&spectral, &b)] {
        assert_ok(&run(exp, out, &[]));
    }
    let report = |from: &[&Path], out: &Path| {
        let mut cmd = reglab();
        cmd.arg("report").arg(&full).arg("--out").arg(out);
        for f in from {
            cmd.arg("--from").arg(f);
        }
        cmd.output().unwrap()
    };
    // a run directory and a results.csv: the merged files equal the full run's, byte for byte
    let o = report(&[&a, &b.join("results.csv")], &m);
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("8 rows of 4 jobs from 2 runs"), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(read(&m.join("results.csv")), read(&c.join("results.csv")));
    assert_eq!(read(&m.join("results.json")), read(&c.join("results.json")));
    assert!(m.join("report.html").exists() && m.join("plots/train_accuracy.png").exists());
    // one part only: the missing jobs are listed
    let o = report(&[&a], &dir.path().join("m1"));
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no rows for 2 jobs: spectral s0, spectral s1"));
    // the same rows twice, a foreign experiment, into a run directory: input errors / refusal
    let o = report(&[&a, &a], &dir.path().join("m2"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is in both") && !dir.path().join("m2").exists(), "{}", stderr(&o));
    let other = write(dir.path(), "other.toml", &full_text.replace("name = \"spectral\"", "name = \"l2\""));
    let o = reglab().arg("report").arg(&other).arg("--from").arg(&b).arg("--out").arg(dir.path().join("m3")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("arm `spectral` is not an arm of experiment `tiny`"), "{}", stderr(&o));
    let o = report(&[&a, &b], &c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds a run"), "{}", stderr(&o));
}

/// Digits with 50 % symmetric label noise, a row per epoch, plain CE against ELR.
fn noisy_experiment(epochs: usize) -> String {
    format!(
        r#"name = "noisy"
seeds = [0, 1]

[data]
source = "digits"
subset = 400
label_noise = 0.5

[model]
kind = "mlp"
hidden = [32]

[optim]
kind = "adam"
lr = 3e-3
batch = 32

[stream]
kind = "single"
tasks = 1
epochs_per_task = {epochs}

[probe]
examples = 100
every = "epoch"

[[arm]]
name = "ce"

[[arm]]
name = "elr"
reg = ["elr=3:beta=0.7"]
"#
    )
}

#[test]
fn label_noise_with_a_row_per_epoch_reports_the_fit_of_the_noise_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let epochs = 12;
    let exp = write(dir.path(), "noisy.toml", &noisy_experiment(epochs));
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));
    assert_ok(&run(&exp, &whole, &["--jobs", "2"]));
    let v: serde_json::Value = serde_json::from_slice(&read(&whole.join("results.json"))).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 2 * epochs, "a row per epoch");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["task"].as_u64().unwrap() as usize, i % epochs + 1);
        let m = &r["metrics"];
        // 200 of 400 labels redrawn uniformly over 10 classes: ≈ 180 changed (the same every epoch)
        let noisy = m["noisy_fraction"].as_f64().unwrap();
        assert!((0.40..0.50).contains(&noisy), "{noisy}");
        for k in ["noisy_memorized", "noisy_true_predicted", "clean_train_accuracy", "test_accuracy", "reg/elr"] {
            if k != "reg/elr" || r["arm"] == "elr" {
                assert!(m[k].as_f64().is_some_and(f64::is_finite), "{k} in {r}");
            }
        }
        let (mem, tru) = (m["noisy_memorized"].as_f64().unwrap(), m["noisy_true_predicted"].as_f64().unwrap());
        assert!(mem + tru <= 1.0 + 1e-12);
    }
    // the seeds draw different noise: the noisy fractions of seed 0 and 1 differ
    assert_ne!(rows[0]["metrics"]["noisy_fraction"], rows[epochs]["metrics"]["noisy_fraction"]);
    let html = std::fs::read_to_string(whole.join("report.html")).unwrap();
    assert!(html.contains("noisy fitted at peak") && html.contains("Label noise: 0.5 symmetric"), "report table");
    assert!(whole.join("plots/noisy_memorized.png").is_file() && whole.join("plots/clean_train_accuracy.svg").is_file());

    // killed after the first job's epochs and a row of the second, then resumed: the same files
    let mut child = reglab()
        .arg("run")
        .arg(&exp)
        .arg("--out")
        .arg(&killed)
        .args(["--quiet", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while csv_rows(&killed.join("results.csv")) <= epochs {
        if let Some(s) = child.try_wait().unwrap() {
            panic!("reglab run ended ({s}) before it could be killed");
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no rows after 300 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(csv_rows(&killed.join("results.csv")) < 2 * 2 * epochs, "finished before the kill");
    assert_ok(&run(&exp, &killed, &["--resume", "--jobs", "2"]));
    for f in ["results.json", "results.csv"] {
        assert!(read(&killed.join(f)) == read(&whole.join(f)), "{f} differs after kill + --resume");
    }
}

#[test]
fn bad_label_noise_and_per_epoch_settings_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (edit, why) in [
        (("label_noise = 0.5", "label_noise = 1.5"), "data.label_noise"),
        (("label_noise = 0.5", "label_noise = 0.5\nlabel_noise_kind = \"asymmetric:2>12\""), "10 classes"),
        (("label_noise = 0.5", "label_noise = 0.5\nlabel_noise_kind = \"pairs\""), "label_noise_kind"),
        (("label_noise = 0.5", "label_noise_kind = \"symmetric\""), "without `data.label_noise`"),
        (("tasks = 1", "tasks = 2"), "single-task"),
        (("every = \"epoch\"", "every = \"step\""), "probe.every"),
    ] {
        let text = noisy_experiment(2).replace(edit.0, edit.1);
        let exp = write(dir.path(), "bad.toml", &text);
        let out = dir.path().join("out");
        let o = run(&exp, &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{edit:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{edit:?}: {}", stderr(&o));
        assert!(!out.exists(), "{edit:?}: wrote {}", out.display());
    }
}

#[test]
fn an_ot_sparse_run_writes_its_files_and_repeats_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "sparse.toml", &ot_sparse_experiment());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run(&exp, &a, &["--jobs", "2"]);
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("sparse k=4") && stdout.contains("exact") && stdout.contains("report.html"), "{stdout}");
    for f in [
        "config.toml",
        "results.json",
        "results.csv",
        "timing.json",
        "report.html",
        "plots/cost.png",
        "plots/cost.svg",
        "plots/nonzeros.png",
        "plots/plan-k1.png",
        "plots/plan-k4.svg",
        "plots/plan-quadratic.png",
        "plots/plan-entropic.png",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("method,k,reg,cost,cost_gap,objective,nonzeros,max_nonzeros_per_column,"), "{}", lines[0]);
    let methods: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(methods, ["sparse k=1", "sparse k=4", "quadratic", "entropic", "exact"]);
    for l in &lines[1..3] {
        let f: Vec<&str> = l.split(',').collect();
        let (k, max_nz): (usize, usize) = (f[1].parse().unwrap(), f[7].parse().unwrap());
        assert!(max_nz <= k, "{l}");
    }
    // clouds.csv: the problem, a header then n = 20 source and m = 16 target points
    let clouds = std::fs::read_to_string(a.join("clouds.csv")).unwrap();
    let lines: Vec<&str> = clouds.lines().collect();
    assert_eq!(lines[0], "side,index,x,y,weight");
    assert_eq!(lines.len(), 1 + 20 + 16, "{clouds}");
    assert!(lines[1].starts_with("source,0,") && lines[21].starts_with("target,0,") && lines[36].starts_with("target,15,"), "{clouds}");
    assert_ok(&run(&exp, &b, &["--jobs", "1"]));
    assert_same_results(&a, &b);
    assert!(std::fs::read(a.join("clouds.csv")).unwrap() == std::fs::read(b.join("clouds.csv")).unwrap(), "clouds.csv differs between runs");
}

#[test]
fn bad_ot_sparse_files_are_input_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = ot_sparse_experiment();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("os-unknown-key", good.replace("seed = 2", "seed = 2\ncolour = 1"), vec!["unknown field", "`colour`"]),
        ("os-ks-empty", good.replace("ks = [1, 4]", "ks = []"), vec!["solve.ks", "empty"]),
        ("os-ks-zero", good.replace("ks = [1, 4]", "ks = [0, 4]"), vec!["solve.ks[0]"]),
        ("os-gamma", good.replace("gamma = 0.1", "gamma = 0.0"), vec!["solve.gamma"]),
        ("os-kind", good.replace("kind = \"ot-sparse\"", "kind = \"ot\""), vec!["`kind`", "ot-sparse", "lasso-path", "train"]),
    ];
    assert_bad_files_write_nothing(dir.path(), &cases);
    let exp = write(dir.path(), "os-good.toml", &good);
    assert_bad_flags_write_nothing(
        dir.path(),
        &exp,
        &[(&["--set", "solve.gamma=-1"][..], &["solve.gamma"][..]), (&["--jobs", "0"], &["--jobs"]), (&["--resume"], &["--resume", "ot-sparse"])],
    );
}

#[test]
fn an_inverse_run_writes_its_files_and_repeats_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "ct.toml", &inverse_experiment());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run(&exp, &a, &["--jobs", "2"]);
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("graphLa+TV") && stdout.contains("8 views, 1 % noise") && stdout.contains("report.html"), "{stdout}");
    let files = [
        "config.toml",
        "results.json",
        "results.csv",
        "timing.json",
        "report.html",
        "plots/best-psnr-1pct.png",
        "plots/best-psnr-1pct.svg",
        "plots/psnr-8v-1pct.png",
        "plots/psnr-8v-1pct.svg",
        "images/8v-1pct/truth.png",
        "images/8v-1pct/sinogram.png",
        "images/8v-1pct/fbp.png",
        "images/8v-1pct/tv.png",
        "images/8v-1pct/weighted-tv.png",
        "images/8v-1pct/graphla-tv.png",
        "images/8v-1pct/montage.png",
    ];
    for f in files {
        assert!(a.join(f).is_file(), "{f}");
    }
    assert_eq!(&read(&a.join("images/8v-1pct/montage.png"))[..8], b"\x89PNG\r\n\x1a\n");
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "views,noise,method,lambda,psnr,ssim,rel_error,iterations,converged,objective,best");
    let keys: Vec<String> = lines[1..].iter().map(|l| l.split(',').take(4).collect::<Vec<_>>().join(",")).collect();
    assert_eq!(keys, ["8,0.01,FBP,", "8,0.01,TV,0.03", "8,0.01,TV,0.3", "8,0.01,weighted-tv,0.3", "8,0.01,graphLa+TV,10"]);
    // One best row per method; TV's is the higher PSNR of its two.
    let field = |l: &str, i: usize| l.split(',').nth(i).unwrap().to_string();
    let best: Vec<&str> = lines[1..].iter().copied().filter(|l| l.ends_with(",true")).collect();
    assert_eq!(best.len(), 4, "{csv}");
    let tv: Vec<f64> = lines[2..4].iter().map(|l| field(l, 4).parse().unwrap()).collect();
    assert!(lines[if tv[0] >= tv[1] { 2 } else { 3 }].ends_with(",true"), "{csv}");
    // The variational reconstructions beat FBP on 8 views.
    let fbp: f64 = field(lines[1], 4).parse().unwrap();
    for l in &lines[2..] {
        assert!(field(l, 4).parse::<f64>().unwrap() > fbp, "{l} vs FBP {fbp}");
    }
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(
        html.contains("tiny-ct")
            && html.contains("images/8v-1pct/montage.png")
            && html.contains("images/8v-1pct/sinogram.png")
            && html.contains("SSIM")
    );

    assert_ok(&run(&exp, &b, &["--jobs", "1"]));
    assert_same_results(&a, &b);
    assert!(read(&a.join("images/8v-1pct/graphla-tv.png")) == read(&b.join("images/8v-1pct/graphla-tv.png")));
}

#[test]
fn an_inverse_run_with_a_calibration_problem_reports_both_rules_and_repeats_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{}\n[calibration]\nphantom = \"piecewise-constant\"\nseed = 1\n", inverse_experiment());
    let exp = write(dir.path(), "ct-cal.toml", &text);
    let (a, b, plain) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("plain"));
    let o = run(&exp, &a, &["--jobs", "2"]);
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("TV (cal. λ)") && stdout.contains("graphLa+TV (cal. λ)"), "{stdout}");
    for f in
        ["images/calibration-truth.png", "images/8v-1pct/montage-calibrated.png", "plots/calibrated-psnr-1pct.png", "plots/calibrated-psnr-1pct.svg"]
    {
        assert!(a.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "views,noise,method,lambda,psnr,ssim,rel_error,iterations,converged,objective,best,stage");
    // 5 oracle rows, 5 calibration rows, 4 calibrated rows (one per method).
    let stages: Vec<&str> = lines[1..].iter().map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(stages, [vec!["oracle"; 5], vec!["calibration"; 5], vec!["calibrated"; 4]].concat());
    // The oracle rows are the run without `[calibration]`, byte for byte.
    assert_ok(&run(&write(dir.path(), "ct.toml", &inverse_experiment()), &plain, &["--jobs", "2"]));
    let plain_csv = std::fs::read_to_string(plain.join("results.csv")).unwrap();
    for (i, l) in plain_csv.lines().enumerate().skip(1) {
        assert_eq!(lines[i], format!("{l},oracle"));
    }
    assert_ok(&run(&exp, &b, &["--jobs", "1"]));
    assert_same_results(&a, &b);
}

#[test]
fn bad_inverse_files_are_input_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = inverse_experiment();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("inv-unknown-key", good.replace("size = 32", "size = 32\ncolour = 1"), vec!["unknown field", "`colour`"]),
        ("inv-size", good.replace("size = 32", "size = 4"), vec!["problem.size"]),
        ("inv-views", good.replace("views = [8]", "views = [0]"), vec!["problem.views[0]"]),
        ("inv-noise", good.replace("noise = [0.01]", "noise = [-0.01]"), vec!["problem.noise[0]"]),
        ("inv-method", good.replace("name = \"tv\"", "name = \"art\""), vec!["method[1].name", "art"]),
        ("inv-lambda", good.replace("lambdas = [0.03, 0.3]", "lambdas = [-1.0]"), vec!["method[1].lambdas[0]"]),
        (
            "inv-estimate",
            good.replace("estimate = \"TV\"\nlambdas = [0.3]", "estimate = \"TVX\"\nlambdas = [0.3]"),
            vec!["method[2].estimate", "TVX"],
        ),
        ("inv-filter", good.replace("label = \"FBP\"", "label = \"FBP\"\nfilter = \"cosine\""), vec!["method[0].filter", "cosine"]),
        ("inv-kind", good.replace("kind = \"inverse\"", "kind = \"ct\""), vec!["`kind`", "inverse", "ot-sparse", "train"]),
        ("inv-malformed", good.replace("[problem]", "[problem"), vec!["TOML parse error", "line"]),
        ("inv-cal-seed", format!("{good}\n[calibration]\nphantom = \"piecewise-constant\"\nseed = 0\n"), vec!["calibration.seed"]),
        ("inv-cal-phantom", format!("{good}\n[calibration]\nphantom = \"cat\"\nseed = 1\n"), vec!["calibration.phantom", "cat"]),
    ];
    assert_bad_files_write_nothing(dir.path(), &cases);
    let exp = write(dir.path(), "inv-good.toml", &good);
    assert_bad_flags_write_nothing(
        dir.path(),
        &exp,
        &[
            (&["--set", "problem.size=0"][..], &["problem.size"][..]),
            (&["--set", "solve.max_iter=0"], &["solve.max_iter"]),
            (&["--jobs", "0"], &["--jobs"]),
            (&["--resume"], &["--resume", "inverse"]),
        ],
    );
}

#[test]
fn adversarial_arms_report_robust_accuracy_within_epochs_and_plot_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = adversarial_experiment();
    let exp = write(dir.path(), "adv.toml", &text);
    let out = dir.path().join("out");
    assert_ok(&run(&exp, &out, &["--jobs", "2"]));
    let v: serde_json::Value = serde_json::from_slice(&read(&out.join("results.json"))).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 4, "two rows per epoch, two epochs, three arms");
    for (i, r) in rows.iter().enumerate() {
        let m = &r["metrics"];
        assert_eq!(m["epoch"].as_f64(), Some((i % 4 + 1) as f64 / 2.0), "{r}");
        let acc = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
        let (clean, fgsm, pgd) = (acc("robust/clean_accuracy"), acc("robust/fgsm_accuracy"), acc("robust/pgd_accuracy"));
        // an example is robust only if it is also classified correctly without attack
        assert!(fgsm <= clean && pgd <= clean && (0.0..=1.0).contains(&pgd), "{r}");
    }
    // the plain network at the end: PGD (10 steps, 2 restarts) finds more than FGSM at ε = 0.05
    let last = &rows[3]["metrics"];
    assert!(last["robust/pgd_accuracy"].as_f64() <= last["robust/fgsm_accuracy"].as_f64(), "{last}");
    for f in ["plots/robust_pgd_accuracy.png", "plots/robust_fgsm_accuracy.svg", "plots/curves_robust_pgd_accuracy.png"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // the same run again: the same results, byte for byte
    let again = dir.path().join("again");
    assert_ok(&run(&exp, &again, &["--jobs", "1"]));
    assert!(read(&out.join("results.csv")) == read(&again.join("results.csv")));
}
