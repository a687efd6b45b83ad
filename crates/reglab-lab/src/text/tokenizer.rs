//! A Hugging Face `tokenizer.json` (WordPiece for BERT: lower-casing and accent stripping,
//! splitting on whitespace and punctuation, greedy longest-match word pieces, `[CLS] … [SEP]`)
//! through the `tokenizers` crate, set up as sentence-transformers uses it: no padding (batches
//! are padded by the caller to their longest sequence) and truncation to `max_length` tokens,
//! special tokens included.

use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

/// A loaded tokenizer.
pub struct WordPiece {
    inner: Tokenizer,
    path: PathBuf,
    max_length: usize,
    pad_id: u32,
    vocab_size: usize,
}

impl WordPiece {
    /// Load `path` (a `tokenizer.json`), truncating to `max_length` tokens (≥ 2: `[CLS]` and
    /// `[SEP]`). Its padding settings are turned off. Errors name the file.
    pub fn load(path: &Path, max_length: usize) -> Result<Self, String> {
        if !path.is_file() {
            return Err(format!("{}: no such file", path.display()));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_bytes(&bytes, path, max_length)
    }

    /// [`WordPiece::load`] of the bytes of the file `path` (named in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path, max_length: usize) -> Result<Self, String> {
        if max_length < 2 {
            return Err(format!("max length {max_length}: expected ≥ 2 ([CLS] and [SEP])"));
        }
        let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        // Checked here first: the tokenizers crate (0.22) panics instead of returning an error
        // on some malformed files (a syntax error inside `decoder`, found by fuzzing), and only
        // WordPiece models are read as BERT's.
        let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(&format!("not JSON: {e}")))?;
        match doc.get("model").and_then(|m| m.get("type")).and_then(|t| t.as_str()) {
            Some("WordPiece") => {}
            Some(other) => return Err(bad(&format!("a `{other}` model; expected a WordPiece (BERT) tokenizer"))),
            None => return Err(bad(&"no `model.type`: not a tokenizer.json")),
        }
        if let Some(p) = doc.get("post_processor") {
            check_templates(p).map_err(|e| bad(&format!("`post_processor`: {e}")))?;
        }
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| bad(&e))?;
        inner.with_padding(None);
        inner.with_truncation(Some(TruncationParams { max_length, ..Default::default() })).map_err(|e| bad(&e))?;
        let pad_id = inner.token_to_id("[PAD]").ok_or_else(|| bad(&"no [PAD] token in the vocabulary"))?;
        let vocab_size = inner.get_vocab_size(true);
        Ok(Self { inner, path: path.to_path_buf(), max_length, pad_id, vocab_size })
    }

    /// The token ids of `text`, `[CLS]` and `[SEP]` included, truncated to the max length. An
    /// empty (or whitespace-only) text is an error.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        if text.trim().is_empty() {
            return Err("an empty sentence".into());
        }
        let enc = self.inner.encode(text, true).map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The padding token's id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Tokens in the vocabulary (added tokens included).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The truncation length.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

