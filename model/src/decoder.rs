//! The decoder every architecture builds: embeddings (plus learned positions for OPT), pre-norm
//! blocks of attention and FFN, a final norm and the output projection. The architecture files
//! (`llama`, `opt`, `deixis`) say how their weights map onto it.

use candle_core::{Result, Tensor};

use crate::kernels;
use crate::nn::{Attention, Ctx, KvCache, Norm};

/// The feed-forward layer. `down` is stored `[neurons, width]` (one row per neuron, as in the
/// on-disk bundles), so `h down` is the output.
#[derive(Debug, Clone)]
pub enum Ffn {
    /// `down(silu(gate x) * up x)`.
    ///
    /// With a CATS `threshold` above 0, gate activations with `|silu(gate x)| <= threshold`
    /// are zeroed (the sparsified model the flash engine runs).
    SwiGlu {
        up: Tensor,
        gate: Tensor,
        down: Tensor,
        threshold: f32,
    },
    /// `down(relu(up x + b_up)) + b_down`.
    Relu {
        up: Tensor,
        up_bias: Option<Tensor>,
        down: Tensor,
        down_bias: Option<Tensor>,
    },
    /// The weights stay on disk (the flash engine computes this FFN); the biases are resident.
    Offloaded {
        layer: usize,
        up_bias: Option<Tensor>,
        down_bias: Option<Tensor>,
    },
}

fn project(x: &Tensor, w: &Tensor, ctx: &Ctx) -> Result<Tensor> {
    if ctx.own_kernels && x.dim(0)? <= kernels::SMALL {
        kernels::gemv(w, x)
    } else {
        x.matmul(&w.t()?)
    }
}

fn down(h: &Tensor, down: &Tensor, ctx: &Ctx) -> Result<Tensor> {
    if ctx.own_kernels && h.dim(0)? <= kernels::SMALL {
        kernels::vecmat(h, down)
    } else {
        h.matmul(down)
    }
}

