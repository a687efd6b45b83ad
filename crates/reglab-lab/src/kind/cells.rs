//! Cells: the unit of work of an experiment, for running it in pieces (on a cluster scheduler,
//! one array task per cell or per range of cells) and merging the pieces.
//!
//! Every kind expands its file into an ordered list of cells ([`CellSpec`]: a label, its
//! amount of work and the JSON of everything that determines its result). [`plan`] numbers
//! them and gives each a content hash (SHA-256 of the kind and that JSON), so `reglab plan`
//! prints the same index and hash for the same file on any machine. `reglab run FILE --cell I
//! --out SHARD` runs exactly the chosen cells into a *shard* ([`run_shard`]); `reglab report
//! FILE --from SHARD …` reads the shards back ([`read_shards`]), refusing a cell whose hash is
//! not the plan's (a shard of another configuration), a cell that two shards hold, and missing
//! cells unless asked to report without them, and the kind merges the cells' results into the
//! same files a whole run writes — byte for byte, because a whole run is the same cells merged
//! by the same code.
//!
//! A shard directory holds `config.toml` (the resolved experiment), `plan.json` (the full plan
//! and the cells asked for), `cells/NNNNN.cbor` (one per finished cell: index, label, hash and
//! the cell's result in CBOR, which keeps every `f64` exact, NaN and infinities included) and
//! whatever the kind needs to resume a cell (training: `checkpoints/`). A cell file is written
//! atomically when its cell ends, so a shard killed at any moment holds whole cells only, and
//! `--resume` runs the cells it lacks (a training cell also continues from its checkpoint).

use super::{Prepared, Progress, RunContext};
use crate::RunError;
use reglab_train::device::DeviceKind;
use reglab_train::tensorfile::write_atomic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A cell's result as it travels between [`Prepared::run_cell`] and [`Prepared::merge`]: a
/// CBOR value (exact floats, NaN and infinities included).
pub type CellValue = ciborium::Value;

/// One cell as its kind lists it.
#[derive(Debug, Clone)]
pub struct CellSpec {
    /// A short human label (`"l2 s1"`, `"views 20, noise 0.01"`).
    pub label: String,
    /// Its amount of work, in the unit of [`Prepared::work`].
    pub work: u64,
    /// Everything that determines the cell's result (hashed; never parsed back).
    pub config: serde_json::Value,
}

/// A cell of the plan: its index (stable for a file), label, content hash and work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the kind's list, from 0.
    pub index: usize,
    /// The kind's label.
    pub label: String,
    /// SHA-256 (hex) of the kind's name and the cell's config.
    pub hash: String,
    /// Amount of work, in the kind's unit.
    pub work: u64,
}

/// The content hash of a cell of kind `kind` with config `config`: SHA-256 (lower-case hex) of
/// `reglab-cell-v1`, the kind and the config's compact JSON (object keys sorted), separated by
/// NUL bytes.
pub fn content_hash(kind: &str, config: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(b"reglab-cell-v1\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(serde_json::to_string(config).expect("JSON values serialize").as_bytes());
    format!("{:x}", h.finalize())
}

/// The plan of a prepared experiment of kind `kind`: its cells, numbered, with their hashes.
pub fn plan(kind: &str, prepared: &dyn Prepared) -> Result<Vec<Cell>, String> {
    let specs = prepared.cells()?;
    if specs.is_empty() {
        return Err("the experiment has no cells".into());
    }
    Ok(specs.into_iter().enumerate().map(|(index, s)| Cell { index, hash: content_hash(kind, &s.config), label: s.label, work: s.work }).collect())
}

/// The resolved experiment file as JSON (for the cells' configs).
pub fn toml_as_json(toml_text: &str) -> serde_json::Value {
    let v: toml::Value = toml::from_str(toml_text).expect("a resolved experiment parses");
    serde_json::to_value(v).expect("TOML values convert to JSON")
}

/// The cells of a sweep, one per label in order, each of `work` units: its config is the
/// resolved experiment file and the cell's index, so an edit to the file changes every hash.
pub fn sweep_specs(toml_text: &str, labels: impl IntoIterator<Item = String>, work: u64) -> Vec<CellSpec> {
    let config = toml_as_json(toml_text);
    labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| CellSpec { label, work, config: serde_json::json!({ "experiment": config, "cell": i }) })
        .collect()
}

