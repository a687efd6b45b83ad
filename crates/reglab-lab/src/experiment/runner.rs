//! Running an experiment: every (arm, seed) job trains one network through the task stream,
//! probes it at the end of each task, and checkpoints after each finished task, so that a run
//! killed at any moment continues with `--resume` and ends with the same files.

use super::config::{Experiment, ProbeConfig, ProbeEvery};
use super::rowlog::RowLog;
use super::stream::Stream;
use crate::RunError;
use crate::probes;
use crate::results::{Row, sort_rows, to_csv};
use crate::rundir::write_json;
use reglab_core::{NamedTensor, Split};
use reglab_train::tensorfile::write_atomic;
use reglab_train::trainer::{Checkpoint, Trainer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run directory.
    pub out: PathBuf,
    /// Jobs (arm × seed) trained at once.
    pub jobs: usize,
    /// Continue the run in `out` from its checkpoints.
    pub resume: bool,
    /// Where the networks train (`Gpu` needs a build with the `gpu` feature). The probes and
    /// regularizers run on the host either way.
    pub device: reglab_train::device::DeviceKind,
}

/// What the runner reports as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// A job starts (or resumes) at `first_task`.
    JobStart { job: usize, arm: String, seed: u64, first_task: usize, tasks: usize },
    /// An epoch of a task finished.
    Epoch { job: usize, task: usize, epoch: usize, epochs: usize },
    /// A task finished and was checkpointed.
    TaskEnd { job: usize, task: usize, train_accuracy: f64 },
    /// A job finished.
    JobEnd { job: usize },
}

/// The whole output of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Results {
    /// Experiment name.
    pub name: String,
    /// Arms, in the file's order.
    pub arms: Vec<String>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Tasks per job.
    pub tasks: usize,
    /// Rows, sorted by arm order, seed, task.
    pub rows: Vec<Row>,
}

/// Load the base split of an experiment (subsets applied).
pub fn load_split(exp: &Experiment) -> Result<Split, RunError> {
    let src = exp.data_source().map_err(RunError::Input)?;
    let mut split = src.load().map_err(|e| RunError::Input(e.to_string()))?;
    if let Some(n) = exp.data.subset {
        split.train = split.train.take(n);
    }
    if let Some(n) = exp.data.test_subset {
        split.test = split.test.take(n);
    }
    if let Some(rho) = exp.data.long_tail {
        split.train = crate::long_tail::long_tail(&split.train, rho);
    }
    if let Some(order) = exp.pixel_order().map_err(RunError::Input)? {
        crate::pixels::apply(&mut split, order, exp.data.pixel_seed.unwrap_or(0));
    }
    if let Some([m, s]) = exp.data.standardize.as_deref().and_then(|v| <[f64; 2]>::try_from(v).ok()) {
        let (m, s) = (m as f32, s as f32);
        for x in split.train.features.iter_mut().chain(split.test.features.iter_mut()) {
            *x = (*x - m) / s;
        }
    }
    Ok(split)
}

