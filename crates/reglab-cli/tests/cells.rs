//! End-to-end tests of cells: `reglab plan`, `reglab run --cell/--cells` into shards and
//! `reglab report --from SHARD …`, for every experiment kind — merged shards give the whole
//! run's files byte for byte; shards of another configuration, cells in two shards and missing
//! cells are refused; a killed shard resumes.

mod common;

use common::experiments::{experiment, inverse_experiment, lasso_path_experiment, ot_sparse_experiment, recovery_experiment};
use common::{assert_input_error_all as assert_input_error, reglab, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}, stderr: {}", o.status.code(), stderr(&o));
    o
}

/// `reglab ARGS… EXP` with `extra`.
fn cmd(sub: &str, exp: &Path, extra: &[&str]) -> Output {
    reglab().arg(sub).arg(exp).args(extra).output().expect("run reglab")
}

fn run_into(exp: &Path, out: &Path, extra: &[&str]) -> Output {
    reglab().arg("run").arg(exp).arg("--out").arg(out).arg("--quiet").args(extra).output().expect("run reglab")
}

fn report(exp: &Path, from: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut c = reglab();
    c.arg("report").arg(exp).arg("--out").arg(out).args(extra);
    for f in from {
        c.arg("--from").arg(f);
    }
    c.output().expect("run reglab")
}

/// `reglab plan EXP --json`.
fn plan(exp: &Path, extra: &[&str]) -> serde_json::Value {
    let o = ok(cmd("plan", exp, &[&["--json"], extra].concat()));
    serde_json::from_slice(&o.stdout).expect("plan --json is JSON")
}

/// The files a whole run and a merge both write, and must write alike.
const SAME: [&str; 3] = ["results.json", "results.csv", "report.html"];

#[test]
fn every_kind_merged_from_shards_equals_its_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let calibrated = format!("{}\n[calibration]\nphantom = \"piecewise-constant\"\nseed = 1\n", inverse_experiment());
    let files = [
        ("train", experiment(2, 1), 4usize, vec!["plots/train_accuracy.png"]),
        ("cs-recovery", recovery_experiment(), 2, vec!["plots/success.png"]),
        ("lasso-path", lasso_path_experiment(), 3, vec!["plots/l1_norm.png"]),
        ("ot-sparse", ot_sparse_experiment(), 5, vec!["clouds.csv", "plots/plan-k4.png"]),
        ("inverse", calibrated, 1, vec!["images/8v-1pct/montage.png"]),
    ];
    for (kind, text, n_cells, extra_files) in files {
        let exp = write(dir.path(), &format!("{kind}.toml"), &text);
        // the plan: the kind, one entry per cell with a stable index and a SHA-256
        let p = plan(&exp, &[]);
        assert_eq!(p["kind"], kind);
        let cells = p["cells"].as_array().unwrap();
        assert_eq!(cells.len(), n_cells, "{kind}: {p}");
        for (i, c) in cells.iter().enumerate() {
            assert_eq!(c["index"], i);
            assert_eq!(c["hash"].as_str().unwrap().len(), 64);
            assert!(!c["label"].as_str().unwrap().is_empty());
        }
        assert_eq!(plan(&exp, &[]), p, "{kind}: the plan is the same twice");
        let table = stdout(&ok(cmd("plan", &exp, &[])));
        assert!(table.contains(&format!("{n_cells} cell")) && table.contains(&cells[0]["hash"].as_str().unwrap()[..16]), "{table}");

        let whole = dir.path().join(format!("{kind}-whole"));
        ok(run_into(&exp, &whole, &["--jobs", "2"]));
        // two shards: the even cells (one at a time), the odd ones (two at a time)
        let (even, odd, merged) =
            (dir.path().join(format!("{kind}-even")), dir.path().join(format!("{kind}-odd")), dir.path().join(format!("{kind}-m")));
        let pick = |r: usize| -> Vec<String> { (0..n_cells).filter(|i| i % 2 == r).flat_map(|i| ["--cell".to_string(), i.to_string()]).collect() };
        let args = |v: &Vec<String>, jobs: &'static str| -> Vec<String> { [v.clone(), vec!["--jobs".into(), jobs.into()]].concat() };
        let ev = args(&pick(0), "1");
        let o = ok(run_into(&exp, &even, &ev.iter().map(String::as_str).collect::<Vec<_>>()));
        assert!(stdout(&o).contains(&format!("ran {} of {} cells", n_cells.div_ceil(2), n_cells.div_ceil(2))), "{}", stdout(&o));
        assert!(even.join("cells/00000.cbor").is_file() && even.join("plan.json").is_file() && even.join("config.toml").is_file());
        assert!(!even.join("results.json").exists(), "a shard holds cells, not results");
        // timing.json: each cell's wall time, and for training cells the training time within it
        let t: serde_json::Value = serde_json::from_slice(&read(&even.join("timing.json"))).unwrap();
        let secs = t["cell_seconds"].as_array().unwrap();
        assert_eq!(secs.len(), n_cells.div_ceil(2), "{kind}: {t}");
        for (c, i) in secs.iter().zip((0..n_cells).step_by(2)) {
            assert_eq!((c["index"].as_u64(), c["label"].as_str()), (Some(i as u64), cells[i]["label"].as_str()), "{kind}: {t}");
            let all = c["seconds"].as_f64().unwrap();
            assert!(all > 0.0, "{kind}: {t}");
            match c.get("train_seconds") {
                Some(train) => assert!(kind == "train" && train.as_f64().unwrap() > 0.0 && train.as_f64().unwrap() <= all, "{kind}: {t}"),
                None => assert_ne!(kind, "train", "{t}"),
            }
        }
        let mut from: Vec<&Path> = vec![&even];
        if n_cells > 1 {
            let od = args(&pick(1), "2");
            ok(run_into(&exp, &odd, &od.iter().map(String::as_str).collect::<Vec<_>>()));
            from.push(&odd);
        }
        let o = ok(report(&exp, &from, &merged, &[]));
        assert!(stdout(&o).contains(&format!("{n_cells} of {n_cells} cells from {} shards", from.len())), "{}", stdout(&o));
        for f in SAME.iter().chain(["config.toml"].iter()).copied().chain(extra_files.iter().copied()) {
            assert!(read(&whole.join(f)) == read(&merged.join(f)), "{kind}: {f} of the merged shards differs from the whole run's");
        }
    }
}

