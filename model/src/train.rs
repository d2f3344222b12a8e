//! Training deixis's own decoder from scratch with candle on the CPU: seeded initialization,
//! a training forward pass built from ops that record gradients (candle's fused RMSNorm,
//! softmax and RoPE kernels do not), cross-entropy on the answer tokens (plus the pointer
//! head's on its choices, when the config has one, and, weighted by `Trainer::prompt_weight`,
//! an auxiliary next-token loss on the prompt), AdamW,
//! checkpoints that resume exactly (parameters and optimizer moments), and export into a
//! model directory the runtime loads.
//!
//! The forward pass here and the runtime's (`decoder.rs`) are two implementations of one
//! architecture; a test checks they give the same logits.

use std::path::Path;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use crate::config::{Architecture, Config, FORMAT_VERSION};
use crate::weights::{self, FfnWeights};

/// One training example: tokens, and which positions' next token is scored (the answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub tokens: Vec<u32>,
    /// Positions `i` whose prediction of `tokens[i + 1]` counts in the loss.
    pub scored: Vec<usize>,
    /// The pointer head's choices (a model without one ignores them).
    pub choices: Vec<Choice>,
    /// Positions of the request's tokens (dialogue and request), read by the pointer's match
    /// term (`crate::pointer`).
    pub request: std::ops::Range<usize>,
}

/// One choice of the pointer head: at position `query`, which of the candidates whose entries
/// are at positions `entries` (first and last token; the last is where the pointer reads it)
/// comes next in the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub query: usize,
    pub entries: Vec<(usize, usize)>,
    /// Index into `entries`.
    pub target: usize,
    /// Added to each entry's logit (`Config::lexical_weight` times the baseline's score), or
    /// empty: none.
    pub prior: Vec<f32>,
}

/// The trainable parameters, by our weight names.
pub struct Trainer {
    pub config: Config,
    vars: Vec<(String, Var)>,
    optimizer: AdamW,
    rope: (Tensor, Tensor),
    /// Optimizer steps taken.
    pub step: usize,
    /// Weight of an auxiliary next-token loss on every prompt position, added to the answer's
    /// loss (0: the answer alone).
    pub prompt_weight: f64,
}

/// AdamW with decoupled weight decay (on matrices, not on norm weights), written here rather
/// than candle-nn's because candle-nn's keeps its moments private: a checkpoint must hold them
/// for a resumed run to continue exactly where the first one stopped.
#[derive(Debug)]
struct AdamW {
    lr: f64,
    weight_decay: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// First and second moments, one pair per parameter (in `Trainer::vars` order).
    moments: Vec<(Tensor, Tensor)>,
}

impl AdamW {
    fn new(vars: &[(String, Var)], lr: f64) -> candle_core::Result<AdamW> {
        let moments = vars
            .iter()
            .map(|(_, v)| Ok((v.zeros_like()?, v.zeros_like()?)))
            .collect::<candle_core::Result<_>>()?;
        Ok(AdamW {
            lr,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            moments,
        })
    }

