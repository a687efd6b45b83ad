//! The hidden activation of an MLP: ReLU, or an activation-shaping function of the catalog
//! (`soft-ash`, `hard-ash`; the math and its tests in [`reglab_regularizers::activation`]),
//! computed here with burn tensor ops so that autodiff differentiates it, through the row
//! statistics too.

use burn::tensor::{Tensor, activation};
use reglab_regularizers::activation::ash::{Ash, DEFAULT_ALPHA, DEFAULT_Z, Shape, VAR_FLOOR};
use std::fmt;
use std::str::FromStr;

/// An MLP's hidden activation, parsed from `relu`, `soft-ash`, `hard-ash`, with ASH options
/// `hard-ash:z=2.3:alpha=3`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Act {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// Soft or hard ASH ([`reglab_regularizers::activation::ash`]).
    Ash(Ash),
}

// `Ash` holds f64 options, validated finite on parsing, so equality is reflexive.
impl Eq for Act {}

impl Act {
    /// Apply to a batch of pre-activations `[B, n]`.
    pub fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Act::Relu => activation::relu(x),
            Act::Ash(a) => {
                let mu = x.clone().mean_dim(1);
                let centred = x.clone() - mu.clone();
                // σ = √max(var, floor): above the floor the gradient flows through σ; below it σ is
                // a constant (the math file's convention, where JAX's std would give NaN)
                let sigma = (centred.clone() * centred).mean_dim(1).clamp_min(VAR_FLOOR).sqrt();
                let theta = mu + sigma.mul_scalar(a.z);
                let u = (x.clone() - theta).mul_scalar(a.alpha);
                match a.shape {
                    Shape::Soft => x * activation::sigmoid(u),
                    // relu6(u + 3)/6 = clamp(u/6 + 1/2, 0, 1)
                    Shape::Hard => x.clamp(0.0, 2.0) * u.div_scalar(6.0).add_scalar(0.5).clamp(0.0, 1.0),
                }
            }
        }
    }
}

impl FromStr for Act {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or("").trim();
        let shape = match name {
            "relu" => {
                return match parts.next() {
                    None => Ok(Act::Relu),
                    Some(p) => Err(format!("activation `{s}`: relu takes no options, got `{p}`")),
                };
            }
            "soft-ash" => Shape::Soft,
            "hard-ash" => Shape::Hard,
            other => return Err(format!("unknown activation `{other}`; expected relu, soft-ash or hard-ash[:z=Z:alpha=A]")),
        };
        let mut a = Ash::new(shape);
        for p in parts {
            let (k, v) = p.split_once('=').ok_or_else(|| format!("activation `{s}`: `{p}` is not key=value"))?;
            let v: f64 = v.trim().parse().map_err(|_| format!("activation `{s}`: `{k}` must be a number, got `{v}`"))?;
            match k.trim() {
                "z" => a.z = v,
                "alpha" => a.alpha = v,
                other => return Err(format!("activation `{s}`: unknown option `{other}` (ASH takes z and alpha)")),
            }
        }
        a.validate().map_err(|e| format!("activation `{s}`: {e}"))?;
        Ok(Act::Ash(a))
    }
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::Relu => write!(f, "relu"),
            Act::Ash(a) => {
                write!(f, "{}", if a.shape == Shape::Soft { "soft-ash" } else { "hard-ash" })?;
                if a.z != DEFAULT_Z {
                    write!(f, ":z={}", a.z)?;
                }
                if a.alpha != DEFAULT_ALPHA {
                    write!(f, ":alpha={}", a.alpha)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn parse_print_and_reject() {
        assert_eq!("relu".parse::<Act>().unwrap(), Act::Relu);
        assert_eq!("hard-ash".parse::<Act>().unwrap(), Act::Ash(Ash::new(Shape::Hard)));
        for s in ["relu", "soft-ash", "hard-ash", "hard-ash:z=2.2:alpha=4", "soft-ash:alpha=2"] {
            assert_eq!(s.parse::<Act>().unwrap().to_string(), s);
        }
        assert!("gelu".parse::<Act>().unwrap_err().contains("unknown activation"));
        assert!("hard-ash:alpha=-1".parse::<Act>().unwrap_err().contains("alpha"));
        assert!("hard-ash:z=nan".parse::<Act>().unwrap_err().contains("finite"));
        assert!("hard-ash:beta=1".parse::<Act>().unwrap_err().contains("unknown option"));
        assert!("relu:z=1".parse::<Act>().is_err());
    }

    /// The burn version equals the math file's, value and autodiff gradient (`Σ w ⊙ y`), on a
    /// batch whose rows straddle every regime (below 0, on the gate's slope, clipped at 2).
    #[test]
    fn burn_matches_the_math_file_value_and_gradient() {
        let dev = crate::device::autodiff_device(crate::device::DeviceKind::Cpu).unwrap();
        let (b, n) = (3, 16);
        let x: Vec<f32> = reglab_core::testing::random_vec(b * n, 3.0, 5);
        let w: Vec<f32> = reglab_core::testing::random_vec(b * n, 1.0, 6);
        for a in [Ash { shape: Shape::Soft, z: 0.8, alpha: 3.0 }, Ash { shape: Shape::Hard, z: 0.5, alpha: 2.0 }, Ash::new(Shape::Hard)] {
            let xt: Tensor<2> = Tensor::from_data(TensorData::new(x.clone(), [b, n]), &dev).require_grad();
            let wt: Tensor<2> = Tensor::from_data(TensorData::new(w.clone(), [b, n]), &dev);
            let y = Act::Ash(a).apply(xt.clone());
            let yv: Vec<f32> = y.clone().into_data().try_to_vec::<f32>().unwrap();
            let grads = (y * wt).sum().backward();
            let gv: Vec<f32> = xt.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            let (mut y_ref, mut g_ref) = (vec![0.0; b * n], vec![0.0; b * n]);
            a.forward(&x64, n, &mut y_ref);
            a.backward(&x64, &w64, n, &mut g_ref);
            for k in 0..b * n {
                assert!((yv[k] as f64 - y_ref[k]).abs() < 1e-5, "{a:?} y[{k}]: {} vs {}", yv[k], y_ref[k]);
                assert!((gv[k] as f64 - g_ref[k]).abs() < 1e-4, "{a:?} ∂[{k}]: {} vs {}", gv[k], g_ref[k]);
            }
        }
    }
}
