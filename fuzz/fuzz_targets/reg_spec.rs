//! `--reg` specs (`NAME=λ[:key=value,...]`), one per line: `reglab_core::spec::Spec::parse`, the
//! common options and `reglab_train::hook::registry::check` (every name `--reg` takes: step
//! hooks, then `reglab_regularizers::registry::check`, which builds the regularizer). Specs with
//! a `/` in an option are skipped: `cs-eig`'s `c=PATH` reads a file, and a device such as
//! `/dev/zero` would never end.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.lines() {
        let Ok(spec) = reglab_core::spec::Spec::parse(line) else { continue };
        if spec.options.values().any(|v| v.contains('/')) {
            continue;
        }
        let _ = spec.to_string();
        let _ = spec.common();
        let _ = reglab_train::hook::registry::check(&spec);
    }
});
