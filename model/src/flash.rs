//! The flash-offloaded engine ("LLM in a flash", Apple 2023): the FFN weights stay on disk and
//! only the neurons the next token needs are read, within a hard DRAM budget.
//!
//! - **Selective persistence**: embeddings, attention, norms and biases are read once and stay
//!   resident ([`Loaded::read_resident`]); each layer's FFN stays in its neuron bundles on disk.
//! - **Which neurons**: a [`Predictor`] names the neurons of a layer that fire for the layer's
//!   FFN input. [`Predictor::Oracle`] computes the true activations from weights it holds
//!   outside the budget (tests, and the ceiling in benchmarks); [`Predictor::All`] is dense.
//!   A SwiGLU neuron counts as active when `|silu(gate x)| > threshold` (CATS); the FFN then
//!   uses exactly the active neurons, so the threshold is part of the model.
//! - **Sliding window** ([`store`]): the neurons used by the last `window` tokens stay in a
//!   preallocated matrix per layer; only the ones missing for a new token are read.
//! - **I/O** ([`io`]): `O_DIRECT` reads, aligned, coalesced, in parallel on a pool.
//! - **Lookahead** (`Options::lookahead`, off by default; see there): while a layer computes, a thread
//!   reads the neurons the next layer's predictor names for this layer's input (Deja Vu's
//!   asynchronous lookahead: the residual stream changes little between layers) into that
//!   layer's free slots, so the next layer waits only for what the guess missed. Outputs do
//!   not change: every named neuron is in memory before its layer sums.
//! - **Methods** on the same weights and budget ([`Method`]): `Flash` (the above), `Naive`
//!   (each token re-reads every layer's whole FFN section) and `Mmap` (the file mapped, the
//!   active neurons read through page faults, the least recently used pages beyond the budget
//!   dropped with `madvise` and `fadvise(DONTNEED)`). All three compute the same neurons, so
//!   their outputs are equal and only their I/O differs.
//! - **Budget**: every buffer is allocated when the engine opens and sized from the budget;
//!   [`Engine::dram`] reports the bytes held (resident weights, FFN rows, read buffers, page
//!   bookkeeping). The KV cache grows with the sequence and is not part of the budget (a few
//!   MiB for the sequences we run), nor is the oracle's copy of the weights.
//!
//! Batch size 1, one token per step (prefill is a loop of steps).

pub mod bench;
pub mod io;
pub mod predictor;
pub mod store;
pub mod synth;

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::decoder::{Decoder, Ffn};
use crate::nn::{Ctx, KvCache};
use crate::runtime::ModelError;
use crate::weights::Loaded;
use io::Disk;
use store::LayerStore;

/// How FFN weights get from disk into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Naive,
    Mmap,
    Flash,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Naive => "naive",
            Method::Mmap => "mmap",
            Method::Flash => "flash",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub method: Method,
    /// Bytes of DRAM for the weights and the engine's buffers; never exceeded.
    pub dram_budget: u64,
    /// Tokens whose neurons stay in memory (the sliding window).
    pub window: usize,
    /// Parallel readers.
    pub threads: usize,
    /// Bundles between two needed ones that are read rather than skipped (0: only adjacent
    /// bundles share a read).
    pub coalesce_gap: u32,
    /// Longest single read, in bytes.
    pub max_read: u64,
    /// The read buffer's largest size in bytes (it gets at most an eighth of what the budget
    /// leaves beside the resident weights, and at least one longest read).
    pub staging: u64,
    /// Per layer, the CATS threshold of gated (SwiGLU) models; empty: 0 for every layer.
    pub thresholds: Vec<f32>,
    /// Flash only: while a layer computes, read the neurons the next layer's predictor names
    /// for this layer's input (Deja Vu's lookahead: the residual stream changes little from one
    /// layer to the next), into free slots only. What it missed is read when the next layer
    /// runs; what it read in vain stays in the window like any neuron. Costs a second read
    /// buffer. Off by default: on the generated 1.3B model it cut the time waiting for reads
    /// by a quarter but read 61% more bytes and made tokens slower (README, "The flash
    /// engine").
    pub lookahead: bool,
    /// How a batch of reads is submitted: one io_uring submission (the default; the reader
    /// pool where io_uring is refused), or the pool of `threads` readers.
    pub submit: io::Submit,
}

