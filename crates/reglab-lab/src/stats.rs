//! Mean and sample standard deviation over seeds (or replicates), as every summary reports them.

use serde::{Deserialize, Serialize};

/// Mean and sample standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1; 0 for one value).
    pub std: f64,
}

impl MeanStd {
    /// Of `v` (NaN for none).
    pub fn of(v: &[f64]) -> Self {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = if v.len() > 1 { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
        Self { mean, std }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_std_and_one_value() {
        let m = MeanStd::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.mean, 2.5);
        assert!((m.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(MeanStd::of(&[7.0]), MeanStd { mean: 7.0, std: 0.0 });
        assert!(MeanStd::of(&[]).mean.is_nan());
    }
}
