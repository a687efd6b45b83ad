//! A trainer's full state and its file: everything needed to continue training bit for bit in
//! another process ([`crate::trainer::Trainer::checkpoint`] / `restore`).
//!
//! The file is one safetensors file, written atomically: `model/<name>` (the parameters, f32,
//! PyTorch names and layout), `reg/<name>` (the hooks' state: regularizer vectors, pruning
//! masks, a reparameterization's `P` and extras, output terms' per-example targets, f32), `optim`
//! (burn's optimizer record, u8) and the metadata `step` plus whatever the caller adds (the lab
//! stores its tasks done and result rows there, so a job's state is always one consistent file).
//!
//! The metadata also holds `sha256`, the SHA-256 of everything else in the file (every tensor's
//! name, type, shape and bytes in name order, then every metadata key and value in key order),
//! checked on load: a checkpoint damaged on disk (truncated, a flipped bit) is an error that says
//! so, never a run resumed from wrong numbers.

use crate::tensorfile::write_atomic;
use reglab_core::NamedTensor;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A trainer's full state.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Model parameters, PyTorch layout and names.
    pub model: Vec<NamedTensor>,
    /// Optimizer state (burn's record format).
    pub optim: Vec<u8>,
    /// The hooks' state (regularizer vectors, masks, …).
    pub reg: Vec<NamedTensor>,
    /// Optimizer steps taken.
    pub step: u64,
}

