//! Building blocks the architectures share: linear layers, norms, rotary embeddings, and
//! attention over a KV cache with an explicit mask (causal for prompts, ancestor-only for a
//! tree of continuations). Batch size is 1 throughout: shapes are `[tokens, width]`; several
//! continuations share one forward pass as a tree instead of a batch.

use candle_core::{DType, Device, Result, Tensor, D};

use crate::kernels;

/// How the forward pass computes: candle's matmul everywhere, or our kernels where they are
/// faster (steps of a few tokens: decoding, scoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    pub own_kernels: bool,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx { own_kernels: true }
    }
}

/// `y = x W^T + b`, `W` is `[out, in]`.
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let y = if ctx.own_kernels && x.dim(0)? <= kernels::SMALL {
            kernels::gemv(&self.weight, x)?
        } else {
            x.matmul(&self.weight.t()?)?
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Norm {
    Rms {
        weight: Tensor,
        eps: f32,
    },
    Layer {
        weight: Tensor,
        bias: Tensor,
        eps: f32,
    },
}

impl Norm {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Norm::Rms { weight, eps } => candle_nn::ops::rms_norm(x, weight, *eps),
            Norm::Layer { weight, bias, eps } => candle_nn::ops::layer_norm(x, weight, bias, *eps),
        }
    }
}

/// Rotary position embedding tables (rotate-half convention).
#[derive(Debug, Clone)]
pub struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    /// Bytes of the tables.
    pub fn bytes(&self) -> u64 {
        ((self.cos.elem_count() + self.sin.elem_count()) * self.cos.dtype().size_in_bytes()) as u64
    }

    pub fn new(head_dim: usize, theta: f32, max_positions: usize, dev: &Device) -> Result<Rope> {
        let inv: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1.0 / theta.powf(i as f32 / head_dim as f32))
            .collect();
        let inv = Tensor::from_vec(inv, (1, head_dim / 2), dev)?;
        let pos = Tensor::arange(0u32, max_positions as u32, dev)?
            .to_dtype(DType::F32)?
            .reshape((max_positions, 1))?;
        let freqs = pos.matmul(&inv)?;
        Ok(Rope {
            cos: freqs.cos()?,
            sin: freqs.sin()?,
        })
    }

    /// Rotates `x` (`[heads, tokens, head_dim]`) for the tokens' positions.
    pub fn apply(&self, x: &Tensor, positions: &Tensor) -> Result<Tensor> {
        let cos = self.cos.index_select(positions, 0)?;
        let sin = self.sin.index_select(positions, 0)?;
        candle_nn::rotary_emb::rope(&x.unsqueeze(0)?.contiguous()?, &cos, &sin)?.squeeze(0)
    }
}

/// One layer's keys and values so far, `[kv_heads, tokens, head_dim]`. Cloning is cheap
/// (tensors are shared); appending makes new tensors, so a clone keeps the old state.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    pub k: Option<Tensor>,
    pub v: Option<Tensor>,
}

impl KvCache {
    pub fn len(&self) -> usize {
        self.k.as_ref().and_then(|k| k.dim(1).ok()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub struct Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rope: Option<Rope>,
}

impl Attention {
    /// Attends `x` (`[tokens, width]`, at `positions`) to the cache and to itself; appends its
    /// keys and values to `cache`. `mask` is additive, `[tokens, cached + tokens]`.
    pub fn forward(
        &self,
        x: &Tensor,
        positions: &Tensor,
        cache: &mut KvCache,
        mask: Option<&Tensor>,
        ctx: &Ctx,
    ) -> Result<Tensor> {
        let n = x.dim(0)?;
        let (h, kvh, hd) = (self.heads, self.kv_heads, self.head_dim);
        let split = |t: Tensor, heads: usize| -> Result<Tensor> {
            t.reshape((n, heads, hd))?.transpose(0, 1)?.contiguous()
        };
        let mut q = split(self.q.forward(x, ctx)?, h)?;
        let mut k = split(self.k.forward(x, ctx)?, kvh)?;
        let v = split(self.v.forward(x, ctx)?, kvh)?;
        if let Some(rope) = &self.rope {
            q = rope.apply(&q, positions)?;
            k = rope.apply(&k, positions)?;
        }
        let (k, v) = match (&cache.k, &cache.v) {
            (Some(ck), Some(cv)) => (Tensor::cat(&[ck, &k], 1)?, Tensor::cat(&[cv, &v], 1)?),
            _ => (k, v),
        };
        cache.k = Some(k.clone());
        cache.v = Some(v.clone());
        let t = k.dim(1)?;
        // Grouped-query attention without copying keys: the query heads of one group are
        // stacked as more rows against their shared key head.
        let g = h / kvh;
        let q = q.reshape((kvh, g * n, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.reshape((kvh, g, n, t))?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?.reshape((kvh, g * n, t))?;
        let y = probs.matmul(&v)?.reshape((h, n, hd))?.transpose(0, 1)?;
        let y = y.contiguous()?.reshape((n, h * hd))?;
        self.o.forward(&y, ctx)
    }
}

/// The causal mask for `n` new tokens after `cached` ones: `[n, cached + n]`, 0 where a token
/// may look, -inf where it may not. `None` for a single token (it sees everything).
pub fn causal_mask(n: usize, cached: usize, dev: &Device) -> Result<Option<Tensor>> {
    if n <= 1 {
        return Ok(None);
    }
    let t = cached + n;
    let values: Vec<f32> = (0..n)
        .flat_map(|i| {
            (0..t).map(move |j| {
                if j <= cached + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Some(Tensor::from_vec(values, (n, t), dev)?))
}

/// Log-softmax over the last dimension.
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&lse)
}
