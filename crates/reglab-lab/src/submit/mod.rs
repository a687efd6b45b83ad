//! Handing an experiment's cells to a cluster scheduler: `reglab submit slurm|k8s`.
//!
//! reglab does not distribute work itself. An experiment is a list of cells (`reglab plan`),
//! each run by `reglab run FILE --cells A..B --out SHARD --resume` and merged by `reglab report
//! FILE --from SHARD …`; a scheduler's array of tasks maps onto it directly:
//! - task `t` of `T = ⌈C/K⌉` runs the cells `t·K .. min((t+1)·K, C)` into the shard
//!   `shards/t` of the submission directory ([`Submission::range`]);
//! - every task runs with `--resume`, so a task that is requeued, preempted or evicted continues
//!   from the cells it finished and the checkpoints of the one it was running;
//! - one merge step after all tasks writes `run/`, byte for byte what a local `reglab run` of
//!   the file writes.
//!
//! The submission directory holds a copy of the experiment file (`experiment.toml`, so that a
//! later edit of the original cannot change what the tasks run), the plan (`plan.json`) and the
//! scheduler's files ([`slurm`], [`k8s`]).

pub mod k8s;
pub mod slurm;

use std::path::{Path, PathBuf};

/// What every scheduler needs to know of a submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The experiment's name (job names).
    pub name: String,
    /// The number of cells `C`.
    pub cells: usize,
    /// Cells per task `K` (≥ 1).
    pub chunk: usize,
    /// `--set` values, given to every task and the merge as they were given here.
    pub sets: Vec<String>,
    /// The submission directory as the tasks see it (its `experiment.toml`, `shards/`, `run/`).
    pub dir: PathBuf,
    /// The `reglab` binary as the tasks see it.
    pub binary: PathBuf,
    /// `REGLAB_DATA` for the tasks (none: not set by the submission).
    pub data: Option<PathBuf>,
    /// `--jobs` of each task (the cells of a task run that many at a time).
    pub jobs: usize,
}

impl Submission {
    /// Check the numbers.
    pub fn validate(&self) -> Result<(), String> {
        if self.cells == 0 {
            return Err("the experiment has no cells".into());
        }
        if self.chunk == 0 {
            return Err("--chunk must be ≥ 1 (cells per task)".into());
        }
        if self.jobs == 0 {
            return Err("--jobs must be ≥ 1".into());
        }
        Ok(())
    }

    /// The number of tasks `T = ⌈C/K⌉`.
    pub fn tasks(&self) -> usize {
        self.cells.div_ceil(self.chunk)
    }

    /// The cells of task `t`, half-open.
    pub fn range(&self, t: usize) -> std::ops::Range<usize> {
        (t * self.chunk).min(self.cells)..((t + 1) * self.chunk).min(self.cells)
    }

    /// The experiment file the tasks read.
    pub fn experiment(&self) -> PathBuf {
        self.dir.join("experiment.toml")
    }

    /// The shard of task `t`.
    pub fn shard(&self, t: usize) -> PathBuf {
        self.dir.join("shards").join(t.to_string())
    }

    /// The merged run.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// The shell lines (POSIX sh) of one task, its index in the environment variable
    /// `task_var`: compute its cell range, then `exec reglab run … --resume` into its shard.
    pub fn task_script(&self, task_var: &str) -> Result<String, String> {
        let (c, k) = (self.cells, self.chunk);
        let mut s = String::new();
        s.push_str(&format!("t=\"${{{task_var}:?this script runs as one task of an array: {task_var} is not set}}\"\n"));
        s.push_str(&format!("lo=$(( t * {k} )); hi=$(( lo + {k} )); if [ \"$hi\" -gt {c} ]; then hi={c}; fi\n"));
        s.push_str(&format!("if [ \"$lo\" -ge {c} ]; then echo \"task $t: no cells (the experiment has {c})\" >&2; exit 1; fi\n"));
        s.push_str(&self.env_lines()?);
        let shards = quote_path(&self.dir.join("shards"))?;
        s.push_str(&format!(
            "exec {} run {}{} --cells \"$lo..$hi\" --out {shards}/\"$t\" --resume --jobs {} --quiet\n",
            quote_path(&self.binary)?,
            quote_path(&self.experiment())?,
            self.set_args()?,
            self.jobs
        ));
        Ok(s)
    }

