//! OPT (Meta, 2022): pre-LayerNorm blocks with biases, learned positions (row `position + 2`),
//! multi-head attention with biases, ReLU FFN, tied embeddings. The FFN's ReLU makes most
//! neurons zero per token, which the flash engine exploits.

use crate::config::Config;
use crate::decoder::{load, Decoder};
use crate::weights::{Loaded, WeightsError};

pub fn build(config: &Config, w: &Loaded) -> Result<Decoder, WeightsError> {
    load::decoder(w, config, false, false)
}

/// Our name for a Hugging Face OPT tensor.
pub fn from_hf(name: &str) -> Option<String> {
    let name = name.strip_prefix("model.").unwrap_or(name);
    let name = name.strip_prefix("decoder.").unwrap_or(name);
    match name {
        "embed_tokens.weight" => return Some("embed".into()),
        "embed_positions.weight" => return Some("pos_embed".into()),
        "final_layer_norm.weight" => return Some("norm.weight".into()),
        "final_layer_norm.bias" => return Some("norm.bias".into()),
        "lm_head.weight" => return Some("lm_head".into()),
        _ => {}
    }
    let rest = name.strip_prefix("layers.")?;
    let (layer, part) = rest.split_once('.')?;
    let (module, kind) = part.rsplit_once('.')?;
    let ours = match module {
        "self_attn_layer_norm" => "attn_norm",
        "final_layer_norm" => "ffn_norm",
        "self_attn.q_proj" => "q",
        "self_attn.k_proj" => "k",
        "self_attn.v_proj" => "v",
        "self_attn.out_proj" => "o",
        "fc1" => "up",
        "fc2" => "down",
        _ => return None,
    };
    Some(format!("layers.{layer}.{ours}.{kind}"))
}
