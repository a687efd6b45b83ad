//! SST-2 (GLUE binary sentiment; Socher et al. 2013, Wang et al. 2019): `train.tsv.gz` (67,349
//! sentences) and `dev.tsv` (872), each a UTF-8 TSV with a header `text<TAB>label` (or GLUE's
//! `sentence<TAB>label`) and a label 0 (negative) or 1 (positive) per line; the dev split is the
//! test set (GLUE's test split has no labels).
//!
//! The sentences are tokenized once, when the split is loaded, with a WordPiece
//! `tokenizer.json` ([`crate::text::WordPiece`]), truncated to `max_len` tokens (`[CLS]`/`[SEP]`
//! included) and stored as token ids in `f32` (exact below 2²⁴) padded on the right with the pad
//! id to `max_len`: examples of shape `[max_len]`, 2 classes. The BERT classifier cuts each batch
//! to its longest sentence.
//!
//! As a data source: `sst2[:OPTIONS]`, OPTIONS `key=value` separated by `,` from `max_len` (64),
//! `train` (training sentences kept: the first N of a fixed permutation, so smaller subsets are
//! nested in larger ones; default all), `dir` (the folder, default `$REGLAB_DATA/sst2`) and
//! `tokenizer` (default `$REGLAB_DATA/minilm/tokenizer.json`); e.g. `sst2:train=1000,max_len=64`.

use super::{DataError, Problem, maybe_gunzip, read_file};
use crate::text::WordPiece;
use reglab_core::{Dataset, Split};
use std::path::{Path, PathBuf};

/// The default truncation length.
pub const DEFAULT_MAX_LEN: usize = 64;

/// Where and how to load SST-2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sst2Spec {
    /// The folder (`None`: `$REGLAB_DATA/sst2`).
    pub dir: Option<PathBuf>,
    /// The tokenizer (`None`: `$REGLAB_DATA/minilm/tokenizer.json`).
    pub tokenizer: Option<PathBuf>,
    /// Tokens per sentence at most (`[CLS]`, `[SEP]` included).
    pub max_len: usize,
    /// Training sentences kept (`None`: all): the first `n` of a fixed permutation (seed 0), so
    /// smaller subsets are nested in larger ones.
    pub train: Option<usize>,
}

impl Default for Sst2Spec {
    fn default() -> Self {
        Self { dir: None, tokenizer: None, max_len: DEFAULT_MAX_LEN, train: None }
    }
}

impl Sst2Spec {
    /// Parse `key=value,…` (an empty string: the defaults). Errors name the option.
    pub fn parse_options(s: &str) -> Result<Self, String> {
        let mut spec = Self::default();
        for kv in s.split(',').filter(|kv| !kv.trim().is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| format!("option `{kv}` is not key=value"))?;
            match k.trim() {
                "max_len" => {
                    spec.max_len = v.trim().parse().map_err(|_| format!("option `max_len` = {v:?}: not an integer"))?;
                    if spec.max_len < 2 {
                        return Err(format!("option `max_len` = {}: expected ≥ 2 ([CLS] and [SEP])", spec.max_len));
                    }
                }
                "train" => match v.trim().parse::<usize>() {
                    Ok(n) if n > 0 => spec.train = Some(n),
                    _ => return Err(format!("option `train` = {v:?}: expected a positive integer")),
                },
                "dir" if !v.is_empty() => spec.dir = Some(PathBuf::from(v)),
                "tokenizer" if !v.is_empty() => spec.tokenizer = Some(PathBuf::from(v)),
                "dir" | "tokenizer" => return Err(format!("option `{k}` is empty")),
                other => return Err(format!("unknown option `{other}` (sst2 takes max_len, train, dir, tokenizer)")),
            }
        }
        Ok(spec)
    }

    /// The options as [`Sst2Spec::parse_options`] reads them (every option given, defaults
    /// omitted).
    pub fn options_string(&self) -> String {
        let mut v = vec![format!("max_len={}", self.max_len)];
        if let Some(n) = self.train {
            v.push(format!("train={n}"));
        }
        if let Some(d) = &self.dir {
            v.push(format!("dir={}", d.display()));
        }
        if let Some(t) = &self.tokenizer {
            v.push(format!("tokenizer={}", t.display()));
        }
        v.join(",")
    }

    /// Load and tokenize the split, `data_root` standing for `$REGLAB_DATA`.
    pub fn load_in(&self, data_root: Option<&Path>) -> Result<Split, DataError> {
        let default = |sub: &'static str, given: &Option<PathBuf>| -> Result<PathBuf, DataError> {
            match (given, data_root) {
                (Some(p), _) => Ok(p.clone()),
                (None, Some(root)) => Ok(root.join(sub)),
                (None, None) => Err(DataError::EnvUnset { var: super::REGLAB_DATA, subdir: sub, source_name: "sst2" }),
            }
        };
        let dir = default("sst2", &self.dir)?;
        let tok_path = match &self.tokenizer {
            Some(p) => p.clone(),
            None => default("minilm", &None)?.join("tokenizer.json"),
        };
        let tok = WordPiece::load(&tok_path, self.max_len)
            .map_err(|problem| DataError::BadSource { spec: format!("sst2:{}", self.options_string()), problem })?;
        let train = read_tsv(&dir.join("train.tsv.gz"), "sst2/train", &tok, self.max_len, self.train)?;
        let test = read_tsv(&dir.join("dev.tsv"), "sst2/dev", &tok, self.max_len, None)?;
        Ok(Split { train, test })
    }
}

