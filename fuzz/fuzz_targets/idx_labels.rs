//! IDX label files (plain or gzip): `reglab_lab::data::parse_idx_labels`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = reglab_lab::data::idx::parse_idx_labels(data, Path::new("fuzz-labels.idx"));
});
