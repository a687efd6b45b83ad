//! The run directory every experiment kind writes: atomic files (`config.toml`,
//! `results.json|csv`, `timing.json`), and a lock so that two runs cannot write one directory
//! at once.

use crate::RunError;
use reglab_train::tensorfile::write_atomic;
use serde::Serialize;
use std::fs::File;
use std::path::Path;

/// Where and how a solver kind (`cs-recovery`, `lasso-path`, `ot-sparse`, `inverse`) runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Run directory.
    pub out: std::path::PathBuf,
    /// Threads (≥ 1); the results do not depend on it.
    pub threads: usize,
}

/// Write `v` as pretty JSON with a final newline, atomically.
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), RunError> {
    let mut s = serde_json::to_string_pretty(v).map_err(|e| RunError::Failed(e.to_string()))?;
    s.push('\n');
    write_text(path, &s)
}

/// Write `text` to `path` atomically; the error names the file.
pub fn write_text(path: &Path, text: &str) -> Result<(), RunError> {
    write_atomic(path, text.as_bytes()).map_err(|e| RunError::Failed(format!("{}: {e}", path.display())))
}

/// Write a kind's results into `out`: `results.json` (of `res`), `results.csv` (`csv`), then
/// its plots and report (by `plots_and_report`, into `out/plots` and `out`), every file
/// atomically.
pub fn write_results<R: Serialize>(out: &Path, res: &R, csv: &str, plots_and_report: impl FnOnce() -> Result<(), String>) -> Result<(), RunError> {
    std::fs::create_dir_all(out.join("plots")).map_err(|e| RunError::Failed(format!("{}: {e}", out.display())))?;
    write_json(&out.join("results.json"), res)?;
    write_text(&out.join("results.csv"), csv)?;
    plots_and_report().map_err(RunError::Failed)
}

/// Check, before anything is solved or written, that `path` can be an output: its directory
/// exists and, with `ext`, it ends in `.ext`.
pub fn check_output_path(path: &Path, ext: Option<&str>, what: &str) -> Result<(), String> {
    if let Some(ext) = ext
        && path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()) != Some(ext.into())
    {
        return Err(format!("{what} {}: expected a .{ext} file", path.display()));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!("{what} {}: directory {} does not exist", path.display(), dir.display()));
    }
    if path.is_dir() {
        return Err(format!("{what} {}: is a directory", path.display()));
    }
    Ok(())
}

/// A run directory locked against a second run writing it at the same time: an exclusive
/// advisory lock on `OUT/.lock`, held until the guard is dropped. The system releases it when
/// the process ends, however it ends, so a killed run leaves no stale lock for `--resume`.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Lock the existing directory `out`; an error names the directory when another process
    /// holds the lock.
    pub fn acquire(out: &Path) -> Result<Self, RunError> {
        let path = out.join(".lock");
        let file =
            File::options().create(true).truncate(false).write(true).open(&path).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(RunError::Input(format!(
                "{}: another run is writing this directory (it holds {}); wait for it or choose another --out",
                out.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(RunError::Input(format!("{}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_run_directory_refuses_a_second_lock_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let e = RunLock::acquire(dir.path()).expect_err("second lock");
        assert!(matches!(&e, RunError::Input(m) if m.contains("another run")), "{e}");
        drop(first);
        RunLock::acquire(dir.path()).expect("free again");
    }

    #[test]
    fn output_paths_are_checked_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_output_path(&dir.path().join("no/such/plan.csv"), None, "--out").is_err());
        assert!(check_output_path(&dir.path().join("links.jpg"), Some("png"), "--plot").is_err());
        assert!(check_output_path(&dir.path().join("links.png"), Some("png"), "--plot").is_ok());
        assert!(check_output_path(dir.path(), None, "--out").is_err());
    }
}
