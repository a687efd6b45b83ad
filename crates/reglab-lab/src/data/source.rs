//! Which data set to load: `digits | mnist[:DIR] | fashion[:DIR] | synthetic[:OPTIONS] | sst2[:OPTIONS]`.
//!
//! - `digits`: the embedded scikit-learn 8×8 digits with their fixed 80/20 split
//!   ([`load_digits`]).
//! - `mnist[:DIR]`, `fashion[:DIR]`: MNIST / Fashion-MNIST IDX files in `DIR`, by default
//!   `$REGLAB_DATA/mnist` and `$REGLAB_DATA/fashion-mnist`. `DIR` holds
//!   `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
//!   `t10k-labels-idx1-ubyte`, each gzip'd with a `.gz` suffix (preferred when both exist) or
//!   without it. Everything after the first `:` is the folder, so it may contain `:` itself.
//! - `synthetic[:OPTIONS]`: a seeded linear-teacher classification task
//!   ([`crate::synthetic::ClassificationSpec`]), OPTIONS `key=value` separated by `,` from
//!   `n` (training examples, 1000), `test` (1000), `d` (features, 20), `classes` (2), `k` (features
//!   the teacher reads, 5), `rho` (AR(1) feature correlation, 0), `noise` (σ on the teacher's
//!   logits, 0), `seed` (0); e.g. `synthetic:n=500,d=50,k=5,classes=3,seed=1`. Its features are
//!   Gaussian, not in `[0, 1]`.
//! - `sst2[:OPTIONS]`: SST-2 sentences tokenized for BERT ([`super::sst2`]), OPTIONS from
//!   `max_len` (64), `dir` (`$REGLAB_DATA/sst2`), `tokenizer` (`$REGLAB_DATA/minilm/tokenizer.json`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use reglab_core::Split;

use crate::synthetic::ClassificationSpec;

use super::{DataError, idx::read_idx_pair, load_digits};

/// The environment variable naming the folder that holds `mnist/` and `fashion-mnist/`
/// (e.g. the repository's `shared/data`).
pub const REGLAB_DATA: &str = "REGLAB_DATA";

/// A data set to load; parse one with [`str::parse`] from
/// `digits | mnist[:DIR] | fashion[:DIR] | synthetic[:OPTIONS]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataSource {
    /// The embedded 8×8 digits.
    Digits,
    /// MNIST, from the folder given or `$REGLAB_DATA/mnist`.
    Mnist(Option<PathBuf>),
    /// Fashion-MNIST, from the folder given or `$REGLAB_DATA/fashion-mnist`.
    Fashion(Option<PathBuf>),
    /// A seeded synthetic classification task.
    Synthetic(ClassificationSpec),
    /// SST-2 sentences as token ids ([`super::sst2`]).
    Sst2(super::sst2::Sst2Spec),
}

