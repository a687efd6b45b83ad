//! Helpers shared by the end-to-end tests of the `reglab` binary.
#![allow(dead_code)] // each test file uses a different subset

pub mod experiments;

use reglab_core::NamedTensor;
use std::path::Path;
use std::process::{Command, Output};

/// The binary, at one thread.
pub fn reglab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reglab"));
    c.env("RAYON_NUM_THREADS", "1");
    c
}

/// Run with `args`, wait, return the output.
pub fn run_args(args: &[&str]) -> Output {
    reglab().args(args).output().expect("run reglab")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Bad input: exit code 2, one line on stderr starting with `error:` and containing every one
/// of `want`, no panic.
pub fn assert_input_error_all(o: &Output, want: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {e}");
    assert!(e.starts_with("error: "), "{e}");
    for w in want {
        assert!(e.contains(w), "expected `{w}` in: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
}

/// [`assert_input_error_all`] with one expected fragment.
pub fn assert_input_error(o: &Output, want: &str) {
    assert_input_error_all(o, &[want]);
}

/// Write f32 tensors to a safetensors file through the library (no Python needed).
pub fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let t: Vec<NamedTensor> = tensors.iter().map(|(n, s, d)| NamedTensor::new(*n, s.clone(), d.clone())).collect();
    reglab_train::tensorfile::write(path, &t).unwrap();
}
