//! `deixis model bench`: the three methods on the same weights and DRAM budget, cold.
//!
//! For each model and active fraction: the budget is half the weights file; each method opens
//! its own engine, the file is dropped from the page cache, `prefill` tokens fill the window,
//! and the next `tokens` are measured (their mean per token is reported). All methods compute
//! the same neurons (the oracle's), so only their I/O and memory management differ. After the
//! flash run, the disk's own cold random-read throughput is measured at the flash run's mean
//! read size with the same number of readers, so the I/O time can be compared with what the
//! disk can do.

use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{Engine, FlashError, Method, Options, Oracle, Predictor};

/// One model at one active fraction: the `runs` entry of `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub model: String,
    /// "oracle", or "low-rank (rank R)".
    pub predictor: String,
    pub params: u64,
    pub model_bytes: u64,
    pub dram_budget_bytes: u64,
    pub bundle_bytes: u64,
    pub active_fraction: f64,
    /// The disk's cold random-read throughput at `read_bytes` with `threads` readers, one
    /// deep queue of reads.
    pub disk_read_mib_s: f64,
    /// The same in batches of `reads_per_layer` reads, each waiting for the one before: the
    /// pattern of a token, whose layers read one after another.
    pub disk_read_mib_s_layer_batches: f64,
    /// The same batches, each followed by the flash run's compute time per layer
    /// (`gap_ms`): the pattern of a token, idle disk included (this disk answers the first
    /// read after an idle spell about twice as slowly as one in a busy queue).
    pub disk_read_mib_s_paced: f64,
    pub gap_ms: f64,
    pub reads_per_layer: usize,
    pub read_bytes: u64,
    pub threads: usize,
    /// How reads were submitted ("ring" or "threads").
    pub submit: super::io::Submit,
    pub direct_io: bool,
    pub window: usize,
    pub tokens: usize,
    pub results: Vec<MethodResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodResult {
    pub method: Method,
    pub ms_per_token: f64,
    pub io_ms: f64,
    pub mem_ms: f64,
    pub compute_ms: f64,
    pub bytes_per_token: f64,
    pub reads_per_token: f64,
    pub peak_dram_bytes: u64,
    /// Neurons the predictor named per token (all layers), and of those, the ones read when
    /// their layer ran.
    pub active_per_token: f64,
    pub missing_per_token: f64,
    /// Flash's lookahead per token: neurons read ahead, of those the ones their layer named,
    /// and the wall time of those reads (beside compute, not in `io_ms`).
    pub prefetched_per_token: f64,
    pub prefetch_hits_per_token: f64,
    pub prefetch_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub prefill: usize,
    pub tokens: usize,
    pub window: usize,
    pub threads: usize,
    pub seed: u64,
    /// Flash's lookahead (`Options::lookahead`).
    pub lookahead: bool,
    pub submit: super::io::Submit,
}

