//! Conversion into a model directory (`config.json`, `tokenizer.json`, `weights.bin`): from
//! GGUF (llama; every tensor dequantized to f32, Q and K un-permuted, the tokenizer built
//! from the vocabulary) or from Hugging Face safetensors + `config.json` + `tokenizer.json`
//! (llama, OPT, or our own architecture), or from another model directory (to store its
//! weights in another dtype).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file;
use candle_core::{DType as CDType, Device, Tensor};

use crate::config::{Architecture, Config, ConfigError, FORMAT_VERSION};
use crate::weights::{self, DType, FfnWeights, WeightsError};
use crate::{llama, opt, tokenizer};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a GGUF file this build reads: {message}")]
    Gguf { path: String, message: String },
    #[error("{path}: {message}")]
    SafeTensors { path: String, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tokenizer(#[from] tokenizer::TokenizerError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("cannot write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Model(#[from] crate::runtime::ModelError),
}

/// What to convert.
#[derive(Debug, Clone)]
pub enum Source {
    Gguf(PathBuf),
    SafeTensors {
        weights: Vec<PathBuf>,
        config: PathBuf,
        tokenizer: PathBuf,
    },
    /// A model directory of ours: its weights rewritten, its config and tokenizer kept.
    Model(PathBuf),
}

/// What a conversion wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    pub config: Config,
    pub parameters: usize,
    pub bytes: u64,
    pub took: Duration,
}

/// Converts `source` into the model directory `out` (created; files replaced atomically).
pub fn convert(source: &Source, out: &Path, dtype: DType) -> Result<Summary, ConvertError> {
    let start = Instant::now();
    let (config, (resident, ffn), tok) = match source {
        Source::Gguf(path) => {
            let (config, tensors, tok) = read_gguf(path)?;
            (config.clone(), split(&config, tensors, out)?, tok)
        }
        Source::SafeTensors {
            weights,
            config,
            tokenizer: tok,
        } => {
            let (config, tensors, tok) = read_safetensors(weights, config, tok)?;
            (config.clone(), split(&config, tensors, out)?, tok)
        }
        Source::Model(dir) => read_model(dir)?,
    };
    let parameters = resident.iter().map(|(_, t)| t.elem_count()).sum::<usize>()
        + ffn
            .iter()
            .map(|f| {
                f.up.elem_count()
                    + f.gate.as_ref().map_or(0, Tensor::elem_count)
                    + f.down.elem_count()
            })
            .sum::<usize>();
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| ConvertError::Write { path, source }
    };
    std::fs::create_dir_all(out).map_err(write_err(out))?;
    let tmp = |name: &str| out.join(format!(".{name}.partial"));
    weights::write(&tmp("weights.bin"), dtype, &resident, &ffn)?;
    std::fs::write(tmp("config.json"), config.to_json()).map_err(write_err(out))?;
    tok.save(tmp("tokenizer.json"), false)
        .map_err(|e| tokenizer::TokenizerError::Build(e.to_string()))?;
    for name in ["weights.bin", "config.json", "tokenizer.json"] {
        std::fs::rename(tmp(name), out.join(name)).map_err(write_err(out))?;
    }
    let bytes = std::fs::metadata(out.join("weights.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    Ok(Summary {
        config,
        parameters,
        bytes,
        took: start.elapsed(),
    })
}

/// Resident tensors by name, and each layer's FFN.
type Split = (Vec<(String, Tensor)>, Vec<FfnWeights>);

/// A model directory's config, tensors (resident ones by name, and each layer's FFN) and
/// tokenizer.
fn read_model(dir: &Path) -> Result<(Config, Split, tokenizers::Tokenizer), ConvertError> {
    let (config, tok) = crate::runtime::read_config_and_tokenizer(dir)?;
    let loaded = weights::Loaded::read(&dir.join("weights.bin"))?;
    let mut resident: Vec<(String, Tensor)> = loaded.tensors.into_iter().collect();
    resident.sort_by(|a, b| a.0.cmp(&b.0));
    // Loaded keeps down as rows per neuron; `weights::write` takes it as the Linear's weight.
    let ffn = loaded
        .ffn
        .into_iter()
        .map(|(up, gate, down)| {
            Ok(FfnWeights {
                up,
                gate,
                down: down.t()?.contiguous()?,
            })
        })
        .collect::<Result<_, candle_core::Error>>()?;
    Ok((config, (resident, ffn), tok))
}

/// Splits the tensors into resident ones and each layer's FFN.
fn split(
    config: &Config,
    mut tensors: HashMap<String, Tensor>,
    out: &Path,
) -> Result<Split, ConvertError> {
    let missing = |name: String| {
        ConvertError::Weights(WeightsError::Missing {
            path: out.display().to_string(),
            name,
        })
    };
    let mut ffn = Vec::with_capacity(config.num_layers);
    for l in 0..config.num_layers {
        let mut take = |part: &str| {
            tensors
                .remove(&format!("layers.{l}.{part}.weight"))
                .ok_or_else(|| missing(format!("layers.{l}.{part}.weight")))
        };
        let up = take("up")?;
        let gate = if config.architecture.gated() {
            Some(take("gate")?)
        } else {
            None
        };
        let down = take("down")?;
        ffn.push(FfnWeights { up, gate, down });
    }
    if config.tie_embeddings {
        tensors.remove("lm_head");
    }
    let mut resident: Vec<(String, Tensor)> = tensors.into_iter().collect();
    resident.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((resident, ffn))
}

type Read = (Config, HashMap<String, Tensor>, tokenizers::Tokenizer);