#[test]
fn foreign_duplicate_and_missing_cells_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exp = write(d, "tiny.toml", &experiment(1, 1));
    let (a, b) = (d.join("a"), d.join("b"));
    ok(run_into(&exp, &a, &["--cells", "0..2"]));
    ok(run_into(&exp, &b, &["--cells", "1..=3"]));
    // cell 1 in both
    let o = report(&exp, &[&a, &b], &d.join("m1"), &[]);
    assert_input_error(&o, &["cell 1 (none s1) is in both"]);
    assert!(!d.join("m1").exists());
    // missing cells: refused, named; with --allow-missing a training report lists them
    let o = report(&exp, &[&a], &d.join("m2"), &[]);
    assert_input_error(&o, &["2 of 4 cells are in no shard", "2 (spectral s0)", "3 (spectral s1)", "--allow-missing"]);
    assert!(!d.join("m2").exists());
    let o = ok(report(&exp, &[&a], &d.join("m3"), &["--allow-missing"]));
    assert!(stdout(&o).contains("missing 2 cells: 2 (spectral s0), 3 (spectral s1)"), "{}", stdout(&o));
    let csv = String::from_utf8(read(&d.join("m3/results.csv"))).unwrap();
    assert!(csv.contains("\nnone,") && !csv.contains("\nspectral,"), "{csv}");
    // a shard of another configuration: the hash names it
    let c = d.join("c");
    ok(run_into(&exp, &c, &["--cell", "2", "--set", "optim.lr=1e-3"]));
    let o = report(&exp, &[&a, &c], &d.join("m4"), &[]);
    assert_input_error(&o, &["cell 2 (spectral s0) was run with another configuration"]);
    // another arm does not change a cell's hash; another seed list keeps the shared seeds' cells
    let more = write(d, "more.toml", &format!("{}\n[[arm]]\nname = \"l2\"\nreg = [\"l2=1e-4\"]\n", experiment(1, 1)));
    let (p, q) = (plan(&exp, &[]), plan(&more, &[]));
    assert_eq!(p["cells"].as_array().unwrap()[..], q["cells"].as_array().unwrap()[..4]);
    // a shard of another kind, a run directory, a merge into a shard
    let ot = write(d, "ot.toml", &ot_sparse_experiment());
    let s = d.join("ot-shard");
    ok(run_into(&ot, &s, &["--cell", "0"]));
    assert_input_error(&report(&exp, &[&a, &s], &d.join("m5"), &[]), &["not \"train\""]);
    let o = report(&ot, &[&s], &d.join("m6"), &["--allow-missing"]);
    assert_input_error(&o, &["ot-sparse", "needs every cell", "missing: 1, 2, 3, 4"]);
    assert_input_error(&report(&exp, &[&a, &b], &c, &[]), &["holds a run or a shard"]);
    let whole = d.join("whole");
    ok(run_into(&exp, &whole, &[]));
    assert_input_error(&report(&exp, &[&a, &whole], &d.join("m7"), &[]), &["cannot be merged together"]);
    assert_input_error(&report(&ot, &[&whole], &d.join("m8"), &[]), &["not a shard"]);
}