/// One sentence of a `text<TAB>label` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line in the file.
    pub line: usize,
    /// The sentence.
    pub text: String,
    /// 0 (negative) or 1 (positive).
    pub label: u8,
}

/// The rows of a `text<TAB>label` file (gzip'd or not), every row checked; with `keep`, only
/// the first `keep` rows of a fixed permutation (seed 0), in that order (an error if the file
/// has fewer).
pub fn read_rows(path: &Path, keep: Option<usize>) -> Result<Vec<Row>, DataError> {
    parse_rows(&read_file(path)?, path, keep)
}

/// [`read_rows`] of the bytes `raw` of the file `path` (named in errors).
pub fn parse_rows(raw: &[u8], path: &Path, keep: Option<usize>) -> Result<Vec<Row>, DataError> {
    let bytes = maybe_gunzip(raw, path)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|e| DataError::Malformed { path: path.into(), problem: Problem::NotText { offset: e.valid_up_to() } })?;
    let bad = |line: usize, what: String| DataError::Malformed { path: path.into(), problem: Problem::BadRow { line, what } };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if matches!(h.trim_end_matches('\r'), "text\tlabel" | "sentence\tlabel") => {}
        Some((_, h)) => return Err(bad(1, format!("header {h:?}, expected \"text<TAB>label\""))),
        None => return Err(bad(1, "empty file".into())),
    }
    let mut rows: Vec<(usize, &str, u8)> = Vec::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        let (sentence, label) = line.rsplit_once('\t').ok_or_else(|| bad(i + 1, "no TAB between the sentence and its label".into()))?;
        let label: u8 = match label.trim() {
            "0" => 0,
            "1" => 1,
            other => return Err(bad(i + 1, format!("label {other:?}, expected 0 or 1"))),
        };
        if sentence.trim().is_empty() {
            return Err(bad(i + 1, "an empty sentence".into()));
        }
        rows.push((i + 1, sentence, label));
    }
    if rows.is_empty() {
        return Err(bad(2, "no sentences".into()));
    }
    let order: Vec<usize> = match keep {
        None => (0..rows.len()).collect(),
        Some(k) if k > rows.len() => return Err(bad(1, format!("{k} sentences asked for, the file has {}", rows.len()))),
        Some(k) => super::seeded_permutation(rows.len(), 0)[..k].to_vec(),
    };
    Ok(order.into_iter().map(|j| Row { line: rows[j].0, text: rows[j].1.to_string(), label: rows[j].2 }).collect())
}

