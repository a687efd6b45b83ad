//! safetensors files: read any file of f32 tensors, write atomically.
//!
//! Written files hold f32 tensors in row-major PyTorch layout and load with
//! `safetensors.torch.load_file`. Reading accepts F32, F64, F16 and BF16 (converted to f32).

use crate::NamedTensor;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::path::{Path, PathBuf};

/// A tensor file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TensorFileError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Not a valid safetensors file.
    #[error("{path}: not a valid safetensors file: {why}")]
    Format { path: PathBuf, why: String },
    /// A tensor of an unsupported element type.
    #[error("{path}: tensor `{name}` has dtype {dtype:?}; reglab reads F32, F64, F16, BF16")]
    Dtype { path: PathBuf, name: String, dtype: Dtype },
}

/// Read every tensor of a safetensors file, sorted by name.
pub fn read(path: &Path) -> Result<Vec<NamedTensor>, TensorFileError> {
    let bytes = std::fs::read(path).map_err(|source| TensorFileError::Io { path: path.into(), source })?;
    parse(&bytes, path)
}

/// Parse safetensors bytes (`path` only names the source in errors).
pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<NamedTensor>, TensorFileError> {
    parse_floats(bytes, path, false)
}

/// Read the float tensors of a safetensors file, sorted by name, skipping tensors of other
/// element types (a Hugging Face BERT file carries an I64 `position_ids`).
pub fn read_floats(path: &Path) -> Result<Vec<NamedTensor>, TensorFileError> {
    let bytes = std::fs::read(path).map_err(|source| TensorFileError::Io { path: path.into(), source })?;
    parse_floats(&bytes, path, true)
}

/// [`parse`]; with `skip_others`, tensors of non-float element types are left out instead of
/// being an error.
fn parse_floats(bytes: &[u8], path: &Path, skip_others: bool) -> Result<Vec<NamedTensor>, TensorFileError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| TensorFileError::Format { path: path.into(), why: e.to_string() })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            Dtype::F64 => raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            Dtype::BF16 => raw.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            _ if skip_others => continue,
            dtype => return Err(TensorFileError::Dtype { path: path.into(), name, dtype }),
        };
        out.push(NamedTensor::new(name, view.shape().to_vec(), data));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Serialize tensors (f32, row-major) to safetensors bytes.
pub fn to_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>, String> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> =
        tensors.iter().map(|t| (t.name.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone())).collect();
    let views = bytes
        .iter()
        .map(|(n, b, s)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}

/// Write tensors to `path` atomically (temporary file in the same directory, then rename).
pub fn write(path: &Path, tensors: &[NamedTensor]) -> Result<(), TensorFileError> {
    let bytes = to_bytes(tensors).map_err(|why| TensorFileError::Format { path: path.into(), why })?;
    write_atomic(path, &bytes).map_err(|source| TensorFileError::Io { path: path.into(), source })
}

/// Write `bytes` to `path` atomically: a crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_sorted_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.safetensors");
        let t = vec![NamedTensor::new("b", vec![2], vec![1.0, -2.5]), NamedTensor::new("a.weight", vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0])];
        write(&p, &t).unwrap();
        let r = read(&p).unwrap();
        assert_eq!(r[0], t[1]);
        assert_eq!(r[1], t[0]);
    }

    #[test]
    fn garbage_and_missing_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.safetensors");
        std::fs::write(&p, b"not a tensor file at all").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("bad.safetensors") && e.contains("not a valid safetensors"), "{e}");
        let e = read(&dir.path().join("none.safetensors")).unwrap_err().to_string();
        assert!(e.contains("none.safetensors"), "{e}");
    }

    #[test]
    fn half_precision_tensors_decode() {
        // F16 1.0, −2.0, the smallest subnormal 2⁻²⁴, +∞; BF16 1.0, −2.0 (hand-encoded bits)
        let f16: Vec<u8> = [0x3c00u16, 0xc000, 0x0001, 0x7c00].iter().flat_map(|h| h.to_le_bytes()).collect();
        let bf16: Vec<u8> = [0x3f80u16, 0xc000].iter().flat_map(|h| h.to_le_bytes()).collect();
        let views = vec![
            ("h".to_string(), TensorView::new(Dtype::F16, vec![4], &f16).unwrap()),
            ("b".to_string(), TensorView::new(Dtype::BF16, vec![2], &bf16).unwrap()),
        ];
        let bytes = safetensors::serialize(views, None).unwrap();
        let t = parse(&bytes, Path::new("x")).unwrap();
        assert_eq!(t[0].data, vec![1.0, -2.0]);
        assert_eq!(&t[1].data[..3], &[1.0, -2.0, 2f32.powi(-24)]);
        assert!(t[1].data[3].is_infinite());
    }
}
