//! Data loaders: fill [`Dataset`](reglab_core::Dataset) / [`Split`](reglab_core::Split) from real data.
//!
//! - [`idx`]: the IDX format of MNIST and Fashion-MNIST (plain or gzip, detected by the gzip magic
//!   bytes `1f 8b`, not by the file name), strictly validated.
//! - [`digits`]: scikit-learn's 8×8 digits (1,797 examples), embedded in the binary, with a fixed
//!   seeded 80/20 train/test split.
//! - [`source`]: [`DataSource`], parsed from `digits | mnist[:DIR] | fashion[:DIR] | synthetic[:OPTIONS]`
//!   (the last from [`crate::synthetic`]), which loads a
//!   [`Split`](reglab_core::Split).
//!
//! All features of the real data sets are `f32` in `[0, 1]` (synthetic features are Gaussian); images have `example_shape` `[1, h, w]` (`[c, h, w]`).
//! Loaders never panic on bad input: every failure is a [`DataError`] whose message names the file
//! (or, for a source string, the string) and the specific problem.

pub mod digits;
pub mod idx;
pub mod source;
pub mod sst2;

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

pub use digits::{
    DIGITS_LEN, DIGITS_SPLIT_SEED, DIGITS_TEST_LEN, DIGITS_TRAIN_LEN, digits_dataset, digits_split_indices, load_digits, parse_digits_csv,
    read_digits_csv,
};
pub use idx::{IdxImages, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels, read_idx_pair};
pub use source::{DataSource, REGLAB_DATA};

/// Number of classes of every data set here (digits 0–9, the ten Fashion-MNIST classes).
pub const CLASSES: usize = 10;

/// Why data could not be loaded. Every message names the file (or source string) and the problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be read (missing, permissions, …).
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file starts with the gzip magic bytes but is not a valid (complete) gzip stream.
    #[error("{}: bad gzip data (corrupt or truncated gzip stream): {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The file's content does not have the expected format.
    #[error("{}: {problem}", path.display())]
    Malformed {
        /// The file (for embedded data, a descriptive pseudo-path such as `<embedded>/digits.csv.gz`).
        path: PathBuf,
        /// What is wrong.
        problem: Problem,
    },
    /// An IDX image file and its label file disagree on the number of examples.
    #[error(
        "{}: {images} images, but {} has {labels} labels (image/label count mismatch)",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Train and test files disagree on the example shape.
    #[error(
        "{}: images are {}x{}, but {} has {}x{} images (train/test shape mismatch)",
        train_path.display(), train_hw.0, train_hw.1, test_path.display(), test_hw.0, test_hw.1
    )]
    ShapeMismatch {
        /// The training image file.
        train_path: PathBuf,
        /// `(h, w)` of its images.
        train_hw: (usize, usize),
        /// The test image file.
        test_path: PathBuf,
        /// `(h, w)` of its images.
        test_hw: (usize, usize),
    },
    /// A required data file exists neither gzip'd nor plain.
    #[error(
        "{}: file not found (nor {} without .gz); expected the {what} IDX files in {}",
        dir.join(format!("{name}.gz")).display(),
        name,
        dir.display()
    )]
    MissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// The file's name without `.gz`, e.g. `train-images-idx3-ubyte`.
        name: String,
        /// Which data set, e.g. `MNIST`.
        what: &'static str,
    },
    /// A data source string could not be parsed.
    #[error("invalid data source {spec:?}: {problem}; expected digits | mnist[:DIR] | fashion[:DIR] | synthetic[:OPTIONS] | sst2[:OPTIONS]")]
    BadSource {
        /// The string given.
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No folder was given and the environment variable that supplies the default is unset.
    #[error(
        "{var} is not set, so the default folder {var}/{subdir} for {source_name} is unknown: \
         set it to the folder holding mnist/ and fashion-mnist/ (e.g. `export {var}=/path/to/shared/data`), \
         or name the folder explicitly as {source_name}:DIR"
    )]
    EnvUnset {
        /// The variable, [`REGLAB_DATA`].
        var: &'static str,
        /// The sub-folder it would have been joined with, e.g. `mnist`.
        subdir: &'static str,
        /// The source's name, e.g. `mnist`.
        source_name: &'static str,
    },
}

