//! The model spec (`--model`): `reglab_train::model::ModelSpec`'s `FromStr`, and `Display` of what parses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = text.parse::<reglab_train::model::ModelSpec>() {
        let _ = spec.to_string();
    }
});
