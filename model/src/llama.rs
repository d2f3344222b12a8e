//! The llama family (SmolLM2, Qwen2-style): RMSNorm, rotary embeddings (rotate-half), grouped-
//! query attention without biases, SwiGLU FFN, optionally tied embeddings.
//!
//! Weights come from Hugging Face safetensors (`model.layers.L.self_attn.q_proj.weight`, ...)
//! or from GGUF (`blk.L.attn_q.weight`, ...). GGUF stores Q and K permuted for interleaved
//! RoPE; [`unpermute`] puts them back for rotate-half.

use candle_core::{Result, Tensor};

use crate::config::Config;
use crate::decoder::{load, Decoder};
use crate::weights::{Loaded, WeightsError};

pub fn build(config: &Config, w: &Loaded) -> std::result::Result<Decoder, WeightsError> {
    load::decoder(w, config, true, true)
}

/// Our name for a Hugging Face llama tensor.
pub fn from_hf(name: &str) -> Option<String> {
    let name = name.strip_prefix("model.").unwrap_or(name);
    match name {
        "embed_tokens.weight" => return Some("embed".into()),
        "lm_head.weight" => return Some("lm_head".into()),
        "norm.weight" => return Some("norm.weight".into()),
        _ => {}
    }
    let rest = name.strip_prefix("layers.")?;
    let (layer, part) = rest.split_once('.')?;
    let ours = match part {
        "input_layernorm.weight" => "attn_norm.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "self_attn.q_proj.weight" => "q.weight",
        "self_attn.k_proj.weight" => "k.weight",
        "self_attn.v_proj.weight" => "v.weight",
        "self_attn.o_proj.weight" => "o.weight",
        "mlp.gate_proj.weight" => "gate.weight",
        "mlp.up_proj.weight" => "up.weight",
        "mlp.down_proj.weight" => "down.weight",
        _ => return None,
    };
    Some(format!("layers.{layer}.{ours}"))
}

/// Our name for a GGUF llama tensor.
pub fn from_gguf(name: &str) -> Option<String> {
    match name {
        "token_embd.weight" => return Some("embed".into()),
        "output.weight" => return Some("lm_head".into()),
        "output_norm.weight" => return Some("norm.weight".into()),
        _ => {}
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    let ours = match part {
        "attn_norm.weight" => "attn_norm.weight",
        "ffn_norm.weight" => "ffn_norm.weight",
        "attn_q.weight" => "q.weight",
        "attn_k.weight" => "k.weight",
        "attn_v.weight" => "v.weight",
        "attn_output.weight" => "o.weight",
        "ffn_gate.weight" => "gate.weight",
        "ffn_up.weight" => "up.weight",
        "ffn_down.weight" => "down.weight",
        _ => return None,
    };
    Some(format!("layers.{layer}.{ours}"))
}

/// Undoes llama.cpp's permutation of a Q or K weight (`[heads * head_dim, width]`): GGUF keeps
/// each head's rows as interleaved pairs (2i, 2i+1); rotate-half RoPE wants halves (i, i+d/2).
pub fn unpermute(w: &Tensor, heads: usize) -> Result<Tensor> {
    let (rows, width) = w.dims2()?;
    let hd = rows / heads;
    w.reshape((heads, hd / 2, 2, width))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, width))
}