#[test]
fn bad_cell_requests_are_input_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exp = write(d, "tiny.toml", &experiment(1, 1));
    let out = d.join("s");
    for (extra, want) in [
        (&["--cell", "4"][..], &["--cell 4", "4 cells"][..]),
        (&["--cells", "3..9"], &["--cells 3..9", "4 cells"]),
        (&["--cells", "2..2"], &["empty"]),
        (&["--cells", "x"], &["expected A..B"]),
        (&["--cell", "0", "--set", "optim.lr=-1"], &["optim.lr"]),
    ] {
        assert_input_error(&run_into(&exp, &out, extra), want);
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    }
    let o = reglab().arg("run").arg(&exp).args(["--cell", "0", "--quiet"]).current_dir(d).output().unwrap();
    assert_input_error(&o, &["--out"]);
    assert!(!d.join("runs").exists());
    // a shard holding cells continues only with --resume; a whole run's directory is not a shard
    ok(run_into(&exp, &out, &["--cell", "0"]));
    assert_input_error(&run_into(&exp, &out, &["--cell", "1"]), &["holds cells", "--resume"]);
    assert_input_error(&run_into(&exp, &out, &["--cell", "1", "--resume", "--set", "optim.lr=1e-3"]), &["--resume", "differs"]);
    let o = ok(run_into(&exp, &out, &["--cells", "0..2", "--resume"]));
    assert!(stdout(&o).contains("ran 1 of 2 cells") && stdout(&o).contains("(1 already there)"), "{}", stdout(&o));
    assert_input_error(&plan_err(&write(d, "bad.toml", "name = \"x\"\nseeds = []\n")), &["bad.toml"]);
}

fn plan_err(exp: &Path) -> Output {
    cmd("plan", exp, &["--json"])
}

#[test]
fn a_killed_shard_resumes_and_merges_to_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exp = write(d, "tiny.toml", &experiment(3, 2));
    let (shard, rest, whole, merged) = (d.join("shard"), d.join("rest"), d.join("whole"), d.join("m"));
    let mut child = reglab()
        .arg("run")
        .arg(&exp)
        .args(["--cells", "0..3", "--jobs", "1", "--quiet", "--out"])
        .arg(&shard)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn reglab");
    // kill once the first cell is written and the second has checkpointed a task
    let t0 = Instant::now();
    while !(shard.join("cells/00000.cbor").exists() && shard.join("checkpoints/none/seed-1.safetensors").exists()) {
        if let Some(s) = child.try_wait().unwrap() {
            panic!("reglab run ended ({s}) before it could be killed");
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no cell after 300 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!shard.join("cells/00002.cbor").exists(), "killed before the last cell");
    let o = ok(run_into(&exp, &shard, &["--cells", "0..3", "--resume"]));
    assert!(stdout(&o).contains("already there"), "{}", stdout(&o));
    ok(run_into(&exp, &rest, &["--cell", "3"]));
    ok(run_into(&exp, &whole, &["--jobs", "2"]));
    ok(report(&exp, &[&shard, &rest], &merged, &[]));
    for f in SAME {
        assert!(read(&whole.join(f)) == read(&merged.join(f)), "{f} of the resumed shards differs from the whole run's");
    }
}

#[test]
fn every_shipped_experiment_file_parses_and_plans() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments"));
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let p = plan(&f, &[]);
        let cells = p["cells"].as_array().unwrap();
        assert!(!cells.is_empty(), "{}: no cells", f.display());
        assert!(p["kind"].as_str().is_some_and(|k| !k.is_empty()), "{}", f.display());
    }
}
