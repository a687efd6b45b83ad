//! Optimizers: burn's SGD (with momentum), Adam, AdamW and Adagrad, configured like PyTorch's.

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdaGradConfig, AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use std::fmt;
use std::str::FromStr;

/// Which optimizer, with its own hyper-parameters (the learning rate is separate).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimSpec {
    /// SGD with heavy-ball momentum (PyTorch: `dampening=0`, `nesterov=False`).
    Sgd {
        /// Momentum coefficient (0: plain SGD).
        #[serde(default = "default_momentum")]
        momentum: f64,
    },
    /// Adam, β = (0.9, 0.999), ε = 1e-8 (PyTorch defaults).
    Adam,
    /// AdamW with decoupled weight decay (PyTorch default 0.01).
    Adamw {
        /// Decoupled weight decay.
        #[serde(default = "default_wd")]
        weight_decay: f64,
    },
    /// Adagrad: `θ ← θ − lr·g/(√(Σ_t g_t²) + ε)`, the sum per parameter from the first step
    /// (PyTorch's form, `initial_accumulator_value = 0`, `lr_decay = 0`).
    Adagrad {
        /// ε in the denominator (PyTorch default 1e-10).
        #[serde(default = "default_adagrad_eps")]
        eps: f64,
    },
}

fn default_momentum() -> f64 {
    0.9
}
fn default_wd() -> f64 {
    0.01
}
fn default_adagrad_eps() -> f64 {
    1e-10
}

impl OptimSpec {
    /// A fresh optimizer.
    pub fn init(&self) -> ModuleOptimizer {
        match *self {
            OptimSpec::Sgd { momentum: 0.0 } => SgdConfig::new().init(),
            OptimSpec::Sgd { momentum } => SgdConfig::new().with_momentum(Some(MomentumConfig { momentum, dampening: 0.0, nesterov: false })).init(),
            OptimSpec::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
            OptimSpec::Adamw { weight_decay } => AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(weight_decay as f32).init(),
            OptimSpec::Adagrad { eps } => AdaGradConfig::new().with_epsilon(eps as f32).init(),
        }
    }

    /// Check the hyper-parameters.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            OptimSpec::Sgd { momentum } if !(0.0..1.0).contains(&momentum) => Err(format!("sgd momentum must be in [0, 1), got {momentum}")),
            OptimSpec::Adamw { weight_decay } if !(weight_decay >= 0.0 && weight_decay.is_finite()) => {
                Err(format!("adamw weight_decay must be finite and ≥ 0, got {weight_decay}"))
            }
            OptimSpec::Adagrad { eps } if !(eps > 0.0 && eps.is_finite()) => Err(format!("adagrad eps must be finite and > 0, got {eps}")),
            _ => Ok(()),
        }
    }
}

impl FromStr for OptimSpec {
    type Err = String;
    /// `sgd`, `sgd:0.9` (momentum), `adam`, `adamw`, `adamw:0.01` (weight decay), `adagrad`,
    /// `adagrad:1e-10` (ε).
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, arg) = s.split_once(':').map(|(a, b)| (a, Some(b))).unwrap_or((s, None));
        let num = |a: Option<&str>, d: f64| -> Result<f64, String> {
            a.map(|a| a.parse::<f64>().map_err(|_| format!("bad optimizer `{s}`: `{a}` is not a number"))).unwrap_or(Ok(d))
        };
        let o = match k {
            "sgd" => OptimSpec::Sgd { momentum: num(arg, default_momentum())? },
            "adam" if arg.is_none() => OptimSpec::Adam,
            "adamw" => OptimSpec::Adamw { weight_decay: num(arg, default_wd())? },
            "adagrad" => OptimSpec::Adagrad { eps: num(arg, default_adagrad_eps())? },
            _ => return Err(format!("unknown optimizer `{s}`; expected sgd[:MOMENTUM], adam, adamw[:WEIGHT_DECAY], adagrad[:EPS]")),
        };
        o.validate()?;
        Ok(o)
    }
}

impl fmt::Display for OptimSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimSpec::Sgd { momentum } => write!(f, "sgd:{momentum}"),
            OptimSpec::Adam => write!(f, "adam"),
            OptimSpec::Adamw { weight_decay } => write!(f, "adamw:{weight_decay}"),
            OptimSpec::Adagrad { eps } => write!(f, "adagrad:{eps}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print_validate() {
        assert_eq!("adam".parse::<OptimSpec>().unwrap(), OptimSpec::Adam);
        assert_eq!("sgd".parse::<OptimSpec>().unwrap(), OptimSpec::Sgd { momentum: 0.9 });
        assert_eq!("sgd:0".parse::<OptimSpec>().unwrap().to_string(), "sgd:0");
        assert_eq!("adamw:0.1".parse::<OptimSpec>().unwrap(), OptimSpec::Adamw { weight_decay: 0.1 });
        assert!("sgd:1.5".parse::<OptimSpec>().is_err());
        assert!("adamw:-1".parse::<OptimSpec>().is_err());
        assert!("rmsprop".parse::<OptimSpec>().unwrap_err().contains("unknown optimizer"));
        assert_eq!("adagrad".parse::<OptimSpec>().unwrap(), OptimSpec::Adagrad { eps: 1e-10 });
        assert_eq!("adagrad:0.001".parse::<OptimSpec>().unwrap().to_string(), "adagrad:0.001");
        assert!("adagrad:0".parse::<OptimSpec>().is_err());
    }

    /// burn's Adagrad as configured here takes PyTorch's step: three steps on one parameter,
    /// against `θ ← θ − lr·g/(√Σg² + ε)` by hand.
    #[test]
    fn adagrad_takes_the_pytorch_step() {
        use burn::module::{Module, Param};
        use burn::optim::GradientsParams;
        use burn::tensor::{Tensor, TensorData};
        #[derive(Module, Debug)]
        struct One {
            w: Param<Tensor<1>>,
        }
        let dev = crate::device::autodiff_device(crate::device::DeviceKind::Cpu).unwrap();
        let mut m = One { w: Param::from_tensor(Tensor::from_data(TensorData::new(vec![1.0f32, -2.0], [2]), &dev)) };
        let (lr, eps) = (0.1, 1e-3);
        let mut opt = OptimSpec::Adagrad { eps }.init();
        let (mut w, mut acc) = ([1.0f64, -2.0], [0.0f64; 2]);
        for _ in 0..3 {
            // loss Σ w³/3: gradient w²
            let loss = m.w.val().powi_scalar(3).sum().div_scalar(3.0);
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            m = opt.step(lr, m, grads);
            for k in 0..2 {
                let g = w[k] * w[k];
                acc[k] += g * g;
                w[k] -= lr * g / (acc[k].sqrt() + eps);
            }
        }
        let got: Vec<f32> = m.w.val().into_data().try_to_vec::<f32>().unwrap();
        for k in 0..2 {
            assert!((got[k] as f64 - w[k]).abs() < 1e-5, "{k}: {} vs {}", got[k], w[k]);
        }
    }
}
