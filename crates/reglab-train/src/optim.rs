//! Optimizers: burn's SGD (with momentum), Adam and AdamW, configured like PyTorch's.

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
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
}

fn default_momentum() -> f64 {
    0.9
}
fn default_wd() -> f64 {
    0.01
}

impl OptimSpec {
    /// A fresh optimizer.
    pub fn init(&self) -> ModuleOptimizer {
        match *self {
            OptimSpec::Sgd { momentum: 0.0 } => SgdConfig::new().init(),
            OptimSpec::Sgd { momentum } => SgdConfig::new().with_momentum(Some(MomentumConfig { momentum, dampening: 0.0, nesterov: false })).init(),
            OptimSpec::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
            OptimSpec::Adamw { weight_decay } => AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(weight_decay as f32).init(),
        }
    }

    /// Check the hyper-parameters.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            OptimSpec::Sgd { momentum } if !(0.0..1.0).contains(&momentum) => Err(format!("sgd momentum must be in [0, 1), got {momentum}")),
            OptimSpec::Adamw { weight_decay } if !(weight_decay >= 0.0 && weight_decay.is_finite()) => {
                Err(format!("adamw weight_decay must be finite and ≥ 0, got {weight_decay}"))
            }
            _ => Ok(()),
        }
    }
}

impl FromStr for OptimSpec {
    type Err = String;
    /// `sgd`, `sgd:0.9` (momentum), `adam`, `adamw`, `adamw:0.01` (weight decay).
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, arg) = s.split_once(':').map(|(a, b)| (a, Some(b))).unwrap_or((s, None));
        let num = |a: Option<&str>, d: f64| -> Result<f64, String> {
            a.map(|a| a.parse::<f64>().map_err(|_| format!("bad optimizer `{s}`: `{a}` is not a number"))).unwrap_or(Ok(d))
        };
        let o = match k {
            "sgd" => OptimSpec::Sgd { momentum: num(arg, default_momentum())? },
            "adam" if arg.is_none() => OptimSpec::Adam,
            "adamw" => OptimSpec::Adamw { weight_decay: num(arg, default_wd())? },
            _ => return Err(format!("unknown optimizer `{s}`; expected sgd[:MOMENTUM], adam, adamw[:WEIGHT_DECAY]")),
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
    }
}