/// A template post-processor (alone or in a sequence) names only special tokens it defines:
/// tokenizers 0.22 reads one that does not and then panics on the first encode (a fuzzing
/// finding). Checked by shape, not by the `type` key, which the crate does not need to
/// recognise the object (a second finding: `"typg": "TemplateProcessing"`).
fn check_templates(p: &serde_json::Value) -> Result<(), String> {
    for q in p.get("processors").and_then(|q| q.as_array()).map(Vec::as_slice).unwrap_or_default() {
        check_templates(q)?;
    }
    let defined = p.get("special_tokens").and_then(|t| t.as_object());
    for key in ["single", "pair"] {
        for piece in p.get(key).and_then(|t| t.as_array()).map(Vec::as_slice).unwrap_or_default() {
            if let Some(id) = piece.get("SpecialToken").and_then(|t| t.get("id")).and_then(|t| t.as_str())
                && !defined.is_some_and(|d| d.contains_key(id))
            {
                return Err(format!("the `{key}` template uses the special token {id:?}, which `special_tokens` does not define"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `$REGLAB_DATA/minilm/tokenizer.json` (None without it, except in CI).
    fn tokenizer_json() -> Option<PathBuf> {
        reglab_core::testing::shared_data("minilm/tokenizer.json")
    }

    #[test]
    fn token_ids_equal_the_reference_tokenizer() {
        let Some(path) = tokenizer_json() else { return };
        let tok = WordPiece::load(&path, 256).unwrap();
        assert_eq!((tok.pad_id(), tok.vocab_size(), tok.max_length()), (0, 30522, 256));
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../reglab-train/tests/fixtures/minilm_reference.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sentences = v["sentences"].as_array().unwrap();
        assert!(sentences.len() >= 20);
        for s in sentences {
            let want: Vec<u32> = s["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            assert_eq!(tok.encode(s["text"].as_str().unwrap()).unwrap(), want, "{:?}", s["text"]);
        }
        // truncation keeps [SEP]; the file's own padding (fixed 128) is off
        let long = "word ".repeat(400);
        let ids = tok.encode(&long).unwrap();
        assert_eq!((ids.len(), ids[0], ids[255]), (256, 101, 102));
        assert_eq!(tok.encode("a").unwrap(), vec![101, 1037, 102]);
        let short = WordPiece::load(&path, 4).unwrap().encode("one two three four").unwrap();
        assert_eq!(short.len(), 4);
    }

    #[test]
    fn bad_input_is_an_error_naming_what() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("tokenizer.json");
        assert!(WordPiece::load(&missing, 256).err().unwrap().contains("no such file"));
        std::fs::write(&missing, "{\"version\": ").unwrap();
        assert!(WordPiece::load(&missing, 256).err().unwrap().contains("tokenizer.json"));
        let Some(path) = tokenizer_json() else { return };
        assert!(WordPiece::load(&path, 1).err().unwrap().contains("max length 1"));
        let tok = WordPiece::load(&path, 256).unwrap();
        assert!(tok.encode("").unwrap_err().contains("empty"));
        assert!(tok.encode(" \t ").unwrap_err().contains("empty"));
    }

    /// The fuzzer's input (4 KB, not minimized): a control character in a string inside
    /// `decoder`, on which `tokenizers::Tokenizer::from_bytes` panics instead of returning an
    /// error. And the model types that are not BERT's.
    #[test]
    fn fuzz_malformed_decoder_is_an_error_not_a_panic() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz-tokenizer-decoder-panic.json");
        let e = WordPiece::from_bytes(bytes, Path::new("t/tokenizer.json"), 16).err().unwrap();
        assert!(e.starts_with("t/tokenizer.json: not JSON: control character"), "{e}");
        let bpe = br#"{"model": {"type": "BPE", "vocab": {}, "merges": []}}"#;
        let e = WordPiece::from_bytes(bpe, Path::new("t.json"), 16).err().unwrap();
        assert!(e.contains("a `BPE` model; expected a WordPiece"), "{e}");
        let e = WordPiece::from_bytes(b"[1, 2]", Path::new("t.json"), 16).err().unwrap();
        assert!(e.contains("no `model.type`"), "{e}");
    }

    /// The fuzzer's second input: the template's `[CLS]` renamed `[CLSU`, which `special_tokens`
    /// does not define; tokenizers 0.22 reads the file and panics on the first encode.
    #[test]
    fn fuzz_undefined_template_token_is_an_error_not_a_panic() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz-tokenizer-template-token.json");
        let e = WordPiece::from_bytes(bytes, Path::new("t/tokenizer.json"), 16).err().unwrap();
        assert!(e.contains("`post_processor`: the `single` template uses the special token \"[CLSU\""), "{e}");
        // the same file with the template fixed loads and encodes
        let fixed = std::str::from_utf8(bytes).unwrap().replacen("\"[CLSU\"", "\"[CLS]\"", 1);
        let tok = WordPiece::from_bytes(fixed.as_bytes(), Path::new("t.json"), 16).unwrap();
        assert_eq!(tok.encode("the").unwrap().first(), Some(&101));
        // the third: `"typg"` for `"type"` and the `[CLS]` entry of `special_tokens` renamed `[]`
        let bytes = include_bytes!("../../tests/fixtures/fuzz-tokenizer-template-untyped.json");
        let e = WordPiece::from_bytes(bytes, Path::new("t/tokenizer.json"), 16).err().unwrap();
        assert!(e.contains("the `single` template uses the special token \"[CLS]\""), "{e}");
    }
}
