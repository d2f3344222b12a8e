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