/// Read a `text<TAB>label` file ([`read_rows`], `keep` as there) and tokenize it.
pub fn read_tsv(path: &Path, name: &str, tok: &WordPiece, max_len: usize, keep: Option<usize>) -> Result<Dataset, DataError> {
    let rows = read_rows(path, keep)?;
    let pad = tok.pad_id() as f32;
    let mut features = Vec::with_capacity(rows.len() * max_len);
    let mut labels = Vec::with_capacity(rows.len());
    for r in rows {
        let ids = tok.encode(&r.text).map_err(|what| DataError::Malformed { path: path.into(), problem: Problem::BadRow { line: r.line, what } })?;
        features.extend(ids.iter().map(|&t| t as f32));
        features.extend(std::iter::repeat_n(pad, max_len - ids.len()));
        labels.push(r.label);
    }
    Ok(Dataset { name: name.into(), example_shape: vec![max_len], features, labels, classes: 2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `$REGLAB_DATA` when it holds sst2/ and minilm/ (None without, except in CI).
    fn root() -> Option<PathBuf> {
        let r = reglab_core::testing::shared_data("sst2/dev.tsv")?.parent()?.parent()?.to_path_buf();
        reglab_core::testing::shared_data("minilm/tokenizer.json").map(|_| r)
    }

    #[test]
    fn options_parse_and_round_trip() {
        assert_eq!(Sst2Spec::parse_options("").unwrap(), Sst2Spec::default());
        let s = Sst2Spec::parse_options("train=100,max_len=32,dir=/d/s,tokenizer=/t/tok.json").unwrap();
        assert_eq!(s, Sst2Spec { dir: Some("/d/s".into()), tokenizer: Some("/t/tok.json".into()), max_len: 32, train: Some(100) });
        assert_eq!(Sst2Spec::parse_options(&s.options_string()).unwrap(), s);
        let src: super::super::DataSource = "sst2:train=10".parse().unwrap();
        assert_eq!(src.to_string(), "sst2:max_len=64,train=10");
        for (bad, want) in
            [("max_len=1", "≥ 2"), ("train=0", "positive"), ("colour=red", "unknown option `colour`"), ("dir=", "empty"), ("x", "key=value")]
        {
            let e = Sst2Spec::parse_options(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn the_real_splits_load_as_padded_token_ids_with_nested_subsets() {
        let Some(root) = root() else { return };
        let spec = Sst2Spec { train: Some(200), ..Default::default() };
        let s = spec.load_in(Some(&root)).unwrap();
        assert_eq!((s.train.len(), s.test.len(), s.train.classes, s.train.example_shape.clone()), (200, 872, 2, vec![64]));
        assert_eq!((s.train.name.as_str(), s.test.name.as_str()), ("sst2/train", "sst2/dev"));
        assert_eq!(s.test.labels.iter().filter(|&&l| l == 1).count(), 444, "dev: 444 positive of 872 (README)");
        for d in [&s.train, &s.test] {
            for i in 0..d.len() {
                let x = d.example(i);
                assert_eq!(x[0], 101.0, "[CLS] first");
                let end = x.iter().rposition(|&t| t != 0.0).unwrap();
                assert!(x[end] == 102.0 && x[..end].iter().all(|&t| t != 0.0), "[SEP] last, then padding");
            }
        }
        // the first dev sentence, tokenized by the reference tokenizer
        let tok = WordPiece::load(&root.join("minilm/tokenizer.json"), 64).unwrap();
        let want: Vec<f32> = tok.encode("it 's a charming and often affecting journey . ").unwrap().iter().map(|&t| t as f32).collect();
        assert_eq!(&s.test.example(0)[..want.len()], &want[..]);
        // smaller subsets are prefixes of larger ones
        let small = Sst2Spec { train: Some(20), ..Default::default() }.load_in(Some(&root)).unwrap();
        assert_eq!(&small.train.features[..], &s.train.features[..20 * 64]);
        assert_eq!(&small.train.labels[..], &s.train.labels[..20]);
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let Some(root) = root() else { return };
        let tok = WordPiece::load(&root.join("minilm/tokenizer.json"), 16).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let read = |name: &str, text: &str, keep: Option<usize>| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            read_tsv(&p, "t", &tok, 16, keep).map(|d| d.len()).map_err(|e| e.to_string())
        };
        assert_eq!(read("ok.tsv", "text\tlabel\na good film\t1\na bad one\t0\n", None), Ok(2));
        assert_eq!(read("glue.tsv", "sentence\tlabel\nfine\t1\n", None), Ok(1));
        let cases = [
            ("header.tsv", "words\tlabel\nx\t1\n", "line 1", "header"),
            ("label.tsv", "text\tlabel\nfine\t1\nbad label\t2\n", "line 3", "label \"2\""),
            ("tab.tsv", "text\tlabel\nno tab here 1\n", "line 2", "no TAB"),
            ("empty.tsv", "text\tlabel\n \t1\n", "line 2", "empty sentence"),
            ("none.tsv", "text\tlabel\n", "line 2", "no sentences"),
        ];
        for (name, text, line, what) in cases {
            let e = read(name, text, None).unwrap_err();
            assert!(e.contains(name) && e.contains(line) && e.contains(what), "{e}");
        }
        let e = read("few.tsv", "text\tlabel\na\t1\n", Some(5)).unwrap_err();
        assert!(e.contains("5 sentences asked for, the file has 1"), "{e}");
        let e = Sst2Spec { dir: Some(dir.path().join("missing")), ..Default::default() }.load_in(Some(&root)).unwrap_err().to_string();
        assert!(e.contains("missing") && e.contains("train.tsv.gz"), "{e}");
    }
}