fn ckpt_path(out: &Path, arm: &str, seed: u64) -> PathBuf {
    out.join("checkpoints").join(sanitize(arm)).join(format!("seed-{seed}.safetensors"))
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// One job's checkpoint: the trainer state ([`Checkpoint::save`]) with the tasks done and the
/// extent and checksum of its rows log ([`RowLog`]) in its metadata, in ONE file written
/// atomically, so that it is always consistent.
fn save_job(path: &Path, c: &Checkpoint, tasks_done: usize, log: &RowLog) -> Result<(), String> {
    let mut meta = BTreeMap::from([("tasks_done".to_string(), tasks_done.to_string())]);
    meta.extend(log.meta());
    c.save(path, &meta)
}

/// A job's checkpoint, its tasks done, its rows and its log ready to append.
fn load_job(path: &Path) -> Result<(Checkpoint, usize, Vec<Row>, RowLog), String> {
    let (c, meta) = Checkpoint::load(path)?;
    let tasks_done: usize =
        meta.get("tasks_done").and_then(|t| t.parse().ok()).ok_or_else(|| format!("{}: no valid `tasks_done` in the metadata", path.display()))?;
    let (log, rows) = RowLog::resume(&RowLog::path_for(path), &meta)?;
    Ok((c, tasks_done, rows, log))
}

/// The probes of one task end, as metrics.
fn probe_row(
    trainer: &mut Trainer,
    init: &[NamedTensor],
    task: &Split,
    clean: Option<&[u8]>,
    probe: &ProbeConfig,
) -> Result<BTreeMap<String, f64>, String> {
    let probe_examples = probe.examples;
    let mut m = BTreeMap::new();
    // one pass over the training set: loss, accuracy and, with label noise, the predictions
    let (train_loss, train_accuracy, pred) = trainer.evaluate_and_predict(&task.train);
    if let Some(clean) = clean {
        // label noise: how the network treats the training examples whose label was changed
        let fit = probes::noise_fit(&pred, &task.train.labels, clean);
        m.insert("noisy_fraction".into(), fit.noisy as f64 / task.train.len().max(1) as f64);
        m.insert("noisy_memorized".into(), fit.memorized);
        m.insert("noisy_true_predicted".into(), fit.true_predicted);
        m.insert("clean_train_accuracy".into(), fit.clean_accuracy);
    }
    if probe.tail {
        for (k, v) in probes::loss_tail(&trainer.example_losses(&task.train)) {
            m.insert(k, v);
        }
    }
    let (test_loss, test_accuracy) = trainer.evaluate(&task.test);
    m.insert("train_loss".into(), train_loss);
    m.insert("train_accuracy".into(), train_accuracy);
    m.insert("test_loss".into(), test_loss);
    m.insert("test_accuracy".into(), test_accuracy);
    if let Some(r) = &probe.robust {
        let (clean, fgsm, pgd) = probes::robust_accuracy(trainer, &task.test, r)?;
        m.insert("robust/clean_accuracy".into(), clean);
        m.insert("robust/fgsm_accuracy".into(), fgsm);
        m.insert("robust/pgd_accuracy".into(), pgd);
    }
    let weights = trainer.net.to_pytorch();
    let (mut norm2, mut dist2) = (0.0f64, 0.0f64);
    for (w, w0) in weights.iter().zip(init) {
        if w.shape.len() < 2 {
            continue;
        }
        norm2 += reglab_core::linalg::sum_sq(&w.data);
        dist2 += reglab_core::linalg::sum_sq_diff(&w.data, &w0.data);
        let v0 = reglab_core::linalg::seeded_unit_vector(w.shape[1..].iter().product(), &w.name);
        let (s, _, _) = reglab_core::linalg::top_singular(w.view().matrix(), &v0, 1e-10, 5000);
        m.insert(format!("sigma_max/{}", w.name), s);
    }
    if probe.spectrum {
        for w in weights.iter().filter(|w| w.shape.len() >= 2) {
            let p = probes::probe_weight(&w.name, w.view(), None);
            m.insert(format!("eff_rank/{}", w.name), p.effective_rank.unwrap_or(f64::NAN));
            m.insert(format!("orth_gap/{}", w.name), p.orthogonality_gap.unwrap_or(f64::NAN));
            let (mean_cos, _) = probes::row_cosines(w.view().matrix());
            m.insert(format!("mean_abs_cos/{}", w.name), mean_cos);
        }
    }
    if probe.binarize {
        let (train_acc, test_acc) = binarized_accuracy(trainer, &weights, task)?;
        m.insert("train_accuracy_binarized".into(), train_acc);
        m.insert("test_accuracy_binarized".into(), test_acc);
    }
    m.insert("weight_norm".into(), norm2.sqrt());
    // fraction of exact zeros over the layer weights (pruning masks, ℓ1's proximal step)
    let (mut zeros, mut entries) = (0usize, 0usize);
    for w in weights.iter().filter(|w| w.shape.len() >= 2) {
        let z = w.data.iter().filter(|&&x| x == 0.0).count();
        m.insert(format!("sparsity/{}", w.name), probes::sparsity(&w.data));
        zeros += z;
        entries += w.data.len();
    }
    m.insert("sparsity".into(), if entries == 0 { 0.0 } else { zeros as f64 / entries as f64 });
    m.insert("distance_to_init".into(), dist2.sqrt());
    if probe.drift {
        let mut reference = trainer.net.clone();
        reference.load_pytorch(init)?;
        // per tensor (every rank: embeddings, LayerNorm scales, biases too)
        for (w, w0) in weights.iter().zip(init) {
            m.insert(format!("distance_to_init/{}", w.name), probes::distance(&w.data, &w0.data));
        }
        let d = probes::feature_drift(&trainer.net, &reference, &task.test, probe_examples)?;
        m.insert("feature_drift_cosine".into(), d.mean_cosine);
        m.insert("feature_similarity_spearman".into(), d.similarity_spearman);
    }
    let f = probes::probe_net(&trainer.net, &task.train, probe_examples)?;
    m.insert("feature_effective_rank".into(), f.effective_rank);
    m.insert("dead_fraction".into(), f.dead_fraction);
    // parameter terms on the current weights; output terms: their mean over the last epoch
    for (label, v) in trainer.reg_values().map_err(|e| e.to_string())? {
        m.insert(format!("reg/{label}"), v);
    }
    Ok(m)
}

/// Train and test accuracy of the network with every layer weight `W` (rank ≥ 2) replaced by
/// `α·sign(W)`, `α = mean |W|` of that layer (sign(0) = +1); biases kept.
fn binarized_accuracy(trainer: &Trainer, weights: &[NamedTensor], task: &Split) -> Result<(f64, f64), String> {
    let bin: Vec<NamedTensor> = weights
        .iter()
        .map(|w| {
            if w.shape.len() < 2 || w.data.is_empty() {
                return w.clone();
            }
            let alpha = (reglab_core::linalg::sum_abs(&w.data) / w.data.len() as f64) as f32;
            let data = w.data.iter().map(|&x| if x < 0.0 { -alpha } else { alpha }).collect();
            NamedTensor::new(w.name.clone(), w.shape.clone(), data)
        })
        .collect();
    let mut net = trainer.net.clone();
    net.load_pytorch(&bin)?;
    let (_, train) = Trainer::evaluate_net(&net, &task.train);
    let (_, test) = Trainer::evaluate_net(&net, &task.test);
    Ok((train, test))
}

struct Shared<'a> {
    exp: &'a Experiment,
    out: &'a Path,
    device: reglab_train::device::DeviceKind,
    /// The rows so far, per job.
    rows: Mutex<Vec<Vec<Row>>>,
    failed: AtomicBool,
    /// Whether rows are published to `out` as they come (a whole run; a cell keeps them).
    publish: bool,
    /// When the last publication ended and how long it took.
    last_publish: Mutex<Option<(Instant, Duration)>>,
}