impl DataSource {
    /// The source's name: `digits`, `mnist`, `fashion` or `synthetic`; also the prefix of the
    /// data sets' names (`mnist/train`, `mnist/test`, …).
    pub fn name(&self) -> &'static str {
        match self {
            DataSource::Digits => "digits",
            DataSource::Mnist(_) => "mnist",
            DataSource::Fashion(_) => "fashion",
            DataSource::Synthetic(_) => "synthetic",
            DataSource::Sst2(_) => "sst2",
        }
    }

    /// The folder the IDX files are read from (`None` for the embedded digits and synthetic data), with the default
    /// taken from the environment variable [`REGLAB_DATA`].
    pub fn dir(&self) -> Result<Option<PathBuf>, DataError> {
        self.dir_in(reglab_data_env().as_deref())
    }

    /// Like [`dir`](Self::dir), with `data_root` standing for `$REGLAB_DATA` (`None`: unset).
    pub fn dir_in(&self, data_root: Option<&Path>) -> Result<Option<PathBuf>, DataError> {
        let (given, subdir) = match self {
            DataSource::Digits | DataSource::Synthetic(_) | DataSource::Sst2(_) => return Ok(None),
            DataSource::Mnist(d) => (d, "mnist"),
            DataSource::Fashion(d) => (d, "fashion-mnist"),
        };
        if let Some(d) = given {
            return Ok(Some(d.clone()));
        }
        match data_root {
            Some(root) => Ok(Some(root.join(subdir))),
            None => Err(DataError::EnvUnset { var: REGLAB_DATA, subdir, source_name: self.name() }),
        }
    }

    /// Loads the train/test split, the default folder taken from [`REGLAB_DATA`].
    pub fn load(&self) -> Result<Split, DataError> {
        self.load_in(reglab_data_env().as_deref())
    }

    /// Like [`load`](Self::load), with `data_root` standing for `$REGLAB_DATA` (`None`: unset).
    pub fn load_in(&self, data_root: Option<&Path>) -> Result<Split, DataError> {
        if let DataSource::Sst2(spec) = self {
            return spec.load_in(data_root);
        }
        if let DataSource::Synthetic(spec) = self {
            return spec
                .generate()
                .map(|(split, _)| split)
                .map_err(|e| DataError::BadSource { spec: self.to_string(), problem: format!("option {e}") });
        }
        let Some(dir) = self.dir_in(data_root)? else {
            return load_digits();
        };
        let what = match self {
            DataSource::Fashion(_) => "Fashion-MNIST",
            _ => "MNIST",
        };
        let file = |name: &str| locate(&dir, name, what);
        let (train_images, test_images) = (file("train-images-idx3-ubyte")?, file("t10k-images-idx3-ubyte")?);
        let (train_labels, test_labels) = (file("train-labels-idx1-ubyte")?, file("t10k-labels-idx1-ubyte")?);
        let name = self.name();
        let train = read_idx_pair(&train_images, &train_labels, format!("{name}/train"))?;
        let test = read_idx_pair(&test_images, &test_labels, format!("{name}/test"))?;
        if train.example_shape != test.example_shape {
            let hw = |s: &[usize]| (s[1], s[2]);
            return Err(DataError::ShapeMismatch {
                train_path: train_images,
                train_hw: hw(&train.example_shape),
                test_path: test_images,
                test_hw: hw(&test.example_shape),
            });
        }
        Ok(Split { train, test })
    }
}

/// `$REGLAB_DATA`, `None` when unset or empty.
fn reglab_data_env() -> Option<PathBuf> {
    std::env::var_os(REGLAB_DATA).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `dir/name.gz` if it is a file, else `dir/name` if it is, else an error naming both.
fn locate(dir: &Path, name: &str, what: &'static str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    Err(DataError::MissingFile { dir: dir.to_path_buf(), name: name.to_string(), what })
}

impl FromStr for DataSource {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| DataError::BadSource { spec: s.to_string(), problem };
        let (name, dir) = match s.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if name.is_empty() {
            return Err(err("no data set named".into()));
        }
        if name == "synthetic" {
            return ClassificationSpec::parse_options(dir.unwrap_or("")).map(DataSource::Synthetic).map_err(err);
        }
        if name == "sst2" {
            return super::sst2::Sst2Spec::parse_options(dir.unwrap_or("")).map(DataSource::Sst2).map_err(err);
        }
        let dir = match dir {
            Some("") => return Err(err(format!("empty folder after '{name}:'"))),
            Some(d) => Some(PathBuf::from(d)),
            None => None,
        };
        match name {
            "digits" if dir.is_some() => Err(err("digits takes no folder (it is embedded in the binary)".into())),
            "digits" => Ok(DataSource::Digits),
            "mnist" => Ok(DataSource::Mnist(dir)),
            "fashion" => Ok(DataSource::Fashion(dir)),
            other => Err(err(format!("unknown data set {other:?}"))),
        }
    }
}

