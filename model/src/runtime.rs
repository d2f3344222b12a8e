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
//!   continuations share it. Constrained, each step is normalized over the tokens that can
//!   follow, so only the tree's branching points are run, and only the output rows of the
//!   possible tokens are computed.

use std::path::Path;

use candle_core::{Device, Tensor, D};

use crate::config::{Architecture, Config};
use crate::decoder::Decoder;
use crate::nn::{causal_mask, Ctx, KvCache};
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
    #[error("{path}: {message}")]
    Thresholds { path: String, message: String },
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// A model directory, loaded and verified.
pub struct Model {
    pub config: Config,
    pub tokenizer: tokenizers::Tokenizer,
    decoder: Decoder,
    /// The pointer head, if it has one.
    pointer: Option<Pointer>,
    pub ctx: Ctx,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A pointer head's projections, each `[pointer_size, width]`.
struct Pointer {
    q: Tensor,
    k: Tensor,
    /// The match term's (`crate::pointer`): request tokens, entry tokens.
    matching: Option<(Tensor, Tensor)>,
}

/// The KV caches after a token sequence, and the logits that follow it.
#[derive(Debug, Clone)]
pub struct State {
    pub tokens: Vec<u32>,
    caches: Vec<KvCache>,
    /// Logits `[vocab]` after the last token (`None` for the empty state).
    last: Option<Tensor>,
    /// Final-normed hidden states `[len, width]` of every position, kept only by a model
    /// with a pointer head (which reads candidates at earlier positions).
    hidden: Option<Tensor>,
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
            hidden: self
                .hidden
                .as_ref()
                .map(|h| h.narrow(0, 0, n))
                .transpose()?,
        })
    }
}

/// `dir/config.json` and `dir/tokenizer.json`.
pub(crate) fn read_config_and_tokenizer(
    dir: &Path,
) -> Result<(Config, tokenizers::Tokenizer), ModelError> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|source| ModelError::Read {
        path: config_path.display().to_string(),
        source,
    })?;
    let config = Config::from_json(&text)?;
    let tokenizer = tokenizer::read(&dir.join("tokenizer.json"))?;
    Ok((config, tokenizer))
}

/// The decoder of `config`'s architecture from `weights` (FFNs offloaded when `weights` holds
/// only the resident tensors).
pub(crate) fn build_decoder(config: &Config, weights: &Loaded) -> Result<Decoder, ModelError> {
    Ok(match config.architecture {
        Architecture::Llama => llama::build(config, weights)?,
        Architecture::Opt => opt::build(config, weights)?,
        Architecture::Deixis => deixis::build(config, weights)?,
    })
}

impl Model {
    /// Loads `dir/config.json`, `dir/tokenizer.json` and `dir/weights.bin`.
    pub fn load(dir: &Path) -> Result<Model, ModelError> {
        let (config, tokenizer) = read_config_and_tokenizer(dir)?;
        let weights = Loaded::read(&dir.join("weights.bin"))?;
        let mut decoder = build_decoder(&config, &weights)?;
        if let Some(cats) = crate::flash::predictor::Thresholds::read(dir)? {
            cats.apply(&mut decoder);
        }
        let pointer = match config.pointer_size {
            0 => None,
            p => {
                let shape = [p, config.hidden_size];
                let matching = if config.pointer_match {
                    Some((
                        weights.take("pointer.u.weight", &shape)?,
                        weights.take("pointer.v.weight", &shape)?,
                    ))
                } else {
                    None
                };
                Some(Pointer {
                    q: weights.take("pointer.q.weight", &shape)?,
                    k: weights.take("pointer.k.weight", &shape)?,
                    matching,
                })
            }
        };
        Ok(Model {
            config,
            tokenizer,
            decoder,
            pointer,
            ctx: Ctx::default(),
        })
    }