impl<'a> Shared<'a> {
    fn new(exp: &'a Experiment, out: &'a Path, device: reglab_train::device::DeviceKind, publish: bool) -> Self {
        let jobs = exp.arms.len() * exp.seeds.len();
        Self { exp, out, device, rows: Mutex::new(vec![Vec::new(); jobs]), failed: AtomicBool::new(false), publish, last_publish: Mutex::new(None) }
    }

    /// Replace job `job`'s rows (on a resume).
    fn set_rows(&self, job: usize, rows: Vec<Row>) {
        self.rows.lock().expect("rows")[job] = rows;
    }

    /// Add a row of job `job` and, in a whole run, rewrite results.json / results.csv with
    /// every row so far, atomically — unless the last rewrite ended less than
    /// [`PUBLISH_PACE`] times its own duration ago: a long run spends at most about
    /// 1/`PUBLISH_PACE` of its time publishing however many rows it holds (a short one still
    /// publishes every row). The run publishes once more at its end.
    fn add_row(&self, job: usize, row: Row) -> Result<(), String> {
        let mut all = self.rows.lock().expect("rows");
        all[job].push(row);
        if !self.publish {
            return Ok(());
        }
        let mut last = self.last_publish.lock().expect("last publish");
        if let Some((end, took)) = *last
            && end.elapsed() < took * PUBLISH_PACE
        {
            return Ok(());
        }
        let t = Instant::now();
        let mut rows: Vec<Row> = all.iter().flatten().cloned().collect();
        drop(all);
        publish(self.exp, self.out, &mut rows)?;
        *last = Some((Instant::now(), t.elapsed()));
        Ok(())
    }

    /// Every row, sorted.
    fn into_rows(self) -> Vec<Row> {
        let mut rows: Vec<Row> = self.rows.into_inner().expect("rows").into_iter().flatten().collect();
        let arms: Vec<String> = self.exp.arms.iter().map(|a| a.name.clone()).collect();
        sort_rows(&mut rows, &arms);
        rows
    }
}