/// What is wrong with a file's content (shown after the file name in [`DataError::Malformed`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// The IDX magic number is not the expected one.
    #[error("wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({what})")]
    WrongMagic {
        /// The magic number read.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// What the file should be, e.g. `IDX images`.
        what: &'static str,
    },
    /// The file ends before its header or data is complete.
    #[error("truncated: {found} bytes, expected {expected} ({what})")]
    Truncated {
        /// Bytes present (after decompression).
        found: u64,
        /// Bytes needed.
        expected: u64,
        /// What was being read, e.g. `16-byte header + 60000x28x28 pixels`.
        what: String,
    },
    /// The file has data after the end its header announces.
    #[error("{} trailing bytes after the data: {found} bytes, expected {expected} ({what})", found - expected)]
    TrailingBytes {
        /// Bytes present (after decompression).
        found: u64,
        /// Bytes expected.
        expected: u64,
        /// What was read, e.g. `8-byte header + 60000 labels`.
        what: String,
    },
    /// The dimensions in a header are unusable.
    #[error("bad dimensions {dims:?}: {reason}")]
    BadDimensions {
        /// The dimensions read.
        dims: Vec<u32>,
        /// Why they are rejected.
        reason: &'static str,
    },
    /// A class label is not in `0..classes`.
    #[error("label {label} out of range 0..{classes} at example {index}")]
    LabelOutOfRange {
        /// Zero-based example index.
        index: usize,
        /// The label read (as text for CSV values that are not small integers).
        label: String,
        /// Number of classes.
        classes: usize,
    },
    /// The content is not UTF-8 text.
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotText {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A row of a text table (TSV) is malformed.
    #[error("line {line}: {what}")]
    BadRow {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A CSV row without fields.
    #[error("line {line}: empty CSV row")]
    EmptyRow {
        /// One-based line number.
        line: usize,
    },
    /// A CSV row has the wrong number of fields.
    #[error("line {line}: {found} fields, expected {expected}")]
    FieldCount {
        /// One-based line number.
        line: usize,
        /// Fields present.
        found: usize,
        /// Fields expected.
        expected: usize,
    },
    /// A CSV field is not a number.
    #[error("line {line}, field {field}: non-numeric value {value:?}")]
    NonNumeric {
        /// One-based line number.
        line: usize,
        /// One-based field number.
        field: usize,
        /// The field's text.
        value: String,
    },
    /// A CSV pixel value is not an integer in the allowed range.
    #[error("line {line}, field {field}: pixel value {value:?} is not an integer in 0..={max}")]
    PixelOutOfRange {
        /// One-based line number.
        line: usize,
        /// One-based field number.
        field: usize,
        /// The field's text.
        value: String,
        /// Largest allowed value.
        max: u8,
    },
    /// The file holds a different number of examples than required.
    #[error("{found} rows, expected {expected}")]
    RowCount {
        /// Rows present.
        found: usize,
        /// Rows expected.
        expected: usize,
    },
}

/// Reads a whole file, mapping failures to [`DataError::Io`].
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// True if `bytes` start with the gzip magic bytes `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses `bytes` if they start with the gzip magic (all members, like `zcat`), else
/// returns them unchanged. `path` names the origin in errors.
pub fn maybe_gunzip<'a>(bytes: &'a [u8], path: &Path) -> Result<Cow<'a, [u8]>, DataError> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
    MultiGzDecoder::new(bytes).read_to_end(&mut out).map_err(|source| DataError::Gzip { path: path.to_path_buf(), source })?;
    Ok(Cow::Owned(out))
}