    /// One update of every parameter from the gradients of `loss`; `t` counts from 1.
    fn step(&mut self, vars: &[(String, Var)], loss: &Tensor, t: usize) -> candle_core::Result<()> {
        let grads = loss.backward()?;
        let c1 = 1.0 - self.beta1.powi(t as i32);
        let c2 = 1.0 - self.beta2.powi(t as i32);
        for ((name, var), (m, v)) in vars.iter().zip(&mut self.moments) {
            let Some(g) = grads.get(var) else { continue };
            *m = ((&*m * self.beta1)? + (g * (1.0 - self.beta1))?)?;
            *v = ((&*v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let update = ((&*m / c1)? / ((&*v / c2)?.sqrt()? + self.eps)?)?;
            let decay = if name.ends_with("norm.weight") {
                1.0
            } else {
                1.0 - self.lr * self.weight_decay
            };
            var.set(&((var.as_tensor() * decay)? - (update * self.lr)?)?)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// A deixis-architecture config of the given size.
pub fn config(
    vocab: usize,
    width: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    ffn: usize,
    max_positions: usize,
) -> Config {
    Config {
        format_version: FORMAT_VERSION,
        architecture: Architecture::Deixis,
        vocab_size: vocab,
        hidden_size: width,
        intermediate_size: ffn,
        num_layers: layers,
        num_heads: heads,
        num_kv_heads: kv_heads,
        max_positions,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings: true,
        bos_token_id: None,
        eos_token_id: Some(1),
        pointer_size: 0,
        pointer_match: false,
        lexical_weight: 0.0,
    }
}

impl Trainer {
    /// Fresh parameters from `seed` (N(0, 0.02), norms at 1).
    pub fn new(config: Config, seed: u64, lr: f64) -> candle_core::Result<Trainer> {
        let dev = Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0f32, 0.02).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let (v, d, i) = (
            config.vocab_size,
            config.hidden_size,
            config.intermediate_size,
        );
        let hd = config.head_dim();
        let mut shapes: Vec<(String, Vec<usize>, bool)> = vec![("embed".into(), vec![v, d], false)];
        for l in 0..config.num_layers {
            let p = |n: &str| format!("layers.{l}.{n}");
            shapes.push((p("attn_norm.weight"), vec![d], true));
            shapes.push((p("q.weight"), vec![config.num_heads * hd, d], false));
            shapes.push((p("k.weight"), vec![config.num_kv_heads * hd, d], false));
            shapes.push((p("v.weight"), vec![config.num_kv_heads * hd, d], false));
            shapes.push((p("o.weight"), vec![d, config.num_heads * hd], false));
            shapes.push((p("ffn_norm.weight"), vec![d], true));
            shapes.push((p("up.weight"), vec![i, d], false));
            shapes.push((p("down.weight"), vec![d, i], false));
        }
        shapes.push(("norm.weight".into(), vec![d], true));
        if config.pointer_size > 0 {
            shapes.push((
                "pointer.q.weight".into(),
                vec![config.pointer_size, d],
                false,
            ));
            shapes.push((
                "pointer.k.weight".into(),
                vec![config.pointer_size, d],
                false,
            ));
        }
        if config.pointer_match {
            for name in ["pointer.u.weight", "pointer.v.weight"] {
                shapes.push((name.into(), vec![config.pointer_size, d], false));
            }
        }
        let mut vars = Vec::with_capacity(shapes.len());
        for (name, shape, ones) in shapes {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if ones {
                vec![1.0; n]
            } else {
                (0..n).map(|_| normal.sample(&mut rng)).collect()
            };
            vars.push((
                name,
                Var::from_tensor(&Tensor::from_vec(values, shape, &dev)?)?,
            ));
        }
        let optimizer = AdamW::new(&vars, lr)?;
        let rope = rope_tables(&config, &dev)?;
        Ok(Trainer {
            config,
            vars,
            optimizer,
            rope,
            step: 0,
            prompt_weight: 0.0,
        })
    }

    fn var(&self, name: &str) -> candle_core::Result<&Tensor> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_tensor())
            .ok_or_else(|| candle_core::Error::Msg(format!("no parameter {name}")))
    }

    /// Logits `[batch, time, vocab]` of token ids `[batch, time]` (equal lengths).
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.hidden(ids)?.broadcast_matmul(&self.var("embed")?.t()?)
    }

    /// Final-normed hidden states `[batch, time, width]` of token ids `[batch, time]`.
    fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let (b, t) = ids.dims2()?;
        let (h, kv, hd) = (c.num_heads, c.num_kv_heads, c.head_dim());
        let eps = c.norm_eps;
        let embed = self.var("embed")?;
        let mut x = embed
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, c.hidden_size))?;
        let mask = causal(t, ids.device())?;
        let cos = self.rope.0.narrow(0, 0, t)?;
        let sin = self.rope.1.narrow(0, 0, t)?;
        for l in 0..c.num_layers {
            let p = |n: &str| format!("layers.{l}.{n}");
            let hdn = rms_norm(&x, self.var(&p("attn_norm.weight"))?, eps)?;
            let proj = |w: &str, heads: usize| -> candle_core::Result<Tensor> {
                hdn.broadcast_matmul(&self.var(&p(w))?.t()?)?
                    .reshape((b, t, heads, hd))?
                    .transpose(1, 2)
            };
            let q = rope(&proj("q.weight", h)?, &cos, &sin)?;
            let k = rope(&proj("k.weight", kv)?, &cos, &sin)?;
            let v = proj("v.weight", kv)?;
            let (k, v) = if h == kv {
                (k, v)
            } else {
                let g = h / kv;
                let rep = |x: Tensor| -> candle_core::Result<Tensor> {
                    x.unsqueeze(2)?
                        .broadcast_as((b, kv, g, t, hd))?
                        .reshape((b, h, t, hd))
                };
                (rep(k)?, rep(v)?)
            };
            let att = (q.contiguous()?.matmul(&k.t()?.contiguous()?)? / (hd as f64).sqrt())?
                .broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax(&att, D::Minus1)?;
            let y = att
                .matmul(&v.contiguous()?)?
                .transpose(1, 2)?
                .reshape((b, t, h * hd))?;
            x = (x + y.broadcast_matmul(&self.var(&p("o.weight"))?.t()?)?)?;
            let hdn = rms_norm(&x, self.var(&p("ffn_norm.weight"))?, eps)?;
            let up = hdn
                .broadcast_matmul(&self.var(&p("up.weight"))?.t()?)?
                .relu()?;
            x = (x + up.broadcast_matmul(&self.var(&p("down.weight"))?.t()?)?)?;
        }
        rms_norm(&x, self.var("norm.weight")?, eps)
    }

    /// Mean cross-entropy of the pointer head's choices in `batch`, from the hidden states
    /// `[batch * time, width]` (`t` positions per example). `None` without a head or choices.
    fn pointer_loss(
        &self,
        hidden: &Tensor,
        batch: &[Example],
        t: usize,
    ) -> candle_core::Result<Option<Tensor>> {
        let p = self.config.pointer_size;
        if p == 0 || batch.iter().all(|e| e.choices.is_empty()) {
            return Ok(None);
        }
        let dev = Device::Cpu;
        // Every choice scores every key of the batch; keys of other choices are masked out,
        // so one matrix product serves the whole batch.
        let (mut queries, mut keys, mut spans, mut targets, mut priors) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut matches = Vec::new();
        for (n, e) in batch.iter().enumerate() {
            let first = keys.len();
            for c in &e.choices {
                queries.push((n * t + c.query) as u32);
                spans.push((keys.len(), c.entries.len()));
                priors.push(&c.prior);
                targets.push((keys.len() + c.target) as u32);
                keys.extend(c.entries.iter().map(|&(_, k)| (n * t + k) as u32));
            }
            if self.config.pointer_match && keys.len() > first {
                let request: Vec<u32> = e.request.clone().map(|i| (n * t + i) as u32).collect();
                let entries: Vec<(usize, usize)> = e
                    .choices
                    .iter()
                    .flat_map(|c| &c.entries)
                    .map(|&(a, b)| (n * t + a, n * t + b))
                    .collect();
                matches.push(crate::pointer::matches(
                    hidden,
                    &request,
                    &entries,
                    self.var("pointer.u.weight")?,
                    self.var("pointer.v.weight")?,
                )?);
            }
        }
        // Large and finite: -inf could turn into NaN in a backward pass.
        let mut mask = vec![-1e9f32; queries.len() * keys.len()];
        for (row, (&(start, len), prior)) in spans.iter().zip(&priors).enumerate() {
            let at = row * keys.len() + start;
            if prior.len() == len {
                mask[at..at + len].copy_from_slice(prior);
            } else {
                mask[at..at + len].fill(0.0);
            }
        }
        let pick = |rows: &[u32], w: &str| -> candle_core::Result<Tensor> {
            hidden
                .index_select(&Tensor::new(rows, &dev)?, 0)?
                .matmul(&self.var(w)?.t()?)
        };
        let q = pick(&queries, "pointer.q.weight")?;
        let k = pick(&keys, "pointer.k.weight")?;
        let mut scores = (q.matmul(&k.t()?)? / (p as f64).sqrt())?
            .broadcast_add(&Tensor::from_vec(mask, (queries.len(), keys.len()), &dev)?)?;
        if !matches.is_empty() {
            scores = scores.broadcast_add(&Tensor::cat(&matches, 0)?.unsqueeze(0)?)?;
        }
        let loss =
            candle_nn::loss::cross_entropy(&scores, &Tensor::new(targets.as_slice(), &dev)?)?;
        Ok(Some(loss))
    }

    /// Mean cross-entropy of the scored positions of a batch (padded with 0 to one length).
    pub fn loss(&self, batch: &[Example]) -> candle_core::Result<Tensor> {
        Ok(self.losses(batch, false)?.0)
    }

    /// The answer's loss (the mean cross-entropy of its tokens, plus the pointer head's of its
    /// choices), and with `prompt` the mean cross-entropy of every other position (before
    /// padding) too.
    fn losses(
        &self,
        batch: &[Example],
        prompt: bool,
    ) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        let t = batch.iter().map(|e| e.tokens.len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(batch.len() * t);
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for (n, e) in batch.iter().enumerate() {
            ids.extend(&e.tokens);
            ids.extend(std::iter::repeat_n(0u32, t - e.tokens.len()));
            for &i in &e.scored {
                if i + 1 < e.tokens.len() {
                    rows.push((n * t + i) as u32);
                    targets.push(e.tokens[i + 1]);
                }
            }
        }
        let dev = Device::Cpu;
        let ids = Tensor::from_vec(ids, (batch.len(), t), &dev)?;
        let hidden = self
            .hidden(&ids)?
            .reshape((batch.len() * t, self.config.hidden_size))?;
        let logits = hidden.matmul(&self.var("embed")?.t()?)?;
        let pointer = self.pointer_loss(&hidden, batch, t)?;
        let answer = if rows.is_empty() {
            pointer.ok_or_else(|| candle_core::Error::Msg("the batch scores nothing".into()))?
        } else {
            let picked = logits.index_select(&Tensor::new(rows.as_slice(), &dev)?, 0)?;
            let text =
                candle_nn::loss::cross_entropy(&picked, &Tensor::new(targets.as_slice(), &dev)?)?;
            match pointer {
                Some(pointer) => (text + pointer)?,
                None => text,
            }
        };
        if !prompt {
            return Ok((answer, None));
        }
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        for (n, e) in batch.iter().enumerate() {
            for i in 0..e.tokens.len().saturating_sub(1) {
                if !e.scored.contains(&i) {
                    rows.push((n * t + i) as u32);
                    targets.push(e.tokens[i + 1]);
                }
            }
        }
        if rows.is_empty() {
            return Ok((answer, None));
        }
        let picked = logits.index_select(&Tensor::new(rows.as_slice(), &dev)?, 0)?;
        let rest =
            candle_nn::loss::cross_entropy(&picked, &Tensor::new(targets.as_slice(), &dev)?)?;
        Ok((answer, Some(rest)))
    }

    /// One optimizer step on a batch; returns the loss before it.
    /// The answer's loss is returned; the prompt's, weighted by `prompt_weight`, is added to
    /// what is optimized.
    pub fn step(&mut self, batch: &[Example]) -> candle_core::Result<f32> {
        let (answer, rest) = self.losses(batch, self.prompt_weight > 0.0)?;
        let total = match rest {
            Some(rest) => (&answer + (rest * self.prompt_weight)?)?,
            None => answer.clone(),
        };
        self.step += 1;
        self.optimizer.step(&self.vars, &total, self.step)?;
        answer.to_scalar::<f32>()
    }

    /// The learning rate of the following steps.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.lr = lr;
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.vars.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Saves parameters, optimizer moments and the step count (safetensors) to `path`.
    pub fn save_checkpoint(&self, path: &Path) -> candle_core::Result<()> {
        let mut tensors = HashMap::new();
        for ((name, var), (m, v)) in self.vars.iter().zip(&self.optimizer.moments) {
            tensors.insert(format!("param.{name}"), var.as_tensor().clone());
            tensors.insert(format!("adam_m.{name}"), m.clone());
            tensors.insert(format!("adam_v.{name}"), v.clone());
        }
        tensors.insert(
            "step".to_owned(),
            Tensor::new(&[self.step as u32], &Device::Cpu)?,
        );
        let tmp = path.with_extension("tmp");
        candle_core::safetensors::save(&tensors, &tmp)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Restores what `save_checkpoint` wrote; the config must be the one it was saved with.
    pub fn load_checkpoint(&mut self, path: &Path) -> candle_core::Result<()> {
        self.load(path, true)
    }

    /// Starts from another run's parameters (its checkpoint), with fresh optimizer moments
    /// and step 0: a second stage of training on other data.
    pub fn load_parameters(&mut self, path: &Path) -> candle_core::Result<()> {
        self.load(path, false)
    }

    fn load(&mut self, path: &Path, whole: bool) -> candle_core::Result<()> {
        let mut tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
        let mut take = |key: String, like: &Tensor| -> candle_core::Result<Tensor> {
            let t = tensors.remove(&key).ok_or_else(|| {
                candle_core::Error::Msg(format!(
                    "checkpoint {} has no {key}: was it written with another config?",
                    path.display()
                ))
            })?;
            if t.dims() != like.dims() {
                return Err(candle_core::Error::Msg(format!(
                    "checkpoint {}: {key} is {:?}, the config makes it {:?}",
                    path.display(),
                    t.dims(),
                    like.dims()
                )));
            }
            Ok(t)
        };
        for ((name, var), (m, v)) in self.vars.iter().zip(&mut self.optimizer.moments) {
            var.set(&take(format!("param.{name}"), var.as_tensor())?)?;
            if whole {
                *m = take(format!("adam_m.{name}"), m)?;
                *v = take(format!("adam_v.{name}"), v)?;
            }
        }
        if !whole {
            return Ok(());
        }
        let step = tensors
            .remove("step")
            .ok_or_else(|| candle_core::Error::Msg("checkpoint has no step".into()))?;
        self.step = step.to_vec1::<u32>()?[0] as usize;
        Ok(())
    }

    /// Writes a model directory (config.json, tokenizer.json, weights.bin) the runtime loads.
    pub fn export(
        &self,
        dir: &Path,
        tokenizer: &tokenizers::Tokenizer,
    ) -> Result<(), crate::convert::ConvertError> {
        let write_err = |source| crate::convert::ConvertError::Write {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write_err)?;
        let mut resident = Vec::new();
        let mut ffn: Vec<FfnWeights> = Vec::new();
        for l in 0..self.config.num_layers {
            ffn.push(FfnWeights {
                up: self.var(&format!("layers.{l}.up.weight"))?.clone(),
                gate: None,
                down: self.var(&format!("layers.{l}.down.weight"))?.clone(),
            });
        }
        for (name, var) in &self.vars {
            if !(name.ends_with(".up.weight") || name.ends_with(".down.weight")) {
                resident.push((name.clone(), var.as_tensor().clone()));
            }
        }
        weights::write(
            &dir.join("weights.bin"),
            weights::DType::F32,
            &resident,
            &ffn,
        )?;
        std::fs::write(dir.join("config.json"), self.config.to_json()).map_err(write_err)?;
        tokenizer
            .save(dir.join("tokenizer.json"), false)
            .map_err(|e| crate::tokenizer::TokenizerError::Build(e.to_string()))?;
        Ok(())
    }
}

