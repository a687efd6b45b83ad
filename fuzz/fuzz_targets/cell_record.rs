//! The CBOR cell files of a shard (`reglab run --cells … --out SHARD`), as `reglab report --from
//! SHARD` reads them: `reglab_lab::kind::cells::parse_record`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = reglab_lab::kind::cells::parse_record(data, Path::new("fuzz.cbor"));
});