/// See [`Shared::add_row`].
const PUBLISH_PACE: u32 = 20;

/// Write results.json / results.csv of `rows` (sorted first) into `out`, atomically.
pub(crate) fn publish(exp: &Experiment, out: &Path, rows: &mut [Row]) -> Result<(), String> {
    let arms: Vec<String> = exp.arms.iter().map(|a| a.name.clone()).collect();
    sort_rows(rows, &arms);
    let res = Results { name: exp.name.clone(), arms, seeds: exp.seeds.clone(), tasks: exp.stream.tasks, rows: rows.to_vec() };
    write_json(&out.join("results.json"), &res).map_err(|e| e.to_string())?;
    write_atomic(&out.join("results.csv"), to_csv(rows).as_bytes()).map_err(|e| e.to_string())
}

/// Run one job from its checkpoint (if any) to the last task. Returns its seconds, in all and
/// in training alone (without the probes).
fn run_job(sh: &Shared<'_>, stream: &Stream, base: &Split, job: usize, events: &(dyn Fn(Event) + Sync)) -> Result<(f64, f64), String> {
    let t0 = Instant::now();
    let mut train_seconds = 0.0;
    let exp = sh.exp;
    let (arm, seed) = (&exp.arms[job / exp.seeds.len()], exp.seeds[job % exp.seeds.len()]);
    let cfg = exp.train_config(arm, seed)?;
    // this arm's probes: `robust_eps` replaces the robust probe's ε
    let mut probe = exp.probe.clone();
    if let (Some(r), Some(e)) = (probe.robust.as_mut(), arm.robust_eps) {
        r.eps = e;
    }
    let steps_per_task = base.train.len().div_ceil(cfg.batch) * cfg.epochs;
    let total = (steps_per_task * exp.stream.tasks) as u64;
    let device = reglab_train::device::autodiff_device(sh.device)?;
    let mut trainer = Trainer::new(&cfg, &base.train.example_shape, base.train.classes, &device, None, total).map_err(|e| e.to_string())?;
    let init = trainer.reg().anchor_pytorch();
    let path = ckpt_path(sh.out, &arm.name, seed);
    let (mut done, mut last_acc) = (0usize, 0.0);
    let mut log = if path.exists() {
        let (c, d, rows, log) = load_job(&path)?;
        trainer.restore(c).map_err(|e| e.to_string())?;
        done = d;
        if let Some(r) = rows.last() {
            last_acc = r.metrics.get("train_accuracy").copied().unwrap_or(0.0);
        }
        // The rows of the tasks done before the resume belong to the results too (a job that
        // had finished all its tasks trains nothing below and would never publish them).
        sh.set_rows(job, rows);
        log
    } else {
        RowLog::create(&RowLog::path_for(&path))?
    };
    // one finished task (or part of an epoch): its row on disk, then the checkpoint that
    // names it, then the results
    let mut finish = |trainer: &Trainer, done: usize, row: Row| -> Result<(), String> {
        log.append(&row)?;
        save_job(&path, &trainer.checkpoint().map_err(|e| e.to_string())?, done, &log)?;
        sh.add_row(job, row)
    };
    if exp.probe.every == ProbeEvery::Epoch {
        // one task; a row, a checkpoint and a publication after every epoch (`done` counts epochs)
        let (data, clean) = stream.task_noisy(seed, 1);
        events(Event::JobStart { job, arm: arm.name.clone(), seed, first_task: 1, tasks: 1 });
        let mut acc = last_acc;
        // `k` rows per epoch: after each part of its steps (`done` counts parts)
        let k = exp.probe.per_epoch;
        let steps = trainer.steps_per_epoch(data.train.len());
        if steps < k {
            return Err(format!("`probe.per_epoch` = {k} is more than the {steps} steps of an epoch"));
        }
        for p in done + 1..=cfg.epochs * k {
            if sh.failed.load(Ordering::Relaxed) {
                return Err("stopped: another job failed".into());
            }
            let (e, part) = ((p - 1) / k + 1, (p - 1) % k);
            let range = part * steps / k..(part + 1) * steps / k;
            let t = Instant::now();
            trainer.train_steps(&data.train, e, range, &mut |_| {}).map_err(|err| format!("arm `{}`, seed {seed}, epoch {e}: {err}", arm.name))?;
            train_seconds += t.elapsed().as_secs_f64();
            if part + 1 == k {
                events(Event::Epoch { job, task: 1, epoch: e, epochs: cfg.epochs });
            }
            let mut metrics = probe_row(&mut trainer, &init, &data, clean.as_deref(), &probe)?;
            if k > 1 {
                metrics.insert("epoch".into(), p as f64 / k as f64);
            }
            acc = metrics["train_accuracy"];
            finish(&trainer, p, Row { arm: arm.name.clone(), seed, task: p, metrics })?;
        }
        events(Event::TaskEnd { job, task: 1, train_accuracy: acc });
        events(Event::JobEnd { job });
        return Ok((t0.elapsed().as_secs_f64(), train_seconds));
    }
    events(Event::JobStart { job, arm: arm.name.clone(), seed, first_task: done + 1, tasks: exp.stream.tasks });
    for task in done + 1..=exp.stream.tasks {
        if sh.failed.load(Ordering::Relaxed) {
            return Err("stopped: another job failed".into());
        }
        let (data, clean) = stream.task_noisy(seed, task);
        for e in 1..=cfg.epochs {
            let global_epoch = (task - 1) * cfg.epochs + e;
            let t = Instant::now();
            trainer
                .train_epoch(&data.train, global_epoch, &mut |_| {})
                .map_err(|err| format!("arm `{}`, seed {seed}, task {task}: {err}", arm.name))?;
            train_seconds += t.elapsed().as_secs_f64();
            events(Event::Epoch { job, task, epoch: e, epochs: cfg.epochs });
        }
        if task < exp.stream.tasks {
            // consolidation (EWC with consolidate=task) before the checkpoint below
            let t = Instant::now();
            trainer.end_task(&data.train).map_err(|err| format!("arm `{}`, seed {seed}, end of task {task}: {err}", arm.name))?;
            train_seconds += t.elapsed().as_secs_f64();
        }
        let metrics = probe_row(&mut trainer, &init, &data, clean.as_deref(), &probe)?;
        let acc = metrics["train_accuracy"];
        finish(&trainer, task, Row { arm: arm.name.clone(), seed, task, metrics })?;
        events(Event::TaskEnd { job, task, train_accuracy: acc });
    }
    events(Event::JobEnd { job });
    Ok((t0.elapsed().as_secs_f64(), train_seconds))
}

