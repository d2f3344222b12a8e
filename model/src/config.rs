//! The model config format (`config.json` in a model directory): one shape description for
//! every architecture the runtime runs, with a format version. Training (the reference model)
//! writes it; conversion writes it from a Hugging Face `config.json` or from GGUF metadata.

use serde::{Deserialize, Serialize};

/// Version of this format; a config with another version is refused.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama family: RMSNorm, RoPE, grouped-query attention, SwiGLU (SmolLM2, Qwen2-style).
    Llama,
    /// OPT: LayerNorm with biases, learned positions, multi-head attention with biases, ReLU.
    Opt,
    /// deixis's own decoder: RMSNorm, RoPE, grouped-query attention, ReLU FFN (no gate).
    Deixis,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Opt => "opt",
            Architecture::Deixis => "deixis",
        }
    }

    /// Whether the FFN has a gate projection (SwiGLU).
    pub fn gated(self) -> bool {
        self == Architecture::Llama
    }

    /// Whether linear layers and norms carry biases.
    pub fn biased(self) -> bool {
        self == Architecture::Opt
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub format_version: u32,
    pub architecture: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// FFN width (neurons per layer).
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    /// Positions the model was trained for (OPT's learned table has this many rows).
    pub max_positions: usize,
    /// RoPE base (llama, deixis).
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f32,
    /// RMSNorm / LayerNorm epsilon.
    pub norm_eps: f64,
    /// The output projection is the embedding matrix.
    pub tie_embeddings: bool,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    /// Width of the pointer head (deixis only; 0: none). With one, the model answers by
    /// pointing: a candidate's score is the scaled dot product of the answer position's
    /// final hidden state and the candidate entry's last token's, each through its own
    /// projection (`pointer.q.weight`, `pointer.k.weight`, `[pointer_size, hidden_size]`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pointer_size: usize,
    /// The pointer adds its match term (`crate::pointer`; weights `pointer.u.weight`,
    /// `pointer.v.weight`, `[pointer_size, hidden_size]`). Needs a pointer head.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pointer_match: bool,
    /// The pointer head was trained with a prior: each candidate's score from the baseline
    /// resolver (rules, `deixis_daemon::resolve::baseline`), times this weight, added to its
    /// logit. The resolver adds it the same way (0: no prior; then the daemon's
    /// `model.lexical_weight` applies). A number in [0, 100].
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub lexical_weight: f64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

fn default_rope_theta() -> f32 {
    10_000.0
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("config.json: {0}")]
    Json(String),
    #[error("config.json has format version {found}; this build reads {FORMAT_VERSION}")]
    Version { found: u32 },
    #[error("config.json: {0}")]
    Invalid(String),
}

