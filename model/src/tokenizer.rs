//! Tokenizers: `tokenizer.json` (Hugging Face format) read with the tokenizers crate, and the
//! one built from a GGUF file's vocabulary and merges.
//!
//! candle's GGUF tokenizer loses SmolLM2's pre-tokenizer, which splits digits one by one
//! (phone numbers and prompt numbers matter here), so we build the tokenizer ourselves:
//! byte-level BPE with the GGUF vocabulary and merges, digits split individually before the
//! byte-level split, control tokens as special tokens.

use std::path::Path;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, Tokenizer};

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("cannot read the tokenizer {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot build the tokenizer: {0}")]
    Build(String),
    #[error("cannot tokenize: {0}")]
    Encode(String),
}

/// Reads `tokenizer.json`.
pub fn read(path: &Path) -> Result<Tokenizer, TokenizerError> {
    Tokenizer::from_file(path).map_err(|e| TokenizerError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Token ids of `text`, without special tokens added.
pub fn encode(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, TokenizerError> {
    tokenizer
        .encode(text, false)
        .map(|e| e.get_ids().to_vec())
        .map_err(|e| TokenizerError::Encode(e.to_string()))
}

/// A byte-level BPE tokenizer from a GGUF vocabulary (`tokenizer.ggml.tokens`), its merges
/// (`"left right"` strings) and token types (3 = control, made special).
pub fn from_vocab(
    tokens: &[String],
    merges: &[String],
    token_types: &[i32],
) -> Result<Tokenizer, TokenizerError> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let merges: Vec<(String, String)> = merges
        .iter()
        .filter_map(|m| m.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| TokenizerError::Build(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
        PreTokenizerWrapper::Digits(Digits::new(true)),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
    ]))));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(token_types)
        .filter(|(_, &kind)| kind == 3)
        .map(|(t, _)| AddedToken::from(t.clone(), true))
        .collect();
    tokenizer
        .add_special_tokens(special)
        .map_err(|e| TokenizerError::Build(e.to_string()))?;
    Ok(tokenizer)
}
