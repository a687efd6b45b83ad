//! Label noise in a training set, drawn from the run's seed: `label_noise = η` in `[data]`.
//!
//! - **symmetric** (ELR's and Co-teaching's definition, as in the official ELR data loader):
//!   exactly `round(η·n)` of the `n` training examples, chosen by a seeded permutation, get a
//!   label drawn uniformly from all `C` classes. A drawn label equals the true one with
//!   probability `1/C`, so the fraction of labels that actually change is about `η·(1 − 1/C)`
//!   (0.36 for η = 0.4, C = 10).
//! - **asymmetric** (class-dependent flips, Patrini et al., CVPR 2017): for each source class
//!   `a` of the flip map `a>b`, exactly `round(η·n_a)` of its `n_a` examples, chosen by a seeded
//!   permutation, get label `b`. The default map is the MNIST one, `2>7,3>8,5>6,6>5,7>1`
//!   (visually similar digits).
//!
//! Only the training set is corrupted; the test set keeps its true labels, so test accuracy is
//! the clean accuracy. The true training labels are kept beside the noisy ones so that the
//! probes can report how many noisy labels the network has fitted
//! ([`crate::probes::noise_fit`]).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::fmt;
use std::str::FromStr;

/// How the noisy labels are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseKind {
    /// A uniformly random label for a seeded `round(η·n)` of the examples.
    Symmetric,
    /// Class flips `a → b`.
    Asymmetric {
        /// The flip map: `(a, b)` pairs, each source class at most once.
        flips: Vec<(u8, u8)>,
    },
}

/// The MNIST flip map of Patrini et al.: 2→7, 3→8, 5↔6, 7→1.
pub const MNIST_FLIPS: &str = "2>7,3>8,5>6,6>5,7>1";

/// Parse a flip map `a>b,c>d,…`.
pub fn parse_flips(s: &str) -> Result<Vec<(u8, u8)>, String> {
    let mut out: Vec<(u8, u8)> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('>').ok_or_else(|| format!("flip `{part}`: expected SOURCE>TARGET, e.g. 2>7"))?;
        let num = |v: &str| v.trim().parse::<u8>().map_err(|_| format!("flip `{part}`: `{v}` is not a class number"));
        let (a, b) = (num(a)?, num(b)?);
        if a == b {
            return Err(format!("flip `{part}` maps a class to itself"));
        }
        if out.iter().any(|&(x, _)| x == a) {
            return Err(format!("class {a} is flipped twice"));
        }
        out.push((a, b));
    }
    if out.is_empty() {
        return Err("an empty flip map".into());
    }
    Ok(out)
}

impl FromStr for NoiseKind {
    type Err = String;
    /// `symmetric`, `asymmetric` (the MNIST map) or `asymmetric:2>7,3>8`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "symmetric" => Ok(NoiseKind::Symmetric),
            None if s == "asymmetric" => Ok(NoiseKind::Asymmetric { flips: parse_flips(MNIST_FLIPS)? }),
            Some(("asymmetric", map)) => Ok(NoiseKind::Asymmetric { flips: parse_flips(map)? }),
            _ => Err(format!("label noise kind `{s}`: expected symmetric, asymmetric or asymmetric:A>B,C>D,…")),
        }
    }
}

impl fmt::Display for NoiseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoiseKind::Symmetric => write!(f, "symmetric"),
            NoiseKind::Asymmetric { flips } => {
                let m: Vec<String> = flips.iter().map(|(a, b)| format!("{a}>{b}")).collect();
                write!(f, "asymmetric:{}", m.join(","))
            }
        }
    }
}

/// Label noise of rate `rate` and kind `kind`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelNoise {
    /// `η ∈ [0, 1]`.
    pub rate: f64,
    /// Symmetric or class flips.
    pub kind: NoiseKind,
}

