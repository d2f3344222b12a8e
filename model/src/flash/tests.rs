//! The engine against the dense runtime on generated OPT-shaped models (real files on disk,
//! read with O_DIRECT where the temp directory's file system takes it).

use std::sync::Arc;

use super::io::Submit;
use super::synth::Synth;
use super::*;
use crate::weights::DType;
use crate::Model;

fn small(dir: &Path, dtype: DType) -> std::path::PathBuf {
    let model = dir.join("model");
    Synth {
        vocab: 256,
        width: 64,
        neurons: 512,
        layers: 2,
        heads: 4,
        max_positions: 128,
        active: 0.1,
        shared: 0.8,
        dtype,
        seed: 3,
    }
    .write(&model)
    .expect("write");
    model
}

const TOKENS: [u32; 16] = [5, 17, 17, 200, 3, 99, 42, 42, 42, 7, 255, 0, 128, 64, 9, 31];

fn small_buffers(mut opts: Options) -> Options {
    opts.max_read = 16 * 1024;
    opts.staging = 32 * 1024;
    opts
}

fn model_bytes(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("weights.bin"))
        .expect("meta")
        .len()
}

/// Logits after each of `TOKENS`.
fn run(engine: &mut Engine) -> Vec<Vec<f32>> {
    steps(engine, &TOKENS)
}

