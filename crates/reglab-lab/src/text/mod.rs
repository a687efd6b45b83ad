//! Text: tokenization of sentences for the BERT encoder ([`tokenizer`]) and the sentence
//! embeddings of a text file ([`embed`], `reglab embed`).

pub mod embed;
pub mod tokenizer;

pub use tokenizer::WordPiece;
