//! safetensors checkpoints, as `reglab inspect` reads them: `reglab_train::tensorfile::parse`
//! (the byte-level form of `tensorfile::read`) and the probes of every tensor.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(tensors) = reglab_train::tensorfile::parse(data, Path::new("fuzz.safetensors")) else { return };
    let _ = reglab_core::probe::probe_weights(&tensors, Some(&tensors));
});
