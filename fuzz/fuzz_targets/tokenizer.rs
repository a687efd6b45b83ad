//! A Hugging Face `tokenizer.json`, as the SST-2 data and `reglab embed` load it:
//! `reglab_lab::text::tokenizer::WordPiece::from_bytes`, then one sentence encoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = reglab_lab::text::tokenizer::WordPiece::from_bytes(data, Path::new("tokenizer.json"), 16) else { return };
    let _ = t.encode("A gripping, un-American thriller: 10/10 — naïve café.");
});
