//! Job checkpoints, as `reglab run --resume` reads them: `reglab_train::trainer::Checkpoint::parse`
//! (the bytes form of `Checkpoint::load`; fuzzing builds skip its checksum so that the checks
//! behind it are reached) and the runner's `tasks_done` metadata.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok((_, meta)) = reglab_train::trainer::Checkpoint::parse(data, Path::new("fuzz.safetensors")) else { return };
    let _ = meta.get("tasks_done").map(|t| t.parse::<usize>());
});
