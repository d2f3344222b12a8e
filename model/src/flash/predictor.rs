//! Low-rank activation predictors, one per layer (LLM in a flash, section 3.1): from the
//! layer's FFN input `x` (the attention output after the residual and the FFN norm), the
//! logits `(x A) B + c` with `A` `[width, rank]` and `B` `[rank, neurons]`; a neuron is
//! predicted active when its logit is above 0.
//!
//! Trained by `deixis model train-predictors` on activations collected by running the model
//! over a corpus ([`super::Engine::record`]): per layer, the inputs and which neurons truly
//! fired. The loss is binary cross-entropy balanced between the classes (active neurons are
//! 3-10% of the labels, so each active label weighs `inactive / active` times more), as in the
//! paper; recall (the share of truly active neurons predicted) matters more than precision
//! (a false positive costs a read, a miss changes the output). Stored as
//! `predictors.safetensors` next to `weights.bin`; resident, and counted in the DRAM budget.

use std::path::Path;

use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

/// The file name inside a model directory.
pub const FILE: &str = "predictors.safetensors";

/// What one layer's predictor learned from.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Inputs, `tokens x width`, row-major.
    pub x: Vec<f32>,
    /// Per token, the neurons that fired (sorted).
    pub active: Vec<Vec<u32>>,
}

#[derive(Debug)]
pub struct LowRank {
    pub rank: usize,
    /// Per layer: A `[width, rank]`, B `[rank, neurons]`, c `[neurons]`.
    layers: Vec<(Tensor, Tensor, Tensor)>,
}

/// Held-out figures of one layer's predictor.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub layer: usize,
    /// Share of labels that are active (truly firing neurons per token / neurons).
    pub active_fraction: f64,
    /// Share predicted active.
    pub predicted_fraction: f64,
    pub recall: f64,
    pub precision: f64,
}

#[derive(Debug, Clone)]
pub struct TrainSettings {
    pub rank: usize,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Share of the tokens held out for the report.
    pub held_out: f64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            rank: 128,
            epochs: 30,
            batch: 64,
            lr: 3e-3,
            seed: 1,
            held_out: 0.1,
        }
    }
}

impl LowRank {
    pub fn load(path: &Path) -> candle_core::Result<LowRank> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
        let mut layers = Vec::new();
        while let (Some(a), Some(b), Some(c)) = (
            tensors.get(&format!("layers.{}.a", layers.len())),
            tensors.get(&format!("layers.{}.b", layers.len())),
            tensors.get(&format!("layers.{}.c", layers.len())),
        ) {
            layers.push((a.clone(), b.clone(), c.clone()));
        }
        let rank = match layers.first() {
            Some((a, _, _)) => a.dim(1)?,
            None => {
                return Err(candle_core::Error::Msg(format!(
                    "{}: no predictor tensors (layers.0.a, .b, .c)",
                    path.display()
                )))
            }
        };
        Ok(LowRank { rank, layers })
    }

    pub fn save(&self, path: &Path) -> candle_core::Result<()> {
        let mut map = std::collections::HashMap::new();
        for (l, (a, b, c)) in self.layers.iter().enumerate() {
            map.insert(format!("layers.{l}.a"), a.clone());
            map.insert(format!("layers.{l}.b"), b.clone());
            map.insert(format!("layers.{l}.c"), c.clone());
        }
        candle_core::safetensors::save(&map, path)
    }

    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> u64 {
        self.layers
            .iter()
            .map(|(a, b, c)| (a.elem_count() + b.elem_count() + c.elem_count()) as u64 * 4)
            .sum()
    }

    /// Predicted logits `[tokens, neurons]` of `layer` for inputs `x` `[tokens, width]`.
    pub fn logits(&self, layer: usize, x: &Tensor) -> candle_core::Result<Tensor> {
        let (a, b, c) = self
            .layers
            .get(layer)
            .ok_or_else(|| candle_core::Error::Msg(format!("no predictor for layer {layer}")))?;
        x.matmul(a)?.matmul(b)?.broadcast_add(c)
    }

    /// Sorted neurons of `layer` predicted active for `x` (`[1, width]`).
    pub fn active(&self, layer: usize, x: &Tensor) -> candle_core::Result<Vec<u32>> {
        let v: Vec<f32> = self.logits(layer, x)?.flatten_all()?.to_vec1()?;
        Ok(v.iter()
            .enumerate()
            .filter(|(_, &z)| z > 0.0)
            .map(|(i, _)| i as u32)
            .collect())
    }

    /// Trains one predictor per layer on `samples` (one entry per layer); returns them with
    /// each layer's held-out report. `progress(layer)` is called as each layer finishes.
    pub fn train(
        samples: &[Samples],
        width: usize,
        neurons: usize,
        settings: &TrainSettings,
        progress: &mut dyn FnMut(&LayerReport),
    ) -> candle_core::Result<(LowRank, Vec<LayerReport>)> {
        let mut layers = Vec::new();
        let mut reports = Vec::new();
        for (l, s) in samples.iter().enumerate() {
            let (layer, report) = train_layer(l, s, width, neurons, settings)?;
            progress(&report);
            layers.push(layer);
            reports.push(report);
        }
        Ok((
            LowRank {
                rank: settings.rank,
                layers,
            },
            reports,
        ))
    }
}