/// A deterministic pseudo-random permutation of `0..n`, fixed for a given `seed` on every platform
/// and independent of `rand`'s shuffle algorithm: Fisher–Yates (from the end) driven by ChaCha8
/// keyed with the 32-byte seed `seed.to_le_bytes()` followed by 24 zero bytes; the index for
/// position `i` is `(u64 · (i + 1)) >> 64` of the next `u64` (Lemire's multiply; bias below
/// `n / 2⁶⁴`, negligible).
pub fn seeded_permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        perm.swap(i, j);
    }
    perm
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// The folder holding `mnist/`, `fashion-mnist/`, `sklearn-digits/`: `$REGLAB_DATA`, else
    /// `shared/data` beside the repository (`../../../shared/data` from this crate). When it
    /// does not exist: `None` with a printed note on a developer's machine, a failure in CI
    /// (`CI` set), where the data is present and a test that skipped would pass unseen.
    pub fn data_root(what: &str) -> Option<PathBuf> {
        let root = match std::env::var_os(super::REGLAB_DATA) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        };
        if root.is_dir() {
            Some(root)
        } else {
            missing(what, &format!("data folder {} not found (set {} to enable)", root.display(), super::REGLAB_DATA))
        }
    }

    /// `root/sub` if it is a folder, else `None` with a printed note (a failure in CI).
    pub fn data_dir(sub: &str, what: &str) -> Option<PathBuf> {
        let dir = data_root(what)?.join(sub);
        if dir.is_dir() { Some(dir) } else { missing(what, &format!("{} not found", dir.display())) }
    }

    /// A test's data is missing: skip it (`None`, with a note) on a developer's machine, fail
    /// in CI (the environment variable `CI` is set), where the data must be there.
    pub fn missing<T>(what: &str, why: &str) -> Option<T> {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("{what}: {why}, and CI is set: the data must be present in CI");
        }
        eprintln!("note: skipping {what}: {why}");
        None
    }

    /// Gzip-compresses `bytes`.
    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Asserts that `err`'s message contains the file name `file` and every one of `needles`.
    #[track_caller]
    pub fn assert_msg(err: &super::DataError, file: &str, needles: &[&str]) {
        let msg = err.to_string();
        assert!(msg.contains(file), "message {msg:?} does not name the file {file:?}");
        for n in needles {
            assert!(msg.contains(n), "message {msg:?} does not contain {n:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_deterministic_permutation() {
        for n in [0, 1, 2, 7, 1797] {
            let p = seeded_permutation(n, 3);
            assert_eq!(p, seeded_permutation(n, 3));
            let mut s = p.clone();
            s.sort_unstable();
            assert_eq!(s, (0..n).collect::<Vec<_>>());
        }
        assert_ne!(seeded_permutation(100, 1), seeded_permutation(100, 2));
        assert_ne!(seeded_permutation(100, 1), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn gunzip_detects_by_magic_not_name() {
        let p = Path::new("x.gz");
        assert!(matches!(maybe_gunzip(b"hello", p).unwrap(), Cow::Borrowed(b"hello")));
        let gz = test_support::gzip(b"hello");
        assert_eq!(&*maybe_gunzip(&gz, Path::new("plain-name")).unwrap(), b"hello");
        // Two concatenated members decode like zcat.
        let mut two = test_support::gzip(b"ab");
        two.extend(test_support::gzip(b"cd"));
        assert_eq!(&*maybe_gunzip(&two, p).unwrap(), b"abcd");
    }

    #[test]
    fn bad_gzip_names_file() {
        let err = maybe_gunzip(&[0x1f, 0x8b, 0, 1, 2, 3, 4, 5, 6, 7], Path::new("/x/f.gz")).unwrap_err();
        test_support::assert_msg(&err, "/x/f.gz", &["bad gzip"]);
        let mut gz = test_support::gzip(&[7u8; 1000]);
        gz.truncate(gz.len() - 6);
        let err = maybe_gunzip(&gz, Path::new("/x/cut.gz")).unwrap_err();
        test_support::assert_msg(&err, "/x/cut.gz", &["bad gzip"]);
    }
}
