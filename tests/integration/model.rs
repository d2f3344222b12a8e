//! Model: `deixis model convert` and `deixis model generate` on the real SmolLM2 conversion
//! (`model/setup-smollm2.sh`), and their errors on files that are not models or are damaged.

use std::path::PathBuf;

use crate::support::{deixis, run, Run, TINY};

fn smollm2() -> PathBuf {
    let cache = deixis_model::cache_dir()
        .expect("XDG_CACHE_HOME or HOME")
        .join("models/smollm2-135m-instruct");
    assert!(
        cache.join("weights.bin").exists(),
        "SmolLM2 is not set up: run model/setup-smollm2.sh"
    );
    cache
}

#[test]
fn smollm2_answers_a_question() {
    let dir = smollm2();
    let r = run([
        "model",
        "generate",
        "--model",
        dir.to_str().expect("utf-8"),
        "--chat",
        "--max-tokens",
        "12",
        "What is the capital of France?",
    ])
    .code(0);
    assert!(r.stdout.contains("Paris"), "{}", r.stdout);
    assert!(r.stderr.contains("generated"), "{}", r.stderr);
}

#[test]
fn files_that_are_not_models_or_are_damaged_get_clear_errors() {
    let tmp = tempfile::tempdir().expect("dir");
    // Not a GGUF file.
    let out = tmp.path().join("out");
    let r = run([
        "model",
        "convert",
        "--gguf",
        "README.md",
        "--out",
        out.to_str().expect("utf-8"),
    ])
    .code(1);
    assert!(
        r.stderr.contains("README.md") && r.stderr.contains("GGUF"),
        "{}",
        r.stderr
    );
    assert!(!out.join("weights.bin").exists());

    // A model directory whose weights were cut short, then one with a flipped byte.
    let src = smollm2();
    let dir = tmp.path().join("damaged");
    std::fs::create_dir(&dir).expect("dir");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).expect("copy");
    }
    let weights = std::fs::read(src.join("weights.bin")).expect("weights");
    std::fs::write(dir.join("weights.bin"), &weights[..weights.len() / 3]).expect("write");
    let generate = |dir: &std::path::Path| -> Run {
        Run::of(
            deixis()
                .args(["model", "generate", "--model"])
                .arg(dir)
                .arg("hi"),
        )
        .code(1)
    };
    let r = generate(&dir);
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);
    let mut flipped = weights.clone();
    let at = flipped.len() - 4096 * 3;
    flipped[at] ^= 0x40;
    std::fs::write(dir.join("weights.bin"), &flipped).expect("write");
    let r = generate(&dir);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    // A config from a newer format.
    std::fs::write(dir.join("weights.bin"), &weights).expect("write");
    let config = std::fs::read_to_string(src.join("config.json")).expect("config");
    std::fs::write(
        dir.join("config.json"),
        config.replace("\"format_version\": 1", "\"format_version\": 2"),
    )
    .expect("write");
    let r = generate(&dir);
    assert!(r.stderr.contains("format version 2"), "{}", r.stderr);
}

#[test]
fn a_model_that_does_not_load_leaves_the_baseline_answering() {
    let tmp = tempfile::tempdir().expect("dir");
    std::fs::write(tmp.path().join("config.json"), "{not json").expect("write");
    let card = "parser/testdata/screens/contact_card.json";
    let broken = Run::of(
        deixis()
            .args(["resolve", "--resolver", "model", "--model"])
            .arg(tmp.path())
            .args(["--screen", card, "call her work number"]),
    )
    .code(0);
    assert!(
        broken.stderr.contains("cannot load the model")
            && broken.stderr.contains("the baseline answers"),
        "{}",
        broken.stderr
    );
    let baseline = run(["resolve", "--screen", card, "call her work number"]).code(0);
    assert_eq!(broken.stdout, baseline.stdout);
}

#[test]
fn training_stops_resumes_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("dir");
    let config = tmp.path().join("tiny.toml");
    std::fs::write(&config, TINY).expect("write");
    let out = tmp.path().join("run");
    let train = |extra: &[&str]| {
        Run::of(
            deixis()
                .args(["model", "train", "--config"])
                .arg(&config)
                .arg("--out")
                .arg(&out)
                .args(extra),
        )
    };
    let first = train(&["--stop-after", "2"]).code(0);
    assert!(
        first.stderr.contains("stopped at step 2 of 4"),
        "{}",
        first.stderr
    );
    let again = train(&[]).code(1);
    assert!(again.stderr.contains("--resume"), "{}", again.stderr);
    let rest = train(&["--resume"]).code(0);
    assert!(rest.stderr.contains("done: 4 steps"), "{}", rest.stderr);
    for f in [
        "loss.csv",
        "eval.csv",
        "loss.png",
        "train.toml",
        "model/weights.bin",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // The exported model answers: every candidate ranked, with a probability.
    let answer = Run::of(
        deixis()
            .args([
                "resolve",
                "--json",
                "--max-results",
                "100",
                "--resolver",
                "model",
                "--model",
            ])
            .arg(out.join("model"))
            .args([
                "--screen",
                "parser/testdata/screens/contact_card.json",
                "call her",
            ]),
    )
    .code(0);
    let answer: serde_json::Value = serde_json::from_str(&answer.stdout).expect("JSON");
    let candidates = answer["candidates"].as_array().expect("candidates");
    assert!(candidates.len() > 10, "{answer}");
    let total: f64 = candidates
        .iter()
        .map(|c| c["score"].as_f64().expect("score"))
        .sum();
    assert!(total > 0.0 && total <= 1.0 + 1e-3, "{total}");

    std::fs::write(&config, "seed = 1\nwidth = 32\n").expect("write");
    let bad = train(&[]).code(1);
    assert!(bad.stderr.contains("missing field"), "{}", bad.stderr);
}