/// Check everything that can be checked before anything is written — the file, the data, the
/// label noise and every arm's model on `device` (by building it) — and return the base split.
pub fn check(exp: &Experiment, device: reglab_train::device::DeviceKind) -> Result<Split, RunError> {
    exp.validate().map_err(RunError::Input)?;
    let base = load_split(exp)?;
    if let Some(n) = exp.label_noise().map_err(RunError::Input)? {
        n.validate(base.train.classes).map_err(|e| RunError::Input(format!("`data.label_noise_kind`: {e}")))?;
    }
    let kind = exp.stream_kind().map_err(RunError::Input)?;
    Stream::new(kind, base.clone()).check().map_err(RunError::Input)?;
    let device = reglab_train::device::autodiff_device(device).map_err(RunError::Input)?;
    for arm in &exp.arms {
        let cfg = exp.train_config(arm, exp.seeds[0]).map_err(RunError::Input)?;
        Trainer::new(&cfg, &base.train.example_shape, base.train.classes, &device, None, 1).map_err(|e| RunError::Input(e.to_string()))?;
    }
    Ok(base)
}

/// Run job `job` (arm `job / seeds`, seed `job % seeds`) of `exp` alone — one cell — with its
/// checkpoint in `dir/checkpoints/` (continued from there if it exists) and return its rows and
/// the seconds it spent training (without the probes).
pub fn run_cell(
    exp: &Experiment,
    dir: &Path,
    job: usize,
    device: reglab_train::device::DeviceKind,
    events: &(dyn Fn(Event) + Sync),
) -> Result<(Vec<Row>, f64), RunError> {
    if job >= exp.arms.len() * exp.seeds.len() {
        return Err(RunError::Input(format!("job {job} is not in the experiment")));
    }
    let base = load_split(exp)?;
    let noise = exp.label_noise().map_err(RunError::Input)?;
    let kind = exp.stream_kind().map_err(RunError::Input)?;
    let stream = Stream::new(kind, base.clone()).with_noise(noise);
    stream.check().map_err(RunError::Input)?;
    let sh = Shared::new(exp, dir, device, false);
    let (_, train_seconds) = run_job(&sh, &stream, &base, job, events).map_err(RunError::Failed)?;
    Ok((sh.into_rows(), train_seconds))
}

