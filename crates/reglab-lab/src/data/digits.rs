//! scikit-learn's 8×8 handwritten digits (UCI optdigits test set), embedded in the binary.
//!
//! The file `crates/reglab-lab/data/digits.csv.gz` (57,523 bytes, sha256
//! `09f66e6d…1e23aa22`, a byte-identical copy of `shared/data/sklearn-digits/digits.csv.gz`; see
//! `data/README.md` there for source and license: CC BY 4.0, Alpaydin & Kaynak, UCI) is compiled
//! in with `include_bytes!`. It is a gzip'd CSV without header: 1,797 rows of 65 integers,
//! 64 pixel counts `0..=16` (8×8, row-major) then the label `0..=9`.
//!
//! Examples have `example_shape` `[1, 8, 8]`, pixels `count / 16` in `[0, 1]`.
//!
//! **Fixed split**: [`load_digits`] permutes the 1,797 rows with
//! [`seeded_permutation`]`(1797, `[`DIGITS_SPLIT_SEED`]`)`; the first 80 % of that order
//! ([`DIGITS_TRAIN_LEN`] = 1,437 rows) is the training set, the remaining [`DIGITS_TEST_LEN`] =
//! 360 the test set, both in permuted order. The split is the same on every run and platform.

use std::path::Path;

use reglab_core::{Dataset, Split};

use super::{CLASSES, DataError, Problem, maybe_gunzip, read_file, seeded_permutation};

/// The embedded `digits.csv.gz`.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");
/// How the embedded file is named in errors.
pub const DIGITS_EMBEDDED_PATH: &str = "<embedded>/digits.csv.gz";
/// Rows in the embedded file.
pub const DIGITS_LEN: usize = 1797;
/// Training rows of the fixed split: `⌊0.8 · 1797⌋`.
pub const DIGITS_TRAIN_LEN: usize = DIGITS_LEN * 4 / 5;
/// Test rows of the fixed split.
pub const DIGITS_TEST_LEN: usize = DIGITS_LEN - DIGITS_TRAIN_LEN;
/// Seed of the fixed train/test split: the ASCII bytes of `reglab` as a big-endian number.
/// Changing it changes every digits result; don't.
pub const DIGITS_SPLIT_SEED: u64 = 0x7265_676c_6162;

/// Pixels per row.
const PIXELS: usize = 64;
/// Largest pixel count.
const PIXEL_MAX: u8 = 16;

/// All 1,797 embedded examples in file order, named `digits`.
pub fn digits_dataset() -> Result<Dataset, DataError> {
    let path = Path::new(DIGITS_EMBEDDED_PATH);
    let ds = parse_digits_csv(DIGITS_CSV_GZ, path)?;
    if ds.len() != DIGITS_LEN {
        return Err(DataError::Malformed { path: path.to_path_buf(), problem: Problem::RowCount { found: ds.len(), expected: DIGITS_LEN } });
    }
    Ok(ds)
}

/// The fixed, documented 80/20 split of the embedded digits (see the module docs):
/// `digits/train` (1,437) and `digits/test` (360).
pub fn load_digits() -> Result<Split, DataError> {
    let all = digits_dataset()?;
    let (train, test) = digits_split_indices();
    Ok(Split { train: all.subset(&train, "digits/train"), test: all.subset(&test, "digits/test") })
}

/// Row indices (in file order) of the fixed split: `(train, test)`, disjoint, covering `0..1797`.
pub fn digits_split_indices() -> (Vec<usize>, Vec<usize>) {
    let mut perm = seeded_permutation(DIGITS_LEN, DIGITS_SPLIT_SEED);
    let test = perm.split_off(DIGITS_TRAIN_LEN);
    (perm, test)
}

/// Reads a digits CSV file (plain or gzip, any number of rows ≥ 1), named `digits`.
pub fn read_digits_csv(path: &Path) -> Result<Dataset, DataError> {
    parse_digits_csv(&read_file(path)?, path)
}