/// A cell's failure, naming the cell: `cell INDEX (LABEL): why`; `label` is `None` for an index
/// outside the plan.
pub fn cell_failed(index: usize, label: Option<String>, why: impl std::fmt::Display) -> RunError {
    RunError::Failed(format!("cell {index} ({}): {why}", label.as_deref().unwrap_or("not in the plan")))
}

/// A cell's result as a [`CellValue`].
pub fn encode<T: Serialize>(v: &T) -> Result<CellValue, RunError> {
    CellValue::serialized(v).map_err(|e| RunError::Failed(format!("encoding a cell's result: {e}")))
}

/// A [`CellValue`] back as `T`; the error names the cell.
pub fn decode<T: DeserializeOwned>(v: &CellValue, cell: usize) -> Result<T, RunError> {
    v.deserialized().map_err(|e| RunError::Input(format!("cell {cell}: its result does not read as this kind's: {e}")))
}

/// Every cell's result, or an error that names the missing ones (for kinds whose results need
/// every cell).
pub fn all<T: DeserializeOwned>(outcomes: &[Option<CellValue>], kind: &str) -> Result<Vec<T>, RunError> {
    let missing: Vec<String> = outcomes.iter().enumerate().filter(|(_, o)| o.is_none()).map(|(i, _)| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(RunError::Input(format!("kind = \"{kind}\" needs every cell to report; missing: {}", missing.join(", "))));
    }
    outcomes.iter().enumerate().map(|(i, o)| decode(o.as_ref().expect("checked"), i)).collect()
}

/// Parse the cells asked for: `--cell I` (any number) and `--cells A..B` (half-open; `A..=B`
/// closed), each inside `0..n`. Returns them sorted, without repeats; an empty request is an
/// error.
pub fn select(cell: &[usize], ranges: &[String], n: usize) -> Result<Vec<usize>, String> {
    let mut out: Vec<usize> = Vec::new();
    for &i in cell {
        if i >= n {
            return Err(format!("--cell {i}: the experiment has {n} cells (0..{n}); `reglab plan` lists them"));
        }
        out.push(i);
    }
    for r in ranges {
        let bad = || format!("--cells {r:?}: expected A..B (half-open) or A..=B, e.g. 0..{n}");
        let (a, b, closed) = if let Some((a, b)) = r.split_once("..=") {
            (a, b, true)
        } else if let Some((a, b)) = r.split_once("..") {
            (a, b, false)
        } else {
            return Err(bad());
        };
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        let end = if closed { b + 1 } else { b };
        if a >= end {
            return Err(format!("--cells {r}: an empty range"));
        }
        if end > n {
            return Err(format!("--cells {r}: the experiment has {n} cells (0..{n}); `reglab plan` lists them"));
        }
        out.extend(a..end);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("no cells asked for".into());
    }
    Ok(out)
}

/// What a cell gets to run.
pub struct CellContext<'a> {
    /// The directory where the cell may keep what it needs to resume (the shard, or the run
    /// directory of a whole run).
    pub dir: &'a Path,
    /// Threads the cell may use (the cell's own parallel work runs on the current rayon pool).
    pub threads: usize,
    /// Where networks train.
    pub device: DeviceKind,
    /// Progress, advanced by one per unit of the cell's work.
    pub progress: &'a Progress,
    /// Where the cell may report named wall-clock seconds about itself (e.g. `train_seconds`:
    /// training alone, without the probes) for the shard's `timing.json`; never in its record.
    pub times: Option<&'a Mutex<Vec<(String, f64)>>>,
}

