//! Slurm: one job array for the cells, one dependent job for the merge.
//!
//! `reglab submit slurm FILE --out DIR` writes
//! - `DIR/cells.sbatch`: `#SBATCH --array=0-(T−1)`, task `SLURM_ARRAY_TASK_ID` runs its cells
//!   into `DIR/shards/<task>` with `--resume`; `--requeue` lets Slurm requeue a preempted or
//!   failed-node task, which then continues from its shard;
//! - `DIR/merge.sbatch`: `reglab report` of every shard into `DIR/run`;
//! - `DIR/submit.sh`: the two `sbatch` calls, the merge with `--dependency=afterok:<array>` (it
//!   starts only once every array task has succeeded).
//!
//! Logs go to `DIR/logs/` (`cells-<task>.out`, appended across requeues; `merge.out`).

use super::{Submission, quote};

/// The `#SBATCH` options of a submission (each `None`: the cluster's default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (per array task; the merge gets the same).
    pub time: Option<String>,
    /// `--cpus-per-task` (also each task's `--jobs`, see [`Submission::jobs`]).
    pub cpus_per_task: Option<usize>,
    /// `--mem`.
    pub mem: Option<String>,
    /// `--gres`, e.g. `gpu:1`.
    pub gres: Option<String>,
    /// `--account`.
    pub account: Option<String>,
}

impl Options {
    fn lines(&self, with_gres: bool) -> Result<String, String> {
        let mut s = String::new();
        let mut opt = |flag: &str, v: Option<&str>| -> Result<(), String> {
            if let Some(v) = v {
                if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '#') {
                    return Err(format!("--{flag} `{}`: a value without spaces or `#`", v.escape_debug()));
                }
                s.push_str(&format!("#SBATCH --{flag}={v}\n"));
            }
            Ok(())
        };
        opt("partition", self.partition.as_deref())?;
        opt("account", self.account.as_deref())?;
        opt("time", self.time.as_deref())?;
        opt("mem", self.mem.as_deref())?;
        if with_gres {
            opt("gres", self.gres.as_deref())?;
        }
        if let Some(c) = self.cpus_per_task {
            if c == 0 {
                return Err("--cpus-per-task must be ≥ 1".into());
            }
            s.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
        }
        Ok(s)
    }
}

/// A job name Slurm shows: `reglab-<name>` with anything but `[A-Za-z0-9._-]` replaced by `_`.
fn job_name(name: &str, suffix: &str) -> String {
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    format!("reglab-{clean}{suffix}")
}

/// `DIR/logs`, as `#SBATCH --output` can take it (UTF-8, no spaces: sbatch does not unquote).
fn logs_dir(sub: &Submission) -> Result<String, String> {
    let logs = sub.dir.join("logs");
    let logs = logs.to_str().ok_or("the submission directory is not UTF-8")?;
    if logs.contains(char::is_whitespace) {
        return Err(format!("{logs}: #SBATCH --output cannot hold spaces; choose a --out without them"));
    }
    Ok(logs.to_string())
}

/// `cells.sbatch`: the job array.
pub fn cells_script(sub: &Submission, o: &Options) -> Result<String, String> {
    sub.validate()?;
    let logs = logs_dir(sub)?;
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# reglab: the {} cells of `{}`, {} per array task ({} tasks); written by `reglab submit slurm`.\n",
        sub.cells,
        sub.name,
        sub.chunk,
        sub.tasks()
    ));
    s.push_str(&format!("#SBATCH --job-name={}\n", job_name(&sub.name, "")));
    s.push_str(&format!("#SBATCH --array=0-{}\n", sub.tasks() - 1));
    s.push_str(&format!("#SBATCH --output={logs}/cells-%a.out\n"));
    s.push_str("#SBATCH --open-mode=append\n#SBATCH --requeue\n");
    s.push_str(&o.lines(true)?);
    s.push_str("set -euo pipefail\n");
    s.push_str(&sub.task_script("SLURM_ARRAY_TASK_ID")?);
    Ok(s)
}

