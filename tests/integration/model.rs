//! Model: `deixis model convert` and `deixis model generate` on the real SmolLM2 conversion
//! (`model/setup-smollm2.sh`), and their errors on files that are not models or are damaged.

use std::path::PathBuf;

use crate::support::{deixis, run, Run};

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

/// `deixis` with the default resolver: the shipped model.
fn with_model() -> std::process::Command {
    let mut cmd = deixis();
    cmd.env_remove("DEIXIS_MODEL_RESOLVER");
    cmd
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).expect("JSON report")
}

#[test]
fn the_shipped_model_answers_by_default_and_beats_the_baseline_on_held_out_cases() {
    // Seed 99: the held-out set of model/deixis-small.toml, which no training chunk uses.
    let cases = run(["model", "data", "--seed", "99", "--count", "300"]).code(0);
    let tmp = tempfile::tempdir().expect("dir");
    let file = tmp.path().join("held-out.jsonl");
    std::fs::write(&file, &cases.stdout).expect("write");

    let model = json(&Run::of(with_model().args(["eval", "--json"]).arg(&file)).code(0));
    assert_eq!(model["resolver"], "deixis-small", "{model}");
    let baseline = json(
        &run([
            "eval",
            "--json",
            "--resolver",
            "baseline",
            file.to_str().expect("utf-8"),
        ])
        .code(0),
    );
    assert_eq!(baseline["resolver"], "baseline");
    let accuracy = |r: &serde_json::Value| r["files"][0]["accuracy"].as_f64().expect("accuracy");
    assert!(
        accuracy(&model) >= 0.95 && accuracy(&model) >= accuracy(&baseline) + 0.05,
        "model {} baseline {}",
        accuracy(&model),
        accuracy(&baseline)
    );
}

#[test]
fn the_shipped_model_reads_the_conversation_and_knows_when_nothing_is_meant() {
    let tmp = tempfile::tempdir().expect("dir");
    // A case in the screen format: the assistant listed businesses (entities without a box).
    let cases = run(["model", "data", "--seed", "4242", "--count", "400"]).code(0);
    let mut checked = (0, 0);
    for line in cases.stdout.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("case");
        let conversational = case["query"]
            .as_str()
            .is_some_and(|q| q.contains("second one"));
        let none = case["target_ids"].as_array().is_some_and(|t| t.is_empty());
        if !(conversational && checked.0 < 3 || none && checked.1 < 3) {
            continue;
        }
        let path = tmp.path().join("case.json");
        std::fs::write(&path, line).expect("write");
        let out = Run::of(
            with_model()
                .args(["resolve", "--json", "--screen"])
                .arg(&path)
                .arg(case["query"].as_str().expect("query")),
        )
        .code(0);
        let answer = json(&out);
        let selected: Vec<serde_json::Value> = answer["candidates"]
            .as_array()
            .expect("candidates")
            .iter()
            .filter(|c| c["selected"] == true)
            .map(|c| {
                serde_json::Value::from(
                    c["id"]
                        .as_str()
                        .expect("id")
                        .parse::<u64>()
                        .expect("number"),
                )
            })
            .collect();
        assert_eq!(
            serde_json::Value::from(selected),
            case["target_ids"],
            "{}: {}",
            case["query"],
            out.stdout
        );
        if none {
            checked.1 += 1;
        } else {
            checked.0 += 1;
        }
    }
    assert_eq!(checked, (3, 3), "the generator gave too few such cases");
}

#[test]
fn a_model_that_does_not_load_leaves_the_baseline_answering() {
    let tmp = tempfile::tempdir().expect("dir");
    std::fs::write(tmp.path().join("config.json"), "{not json").expect("write");
    let card = "parser/testdata/screens/contact_card.json";
    let broken = Run::of(
        with_model()
            .args(["resolve", "--model"])
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
    std::fs::write(
        &config,
        "seed = 1\ndata_seed = 700\nheld_out_seed = 99\nheld_out_cases = 4\ntokenizer_cases = 100\n\
         vocab_size = 300\nwidth = 32\nlayers = 1\nheads = 2\nkv_heads = 2\nffn = 64\n\
         max_positions = 1024\nbatch_size = 2\nlearning_rate = 1e-3\nwarmup_steps = 1\nsteps = 4\n\
         checkpoint_every = 2\neval_every = 4\n",
    )
    .expect("write");
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
    // The exported model answers.
    Run::of(
        deixis()
            .args(["resolve", "--resolver", "model", "--model"])
            .arg(out.join("model"))
            .args([
                "--screen",
                "parser/testdata/screens/contact_card.json",
                "call her",
            ]),
    )
    .code(0);

    std::fs::write(&config, "seed = 1\nwidth = 32\n").expect("write");
    let bad = train(&[]).code(1);
    assert!(bad.stderr.contains("missing field"), "{}", bad.stderr);
}
