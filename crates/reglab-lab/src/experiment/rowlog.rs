//! A job's rows on disk: `seed-N.rows.jsonl` beside its checkpoint, one JSON row per line,
//! appended (and synced) after each task *before* the checkpoint is saved. The checkpoint names
//! how many bytes of the log are its rows and their SHA-256 ([`RowLog::meta`]), so that
//! - saving a task costs the same at task 10 and at task 10 000 (the rows are not rewritten);
//! - a resume takes exactly the checkpoint's rows: a line written after the last checkpoint by
//!   a killed run (whole or cut short) is dropped and the file cut back to them;
//! - a log damaged on disk (a flipped bit, cut short) is refused, never read as other numbers.

use crate::results::Row;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Metadata keys of the checkpoint that describe its rows.
const BYTES: &str = "rows_bytes";
const SHA: &str = "rows_sha256";

/// An open rows log.
#[derive(Debug)]
pub struct RowLog {
    path: PathBuf,
    file: std::fs::File,
    bytes: u64,
    hasher: Sha256,
}

impl RowLog {
    /// The log of the checkpoint at `ckpt` (`…/seed-0.safetensors` → `…/seed-0.rows.jsonl`).
    pub fn path_for(ckpt: &Path) -> PathBuf {
        ckpt.with_extension("rows.jsonl")
    }

    /// A new, empty log at `path` (whatever was there is dropped; its directory is created).
    pub fn create(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), file, bytes: 0, hasher: Sha256::new() })
    }

    /// Open the log at `path` as of a checkpoint with metadata `meta`: its rows, and the log
    /// cut back to them, ready to append. A checkpoint written before the log existed holds its
    /// rows in `meta["rows"]`: those are returned and written to a new log.
    pub fn resume(path: &Path, meta: &BTreeMap<String, String>) -> Result<(Self, Vec<Row>), String> {
        let bad = |why: String| format!("{}: {why}", path.display());
        if let Some(rows) = meta.get("rows") {
            let rows: Vec<Row> = serde_json::from_str(rows).map_err(|e| bad(format!("the checkpoint's rows: {e}")))?;
            let mut log = Self::create(path)?;
            for r in &rows {
                log.append(r)?;
            }
            return Ok((log, rows));
        }
        let get = |k: &str| meta.get(k).ok_or_else(|| bad(format!("the checkpoint has no `{k}`")));
        let bytes: u64 = get(BYTES)?.parse().map_err(|_| bad(format!("the checkpoint's `{BYTES}` is not a number")))?;
        let want = get(SHA)?;
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(|e| bad(e.to_string()))?;
        let len = file.metadata().map_err(|e| bad(e.to_string()))?.len();
        if len < bytes {
            return Err(bad(format!("damaged: {len} bytes, the checkpoint's rows take {bytes} (cut short?)")));
        }
        let mut buf = Vec::with_capacity(bytes as usize);
        (&mut file).take(bytes).read_to_end(&mut buf).map_err(|e| bad(e.to_string()))?;
        let mut hasher = Sha256::new();
        hasher.update(&buf);
        if format!("{:x}", hasher.clone().finalize()) != *want {
            return Err(bad("damaged: its rows do not match the checkpoint's checksum".into()));
        }
        let text = std::str::from_utf8(&buf).map_err(|_| bad("damaged: not UTF-8".into()))?;
        let rows = text
            .lines()
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| bad(format!("line {}: {e}", i + 1))))
            .collect::<Result<Vec<Row>, String>>()?;
        // drop what a killed run appended after the checkpoint; appends go to the end
        file.set_len(bytes).map_err(|e| bad(e.to_string()))?;
        let file = std::fs::OpenOptions::new().append(true).open(path).map_err(|e| bad(e.to_string()))?;
        Ok((Self { path: path.to_path_buf(), file, bytes, hasher }, rows))
    }

    /// Append `row` as one line and sync it to disk.
    pub fn append(&mut self, row: &Row) -> Result<(), String> {
        let mut line = serde_json::to_vec(row).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let err = |e: std::io::Error| format!("{}: {e}", self.path.display());
        self.file.write_all(&line).map_err(err)?;
        self.file.sync_data().map_err(err)?;
        self.hasher.update(&line);
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// The checkpoint metadata that names the rows appended so far.
    pub fn meta(&self) -> [(String, String); 2] {
        [(BYTES.into(), self.bytes.to_string()), (SHA.into(), format!("{:x}", self.hasher.clone().finalize()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(task: usize) -> Row {
        Row { arm: "a".into(), seed: 3, task, metrics: BTreeMap::from([("x".into(), task as f64 / 7.0)]) }
    }

    fn meta(log: &RowLog) -> BTreeMap<String, String> {
        log.meta().into_iter().collect()
    }

    #[test]
    fn resume_returns_the_checkpointed_rows_and_drops_later_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seed-3.rows.jsonl");
        let mut log = RowLog::create(&p).unwrap();
        log.append(&row(1)).unwrap();
        log.append(&row(2)).unwrap();
        let m = meta(&log);
        // a killed run: one whole line and half of another after the checkpoint
        log.append(&row(3)).unwrap();
        drop(log);
        std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"{\"arm\":").unwrap();
        let (mut log, rows) = RowLog::resume(&p, &m).unwrap();
        assert_eq!(rows, vec![row(1), row(2)]);
        assert_eq!(std::fs::metadata(&p).unwrap().len().to_string(), m[BYTES]);
        // appending continues the hash: the same meta as a log written in one go
        log.append(&row(3)).unwrap();
        let mut straight = RowLog::create(&dir.path().join("b.jsonl")).unwrap();
        for t in 1..=3 {
            straight.append(&row(t)).unwrap();
        }
        assert_eq!(log.meta(), straight.meta());
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(dir.path().join("b.jsonl")).unwrap());
    }

    #[test]
    fn a_damaged_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.jsonl");
        let mut log = RowLog::create(&p).unwrap();
        log.append(&row(1)).unwrap();
        log.append(&row(2)).unwrap();
        let m = meta(&log);
        drop(log);
        let good = std::fs::read(&p).unwrap();
        let mut flipped = good.clone();
        flipped[good.len() - 5] ^= 0x01;
        for (what, bytes) in [("flipped", flipped), ("cut", good[..good.len() - 3].to_vec())] {
            std::fs::write(&p, &bytes).unwrap();
            let e = RowLog::resume(&p, &m).err().unwrap_or_else(|| panic!("{what}: accepted"));
            assert!(e.contains("l.jsonl") && e.contains("damaged"), "{what}: {e}");
        }
        std::fs::remove_file(&p).unwrap();
        assert!(RowLog::resume(&p, &m).unwrap_err().contains("l.jsonl"));
        std::fs::write(&p, &good).unwrap();
        assert_eq!(RowLog::resume(&p, &m).unwrap().1.len(), 2);
    }

    #[test]
    fn rows_of_an_older_checkpoint_move_to_a_new_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.jsonl");
        let m = BTreeMap::from([("rows".to_string(), serde_json::to_string(&vec![row(1), row(2)]).unwrap())]);
        let (log, rows) = RowLog::resume(&p, &m).unwrap();
        assert_eq!(rows, vec![row(1), row(2)]);
        let (_, again) = RowLog::resume(&p, &meta(&log)).unwrap();
        assert_eq!(again, rows);
    }
}