/// The file of cell `index` in a shard.
pub fn cell_path(shard: &Path, index: usize) -> PathBuf {
    shard.join("cells").join(format!("{index:05}.cbor"))
}

/// What a shard's cell file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRecord {
    format: u32,
    kind: String,
    experiment: String,
    index: usize,
    label: String,
    hash: String,
    outcome: CellValue,
}

/// The shard's `plan.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShardPlan {
    kind: String,
    experiment: String,
    cells: Vec<Cell>,
    /// The indices this shard was asked for.
    asked: Vec<usize>,
}

fn read_record(path: &Path) -> Result<CellRecord, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_record(&bytes, path)
}

/// A cell file's record from its bytes (`path` is named in errors): what `reglab report --from`
/// reads from a shard.
pub fn parse_record(bytes: &[u8], path: &Path) -> Result<CellRecord, String> {
    ciborium::from_reader(bytes).map_err(|e| format!("{}: not a cell file ({e})", path.display()))
}

fn write_record(path: &Path, rec: &CellRecord) -> Result<(), RunError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(rec, &mut bytes).map_err(|e| RunError::Failed(format!("{}: {e}", path.display())))?;
    write_atomic(path, &bytes).map_err(|e| RunError::Failed(format!("{}: {e}", path.display())))
}

/// Run the cells `which` of `prepared` (kind `kind`, plan `cells`) into the shard `ctx.out`.
///
/// Everything is checked before anything is written ([`Prepared::check`]); a shard that holds
/// cells or checkpoints is continued only with `--resume`, and only if its `config.toml` is
/// this experiment's; then the finished cells (those whose file is there with the plan's hash)
/// are skipped. Cells run `ctx.jobs` at a time when there are at least that many, each on one
/// thread; otherwise one at a time on `ctx.jobs` threads. Returns the summary to print.
pub fn run_shard(kind: &str, prepared: &dyn Prepared, cells: &[Cell], which: &[usize], ctx: &RunContext<'_>) -> Result<String, RunError> {
    let out = ctx.out;
    prepared.check(ctx.device)?;
    let config_text = prepared.config_toml();
    let started = out.join("cells").exists() || out.join("checkpoints").exists();
    if started && !ctx.resume {
        return Err(RunError::Input(format!("{} holds cells of a previous run: continue it with --resume, or choose another --out", out.display())));
    }
    if ctx.resume && out.join("config.toml").exists() {
        let old =
            std::fs::read_to_string(out.join("config.toml")).map_err(|e| RunError::Input(format!("{}: {e}", out.join("config.toml").display())))?;
        if old != config_text {
            return Err(RunError::Input(format!(
                "--resume: the experiment differs from the one in {} (compare its config.toml); resume with the same file and --set values",
                out.display()
            )));
        }
    }
    if out.join("results.json").exists() && !started {
        return Err(RunError::Input(format!("{} holds the results of a whole run; write the cells into another --out", out.display())));
    }
    let _lock = ctx.open_out()?;
    std::fs::create_dir_all(out.join("cells")).map_err(|e| RunError::Failed(format!("{}: {e}", out.display())))?;
    crate::rundir::write_text(&out.join("config.toml"), &config_text)?;
    let shard_plan = ShardPlan { kind: kind.into(), experiment: prepared.name().into(), cells: cells.to_vec(), asked: which.to_vec() };
    crate::rundir::write_json(&out.join("plan.json"), &shard_plan)?;
    let todo: Vec<usize> = which
        .iter()
        .copied()
        .filter(|&i| match read_record(&cell_path(out, i)) {
            Ok(rec) => rec.hash != cells[i].hash,
            Err(_) => true,
        })
        .collect();
    let skipped = which.len() - todo.len();
    ctx.progress.inc(which.iter().filter(|i| !todo.contains(i)).map(|&i| cells[i].work).sum());
    let (concurrent, threads) = if todo.len() >= ctx.jobs { (ctx.jobs, 1) } else { (1, ctx.jobs) };
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let cell_seconds: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());
    let t0 = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrent.clamp(1, todo.len().max(1)) {
            s.spawn(|| {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(p) => p,
                    Err(e) => {
                        errors.lock().expect("errors").push(e.to_string());
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                };
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= todo.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = todo[k];
                    let times = Mutex::new(Vec::new());
                    let cx = CellContext { dir: out, threads, device: ctx.device, progress: ctx.progress, times: Some(&times) };
                    let t = std::time::Instant::now();
                    let r = pool.install(|| prepared.run_cell(i, &cx)).and_then(|outcome| {
                        let mut entry = serde_json::json!({ "index": i, "label": cells[i].label, "seconds": t.elapsed().as_secs_f64() });
                        for (name, secs) in times.into_inner().expect("times") {
                            entry[name] = secs.into();
                        }
                        cell_seconds.lock().expect("cell seconds").push(entry);
                        let rec = CellRecord {
                            format: 1,
                            kind: kind.into(),
                            experiment: prepared.name().into(),
                            index: i,
                            label: cells[i].label.clone(),
                            hash: cells[i].hash.clone(),
                            outcome,
                        };
                        write_record(&cell_path(out, i), &rec)
                    });
                    if let Err(e) = r {
                        failed.store(true, Ordering::Relaxed);
                        errors.lock().expect("errors").push(format!("cell {i} ({}): {e}", cells[i].label));
                    }
                }
            });
        }
    });
    if let Some(e) = errors.into_inner().expect("errors").into_iter().next() {
        return Err(RunError::Failed(format!("{e}; finished cells are kept in {}: rerun with --resume", out.display())));
    }
    let mut cell_seconds = cell_seconds.into_inner().expect("cell seconds");
    cell_seconds.sort_by_key(|e| e["index"].as_u64());
    let timing = serde_json::json!({ "total_seconds": t0.elapsed().as_secs_f64(), "jobs": ctx.jobs, "cells": todo, "cell_seconds": cell_seconds });
    crate::rundir::write_json(&out.join("timing.json"), &timing)?;
    let mut s = format!("ran {} of {} cells into {}", todo.len(), which.len(), out.display());
    if skipped > 0 {
        s.push_str(&format!(" ({skipped} already there)"));
    }
    s.push('\n');
    Ok(s)
}