fn targets(active: &[Vec<u32>], rows: &[usize], neurons: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows.len() * neurons];
    for (i, &r) in rows.iter().enumerate() {
        for &n in &active[r] {
            y[i * neurons + n as usize] = 1.0;
        }
    }
    y
}

fn gather(x: &[f32], rows: &[usize], width: usize) -> Vec<f32> {
    rows.iter()
        .flat_map(|&r| x[r * width..(r + 1) * width].iter().copied())
        .collect()
}

fn train_layer(
    layer: usize,
    s: &Samples,
    width: usize,
    neurons: usize,
    settings: &TrainSettings,
) -> candle_core::Result<((Tensor, Tensor, Tensor), LayerReport)> {
    let dev = Device::Cpu;
    let tokens = s.active.len();
    let mut order: Vec<usize> = (0..tokens).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed + layer as u64);
    order.shuffle(&mut rng);
    let held = ((tokens as f64 * settings.held_out).round() as usize).clamp(1, tokens.max(2) - 1);
    let (test, train) = order.split_at(held);
    let positives: usize = train.iter().map(|&r| s.active[r].len()).sum();
    let labels = train.len() * neurons;
    let rate = (positives as f64 / labels.max(1) as f64).clamp(1e-4, 1.0 - 1e-4);
    // Each active label weighs inactive/active: the two classes count alike.
    let pos_weight = (1.0 - rate) / rate;
    let r = settings.rank;
    let mut init = |rows: usize, cols: usize| -> candle_core::Result<Var> {
        let dist = Normal::new(0.0, 1.0 / (rows as f64).sqrt())
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| dist.sample(&mut rng) as f32)
            .collect();
        Var::from_tensor(&Tensor::from_vec(v, (rows, cols), &dev)?)
    };
    let a = init(width, r)?;
    let b = init(r, neurons)?;
    let c = Var::from_tensor(&Tensor::full(
        (rate / (1.0 - rate)).ln() as f32,
        neurons,
        &dev,
    )?)?;
    let mut opt = AdamW::new(
        vec![a.clone(), b.clone(), c.clone()],
        ParamsAdamW {
            lr: settings.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut rows: Vec<usize> = train.to_vec();
    for _ in 0..settings.epochs {
        rows.shuffle(&mut rng);
        for batch in rows.chunks(settings.batch.max(1)) {
            let x = Tensor::from_vec(gather(&s.x, batch, width), (batch.len(), width), &dev)?;
            let y = Tensor::from_vec(
                targets(&s.active, batch, neurons),
                (batch.len(), neurons),
                &dev,
            )?;
            let z = x
                .matmul(a.as_tensor())?
                .matmul(b.as_tensor())?
                .broadcast_add(c.as_tensor())?;
            // softplus(t) = relu(t) + log(1 + exp(-|t|)), stable for large |t|.
            let softplus = |t: &Tensor| -> candle_core::Result<Tensor> {
                t.relu()? + (t.abs()?.neg()?.exp()? + 1.0)?.log()?
            };
            let pos = (y.clone() * softplus(&z.neg()?)?)?;
            let neg = ((1.0 - y)? * softplus(&z)?)?;
            let loss = ((pos * pos_weight)? + neg)?.mean_all()?;
            opt.backward_step(&loss)?;
        }
    }
    // Held-out recall and precision.
    let x = Tensor::from_vec(gather(&s.x, test, width), (test.len(), width), &dev)?;
    let z = x
        .matmul(a.as_tensor())?
        .matmul(b.as_tensor())?
        .broadcast_add(c.as_tensor())?;
    let z: Vec<f32> = z.flatten_all()?.to_vec1()?;
    let y = targets(&s.active, test, neurons);
    let (mut tp, mut fp, mut fneg, mut pos) = (0u64, 0u64, 0u64, 0u64);
    for (zi, yi) in z.iter().zip(&y) {
        let (p, t) = (*zi > 0.0, *yi > 0.5);
        tp += u64::from(p && t);
        fp += u64::from(p && !t);
        fneg += u64::from(!p && t);
        pos += u64::from(t);
    }
    let total = (test.len() * neurons).max(1) as f64;
    let report = LayerReport {
        layer,
        active_fraction: pos as f64 / total,
        predicted_fraction: (tp + fp) as f64 / total,
        recall: tp as f64 / (tp + fneg).max(1) as f64,
        precision: tp as f64 / (tp + fp).max(1) as f64,
    };
    let weights = (
        a.as_tensor().detach(),
        b.as_tensor().detach(),
        c.as_tensor().detach(),
    );
    Ok((weights, report))
}

/// The file of a sparsified gated model's CATS thresholds, next to `weights.bin`.
pub const THRESHOLDS_FILE: &str = "thresholds.json";

/// Per-layer CATS thresholds (Lee et al., 2024): in layer `l`, a gate activation with
/// `|silu(gate x)| <= thresholds[l]` counts as zero, chosen so that a `sparsity` share of them
/// are on the corpus. Read by the dense runtime and the flash engine alike, so both run the
/// same sparsified model.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub sparsity: f64,
    pub thresholds: Vec<f32>,
}

