//! Task streams: the sequence of tasks one network is trained on, without reset.
//!
//! - `permuted`: task t permutes the input pixels by a fixed random permutation (drawn from the
//!   seed and t), train and test sets alike; labels unchanged. Every task, the first included,
//!   is permuted.
//! - `random-label`: a fixed training subset; for each task the labels are drawn anew,
//!   uniformly over the classes, from the seed and t. The test set of a task is the same
//!   examples with the same labels, so its accuracy is the fit of the task in evaluation mode:
//!   the measure of pure trainability.
//! - `single`: one task, the data as it is.
//! - `split`: class-incremental learning (Split-MNIST with 5 tasks on 10 classes). Task t of T
//!   trains on the examples of classes ⌊(t − 1)C/T⌋ … ⌊tC/T⌋ − 1 (labels kept: one head over
//!   all C classes) and is tested on the whole test set, so that its accuracy measures every
//!   class seen so far and forgotten (after the last task: the class-incremental accuracy).
//!
//! With `[data] label_noise`, each task's training labels are then corrupted from the seed
//! ([`crate::label_noise`]); [`Stream::task_noisy`] returns the true ones beside them.

use super::config::StreamKind;
use rand::{Rng, SeedableRng};
use reglab_core::{Dataset, Split};

/// A stream over a base split.
pub struct Stream {
    kind: StreamKind,
    base: Split,
    noise: Option<crate::label_noise::LabelNoise>,
}

fn rng(seed: u64, task: usize, salt: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (task as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ salt)
}

impl Stream {
    /// A stream of `kind` over `base` (already cut to the configured subsets).
    pub fn new(kind: StreamKind, base: Split) -> Self {
        Self { kind, base, noise: None }
    }

    /// The same stream with label noise in every task's training set.
    pub fn with_noise(mut self, noise: Option<crate::label_noise::LabelNoise>) -> Self {
        self.noise = noise;
        self
    }

