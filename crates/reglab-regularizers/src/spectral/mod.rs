//! Spectral penalties: functions of the singular values.