fn f32_bytes(t: &NamedTensor) -> Vec<u8> {
    t.data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The metadata key of the checksum.
const CHECKSUM: &str = "sha256";

/// SHA-256 (hex) of `tensors` (name, dtype, shape, bytes; sorted by name here) and `meta`
/// (sorted by key), each field length-prefixed so that no two contents hash alike by shifting
/// bytes between fields.
fn checksum(tensors: &[(String, Dtype, Vec<usize>, &[u8])], meta: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by(|&a, &b| tensors[a].0.cmp(&tensors[b].0));
    for i in order {
        let (name, dtype, shape, bytes) = &tensors[i];
        field(name.as_bytes());
        field(format!("{dtype:?}").as_bytes());
        field(&shape.iter().flat_map(|d| (*d as u64).to_le_bytes()).collect::<Vec<u8>>());
        field(bytes);
    }
    for (k, v) in meta {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    format!("{:x}", h.finalize())
}

impl Checkpoint {
    /// Write to `path` atomically (its directory is created), with `meta` beside `step` in the
    /// metadata (a key `step` in `meta` is an error).
    pub fn save(&self, path: &Path, meta: &BTreeMap<String, String>) -> Result<(), String> {
        if meta.contains_key("step") || meta.contains_key(CHECKSUM) {
            return Err(format!("checkpoint metadata: `step` and `{CHECKSUM}` are reserved"));
        }
        let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for t in &self.model {
            owned.push((format!("model/{}", t.name), Dtype::F32, t.shape.clone(), f32_bytes(t)));
        }
        for t in &self.reg {
            owned.push((format!("reg/{}", t.name), Dtype::F32, t.shape.clone(), f32_bytes(t)));
        }
        owned.push(("optim".into(), Dtype::U8, vec![self.optim.len()], self.optim.clone()));
        let views = owned
            .iter()
            .map(|(n, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let mut sorted = meta.clone();
        sorted.insert("step".into(), self.step.to_string());
        let sum = checksum(&owned.iter().map(|(n, d, s, b)| (n.clone(), *d, s.clone(), b.as_slice())).collect::<Vec<_>>(), &sorted);
        let mut all: HashMap<String, String> = sorted.into_iter().collect();
        all.insert(CHECKSUM.into(), sum);
        let bytes = safetensors::serialize(views, Some(all)).map_err(|e| e.to_string())?;
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        write_atomic(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Read a file written by [`Checkpoint::save`]: the checkpoint and the caller's metadata.
    /// Errors name the file and what is wrong (not safetensors, damaged — its checksum does not
    /// match —, no checksum, no `step`, no `optim`, a tensor of another type).
    pub fn load(path: &Path) -> Result<(Self, BTreeMap<String, String>), String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&bytes, path)
    }

    /// [`Checkpoint::load`] of the bytes of the file `path` (named in errors). Fuzzing builds
    /// (`cfg(fuzzing)`) skip the checksum comparison so that the fuzzer reaches the checks
    /// behind it.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<(Self, BTreeMap<String, String>), String> {
        let bad = |why: String| format!("{}: {why}", path.display());
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a checkpoint (damaged or another file): {e}")))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let mut meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
        let stored =
            meta.remove(CHECKSUM).ok_or_else(|| bad(format!("no `{CHECKSUM}` in the metadata: not a reglab checkpoint, or one damaged on disk")))?;
        let views: Vec<(String, Dtype, Vec<usize>, &[u8])> =
            st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data())).collect();
        if !cfg!(fuzzing) && checksum(&views, &meta) != stored {
            return Err(bad(
                "damaged: its checksum does not match its contents (truncated or altered on disk); resume from an earlier copy or rerun".into(),
            ));
        }
        let step: u64 =
            meta.remove("step").ok_or_else(|| bad("no `step` in the metadata".into()))?.parse().map_err(|_| bad("`step` is not a number".into()))?;
        let optim = st.tensor("optim").map_err(|e| bad(format!("no optimizer state: {e}")))?;
        if optim.dtype() != Dtype::U8 {
            return Err(bad(format!("`optim` has dtype {:?}, expected U8", optim.dtype())));
        }
        let optim = optim.data().to_vec();
        let (mut model, mut reg) = (Vec::new(), Vec::new());
        for (name, view) in st.tensors() {
            if name == "optim" {
                continue;
            }
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!("tensor `{name}` has dtype {:?}, expected F32", view.dtype())));
            }
            let data: Vec<f32> = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            let t = |n: &str| NamedTensor::new(n, view.shape().to_vec(), data.clone());
            if let Some(n) = name.strip_prefix("model/") {
                model.push(t(n));
            } else if let Some(n) = name.strip_prefix("reg/") {
                reg.push(t(n));
            } else {
                return Err(bad(format!("tensor `{name}` is neither `model/…` nor `reg/…`")));
            }
        }
        model.sort_by(|a, b| a.name.cmp(&b.name));
        reg.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((Self { model, optim, reg, step }, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ckpt() -> Checkpoint {
        Checkpoint {
            model: vec![NamedTensor::new("a.bias", vec![2], vec![1.0, -0.0]), NamedTensor::new("a.weight", vec![2, 1], vec![f32::MIN_POSITIVE, 3.5])],
            optim: vec![0, 1, 2, 255],
            reg: vec![NamedTensor::new("prune/a.mask", vec![2, 1], vec![1.0, 0.0])],
            step: 42,
        }
    }

    #[test]
    fn a_checkpoint_reads_back_bit_for_bit_with_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/ck.safetensors");
        let meta = BTreeMap::from([("tasks_done".to_string(), "3".to_string())]);
        ckpt().save(&path, &meta).unwrap();
        let (c, m) = Checkpoint::load(&path).unwrap();
        assert_eq!(c, ckpt());
        assert_eq!(c.model[1].data[0].to_bits(), f32::MIN_POSITIVE.to_bits());
        assert!(c.model[0].data[1].is_sign_negative(), "−0 kept");
        assert_eq!(m, meta);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn bad_files_and_reserved_keys_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ck.safetensors");
        let e = ckpt().save(&p, &BTreeMap::from([("step".to_string(), "1".to_string())])).unwrap_err();
        assert!(e.contains("reserved"), "{e}");
        assert!(ckpt().save(&p, &BTreeMap::from([("sha256".to_string(), "0".to_string())])).unwrap_err().contains("reserved"));
        std::fs::write(&p, b"not safetensors").unwrap();
        let e = Checkpoint::load(&p).unwrap_err();
        assert!(e.contains("ck.safetensors") && e.contains("not a checkpoint"), "{e}");
        // a plain tensor file (no step, no optimizer state) is not a checkpoint
        crate::tensorfile::write(&p, &ckpt().model).unwrap();
        let e = Checkpoint::load(&p).unwrap_err();
        assert!(e.contains("sha256"), "{e}");
        let e = Checkpoint::load(&dir.path().join("missing")).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }

    /// Every single-bit flip and every truncation of a checkpoint file is caught: an error, never
    /// a checkpoint with other numbers.
    #[test]
    fn damaged_files_are_detected_never_read_as_other_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ck.safetensors");
        let meta = BTreeMap::from([("rows".to_string(), "[1, 2]".to_string())]);
        ckpt().save(&p, &meta).unwrap();
        let good = std::fs::read(&p).unwrap();
        let q = dir.path().join("bad.safetensors");
        let (mut caught, mut checksum_caught) = (0, 0);
        for i in 0..good.len() {
            for bit in [0u8, 3, 7] {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                std::fs::write(&q, &b).unwrap();
                match Checkpoint::load(&q) {
                    Err(e) => {
                        caught += 1;
                        checksum_caught += e.contains("checksum") as usize;
                    }
                    // a flip inside the JSON header's whitespace or key order can leave the same
                    // content: then it must read back as the same checkpoint
                    Ok((c, m)) => assert!(c == ckpt() && m == meta, "byte {i} bit {bit}: read as other numbers"),
                }
            }
        }
        assert!(caught > good.len(), "most flips are errors ({caught} of {})", 3 * good.len());
        assert!(checksum_caught > 0, "the checksum catches flips the format does not");
        for n in [0, 1, 8, good.len() / 2, good.len() - 1] {
            std::fs::write(&q, &good[..n]).unwrap();
            assert!(Checkpoint::load(&q).is_err(), "truncated to {n} bytes");
        }
        // the data bytes of a tensor altered: the checksum names it
        let mut b = good.clone();
        let last = b.len() - 1;
        b[last] ^= 0x10;
        std::fs::write(&q, &b).unwrap();
        let e = Checkpoint::load(&q).unwrap_err();
        assert!(e.contains("bad.safetensors") && e.contains("damaged") && e.contains("checksum"), "{e}");
    }
}
