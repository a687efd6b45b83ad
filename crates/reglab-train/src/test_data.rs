//! Shared by the crate's unit tests: a small separable data set and a trainer for it.

use crate::trainer::{TrainConfig, Trainer};
use reglab_core::Dataset;

/// Three Gaussian classes in 8 dimensions (each class raises every third feature):
/// linearly separable, quick to learn.
pub(crate) fn blobs(n: usize, seed: u64) -> Dataset {
    let x = reglab_core::testing::random_vec(n * 8, 0.3, seed);
    let mut features = Vec::with_capacity(n * 8);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = (i % 3) as u8;
        for j in 0..8 {
            let centre = if j % 3 == c as usize { 0.8 } else { 0.1 };
            features.push(centre + x[i * 8 + j]);
        }
        labels.push(c);
    }
    Dataset { name: "blobs".into(), example_shape: vec![8], features, labels, classes: 3 }
}

/// A trainer for [`blobs`] on the CPU with autodiff (1,000 planned steps for schedules).
pub(crate) fn blob_trainer(c: &TrainConfig) -> Trainer {
    let dev = burn::tensor::Device::flex().autodiff();
    Trainer::new(c, &[8], 3, &dev, None, 1000).unwrap()
}
