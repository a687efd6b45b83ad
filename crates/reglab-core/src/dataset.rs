//! An in-memory labelled dataset: the plain container the lab's loaders fill and training reads.

/// Examples as `f32` features in `[0, 1]` (row-major `[n, dims...]`) with class labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Human-readable name, e.g. `digits/train`.
    pub name: String,
    /// Shape of one example: `[784]`-like for flat vectors, `[1, 28, 28]` for images `[c, h, w]`.
    pub example_shape: Vec<usize>,
    /// Features, `n · prod(example_shape)` values.
    pub features: Vec<f32>,
    /// Labels in `0..classes`.
    pub labels: Vec<u8>,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True without examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per example.
    pub fn example_len(&self) -> usize {
        self.example_shape.iter().product()
    }

    /// Features of example `i`.
    pub fn example(&self, i: usize) -> &[f32] {
        let d = self.example_len();
        &self.features[i * d..(i + 1) * d]
    }

    /// The examples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize], name: impl Into<String>) -> Dataset {
        let d = self.example_len();
        let mut features = Vec::with_capacity(idx.len() * d);
        for &i in idx {
            features.extend_from_slice(self.example(i));
        }
        Dataset {
            name: name.into(),
            example_shape: self.example_shape.clone(),
            features,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes,
        }
    }

    /// The first `n` examples (all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx, format!("{}[..{}]", self.name, idx.len()))
    }
}

/// A train/test pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training examples.
    pub train: Dataset,
    /// Test examples.
    pub test: Dataset,
}
