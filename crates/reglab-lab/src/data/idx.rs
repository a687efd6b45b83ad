//! The IDX format of MNIST and Fashion-MNIST.
//!
//! A file is a big-endian `u32` magic `0x0000_08NN` (`08` = unsigned bytes, `NN` = number of
//! dimensions), `NN` big-endian `u32` dimensions, then the row-major `u8` data. Image files are
//! 3-D (`0x00000803`: count, rows, columns), label files 1-D (`0x00000801`: count). Files may be
//! gzip-compressed: detected by the gzip magic bytes, not by the name.
//!
//! Validation is strict: magic number, dimensions, the exact byte length (truncated data or
//! trailing bytes are errors), labels in `0..10`, and, for a pair, equal image and label counts.

use std::path::Path;

use reglab_core::Dataset;

use super::{CLASSES, DataError, Problem, maybe_gunzip, read_file};

/// Magic number of an IDX file of `u8` with 3 dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` with 1 dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Images read from an IDX file, pixels scaled to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows (height) of each image.
    pub rows: usize,
    /// Columns (width) of each image.
    pub cols: usize,
    /// `count · rows · cols` values `byte / 255`, row-major.
    pub pixels: Vec<f32>,
}

/// Reads an IDX image file (plain or gzip).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images(&read_file(path)?, path)
}

/// Parses the content of an IDX image file (plain or gzip); `path` names it in errors.
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<IdxImages, DataError> {
    let data = maybe_gunzip(bytes, path)?;
    let dims = header(&data, path, IDX_IMAGES_MAGIC, 3, "IDX images")?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(malformed(path, Problem::BadDimensions { dims, reason: "rows and columns must be positive" }));
    }
    let what = format!("16-byte header + {n}x{rows}x{cols} pixels");
    let body = body(&data, path, 16, &[n, rows, cols], what)?;
    let lut: [f32; 256] = std::array::from_fn(|b| b as f32 / 255.0);
    Ok(IdxImages { count: n as usize, rows: rows as usize, cols: cols as usize, pixels: body.iter().map(|&b| lut[usize::from(b)]).collect() })
}

/// Reads an IDX label file (plain or gzip); every label must be in `0..10`.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(&read_file(path)?, path)
}

/// Parses the content of an IDX label file (plain or gzip); `path` names it in errors.
pub fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let data = maybe_gunzip(bytes, path)?;
    let dims = header(&data, path, IDX_LABELS_MAGIC, 1, "IDX labels")?;
    let n = dims[0];
    let body = body(&data, path, 8, &[n], format!("8-byte header + {n} labels"))?;
    if let Some(index) = body.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(malformed(path, Problem::LabelOutOfRange { index, label: body[index].to_string(), classes: CLASSES }));
    }
    Ok(body.to_vec())
}

/// Reads an image file and its label file into a [`Dataset`] named `name`, with
/// `example_shape` `[1, rows, cols]` and 10 classes; the counts must agree.
pub fn read_idx_pair(images: &Path, labels: &Path, name: impl Into<String>) -> Result<Dataset, DataError> {
    let img = read_idx_images(images)?;
    let lab = read_idx_labels(labels)?;
    if img.count != lab.len() {
        return Err(DataError::CountMismatch {
            images_path: images.to_path_buf(),
            labels_path: labels.to_path_buf(),
            images: img.count,
            labels: lab.len(),
        });
    }
    Ok(Dataset { name: name.into(), example_shape: vec![1, img.rows, img.cols], features: img.pixels, labels: lab, classes: CLASSES })
}

fn malformed(path: &Path, problem: Problem) -> DataError {
    DataError::Malformed { path: path.to_path_buf(), problem }
}

/// Checks the magic number and returns the `ndim` dimensions.
fn header(data: &[u8], path: &Path, magic: u32, ndim: usize, what: &'static str) -> Result<Vec<u32>, DataError> {
    let header_len = 4 + 4 * ndim;
    let be = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    if data.len() < 4 {
        return Err(malformed(
            path,
            Problem::Truncated { found: data.len() as u64, expected: header_len as u64, what: format!("{header_len}-byte {what} header") },
        ));
    }
    let found = be(0);
    if found != magic {
        return Err(malformed(path, Problem::WrongMagic { found, expected: magic, what }));
    }
    if data.len() < header_len {
        return Err(malformed(
            path,
            Problem::Truncated { found: data.len() as u64, expected: header_len as u64, what: format!("{header_len}-byte {what} header") },
        ));
    }
    Ok((0..ndim).map(|d| be(4 + 4 * d)).collect())
}

