//! Experiment files of every kind, as `reglab plan` reads them: the kind from the text
//! (`reglab_lab::kinds::of_text`), then the kind's `prepare` (parse and check), its work and
//! its cells (`reglab_lab::kind::cells::plan`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(kind) = reglab_lab::kinds::of_text(text, &[]) else { return };
    let Ok(prepared) = kind.prepare(text, &[]) else { return };
    let _ = prepared.work();
    let _ = reglab_lab::kind::cells::plan(kind.name(), prepared.as_ref());
});