impl Ffn {
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        match self {
            Ffn::SwiGlu {
                up,
                gate,
                down: d,
                threshold,
            } => {
                let mut g = candle_nn::ops::silu(&project(x, gate, ctx)?)?;
                if *threshold > 0.0 {
                    let keep = g.abs()?.gt(f64::from(*threshold))?.to_dtype(g.dtype())?;
                    g = (g * keep)?;
                }
                let h = (g * project(x, up, ctx)?)?;
                down(&h, d, ctx)
            }
            Ffn::Relu {
                up,
                up_bias,
                down: d,
                down_bias,
            } => {
                let mut h = project(x, up, ctx)?;
                if let Some(b) = up_bias {
                    h = h.broadcast_add(b)?;
                }
                let y = down(&h.relu()?, d, ctx)?;
                match down_bias {
                    Some(b) => y.broadcast_add(b),
                    None => Ok(y),
                }
            }
            Ffn::Offloaded { layer, .. } => Err(candle_core::Error::Msg(format!(
                "layer {layer}'s FFN is on disk: it runs through the flash engine"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Block {
    pub attn_norm: Norm,
    pub attn: Attention,
    pub ffn_norm: Norm,
    pub ffn: Ffn,
}

#[derive(Debug, Clone)]
pub struct Decoder {
    pub embed: Tensor,
    /// OPT's learned positions: row `position + offset`.
    pub positions: Option<(Tensor, u32)>,
    pub blocks: Vec<Block>,
    pub norm: Norm,
    /// `[vocab, width]`; the embedding matrix when tied.
    pub lm_head: Tensor,
}

impl Decoder {
    /// Runs `tokens` at `positions` through every block, appending to `caches`; returns the
    /// final-normed hidden states `[tokens, width]`.
    pub fn forward(
        &self,
        tokens: &[u32],
        positions: &[u32],
        caches: &mut [KvCache],
        mask: Option<&Tensor>,
        ctx: &Ctx,
    ) -> Result<Tensor> {
        self.forward_with(tokens, positions, caches, mask, ctx, &mut |_, ffn, x| {
            ffn.forward(x, ctx)
        })
    }

    /// [`Decoder::forward`] with each layer's FFN computed by `ffn(layer, its Ffn, normed input)`
    /// (the flash engine's hook).
    pub fn forward_with(
        &self,
        tokens: &[u32],
        positions: &[u32],
        caches: &mut [KvCache],
        mask: Option<&Tensor>,
        ctx: &Ctx,
        ffn: &mut dyn FnMut(usize, &Ffn, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let dev = self.embed.device();
        let ids = Tensor::new(tokens, dev)?;
        let positions_t = Tensor::new(positions, dev)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        if let Some((table, offset)) = &self.positions {
            let at: Vec<u32> = positions.iter().map(|p| p + offset).collect();
            x = (x + table.index_select(&Tensor::new(at.as_slice(), dev)?, 0)?)?;
        }
        let positions = &positions_t;
        for (layer, (block, cache)) in self.blocks.iter().zip(caches.iter_mut()).enumerate() {
            let a =
                block
                    .attn
                    .forward(&block.attn_norm.forward(&x)?, positions, cache, mask, ctx)?;
            x = (x + a)?;
            let f = ffn(layer, &block.ffn, &block.ffn_norm.forward(&x)?)?;
            x = (x + f)?;
        }
        self.norm.forward(&x)
    }

    /// Bytes of every tensor the decoder holds (the output projection once when tied).
    pub fn resident_bytes(&self, tied: bool) -> u64 {
        self.tally(tied, true, &|t| {
            (t.elem_count() * t.dtype().size_in_bytes()) as u64
        })
    }

    /// Parameters held (the rotary tables are not parameters).
    pub fn parameters(&self, tied: bool) -> u64 {
        self.tally(tied, false, &|t| t.elem_count() as u64)
    }

    fn tally(&self, tied: bool, tables: bool, b: &dyn Fn(&Tensor) -> u64) -> u64 {
        let ob = |t: &Option<Tensor>| t.as_ref().map_or(0, b);
        let norm = |n: &Norm| match n {
            Norm::Rms { weight, .. } => b(weight),
            Norm::Layer { weight, bias, .. } => b(weight) + b(bias),
        };
        let mut total = b(&self.embed) + norm(&self.norm);
        if !tied {
            total += b(&self.lm_head);
        }
        if let Some((t, _)) = &self.positions {
            total += b(t);
        }
        // The rotary tables are shared by every layer.
        if let Some(r) = self.blocks.first().and_then(|b| b.attn.rope.as_ref()) {
            if tables {
                total += r.bytes();
            }
        }
        for block in &self.blocks {
            let a = &block.attn;
            total += norm(&block.attn_norm) + norm(&block.ffn_norm);
            for l in [&a.q, &a.k, &a.v, &a.o] {
                total += b(&l.weight) + ob(&l.bias);
            }
            total += match &block.ffn {
                Ffn::SwiGlu { up, gate, down, .. } => b(up) + b(gate) + b(down),
                Ffn::Relu {
                    up,
                    up_bias,
                    down,
                    down_bias,
                } => b(up) + ob(up_bias) + b(down) + ob(down_bias),
                Ffn::Offloaded {
                    up_bias, down_bias, ..
                } => ob(up_bias) + ob(down_bias),
            };
        }
        total
    }

    /// Logits `[tokens, vocab]`, or only for the token ids in `rows` (`[tokens, rows]`).
    pub fn logits(&self, hidden: &Tensor, rows: Option<&Tensor>, ctx: &Ctx) -> Result<Tensor> {
        match rows {
            Some(ids) => hidden.matmul(&self.lm_head.index_select(ids, 0)?.t()?),
            None => project(hidden, &self.lm_head, ctx),
        }
    }
}

/// Reading a decoder's weights by their names in `weights.bin`: `embed`, `lm_head`,
/// `pos_embed`, `norm.weight`/`.bias`, and per layer `layers.L.{attn_norm,ffn_norm}` and
/// `layers.L.{q,k,v,o}` (`.weight`, `.bias`), `layers.L.{up,down}.bias`; the FFN weights
/// come from the layer's bundles.
pub(crate) mod load {
    use super::{Attention, Block, Decoder, Ffn, Norm};
    use crate::config::Config;
    use crate::nn::{Linear, Rope};
    use crate::weights::{Loaded, WeightsError};

    pub fn norm(
        w: &Loaded,
        prefix: &str,
        config: &Config,
        rms: bool,
    ) -> Result<Norm, WeightsError> {
        let d = config.hidden_size;
        let weight = w.take(&format!("{prefix}.weight"), &[d])?;
        Ok(if rms {
            Norm::Rms {
                weight,
                eps: config.norm_eps as f32,
            }
        } else {
            Norm::Layer {
                weight,
                bias: w.take(&format!("{prefix}.bias"), &[d])?,
                eps: config.norm_eps as f32,
            }
        })
    }

    fn linear(
        w: &Loaded,
        name: &str,
        out: usize,
        inp: usize,
        biased: bool,
    ) -> Result<Linear, WeightsError> {
        Ok(Linear {
            weight: w.take(&format!("{name}.weight"), &[out, inp])?,
            bias: if biased {
                Some(w.take(&format!("{name}.bias"), &[out])?)
            } else {
                None
            },
        })
    }

    pub fn attention(
        w: &Loaded,
        layer: usize,
        config: &Config,
        rope: Option<&Rope>,
    ) -> Result<Attention, WeightsError> {
        let (d, hd) = (config.hidden_size, config.head_dim());
        let b = config.architecture.biased();
        let p = |n: &str| format!("layers.{layer}.{n}");
        Ok(Attention {
            q: linear(w, &p("q"), config.num_heads * hd, d, b)?,
            k: linear(w, &p("k"), config.num_kv_heads * hd, d, b)?,
            v: linear(w, &p("v"), config.num_kv_heads * hd, d, b)?,
            o: linear(w, &p("o"), d, config.num_heads * hd, b)?,
            heads: config.num_heads,
            kv_heads: config.num_kv_heads,
            head_dim: hd,
            rope: rope.cloned(),
        })
    }

    pub fn ffn(w: &Loaded, layer: usize, config: &Config) -> Result<Ffn, WeightsError> {
        let (d, n) = (config.hidden_size, config.intermediate_size);
        if w.ffn.is_empty() {
            // Read for the flash engine: only the biases are resident.
            let biased = config.architecture.biased() && !config.architecture.gated();
            return Ok(Ffn::Offloaded {
                layer,
                up_bias: if biased {
                    Some(w.take(&format!("layers.{layer}.up.bias"), &[n])?)
                } else {
                    None
                },
                down_bias: if biased {
                    Some(w.take(&format!("layers.{layer}.down.bias"), &[d])?)
                } else {
                    None
                },
            });
        }
        let (up, gate, down) = w
            .ffn
            .get(layer)
            .cloned()
            .ok_or_else(|| WeightsError::Missing {
                path: w.path.clone(),
                name: format!("ffn of layer {layer}"),
            })?;
        for (name, t) in [("up", &up), ("down", &down)] {
            if t.dims() != [n, d] {
                return Err(WeightsError::Shape {
                    path: w.path.clone(),
                    name: format!("layers.{layer}.{name}"),
                    expected: vec![n, d],
                    found: t.dims().to_vec(),
                });
            }
        }
        Ok(match (config.architecture.gated(), gate) {
            (true, Some(gate)) => Ffn::SwiGlu {
                up,
                gate,
                down,
                threshold: 0.0,
            },
            (false, None) => Ffn::Relu {
                up,
                up_bias: if config.architecture.biased() {
                    Some(w.take(&format!("layers.{layer}.up.bias"), &[n])?)
                } else {
                    None
                },
                down,
                down_bias: if config.architecture.biased() {
                    Some(w.take(&format!("layers.{layer}.down.bias"), &[d])?)
                } else {
                    None
                },
            },
            _ => {
                return Err(WeightsError::Corrupt {
                    path: w.path.clone(),
                    what: format!("layer {layer}'s FFN does not match the architecture"),
                })
            }
        })
    }

    /// The whole decoder; `rms` picks RMSNorm (else LayerNorm with bias), `rope` the rotary
    /// embedding (else OPT's learned positions, stored with an offset of 2).
    pub fn decoder(
        w: &Loaded,
        config: &Config,
        rms: bool,
        rope: bool,
    ) -> Result<Decoder, WeightsError> {
        let (v, d) = (config.vocab_size, config.hidden_size);
        let embed = w.take("embed", &[v, d])?;
        let rope = if rope {
            Some(
                Rope::new(
                    config.head_dim(),
                    config.rope_theta,
                    config.max_positions,
                    embed.device(),
                )
                .map_err(WeightsError::Candle)?,
            )
        } else {
            None
        };
        let positions = if rope.is_none() {
            Some((w.take("pos_embed", &[config.max_positions + 2, d])?, 2))
        } else {
            None
        };
        let mut blocks = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            blocks.push(Block {
                attn_norm: norm(w, &format!("layers.{l}.attn_norm"), config, rms)?,
                attn: attention(w, l, config, rope.as_ref())?,
                ffn_norm: norm(w, &format!("layers.{l}.ffn_norm"), config, rms)?,
                ffn: ffn(w, l, config)?,
            });
        }
        Ok(Decoder {
            lm_head: if config.tie_embeddings {
                embed.clone()
            } else {
                w.take("lm_head", &[v, d])?
            },
            embed,
            positions,
            blocks,
            norm: norm(w, "norm", config, rms)?,
        })
    }
}