    /// The data of task `task` for `seed` with the label noise applied to its training set,
    /// and the true training labels when there is noise (the noise is drawn from the seed and
    /// the task).
    pub fn task_noisy(&self, seed: u64, task: usize) -> (Split, Option<Vec<u8>>) {
        let mut split = self.task(seed, task);
        match &self.noise {
            None => (split, None),
            Some(noise) => {
                let noise_seed = seed ^ (task as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
                let noisy = noise.apply(&split.train.labels, split.train.classes, noise_seed);
                let clean = std::mem::replace(&mut split.train.labels, noisy);
                split.train.name = format!("{}/noise{}", split.train.name, noise.rate);
                (split, Some(clean))
            }
        }
    }

    /// Check the stream against its data: a `split` stream needs at least one class per task.
    pub fn check(&self) -> Result<(), String> {
        let classes = self.base.train.classes;
        if let StreamKind::Split { tasks } = self.kind
            && tasks > classes
        {
            return Err(format!("`stream.kind` = \"split\" with {tasks} tasks: the data have only {classes} classes (at most one task per class)"));
        }
        Ok(())
    }

    /// The data of task `task` (1-based) for `seed`.
    pub fn task(&self, seed: u64, task: usize) -> Split {
        match self.kind {
            StreamKind::Single => self.base.clone(),
            StreamKind::Split { tasks } => {
                let c = self.base.train.classes;
                let (lo, hi) = ((task - 1) * c / tasks, task * c / tasks);
                let idx: Vec<usize> = (0..self.base.train.len()).filter(|&i| (lo..hi).contains(&(self.base.train.labels[i] as usize))).collect();
                let train = self.base.train.subset(&idx, format!("{}/classes{lo}-{}", self.base.train.name, hi - 1));
                Split { train, test: self.base.test.clone() }
            }
            StreamKind::Permuted => {
                let d = self.base.train.example_len();
                let perm = crate::data::seeded_permutation(d, seed.wrapping_mul(31) ^ (task as u64).wrapping_mul(0x5851_F42D_4C95_7F2D) ^ 0x9e3779b9);
                let permute = |ds: &Dataset, name: String| {
                    let mut features = Vec::with_capacity(ds.features.len());
                    for i in 0..ds.len() {
                        let x = ds.example(i);
                        features.extend(perm.iter().map(|&p| x[p]));
                    }
                    Dataset { name, features, ..ds.clone() }
                };
                Split {
                    train: permute(&self.base.train, format!("{}/perm{task}", self.base.train.name)),
                    test: permute(&self.base.test, format!("{}/perm{task}", self.base.test.name)),
                }
            }
            StreamKind::RandomLabel => {
                let mut r = rng(seed, task, 0x1abe1);
                let classes = self.base.train.classes;
                let labels: Vec<u8> = (0..self.base.train.len()).map(|_| r.random_range(0..classes) as u8).collect();
                let train = Dataset { name: format!("{}/random-labels{task}", self.base.train.name), labels, ..self.base.train.clone() };
                Split { test: train.clone(), train }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Split {
        let ds = |n: usize, name: &str| Dataset {
            name: name.into(),
            example_shape: vec![6],
            features: (0..n * 6).map(|i| i as f32).collect(),
            labels: (0..n).map(|i| (i % 3) as u8).collect(),
            classes: 3,
        };
        Split { train: ds(20, "tr"), test: ds(5, "te") }
    }

    #[test]
    fn permuted_tasks_permute_train_and_test_alike_and_differ_by_task() {
        let s = Stream::new(StreamKind::Permuted, base());
        let t1 = s.task(0, 1);
        let t2 = s.task(0, 2);
        assert_eq!(t1, s.task(0, 1), "deterministic");
        assert_ne!(t1.train.features, t2.train.features);
        assert_eq!(t1.train.labels, base().train.labels);
        // the same permutation on both sides: each example is a permutation of the original
        let mut a = t1.test.example(2).to_vec();
        a.sort_by(f32::total_cmp);
        assert_eq!(a, base().test.example(2));
        // test example j of task 1 is the original permuted like train example j
        let perm: Vec<usize> = t1.train.example(0).iter().map(|&v| v as usize).collect();
        let want: Vec<f32> = perm.iter().map(|&p| base().test.example(3)[p]).collect();
        assert_eq!(t1.test.example(3), &want[..]);
    }

    #[test]
    fn split_tasks_partition_the_classes_and_test_on_all_of_them() {
        // 3 classes in 2 tasks: classes {0} then {1, 2}
        let s = Stream::new(StreamKind::Split { tasks: 2 }, base());
        let (t1, t2) = (s.task(0, 1), s.task(0, 2));
        assert!(t1.train.labels.iter().all(|&y| y == 0) && t1.train.len() == 7);
        assert!(t2.train.labels.iter().all(|&y| y == 1 || y == 2) && t2.train.len() == 13);
        assert_eq!((t1.test.clone(), t2.test.clone()), (base().test, base().test));
        // the examples keep their features
        assert_eq!(t2.train.example(0), base().train.example(1));
        s.check().unwrap();
        let e = Stream::new(StreamKind::Split { tasks: 4 }, base()).check().unwrap_err();
        assert!(e.contains("only 3 classes"), "{e}");
    }

    #[test]
    fn random_labels_change_per_task_and_test_equals_train() {
        let s = Stream::new(StreamKind::RandomLabel, base());
        let t1 = s.task(0, 1);
        let t2 = s.task(0, 2);
        assert_eq!(t1.train, t1.test);
        assert_ne!(t1.train.labels, t2.train.labels);
        assert_eq!(t1.train.features, base().train.features);
        assert!(t1.train.labels.iter().all(|&l| l < 3));
        assert_ne!(t1.train.labels, s.task(1, 1).train.labels, "seed matters");
    }
}
