//! `reglab embed`.

use crate::Failure;
use reglab_lab::text::embed::embed_file;
use std::path::PathBuf;

/// Sentence embeddings of a text file with a pretrained BERT sentence encoder (a
/// sentence-transformers folder such as all-MiniLM-L6-v2: config.json, model.safetensors,
/// tokenizer.json): the mean over the real tokens of the last hidden state, L2-normalised, as
/// sentence-transformers computes it.
///
/// One sentence per line of FILE (an empty line is an error). With --json, prints an array of
/// {"text", "ids" (token ids with [CLS]/[SEP]), "embedding"}; otherwise one line per sentence
/// (tokens, the first coordinates).
#[derive(clap::Args)]
pub struct Args {
    /// The encoder folder (default: $REGLAB_DATA/minilm).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The sentences, one per line.
    #[arg(long)]
    text: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Truncate to this many tokens (default: the folder's max_seq_length, else 256).
    #[arg(long)]
    max_length: Option<usize>,
    /// Sentences encoded at once (changes only the last bits of the embeddings).
    #[arg(long, default_value_t = 32)]
    batch: usize,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let model = match a.model {
        Some(m) => m,
        None => match std::env::var_os(reglab_lab::data::REGLAB_DATA).filter(|v| !v.is_empty()) {
            Some(root) => PathBuf::from(root).join("minilm"),
            None => return Err(Failure::input("--model DIR is needed (or set REGLAB_DATA to a folder holding minilm/)")),
        },
    };
    let rows = embed_file(&model, &a.text, a.max_length, a.batch)?;
    if a.json {
        println!("{}", serde_json::to_string(&rows).map_err(Failure::failed)?);
        return Ok(());
    }
    for (i, r) in rows.iter().enumerate() {
        let head: Vec<String> = r.embedding.iter().take(4).map(|v| format!("{v:+.4}")).collect();
        let text: String = r.text.chars().take(48).collect();
        println!("{:>5}  {:>4} tokens  [{} …]  {text}", i + 1, r.ids.len(), head.join(", "));
    }
    Ok(())
}
