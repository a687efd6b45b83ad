//! Where tensors live: burn's pure-Rust `flex` CPU backend, or a GPU through burn's Vulkan
//! backend when reglab is built with the `gpu` feature.

use burn::tensor::Device;
use std::str::FromStr;

/// A device choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// burn `flex` (CPU).
    #[default]
    Cpu,
    /// burn `vulkan` (needs the `gpu` feature and a Vulkan adapter).
    Gpu,
}

impl FromStr for DeviceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "gpu" | "vulkan" => Ok(DeviceKind::Gpu),
            _ => Err(format!("unknown device `{s}`; expected cpu or gpu")),
        }
    }
}

/// The autodiff device for `kind`, or a clear error when it cannot be had.
pub fn autodiff_device(kind: DeviceKind) -> Result<Device, String> {
    match kind {
        DeviceKind::Cpu => Ok(Device::flex().autodiff()),
        DeviceKind::Gpu => gpu_device().map(|d| d.autodiff()),
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_device() -> Result<Device, String> {
    Err("this reglab was built without GPU support; rebuild with `--features gpu` (burn's Vulkan backend)".into())
}

#[cfg(feature = "gpu")]
fn gpu_device() -> Result<Device, String> {
    use burn::tensor::{DeviceKind as Kind, Tensor};
    // burn panics at the first use of a Vulkan device when there is no adapter: probe it once
    // with a tiny computation, silencing the panic message, and turn a failure into an error.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(|| {
        let d = Device::vulkan(Kind::DefaultDevice);
        let t = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &d);
        let s: f32 = t.sum().into_scalar();
        (d, s)
    });
    std::panic::set_hook(hook);
    match probe {
        Ok((d, s)) if (s - 6.0).abs() < 1e-6 => Ok(d),
        Ok((_, s)) => Err(format!("the Vulkan device computed 1+2+3 = {s}; refusing to train on it")),
        Err(_) => Err("no usable Vulkan GPU adapter found (is a Vulkan driver and loader installed?); use --device cpu".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_cpu() {
        assert_eq!("cpu".parse::<DeviceKind>().unwrap(), DeviceKind::Cpu);
        assert!("tpu".parse::<DeviceKind>().unwrap_err().contains("unknown device"));
        assert!(autodiff_device(DeviceKind::Cpu).unwrap().is_autodiff());
    }

    #[cfg(not(feature = "gpu"))]
    #[test]
    fn gpu_without_the_feature_is_a_clear_error() {
        let e = autodiff_device(DeviceKind::Gpu).unwrap_err();
        assert!(e.contains("--features gpu"), "{e}");
    }
}
