//! The digits CSV (plain or gzip): `reglab_lab::data::digits::parse_digits_csv`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = reglab_lab::data::digits::parse_digits_csv(data, Path::new("fuzz-digits.csv"));
});
