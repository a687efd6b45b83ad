//! `kind = "train"` (the default) as an [`ExperimentKind`]: arms × seeds trained through a task
//! stream, `--jobs` jobs at once (the results do not depend on it), checkpointed after every
//! task so a killed run continues with `--resume`; `reglab report` merges runs of parts.

use super::runner::{Event, RunOptions};
use super::{Experiment, merge};
use crate::RunError;
use crate::kind::{ExperimentKind, Prepared, RunContext};
use crate::results::summarize;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Networks trained under regularizers, side by side.
pub struct TrainKind;

impl ExperimentKind for TrainKind {
    fn name(&self) -> &'static str {
        "train"
    }
    fn about(&self) -> &'static str {
        "networks trained under regularizers side by side: arms × seeds through a task stream, probed after every task or epoch (the default kind)"
    }
    fn resumable(&self) -> bool {
        true
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(Experiment::parse(text, overrides)?))
    }
    fn report(&self, text: &str, overrides: &[String], from: &[PathBuf], out: &Path) -> Result<String, RunError> {
        let exp = Experiment::parse(text, overrides).map_err(RunError::Input)?;
        let mut parts = Vec::new();
        for p in from {
            parts.push((p.display().to_string(), merge::read_rows(p).map_err(RunError::Input)?));
        }
        let results = merge::merge(&exp, &parts).map_err(RunError::Input)?;
        merge::write(&exp, &results, out).map_err(RunError::Failed)?;
        let missing = merge::missing_jobs(&exp, &results);
        let mut s = String::new();
        let _ = writeln!(s, "{} rows of {} jobs from {} runs", results.rows.len(), exp.arms.len() * exp.seeds.len() - missing.len(), from.len());
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|(arm, seed)| format!("{arm} s{seed}")).collect();
            let _ = writeln!(s, "no rows for {} jobs: {}", missing.len(), list.join(", "));
        }
        Ok(s)
    }
}

impl Prepared for Experiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        ((self.arms.len() * self.seeds.len() * self.stream.tasks) as u64, "tasks")
    }
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let bars: Mutex<HashMap<usize, indicatif::ProgressBar>> = Mutex::new(HashMap::new());
        let tasks = self.stream.tasks;
        let on_event = |e: Event| match e {
            Event::JobStart { job, arm, seed, first_task, tasks } => {
                ctx.progress.inc((first_task - 1) as u64);
                let b = ctx.progress.job_bar(format!("{arm} s{seed}"), self.stream.epochs_per_task as u64);
                b.set_message(format!("task {first_task}/{tasks}"));
                bars.lock().expect("bars").insert(job, b);
            }
            Event::Epoch { job, task, epoch, epochs } => {
                if let Some(b) = bars.lock().expect("bars").get(&job) {
                    b.set_position(epoch as u64);
                    b.set_message(format!("task {task}/{tasks}, epoch {epoch}/{epochs}"));
                }
            }
            Event::TaskEnd { job, task, train_accuracy } => {
                ctx.progress.tick();
                if let Some(b) = bars.lock().expect("bars").get(&job) {
                    b.set_position(0);
                    b.set_message(format!("task {task} done, train acc {train_accuracy:.3}"));
                }
            }
            Event::JobEnd { job } => {
                if let Some(b) = bars.lock().expect("bars").remove(&job) {
                    b.finish_and_clear();
                }
            }
        };
        let opts = RunOptions { out: ctx.out.to_path_buf(), jobs: ctx.jobs, resume: ctx.resume, device: ctx.device };
        let results = super::runner::run_locked(self, &opts, &|| ctx.open_out(), &on_event)?;
        super::report::write(self, &results, ctx.out).map_err(RunError::Failed)?;
        // Per arm, the first and last task's mean train/test accuracy.
        let mut s = String::new();
        if self.stream_kind().map_err(RunError::Input)? == super::config::StreamKind::RandomLabel {
            let _ = writeln!(s, "(random labels: the test columns are the training subset; there is no held-out measure)");
        }
        let _ = writeln!(s, "{:<20} {:>14} {:>14} {:>14} {:>14}", "arm", "train acc t1", "train acc last", "test acc t1", "test acc last");
        for arm in &results.arms {
            let m = |metric: &str| summarize(&results.rows, arm, metric);
            let (tr, te) = (m("train_accuracy"), m("test_accuracy"));
            let f = |v: &[(usize, f64, f64, usize)], last: bool| {
                (if last { v.last() } else { v.first() }).map(|x| format!("{:.4}", x.1)).unwrap_or_default()
            };
            let _ = writeln!(s, "{:<20} {:>14} {:>14} {:>14} {:>14}", arm, f(&tr, false), f(&tr, true), f(&te, false), f(&te, true));
        }
        Ok(s)
    }
}
