//! Runtime benchmark on SmolLM2-135M-Instruct (set up by `model/setup-smollm2.sh`): prefill
//! and decode speed on a 400-token screen prompt, ours against candle-transformers'
//! quantized_llama on the same GGUF (its own Q4_1 matmuls, and dequantized to f32 as our
//! weights are), our one-token kernels on and off, and the cost of scoring 30 candidate
//! numbers from the cached 400-token prefix.
//!
//! `cargo bench -p deixis-model --bench runtime` measures (5 runs of each, 32 decode steps);
//! `-- --quick` is a smoke run (1 run, 4 steps).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use deixis_model::Model;

fn cache() -> PathBuf {
    deixis_model::cache_dir().expect("XDG_CACHE_HOME or HOME")
}

/// A screen-like prompt of exactly `n` tokens.
fn prompt(model: &Model, n: usize) -> Vec<u32> {
    let mut text = String::from(
        "Select which among the following entities, if any, are required to understand the user request below.\nScreen:\n",
    );
    let mut k = 1;
    while model.encode(&text).expect("encode").len() < n {
        text.push_str(&format!(
            "{{{{{k}. Ada Lovelace}}}}\t{{{{{}. (408) 555-01{:02}}}}}\t{{{{{}. Call}}}}\n",
            k + 1,
            k % 100,
            k + 2
        ));
        k += 3;
    }
    let mut ids = model.encode(&text).expect("encode");
    ids.truncate(n);
    ids
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn oracle(gguf: &PathBuf) -> ModelWeights {
    let mut file = std::fs::File::open(gguf).expect("gguf");
    let content = gguf_file::Content::read(&mut file).expect("gguf content");
    ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("quantized_llama")
}

/// (prefill tokens/s, decode tokens/s) of quantized_llama.
fn run_oracle(o: &mut ModelWeights, ids: &[u32], runs: usize, steps: usize) -> (f64, f64) {
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for _ in 0..runs {
        o.clear_kv_cache();
        let x = Tensor::new(ids, &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .expect("ids");
        let start = Instant::now();
        let logits = o.forward(&x, 0).expect("prefill");
        prefill.push(start.elapsed());
        let mut next = logits
            .squeeze(0)
            .and_then(|l| l.argmax(0))
            .and_then(|t| t.to_scalar::<u32>())
            .expect("argmax");
        let start = Instant::now();
        for s in 0..steps {
            let l = o
                .forward(
                    &Tensor::new(&[[next]], &Device::Cpu).expect("id"),
                    ids.len() + s,
                )
                .expect("step");
            next = l
                .squeeze(0)
                .and_then(|l| l.argmax(0))
                .and_then(|t| t.to_scalar::<u32>())
                .expect("argmax");
        }
        decode.push(start.elapsed() / steps as u32);
    }
    (
        ids.len() as f64 / median(prefill).as_secs_f64(),
        1.0 / median(decode).as_secs_f64(),
    )
}

/// (prefill tokens/s, decode tokens/s) of ours.
fn run_ours(model: &Model, ids: &[u32], runs: usize, steps: usize) -> (f64, f64) {
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let mut state = model.extend(&model.empty(), ids).expect("prefill");
        prefill.push(start.elapsed());
        let start = Instant::now();
        for _ in 0..steps {
            let next = state
                .logits()
                .and_then(|l| l.argmax(0).ok())
                .and_then(|t| t.to_scalar::<u32>().ok())
                .expect("argmax");
            state = model.extend(&state, &[next]).expect("step");
        }
        decode.push(start.elapsed() / steps as u32);
    }
    (
        ids.len() as f64 / median(prefill).as_secs_f64(),
        1.0 / median(decode).as_secs_f64(),
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (runs, steps) = if quick { (1, 4) } else { (5, 32) };
    let gguf = cache().join("downloads/SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = cache().join("models/smollm2-135m-instruct");
    assert!(
        gguf.exists() && dir.exists(),
        "run model/setup-smollm2.sh first"
    );
    let mut model = Model::load(&dir).expect("load");
    let ids = prompt(&model, 400);
    println!(
        "machine: {} cores; SmolLM2-135M-Instruct, {}-token screen prompt, greedy decode of {steps} tokens, median of {runs}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        ids.len()
    );
    println!("| engine | weights | prefill tok/s | decode tok/s |");
    println!("|---|---|---|---|");
    let mut q4 = oracle(&gguf);
    let (p, d) = run_oracle(&mut q4, &ids, runs, steps);
    println!("| candle-transformers quantized_llama | Q4_1 | {p:.0} | {d:.1} |");
    drop(q4);
    // The f32 oracle must be built in a thread that reads the variable fresh.
    let (p, d) = std::thread::scope(|s| {
        s.spawn(|| {
            std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
            let mut f32_oracle = oracle(&gguf);
            run_oracle(&mut f32_oracle, &ids, runs, steps)
        })
        .join()
        .expect("oracle thread")
    });
    println!("| candle-transformers quantized_llama | f32 (dequantized) | {p:.0} | {d:.1} |");
    model.ctx.own_kernels = false;
    let (p, d) = run_ours(&model, &ids, runs, steps);
    println!("| deixis, candle matmul only | f32 | {p:.0} | {d:.1} |");
    model.ctx.own_kernels = true;
    let (p, d) = run_ours(&model, &ids, runs, steps);
    println!("| deixis, own kernels for steps of <= 8 tokens | f32 | {p:.0} | {d:.1} |");

    // Scoring the prompt numbers 1..=30 (digits split, then a newline) from the cached prefix.
    let state = model.extend(&model.empty(), &ids).expect("prefix");
    let end = model.encode("\n").expect("newline");
    let continuations: Vec<Vec<u32>> = (1..=30)
        .map(|n| {
            let mut c = model.encode(&n.to_string()).expect("number");
            c.extend(&end);
            c
        })
        .collect();
    for (what, constrained) in [
        ("constrained decoding", true),
        ("full vocabulary at every step", false),
    ] {
        let mut times = Vec::new();
        for _ in 0..runs.max(3) {
            let start = Instant::now();
            let scores = model
                .score(&state, &continuations, constrained)
                .expect("score");
            times.push(start.elapsed());
            assert_eq!(scores.len(), 30);
        }
        println!(
            "scoring 30 candidate numbers from the cached {}-token prefix ({what}): {:.1} ms",
            ids.len(),
            median(times).as_secs_f64() * 1e3
        );
    }
}
