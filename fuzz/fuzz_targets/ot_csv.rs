//! `reglab ot` inputs: point clouds, weights and labels (`reglab_lab::ot::parse_table`,
//! `parse_weights`, `parse_labels`). The files are read as UTF-8 text, as `ot::load` does.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = reglab_lab::ot::parse_table(text, "points.csv");
    let _ = reglab_lab::ot::parse_weights(text, "weights.csv");
    let _ = reglab_lab::ot::parse_labels(text, "labels.csv");
});
