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

/// The entity markers of the onscreen parse (`{{12. Call}}`): one token each, never merged
/// with what surrounds them.
pub const MARKERS: [&str; 2] = ["{{", "}}"];
/// Special tokens of our own tokenizers: padding, end of text, and the markers.
pub const SPECIAL: [&str; 4] = ["<pad>", "<|end|>", "{{", "}}"];

/// Trains a byte-level BPE tokenizer for deixis's own model on `texts` (generated prompts,
/// never eval data): digits are split one by one before the byte-level split (so every
/// number is a sequence of digit tokens, as prompt numbers and phone numbers need), and the
/// special tokens [`SPECIAL`] come first (ids 0..4).
///
/// With `lowercase`, text is lowercased before anything else (a normalizer saved in
/// tokenizer.json, so the runtime reads as training did): "Refresh" and "refresh" become the
/// same tokens, which a small model trained from scratch would otherwise have to learn are
/// alike. Offsets still point into the original text.
pub fn train(
    texts: impl Iterator<Item = String> + Send,
    vocab_size: usize,
    lowercase: bool,
) -> Result<Tokenizer, TokenizerError> {
    use tokenizers::models::bpe::BpeTrainer;
    use tokenizers::models::TrainerWrapper;
    let specials: Vec<AddedToken> = SPECIAL.iter().map(|t| AddedToken::from(*t, true)).collect();
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials.clone())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tokenizer = Tokenizer::new(BPE::default());
    if lowercase {
        tokenizer
            .with_normalizer(Some(tokenizers::normalizers::NormalizerWrapper::Lowercase(
                tokenizers::normalizers::Lowercase,
            )))
            .map_err(|e| TokenizerError::Build(e.to_string()))?;
    }
    tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
        PreTokenizerWrapper::Digits(Digits::new(true)),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
    ]))));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| TokenizerError::Build(e.to_string()))?;
    tokenizer
        .train(&mut trainer, texts)
        .map_err(|e| TokenizerError::Build(e.to_string()))?;
    Ok(tokenizer)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trained_tokenizer_splits_digits_and_keeps_markers_whole() {
        let texts: Vec<String> = (0..400)
            .map(|k| {
                format!(
                    "Screen:\n{{{{{}. Call}}}}\t{{{{{}. (408) 555-{:04}}}}}\nUser request: call the second number\n",
                    k % 30 + 1,
                    k % 17 + 1,
                    k * 7 % 10_000
                )
            })
            .collect();
        let tok = train(texts.clone().into_iter(), 300, false).expect("train");
        for (i, t) in SPECIAL.iter().enumerate() {
            assert_eq!(tok.token_to_id(t), Some(i as u32), "{t}");
        }
        let text = "{{12. (408) 555-0123}}";
        let ids = encode(&tok, text).expect("encode");
        let pieces: Vec<String> = ids
            .iter()
            .map(|&i| tok.id_to_token(i).unwrap_or_default())
            .collect();
        assert_eq!(pieces.first().map(String::as_str), Some("{{"));
        assert_eq!(pieces.last().map(String::as_str), Some("}}"));
        assert!(
            !pieces
                .iter()
                .any(|p| p.chars().filter(char::is_ascii_digit).count() > 1),
            "{pieces:?}"
        );
        assert_eq!(tok.decode(&ids, false).expect("decode"), text);
        // Trained twice on the same texts: the same tokenizer.
        let again = train(
            (0..400).map(|k| {
                format!(
                    "Screen:\n{{{{{}. Call}}}}\t{{{{{}. (408) 555-{:04}}}}}\nUser request: call the second number\n",
                    k % 30 + 1,
                    k % 17 + 1,
                    k * 7 % 10_000
                )
            }),
            300,
            false,
        )
        .expect("train");
        assert_eq!(
            again.to_string(false).expect("json"),
            tok.to_string(false).expect("json")
        );

        // Lowercasing: "Call" and "call" read alike, from a saved tokenizer too, and offsets
        // still point into the original text.
        let lower = train(texts.into_iter(), 300, true).expect("train");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokenizer.json");
        lower.save(&path, false).expect("save");
        let lower = read(&path).expect("read");
        let ids = |t: &str| encode(&lower, t).expect("encode");
        assert_eq!(ids("{{3. Call}}"), ids("{{3. call}}"));
        assert_ne!(encode(&tok, "Call").ok(), encode(&tok, "call").ok());
        let text = "{{3. CALL Ada}}";
        let encoding = lower.encode(text, false).expect("encode");
        let last = encoding.get_offsets().last().copied().expect("tokens");
        assert_eq!(&text[last.0..last.1], "}}");
    }
}