fn rope_tables(config: &Config, dev: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let hd = config.head_dim();
    let inv: Vec<f32> = (0..hd)
        .step_by(2)
        .map(|i| 1.0 / config.rope_theta.powf(i as f32 / hd as f32))
        .collect();
    let inv = Tensor::from_vec(inv, (1, hd / 2), dev)?;
    let pos = Tensor::arange(0u32, config.max_positions as u32, dev)?
        .to_dtype(DType::F32)?
        .reshape((config.max_positions, 1))?;
    let f = pos.matmul(&inv)?;
    let f = Tensor::cat(&[&f, &f], 1)?;
    Ok((f.cos()?, f.sin()?))
}

/// Rotate-half RoPE from ops that record gradients; `x` is `[b, heads, t, hd]`.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let hd = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, hd / 2)?;
    let x2 = x.narrow(D::Minus1, hd / 2, hd / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// RMSNorm from ops that record gradients.
fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)
}

fn causal(t: usize, dev: &Device) -> candle_core::Result<Tensor> {
    let v: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { -1e9 }))
        .collect();
    Tensor::from_vec(v, (t, t), dev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Model;

    fn texts() -> Vec<String> {
        (0..200)
            .map(|k| {
                format!(
                    "call {} {}\n",
                    ["ada", "kai", "noor", "zara"][k % 4],
                    k % 10
                )
            })
            .collect()
    }

    /// The first `n` texts as examples, scoring the positions `scored` names for a length.
    fn examples(
        tok: &tokenizers::Tokenizer,
        n: usize,
        scored: impl Fn(usize) -> Vec<usize>,
    ) -> Vec<Example> {
        texts()
            .iter()
            .take(n)
            .map(|t| {
                let tokens = crate::tokenizer::encode(tok, t).expect("encode");
                let scored = scored(tokens.len());
                Example {
                    tokens,
                    scored,
                    choices: Vec::new(),
                    request: 0..0,
                }
            })
            .collect()
    }

    #[test]
    fn the_prompt_loss_trains_the_prompt_and_the_answer_loss_is_what_is_reported() {
        let tok = crate::tokenizer::train(texts().into_iter(), 120, false).expect("tokenizer");
        let vocab = tok.get_vocab_size(true);
        // Only the last position is the answer; the rest is prompt.
        let data = examples(&tok, 16, |len| vec![len - 2]);
        let prompt_loss = |t: &Trainer| -> f32 {
            let (_, rest) = t.losses(&data, true).expect("losses");
            rest.expect("prompt positions").to_scalar().expect("f32")
        };
        let mut trainers = Vec::new();
        for weight in [0.0, 1.0] {
            let mut t = Trainer::new(config(vocab, 32, 2, 4, 2, 64, 64), 5, 3e-3).expect("trainer");
            t.prompt_weight = weight;
            let answer = t
                .loss(&data)
                .expect("loss")
                .to_scalar::<f32>()
                .expect("f32");
            assert_eq!(
                t.step(&data).expect("step"),
                answer,
                "step reports the answer's loss"
            );
            for _ in 0..30 {
                t.step(&data).expect("step");
            }
            trainers.push(t);
        }
        let (without, with) = (prompt_loss(&trainers[0]), prompt_loss(&trainers[1]));
        assert!(
            with < without * 0.8,
            "prompt loss {without} without, {with} with"
        );
    }

    #[test]
    fn training_lowers_the_loss_and_the_runtime_runs_what_it_exported() {
        let tok = crate::tokenizer::train(texts().into_iter(), 120, false).expect("tokenizer");
        let vocab = tok.get_vocab_size(true);
        let data = examples(&tok, 16, |len| (0..len - 1).collect());
        let mut trainer =
            Trainer::new(config(vocab, 32, 2, 4, 2, 64, 64), 5, 3e-3).expect("trainer");
        let first = trainer
            .loss(&data)
            .expect("loss")
            .to_scalar::<f32>()
            .expect("f32");
        for _ in 0..60 {
            trainer.step(&data).expect("step");
        }
        let last = trainer
            .loss(&data)
            .expect("loss")
            .to_scalar::<f32>()
            .expect("f32");
        assert!(last < first * 0.6, "loss {first} -> {last}");

        // The same seed gives the same start.
        let again = Trainer::new(config(vocab, 32, 2, 4, 2, 64, 64), 5, 3e-3).expect("trainer");
        let a = again
            .loss(&data)
            .expect("loss")
            .to_scalar::<f32>()
            .expect("f32");
        assert_eq!(a, first);

        // Exported, the runtime's logits equal the trainer's.
        let dir = tempfile::tempdir().expect("dir");
        trainer.export(dir.path(), &tok).expect("export");
        let model = Model::load(dir.path()).expect("load");
        let tokens = &data[3].tokens;
        let ids = Tensor::new(tokens.as_slice(), &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .expect("ids");
        let theirs = trainer
            .forward(&ids)
            .and_then(|l| l.squeeze(0))
            .expect("forward");
        let ours = model
            .forward_all(&mut model.empty(), tokens)
            .expect("runtime");
        let diff = crate::max_diff(&ours, &theirs);
        assert!(diff < 1e-4, "{diff}");

        // Stored again as f16 (`deixis model convert --model`): half the bytes, the same
        // logits to f16's precision.
        let half = tempfile::tempdir().expect("dir");
        let source = crate::convert::Source::Model(dir.path().to_owned());
        crate::convert::convert(&source, half.path(), crate::weights::DType::F16).expect("convert");
        let size = |d: &Path| {
            std::fs::metadata(d.join("weights.bin"))
                .expect("weights")
                .len()
        };
        assert!(size(half.path()) < size(dir.path()));
        let header = weights::read_header(&half.path().join("weights.bin")).expect("header");
        assert_eq!(header.dtype, weights::DType::F16);
        let half = Model::load(half.path()).expect("load f16");
        let f16 = half
            .forward_all(&mut half.empty(), tokens)
            .expect("runtime");
        let diff = crate::max_diff(&f16, &ours);
        assert!(diff > 0.0 && diff < 2e-2, "{diff}");
    }

    #[test]
    fn the_pointer_head_learns_to_point_and_the_runtime_points_as_trained() {
        // Toy pointing: the last token repeats one of the four before it; point at that one.
        // With and without the match term (which reads the last token as the request).
        let tok = crate::tokenizer::train(texts().into_iter(), 120, false).expect("tokenizer");
        let vocab = tok.get_vocab_size(true);
        let base = 10u32;
        let data: Vec<Example> = (0..32u32)
            .map(|k| {
                let mut tokens: Vec<u32> = (0..4).map(|i| base + (k * 7 + i * 5) % 40).collect();
                let target = (k % 4) as usize;
                tokens.push(tokens[target]);
                Example {
                    tokens,
                    scored: Vec::new(),
                    choices: vec![Choice {
                        query: 4,
                        entries: (0..4).map(|i| (i, i)).collect(),
                        target,
                        prior: Vec::new(),
                    }],
                    request: 4..5,
                }
            })
            .collect();
        for matching in [false, true] {
            let mut cfg = config(vocab, 32, 2, 4, 2, 64, 64);
            cfg.pointer_size = 16;
            cfg.pointer_match = matching;
            let mut trainer = Trainer::new(cfg, 5, 1e-2).expect("trainer");
            let loss = |t: &Trainer| {
                t.loss(&data)
                    .and_then(|l| l.to_scalar::<f32>())
                    .expect("loss")
            };
            let first = loss(&trainer);
            assert!(
                (first - 4f32.ln()).abs() < 0.2,
                "an untrained head is near chance: {first} (match {matching})"
            );
            for _ in 0..80 {
                trainer.step(&data).expect("step");
            }
            let last = loss(&trainer);
            assert!(
                last < first * 0.3,
                "pointer loss {first} -> {last} (match {matching})"
            );

            // Exported, the runtime's pointer gives the trainer's probabilities.
            let dir = tempfile::tempdir().expect("dir");
            trainer.export(dir.path(), &tok).expect("export");
            let model = Model::load(dir.path()).expect("load");
            assert!(model.has_pointer());
            for e in &data[..4] {
                let state = model.extend(&model.empty(), &e.tokens).expect("run");
                let ours = model
                    .point(&state, 4, &e.choices[0].entries, e.request.clone())
                    .expect("point");
                assert!((ours.iter().map(|l| l.exp()).sum::<f32>() - 1.0).abs() < 1e-4);
                for target in 0..4 {
                    let mut one = e.clone();
                    one.choices[0].target = target;
                    let theirs = -loss_of(&trainer, &one);
                    assert!(
                        (ours[target] - theirs).abs() < 1e-4,
                        "{ours:?} vs {theirs} (match {matching})"
                    );
                    // A prior in training is the resolver's blend: the runtime's
                    // log-probabilities plus the prior, normalized again.
                    let prior = vec![0.0f32, 1.5, -0.5, 2.0];
                    one.choices[0].prior = prior.clone();
                    let theirs = -loss_of(&trainer, &one);
                    let blended: Vec<f32> = ours.iter().zip(&prior).map(|(l, p)| l + p).collect();
                    let norm = blended.iter().map(|b| b.exp()).sum::<f32>().ln();
                    assert!(
                        (blended[target] - norm - theirs).abs() < 1e-4,
                        "{blended:?} vs {theirs} (match {matching})"
                    );
                }
            }
            // A position past the state is refused, not read.
            let state = model.extend(&model.empty(), &data[0].tokens).expect("run");
            assert!(model.point(&state, 5, &[(0, 0)], 4..5).is_err());
            assert!(model.point(&state, 4, &[(0, 5)], 4..5).is_err());
            assert!(model.point(&state, 4, &[(0, 0)], 4..6).is_err());
        }
    }

    /// The trainer's pointer loss of one example.
    fn loss_of(t: &Trainer, e: &Example) -> f32 {
        t.loss(std::slice::from_ref(e))
            .and_then(|l| l.to_scalar::<f32>())
            .expect("loss")
    }

    #[test]
    fn a_resumed_run_continues_exactly() {
        let tok = crate::tokenizer::train(texts().into_iter(), 120, false).expect("tokenizer");
        let vocab = tok.get_vocab_size(true);
        let data = examples(&tok, 8, |len| (0..len - 1).collect());
        let cfg = config(vocab, 16, 1, 2, 2, 32, 32);
        let mut a = Trainer::new(cfg.clone(), 9, 1e-2).expect("trainer");
        for _ in 0..3 {
            a.step(&data).expect("step");
        }
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("checkpoint.safetensors");
        a.save_checkpoint(&path).expect("save");
        let mut b = Trainer::new(cfg.clone(), 1234, 1e-2).expect("trainer");
        b.load_checkpoint(&path).expect("load");
        assert_eq!(b.step, 3);
        for _ in 0..2 {
            a.step(&data).expect("step");
            b.step(&data).expect("step");
        }
        let la = a.loss(&data).and_then(|l| l.to_scalar::<f32>()).expect("a");
        let lb = b.loss(&data).and_then(|l| l.to_scalar::<f32>()).expect("b");
        assert_eq!(la, lb);

        // A checkpoint of another size is refused with a message naming the difference.
        let mut other = Trainer::new(config(vocab, 32, 1, 2, 2, 32, 32), 9, 1e-2).expect("t");
        let err = other.load_checkpoint(&path).expect_err("other size");
        assert!(err.to_string().contains("the config makes it"), "{err}");
    }
}