/// `deixis model bench --quick` generates its models into the cache, runs naive, budgeted
/// mmap and flash on each from a cold page cache, and reports per token; after
/// `deixis model train-predictors`, the bench uses the trained predictors.
#[test]
fn flash_bench_smoke_run_and_predictor_training() {
    let cache = tempfile::tempdir().expect("dir");
    let bench = || {
        let r = Run::of(
            deixis()
                .env("XDG_CACHE_HOME", cache.path())
                .args(["model", "bench", "--quick", "--json"]),
        )
        .code(0);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        v["runs"].as_array().expect("runs").clone()
    };
    let runs = bench();
    assert_eq!(runs.len(), 3, "3%, 5%, 10% active");
    for run in &runs {
        assert_eq!(run["predictor"], "oracle");
        let budget = run["dram_budget_bytes"].as_u64().expect("budget");
        assert_eq!(budget, run["model_bytes"].as_u64().expect("bytes") / 2);
        assert!(run["disk_read_mib_s"].as_f64().expect("disk") > 0.0);
        let results = run["results"].as_array().expect("results");
        let methods: Vec<&str> = results
            .iter()
            .map(|r| r["method"].as_str().expect("m"))
            .collect();
        assert_eq!(methods, ["naive", "mmap", "flash"]);
        for r in results {
            assert!(
                r["peak_dram_bytes"].as_u64().expect("peak") <= budget,
                "{r}"
            );
            assert!(r["ms_per_token"].as_f64().expect("ms") > 0.0);
        }
        // Naive reads every FFN byte per token; flash only the missing neurons.
        let bytes = |i: usize| results[i]["bytes_per_token"].as_f64().expect("bytes");
        assert!(
            bytes(2) * 5.0 < bytes(0),
            "flash {} vs naive {}",
            bytes(2),
            bytes(0)
        );
    }
    let model = cache.path().join("deixis/models/bench-opt-shaped-13m-3pct");
    let r = Run::of(
        deixis()
            .args(["model", "train-predictors", "--model"])
            .arg(&model)
            .args([
                "--corpus", "random", "--tokens", "300", "--rank", "16", "--epochs", "3", "--json",
            ]),
    )
    .code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let layers = v["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 4);
    for l in layers {
        let recall = l["recall"].as_f64().expect("recall");
        assert!((0.0..=1.0).contains(&recall), "{l}");
    }
    assert!(model.join("predictors.safetensors").exists());
    let runs = bench();
    assert_eq!(runs[0]["predictor"], "low-rank (rank 16)");
    assert_eq!(runs[1]["predictor"], "oracle");
}

/// Without a config, `deixis` answers with the shipped model (`model/deixis-small`), and it
/// does better than the baseline on generated cases of the held-out seed (no training chunk
/// uses it). A model that does not load, or loads broken, fails here.
#[test]
fn the_shipped_model_answers_by_default_and_beats_the_baseline_on_held_out_cases() {
    let tmp = tempfile::tempdir().expect("dir");
    let data = run([
        "model",
        "data",
        "--seed",
        "99",
        "--count",
        "200",
        "--type-questions",
        "0.15",
        // The data the shipped model's recipe reads (without version 3's machine captions,
        // which cost it 2.6 points: README "Machine captions").
        "--generator",
        "2",
    ])
    .code(0);
    let path = tmp.path().join("held-out.jsonl");
    std::fs::write(&path, &data.stdout).expect("write");
    let accuracy = |run: Run| -> (String, f64) {
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        let files = &report["files"][0];
        assert_eq!(files["cases"], 200, "{report}");
        (
            report["resolver"].as_str().expect("resolver").to_owned(),
            files["accuracy"].as_f64().expect("accuracy"),
        )
    };
    let (name, model) = accuracy(
        Run::of(
            deixis()
                .env_remove("DEIXIS_MODEL_RESOLVER")
                .args(["eval", "--json"])
                .arg(&path),
        )
        .code(0),
    );
    assert_eq!(name, "deixis-small");
    let (name, baseline) = accuracy(
        Run::of(
            deixis()
                .args(["eval", "--json", "--resolver", "baseline"])
                .arg(&path),
        )
        .code(0),
    );
    assert_eq!(name, "baseline");
    // The baseline's rules feed the model's answers too (the blend), so the gap narrows as they
    // improve (0.975 against 0.880 here on 2026-11-25); a model that loads broken falls far below
    // both figures.
    assert!(
        model >= 0.95 && model >= baseline + 0.05,
        "shipped model {model:.3}, baseline {baseline:.3}"
    );
}
