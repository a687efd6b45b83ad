//! `reglab embed`: the sentence embeddings of a text file (one sentence per line) with a BERT
//! sentence encoder folder (all-MiniLM-L6-v2 layout: `config.json`, `model.safetensors`,
//! `tokenizer.json`, optionally `sentence_bert_config.json` for the max length): token ids with
//! `[CLS]`/`[SEP]`, truncated to the max length, and the L2-normalised mean-pooled last hidden
//! state (see [`reglab_train::model::bert`]).

use super::WordPiece;
use crate::RunError;
use reglab_train::model::bert::{BertEncoder, batch_tensors};
use std::path::Path;

/// The max length when the folder does not say (sentence-transformers' for this model).
pub const DEFAULT_MAX_LENGTH: usize = 256;

/// One line's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Embedded {
    /// The sentence as read (without the line ending).
    pub text: String,
    /// Its token ids, `[CLS]` … `[SEP]`.
    pub ids: Vec<u32>,
    /// The normalised sentence embedding.
    pub embedding: Vec<f32>,
}

/// The max sequence length of a sentence-transformers folder: `sentence_bert_config.json`'s
/// `max_seq_length`, else [`DEFAULT_MAX_LENGTH`].
pub fn folder_max_length(model: &Path) -> Result<usize, String> {
    let path = model.join("sentence_bert_config.json");
    if !path.exists() {
        return Ok(DEFAULT_MAX_LENGTH);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match v.get("max_seq_length") {
        None => Ok(DEFAULT_MAX_LENGTH),
        Some(n) => n
            .as_u64()
            .filter(|&n| n >= 2)
            .map(|n| n as usize)
            .ok_or_else(|| format!("{}: `max_seq_length` = {n}: expected an integer ≥ 2", path.display())),
    }
}

/// The sentences of `path`: one per line (a final `\r` dropped). An empty line, a file that is
/// not UTF-8, or a file without sentences is an error naming the file (and the line).
pub fn read_sentences(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text ({e})", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return Err(format!("{}:{}: an empty line (one sentence per line)", path.display(), i + 1));
        }
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err(format!("{}: no sentences", path.display()));
    }
    Ok(out)
}

/// Embed every sentence of `text_file` with the encoder folder `model`, `batch` sentences at a
/// time (each batch padded to its longest sequence; `batch` changes only the last bits of the
/// embeddings — measured ≤ 3e−7 — never the ids),
/// truncating to `max_length` tokens (`None`: the folder's). Everything is read and checked
/// before the first sentence is encoded.
pub fn embed_file(model: &Path, text_file: &Path, max_length: Option<usize>, batch: usize) -> Result<Vec<Embedded>, RunError> {
    let input = RunError::Input;
    if batch == 0 {
        return Err(input("--batch must be ≥ 1".into()));
    }
    let sentences = read_sentences(text_file).map_err(input)?;
    let max_length = match max_length {
        Some(n) => n,
        None => folder_max_length(model).map_err(input)?,
    };
    let tok = WordPiece::load(&model.join("tokenizer.json"), max_length).map_err(input)?;
    let device = burn::tensor::Device::flex();
    let (encoder, config) = BertEncoder::load(model, &device).map_err(input)?;
    if max_length > config.max_position_embeddings {
        return Err(input(format!("max length {max_length} exceeds the model's {} positions", config.max_position_embeddings)));
    }
    let mut ids = Vec::with_capacity(sentences.len());
    for (i, s) in sentences.iter().enumerate() {
        let t = tok.encode(s).map_err(|e| input(format!("{}:{}: {e}", text_file.display(), i + 1)))?;
        if let Some(&bad) = t.iter().find(|&&id| id as usize >= config.vocab_size) {
            return Err(input(format!(
                "{}:{}: token id {bad} is outside the model's vocabulary ({})",
                text_file.display(),
                i + 1,
                config.vocab_size
            )));
        }
        ids.push(t);
    }
    let mut out = Vec::with_capacity(sentences.len());
    for (chunk_ids, chunk_text) in ids.chunks(batch).zip(sentences.chunks(batch)) {
        let (t, mask) = batch_tensors(chunk_ids, tok.pad_id(), &device);
        let e = encoder.embed(t, mask);
        let [b, h] = e.dims();
        let data: Vec<f32> = e.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| RunError::Failed(format!("{e:?}")))?;
        for k in 0..b {
            out.push(Embedded { text: chunk_text[k].clone(), ids: chunk_ids[k].clone(), embedding: data[k * h..(k + 1) * h].to_vec() });
        }
    }
    Ok(out)
}
