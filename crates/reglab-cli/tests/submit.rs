//! End-to-end tests of `reglab submit slurm|k8s`: the submission directory, its scripts run as a
//! scheduler would run them (each array index in turn, then the merge) giving the whole run's
//! files byte for byte, and bad input refused with nothing written. The same scripts against a
//! real slurmctld/slurmd: `.ci/slurm-test.sh`.

mod common;

use common::experiments::experiment;
use common::{assert_input_error, reglab, stderr, stdout};
use std::path::Path;
use std::process::Output;

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}, stderr: {}", o.status.code(), stderr(&o));
    o
}

fn submit(kind: &str, exp: &Path, out: &Path, extra: &[&str]) -> Output {
    reglab().args(["submit", kind]).arg(exp).arg("--out").arg(out).args(extra).output().expect("run reglab")
}

/// Every task of the array, as Slurm would start it (`SLURM_ARRAY_TASK_ID`), then the merge.
#[test]
fn slurm_scripts_run_as_an_array_merge_to_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.toml");
    std::fs::write(&exp, experiment(2, 1)).unwrap();
    let sub = dir.path().join("sub");
    let o = ok(submit("slurm", &exp, &sub, &["--chunk", "3", "--time", "00:05:00", "--set", "seeds=[0, 1, 2]"]));
    assert!(stdout(&o).contains("cells in"), "{}", stdout(&o));
    for f in ["experiment.toml", "plan.json", "cells.sbatch", "merge.sbatch", "submit.sh"] {
        assert!(sub.join(f).exists(), "{f}");
    }
    let plan: serde_json::Value = serde_json::from_slice(&std::fs::read(sub.join("plan.json")).unwrap()).unwrap();
    let cells = plan["cells"].as_array().unwrap().len();
    let script = std::fs::read_to_string(sub.join("cells.sbatch")).unwrap();
    let tasks = cells.div_ceil(3);
    assert!(script.contains(&format!("#SBATCH --array=0-{}", tasks - 1)), "{script}");
    for t in 0..tasks {
        let o = std::process::Command::new("bash").arg(sub.join("cells.sbatch")).env("SLURM_ARRAY_TASK_ID", t.to_string()).output().unwrap();
        assert!(o.status.success(), "task {t}: {}", String::from_utf8_lossy(&o.stderr));
    }
    // a task run again (a requeue after it finished) resumes: nothing to redo, same files
    ok(std::process::Command::new("bash").arg(sub.join("cells.sbatch")).env("SLURM_ARRAY_TASK_ID", "0").output().unwrap());
    ok(std::process::Command::new("bash").arg(sub.join("merge.sbatch")).output().unwrap());
    let whole = dir.path().join("whole");
    ok(reglab().arg("run").arg(&exp).args(["--set", "seeds=[0, 1, 2]", "--quiet", "--out"]).arg(&whole).output().unwrap());
    for f in ["results.json", "results.csv", "report.html"] {
        assert_eq!(std::fs::read(whole.join(f)).unwrap(), std::fs::read(sub.join("run").join(f)).unwrap(), "{f} differs");
    }
    // a second submission into the same directory is refused
    assert_input_error(&submit("slurm", &exp, &sub, &[]), "not empty");
}

#[test]
fn slurm_submit_without_sbatch_says_so_and_keeps_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.toml");
    std::fs::write(&exp, experiment(1, 1)).unwrap();
    let sub = dir.path().join("sub");
    // a PATH with sh and nothing else: no sbatch, whatever this machine has
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let o = reglab().args(["submit", "slurm"]).arg(&exp).arg("--out").arg(&sub).arg("--submit").env("PATH", &bin).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("sbatch failed") && stderr(&o).contains("submit.sh"), "{}", stderr(&o));
    assert!(sub.join("cells.sbatch").exists());
}

#[test]
fn bad_submissions_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.toml");
    std::fs::write(&exp, experiment(1, 1)).unwrap();
    let sub = dir.path().join("sub");
    assert_input_error(&submit("slurm", &exp, &sub, &["--chunk", "0"]), "--chunk");
    assert_input_error(&submit("slurm", &exp, &sub, &["--partition", "a b"]), "--partition");
    assert_input_error(&submit("slurm", &exp, &sub, &["--set", "optim.lr=-1"]), "lr");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nseeds = [0]\n[data]\nsource = \"nope\"\n").unwrap();
    assert_eq!(submit("slurm", &bad, &sub, &[]).status.code(), Some(2));
    assert_input_error(&submit("k8s", &exp, &sub, &["--image", "r:1", "--pvc", "w", "--mount", "relative"]), "--mount");
    assert!(!sub.exists(), "nothing written");
    // no temporary directory left beside it either
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(left.iter().all(|n| !n.starts_with(".reglab-submit-")), "{left:?}");
}

#[test]
fn k8s_writes_an_indexed_job_and_a_merge_job() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.toml");
    std::fs::write(&exp, experiment(1, 1)).unwrap();
    let sub = dir.path().join("sub");
    let o = ok(submit(
        "k8s",
        &exp,
        &sub,
        &["--image", "ghcr.example/reglab:0.1", "--pvc", "reglab-work", "--chunk", "2", "--cpu", "1", "--memory", "2Gi"],
    ));
    assert!(stdout(&o).contains("kubectl apply"), "{}", stdout(&o));
    let job: serde_json::Value = serde_json::from_slice(&std::fs::read(sub.join("k8s/cells-job.json")).unwrap()).unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 2); // 4 cells (2 arms × 2 seeds), 2 per index
    let merge: serde_json::Value = serde_json::from_slice(&std::fs::read(sub.join("k8s/merge-job.json")).unwrap()).unwrap();
    assert_eq!(merge["kind"], "Job");
    // missing required options are clap errors (exit 2)
    assert_eq!(submit("k8s", &exp, &dir.path().join("s2"), &["--pvc", "w"]).status.code(), Some(2));
}