fn read_gguf(path: &Path) -> Result<Read, ConvertError> {
    let shown = path.display().to_string();
    let gguf_err = |message: String| ConvertError::Gguf {
        path: shown.clone(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(|source| ConvertError::Read {
        path: shown.clone(),
        source,
    })?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| gguf_err(e.to_string()))?;
    let md = |k: &str| {
        content
            .metadata
            .get(k)
            .ok_or_else(|| gguf_err(format!("no {k} in the metadata")))
    };
    let num = |k: &str| -> Result<usize, ConvertError> {
        md(k)?
            .to_u32()
            .map(|v| v as usize)
            .map_err(|e| gguf_err(format!("{k}: {e}")))
    };
    let arch = md("general.architecture")?
        .to_string()
        .map_err(|e| gguf_err(e.to_string()))?
        .clone();
    if arch != "llama" {
        return Err(ConvertError::Unsupported {
            path: shown,
            message: format!("GGUF architecture {arch:?} (llama is supported)"),
        });
    }
    let strings = |k: &str| -> Result<Vec<String>, ConvertError> {
        md(k)?
            .to_vec()
            .map_err(|e| gguf_err(format!("{k}: {e}")))?
            .iter()
            .map(|v| {
                v.to_string()
                    .cloned()
                    .map_err(|e| gguf_err(format!("{k}: {e}")))
            })
            .collect()
    };
    let tokens = strings("tokenizer.ggml.tokens")?;
    let merges = strings("tokenizer.ggml.merges")?;
    let types: Vec<i32> = md("tokenizer.ggml.token_type")?
        .to_vec()
        .map_err(|e| gguf_err(e.to_string()))?
        .iter()
        .map(|v| v.to_i32().unwrap_or(1))
        .collect();
    let tok = tokenizer::from_vocab(&tokens, &merges, &types)?;
    let dev = Device::Cpu;
    let heads = num("llama.attention.head_count")?;
    let kv_heads = num("llama.attention.head_count_kv")?;
    let mut tensors = HashMap::new();
    let names: Vec<String> = content.tensor_infos.keys().cloned().collect();
    for name in names {
        let Some(ours) = llama::from_gguf(&name) else {
            continue;
        };
        let t = content
            .tensor(&mut file, &name, &dev)
            .and_then(|q| q.dequantize(&dev))
            .map_err(|e| gguf_err(format!("{name}: {e}")))?;
        let t = if ours.ends_with(".q.weight") {
            llama::unpermute(&t, heads)?
        } else if ours.ends_with(".k.weight") {
            llama::unpermute(&t, kv_heads)?
        } else {
            t
        };
        tensors.insert(ours, t.to_dtype(CDType::F32)?);
    }
    let vocab = tensors
        .get("embed")
        .map(|t| t.dim(0))
        .transpose()?
        .unwrap_or(tokens.len());
    let id = |k: &str| content.metadata.get(k).and_then(|v| v.to_u32().ok());
    let config = Config {
        format_version: FORMAT_VERSION,
        architecture: Architecture::Llama,
        vocab_size: vocab,
        hidden_size: num("llama.embedding_length")?,
        intermediate_size: num("llama.feed_forward_length")?,
        num_layers: num("llama.block_count")?,
        num_heads: heads,
        num_kv_heads: kv_heads,
        max_positions: num("llama.context_length")?,
        rope_theta: md("llama.rope.freq_base")
            .and_then(|v| v.to_f32().map_err(|e| gguf_err(e.to_string())))
            .unwrap_or(10_000.0),
        norm_eps: f64::from(
            md("llama.attention.layer_norm_rms_epsilon")?
                .to_f32()
                .map_err(|e| gguf_err(e.to_string()))?,
        ),
        tie_embeddings: !tensors.contains_key("lm_head"),
        bos_token_id: id("tokenizer.ggml.bos_token_id"),
        eos_token_id: id("tokenizer.ggml.eos_token_id"),
        pointer_size: 0,
        pointer_match: false,
        lexical_weight: 0.0,
    };
    config.validate()?;
    Ok((config, tensors, tok))
}

fn read_safetensors(
    files: &[PathBuf],
    config_path: &Path,
    tokenizer_path: &Path,
) -> Result<Read, ConvertError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| ConvertError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let text = String::from_utf8_lossy(&read(config_path)?).into_owned();
    let config = Config::from_hf_json(&text)?;
    let tok = tokenizer::read(tokenizer_path)?;
    let rename: fn(&str) -> Option<String> = match config.architecture {
        Architecture::Llama => llama::from_hf,
        Architecture::Opt => opt::from_hf,
        Architecture::Deixis => crate::deixis::from_hf,
    };
    let dev = Device::Cpu;
    let mut tensors = HashMap::new();
    for path in files {
        let shown = path.display().to_string();
        let bytes = read(path)?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
            ConvertError::SafeTensors {
                path: shown.clone(),
                message: e.to_string(),
            }
        })?;
        for (name, view) in st.tensors() {
            let Some(ours) = rename(&name) else { continue };
            let dtype = match view.dtype() {
                safetensors::Dtype::F32 => CDType::F32,
                safetensors::Dtype::F16 => CDType::F16,
                safetensors::Dtype::BF16 => CDType::BF16,
                other => {
                    return Err(ConvertError::SafeTensors {
                        path: shown,
                        message: format!("{name} has dtype {other:?} (f32, f16, bf16 are read)"),
                    })
                }
            };
            let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &dev)?
                .to_dtype(CDType::F32)?;
            tensors.insert(ours, t);
        }
    }
    Ok((config, tensors, tok))
}