impl Options {
    pub fn new(method: Method, dram_budget: u64) -> Options {
        Options {
            method,
            dram_budget,
            window: 5,
            threads: 8,
            coalesce_gap: 0,
            max_read: 256 * 1024,
            staging: 4 * 1024 * 1024,
            thresholds: Vec::new(),
            lookahead: false,
            submit: io::Submit::Ring,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot read the weights of {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "a DRAM budget of {budget} bytes is too small: {what} needs {needed} bytes (resident \
         weights: {resident})"
    )]
    Budget {
        budget: u64,
        needed: u64,
        resident: u64,
        what: &'static str,
    },
    /// The mmap method: one layer's pages do not fit the budget (flash computes such a
    /// layer in several passes instead).
    #[error(
        "layer {layer}: one token needs {needed} {unit}, the DRAM budget holds {capacity} \
         (raise the budget or the threshold)"
    )]
    Overflow {
        layer: usize,
        needed: usize,
        capacity: usize,
        unit: &'static str,
    },
    #[error("the sequence is {len} tokens; the model takes at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("token id {id} is outside the vocabulary ({vocab})")]
    BadToken { id: u32, vocab: usize },
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// What one token cost.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TokenStats {
    pub ms: f64,
    pub io_ms: f64,
    pub mem_ms: f64,
    pub compute_ms: f64,
    pub bytes: u64,
    pub reads: u64,
    /// Neurons the predictor named, over all layers.
    pub active: u64,
    /// Of those, neurons not in memory when their layer ran (read then, waiting).
    pub missing: u64,
    /// Neurons read ahead by the lookahead (`Options::lookahead`), and of those, the ones
    /// their layer then named; their reads ran beside compute, not counted in `io_ms`.
    pub prefetched: u64,
    pub prefetch_hits: u64,
    /// Wall time of the lookahead's reads (overlapped with compute).
    pub prefetch_ms: f64,
}

/// DRAM held, in bytes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Dram {
    pub budget: u64,
    pub resident: u64,
    pub peak: u64,
}

/// Which neurons fire.
#[derive(Debug)]
pub enum Predictor {
    /// Every neuron (dense).
    All,
    /// The true activations, from up (and gate) weights and up biases held in memory outside
    /// the budget (shared by the engines of a benchmark).
    Oracle(std::sync::Arc<Oracle>),
    /// Trained low-rank predictors ([`predictor`]), resident and counted in the budget.
    LowRank(std::sync::Arc<predictor::LowRank>),
}

#[derive(Debug)]
pub struct Oracle {
    /// Per layer: up `[neurons, width]`, gate, up bias.
    layers: Vec<(Tensor, Option<Tensor>, Option<Tensor>)>,
    /// Per gated layer, the gate rows flat (for [`gate_activation`]).
    gate_rows: Vec<Option<Vec<f32>>>,
}