impl Config {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Reads and checks a config.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        if let Some(v) = value.get("format_version").and_then(|v| v.as_u64()) {
            if v != u64::from(FORMAT_VERSION) {
                return Err(ConfigError::Version {
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                });
            }
        }
        let config: Config =
            serde_json::from_value(value).map_err(|e| ConfigError::Json(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        // Serializing plain numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks the shape is one the runtime can run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.vocab_size == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return bad("vocab_size, hidden_size and num_layers must be positive".into());
        }
        if self.num_heads == 0 || self.hidden_size % self.num_heads != 0 {
            return bad(format!(
                "hidden_size {} is not a multiple of num_heads {}",
                self.hidden_size, self.num_heads
            ));
        }
        if self.num_kv_heads == 0 || self.num_heads % self.num_kv_heads != 0 {
            return bad(format!(
                "num_heads {} is not a multiple of num_kv_heads {}",
                self.num_heads, self.num_kv_heads
            ));
        }
        if self.architecture != Architecture::Opt && self.head_dim() % 2 != 0 {
            return bad("RoPE needs an even head dimension".into());
        }
        if self.pointer_size > 0 && self.architecture != Architecture::Deixis {
            return bad("only the deixis architecture has a pointer head".into());
        }
        if self.pointer_match && self.pointer_size == 0 {
            return bad("pointer_match needs a pointer head (pointer_size > 0)".into());
        }
        if !(self.lexical_weight.is_finite() && (0.0..=100.0).contains(&self.lexical_weight)) {
            return bad(format!(
                "lexical_weight {} is not a number in [0, 100]",
                self.lexical_weight
            ));
        }
        if self.lexical_weight > 0.0 && self.pointer_size == 0 {
            return bad("lexical_weight needs a pointer head (pointer_size > 0)".into());
        }
        if self.pointer_size > self.hidden_size * 16 {
            return bad(format!(
                "pointer_size {} is out of proportion to hidden_size {}",
                self.pointer_size, self.hidden_size
            ));
        }
        if self.intermediate_size == 0 || self.max_positions == 0 {
            return bad("intermediate_size and max_positions must be positive".into());
        }
        if !(self.norm_eps > 0.0 && self.norm_eps < 1.0 && self.rope_theta.is_finite()) {
            return bad("norm_eps must be in (0, 1) and rope_theta finite".into());
        }
        let too_big = 1usize << 40;
        if self
            .vocab_size
            .checked_mul(self.hidden_size)
            .is_none_or(|n| n > too_big)
            || self
                .intermediate_size
                .checked_mul(self.hidden_size)
                .is_none_or(|n| n > too_big)
        {
            return bad("the shapes are too large".into());
        }
        Ok(())
    }

