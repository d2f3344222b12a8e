//! Generated OPT-shaped models for the engine's tests and benchmark: random weights whose FFN
//! activations behave like a trained ReLU model's in the ways the engine depends on.
//!
//! - **Sparsity**: the FFN input is LayerNorm'd, so with up rows drawn from N(0, 1/width) each
//!   neuron's pre-activation is about N(0, 1); its bias is `-z` with P(N(0,1) > z) = the
//!   chosen active fraction, so that fraction fires per token.
//! - **Token-to-token correlation**: a token's input is `sqrt(1-c)` times its embedding plus
//!   `sqrt(c)` times a position vector that drifts slowly (an AR(1) walk, step correlation
//!   0.99), so consecutive tokens share a fraction `c` of their input and, as in OPT, many of
//!   their active neurons (the sliding window's bet).
//! - Attention and the FFN's down-projection are small (std 0.02) so that the residual stream
//!   keeps that structure through the layers.
//!
//! The text is meaningless; the weights are seeded and reproducible.

use std::path::Path;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use crate::config::{Architecture, Config, FORMAT_VERSION};
use crate::convert::ConvertError;
use crate::weights::{self, DType, FfnWeights};

/// The shape and statistics of a generated model.
#[derive(Debug, Clone)]
pub struct Synth {
    pub vocab: usize,
    pub width: usize,
    pub neurons: usize,
    pub layers: usize,
    pub heads: usize,
    pub max_positions: usize,
    /// Fraction of FFN neurons that fire per token.
    pub active: f64,
    /// Share of a token's input that consecutive tokens have in common.
    pub shared: f64,
    pub dtype: DType,
    pub seed: u64,
}

impl Synth {
    /// OPT-1.3B's shape (1.3B parameters: 24 layers, width 2048, 8192 neurons, vocabulary
    /// 50272), f16.
    pub fn opt_1_3b(active: f64, seed: u64) -> Synth {
        Synth {
            vocab: 50272,
            width: 2048,
            neurons: 8192,
            layers: 24,
            heads: 32,
            max_positions: 2048,
            active,
            shared: 0.8,
            dtype: DType::F16,
            seed,
        }
    }

    pub fn parameters(&self) -> u64 {
        let (v, d, n, l) = (
            self.vocab as u64,
            self.width as u64,
            self.neurons as u64,
            self.layers as u64,
        );
        v * d
            + (self.max_positions as u64 + 2) * d
            + 2 * d
            + l * (4 * d * d + 4 * d + 4 * d + 2 * n * d + n + d)
    }

    pub fn config(&self) -> Config {
        Config {
            format_version: FORMAT_VERSION,
            architecture: Architecture::Opt,
            vocab_size: self.vocab,
            hidden_size: self.width,
            intermediate_size: self.neurons,
            num_layers: self.layers,
            num_heads: self.heads,
            num_kv_heads: self.heads,
            max_positions: self.max_positions,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            tie_embeddings: true,
            bos_token_id: None,
            eos_token_id: None,
            pointer_size: 0,
            pointer_match: false,
            lexical_weight: 0.0,
        }
    }

    /// Writes the model directory `dir` (config.json, tokenizer.json, weights.bin).
    pub fn write(&self, dir: &Path) -> Result<(), ConvertError> {
        let write_err = |source| ConvertError::Write {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write_err)?;
        let dev = Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let (d, n) = (self.width, self.neurons);
        let mut normal = |count: usize, std: f64| -> Vec<f32> {
            let dist = Normal::new(0.0, std).unwrap_or_else(|_| unreachable!("std > 0"));
            (0..count).map(|_| dist.sample(&mut rng) as f32).collect()
        };
        let t = |v: Vec<f32>, shape: &[usize]| Tensor::from_vec(v, shape, &dev);
        let c = self.shared.clamp(0.0, 1.0);
        let embed: Vec<f32> = normal(self.vocab * d, (1.0 - c).sqrt());
        // Positions: an AR(1) walk with unit variance, scaled to share c.
        let rows = self.max_positions + 2;
        let steps = normal(rows * d, 1.0);
        let rho: f64 = 0.99;
        let mut pos = vec![0f32; rows * d];
        let mut walk = vec![0f64; d];
        for p in 0..rows {
            for j in 0..d {
                let e = f64::from(steps[p * d + j]);
                walk[j] = if p == 0 {
                    e
                } else {
                    rho * walk[j] + (1.0 - rho * rho).sqrt() * e
                };
                pos[p * d + j] = (walk[j] * c.sqrt()) as f32;
            }
        }
        let z = normal_quantile(1.0 - self.active.clamp(1e-6, 1.0 - 1e-6)) as f32;
        let mut resident = vec![
            ("embed".to_owned(), t(embed, &[self.vocab, d])?),
            ("pos_embed".to_owned(), t(pos, &[rows, d])?),
            ("norm.weight".to_owned(), t(vec![1.0; d], &[d])?),
            ("norm.bias".to_owned(), t(vec![0.0; d], &[d])?),
        ];
        let mut ffn = Vec::with_capacity(self.layers);
        for l in 0..self.layers {
            let p = |s: &str| format!("layers.{l}.{s}");
            for norm in ["attn_norm", "ffn_norm"] {
                resident.push((p(&format!("{norm}.weight")), t(vec![1.0; d], &[d])?));
                resident.push((p(&format!("{norm}.bias")), t(vec![0.0; d], &[d])?));
            }
            for m in ["q", "k", "v", "o"] {
                resident.push((p(&format!("{m}.weight")), t(normal(d * d, 0.02), &[d, d])?));
                resident.push((p(&format!("{m}.bias")), t(vec![0.0; d], &[d])?));
            }
            resident.push((p("up.bias"), t(vec![-z; n], &[n])?));
            resident.push((p("down.bias"), t(vec![0.0; d], &[d])?));
            ffn.push(FfnWeights {
                up: t(normal(n * d, 1.0 / (d as f64).sqrt()), &[n, d])?,
                gate: None,
                down: t(normal(d * n, 0.02), &[d, n])?,
            });
        }
        weights::write(&dir.join("weights.bin"), self.dtype, &resident, &ffn)?;
        std::fs::write(dir.join("config.json"), self.config().to_json()).map_err(write_err)?;
        let tokens: Vec<String> = (0..self.vocab).map(|i| format!("<{i}>")).collect();
        let tokenizer = crate::tokenizer::from_vocab(&tokens, &[], &vec![1; self.vocab])?;
        tokenizer
            .save(dir.join("tokenizer.json"), false)
            .map_err(|e| crate::tokenizer::TokenizerError::Build(e.to_string()))?;
        Ok(())
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9);
/// statrs would be a dependency for one function.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}
