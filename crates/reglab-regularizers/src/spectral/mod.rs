//! Spectral penalties: functions of the singular values.

#[allow(clippy::module_inception)]
pub mod spectral;