    /// Parameters of the model (embeddings counted once when tied).
    pub fn parameters(&self) -> usize {
        self.decoder.parameters(self.config.tie_embeddings) as usize
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
            hidden: None,
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

    /// Runs `tokens` after `state` (extending it, logits not set); returns their hidden states.
    fn run(&self, state: &mut State, tokens: &[u32]) -> Result<Tensor, ModelError> {
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
        state.tokens.extend_from_slice(tokens);
        if self.pointer.is_some() {
            state.hidden = Some(match state.hidden.take() {
                Some(h) => Tensor::cat(&[&h, &hidden], 0)?,
                None => hidden.clone(),
            });
        }
        Ok(hidden)
    }

    /// Whether the model answers by pointing (`Model::point`).
    pub fn has_pointer(&self) -> bool {
        self.pointer.is_some()
    }

    /// The pointer head's log-probabilities, at position `query` of `state`, of the candidates
    /// whose entries are at positions `entries` (first and last token; the dot term reads the
    /// last), normalized over them. The match term, when the model has one, reads the request
    /// at positions `request`.
    pub fn point(
        &self,
        state: &State,
        query: usize,
        entries: &[(usize, usize)],
        request: std::ops::Range<usize>,
    ) -> Result<Vec<f32>, ModelError> {
        let msg = |m: String| ModelError::Candle(candle_core::Error::Msg(m));
        let (Some(pointer), Some(hidden)) = (&self.pointer, &state.hidden) else {
            return Err(msg("the model has no pointer head".into()));
        };
        let past = entries
            .iter()
            .flat_map(|&(first, last)| [first, last])
            .chain([query, request.end.saturating_sub(1)])
            .find(|&p| p >= state.len());
        if let Some(bad) = past {
            return Err(msg(format!(
                "position {bad} is past the state's {} tokens",
                state.len()
            )));
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let dev = Device::Cpu;
        let rows = |at: &[usize]| -> candle_core::Result<Tensor> {
            let at: Vec<u32> = at.iter().map(|&p| p as u32).collect();
            hidden.index_select(&Tensor::new(at.as_slice(), &dev)?, 0)
        };
        let keys: Vec<usize> = entries.iter().map(|&(_, last)| last).collect();
        let q = rows(&[query])?.matmul(&pointer.q.t()?)?;
        let k = rows(&keys)?.matmul(&pointer.k.t()?)?;
        let mut scores = (k.matmul(&q.t()?)? / (pointer.q.dim(0)? as f64).sqrt())?.flatten_all()?;
        if let Some((u, v)) = &pointer.matching {
            let request: Vec<u32> = request.map(|i| i as u32).collect();
            let m = crate::pointer::matches(hidden, &request, entries, u, v)?;
            scores = (scores + m)?;
        }
        let scores: Vec<f32> = scores.to_vec1()?;
        let lse = log_sum_exp(&scores);
        Ok(scores.iter().map(|s| s - lse).collect())
    }

    /// Logits `[tokens, vocab]` of every position, after `state` (which is extended).
    pub fn forward_all(&self, state: &mut State, tokens: &[u32]) -> Result<Tensor, ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::Candle(candle_core::Error::Msg(
                "forward_all needs at least one token".into(),
            )));
        }
        let hidden = self.run(state, tokens)?;
        let logits = self.decoder.logits(&hidden, None, &self.ctx)?;
        state.last = Some(logits.get(tokens.len() - 1)?);
        Ok(logits)
    }

    /// Runs `tokens` after `state`; returns the new state (the old one is unchanged).
    pub fn extend(&self, state: &State, tokens: &[u32]) -> Result<State, ModelError> {
        let mut next = state.clone();
        if tokens.is_empty() {
            return Ok(next);
        }
        let hidden = self.run(&mut next, tokens)?;
        // Only the last position's logits are needed.
        let last = hidden.narrow(0, tokens.len() - 1, 1)?;
        next.last = Some(self.decoder.logits(&last, None, &self.ctx)?.squeeze(0)?);
        Ok(next)
    }

    /// Log-probabilities of each continuation after `state` (which must not be empty): the
    /// sum over its tokens.
    ///
    /// With `constrained`, this is constrained decoding over the continuations: at each step
    /// only the tokens that continue some continuation with the same prefix are possible, and
    /// the distribution is normalized over them. A step with a single possible token costs
    /// nothing (its probability is 1), so only the branching points of the tree are run
    /// (for the prompt numbers 1..=30 and a terminator: the three prefixes "1", "2", "3"),
    /// and only the output rows of the possible tokens are computed.
    pub fn score(
        &self,
        state: &State,
        continuations: &[Vec<u32>],
        constrained: bool,
    ) -> Result<Vec<f32>, ModelError> {
        let Some(first) = &state.last else {
            return Err(ModelError::Candle(candle_core::Error::Msg(
                "scoring needs a non-empty state".into(),
            )));
        };
        // The tree: every prefix of a continuation and the tokens that follow it.
        let mut children: std::collections::HashMap<&[u32], Vec<u32>> = Default::default();
        for c in continuations {
            self.check(c, state.len())?;
            for k in 0..c.len() {
                let next = children.entry(&c[..k]).or_default();
                if !next.contains(&c[k]) {
                    next.push(c[k]);
                }
            }
        }
        // Prefixes whose distribution is needed, and their ancestors (they must be in the
        // pass for attention); parents before children.
        let mut needed: Vec<&[u32]> = children
            .iter()
            .filter(|(p, next)| !p.is_empty() && (!constrained || next.len() > 1))
            .map(|(p, _)| *p)
            .collect();
        let mut all: std::collections::HashSet<&[u32]> = Default::default();
        for p in &needed {
            for end in 1..=p.len() {
                all.insert(&p[..end]);
            }
        }
        let mut nodes: Vec<&[u32]> = all.into_iter().collect();
        nodes.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        needed.sort();
        let at: std::collections::HashMap<&[u32], usize> =
            nodes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let dev = Device::Cpu;
        // One distribution per needed prefix (and the state's own), over the possible tokens
        // (constrained) or the whole vocabulary, as a map token -> log-probability.
        let distribution = |logits: &[f32], next: &[u32]| -> Vec<(u32, f32)> {
            let lse = log_sum_exp(logits);
            if constrained {
                next.iter()
                    .zip(logits)
                    .map(|(&t, l)| (t, l - lse))
                    .collect()
            } else {
                next.iter()
                    .map(|&t| (t, logits[t as usize] - lse))
                    .collect()
            }
        };
        let mut dists: std::collections::HashMap<&[u32], Vec<(u32, f32)>> = Default::default();
        let root_next = children.get(&[][..]).cloned().unwrap_or_default();
        let root_logits: Vec<f32> = if constrained {
            first
                .index_select(&Tensor::new(root_next.as_slice(), &dev)?, 0)?
                .to_vec1()?
        } else {
            first.to_vec1()?
        };
        dists.insert(&[], distribution(&root_logits, &root_next));
        if !nodes.is_empty() {
            let n = nodes.len();
            let cached = state.len();
            let tokens: Vec<u32> = nodes.iter().map(|p| p[p.len() - 1]).collect();
            let positions: Vec<u32> = nodes
                .iter()
                .map(|p| (cached + p.len() - 1) as u32)
                .collect();
            // Each node sees the whole state, itself and its ancestors.
            let mut mask = vec![f32::NEG_INFINITY; n * (cached + n)];
            for (i, p) in nodes.iter().enumerate() {
                let row = &mut mask[i * (cached + n)..(i + 1) * (cached + n)];
                row[..cached].fill(0.0);
                for end in 1..=p.len() {
                    row[cached + at[&p[..end]]] = 0.0;
                }
            }
            let mask = Tensor::from_vec(mask, (n, cached + n), &dev)?;
            let mut caches = state.caches.clone();
            let hidden =
                self.decoder
                    .forward(&tokens, &positions, &mut caches, Some(&mask), &self.ctx)?;
            let rows: Vec<u32> = needed.iter().map(|p| at[p] as u32).collect();
            let hidden = hidden.index_select(&Tensor::new(rows.as_slice(), &dev)?, 0)?;
            if constrained {
                // Only the output rows of the tokens some needed prefix can continue with.
                let mut vocab: Vec<u32> = needed
                    .iter()
                    .flat_map(|p| children[p].iter().copied())
                    .collect();
                vocab.sort_unstable();
                vocab.dedup();
                let logits = self
                    .decoder
                    .logits(
                        &hidden,
                        Some(&Tensor::new(vocab.as_slice(), &dev)?),
                        &self.ctx,
                    )?
                    .to_vec2::<f32>()?;
                for (p, row) in needed.iter().zip(logits) {
                    let next = &children[p];
                    let picked: Vec<f32> = next
                        .iter()
                        .map(|t| row[vocab.binary_search(t).unwrap_or(0)])
                        .collect();
                    dists.insert(p, distribution(&picked, next));
                }
            } else {
                let logits = self
                    .decoder
                    .logits(&hidden, None, &self.ctx)?
                    .to_vec2::<f32>()?;
                for (p, row) in needed.iter().zip(logits) {
                    dists.insert(p, distribution(&row, &children[p]));
                }
            }
        }
        Ok(continuations
            .iter()
            .map(|c| {
                (0..c.len())
                    .map(|k| match dists.get(&c[..k]) {
                        Some(d) => d
                            .iter()
                            .find(|(t, _)| *t == c[k])
                            .map_or(f32::NEG_INFINITY, |(_, l)| *l),
                        // A single possible token under constraints: probability 1.
                        None => 0.0,
                    })
                    .sum()
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

/// `ln(sum(exp(v)))`, computed without overflow.
fn log_sum_exp(v: &[f32]) -> f32 {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + v.iter().map(|x| (x - max).exp()).sum::<f32>().ln()
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
