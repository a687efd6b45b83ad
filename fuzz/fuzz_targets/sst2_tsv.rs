//! SST-2 `text<TAB>label` files (plain or gzip): `reglab_lab::data::sst2::parse_rows`, all rows
//! and the first two of the fixed permutation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = reglab_lab::data::sst2::parse_rows(data, Path::new("fuzz.tsv"), None);
    let _ = reglab_lab::data::sst2::parse_rows(data, Path::new("fuzz.tsv"), Some(2));
});
