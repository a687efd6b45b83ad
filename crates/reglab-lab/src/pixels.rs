//! `[data] pixels`: destroy the spatial structure of images while keeping their values (Zhang,
//! Bengio, Hardt, Recht & Vinyals, "Understanding deep learning requires rethinking
//! generalization", ICLR 2017, §2: "shuffled pixels" and "random pixels"; catalog #111).
//!
//! - `shuffled`: one random permutation of the pixel positions, drawn from `pixel_seed`, applied
//!   to every image of the training and the test set (a network can still generalise: the
//!   permutation is a fixed change of basis);
//! - `random`: a different permutation for every image (no structure is left to learn from).
//!
//! Every value of an image is kept (the permutation acts on positions); labels are untouched.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use reglab_core::dataset::{Dataset, Split};
use std::str::FromStr;

/// How the pixels are reordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    /// One permutation for every image.
    Shuffled,
    /// A permutation per image.
    Random,
}

impl FromStr for PixelOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "shuffled" => Ok(PixelOrder::Shuffled),
            "random" => Ok(PixelOrder::Random),
            _ => Err(format!("\"{s}\": expected \"shuffled\" (one permutation for all images) or \"random\" (one per image)")),
        }
    }
}

fn permute(d: &mut Dataset, perm_of: &mut dyn FnMut() -> Vec<usize>) {
    let len = d.example_len();
    let mut buf = vec![0.0f32; len];
    for x in d.features.chunks_mut(len) {
        let perm = perm_of();
        for (b, &j) in buf.iter_mut().zip(&perm) {
            *b = x[j];
        }
        x.copy_from_slice(&buf);
    }
}

/// Reorder the pixels of both sets of `split` by `order`, drawn from `seed` (the same seed,
/// the same images).
pub fn apply(split: &mut Split, order: PixelOrder, seed: u64) {
    let len = split.train.example_len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = move || {
        let mut p: Vec<usize> = (0..len).collect();
        p.shuffle(&mut rng);
        p
    };
    match order {
        PixelOrder::Shuffled => {
            let p = draw();
            permute(&mut split.train, &mut || p.clone());
            permute(&mut split.test, &mut || p.clone());
        }
        PixelOrder::Random => {
            permute(&mut split.train, &mut draw);
            permute(&mut split.test, &mut draw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split() -> Split {
        let ds = |name: &str, n: usize, off: f32| Dataset {
            name: name.into(),
            example_shape: vec![1, 3, 3],
            features: (0..n * 9).map(|i| off + i as f32).collect(),
            labels: (0..n as u8).collect(),
            classes: 10,
        };
        Split { train: ds("train", 4, 0.0), test: ds("test", 2, 1000.0) }
    }

    /// The permutation that maps `orig` to `new` (values are distinct).
    fn perm(orig: &[f32], new: &[f32]) -> Vec<usize> {
        new.iter().map(|v| orig.iter().position(|o| o == v).unwrap()).collect()
    }

    #[test]
    fn shuffled_applies_one_permutation_to_every_image_of_both_sets() {
        let (orig, mut s) = (split(), split());
        apply(&mut s, PixelOrder::Shuffled, 3);
        let p0 = perm(orig.train.example(0), s.train.example(0));
        assert_ne!(p0, (0..9).collect::<Vec<_>>(), "the pixels moved");
        for (o, n) in [(&orig.train, &s.train), (&orig.test, &s.test)] {
            for i in 0..o.len() {
                assert_eq!(perm(o.example(i), n.example(i)), p0, "{} image {i}", o.name);
            }
        }
        assert_eq!(s.train.labels, orig.train.labels);
        let mut again = split();
        apply(&mut again, PixelOrder::Shuffled, 3);
        assert_eq!(again, s);
    }

    #[test]
    fn random_draws_a_permutation_per_image_and_keeps_the_values() {
        let (orig, mut s) = (split(), split());
        apply(&mut s, PixelOrder::Random, 3);
        let perms: Vec<Vec<usize>> = (0..4).map(|i| perm(orig.train.example(i), s.train.example(i))).collect();
        assert!(perms.windows(2).any(|w| w[0] != w[1]), "{perms:?}");
        for p in &perms {
            let mut q = p.clone();
            q.sort();
            assert_eq!(q, (0..9).collect::<Vec<_>>());
        }
        assert!("columns".parse::<PixelOrder>().unwrap_err().contains("shuffled"));
    }
}