impl fmt::Display for DataSource {
    /// The parseable form: `digits`, `mnist`, `mnist:DIR`, …, `synthetic:n=…,test=…,…` (every option).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            DataSource::Synthetic(spec) => write!(f, ":{}", spec.options_string()),
            DataSource::Sst2(spec) => write!(f, ":{}", spec.options_string()),
            DataSource::Mnist(Some(d)) | DataSource::Fashion(Some(d)) => {
                write!(f, ":{}", d.display())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::tests::{images_bytes, labels_bytes};
    use crate::data::test_support::{assert_msg, data_root, gzip};

    #[test]
    fn parses_sources() {
        assert_eq!("digits".parse::<DataSource>().unwrap(), DataSource::Digits);
        assert_eq!("mnist".parse::<DataSource>().unwrap(), DataSource::Mnist(None));
        assert_eq!("fashion".parse::<DataSource>().unwrap(), DataSource::Fashion(None));
        assert_eq!("mnist:/d/m".parse::<DataSource>().unwrap(), DataSource::Mnist(Some("/d/m".into())));
        assert_eq!("fashion:rel/a:b".parse::<DataSource>().unwrap(), DataSource::Fashion(Some("rel/a:b".into())));
        for s in ["digits", "mnist", "fashion", "mnist:/x/y", "fashion:data/f"] {
            assert_eq!(s.parse::<DataSource>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn synthetic_source_parses_loads_and_round_trips() {
        use crate::synthetic::ClassificationSpec;
        let src: DataSource = "synthetic:n=120,test=30,d=6,k=2,classes=3,seed=4".parse().unwrap();
        let want = ClassificationSpec { train: 120, test: 30, d: 6, classes: 3, k: 2, rho: 0.0, noise: 0.0, seed: 4 };
        assert_eq!(src, DataSource::Synthetic(want.clone()));
        assert_eq!(src.name(), "synthetic");
        assert_eq!(src.to_string(), "synthetic:n=120,test=30,d=6,classes=3,k=2,rho=0,noise=0,seed=4");
        assert_eq!(src.to_string().parse::<DataSource>().unwrap(), src);
        assert_eq!("synthetic".parse::<DataSource>().unwrap(), DataSource::Synthetic(ClassificationSpec::default()));
        assert_eq!(src.dir_in(None).unwrap(), None);
        // no REGLAB_DATA needed; the split is the generator's, seeded
        let s = src.load_in(None).unwrap();
        assert_eq!((s.train.len(), s.test.len(), s.train.classes, s.train.example_shape.clone()), (120, 30, 3, vec![6]));
        assert_eq!((s.train.name.as_str(), s.test.name.as_str()), ("synthetic/train", "synthetic/test"));
        assert_eq!(s, want.generate().unwrap().0);
        assert_eq!(s, src.load_in(None).unwrap());
        let e = |s: &str| s.parse::<DataSource>().unwrap_err().to_string();
        for (bad, needle) in [("synthetic:k=9,d=6", "`k`"), ("synthetic:colour=1", "unknown option `colour`"), ("synthetic:n", "not key=value")] {
            let msg = e(bad);
            assert!(msg.contains(&format!("invalid data source {bad:?}")) && msg.contains(needle), "{msg}");
            assert!(msg.contains("synthetic[:OPTIONS]"), "{msg}");
        }
    }

    #[test]
    fn parse_errors_are_clear() {
        let e = |s: &str| s.parse::<DataSource>().unwrap_err().to_string();
        let expected = "expected digits | mnist[:DIR] | fashion[:DIR]";
        for (s, needle) in [
            ("", "no data set named"),
            (":/x", "no data set named"),
            ("cifar", "unknown data set \"cifar\""),
            ("MNIST", "unknown data set \"MNIST\""),
            ("mnist:", "empty folder after 'mnist:'"),
            ("fashion:", "empty folder after 'fashion:'"),
            ("digits:/x", "digits takes no folder"),
        ] {
            let msg = e(s);
            assert!(msg.contains(&format!("invalid data source {s:?}")), "{msg}");
            assert!(msg.contains(needle), "{msg}");
            assert!(msg.contains(expected), "{msg}");
        }
    }

    #[test]
    fn default_dirs_and_unset_env() {
        let root = Path::new("/data");
        assert_eq!(DataSource::Digits.dir_in(None).unwrap(), None);
        assert_eq!(DataSource::Mnist(None).dir_in(Some(root)).unwrap(), Some(PathBuf::from("/data/mnist")));
        assert_eq!(DataSource::Fashion(None).dir_in(Some(root)).unwrap(), Some(PathBuf::from("/data/fashion-mnist")));
        assert_eq!(DataSource::Mnist(Some("/m".into())).dir_in(None).unwrap(), Some(PathBuf::from("/m")));
        let msg = DataSource::Fashion(None).dir_in(None).unwrap_err().to_string();
        for needle in ["REGLAB_DATA is not set", "REGLAB_DATA/fashion-mnist", "export REGLAB_DATA=", "fashion:DIR"] {
            assert!(msg.contains(needle), "{msg}");
        }
        assert!(DataSource::Mnist(None).load_in(None).is_err());
    }

    #[test]
    fn digits_source_loads_fixed_split() {
        let s = DataSource::Digits.load_in(None).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (1437, 360));
        assert_eq!(s, load_digits().unwrap());
    }

    /// Writes the four files (train n=3, test n=2, 4×5 images) into `dir`, some gzip'd.
    fn write_toy(dir: &Path, test_hw: (u32, u32)) {
        let w = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
        w("train-images-idx3-ubyte.gz", gzip(&images_bytes(3, 4, 5)));
        w("train-labels-idx1-ubyte", labels_bytes(&[1, 2, 3]));
        w("t10k-images-idx3-ubyte", images_bytes(2, test_hw.0, test_hw.1));
        w("t10k-labels-idx1-ubyte.gz", gzip(&labels_bytes(&[4, 5])));
    }

    #[test]
    fn loads_idx_dir_with_and_without_gz() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fashion-mnist");
        std::fs::create_dir(&dir).unwrap();
        write_toy(&dir, (4, 5));
        let s = DataSource::Fashion(None).load_in(Some(tmp.path())).unwrap();
        assert_eq!(s.train.name, "fashion/train");
        assert_eq!(s.test.name, "fashion/test");
        assert_eq!(s.train.labels, vec![1, 2, 3]);
        assert_eq!(s.test.labels, vec![4, 5]);
        assert_eq!(s.train.example_shape, vec![1, 4, 5]);
        let explicit = format!("mnist:{}", dir.display()).parse::<DataSource>().unwrap();
        let m = explicit.load_in(None).unwrap();
        assert_eq!(m.train.name, "mnist/train");
        assert_eq!(m.train.features, s.train.features);
    }

    #[test]
    fn missing_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        write_toy(tmp.path(), (4, 5));
        std::fs::remove_file(tmp.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let err = DataSource::Mnist(Some(tmp.path().into())).load().unwrap_err();
        let file = tmp.path().join("t10k-labels-idx1-ubyte.gz");
        assert_msg(&err, &file.display().to_string(), &["file not found (nor t10k-labels-idx1-ubyte without .gz)", "MNIST IDX files"]);
        let err = DataSource::Mnist(None).load_in(Some(Path::new("/nonexistent/data"))).unwrap_err();
        assert_msg(&err, "/nonexistent/data/mnist/train-images-idx3-ubyte.gz", &["file not found"]);
    }

    #[test]
    fn shape_and_count_mismatch_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        write_toy(tmp.path(), (5, 4));
        let err = DataSource::Mnist(Some(tmp.path().into())).load().unwrap_err();
        assert_msg(&err, "train-images-idx3-ubyte.gz", &["t10k-images-idx3-ubyte", "4x5", "5x4", "train/test shape mismatch"]);
        write_toy(tmp.path(), (4, 5));
        std::fs::write(tmp.path().join("train-labels-idx1-ubyte"), labels_bytes(&[1, 2])).unwrap();
        let err = DataSource::Mnist(Some(tmp.path().into())).load().unwrap_err();
        assert_msg(&err, "train-images-idx3-ubyte.gz", &["train-labels-idx1-ubyte", "count mismatch"]);
    }

    #[test]
    fn real_mnist_and_fashion_sources() {
        let Some(root) = data_root("real MNIST/Fashion-MNIST source test") else {
            return;
        };
        for (src, name) in [(DataSource::Mnist(None), "mnist"), (DataSource::Fashion(None), "fashion")] {
            if !src.dir_in(Some(&root)).unwrap().unwrap().is_dir() {
                crate::data::test_support::missing::<()>(name, &format!("not under {}", root.display()));
                continue;
            }
            let s = src.load_in(Some(&root)).unwrap();
            assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000), "{name}");
            assert_eq!(s.train.name, format!("{name}/train"));
            assert_eq!(s.test.example_shape, vec![1, 28, 28]);
            assert_eq!(s.train.classes, 10);
        }
    }
}
