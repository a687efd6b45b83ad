//! `results.csv` of a run, read back by `reglab report --from`: `reglab_lab::results::from_csv`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = reglab_lab::results::from_csv(text);
});
