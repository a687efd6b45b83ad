//! One experiment's results gathered from several runs: `reglab report EXPERIMENT --from A --from B`.
//!
//! A long experiment can be split across machines (some arms on a GPU, the others on a CPU,
//! each run with an experiment file that holds only its arms). [`merge`] checks that every row
//! belongs to the full experiment (a known arm and seed, a task in range) and that no job
//! (arm, seed, task) comes twice, and [`write`] rewrites `results.json`, `results.csv`, the
//! plots and `report.html` of the whole experiment from them, as `reglab run` would have.

use super::config::Experiment;
use super::runner::{Results, publish};
use crate::results::{Row, from_csv, sort_rows};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The rows of one run's results: `results.json`, `results.csv`, or a run directory holding
/// `results.json`.
pub fn read_rows(path: &Path) -> Result<Vec<Row>, String> {
    let file: PathBuf = if path.is_dir() { path.join("results.json") } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let rows = if file.extension().is_some_and(|e| e == "csv") {
        from_csv(&text)
    } else {
        serde_json::from_str::<Results>(&text).map(|r| r.rows).map_err(|e| e.to_string())
    };
    rows.map_err(|e| format!("{}: {e}", file.display()))
}

/// The rows of `parts` (a name for messages, the rows) as the results of `exp`. Every row must
/// name an arm and a seed of `exp` and a task in `1..=tasks` (single-task experiments: an epoch
/// in `1..=epochs`); a job's row must come from one part only.
pub fn merge(exp: &Experiment, parts: &[(String, Vec<Row>)]) -> Result<Results, String> {
    let arms: Vec<String> = exp.arms.iter().map(|a| a.name.clone()).collect();
    let last = if exp.stream.tasks == 1 { exp.stream.epochs_per_task.max(1) } else { exp.stream.tasks };
    let mut seen: BTreeMap<(String, u64, usize), &str> = BTreeMap::new();
    let mut rows = Vec::new();
    for (name, part) in parts {
        for r in part {
            if !arms.contains(&r.arm) {
                return Err(format!("{name}: arm `{}` is not an arm of experiment `{}`", r.arm, exp.name));
            }
            if !exp.seeds.contains(&r.seed) {
                return Err(format!("{name}: seed {} of arm `{}` is not a seed of experiment `{}` ({:?})", r.seed, r.arm, exp.name, exp.seeds));
            }
            if r.task == 0 || r.task > last {
                return Err(format!("{name}: arm `{}` seed {}: task {} is outside 1..={last}", r.arm, r.seed, r.task));
            }
            if let Some(other) = seen.insert((r.arm.clone(), r.seed, r.task), name) {
                return Err(format!("arm `{}` seed {} task {} is in both {other} and {name}", r.arm, r.seed, r.task));
            }
            rows.push(r.clone());
        }
    }
    sort_rows(&mut rows, &arms);
    Ok(Results { name: exp.name.clone(), arms, seeds: exp.seeds.clone(), tasks: exp.stream.tasks, rows })
}

/// The jobs (arm, seed) of `exp` that have no row in `results`.
pub fn missing_jobs(exp: &Experiment, results: &Results) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for a in &exp.arms {
        for &s in &exp.seeds {
            if !results.rows.iter().any(|r| r.arm == a.name && r.seed == s) {
                out.push((a.name.clone(), s));
            }
        }
    }
    out
}

/// Write `results.json`, `results.csv`, `plots/` and `report.html` of `results` into `out`
/// (every file atomically). A directory that holds a run (`checkpoints/`) is refused: its
/// results belong to that run.
pub fn write(exp: &Experiment, results: &Results, out: &Path) -> Result<(), String> {
    if out.join("checkpoints").exists() {
        return Err(format!("{} holds a run (checkpoints/); write the merged report elsewhere", out.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut rows = results.rows.clone();
    publish(exp, out, &mut rows)?;
    super::report::write(exp, results, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: &str = r#"
name = "m"
seeds = [0, 1]
[data]
source = "digits"
[model]
kind = "mlp"
hidden = [8]
[optim]
kind = "adam"
lr = 1e-3
batch = 32
[stream]
kind = "single"
tasks = 1
epochs_per_task = 2
[[arm]]
name = "a"
[[arm]]
name = "b"
reg = ["l2=1e-4"]
"#;

    fn row(arm: &str, seed: u64, task: usize) -> Row {
        Row { arm: arm.into(), seed, task, metrics: BTreeMap::from([("test_accuracy".to_string(), 0.5 + task as f64 / 10.0)]) }
    }

    #[test]
    fn parts_merge_in_arm_order_and_missing_jobs_are_listed() {
        let exp = Experiment::parse(EXP, &[]).unwrap();
        let parts = vec![("gpu".to_string(), vec![row("b", 0, 1), row("b", 0, 2)]), ("cpu".to_string(), vec![row("a", 1, 2), row("a", 1, 1)])];
        let r = merge(&exp, &parts).unwrap();
        let keys: Vec<(String, u64, usize)> = r.rows.iter().map(|r| (r.arm.clone(), r.seed, r.task)).collect();
        assert_eq!(keys, vec![("a".into(), 1, 1), ("a".into(), 1, 2), ("b".into(), 0, 1), ("b".into(), 0, 2)]);
        assert_eq!(missing_jobs(&exp, &r), vec![("a".to_string(), 0), ("b".to_string(), 1)]);
    }

    #[test]
    fn foreign_or_duplicate_rows_are_errors() {
        let exp = Experiment::parse(EXP, &[]).unwrap();
        let e = |parts: Vec<(String, Vec<Row>)>| merge(&exp, &parts).unwrap_err();
        assert!(e(vec![("x".into(), vec![row("c", 0, 1)])]).contains("x: arm `c` is not an arm"));
        assert!(e(vec![("x".into(), vec![row("a", 7, 1)])]).contains("seed 7"));
        assert!(e(vec![("x".into(), vec![row("a", 0, 3)])]).contains("task 3 is outside 1..=2"));
        let dup = e(vec![("x".into(), vec![row("a", 0, 1)]), ("y".into(), vec![row("a", 0, 1)])]);
        assert!(dup.contains("in both x and y"), "{dup}");
    }

    #[test]
    fn written_results_read_back_and_a_run_directory_is_refused() {
        let exp = Experiment::parse(EXP, &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let parts = vec![("p".to_string(), vec![row("a", 0, 1), row("a", 0, 2), row("b", 1, 1), row("b", 1, 2)])];
        let r = merge(&exp, &parts).unwrap();
        write(&exp, &r, dir.path()).unwrap();
        assert_eq!(read_rows(dir.path()).unwrap(), r.rows);
        assert_eq!(read_rows(&dir.path().join("results.csv")).unwrap(), r.rows);
        assert!(dir.path().join("report.html").exists());
        std::fs::create_dir(dir.path().join("checkpoints")).unwrap();
        assert!(write(&exp, &r, dir.path()).unwrap_err().contains("holds a run"));
        assert!(read_rows(&dir.path().join("nope.json")).unwrap_err().contains("nope.json"));
    }
}