    /// The shell lines (POSIX sh) of the merge: `exec reglab report … --from shards/0 … --out
    /// run`.
    pub fn merge_script(&self) -> Result<String, String> {
        let mut s = self.env_lines()?;
        let shards = quote_path(&self.dir.join("shards"))?;
        // POSIX sh (no arrays): the --from arguments collect in "$@"
        s.push_str(&format!("set --; t=0; while [ \"$t\" -lt {} ]; do set -- \"$@\" --from {shards}/\"$t\"; t=$((t + 1)); done\n", self.tasks()));
        s.push_str(&format!(
            "exec {} report {}{} \"$@\" --out {}\n",
            quote_path(&self.binary)?,
            quote_path(&self.experiment())?,
            self.set_args()?,
            quote_path(&self.run_dir())?
        ));
        Ok(s)
    }

    fn env_lines(&self) -> Result<String, String> {
        Ok(match &self.data {
            Some(d) => format!("export REGLAB_DATA={}\n", quote_path(d)?),
            None => String::new(),
        })
    }

    fn set_args(&self) -> Result<String, String> {
        self.sets.iter().map(|s| quote(s).map(|q| format!(" --set {q}"))).collect()
    }
}

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> Result<String, String> {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .map_err(|_| format!("`{}` cannot be written in a shell script (it holds a NUL byte)", s.escape_debug()))
}

fn quote_path(p: &Path) -> Result<String, String> {
    let s = p.to_str().ok_or_else(|| format!("{}: the path is not UTF-8", p.display()))?;
    quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sub(cells: usize, chunk: usize) -> Submission {
        Submission {
            name: "quickstart".into(),
            cells,
            chunk,
            sets: vec!["arm.0.reg=[\"l2=1e-4\"]".into()],
            dir: "/scratch/my run".into(),
            binary: "/opt/reglab/bin/reglab".into(),
            data: Some("/data/reglab".into()),
            jobs: 1,
        }
    }

    #[test]
    fn tasks_cover_every_cell_once() {
        for (c, k) in [(6, 1), (6, 4), (7, 7), (7, 10), (93, 8)] {
            let s = sub(c, k);
            let mut seen = vec![0; c];
            for t in 0..s.tasks() {
                let r = s.range(t);
                assert!(!r.is_empty(), "task {t} of {c}/{k} is empty");
                r.for_each(|i| seen[i] += 1);
            }
            assert!(seen.iter().all(|&n| n == 1), "{c}/{k}: {seen:?}");
        }
        assert_eq!(sub(93, 8).tasks(), 12);
    }

    /// The task lines, run by a real shell with a stand-in binary, ask for the right cells.
    #[test]
    fn the_task_script_asks_for_each_tasks_cells() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake reglab");
        std::fs::write(&fake, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Submission { binary: fake, ..sub(7, 3) };
        let script = s.task_script("TASK").unwrap();
        for (t, want) in [(0, "0..3"), (1, "3..6"), (2, "6..7")] {
            let out = std::process::Command::new("sh").arg("-c").arg(&script).env("TASK", t.to_string()).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let args: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
            assert_eq!(
                args,
                [
                    "run",
                    "/scratch/my run/experiment.toml",
                    "--set",
                    "arm.0.reg=[\"l2=1e-4\"]",
                    "--cells",
                    want,
                    "--out",
                    &format!("/scratch/my run/shards/{t}"),
                    "--resume",
                    "--jobs",
                    "1",
                    "--quiet"
                ]
            );
        }
        // outside an array, or past the last cell: a clear failure
        let out = std::process::Command::new("bash").arg("-c").arg(&script).env_remove("TASK").output().unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("TASK is not set"));
        let out = std::process::Command::new("bash").arg("-c").arg(&script).env("TASK", "3").output().unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no cells"));
        // the merge reads every shard
        let out = std::process::Command::new("sh").arg("-c").arg(s.merge_script().unwrap()).output().unwrap();
        let args = String::from_utf8(out.stdout).unwrap();
        assert!(
            args.contains(
                "/scratch/my run/shards/0\n--from\n/scratch/my run/shards/1\n--from\n/scratch/my run/shards/2\n--out\n/scratch/my run/run\n"
            ),
            "{args}"
        );
    }

    #[test]
    fn bad_submissions_are_refused() {
        assert!(sub(0, 1).validate().unwrap_err().contains("no cells"));
        assert!(sub(5, 0).validate().unwrap_err().contains("--chunk"));
        assert!(Submission { jobs: 0, ..sub(5, 1) }.validate().is_err());
        assert!(quote("a\0b").unwrap_err().contains("NUL"));
    }
}