/// Whether `path` is a shard (a directory with `cells/`).
pub fn is_shard(path: &Path) -> bool {
    path.join("cells").is_dir()
}

/// The results of plan `cells` (kind `kind`) found in the shards `from`, one per cell (`None`
/// where no shard has it). A cell file of another kind, or whose hash is not the plan's (a
/// shard of a different configuration), is an error naming it; so is a cell in two shards.
pub fn read_shards(kind: &str, cells: &[Cell], from: &[PathBuf]) -> Result<Vec<Option<CellValue>>, RunError> {
    let mut found: Vec<Option<(CellValue, String)>> = vec![None; cells.len()];
    for shard in from {
        let dir = shard.join("cells");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| RunError::Input(format!("{}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "cbor"))
            .collect();
        files.sort();
        for path in files {
            let rec = read_record(&path).map_err(RunError::Input)?;
            if rec.kind != kind {
                return Err(RunError::Input(format!("{}: a cell of kind = \"{}\", not \"{kind}\"", path.display(), rec.kind)));
            }
            let Some(cell) = cells.get(rec.index) else {
                return Err(RunError::Input(format!("{}: cell {} is not in this experiment's plan (0..{})", path.display(), rec.index, cells.len())));
            };
            if rec.hash != cell.hash {
                return Err(RunError::Input(format!(
                    "{}: cell {} ({}) was run with another configuration (hash {}…, this experiment's {}…); compare the shard's config.toml",
                    path.display(),
                    rec.index,
                    cell.label,
                    &rec.hash[..12.min(rec.hash.len())],
                    &cell.hash[..12]
                )));
            }
            let name = shard.display().to_string();
            if let Some((_, other)) = &found[rec.index] {
                return Err(RunError::Input(format!("cell {} ({}) is in both {other} and {name}", rec.index, cell.label)));
            }
            found[rec.index] = Some((rec.outcome, name));
        }
    }
    Ok(found.into_iter().map(|f| f.map(|(v, _)| v)).collect())
}

/// The missing cells of `outcomes`, as `index (label)`.
pub fn missing(cells: &[Cell], outcomes: &[Option<CellValue>]) -> Vec<String> {
    outcomes.iter().zip(cells).filter(|(o, _)| o.is_none()).map(|(_, c)| format!("{} ({})", c.index, c.label)).collect()
}

/// Run every cell of `prepared` on `ctx.jobs` threads (cells in parallel, each cell's own
/// parallel work on the same pool) and keep the results in memory; `progress` is advanced by
/// the cells. The whole-run counterpart of [`run_shard`] for kinds without checkpoints.
pub fn run_all<P: Prepared + ?Sized>(
    prepared: &P,
    n: usize,
    dir: &Path,
    jobs: usize,
    device: DeviceKind,
    progress: &Progress,
) -> Result<Vec<CellValue>, RunError> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().map_err(|e| RunError::Failed(e.to_string()))?;
    let cx = CellContext { dir, threads: jobs.max(1), device, progress, times: None };
    pool.install(|| (0..n).into_par_iter().map(|i| prepared.run_cell(i, &cx)).collect())
}

/// `reglab plan`'s JSON: the kind, the experiment, the total work and every cell.
pub fn plan_json(kind: &str, experiment: &str, cells: &[Cell]) -> serde_json::Value {
    let total = cells.iter().fold(0u64, |t, c| t.saturating_add(c.work));
    serde_json::json!({ "kind": kind, "experiment": experiment, "work": { "total": total }, "cells": cells })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_and_bad_ones_name_the_flag() {
        assert_eq!(select(&[3, 1], &[], 5).unwrap(), vec![1, 3]);
        assert_eq!(select(&[], &["0..2".into(), "1..=3".into()], 5).unwrap(), vec![0, 1, 2, 3]);
        assert!(select(&[5], &[], 5).unwrap_err().contains("--cell 5"));
        assert!(select(&[], &["2..2".into()], 5).unwrap_err().contains("empty"));
        assert!(select(&[], &["0..6".into()], 5).unwrap_err().contains("5 cells"));
        assert!(select(&[], &["a..b".into()], 5).unwrap_err().contains("expected A..B"));
        assert!(select(&[], &[], 5).is_err());
    }

    #[test]
    fn the_hash_depends_on_kind_and_config_only() {
        let a = serde_json::json!({"x": 1.5, "y": [1, 2]});
        let b: serde_json::Value = serde_json::from_str(r#"{"y":[1,2],"x":1.5}"#).unwrap();
        assert_eq!(content_hash("k", &a), content_hash("k", &b), "key order does not matter");
        assert_ne!(content_hash("k", &a), content_hash("j", &a));
        assert_ne!(content_hash("k", &a), content_hash("k", &serde_json::json!({"x": 1.5, "y": [2, 1]})));
        assert_eq!(content_hash("k", &a).len(), 64);
    }

    #[test]
    fn cell_values_keep_every_float_exactly() {
        let v = vec![0.1f64, f64::NAN, f64::INFINITY, -0.0, 1e-310, std::f64::consts::PI];
        let back: Vec<f64> = decode(&encode(&v).unwrap(), 0).unwrap();
        assert_eq!(back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        let missing = all::<Vec<f64>>(&[Some(encode(&v).unwrap()), None], "k").unwrap_err();
        assert!(missing.to_string().contains("missing: 1"), "{missing}");
    }
}
