//! PNG images (`reglab denoise`, inverse problems): `reglab_inverse::io::decode_png`, the
//! byte-level form of `read_png`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = reglab_inverse::io::decode_png(data);
});