impl Oracle {
    /// Layer `layer`'s gate `[neurons, width]` (gated models).
    pub fn gate(&self, layer: usize) -> Option<&Tensor> {
        self.layers.get(layer).and_then(|(_, g, _)| g.as_ref())
    }

    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Reads the full FFN weights of `dir`'s model (f32) for the oracle.
    pub fn load(dir: &Path) -> Result<Oracle, FlashError> {
        let loaded = Loaded::read(&dir.join("weights.bin")).map_err(ModelError::from)?;
        let layers: Vec<(Tensor, Option<Tensor>, Option<Tensor>)> = loaded
            .ffn
            .iter()
            .enumerate()
            .map(|(l, (up, gate, _))| {
                (
                    up.clone(),
                    gate.clone(),
                    loaded.tensors.get(&format!("layers.{l}.up.bias")).cloned(),
                )
            })
            .collect();
        let gate_rows = layers
            .iter()
            .map(|(_, g, _)| {
                g.as_ref()
                    .map(|g| g.flatten_all()?.to_vec1::<f32>())
                    .transpose()
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Oracle { layers, gate_rows })
    }
}

impl Predictor {
    /// Sorted neuron indices of `layer` active for the FFN input `x` (`[1, width]`, f32).
    fn active(
        &self,
        layer: usize,
        x: &Tensor,
        neurons: usize,
        threshold: f32,
    ) -> Result<Vec<u32>, FlashError> {
        match self {
            Predictor::All => Ok((0..neurons as u32).collect()),
            Predictor::LowRank(p) => Ok(p.active(layer, x)?),
            Predictor::Oracle(o) => {
                let (up, _, bias) = &o.layers[layer];
                if let Some(rows) = &o.gate_rows[layer] {
                    let xv: Vec<f32> = x.flatten_all()?.to_vec1()?;
                    let w = xv.len();
                    return Ok((0..neurons as u32)
                        .into_par_iter()
                        .filter(|&n| {
                            let g = &rows[n as usize * w..(n as usize + 1) * w];
                            gate_activation(g, &xv).abs() > threshold
                        })
                        .collect());
                }
                let pre = match bias {
                    Some(b) => x.matmul(&up.t()?)?.broadcast_add(b)?,
                    None => x.matmul(&up.t()?)?,
                };
                let v: Vec<f32> = pre.flatten_all()?.to_vec1()?;
                Ok(v.iter()
                    .enumerate()
                    .filter(|(_, &a)| a > threshold)
                    .map(|(i, _)| i as u32)
                    .collect())
            }
        }
    }
}

/// The KV caches after a token sequence.
#[derive(Debug, Clone)]
pub struct FlashState {
    pub tokens: Vec<u32>,
    caches: Vec<KvCache>,
}

/// One layer's FFN section on disk.
#[derive(Debug, Clone, Copy)]
struct Section {
    /// Absolute file offset of bundle 0.
    base: u64,
    neurons: usize,
    width: usize,
    bundle_bytes: u64,
    gated: bool,
}

/// Least-recently-used pages of the mapping, for the mmap method.
#[derive(Debug)]
struct Pages {
    map: memmap2::Mmap,
    file: std::fs::File,
    /// Page -> the last token that touched it, for pages we hold.
    last: std::collections::HashMap<u64, u64>,
    /// Touches in order (page, token); stale entries are skipped when evicting.
    order: VecDeque<(u64, u64)>,
    room: usize,
    peak: usize,
}

/// Shared so that a layer's FFN can hold them while it reads into the store (no copy per token).
type Biases = (Option<std::sync::Arc<[f32]>>, Option<std::sync::Arc<[f32]>>);

const PAGE: u64 = 4096;
/// Bookkeeping bytes per held page (map entry and queue entry), counted in the budget.
const PAGE_BOOKKEEPING: u64 = 48;

#[derive(Debug)]
struct Offload {
    opts: Options,
    sections: Vec<Section>,
    f16: bool,
    disk: Disk,
    path: String,
    stores: Vec<LayerStore>,
    staging: Vec<u8>,
    /// The lookahead's read buffer (empty without it).
    ahead_staging: Vec<u8>,
    /// The neurons the lookahead brought in for the next layer this token.
    ahead: Option<(usize, Vec<u32>)>,
    pages: Option<Pages>,
    predictor: Predictor,
    /// Per layer: the up and down biases.
    biases: Vec<Biases>,
    token: u64,
    current: TokenStats,
    failed: Option<FlashError>,
    /// Per layer, the FFN inputs and active neurons seen, while recording.
    record: Option<Vec<predictor::Samples>>,
    record_active: bool,
}

/// A model whose FFN weights stay on disk.
pub struct Engine {
    pub config: Config,
    pub tokenizer: tokenizers::Tokenizer,
    decoder: Decoder,
    ctx: Ctx,
    off: Offload,
    resident: u64,
    stats: Vec<TokenStats>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("method", &self.off.opts.method)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the model directory `dir`: resident weights into memory (f16 files stay f16),
    /// FFN bundles left on disk, every buffer sized from `opts.dram_budget`.
    pub fn open(dir: &Path, opts: Options, predictor: Predictor) -> Result<Engine, FlashError> {
        let (config, tokenizer) = crate::runtime::read_config_and_tokenizer(dir)?;
        let mut opts = opts;
        if opts.thresholds.is_empty() {
            if let Some(cats) = predictor::Thresholds::read(dir)? {
                opts.thresholds = cats.thresholds;
            }
        }
        let path = dir.join("weights.bin");
        let shown = path.display().to_string();
        let io_err = |source| FlashError::Io {
            path: shown.clone(),
            source,
        };
        let loaded = Loaded::read_resident(&path, true).map_err(ModelError::from)?;
        let f16 = loaded.header.dtype == crate::weights::DType::F16;
        let decoder = crate::runtime::build_decoder(&config, &loaded)?;
        let sections: Vec<Section> = loaded
            .header
            .ffn
            .iter()
            .map(|f| Section {
                base: loaded.data_start + f.offset,
                neurons: f.neurons,
                width: f.width,
                bundle_bytes: f.bundle_bytes,
                gated: f.parts.len() == 3,
            })
            .collect();
        let resident = decoder.resident_bytes(config.tie_embeddings)
            + match &predictor {
                Predictor::LowRank(p) => p.bytes(),
                _ => 0,
            };
        let biases = decoder
            .blocks
            .iter()
            .map(|b| match &b.ffn {
                Ffn::Offloaded {
                    up_bias, down_bias, ..
                } => {
                    let v =
                        |t: &Option<Tensor>| -> Result<Option<std::sync::Arc<[f32]>>, FlashError> {
                            Ok(match t {
                                Some(t) => Some(
                                    t.to_dtype(candle_core::DType::F32)?
                                        .to_vec1::<f32>()?
                                        .into(),
                                ),
                                None => None,
                            })
                        };
                    Ok((v(up_bias)?, v(down_bias)?))
                }
                _ => Ok((None, None)),
            })
            .collect::<Result<Vec<_>, FlashError>>()?;
        let disk = Disk::open(&path, opts.threads, opts.submit).map_err(io_err)?;
        let budget = opts.dram_budget;
        let over = |needed: u64, what| FlashError::Budget {
            budget,
            needed,
            resident,
            what,
        };
        if resident > budget {
            return Err(over(resident, "the resident weights"));
        }
        let mut stores = Vec::new();
        let mut staging = Vec::new();
        let mut ahead_staging = Vec::new();
        let mut pages = None;
        let max_bundle = sections.iter().map(|s| s.bundle_bytes).max().unwrap_or(0);
        let stage = opts
            .staging
            .min((budget - resident) / 8)
            .max(io::align_up(max_bundle.max(opts.max_read)) + 2 * io::BLOCK);
        match opts.method {
            Method::Flash => {
                let maps: u64 = sections.iter().map(|s| s.neurons as u64 * 4).sum();
                let buffers = if opts.lookahead { 2 * stage } else { stage };
                let fixed = resident + buffers + maps;
                if fixed > budget {
                    return Err(over(fixed, "the read buffers and neuron maps"));
                }
                // Per slot: the row, its neuron and its last use.
                // Per slot, over all layers: the row (in the file's dtype, as many bytes as
                // the bundle), its neuron (u32) and its last use (u64).
                let per_slot: u64 = sections.iter().map(|s| s.bundle_bytes + 12).sum();
                let capacity = ((budget - fixed) / per_slot.max(1)) as usize;
                if capacity == 0 {
                    return Err(over(fixed + per_slot, "one neuron per layer"));
                }
                for s in &sections {
                    let parts = if s.gated { 3 } else { 2 };
                    stores.push(LayerStore::new(
                        s.neurons,
                        parts * s.width,
                        capacity.min(s.neurons),
                        f16,
                    ));
                }
                staging = vec![0u8; stage as usize];
                if opts.lookahead {
                    ahead_staging = vec![0u8; stage as usize];
                }
            }
            Method::Naive => {
                if resident + stage > budget {
                    return Err(over(resident + stage, "the read buffer"));
                }
                staging = vec![0u8; stage as usize];
            }
            Method::Mmap => {
                let file = std::fs::File::open(&path).map_err(io_err)?;
                // SAFETY: the weights file is ours and not modified while mapped (a model
                // directory is written once by conversion or training, then only read).
                #[allow(unsafe_code)]
                let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?;
                map.advise(memmap2::Advice::Random).map_err(io_err)?;
                let room = ((budget - resident) / (PAGE + PAGE_BOOKKEEPING)) as usize;
                if room == 0 {
                    return Err(over(resident + PAGE, "one page"));
                }
                pages = Some(Pages {
                    map,
                    file,
                    last: Default::default(),
                    order: VecDeque::new(),
                    room,
                    peak: 0,
                });
            }
        }
        let ctx = Ctx { own_kernels: !f16 };
        Ok(Engine {
            config,
            tokenizer,
            decoder,
            ctx,
            resident,
            stats: Vec::new(),
            off: Offload {
                opts,
                sections,
                f16,
                disk,
                path: shown,
                stores,
                staging,
                ahead_staging,
                ahead: None,
                pages,
                predictor,
                biases,
                token: 0,
                current: TokenStats::default(),
                failed: None,
                record: None,
                record_active: true,
            },
        })
    }