impl Thresholds {
    /// `dir/thresholds.json`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<Thresholds>, crate::ModelError> {
        let path = dir.join(THRESHOLDS_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| crate::ModelError::Thresholds {
                        path: shown,
                        message: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(crate::ModelError::Read {
                path: shown,
                source,
            }),
        }
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(THRESHOLDS_FILE), text)
    }

    /// Sets the thresholds in `decoder`'s gated FFNs.
    pub fn apply(&self, decoder: &mut crate::decoder::Decoder) {
        for (block, t) in decoder.blocks.iter_mut().zip(&self.thresholds) {
            if let crate::decoder::Ffn::SwiGlu { threshold, .. } = &mut block.ffn {
                *threshold = *t;
            }
        }
    }

    /// Thresholds that make `sparsity` of the gate activations zero on `samples` (per layer,
    /// the inputs), with each layer's gate `[neurons, width]`; fills each sample's active
    /// neurons accordingly (the predictors' labels).
    pub fn choose(
        samples: &mut [Samples],
        gates: &[Tensor],
        width: usize,
        sparsity: f64,
    ) -> candle_core::Result<Thresholds> {
        let mut thresholds = Vec::new();
        for (s, gate) in samples.iter_mut().zip(gates) {
            let tokens = s.x.len() / width;
            let x = Tensor::from_slice(&s.x, (tokens, width), &Device::Cpu)?;
            let g = candle_nn::ops::silu(&x.matmul(&gate.t()?)?)?.abs()?;
            let neurons = g.dim(1)?;
            let values: Vec<f32> = g.flatten_all()?.to_vec1()?;
            let mut sorted = values.clone();
            let k = ((sorted.len() as f64 * sparsity) as usize).min(sorted.len().saturating_sub(1));
            let (_, t, _) = sorted.select_nth_unstable_by(k, f32::total_cmp);
            let t = *t;
            s.active = values
                .chunks(neurons)
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .filter(|(_, &a)| a > t)
                        .map(|(i, _)| i as u32)
                        .collect()
                })
                .collect();
            thresholds.push(t);
        }
        Ok(Thresholds {
            sparsity,
            thresholds,
        })
    }
}
