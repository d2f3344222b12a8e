//! deixis's own decoder, the architecture of the reference-resolution model: RMSNorm, rotary
//! embeddings, grouped-query attention without biases, and a ReLU FFN without gate or biases
//! (ReLU's zeros are the sparsity the flash engine reads by), tied embeddings.
//!
//! Training writes its tensors under our own names (`embed`, `layers.L.q.weight`,
//! `layers.L.up.weight`, `layers.L.down.weight`, `norm.weight`, ...), so conversion maps names
//! one to one.

use crate::config::Config;
use crate::decoder::{load, Decoder};
use crate::weights::{Loaded, WeightsError};

pub fn build(config: &Config, w: &Loaded) -> Result<Decoder, WeightsError> {
    load::decoder(w, config, true, true)
}

/// Our name for a tensor in a deixis safetensors file: the same.
pub fn from_hf(name: &str) -> Option<String> {
    Some(name.to_owned())
}