/// Logits after each of `tokens`, stepped from the empty state.
fn steps(engine: &mut Engine, tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut state = engine.empty();
    tokens
        .iter()
        .map(|&t| {
            engine
                .step(&mut state, t)
                .expect("step")
                .to_vec1()
                .expect("v")
        })
        .collect()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn oracle_with_an_unlimited_window_equals_the_dense_model_for_every_method() {
    let dir = tempfile::tempdir().expect("dir");
    let model = small(dir.path(), DType::F32);
    let dense = Model::load(&model).expect("dense");
    let mut state = dense.empty();
    let logits = dense.forward_all(&mut state, &TOKENS).expect("forward");
    let want: Vec<Vec<f32>> = logits.to_vec2().expect("v");
    for method in [Method::Flash, Method::Naive, Method::Mmap] {
        let mut opts = small_buffers(Options::new(method, u64::MAX / 4));
        // A window of 2 tokens: neurons come and go (deletes, appends) as they would.
        opts.window = 2;
        let oracle = Oracle::load(&model).expect("oracle");
        let mut engine =
            Engine::open(&model, opts, Predictor::Oracle(Arc::new(oracle))).expect("open");
        let got = run(&mut engine);
        let diff = max_diff(&got, &want);
        assert!(diff < 1e-4, "{method:?}: max difference {diff}");
        let stats = engine.stats();
        assert_eq!(stats.len(), TOKENS.len());
        // About 10% of 2 x 512 neurons fire per token, and only they are computed.
        let active = stats.iter().map(|s| s.active).sum::<u64>() as f64 / TOKENS.len() as f64;
        assert!(
            (40.0..200.0).contains(&active),
            "{method:?}: {active} active"
        );
        assert!(
            stats[0].bytes > 0 && stats[0].reads > 0,
            "{method:?} read nothing"
        );
    }
}

#[test]
fn half_the_model_in_dram_gives_the_same_outputs_within_the_budget() {
    let dir = tempfile::tempdir().expect("dir");
    let model = small(dir.path(), DType::F32);
    let open_with = |budget: u64, method: Method, submit: Submit| {
        let oracle = Oracle::load(&model).expect("oracle");
        let mut opts = small_buffers(Options::new(method, budget));
        opts.submit = submit;
        Engine::open(&model, opts, Predictor::Oracle(Arc::new(oracle))).expect("open")
    };
    let open = |budget: u64, method: Method| open_with(budget, method, Submit::Ring);
    let mut unlimited = open(u64::MAX / 4, Method::Flash);
    let want = run(&mut unlimited);
    let half = model_bytes(&model) / 2;
    // Reads through the pool of reader threads (what a kernel that refuses io_uring gets)
    // give the same outputs.
    let mut pooled = open_with(half, Method::Flash, Submit::Threads);
    assert_eq!(pooled.disk().submit(), Submit::Threads);
    assert!(max_diff(&run(&mut pooled), &want) < 1e-6);
    for method in [Method::Flash, Method::Naive, Method::Mmap] {
        // The mapping holds whole 4 KiB pages, 8 of this model's 512-byte bundles each, so
        // one token's pages do not fit half the model: it gets 70%.
        let budget = if method == Method::Mmap {
            half * 7 / 5
        } else {
            half
        };
        let mut engine = open(budget, method);
        let got = run(&mut engine);
        let diff = max_diff(&got, &want);
        // Flash sums the same neurons in the same order as with no limit; naive sums them a
        // read buffer at a time (another rounding order).
        let tolerance = if method == Method::Flash { 1e-6 } else { 1e-4 };
        assert!(diff < tolerance, "{method:?}: max difference {diff}");
        let dram = engine.dram();
        assert!(
            dram.peak <= budget,
            "{method:?}: peak {} over the budget {budget}",
            dram.peak
        );
        assert!(dram.resident < dram.peak);
    }
    // With half the model, the window keeps neurons: fewer are read than fire.
    let stats = {
        let mut engine = open(half, Method::Flash);
        run(&mut engine);
        engine.stats().to_vec()
    };
    let active: u64 = stats.iter().map(|s| s.active).sum();
    let missing: u64 = stats.iter().map(|s| s.missing).sum();
    assert!(
        missing < active,
        "read {missing} of {active} active neurons"
    );
}

#[test]
fn the_lookahead_reads_the_next_layer_ahead_and_changes_no_output() {
    let dir = tempfile::tempdir().expect("dir");
    let model = small(dir.path(), DType::F32);
    let half = model_bytes(&model) / 2;
    let open = |lookahead: bool| {
        let oracle = Oracle::load(&model).expect("oracle");
        let mut opts = small_buffers(Options::new(Method::Flash, half));
        opts.lookahead = lookahead;
        Engine::open(&model, opts, Predictor::Oracle(Arc::new(oracle))).expect("open")
    };
    let mut without = open(false);
    let mut with = open(true);
    let want = run(&mut without);
    let got = run(&mut with);
    // The same neurons summed in the same order: the same bits.
    assert_eq!(got, want);
    let total = |e: &Engine, f: fn(&TokenStats) -> u64| e.stats().iter().map(f).sum::<u64>();
    let (prefetched, hits) = (
        total(&with, |s| s.prefetched),
        total(&with, |s| s.prefetch_hits),
    );
    assert!(
        prefetched > 0 && hits > 0,
        "read ahead {prefetched}, used {hits}"
    );
    assert_eq!(total(&without, |s| s.prefetched), 0);
    // Reads the next layer waits for: fewer with the lookahead.
    let (missing_with, missing_without) =
        (total(&with, |s| s.missing), total(&without, |s| s.missing));
    assert!(
        missing_with < missing_without,
        "waited for {missing_with} neurons with the lookahead, {missing_without} without"
    );
    // Its second read buffer is counted, and the budget still holds.
    assert!(
        with.dram().peak <= half,
        "peak {} over {half}",
        with.dram().peak
    );
    assert!(with.dram().peak > without.dram().peak);
}

#[test]
fn budgets_too_small_are_errors_and_layers_larger_than_the_budget_run_in_passes() {
    let dir = tempfile::tempdir().expect("dir");
    let model = small(dir.path(), DType::F32);
    let err = Engine::open(&model, Options::new(Method::Flash, 1000), Predictor::All)
        .expect_err("1000 bytes");
    assert!(err.to_string().contains("resident weights"), "{err}");
    // Dense (every neuron) does not fit half the model: flash computes each layer in several
    // passes within the budget, and the outputs are still the dense model's.
    let budget = model_bytes(&model) / 2;
    let mut engine = Engine::open(
        &model,
        small_buffers(Options::new(Method::Flash, budget)),
        Predictor::All,
    )
    .expect("open");
    let dense = Model::load(&model).expect("dense");
    let mut state = dense.empty();
    let want: Vec<Vec<f32>> = dense
        .forward_all(&mut state, &TOKENS)
        .expect("forward")
        .to_vec2()
        .expect("v");
    let got = run(&mut engine);
    let diff = max_diff(&got, &want);
    assert!(diff < 1e-4, "flash in passes against dense: {diff}");
    assert!(engine.dram().peak <= budget);
    // The mapping at half the model: a dense layer's 4 KiB pages do not fit, and it says so.
    let mut engine =
        Engine::open(&model, Options::new(Method::Mmap, budget), Predictor::All).expect("open");
    let mut state = engine.empty();
    let err = engine.step(&mut state, 1).expect_err("overflow");
    assert!(
        matches!(err, FlashError::Overflow { unit: "pages", .. }),
        "{err}"
    );
}

#[test]
fn f16_models_keep_resident_weights_in_f16() {
    let dir = tempfile::tempdir().expect("dir");
    let model = small(dir.path(), DType::F16);
    let f32_dir = tempfile::tempdir().expect("dir");
    let model32 = small(f32_dir.path(), DType::F32);
    let open = |m: &Path| {
        let oracle = Oracle::load(m).expect("oracle");
        Engine::open(
            m,
            small_buffers(Options::new(Method::Flash, u64::MAX / 4)),
            Predictor::Oracle(Arc::new(oracle)),
        )
        .expect("open")
    };
    let (mut half, mut full) = (open(&model), open(&model32));
    assert_eq!(half.dram().resident * 2, full.dram().resident);
    let (a, b) = (run(&mut half), run(&mut full));
    // Same seed, f16 rounding: the outputs agree roughly.
    let diff = max_diff(&a, &b);
    assert!(diff < 0.05, "f16 vs f32: {diff}");
}

#[test]
fn predictors_trained_on_recorded_activations_find_the_active_neurons() {
    let dir = tempfile::tempdir().expect("dir");
    let model = small(dir.path(), DType::F32);
    let oracle = Arc::new(Oracle::load(&model).expect("oracle"));
    let mut engine = Engine::open(
        &model,
        small_buffers(Options::new(Method::Flash, u64::MAX / 4)),
        Predictor::Oracle(oracle),
    )
    .expect("open");
    engine.record();
    for s in 0..12u32 {
        let mut state = engine.empty();
        let tokens: Vec<u32> = (0..40).map(|i| (s * 41 + i * 7 + i * i) % 256).collect();
        engine.run(&mut state, &tokens).expect("run");
    }
    let samples = engine.take_samples();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].active.len(), 480);
    let settings = predictor::TrainSettings {
        rank: 32,
        epochs: 40,
        ..Default::default()
    };
    let (trained, reports) =
        predictor::LowRank::train(&samples, 64, 512, &settings, &mut |_| {}).expect("train");
    for r in &reports {
        assert!((0.05..0.2).contains(&r.active_fraction), "{r:?}");
        assert!(r.recall > 0.8 && r.precision > 0.3, "{r:?}");
    }
    let path = dir.path().join(predictor::FILE);
    trained.save(&path).expect("save");
    let loaded = predictor::LowRank::load(&path).expect("load");
    assert_eq!((loaded.rank, loaded.layers()), (32, 2));
    assert_eq!(loaded.bytes(), 2 * (64 * 32 + 32 * 512 + 512) * 4);
    // The engine counts the predictors as resident (in this tiny model they are as large as
    // a third of the weights: the budget is half the model plus them).
    let budget = model_bytes(&model) / 2 + trained.bytes();
    let mut with = Engine::open(
        &model,
        small_buffers(Options::new(Method::Flash, budget)),
        Predictor::LowRank(Arc::new(loaded)),
    )
    .expect("open");
    let plain = Engine::open(
        &model,
        small_buffers(Options::new(Method::Flash, budget)),
        Predictor::All,
    )
    .expect("open");
    assert_eq!(
        with.dram().resident,
        plain.dram().resident + trained.bytes()
    );
    run(&mut with);
    assert!(with.dram().peak <= budget);
    let stats = with.stats();
    let active = stats.iter().map(|s| s.active).sum::<u64>() as f64 / stats.len() as f64;
    assert!(
        (40.0..250.0).contains(&active),
        "{active} predicted per token"
    );
}