impl LabelNoise {
    /// Check `η` and the flip map against `classes`.
    pub fn validate(&self, classes: usize) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!("label_noise = {}: expected a rate in [0, 1]", self.rate));
        }
        if let NoiseKind::Asymmetric { flips } = &self.kind
            && let Some(&(a, b)) = flips.iter().find(|&&(a, b)| a as usize >= classes || b as usize >= classes)
        {
            return Err(format!("label flip {a}>{b}: the data has {classes} classes (0..{})", classes - 1));
        }
        Ok(())
    }

    /// The noisy labels of `clean` (`classes` classes) for `seed`.
    pub fn apply(&self, clean: &[u8], classes: usize, seed: u64) -> Vec<u8> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0x006e_6f69_7365);
        let mut noisy = clean.to_vec();
        match &self.kind {
            NoiseKind::Symmetric => {
                let mut order: Vec<usize> = (0..clean.len()).collect();
                order.shuffle(&mut rng);
                let k = (self.rate * clean.len() as f64).round() as usize;
                for &i in &order[..k.min(order.len())] {
                    noisy[i] = rng.random_range(0..classes) as u8;
                }
            }
            NoiseKind::Asymmetric { flips } => {
                for &(a, b) in flips {
                    let mut members: Vec<usize> = (0..clean.len()).filter(|&i| clean[i] == a).collect();
                    members.shuffle(&mut rng);
                    let k = (self.rate * members.len() as f64).round() as usize;
                    for &i in &members[..k.min(members.len())] {
                        noisy[i] = b;
                    }
                }
            }
        }
        noisy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize, classes: usize) -> Vec<u8> {
        (0..n).map(|i| (i % classes) as u8).collect()
    }

    #[test]
    fn symmetric_noise_redraws_exactly_round_eta_n_labels_uniformly() {
        let clean = labels(10_000, 10);
        let noise = LabelNoise { rate: 0.4, kind: NoiseKind::Symmetric };
        let noisy = noise.apply(&clean, 10, 7);
        let changed = clean.iter().zip(&noisy).filter(|(a, b)| a != b).count() as f64 / 1e4;
        // 4,000 redrawn, each kept with probability 1/10: ≈ 0.36 changed (sd ≈ 0.002)
        assert!((changed - 0.36).abs() < 0.01, "{changed}");
        let mut counts = [0usize; 10];
        noisy.iter().for_each(|&l| counts[l as usize] += 1);
        assert!(counts.iter().all(|&c| (900..1100).contains(&c)), "{counts:?}");
        // deterministic per seed, different across seeds
        assert_eq!(noisy, noise.apply(&clean, 10, 7));
        assert_ne!(noisy, noise.apply(&clean, 10, 8));
        // η = 0 changes nothing; η = 1 redraws all
        assert_eq!(LabelNoise { rate: 0.0, kind: NoiseKind::Symmetric }.apply(&clean, 10, 7), clean);
        let all = LabelNoise { rate: 1.0, kind: NoiseKind::Symmetric }.apply(&clean, 10, 7);
        let kept = clean.iter().zip(&all).filter(|(a, b)| a == b).count();
        assert!((800..1200).contains(&kept), "{kept}");
    }

    #[test]
    fn asymmetric_noise_flips_exactly_round_eta_n_a_of_each_source_class() {
        let clean = labels(1000, 10); // 100 per class
        let noise = LabelNoise { rate: 0.45, kind: "asymmetric".parse().unwrap() };
        let noisy = noise.apply(&clean, 10, 3);
        for (a, b) in [(2u8, 7u8), (3, 8), (5, 6), (6, 5), (7, 1)] {
            let flipped = clean.iter().zip(&noisy).filter(|&(&c, &n)| c == a && n == b).count();
            assert_eq!(flipped, 45, "{a}>{b}");
        }
        for c in [0u8, 1, 4, 8, 9] {
            assert!(clean.iter().zip(&noisy).all(|(&x, &y)| x != c || y == c), "class {c} untouched");
        }
    }

    #[test]
    fn kinds_parse_print_and_validate() {
        let k: NoiseKind = "asymmetric:1>2, 3>4".parse().unwrap();
        assert_eq!(k.to_string(), "asymmetric:1>2,3>4");
        assert_eq!("symmetric".parse::<NoiseKind>().unwrap(), NoiseKind::Symmetric);
        assert_eq!("asymmetric".parse::<NoiseKind>().unwrap().to_string(), "asymmetric:2>7,3>8,5>6,6>5,7>1");
        for (bad, why) in [
            ("uniform", "expected symmetric"),
            ("asymmetric:2>2", "itself"),
            ("asymmetric:2>7,2>8", "twice"),
            ("asymmetric:x>1", "not a class"),
            ("asymmetric:", "empty"),
        ] {
            assert!(bad.parse::<NoiseKind>().unwrap_err().contains(why), "{bad}");
        }
        assert!(LabelNoise { rate: 1.5, kind: NoiseKind::Symmetric }.validate(10).unwrap_err().contains("[0, 1]"));
        assert!(LabelNoise { rate: 0.4, kind: "asymmetric:2>12".parse().unwrap() }.validate(10).unwrap_err().contains("10 classes"));
    }
}
