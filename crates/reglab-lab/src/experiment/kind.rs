//! `kind = "train"` (the default) as an [`ExperimentKind`]: arms × seeds trained through a task
//! stream, `--jobs` jobs at once (the results do not depend on it), checkpointed after every
//! task so a killed run continues with `--resume`. One cell per job (arm, seed; arm-major);
//! `reglab report` merges shards of cells, or the results of runs of files that each hold some
//! of the arms.

use super::runner::{Event, Results, RunOptions};
use super::{Experiment, merge};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared, Progress, RunContext};
use crate::results::{Row, sort_rows, summarize};
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
    fn report(&self, text: &str, overrides: &[String], from: &[PathBuf], out: &Path, allow_missing: bool) -> Result<String, RunError> {
        let exp = Experiment::parse(text, overrides).map_err(RunError::Input)?;
        let shards = from.iter().filter(|p| cells::is_shard(p)).count();
        if shards == from.len() {
            return crate::kind::merge_shards(self.name(), &exp, from, out, allow_missing);
        }
        if shards > 0 {
            return Err(RunError::Input("--from: shards of `reglab run --cell` and results of whole runs cannot be merged together".into()));
        }
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

/// The progress of the jobs: the overall bar by task, one bar per running job.
struct JobBars<'a> {
    exp: &'a Experiment,
    progress: &'a Progress,
    bars: Mutex<HashMap<usize, indicatif::ProgressBar>>,
}

impl JobBars<'_> {
    fn on(&self, e: Event) {
        let tasks = self.exp.stream.tasks;
        match e {
            Event::JobStart { job, arm, seed, first_task, tasks } => {
                self.progress.inc((first_task - 1) as u64);
                let b = self.progress.job_bar(format!("{arm} s{seed}"), self.exp.stream.epochs_per_task as u64);
                b.set_message(format!("task {first_task}/{tasks}"));
                self.bars.lock().expect("bars").insert(job, b);
            }
            Event::Epoch { job, task, epoch, epochs } => {
                if let Some(b) = self.bars.lock().expect("bars").get(&job) {
                    b.set_position(epoch as u64);
                    b.set_message(format!("task {task}/{tasks}, epoch {epoch}/{epochs}"));
                }
            }
            Event::TaskEnd { job, task, train_accuracy } => {
                self.progress.tick();
                if let Some(b) = self.bars.lock().expect("bars").get(&job) {
                    b.set_position(0);
                    b.set_message(format!("task {task} done, train acc {train_accuracy:.3}"));
                }
            }
            Event::JobEnd { job } => {
                if let Some(b) = self.bars.lock().expect("bars").remove(&job) {
                    b.finish_and_clear();
                }
            }
        }
    }
}

/// Per arm, the first and last task's mean train/test accuracy.
fn summary(exp: &Experiment, results: &Results) -> Result<String, RunError> {
    let mut s = String::new();
    if exp.stream_kind().map_err(RunError::Input)? == super::config::StreamKind::RandomLabel {
        let _ = writeln!(s, "(random labels: the test columns are the training subset; there is no held-out measure)");
    }
    let _ = writeln!(s, "{:<20} {:>14} {:>14} {:>14} {:>14}", "arm", "train acc t1", "train acc last", "test acc t1", "test acc last");
    for arm in &results.arms {
        let m = |metric: &str| summarize(&results.rows, arm, metric);
        let (tr, te) = (m("train_accuracy"), m("test_accuracy"));
        let f =
            |v: &[(usize, f64, f64, usize)], last: bool| (if last { v.last() } else { v.first() }).map(|x| format!("{:.4}", x.1)).unwrap_or_default();
        let _ = writeln!(s, "{:<20} {:>14} {:>14} {:>14} {:>14}", arm, f(&tr, false), f(&tr, true), f(&te, false), f(&te, true));
    }
    Ok(s)
}

impl Prepared for Experiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        (((self.arms.len() * self.seeds.len()) as u64).saturating_mul(self.stream.tasks as u64), "tasks")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    /// One cell per job, arm-major: the resolved file with only this arm (other arms do not
    /// change its hash) and its seed.
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        let full = cells::toml_as_json(&self.to_toml());
        let work = self.stream.tasks as u64;
        let mut out = Vec::new();
        for (ai, arm) in self.arms.iter().enumerate() {
            for &seed in &self.seeds {
                let mut config = full.clone();
                let obj = config.as_object_mut().expect("a table");
                obj.remove("seeds");
                obj.insert("arm".into(), full["arm"][ai].clone());
                obj.insert("seed".into(), seed.into());
                out.push(CellSpec { label: format!("{} s{seed}", arm.name), work, config });
            }
        }
        Ok(out)
    }
    fn check(&self, device: reglab_train::device::DeviceKind) -> Result<(), RunError> {
        super::runner::check(self, device).map(|_| ())
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let bars = JobBars { exp: self, progress: cx.progress, bars: Mutex::new(HashMap::new()) };
        let (rows, train_seconds) = super::runner::run_cell(self, cx.dir, index, cx.device, &|e| bars.on(e))?;
        if let Some(t) = cx.times {
            t.lock().expect("times").push(("train_seconds".into(), train_seconds));
        }
        cells::encode(&rows)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let mut rows: Vec<Row> = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            if let Some(v) = o {
                rows.extend(cells::decode::<Vec<Row>>(v, i)?);
            }
        }
        let arms: Vec<String> = self.arms.iter().map(|a| a.name.clone()).collect();
        sort_rows(&mut rows, &arms);
        let results = Results { name: self.name.clone(), arms, seeds: self.seeds.clone(), tasks: self.stream.tasks, rows };
        merge::write(self, &results, out).map_err(RunError::Failed)?;
        summary(self, &results)
    }
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let bars = JobBars { exp: self, progress: ctx.progress, bars: Mutex::new(HashMap::new()) };
        let opts = RunOptions { out: ctx.out.to_path_buf(), jobs: ctx.jobs, resume: ctx.resume, device: ctx.device };
        let results = super::runner::run_locked(self, &opts, &|| ctx.open_out(), &|e| bars.on(e))?;
        super::report::write(self, &results, ctx.out).map_err(RunError::Failed)?;
        summary(self, &results)
    }
}