/// SmolLM2 (set up by `model/setup-smollm2.sh`, as the runtime's tests need): CATS thresholds
/// chosen on recorded inputs give the asked sparsity, and the dense runtime and the flash
/// engine (oracle neurons) then run the same sparsified model.
#[test]
fn cats_thresholds_sparsify_smollm2_alike_in_the_runtime_and_the_engine() {
    let source = crate::cache_dir()
        .expect("XDG_CACHE_HOME or HOME")
        .join("models/smollm2-135m-instruct");
    assert!(
        source.join("weights.bin").exists(),
        "SmolLM2 is not set up: run model/setup-smollm2.sh"
    );
    let dir = tempfile::tempdir().expect("dir");
    for f in ["config.json", "tokenizer.json", "weights.bin"] {
        std::os::unix::fs::symlink(source.join(f), dir.path().join(f)).expect("link");
    }
    let model = dir.path();
    let tokens: Vec<u32> = {
        let dense = Model::load(model).expect("load");
        dense
            .encode("Screen: {{1. Ada Lovelace}} {{2. (408) 555-0100}} call her")
            .expect("encode")
    };
    let mut opts = Options::new(Method::Flash, u64::MAX / 4);
    opts.thresholds = vec![0.0; 30];
    let mut engine = Engine::open(model, opts, Predictor::All).expect("open");
    engine.record_inputs();
    let dense_by_engine: Vec<Vec<f32>> = steps(&mut engine, &tokens);
    let mut samples = engine.take_samples();
    let oracle = Arc::new(Oracle::load(model).expect("oracle"));
    let gates: Vec<Tensor> = (0..oracle.layers())
        .map(|l| oracle.gate(l).expect("gated").clone())
        .collect();
    let cats = predictor::Thresholds::choose(&mut samples, &gates, 576, 0.8).expect("choose");
    for s in &samples {
        let active: usize = s.active.iter().map(Vec::len).sum();
        let share = active as f64 / (s.active.len() * 1536) as f64;
        assert!((0.19..=0.21).contains(&share), "{share}");
    }
    let plain: Vec<Vec<f32>> = {
        let dense = Model::load(model).expect("load");
        let mut st = dense.empty();
        dense
            .forward_all(&mut st, &tokens)
            .expect("fw")
            .to_vec2()
            .expect("v")
    };
    let diff = max_diff(&dense_by_engine, &plain);
    assert!(
        diff < 2e-3,
        "engine (every neuron) vs the dense runtime: {diff}"
    );
    cats.write(model).expect("write");
    let dense = Model::load(model).expect("load with thresholds");
    let mut st = dense.empty();
    let want: Vec<Vec<f32>> = dense
        .forward_all(&mut st, &tokens)
        .expect("fw")
        .to_vec2()
        .expect("v");
    assert!(
        max_diff(&plain, &want) > 1e-2,
        "the thresholds change the model"
    );
    // Every neuron with the thresholds applied: the engine equals the runtime (their gate
    // values differ by rounding only; no neuron sits on a threshold in this text).
    let all_neurons: Vec<Vec<f32>> = {
        let mut e = Engine::open(
            model,
            Options::new(Method::Flash, u64::MAX / 4),
            Predictor::All,
        )
        .expect("open");
        steps(&mut e, &tokens)
    };
    let diff = max_diff(&all_neurons, &want);
    assert!(
        diff < 2e-3,
        "engine (thresholds) vs runtime (thresholds): {diff}"
    );
    let mut engine = Engine::open(
        model,
        Options::new(Method::Flash, u64::MAX / 4),
        Predictor::Oracle(oracle),
    )
    .expect("open");
    let got: Vec<Vec<f32>> = steps(&mut engine, &tokens);
    // The oracle names exactly the neurons the thresholds keep: the same outputs.
    let diff = max_diff(&got, &all_neurons);
    assert!(
        diff < 1e-4,
        "oracle neurons vs every neuron, thresholded: {diff}"
    );
    let named = engine.stats().iter().map(|s| s.active).sum::<u64>() as f64;
    let share = named / (tokens.len() * 30 * 1536) as f64;
    assert!((0.1..0.3).contains(&share), "{share} of neurons named");
}