/// `merge.sbatch`: the merge, to run after the array.
pub fn merge_script(sub: &Submission, o: &Options) -> Result<String, String> {
    sub.validate()?;
    let logs = logs_dir(sub)?;
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("# reglab: merge the shards of `{}` into run/; written by `reglab submit slurm`.\n", sub.name));
    s.push_str(&format!("#SBATCH --job-name={}\n", job_name(&sub.name, "-merge")));
    s.push_str(&format!("#SBATCH --output={logs}/merge.out\n"));
    s.push_str(&Options { cpus_per_task: None, gres: None, ..o.clone() }.lines(false)?);
    s.push_str("set -euo pipefail\n");
    s.push_str(&sub.merge_script()?);
    Ok(s)
}

/// `submit.sh`: submit the array, then the merge with `--dependency=afterok` on it; prints
/// both job ids.
pub fn submit_script(sub: &Submission) -> Result<String, String> {
    let cells = quote(sub.dir.join("cells.sbatch").to_str().ok_or("the submission directory is not UTF-8")?)?;
    let merge = quote(sub.dir.join("merge.sbatch").to_str().ok_or("the submission directory is not UTF-8")?)?;
    Ok(format!(
        "#!/bin/sh\n# Submit the cells of `{}` as a job array, then their merge once every task succeeded.\nset -eu\n\
         array=$(sbatch --parsable {cells})\narray=${{array%%;*}}\n\
         merge=$(sbatch --parsable --dependency=afterok:\"$array\" {merge})\n\
         echo \"array job $array ({} tasks), merge job ${{merge%%;*}}\"\n",
        sub.name,
        sub.tasks()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submit::tests::sub;

    #[test]
    fn scripts_carry_the_array_the_options_and_the_dependency() {
        let s = Submission { dir: "/scratch/run1".into(), ..sub(93, 8) };
        let o = Options {
            partition: Some("gpu".into()),
            time: Some("02:00:00".into()),
            cpus_per_task: Some(2),
            gres: Some("gpu:1".into()),
            ..Default::default()
        };
        let cells = cells_script(&s, &o).unwrap();
        for line in [
            "#SBATCH --array=0-11",
            "#SBATCH --output=/scratch/run1/logs/cells-%a.out",
            "#SBATCH --requeue",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=02:00:00",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --job-name=reglab-quickstart",
        ] {
            assert!(cells.lines().any(|l| l == line), "{line} missing in\n{cells}");
        }
        // every #SBATCH line comes before the first command (sbatch stops reading them there)
        let first_cmd = cells.lines().position(|l| !l.starts_with('#')).unwrap();
        assert!(cells.lines().skip(first_cmd).all(|l| !l.starts_with("#SBATCH")));
        assert!(cells.contains("SLURM_ARRAY_TASK_ID"));
        let merge = merge_script(&s, &o).unwrap();
        assert!(merge.contains("#SBATCH --partition=gpu") && !merge.contains("--gres") && !merge.contains("--array"));
        assert!(merge.contains(" report "));
        let submit = submit_script(&s).unwrap();
        assert!(submit.contains("--dependency=afterok:\"$array\""));
    }

    #[test]
    fn bad_options_are_refused() {
        let s = sub(4, 1);
        let bad = |o: Options| cells_script(&Submission { dir: "/scratch/r".into(), ..s.clone() }, &o).unwrap_err();
        assert!(bad(Options { partition: Some("a b".into()), ..Default::default() }).contains("--partition"));
        assert!(bad(Options { time: Some("1:00\n#SBATCH --x".into()), ..Default::default() }).contains("--time"));
        assert!(bad(Options { cpus_per_task: Some(0), ..Default::default() }).contains("cpus"));
        // #SBATCH --output cannot quote a path with spaces
        assert!(cells_script(&s, &Options::default()).unwrap_err().contains("spaces"));
        assert_eq!(job_name("my exp/1", "-merge"), "reglab-my_exp_1-merge");
    }
}