    pub fn method(&self) -> Method {
        self.off.opts.method
    }

    /// Whether reads bypass the page cache with `O_DIRECT` (else buffered + `DONTNEED`).
    pub fn direct_io(&self) -> bool {
        self.off.disk.direct
    }

    pub fn disk(&self) -> &Disk {
        &self.off.disk
    }

    /// Bytes of one FFN bundle (the largest, if layers differ).
    pub fn bundle_bytes(&self) -> u64 {
        self.off
            .sections
            .iter()
            .map(|s| s.bundle_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Drops the weights file from the page cache and empties the window: the next token
    /// starts cold.
    pub fn make_cold(&mut self) -> Result<(), FlashError> {
        for s in &mut self.off.stores {
            s.expire(u64::MAX);
        }
        if let Some(p) = &mut self.off.pages {
            p.evict_all();
        }
        self.off.disk.drop_cache().map_err(|source| FlashError::Io {
            path: self.off.path.clone(),
            source,
        })
    }

    pub fn empty(&self) -> FlashState {
        FlashState {
            tokens: Vec::new(),
            caches: vec![KvCache::default(); self.config.num_layers],
        }
    }

    /// DRAM held: the budget, the resident weights, and the peak of everything counted.
    pub fn dram(&self) -> Dram {
        let held = match self.off.opts.method {
            Method::Flash => {
                self.off.staging.capacity() as u64
                    + self.off.ahead_staging.capacity() as u64
                    + self
                        .off
                        .stores
                        .iter()
                        .map(LayerStore::allocated_bytes)
                        .sum::<u64>()
            }
            Method::Naive => self.off.staging.capacity() as u64,
            Method::Mmap => self
                .off
                .pages
                .as_ref()
                .map_or(0, |p| p.peak as u64 * (PAGE + PAGE_BOOKKEEPING)),
        };
        Dram {
            budget: self.off.opts.dram_budget,
            resident: self.resident,
            peak: self.resident + held,
        }
    }

    /// Starts recording each layer's FFN inputs and the neurons the predictor names (with the
    /// oracle: the true activations), the predictors' training data.
    pub fn record(&mut self) {
        self.off.record = Some(vec![predictor::Samples::default(); self.config.num_layers]);
        self.off.record_active = true;
    }

    /// Records the FFN inputs only (a gated model's labels come from thresholds chosen
    /// afterwards: [`predictor::Thresholds::choose`]).
    pub fn record_inputs(&mut self) {
        self.record();
        self.off.record_active = false;
    }

    /// What was recorded since [`Engine::record`]; stops recording.
    pub fn take_samples(&mut self) -> Vec<predictor::Samples> {
        self.off.record.take().unwrap_or_default()
    }

    /// Per-token figures since the last [`Engine::reset_stats`].
    pub fn stats(&self) -> &[TokenStats] {
        &self.stats
    }

    pub fn reset_stats(&mut self) {
        self.stats.clear();
    }

    /// Runs `token` after `state`; returns the logits `[vocab]` (f32) that follow it.
    pub fn step(&mut self, state: &mut FlashState, token: u32) -> Result<Tensor, FlashError> {
        let max = self.config.max_positions;
        if state.tokens.len() + 1 > max {
            return Err(FlashError::TooLong {
                len: state.tokens.len() + 1,
                max,
            });
        }
        if token as usize >= self.config.vocab_size {
            return Err(FlashError::BadToken {
                id: token,
                vocab: self.config.vocab_size,
            });
        }
        let start = Instant::now();
        let off = &mut self.off;
        off.token += 1;
        off.current = TokenStats::default();
        let position = state.tokens.len() as u32;
        let ctx = self.ctx;
        let hidden = self.decoder.forward_with(
            &[token],
            &[position],
            &mut state.caches,
            None,
            &ctx,
            &mut |layer, ffn, x| match off.ffn(layer, ffn, x) {
                Ok(y) => Ok(y),
                Err(e) => {
                    let shown = e.to_string();
                    off.failed = Some(e);
                    Err(candle_core::Error::Msg(shown))
                }
            },
        );
        let hidden = match (hidden, off.failed.take()) {
            (_, Some(e)) => return Err(e),
            (h, None) => h?,
        };
        let logits = self
            .decoder
            .logits(&hidden, None, &ctx)?
            .squeeze(0)?
            .to_dtype(candle_core::DType::F32)?;
        state.tokens.push(token);
        // The window: neurons no token of the last `window` used go.
        let t = Instant::now();
        let oldest = off.token.saturating_sub(off.opts.window.max(1) as u64 - 1);
        for s in &mut off.stores {
            s.expire(oldest);
        }
        off.current.mem_ms += ms(t.elapsed());
        let mut stats = off.current;
        stats.ms = ms(start.elapsed());
        stats.compute_ms = (stats.ms - stats.io_ms - stats.mem_ms).max(0.0);
        self.stats.push(stats);
        Ok(logits)
    }

    /// Runs `tokens` one by one; returns the logits after the last.
    pub fn run(&mut self, state: &mut FlashState, tokens: &[u32]) -> Result<Tensor, FlashError> {
        let mut last = None;
        for &t in tokens {
            last = Some(self.step(state, t)?);
        }
        last.ok_or_else(|| FlashError::Candle(candle_core::Error::Msg("no tokens".into())))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Pages {
    fn evict(&mut self, page: u64) {
        let at = (page * PAGE) as usize;
        // SAFETY: the range lies inside the mapping; dropping pages of a private read-only
        // file mapping only makes the next access fault them in again from the file.
        #[allow(unsafe_code)]
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, at, PAGE as usize)
        };
        let _ = rustix::fs::fadvise(
            &self.file,
            page * PAGE,
            std::num::NonZeroU64::new(PAGE),
            rustix::fs::Advice::DontNeed,
        );
    }

    fn evict_all(&mut self) {
        let held: Vec<u64> = self.last.keys().copied().collect();
        for p in held {
            self.evict(p);
        }
        self.last.clear();
        self.order.clear();
    }

    /// Makes room for `extra` more pages, least recently used first.
    fn make_room(&mut self, extra: usize) {
        while self.last.len() + extra > self.room {
            let Some((page, token)) = self.order.pop_front() else {
                break;
            };
            if self.last.get(&page) == Some(&token) {
                self.last.remove(&page);
                self.evict(page);
            }
        }
    }
}

/// Consecutive runs of `reads` that fit a staging buffer of `staging` bytes together (a read
/// longer than the buffer is a batch of its own, which the caller sized the buffer for).
fn batches(reads: &[io::Read], staging: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < reads.len() {
        let mut j = i;
        let mut bytes = io::BLOCK;
        while j < reads.len() && bytes + reads[j].len <= staging {
            bytes += reads[j].len;
            j += 1;
        }
        let j = j.max(i + 1);
        out.push(i..j);
        i = j;
    }
    out
}

/// `y += act(neuron) * down` for one bundle `row` (up, gate?, down; f32).
fn dot(v: &[f32], x: &[f32]) -> f32 {
    v.iter().zip(x).map(|(a, b)| a * b).sum::<f32>()
}

/// `silu(gate x)` of one neuron, computed exactly as [`accumulate`] does: CATS thresholds
/// make the FFN discontinuous, so the oracle must decide with the same arithmetic (in
/// SmolLM2 a single borderline neuron times an outlier activation moves the logits by units).
fn gate_activation(gate: &[f32], x: &[f32]) -> f32 {
    let g = dot(gate, x);
    g / (1.0 + (-g).exp())
}

fn accumulate(row: &[f32], x: &[f32], up_bias: f32, gated: bool, threshold: f32, y: &mut [f32]) {
    let w = x.len();
    let dot = |v: &[f32]| dot(v, x);
    let a = if gated {
        let s = gate_activation(&row[w..2 * w], x);
        if s.abs() > threshold {
            s * dot(&row[..w])
        } else {
            0.0
        }
    } else {
        (dot(&row[..w]) + up_bias).max(0.0)
    };
    if a != 0.0 {
        let down = &row[row.len() - w..];
        for (o, d) in y.iter_mut().zip(down) {
            *o += a * d;
        }
    }
}

/// Decodes a bundle's little-endian bytes into f32.
fn decode_row(bytes: &[u8], f16: bool, out: &mut [f32]) {
    if f16 {
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = half::f16::from_le_bytes([c[0], c[1]]).to_f32();
        }
    } else {
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
}

/// Sums `f(neuron, row scratch, y)` over the sorted `neurons` in parallel, in a fixed order:
/// each group of 64 consecutive neuron indices is summed in index order, and the groups'
/// sums are added in index order. A neuron that contributes nothing changes nothing, so the
/// sum over a superset of the contributing neurons (every neuron, or a predictor's guess) is
/// bit for bit the sum over exactly them: with CATS thresholds, where one neuron flipping at
/// an outlier activation moves the logits by units, the methods and predictors stay equal.
fn par_sum(
    neurons: &[u32],
    width: usize,
    row: usize,
    f: impl Fn(&u32, &mut [f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    const GROUP: u32 = 64;
    let groups: Vec<&[u32]> = neurons.chunk_by(|a, b| a / GROUP == b / GROUP).collect();
    let sums: Vec<Vec<f32>> = groups
        .par_iter()
        .map(|group| {
            let mut y = vec![0f32; width];
            let mut scratch = vec![0f32; row];
            for n in *group {
                f(n, &mut scratch, &mut y);
            }
            y
        })
        .collect();
    let mut y = vec![0f32; width];
    for s in sums {
        for (a, b) in y.iter_mut().zip(s) {
            *a += b;
        }
    }
    y
}

impl Offload {
    /// Reads `batch` into the staging buffer, counted in this token's figures; returns where
    /// each read's first bundle starts.
    fn read_batch(
        &mut self,
        batch: &[io::Read],
    ) -> Result<Vec<std::ops::Range<usize>>, FlashError> {
        let t = Instant::now();
        let ranges = self
            .disk
            .read(batch, &mut self.staging)
            .map_err(|source| FlashError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.current.io_ms += ms(t.elapsed());
        self.current.bytes += batch.iter().map(|r| r.len).sum::<u64>();
        self.current.reads += batch.len() as u64;
        Ok(ranges)
    }

    fn ffn(&mut self, layer: usize, ffn: &Ffn, x: &Tensor) -> Result<Tensor, FlashError> {
        if !matches!(ffn, Ffn::Offloaded { .. }) {
            return Ok(ffn.forward(x, &Ctx::default())?);
        }
        let dtype = x.dtype();
        let x32 = x.to_dtype(candle_core::DType::F32)?;
        let xv: Vec<f32> = x32.flatten_all()?.to_vec1()?;
        let sec = self.sections[layer];
        let threshold = self.opts.thresholds.get(layer).copied().unwrap_or(0.0);
        let needed = self.predictor.active(layer, &x32, sec.neurons, threshold)?;
        self.current.active += needed.len() as u64;
        if let Some(samples) = self.record.as_mut().and_then(|r| r.get_mut(layer)) {
            samples.x.extend_from_slice(&xv);
            if self.record_active {
                samples.active.push(needed.clone());
            }
        }
        let parts = if sec.gated { 3 } else { 2 };
        let row = parts * sec.width;
        let (up_bias, down_bias) = self.biases[layer].clone();
        let bias = |n: u32| up_bias.as_ref().map_or(0.0, |b| b[n as usize]);
        let f16 = self.f16;
        let mut y = match self.opts.method {
            Method::Flash => {
                if let Some((for_layer, read)) = self.ahead.take() {
                    if for_layer == layer {
                        self.current.prefetch_hits += needed
                            .iter()
                            .filter(|n| read.binary_search(n).is_ok())
                            .count() as u64;
                    }
                }
                // Neurons a store's worth at a time: one pass when the token's neurons fit
                // (the usual case), else several, each chunk made evictable for the next.
                let capacity = self.stores[layer].capacity.max(1);
                let chunks: Vec<&[u32]> = needed.chunks(capacity).collect();
                let mut y = vec![0f32; sec.width];
                for (i, chunk) in chunks.iter().enumerate() {
                    self.load(layer, chunk)?;
                    // The next layer's likely neurons, read while this one computes.
                    let ahead = if chunks.len() == 1 {
                        self.plan_ahead(layer + 1, &x32)?
                    } else {
                        None
                    };
                    let store = &self.stores[layer];
                    let (disk, buffer) = (&self.disk, &mut self.ahead_staging);
                    let (part, fetched) = std::thread::scope(|scope| {
                        let reader = ahead.as_ref().map(|(_, reads)| {
                            scope.spawn(move || {
                                let t = Instant::now();
                                (disk.read(reads, buffer), t.elapsed())
                            })
                        });
                        let part = par_sum(chunk, sec.width, row, |&n, scratch, y| {
                            if let Some(s) = store.slot_of(n) {
                                store.rows.read_f32(s * row..(s + 1) * row, scratch);
                                accumulate(scratch, &xv, bias(n), sec.gated, threshold, y);
                            }
                        });
                        (part, reader.map(|r| r.join()))
                    });
                    if let (Some((neurons, reads)), Some(fetched)) = (ahead, fetched) {
                        let (ranges, took) = fetched.map_err(|_| {
                            FlashError::Candle(candle_core::Error::Msg(
                                "a lookahead reader panicked".into(),
                            ))
                        })?;
                        let ranges = ranges.map_err(|source| FlashError::Io {
                            path: self.path.clone(),
                            source,
                        })?;
                        self.install_ahead(layer + 1, neurons, &reads, &ranges, took);
                    }
                    for (o, p) in y.iter_mut().zip(part) {
                        *o += p;
                    }
                    if i + 1 < chunks.len() {
                        self.stores[layer].age(chunk, self.token - 1);
                    }
                }
                y
            }
            Method::Naive => {
                // The whole section, a staging buffer at a time.
                let all: Vec<u32> = (0..sec.neurons as u32).collect();
                let reads = io::plan(&all, sec.base, sec.bundle_bytes, 0, self.opts.max_read);
                let bb = sec.bundle_bytes as usize;
                let mut y = vec![0f32; sec.width];
                for batch in batches(&reads, self.staging.len() as u64) {
                    let batch = &reads[batch];
                    let ranges = self.read_batch(batch)?;
                    // Reads hold consecutive neurons: (read, index inside it) of each needed one.
                    let first = batch[0].first;
                    let end = batch[batch.len() - 1].first + batch[batch.len() - 1].count;
                    let lo = needed.partition_point(|&n| n < first);
                    let hi = needed.partition_point(|&n| n < end);
                    let per_read = batch[0].count;
                    let staging = &self.staging;
                    let part = par_sum(&needed[lo..hi], sec.width, row, |&n, scratch, y| {
                        let k = n - first;
                        let (r, i) = ((k / per_read) as usize, (k % per_read) as usize);
                        let at = ranges[r].start + i * bb;
                        decode_row(&staging[at..at + bb], f16, scratch);
                        accumulate(scratch, &xv, bias(n), sec.gated, threshold, y);
                    });
                    for (o, p) in y.iter_mut().zip(part) {
                        *o += p;
                    }
                }
                self.current.missing += sec.neurons as u64;
                y
            }
            Method::Mmap => {
                let token = self.token;
                let pages = self.pages.as_mut().ok_or_else(|| {
                    FlashError::Candle(candle_core::Error::Msg("no mapping".into()))
                })?;
                let span = |n: u32| {
                    let start = sec.base + u64::from(n) * sec.bundle_bytes;
                    start / PAGE..=(start + sec.bundle_bytes - 1) / PAGE
                };
                let mut touched: Vec<u64> = needed.iter().flat_map(|&n| span(n)).collect();
                touched.dedup();
                if touched.len() > pages.room {
                    return Err(FlashError::Overflow {
                        layer,
                        needed: touched.len(),
                        capacity: pages.room,
                        unit: "pages",
                    });
                }
                let new: Vec<u64> = touched
                    .iter()
                    .copied()
                    .filter(|p| !pages.last.contains_key(p))
                    .collect();
                // Held pages this layer needs move to the back of the queue, so making room
                // evicts only pages it does not need (they all fit: touched <= room).
                for &p in &touched {
                    if let Some(last) = pages.last.get_mut(&p) {
                        *last = token;
                        pages.order.push_back((p, token));
                    }
                }
                let t = Instant::now();
                pages.make_room(new.len());
                self.current.mem_ms += ms(t.elapsed());
                // Touch every page: the faults are the I/O.
                let t = Instant::now();
                let mut sum = 0u8;
                for &p in &new {
                    sum = sum.wrapping_add(pages.map[(p * PAGE) as usize]);
                }
                std::hint::black_box(sum);
                self.current.io_ms += ms(t.elapsed());
                self.current.bytes += new.len() as u64 * PAGE;
                self.current.reads += new.len() as u64;
                self.current.missing += needed
                    .iter()
                    .filter(|&&n| span(n).any(|p| !pages.last.contains_key(&p)))
                    .count() as u64;
                for &p in &new {
                    pages.last.insert(p, token);
                    pages.order.push_back((p, token));
                }
                pages.peak = pages.peak.max(pages.last.len());
                let map = &pages.map;
                let bb = sec.bundle_bytes as usize;
                par_sum(&needed, sec.width, row, |&n, scratch, y| {
                    let at = (sec.base + u64::from(n) * sec.bundle_bytes) as usize;
                    decode_row(&map[at..at + bb], f16, scratch);
                    accumulate(scratch, &xv, bias(n), sec.gated, threshold, y);
                })
            }
        };
        if let Some(b) = down_bias {
            for (o, b) in y.iter_mut().zip(b.iter()) {
                *o += b;
            }
        }
        Ok(Tensor::from_vec(y, (1, sec.width), &Device::Cpu)?.to_dtype(dtype)?)
    }

    /// Flash: reads the neurons of `needed` (at most the store's capacity) not in the layer's
    /// store into it.
    /// The lookahead's reads for layer `next` (see `Options::lookahead`): the neurons its
    /// predictor names for `x` that are not in memory, as many as its free slots and the
    /// lookahead buffer take. `None` when there is nothing to read.
    #[allow(clippy::type_complexity)]
    fn plan_ahead(
        &mut self,
        next: usize,
        x: &Tensor,
    ) -> Result<Option<(Vec<u32>, Vec<io::Read>)>, FlashError> {
        if !self.opts.lookahead
            || next >= self.sections.len()
            || self.ahead_staging.is_empty()
            || matches!(self.predictor, Predictor::All)
        {
            return Ok(None);
        }
        let sec = self.sections[next];
        let threshold = self.opts.thresholds.get(next).copied().unwrap_or(0.0);
        let predicted = self.predictor.active(next, x, sec.neurons, threshold)?;
        let store = &self.stores[next];
        let free = store.capacity - store.used();
        let mut missing: Vec<u32> = predicted
            .into_iter()
            .filter(|&n| store.slot_of(n).is_none())
            .take(free)
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        let reads = self.plan(sec, &missing);
        // One buffer's worth: the first batch; the rest is read when the layer runs.
        let fits = batches(&reads, self.ahead_staging.len() as u64)
            .into_iter()
            .next()
            .map_or(0, |b| b.end);
        let reads = reads[..fits].to_vec();
        let end = reads.last().map_or(0, |r| r.first + r.count);
        missing.retain(|&n| n < end);
        Ok((!reads.is_empty()).then_some((missing, reads)))
    }

    /// Puts the rows the lookahead read for layer `next` into its store, marked as last used
    /// by the previous token: kept for the window, and evictable by this token's own reads.
    fn install_ahead(
        &mut self,
        next: usize,
        neurons: Vec<u32>,
        reads: &[io::Read],
        ranges: &[std::ops::Range<usize>],
        took: std::time::Duration,
    ) {
        let t = Instant::now();
        let bb = self.sections[next].bundle_bytes as usize;
        let stamp = self.token.saturating_sub(1);
        let store = &mut self.stores[next];
        let mut installed = Vec::with_capacity(neurons.len());
        for (r, range) in reads.iter().zip(ranges) {
            for k in 0..r.count {
                let n = r.first + k;
                if neurons.binary_search(&n).is_ok()
                    && store.slot_of(n).is_none()
                    && store.used() < store.capacity
                {
                    let at = range.start + k as usize * bb;
                    store.append(n, &self.ahead_staging[at..at + bb], stamp);
                    installed.push(n);
                }
            }
        }
        self.current.mem_ms += ms(t.elapsed());
        self.current.prefetch_ms += ms(took);
        self.current.bytes += reads.iter().map(|r| r.len).sum::<u64>();
        self.current.reads += reads.len() as u64;
        self.current.prefetched += installed.len() as u64;
        self.ahead = Some((next, installed));
    }

    /// Flash's reads of the sorted bundles `needed` of section `sec`.
    fn plan(&self, sec: Section, needed: &[u32]) -> Vec<io::Read> {
        io::plan(
            needed,
            sec.base,
            sec.bundle_bytes,
            self.opts.coalesce_gap,
            self.opts.max_read,
        )
    }

    fn load(&mut self, layer: usize, needed: &[u32]) -> Result<(), FlashError> {
        let token = self.token;
        let sec = self.sections[layer];
        let store = &mut self.stores[layer];
        let mut missing = Vec::new();
        for &n in needed {
            match store.slot_of(n) {
                Some(s) => store.touch(s, token),
                None => missing.push(n),
            }
        }
        self.current.missing += missing.len() as u64;
        if missing.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        let room = store.make_room(missing.len(), token);
        debug_assert!(room, "a chunk of at most the capacity leaves room");
        self.current.mem_ms += ms(t.elapsed());
        let reads = self.plan(sec, &missing);
        let bb = sec.bundle_bytes as usize;
        for batch in batches(&reads, self.staging.len() as u64) {
            let batch = &reads[batch];
            let ranges = self.read_batch(batch)?;
            let store = &mut self.stores[layer];
            let t = Instant::now();
            for (r, range) in batch.iter().zip(ranges) {
                for k in 0..r.count {
                    let n = r.first + k;
                    if missing.binary_search(&n).is_ok() {
                        let at = range.start + k as usize * bb;
                        store.append(n, &self.staging[at..at + bb], token);
                    }
                }
            }
            self.current.mem_ms += ms(t.elapsed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