/// Run (or resume) the experiment into `opts.out`. Every input is checked before anything is
/// written. Returns the results.
pub fn run(exp: &Experiment, opts: &RunOptions, events: &(dyn Fn(Event) + Sync)) -> Result<Results, RunError> {
    run_locked(exp, opts, &|| Ok(()), events)
}

/// [`run`], calling `open` (which creates and locks the run directory, see
/// [`crate::kind::RunContext::open_out`]) once every input is checked and before anything is
/// written; its guard is held to the end.
pub fn run_locked<G>(
    exp: &Experiment,
    opts: &RunOptions,
    open: &dyn Fn() -> Result<G, RunError>,
    events: &(dyn Fn(Event) + Sync),
) -> Result<Results, RunError> {
    let t0 = Instant::now();
    let base = check(exp, opts.device)?;
    let noise = exp.label_noise().map_err(RunError::Input)?;
    let kind = exp.stream_kind().map_err(RunError::Input)?;
    let out = &opts.out;
    let config_text = exp.to_toml();
    let has_run = out.join("checkpoints").exists();
    if opts.resume {
        let old = std::fs::read_to_string(out.join("config.toml"))
            .map_err(|e| RunError::Input(format!("--resume: {}: {e}", out.join("config.toml").display())))?;
        if old != config_text {
            return Err(RunError::Input(format!(
                "--resume: the experiment differs from the one in {} (compare its config.toml); resume with the same file and --set values",
                out.display()
            )));
        }
    } else if has_run {
        return Err(RunError::Input(format!("{} holds a previous run: continue it with --resume, or choose another --out", out.display())));
    }
    std::fs::create_dir_all(out).map_err(|e| RunError::Input(format!("{}: {e}", out.display())))?;
    let _guard = open()?;
    crate::rundir::write_text(&out.join("config.toml"), &config_text)?;

    let stream = Stream::new(kind, base.clone()).with_noise(noise);
    let n_jobs = exp.arms.len() * exp.seeds.len();
    let sh = Shared::new(exp, out, opts.device, true);
    let next = AtomicUsize::new(0);
    let seconds: Mutex<Vec<(usize, (f64, f64))>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, n_jobs) {
            s.spawn(|| {
                loop {
                    let job = next.fetch_add(1, Ordering::SeqCst);
                    if job >= n_jobs || sh.failed.load(Ordering::Relaxed) {
                        break;
                    }
                    match run_job(&sh, &stream, &base, job, events) {
                        Ok(t) => seconds.lock().expect("seconds").push((job, t)),
                        Err(e) => {
                            sh.failed.store(true, Ordering::Relaxed);
                            errors.lock().expect("errors").push(e);
                        }
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().expect("errors");
    if let Some(e) = errors.iter().find(|e| !e.starts_with("stopped:")).or(errors.first()) {
        return Err(RunError::Failed(format!("{e}; finished tasks are checkpointed in {}: rerun with --resume", out.display())));
    }
    let mut rows = sh.into_rows();
    let arms: Vec<String> = exp.arms.iter().map(|a| a.name.clone()).collect();
    // Publish once more: after a resume, jobs that were already finished published nothing.
    publish(exp, out, &mut rows).map_err(RunError::Failed)?;
    let results = Results { name: exp.name.clone(), arms, seeds: exp.seeds.clone(), tasks: exp.stream.tasks, rows };
    let mut secs = seconds.into_inner().expect("seconds");
    secs.sort_by_key(|x| x.0);
    let timing = serde_json::json!({
        "total_seconds": t0.elapsed().as_secs_f64(),
        "jobs": opts.jobs,
        "job_seconds": secs.iter().map(|(j, (t, train))| serde_json::json!({
            "arm": exp.arms[j / exp.seeds.len()].name, "seed": exp.seeds[j % exp.seeds.len()], "seconds": t, "train_seconds": train
        })).collect::<Vec<_>>(),
    });
    write_json(&out.join("timing.json"), &timing)?;
    Ok(results)
}
