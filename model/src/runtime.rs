//! Dense inference: a loaded model, the KV-cache state of a token sequence, prefix reuse,
//! scoring of a set of continuations in one pass, and greedy generation.
//!
//! - [`Model::extend`] runs new tokens after a state (prompt prefill is extending the empty
//!   state); states are cheap to clone, and extending a clone leaves the original as it was.
//! - [`PrefixCache`] keeps recent states: a prompt that starts with a cached sequence (the
//!   screen's prefix, in the daemon) only computes the rest.
//! - [`Model::score`] scores continuations (the candidates' prompt numbers) from one state in a
//!   single forward pass: the continuations form a tree of shared prefixes, each node attends
//!   to the state and to its ancestors only, and a node is computed once however many
//!   continuations share it. With `allowed`, each step's distribution is normalized over the
//!   allowed tokens only (constrained decoding), which needs just those rows of the output
//!   projection.

use std::path::Path;

use candle_core::{Device, Tensor, D};

use crate::config::{Architecture, Config};
use crate::decoder::Decoder;
use crate::nn::{causal_mask, log_softmax, Ctx, KvCache};
use crate::weights::{Loaded, WeightsError};
use crate::{deixis, llama, opt, tokenizer};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Tokenizer(#[from] tokenizer::TokenizerError),
    #[error("the sequence is {len} tokens; the model takes at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("token id {id} is outside the vocabulary ({vocab})")]
    BadToken { id: u32, vocab: usize },
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// A model directory, loaded and verified.
pub struct Model {
    pub config: Config,
    pub tokenizer: tokenizers::Tokenizer,
    decoder: Decoder,
    pub ctx: Ctx,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The KV caches after a token sequence, and the logits that follow it.
#[derive(Debug, Clone)]
pub struct State {
    pub tokens: Vec<u32>,
    caches: Vec<KvCache>,
    /// Logits `[vocab]` after the last token (`None` for the empty state).
    last: Option<Tensor>,
}

impl State {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The logits after the last token.
    pub fn logits(&self) -> Option<&Tensor> {
        self.last.as_ref()
    }

    /// The state after the first `n` tokens (n >= 1 keeps logits only when n == len).
    fn truncated(&self, n: usize) -> candle_core::Result<State> {
        let caches = self
            .caches
            .iter()
            .map(|c| {
                Ok(KvCache {
                    k: c.k.as_ref().map(|k| k.narrow(1, 0, n)).transpose()?,
                    v: c.v.as_ref().map(|v| v.narrow(1, 0, n)).transpose()?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(State {
            tokens: self.tokens[..n].to_vec(),
            caches,
            last: if n == self.tokens.len() {
                self.last.clone()
            } else {
                None
            },
        })
    }
}

impl Model {
    /// Loads `dir/config.json`, `dir/tokenizer.json` and `dir/weights.bin`.
    pub fn load(dir: &Path) -> Result<Model, ModelError> {
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|source| ModelError::Read {
            path: config_path.display().to_string(),
            source,
        })?;
        let config = Config::from_json(&text)?;
        let tokenizer = tokenizer::read(&dir.join("tokenizer.json"))?;
        let weights = Loaded::read(&dir.join("weights.bin"))?;
        let decoder = match config.architecture {
            Architecture::Llama => llama::build(&config, &weights)?,
            Architecture::Opt => opt::build(&config, &weights)?,
            Architecture::Deixis => deixis::build(&config, &weights)?,
        };
        Ok(Model {
            config,
            tokenizer,
            decoder,
            ctx: Ctx::default(),
        })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(tokenizer::encode(&self.tokenizer, text)?)
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, false).unwrap_or_default()
    }

    /// The state of the empty sequence.
    pub fn empty(&self) -> State {
        State {
            tokens: Vec::new(),
            caches: vec![KvCache::default(); self.config.num_layers],
            last: None,
        }
    }

    fn check(&self, tokens: &[u32], after: usize) -> Result<(), ModelError> {
        let len = after + tokens.len();
        let max = self.config.max_positions;
        if len > max {
            return Err(ModelError::TooLong { len, max });
        }
        if let Some(&id) = tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(ModelError::BadToken {
                id,
                vocab: self.config.vocab_size,
            });
        }
        Ok(())
    }

    /// Logits `[tokens, vocab]` of every position, after `state` (which is extended).
    pub fn forward_all(&self, state: &mut State, tokens: &[u32]) -> Result<Tensor, ModelError> {
        self.check(tokens, state.len())?;
        let start = state.len() as u32;
        let positions: Vec<u32> = (start..start + tokens.len() as u32).collect();
        let mask = causal_mask(tokens.len(), state.len(), &Device::Cpu)?;
        let hidden = self.decoder.forward(
            tokens,
            &positions,
            &mut state.caches,
            mask.as_ref(),
            &self.ctx,
        )?;
        let logits = self.decoder.logits(&hidden, None, &self.ctx)?;
        state.tokens.extend_from_slice(tokens);
        state.last = Some(logits.get(tokens.len() - 1)?);
        Ok(logits)
    }

    /// Runs `tokens` after `state`; returns the new state (the old one is unchanged).
    pub fn extend(&self, state: &State, tokens: &[u32]) -> Result<State, ModelError> {
        let mut next = state.clone();
        if tokens.is_empty() {
            return Ok(next);
        }
        self.check(tokens, state.len())?;
        let start = state.len() as u32;
        let positions: Vec<u32> = (start..start + tokens.len() as u32).collect();
        let mask = causal_mask(tokens.len(), state.len(), &Device::Cpu)?;
        let hidden = self.decoder.forward(
            tokens,
            &positions,
            &mut next.caches,
            mask.as_ref(),
            &self.ctx,
        )?;
        // Only the last position's logits are needed.
        let last = hidden.narrow(0, tokens.len() - 1, 1)?;
        next.last = Some(self.decoder.logits(&last, None, &self.ctx)?.squeeze(0)?);
        next.tokens.extend_from_slice(tokens);
        Ok(next)
    }

    /// Log-probabilities of each continuation after `state` (which must not be empty): the
    /// sum over its tokens. With `allowed`, every step is normalized over the allowed tokens
    /// only, and a continuation holding a token outside them scores -inf.
    pub fn score(
        &self,
        state: &State,
        continuations: &[Vec<u32>],
        allowed: Option<&[u32]>,
    ) -> Result<Vec<f32>, ModelError> {
        let Some(first) = &state.last else {
            return Err(ModelError::Candle(candle_core::Error::Msg(
                "scoring needs a non-empty state".into(),
            )));
        };
        // The tree: node k is a proper prefix of some continuation; parents come first.
        let mut nodes: Vec<(Vec<u32>, Option<usize>)> = Vec::new();
        let mut index: std::collections::HashMap<Vec<u32>, usize> = Default::default();
        for c in continuations {
            self.check(c, state.len())?;
            for end in 1..c.len() {
                let key = c[..end].to_vec();
                if !index.contains_key(&key) {
                    let parent = (end > 1).then(|| index[&c[..end - 1]]);
                    index.insert(key.clone(), nodes.len());
                    nodes.push((key, parent));
                }
            }
        }
        let dev = Device::Cpu;
        let allowed_t = allowed.map(|a| Tensor::new(a, &dev)).transpose()?;
        // Row of each token id in the (possibly restricted) distribution.
        let column = |id: u32| -> Option<usize> {
            match allowed {
                Some(a) => a.iter().position(|&x| x == id),
                None => Some(id as usize),
            }
        };
        let restrict = |logits: &Tensor| -> candle_core::Result<Tensor> {
            match &allowed_t {
                Some(ids) => logits.index_select(ids, D::Minus1),
                None => Ok(logits.clone()),
            }
        };
        let first = log_softmax(&restrict(&first.unsqueeze(0)?)?)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        let node_logp: Vec<Vec<f32>> = if nodes.is_empty() {
            Vec::new()
        } else {
            let n = nodes.len();
            let cached = state.len();
            let tokens: Vec<u32> = nodes.iter().map(|(p, _)| p[p.len() - 1]).collect();
            let positions: Vec<u32> = nodes
                .iter()
                .map(|(p, _)| (cached + p.len() - 1) as u32)
                .collect();
            // Each node sees the whole state, itself and its ancestors.
            let mut mask = vec![f32::NEG_INFINITY; n * (cached + n)];
            for (i, (_, parent)) in nodes.iter().enumerate() {
                let row = &mut mask[i * (cached + n)..(i + 1) * (cached + n)];
                row[..cached].fill(0.0);
                row[cached + i] = 0.0;
                let mut up = *parent;
                while let Some(p) = up {
                    row[cached + p] = 0.0;
                    up = nodes[p].1;
                }
            }
            let mask = Tensor::from_vec(mask, (n, cached + n), &dev)?;
            let mut caches = state.caches.clone();
            let hidden =
                self.decoder
                    .forward(&tokens, &positions, &mut caches, Some(&mask), &self.ctx)?;
            let logits = self
                .decoder
                .logits(&hidden, allowed_t.as_ref(), &self.ctx)?;
            log_softmax(&logits)?.to_vec2::<f32>()?
        };
        Ok(continuations
            .iter()
            .map(|c| {
                let mut total = 0f32;
                for (k, &tok) in c.iter().enumerate() {
                    let dist = if k == 0 {
                        &first
                    } else {
                        &node_logp[index[&c[..k]]]
                    };
                    total += column(tok).map_or(f32::NEG_INFINITY, |col| dist[col]);
                }
                total
            })
            .collect())
    }

    /// Greedy generation: at most `max_new` tokens after `prompt`, stopping after `stop`.
    pub fn generate(
        &self,
        prompt: &[u32],
        max_new: usize,
        stop: Option<u32>,
    ) -> Result<Vec<u32>, ModelError> {
        let mut state = self.extend(&self.empty(), prompt)?;
        let mut out = Vec::new();
        for _ in 0..max_new {
            let Some(logits) = state.logits() else { break };
            let next = logits.argmax(D::Minus1)?.to_scalar::<u32>()?;
            out.push(next);
            if Some(next) == stop || state.len() + 1 > self.config.max_positions {
                break;
            }
            state = self.extend(&state, &[next])?;
        }
        Ok(out)
    }
}

/// Recent states, for prompts that start with a sequence seen before.
#[derive(Debug, Default)]
pub struct PrefixCache {
    states: Vec<State>,
    capacity: usize,
    /// Tokens computed and tokens reused, over the cache's life.
    pub computed: usize,
    pub reused: usize,
}

impl PrefixCache {
    pub fn new(capacity: usize) -> PrefixCache {
        PrefixCache {
            capacity: capacity.max(1),
            ..PrefixCache::default()
        }
    }

    /// The state after `tokens`, computing only what no cached state covers; the result is
    /// cached.
    pub fn state(&mut self, model: &Model, tokens: &[u32]) -> Result<State, ModelError> {
        let best = self
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let common = s
                    .tokens
                    .iter()
                    .zip(tokens)
                    .take_while(|(a, b)| a == b)
                    .count();
                (i, common)
            })
            .max_by_key(|&(_, common)| common);
        let state = match best {
            Some((i, common)) if common == tokens.len() && common == self.states[i].len() => {
                let s = self.states.remove(i);
                self.reused += common;
                s
            }
            Some((i, common)) if common > 0 => {
                // Keep at least one token to compute, so the last logits are fresh.
                let keep = common.min(tokens.len() - 1);
                let base = self.states[i].truncated(keep)?;
                self.reused += keep;
                self.computed += tokens.len() - keep;
                model.extend(&base, &tokens[keep..])?
            }
            _ => {
                self.computed += tokens.len();
                model.extend(&model.empty(), tokens)?
            }
        };
        self.states.insert(0, state.clone());
        self.states.truncate(self.capacity);
        Ok(state)
    }
}

#[cfg(test)]
mod tests;