    /// A Hugging Face `config.json` (llama or OPT) in this format.
    pub fn from_hf_json(text: &str) -> Result<Config, ConfigError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        if v.get("format_version").is_some() {
            // Already ours (deixis's own models).
            return Config::from_json(text);
        }
        let num = |k: &str| -> Result<usize, ConfigError> {
            v.get(k)
                .and_then(|x| x.as_u64())
                .map(|x| x as usize)
                .ok_or_else(|| ConfigError::Invalid(format!("missing or not a number: {k}")))
        };
        let model_type = v.get("model_type").and_then(|x| x.as_str()).unwrap_or("");
        let id = |k: &str| v.get(k).and_then(|x| x.as_u64()).map(|x| x as u32);
        let config = match model_type {
            "llama" | "qwen2" | "mistral" => Config {
                format_version: FORMAT_VERSION,
                architecture: Architecture::Llama,
                vocab_size: num("vocab_size")?,
                hidden_size: num("hidden_size")?,
                intermediate_size: num("intermediate_size")?,
                num_layers: num("num_hidden_layers")?,
                num_heads: num("num_attention_heads")?,
                num_kv_heads: num("num_key_value_heads").or_else(|_| num("num_attention_heads"))?,
                max_positions: num("max_position_embeddings")?,
                rope_theta: v
                    .get("rope_theta")
                    .and_then(|x| x.as_f64())
                    .unwrap_or(10_000.0) as f32,
                norm_eps: v
                    .get("rms_norm_eps")
                    .and_then(|x| x.as_f64())
                    .unwrap_or(1e-5),
                tie_embeddings: v
                    .get("tie_word_embeddings")
                    .and_then(|x| x.as_bool())
                    .unwrap_or(false),
                bos_token_id: id("bos_token_id"),
                eos_token_id: id("eos_token_id"),
                pointer_size: 0,
                pointer_match: false,
                lexical_weight: 0.0,
            },
            "opt" => {
                let hidden = num("hidden_size")?;
                if v.get("word_embed_proj_dim").and_then(|x| x.as_u64()) != Some(hidden as u64)
                    && v.get("word_embed_proj_dim").is_some()
                {
                    return Err(ConfigError::Invalid(
                        "OPT with word_embed_proj_dim != hidden_size (opt-350m) is not supported"
                            .into(),
                    ));
                }
                if v.get("do_layer_norm_before").and_then(|x| x.as_bool()) == Some(false) {
                    return Err(ConfigError::Invalid(
                        "OPT with post-layer norm (opt-350m) is not supported".into(),
                    ));
                }
                let act = v
                    .get("activation_function")
                    .and_then(|x| x.as_str())
                    .unwrap_or("relu");
                if act != "relu" {
                    return Err(ConfigError::Invalid(format!(
                        "OPT activation {act:?} is not supported (relu is)"
                    )));
                }
                Config {
                    format_version: FORMAT_VERSION,
                    architecture: Architecture::Opt,
                    vocab_size: num("vocab_size")?,
                    hidden_size: hidden,
                    intermediate_size: num("ffn_dim")?,
                    num_layers: num("num_hidden_layers")?,
                    num_heads: num("num_attention_heads")?,
                    num_kv_heads: num("num_attention_heads")?,
                    max_positions: num("max_position_embeddings")?,
                    rope_theta: 10_000.0,
                    norm_eps: 1e-5,
                    tie_embeddings: v
                        .get("tie_word_embeddings")
                        .and_then(|x| x.as_bool())
                        .unwrap_or(true),
                    bos_token_id: id("bos_token_id"),
                    eos_token_id: id("eos_token_id"),
                    pointer_size: 0,
                    pointer_match: false,
                    lexical_weight: 0.0,
                }
            }
            other => {
                return Err(ConfigError::Invalid(format!(
                    "model_type {other:?} is not supported (llama, qwen2, mistral, opt)"
                )))
            }
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_round_trip_and_bad_ones_are_refused() {
        let c = Config {
            format_version: FORMAT_VERSION,
            architecture: Architecture::Deixis,
            vocab_size: 100,
            hidden_size: 32,
            intermediate_size: 64,
            num_layers: 2,
            num_heads: 4,
            num_kv_heads: 2,
            max_positions: 128,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            tie_embeddings: true,
            bos_token_id: None,
            eos_token_id: Some(2),
            pointer_size: 0,
            pointer_match: false,
            lexical_weight: 0.0,
        };
        assert_eq!(Config::from_json(&c.to_json()), Ok(c.clone()));
        let newer = c
            .to_json()
            .replace("\"format_version\": 1", "\"format_version\": 9");
        assert_eq!(
            Config::from_json(&newer),
            Err(ConfigError::Version { found: 9 })
        );
        let odd = Config {
            num_kv_heads: 3,
            ..c.clone()
        };
        assert!(matches!(
            Config::from_json(&odd.to_json()),
            Err(ConfigError::Invalid(_))
        ));
        // A match term without a pointer head to add it to is refused; with one it loads.
        let matching = Config {
            architecture: Architecture::Deixis,
            pointer_match: true,
            ..c.clone()
        };
        assert!(matches!(
            Config::from_json(&matching.to_json()),
            Err(ConfigError::Invalid(m)) if m.contains("pointer_match")
        ));
        let pointed = Config {
            pointer_size: 16,
            ..matching
        };
        assert_eq!(Config::from_json(&pointed.to_json()), Ok(pointed.clone()));
        // A lexical prior: kept through JSON; out of range or without a pointer, refused.
        let prior = Config {
            lexical_weight: 3.0,
            ..pointed.clone()
        };
        assert_eq!(Config::from_json(&prior.to_json()), Ok(prior.clone()));
        for (bad, why) in [
            (
                Config {
                    lexical_weight: -1.0,
                    ..prior.clone()
                },
                "[0, 100]",
            ),
            (
                Config {
                    pointer_size: 0,
                    pointer_match: false,
                    ..prior.clone()
                },
                "needs a pointer head",
            ),
        ] {
            let got = Config::from_json(&bad.to_json());
            assert!(
                matches!(&got, Err(ConfigError::Invalid(m)) if m.contains(why)),
                "{got:?}"
            );
        }
        let unknown = c.to_json().replace("{", "{\"surprise\": 1,");
        assert!(matches!(
            Config::from_json(&unknown),
            Err(ConfigError::Json(_))
        ));
    }
}