/// Parses digits CSV content (plain or gzip); `path` names it in errors. Rows: 64 integer pixel
/// counts in `0..=16` then a label in `0..=9`; `\r\n` line ends and spaces around fields are
/// accepted, empty rows (other than the final line end) are not.
pub fn parse_digits_csv(bytes: &[u8], path: &Path) -> Result<Dataset, DataError> {
    let bad = |problem| DataError::Malformed { path: path.to_path_buf(), problem };
    let data = maybe_gunzip(bytes, path)?;
    let text = std::str::from_utf8(&data).map_err(|e| bad(Problem::NotText { offset: e.valid_up_to() }))?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for (i, row) in text.split('\n').enumerate() {
        let line = i + 1;
        let row = row.strip_suffix('\r').unwrap_or(row);
        if row.trim().is_empty() {
            return Err(bad(Problem::EmptyRow { line }));
        }
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        if fields.len() != PIXELS + 1 {
            return Err(bad(Problem::FieldCount { line, found: fields.len(), expected: PIXELS + 1 }));
        }
        // `k` is the zero-based field index.
        let number = |k: usize, text: &str| -> Result<f64, DataError> {
            text.parse::<f64>().map_err(|_| bad(Problem::NonNumeric { line, field: k + 1, value: text.to_string() }))
        };
        let (pixels, label_text) = fields.split_at(PIXELS);
        for (k, text) in pixels.iter().enumerate() {
            let v = number(k, text)?;
            if v.fract() != 0.0 || !(0.0..=f64::from(PIXEL_MAX)).contains(&v) {
                return Err(bad(Problem::PixelOutOfRange { line, field: k + 1, value: text.to_string(), max: PIXEL_MAX }));
            }
            features.push(v as f32 / f32::from(PIXEL_MAX));
        }
        let label = number(PIXELS, label_text[0])?;
        if label.fract() != 0.0 || !(0.0..CLASSES as f64).contains(&label) {
            return Err(bad(Problem::LabelOutOfRange { index: i, label: label_text[0].to_string(), classes: CLASSES }));
        }
        labels.push(label as u8);
    }
    Ok(Dataset { name: "digits".into(), example_shape: vec![1, 8, 8], features, labels, classes: CLASSES })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_support::{assert_msg, data_dir, gzip};
    use std::path::PathBuf;

    const DIGITS_SHA256: &str = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22";
    const FIRST_ROW: &str = "0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3,15,2,0,11,8,0,0,4,12,0,0,8,8,0,\
                             0,5,8,0,0,9,8,0,0,4,11,0,1,12,7,0,0,2,14,5,10,12,0,0,0,0,6,13,10,0,0,0,0";

    /// Minimal SHA-256 (FIPS 180-4), enough to check the embedded file without a dependency.
    fn sha256_hex(data: &[u8]) -> String {
        const K: [u32; 64] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
            0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
            0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
            0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
            0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
            0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
        ];
        let mut h: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
        let mut msg = data.to_vec();
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend((data.len() as u64 * 8).to_be_bytes());
        for block in msg.chunks_exact(64) {
            let mut w = [0u32; 64];
            for (t, word) in block.chunks_exact(4).enumerate() {
                w[t] = u32::from_be_bytes(word.try_into().unwrap());
            }
            for t in 16..64 {
                let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
                let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
                w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
            }
            let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
            for t in 0..64 {
                let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
                let ch = (e & f) ^ (!e & g);
                let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[t]).wrapping_add(w[t]);
                let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
                let maj = (a & b) ^ (a & c) ^ (b & c);
                let t2 = s0.wrapping_add(maj);
                (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
            }
            for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
                *x = x.wrapping_add(y);
            }
        }
        h.iter().map(|x| format!("{x:08x}")).collect()
    }

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn embedded_file_matches_sha256sums() {
        assert_eq!(DIGITS_CSV_GZ.len(), 57_523);
        let got = sha256_hex(DIGITS_CSV_GZ);
        assert_eq!(got, DIGITS_SHA256, "embedded digits.csv.gz changed");
        let Some(dir) = data_dir("sklearn-digits", "digits SHA256SUMS check") else {
            return;
        };
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        let listed = sums.lines().find_map(|l| l.strip_suffix("  digits.csv.gz")).expect("digits.csv.gz listed in SHA256SUMS");
        assert_eq!(got, listed, "embedded copy differs from shared SHA256SUMS");
        assert_eq!(std::fs::read(dir.join("digits.csv.gz")).unwrap(), DIGITS_CSV_GZ);
    }

    #[test]
    fn embedded_digits_content() {
        let ds = digits_dataset().unwrap();
        assert_eq!(ds.len(), DIGITS_LEN);
        assert_eq!(ds.name, "digits");
        assert_eq!(ds.example_shape, vec![1, 8, 8]);
        assert_eq!(ds.features.len(), DIGITS_LEN * 64);
        assert_eq!(ds.classes, 10);
        let mut hist = [0usize; 10];
        for &l in &ds.labels {
            hist[usize::from(l)] += 1;
        }
        assert_eq!(hist, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert!(ds.features.iter().all(|&x| (0.0..=1.0).contains(&x) && (x * 16.0).fract() == 0.0));
        assert_eq!(ds.features.iter().cloned().fold(f32::MIN, f32::max), 1.0);
        let first: Vec<f32> = FIRST_ROW.split(',').map(|v| v.parse::<f32>().unwrap() / 16.0).collect();
        assert_eq!(ds.example(0), &first[..64]);
        assert_eq!(first[64], 0.0, "label of row 1");
        assert_eq!(&ds.labels[..3], &[0, 1, 2]);
    }

    #[test]
    fn split_sizes_deterministic_disjoint() {
        assert_eq!((DIGITS_TRAIN_LEN, DIGITS_TEST_LEN), (1437, 360));
        let split = load_digits().unwrap();
        assert_eq!(split.train.len(), 1437);
        assert_eq!(split.test.len(), 360);
        assert_eq!(split.train.name, "digits/train");
        assert_eq!(split.test.name, "digits/test");
        assert_eq!(split.train.example_shape, vec![1, 8, 8]);
        assert_eq!(split, load_digits().unwrap(), "split is deterministic");

        let (train, test) = digits_split_indices();
        let mut seen = vec![false; DIGITS_LEN];
        for &i in train.iter().chain(&test) {
            assert!(!seen[i], "row {i} in both parts");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s), "split covers every row");
        assert_ne!(train[..10], (0..10).collect::<Vec<_>>()[..], "rows are shuffled");

        let all = digits_dataset().unwrap();
        assert_eq!(split.test, all.subset(&test, "digits/test"));
        // Pin the split itself: a change of seed, permutation or RNG stream must be deliberate.
        let mut hist = [0usize; 10];
        for &l in &split.test.labels {
            hist[usize::from(l)] += 1;
        }
        assert_eq!(&test[..5], &PINNED_TEST_HEAD, "fixed split changed");
        assert_eq!(hist, PINNED_TEST_HIST, "fixed split changed");
    }

    const PINNED_TEST_HEAD: [usize; 5] = [448, 454, 1199, 758, 1516];
    const PINNED_TEST_HIST: [usize; 10] = [46, 32, 26, 32, 42, 27, 34, 36, 43, 42];

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn row(pixel: &str, label: &str) -> String {
        let mut f = vec!["0"; 64];
        f[10] = pixel;
        f.push(label);
        f.join(",")
    }

    #[test]
    fn reads_plain_crlf_and_gzip_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{}\r\n{}\r\n", row("16", "7"), row(" 8 ", "0"));
        let a = read_digits_csv(&write(dir.path(), "d.csv", text.as_bytes())).unwrap();
        let b = read_digits_csv(&write(dir.path(), "d.bin", &gzip(text.as_bytes()))).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.labels, vec![7, 0]);
        assert_eq!(a.example(0)[10], 1.0);
        assert_eq!(a.example(1)[10], 0.5);
        // No final newline is fine too.
        let c = read_digits_csv(&write(dir.path(), "e.csv", row("1", "1").as_bytes())).unwrap();
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn empty_row() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{}\n\n{}\n", row("1", "1"), row("2", "2"));
        let p = write(dir.path(), "gap.csv.gz", &gzip(text.as_bytes()));
        assert_msg(&read_digits_csv(&p).unwrap_err(), "gap.csv.gz", &["line 2: empty CSV row"]);
        let p = write(dir.path(), "empty.csv", b"");
        assert_msg(&read_digits_csv(&p).unwrap_err(), "empty.csv", &["line 1: empty CSV row"]);
    }

    #[test]
    fn non_numeric_field() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{}\n{}\n", row("1", "1"), row("x7", "2"));
        let p = write(dir.path(), "nan.csv", text.as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "nan.csv", &["line 2, field 11: non-numeric value \"x7\""]);
        let p = write(dir.path(), "badlabel.csv", row("1", "seven").as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "badlabel.csv", &["field 65: non-numeric value \"seven\""]);
        let p = write(dir.path(), "blank-field.csv", row("", "1").as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "blank-field.csv", &["field 11: non-numeric value \"\""]);
    }

    #[test]
    fn wrong_field_count_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "short.csv", b"1,2,3\n");
        assert_msg(&read_digits_csv(&p).unwrap_err(), "short.csv", &["line 1: 3 fields, expected 65"]);
        let p = write(dir.path(), "hot.csv", row("17", "1").as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "hot.csv", &["line 1, field 11: pixel value \"17\" is not an integer in 0..=16"]);
        let p = write(dir.path(), "frac.csv", row("2.5", "1").as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "frac.csv", &["pixel value \"2.5\""]);
        let text = format!("{}\n{}\n", row("1", "1"), row("1", "10"));
        let p = write(dir.path(), "label.csv", text.as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "label.csv", &["label 10 out of range 0..10 at example 1"]);
        let p = write(dir.path(), "neg.csv", row("1", "-1").as_bytes());
        assert_msg(&read_digits_csv(&p).unwrap_err(), "neg.csv", &["label -1 out of range"]);
    }

    #[test]
    fn bad_gzip_and_binary() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = gzip(row("1", "1").as_bytes());
        gz.truncate(gz.len() / 2);
        let p = write(dir.path(), "cut.csv.gz", &gz);
        assert_msg(&read_digits_csv(&p).unwrap_err(), "cut.csv.gz", &["bad gzip data"]);
        let p = write(dir.path(), "bin.csv", &[b'1', b',', 0xff, 0xfe]);
        assert_msg(&read_digits_csv(&p).unwrap_err(), "bin.csv", &["not UTF-8 text (invalid byte at offset 2)"]);
    }
}
