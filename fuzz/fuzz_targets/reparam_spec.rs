//! The reparametrization spec (`--reparam`): `reglab_train::reparam::ReparamSpec`'s `FromStr`, and `Display` of what parses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = text.parse::<reglab_train::reparam::ReparamSpec>() {
        let _ = spec.to_string();
    }
});