/// Runs the three methods on the model in `dir` (half the file as the budget), on `text`'s
/// tokens, or random ones. `progress` is told what runs.
pub fn run(
    dir: &Path,
    name: &str,
    params: u64,
    active_fraction: f64,
    settings: &Settings,
    text: Option<&[u32]>,
    progress: &mut dyn FnMut(&str),
) -> Result<Run, FlashError> {
    let weights = dir.join("weights.bin");
    let model_bytes = std::fs::metadata(&weights)
        .map_err(|source| FlashError::Io {
            path: weights.display().to_string(),
            source,
        })?
        .len();
    let budget = model_bytes / 2;
    // The trained predictors where `deixis model train-predictors` wrote them, else the oracle.
    let predictors = dir.join(super::predictor::FILE);
    let (low_rank, oracle) = if predictors.exists() {
        let p = super::predictor::LowRank::load(&predictors)?;
        (Some(Arc::new(p)), None)
    } else {
        progress(&format!(
            "{name}: loading the oracle (no {})",
            super::predictor::FILE
        ));
        (None, Some(Arc::new(Oracle::load(dir)?)))
    };
    let predictor_name = match &low_rank {
        Some(p) => format!("low-rank (rank {})", p.rank),
        None => "oracle".to_owned(),
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed);
    let mut results = Vec::new();
    let mut run = Run {
        model: name.to_owned(),
        predictor: predictor_name,
        params,
        model_bytes,
        dram_budget_bytes: budget,
        bundle_bytes: 0,
        active_fraction,
        disk_read_mib_s: 0.0,
        disk_read_mib_s_layer_batches: 0.0,
        disk_read_mib_s_paced: 0.0,
        gap_ms: 0.0,
        reads_per_layer: 0,
        read_bytes: 0,
        threads: settings.threads,
        submit: settings.submit,
        direct_io: false,
        window: settings.window,
        tokens: settings.tokens,
        results: Vec::new(),
    };
    let mut tokens: Vec<u32> = Vec::new();
    for method in [Method::Naive, Method::Mmap, Method::Flash] {
        progress(&format!("{name}: {}", method.name()));
        let mut opts = Options::new(method, budget);
        opts.window = settings.window;
        opts.threads = settings.threads;
        opts.lookahead = settings.lookahead;
        opts.submit = settings.submit;
        let predictor = match (&low_rank, &oracle) {
            (Some(p), _) => Predictor::LowRank(p.clone()),
            (None, Some(o)) => Predictor::Oracle(o.clone()),
            (None, None) => Predictor::All,
        };
        let mut engine = Engine::open(dir, opts, predictor)?;
        if let (true, Some(text)) = (tokens.is_empty(), text) {
            tokens = text
                .iter()
                .copied()
                .cycle()
                .take(settings.prefill + settings.tokens)
                .collect();
        }
        if tokens.is_empty() {
            let vocab = engine.config.vocab_size as u32;
            tokens = (0..settings.prefill + settings.tokens)
                .map(|_| rng.gen_range(0..vocab))
                .collect();
        }
        run.bundle_bytes = engine.bundle_bytes();
        run.direct_io = engine.direct_io();
        run.submit = engine.disk().submit();
        engine.make_cold()?;
        let mut state = engine.empty();
        engine.run(&mut state, &tokens[..settings.prefill])?;
        engine.reset_stats();
        engine.run(&mut state, &tokens[settings.prefill..])?;
        let stats = engine.stats();
        let n = stats.len().max(1) as f64;
        let mean = |f: &dyn Fn(&super::TokenStats) -> f64| stats.iter().map(f).sum::<f64>() / n;
        let result = MethodResult {
            method,
            ms_per_token: mean(&|s| s.ms),
            io_ms: mean(&|s| s.io_ms),
            mem_ms: mean(&|s| s.mem_ms),
            compute_ms: mean(&|s| s.compute_ms),
            bytes_per_token: mean(&|s| s.bytes as f64),
            reads_per_token: mean(&|s| s.reads as f64),
            peak_dram_bytes: engine.dram().peak,
            active_per_token: mean(&|s| s.active as f64),
            missing_per_token: mean(&|s| s.missing as f64),
            prefetched_per_token: mean(&|s| s.prefetched as f64),
            prefetch_hits_per_token: mean(&|s| s.prefetch_hits as f64),
            prefetch_ms: mean(&|s| s.prefetch_ms),
        };
        if method == Method::Flash {
            let read = (result.bytes_per_token / result.reads_per_token.max(1.0)) as u64;
            run.read_bytes = super::io::align_up(read.max(1));
            progress(&format!(
                "{name}: disk throughput at {} bytes",
                run.read_bytes
            ));
            let layers = engine.config.num_layers.max(1);
            run.reads_per_layer =
                ((result.reads_per_token / layers as f64).round() as usize).max(1);
            let io = |source| FlashError::Io {
                path: weights.display().to_string(),
                source,
            };
            let count = 2048;
            let disk = engine.disk();
            let throughput = |count: usize, batch: usize, gap: std::time::Duration, seed| {
                disk.throughput(run.read_bytes, count, batch, gap, 0..model_bytes, seed)
                    .map_err(io)
            };
            let zero = std::time::Duration::ZERO;
            let per_layer = run.reads_per_layer;
            run.disk_read_mib_s = throughput(count, count, zero, settings.seed)?;
            run.disk_read_mib_s_layer_batches =
                throughput(count, per_layer, zero, settings.seed + 1)?;
            run.gap_ms = (result.ms_per_token - result.io_ms) / layers as f64;
            let gap = std::time::Duration::from_secs_f64(run.gap_ms.max(0.0) / 1000.0);
            // Fewer batches: each costs the gap too.
            let paced = (per_layer * 200).min(count);
            run.disk_read_mib_s_paced = throughput(paced, per_layer, gap, settings.seed + 2)?;
        }
        results.push(result);
    }
    run.results = results;
    Ok(run)
}

/// The disk's cold random-read throughput (MiB/s) at each read size (rows) and number of
/// reads in flight (columns): `count` reads, `depth` at a time (each batch waiting for the one
/// before) through the ring, or one deep queue on a pool of `depth` readers. How read size
/// and parallelism were chosen. Also returns how reads were submitted (the ring may be refused).
pub fn disk_table(
    path: &Path,
    sizes: &[u64],
    depths: &[usize],
    count: usize,
    submit: super::io::Submit,
) -> std::io::Result<(Vec<Vec<f64>>, super::io::Submit)> {
    use super::io::{Disk, Submit};
    let len = std::fs::metadata(path)?.len();
    let mut rows = Vec::new();
    let mut used = submit;
    for (i, &size) in sizes.iter().enumerate() {
        let mut row = Vec::new();
        for &depth in depths {
            let disk = Disk::open(path, depth, submit)?;
            used = disk.submit();
            let batch = match disk.submit() {
                Submit::Ring => depth,
                Submit::Threads => count,
            };
            let zero = std::time::Duration::ZERO;
            row.push(disk.throughput(size, count, batch, zero, 0..len, 7 + i as u64)?);
        }
        rows.push(row);
    }
    Ok((rows, used))
}