/// Checks that `data` is exactly `header_len + prod(dims)` bytes and returns the body.
fn body<'a>(data: &'a [u8], path: &Path, header_len: usize, dims: &[u32], what: String) -> Result<&'a [u8], DataError> {
    let size: u128 = dims.iter().map(|&d| u128::from(d)).product();
    let expected = size + header_len as u128;
    let found = data.len() as u128;
    // Compare before converting: a huge header cannot cause an allocation.
    if found < expected {
        let expected = u64::try_from(expected).unwrap_or(u64::MAX);
        return Err(malformed(path, Problem::Truncated { found: found as u64, expected, what }));
    }
    if found > expected {
        return Err(malformed(path, Problem::TrailingBytes { found: found as u64, expected: expected as u64, what }));
    }
    Ok(&data[header_len..])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::test_support::{assert_msg, data_dir, gzip};
    use std::path::PathBuf;

    /// An IDX image file with `n` images of `r`×`c`, pixel `k` = `k % 256`.
    pub fn images_bytes(n: u32, r: u32, c: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [IDX_IMAGES_MAGIC, n, r, c] {
            v.extend(x.to_be_bytes());
        }
        v.extend((0..n * r * c).map(|k| (k % 256) as u8));
        v
    }

    /// An IDX label file with labels `labels`.
    pub fn labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(IDX_LABELS_MAGIC.to_be_bytes());
        v.extend((labels.len() as u32).to_be_bytes());
        v.extend(labels);
        v
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_plain_and_gzip_synthetic() {
        let dir = tempfile::tempdir().unwrap();
        let raw = images_bytes(3, 2, 4);
        // gzip content under a plain name and plain content under a .gz name: detected by magic.
        let a = write(dir.path(), "a-images", &gzip(&raw));
        let b = write(dir.path(), "b-images.gz", &raw);
        let ia = read_idx_images(&a).unwrap();
        assert_eq!(ia, read_idx_images(&b).unwrap());
        assert_eq!((ia.count, ia.rows, ia.cols), (3, 2, 4));
        assert_eq!(ia.pixels.len(), 24);
        assert_eq!(ia.pixels[0], 0.0);
        assert_eq!(ia.pixels[5], 5.0 / 255.0);

        let mut full = images_bytes(1, 1, 256);
        full.truncate(16);
        full.extend(0..=255u8);
        let f = write(dir.path(), "full", &full);
        let px = read_idx_images(&f).unwrap().pixels;
        assert_eq!(px[0], 0.0);
        assert_eq!(px[255], 1.0);

        let l = write(dir.path(), "labels.gz", &gzip(&labels_bytes(&[0, 9, 3])));
        let ds = read_idx_pair(&b, &l, "toy/train").unwrap();
        assert_eq!(ds.name, "toy/train");
        assert_eq!(ds.example_shape, vec![1, 2, 4]);
        assert_eq!(ds.labels, vec![0, 9, 3]);
        assert_eq!(ds.classes, 10);
        assert_eq!(ds.example(1), &ia.pixels[8..16]);
    }

    #[test]
    fn empty_file_sets_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let i = write(dir.path(), "i", &images_bytes(0, 28, 28));
        let l = write(dir.path(), "l", &labels_bytes(&[]));
        let ds = read_idx_pair(&i, &l, "empty").unwrap();
        assert!(ds.is_empty());
        assert_eq!(ds.example_shape, vec![1, 28, 28]);
    }

    #[test]
    fn wrong_magic() {
        let dir = tempfile::tempdir().unwrap();
        // A label file given as images, and vice versa.
        let p = write(dir.path(), "train-images-idx3-ubyte.gz", &gzip(&labels_bytes(&[1, 2])));
        let err = read_idx_images(&p).unwrap_err();
        assert_msg(&err, "train-images-idx3-ubyte.gz", &["wrong magic number 0x00000801, expected 0x00000803 (IDX images)"]);
        let p = write(dir.path(), "lab", &images_bytes(1, 1, 1));
        assert_msg(&read_idx_labels(&p).unwrap_err(), "lab", &["wrong magic number 0x00000803, expected 0x00000801 (IDX labels)"]);
        let p = write(dir.path(), "text.txt", b"hello world, not IDX at all");
        assert_msg(&read_idx_images(&p).unwrap_err(), "text.txt", &["wrong magic number 0x68656c6c"]);
    }

    #[test]
    fn truncated() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = images_bytes(2, 3, 3);
        raw.pop();
        let p = write(dir.path(), "cut-images.gz", &gzip(&raw));
        assert_msg(&read_idx_images(&p).unwrap_err(), "cut-images.gz", &["truncated: 33 bytes, expected 34 (16-byte header + 2x3x3 pixels)"]);
        // Header cut short, before and after the magic.
        let p = write(dir.path(), "tiny", &[0, 0]);
        assert_msg(&read_idx_images(&p).unwrap_err(), "tiny", &["truncated: 2 bytes, expected 16"]);
        let p = write(dir.path(), "short-header", &images_bytes(1, 1, 1)[..10]);
        assert_msg(&read_idx_images(&p).unwrap_err(), "short-header", &["truncated: 10 bytes, expected 16 (16-byte IDX images header)"]);
        let p = write(dir.path(), "empty-file", &[]);
        assert_msg(&read_idx_labels(&p).unwrap_err(), "empty-file", &["truncated: 0 bytes, expected 8"]);
        let mut raw = labels_bytes(&[1, 2, 3]);
        raw.pop();
        let p = write(dir.path(), "cut-labels", &raw);
        assert_msg(&read_idx_labels(&p).unwrap_err(), "cut-labels", &["truncated: 10 bytes, expected 11 (8-byte header + 3 labels)"]);
        // A header claiming 2^32-1 images of 2^32-1 x 2^32-1 allocates nothing and says so.
        let mut huge = Vec::new();
        for x in [IDX_IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX] {
            huge.extend(x.to_be_bytes());
        }
        let p = write(dir.path(), "huge", &huge);
        assert_msg(&read_idx_images(&p).unwrap_err(), "huge", &["truncated: 16 bytes"]);
    }

    #[test]
    fn trailing_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = images_bytes(2, 2, 2);
        raw.extend([0, 0, 0]);
        let p = write(dir.path(), "long-images", &raw);
        assert_msg(&read_idx_images(&p).unwrap_err(), "long-images", &["3 trailing bytes after the data: 27 bytes, expected 24"]);
        let mut raw = labels_bytes(&[1]);
        raw.push(1);
        let p = write(dir.path(), "long-labels.gz", &gzip(&raw));
        assert_msg(&read_idx_labels(&p).unwrap_err(), "long-labels.gz", &["1 trailing bytes"]);
    }

    #[test]
    fn zero_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "flat", &images_bytes(3, 0, 28));
        assert_msg(&read_idx_images(&p).unwrap_err(), "flat", &["bad dimensions [3, 0, 28]: rows and columns must be positive"]);
    }

    #[test]
    fn count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let i = write(dir.path(), "imgs.gz", &gzip(&images_bytes(3, 2, 2)));
        let l = write(dir.path(), "labs.gz", &gzip(&labels_bytes(&[1, 2])));
        let err = read_idx_pair(&i, &l, "x").unwrap_err();
        assert_msg(&err, "imgs.gz", &["labs.gz", "3 images", "2 labels", "count mismatch"]);
    }

    #[test]
    fn bad_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = gzip(&images_bytes(4, 8, 8));
        let mid = gz.len() / 2;
        gz[mid..].fill(0xff);
        let p = write(dir.path(), "corrupt.gz", &gz);
        assert_msg(&read_idx_images(&p).unwrap_err(), "corrupt.gz", &["bad gzip data"]);
        let p = write(dir.path(), "only-magic", &[0x1f, 0x8b]);
        assert_msg(&read_idx_labels(&p).unwrap_err(), "only-magic", &["bad gzip data"]);
    }

    #[test]
    fn label_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "labels-10", &labels_bytes(&[0, 9, 10, 3]));
        assert_msg(&read_idx_labels(&p).unwrap_err(), "labels-10", &["label 10 out of range 0..10 at example 2"]);
    }

    #[test]
    fn missing_file_names_it() {
        let err = read_idx_images(Path::new("/nonexistent/reglab/x-images")).unwrap_err();
        assert_msg(&err, "/nonexistent/reglab/x-images", &["cannot read"]);
    }

    fn check_real(sub: &str, per_class: impl Fn(usize, [usize; 10])) {
        let Some(dir) = data_dir(sub, &format!("real {sub} IDX test")) else {
            return;
        };
        for (split, n, images, labels) in [
            ("train", 60_000, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            ("test", 10_000, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        ] {
            let ds = read_idx_pair(&dir.join(images), &dir.join(labels), split).unwrap();
            assert_eq!(ds.len(), n);
            assert_eq!(ds.example_shape, vec![1, 28, 28]);
            assert_eq!(ds.features.len(), n * 784);
            let mut hist = [0usize; 10];
            for &l in &ds.labels {
                hist[usize::from(l)] += 1;
            }
            per_class(n, hist);
            let (lo, hi) = ds.features.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            assert_eq!((lo, hi), (0.0, 1.0), "{sub}/{split} pixel range");
            let mean = ds.features.iter().map(|&x| f64::from(x)).sum::<f64>() / ds.features.len() as f64;
            assert!((0.1..0.35).contains(&mean), "{sub}/{split} pixel mean {mean}");
        }
    }

    #[test]
    fn real_mnist() {
        check_real("mnist", |n, hist| {
            let expected: [usize; 10] = if n == 60_000 {
                [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
            } else {
                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
            };
            assert_eq!(hist, expected);
        });
    }

    #[test]
    fn real_fashion_mnist() {
        check_real("fashion-mnist", |n, hist| assert_eq!(hist, [n / 10; 10]));
    }
}
