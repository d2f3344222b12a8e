//! The runtime against independent references: OPT and our own architecture against a numpy
//! forward pass written from the published architectures (`model/testdata/reference.py`),
//! SmolLM2 against candle-transformers' quantized_llama on the same GGUF; and the runtime's
//! own paths against each other (KV cache, prefix reuse, tree scoring).

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

use super::*;
use crate::convert::{convert, Source};
use crate::weights::DType;

use crate::max_diff;

/// A small random model in Hugging Face naming (OPT) or ours (deixis), as safetensors +
/// config.json + tokenizer.json in `dir`.
fn small_model(dir: &Path, arch: Architecture, seed: u64) -> (PathBuf, PathBuf, PathBuf) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (v, d, i, layers, heads) = (50usize, 16usize, 32usize, 2usize, 4usize);
    let kv = if arch == Architecture::Opt { 4 } else { 2 };
    let hd = d / heads;
    let mut tensors: Vec<(String, Vec<usize>)> = Vec::new();
    let config = match arch {
        Architecture::Opt => {
            let p = "model.decoder.";
            tensors.push((format!("{p}embed_tokens.weight"), vec![v, d]));
            tensors.push((format!("{p}embed_positions.weight"), vec![34, d]));
            tensors.push((format!("{p}final_layer_norm.weight"), vec![d]));
            tensors.push((format!("{p}final_layer_norm.bias"), vec![d]));
            for l in 0..layers {
                let q = format!("{p}layers.{l}.");
                for n in ["self_attn_layer_norm", "final_layer_norm"] {
                    tensors.push((format!("{q}{n}.weight"), vec![d]));
                    tensors.push((format!("{q}{n}.bias"), vec![d]));
                }
                for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                    tensors.push((format!("{q}self_attn.{n}.weight"), vec![d, d]));
                    tensors.push((format!("{q}self_attn.{n}.bias"), vec![d]));
                }
                tensors.push((format!("{q}fc1.weight"), vec![i, d]));
                tensors.push((format!("{q}fc1.bias"), vec![i]));
                tensors.push((format!("{q}fc2.weight"), vec![d, i]));
                tensors.push((format!("{q}fc2.bias"), vec![d]));
            }
            serde_json::json!({
                "model_type": "opt", "hidden_size": d, "ffn_dim": i, "num_hidden_layers": layers,
                "num_attention_heads": heads, "max_position_embeddings": 32, "vocab_size": v,
                "word_embed_proj_dim": d, "do_layer_norm_before": true,
                "activation_function": "relu", "eos_token_id": 2,
            })
            .to_string()
        }
        _ => {
            tensors.push(("embed".into(), vec![v, d]));
            tensors.push(("norm.weight".into(), vec![d]));
            for l in 0..layers {
                let q = format!("layers.{l}.");
                tensors.push((format!("{q}attn_norm.weight"), vec![d]));
                tensors.push((format!("{q}ffn_norm.weight"), vec![d]));
                tensors.push((format!("{q}q.weight"), vec![heads * hd, d]));
                tensors.push((format!("{q}k.weight"), vec![kv * hd, d]));
                tensors.push((format!("{q}v.weight"), vec![kv * hd, d]));
                tensors.push((format!("{q}o.weight"), vec![d, heads * hd]));
                tensors.push((format!("{q}up.weight"), vec![i, d]));
                tensors.push((format!("{q}down.weight"), vec![d, i]));
            }
            Config {
                format_version: crate::config::FORMAT_VERSION,
                architecture: Architecture::Deixis,
                vocab_size: v,
                hidden_size: d,
                intermediate_size: i,
                num_layers: layers,
                num_heads: heads,
                num_kv_heads: kv,
                max_positions: 32,
                rope_theta: 10_000.0,
                norm_eps: 1e-5,
                tie_embeddings: true,
                bos_token_id: None,
                eos_token_id: Some(2),
                pointer_size: 0,
                pointer_match: false,
                lexical_weight: 0.0,
            }
            .to_json()
        }
    };
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let norm_weight = name.contains("norm") && name.ends_with("weight");
            let bytes = (0..n)
                .flat_map(|_| {
                    let x: f32 = if norm_weight {
                        1.0 + rng.gen_range(-0.2..0.2)
                    } else {
                        rng.gen_range(-0.5..0.5)
                    };
                    x.to_le_bytes()
                })
                .collect();
            (name, shape, bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(name, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("view");
            (name.clone(), view)
        })
        .collect();
    let st = dir.join("model.safetensors");
    safetensors::serialize_to_file(views, None, &st).expect("safetensors");
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, config).expect("config");
    let tokens: Vec<String> = (0..v).map(|n| format!("<t{n}>")).collect();
    let tok = crate::tokenizer::from_vocab(&tokens, &[], &vec![1; v]).expect("tokenizer");
    let tok_path = dir.join("tokenizer.json");
    tok.save(&tok_path, false).expect("save tokenizer");
    (st, cfg, tok_path)
}

fn numpy(st: &Path, cfg: &Path, tokens: &[u32]) -> Tensor {
    let dir = st.parent().expect("dir");
    let toks = dir.join("tokens.json");
    std::fs::write(&toks, serde_json::to_string(tokens).expect("json")).expect("tokens");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/reference.py");
    // The system python: python3-numpy is a Debian package.
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(st)
        .arg(cfg)
        .arg(&toks)
        .output()
        .expect("run /usr/bin/python3 (Debian packages python3 and python3-numpy)");
    assert!(
        out.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<f32>> = serde_json::from_slice(&out.stdout).expect("reference JSON");
    let n = rows.len();
    let v = rows[0].len();
    Tensor::from_vec(rows.concat(), (n, v), &Device::Cpu).expect("tensor")
}

#[test]
fn opt_and_our_architecture_match_an_independent_numpy_forward_pass() {
    for (arch, seed) in [(Architecture::Opt, 1), (Architecture::Deixis, 2)] {
        let dir = tempfile::tempdir().expect("dir");
        let (st, cfg, tok) = small_model(dir.path(), arch, seed);
        let out = dir.path().join("converted");
        convert(
            &Source::SafeTensors {
                weights: vec![st.clone()],
                config: cfg.clone(),
                tokenizer: tok,
            },
            &out,
            DType::F32,
        )
        .expect("convert");
        let model = Model::load(&out).expect("load");
        assert_eq!(model.config.architecture, arch);
        let tokens: Vec<u32> = vec![3, 17, 42, 8, 8, 25, 49, 0, 11, 30, 5, 19];
        let mut state = model.empty();
        let ours = model.forward_all(&mut state, &tokens).expect("forward");
        let reference = numpy(&st, &cfg, &tokens);
        let diff = max_diff(&ours, &reference);
        eprintln!("{}: max |ours - numpy| = {diff:e}", arch.name());
        assert!(diff <= 1e-4, "{}: {diff}", arch.name());

        // Token by token through the KV cache (our GEMV kernels on), the same logits.
        let mut state = model.empty();
        for (k, &t) in tokens.iter().enumerate() {
            state = model.extend(&state, &[t]).expect("extend");
            let row = reference.get(k).expect("row");
            let diff = max_diff(state.logits().expect("logits"), &row);
            assert!(diff <= 1e-4, "{} position {k}: {diff}", arch.name());
        }
    }
}

#[test]
fn prefix_reuse_and_tree_scoring_agree_with_plain_extension() {
    let dir = tempfile::tempdir().expect("dir");
    let (st, cfg, tok) = small_model(dir.path(), Architecture::Deixis, 3);
    let out = dir.path().join("converted");
    convert(
        &Source::SafeTensors {
            weights: vec![st],
            config: cfg,
            tokenizer: tok,
        },
        &out,
        DType::F32,
    )
    .expect("convert");
    let model = Model::load(&out).expect("load");
    let screen: Vec<u32> = (0..20).map(|k| (k * 7 % 50) as u32).collect();
    let mut cache = PrefixCache::new(4);
    let base = cache.state(&model, &screen).expect("state");
    assert_eq!(cache.computed, 20);
    // A request that starts with the screen computes only its own tokens.
    let mut request = screen.clone();
    request.extend([4, 9, 1]);
    let with_reuse = cache.state(&model, &request).expect("reuse");
    assert_eq!((cache.computed, cache.reused), (23, 20));
    let plain = model.extend(&model.empty(), &request).expect("plain");
    let diff = max_diff(with_reuse.logits().expect("l"), plain.logits().expect("l"));
    assert!(diff <= 1e-4, "{diff}");

    // Scores of continuations from one tree pass equal step-by-step extension, over the
    // whole vocabulary and constrained to the tokens that can follow.
    let continuations: Vec<Vec<u32>> = vec![
        vec![1, 9],
        vec![1, 2, 9],
        vec![1, 2, 3, 9],
        vec![2, 0, 9],
        vec![7, 7, 7, 7, 9],
        vec![1, 5, 9],
    ];
    for constrained in [false, true] {
        let tree = model
            .score(&base, &continuations, constrained)
            .expect("score");
        for (c, score) in continuations.iter().zip(&tree) {
            let mut state = base.clone();
            let mut total = 0f32;
            for (k, &t) in c.iter().enumerate() {
                let logits = state.logits().expect("l").to_vec1::<f32>().expect("logits");
                // The tokens that may follow this prefix.
                let possible: Vec<u32> = if constrained {
                    let mut p: Vec<u32> = continuations
                        .iter()
                        .filter(|o| o.len() > k && o[..k] == c[..k])
                        .map(|o| o[k])
                        .collect();
                    p.sort_unstable();
                    p.dedup();
                    p
                } else {
                    (0..logits.len() as u32).collect()
                };
                let lse = possible
                    .iter()
                    .map(|&p| f64::from(logits[p as usize]).exp())
                    .sum::<f64>()
                    .ln();
                total += (f64::from(logits[t as usize]) - lse) as f32;
                state = model.extend(&state, &[t]).expect("extend");
            }
            assert!(
                (total - score).abs() <= 1e-4,
                "constrained {constrained} {c:?}: {total} vs {score}"
            );
        }
        if constrained {
            // Probabilities of all continuations sum to one.
            let sum: f32 = tree.iter().map(|l| l.exp()).sum();
            assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        }
    }
}

/// The pinned SmolLM2 GGUF and our conversion of it, as `model/setup-smollm2.sh` leaves them.
pub(crate) fn smollm2() -> (PathBuf, PathBuf) {
    let cache = crate::cache_dir().expect("XDG_CACHE_HOME or HOME");
    let gguf = cache.join("downloads/SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = cache.join("models/smollm2-135m-instruct");
    assert!(
        gguf.exists() && dir.join("weights.bin").exists(),
        "SmolLM2 is not set up: run model/setup-smollm2.sh (README, set-up)"
    );
    (gguf, dir)
}

#[test]
fn smollm2_logits_match_quantized_llama_on_the_same_gguf() {
    use candle_core::quantized::gguf_file;
    use candle_transformers::models::quantized_llama::ModelWeights;

    let (gguf, dir) = smollm2();
    // The oracle in f32: every quantized matrix dequantized, as our conversion does. Read
    // once per thread, before the oracle's first matrix.
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
    let mut file = std::fs::File::open(&gguf).expect("gguf");
    let content = gguf_file::Content::read(&mut file).expect("gguf content");
    let mut oracle = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("oracle");
    let model = Model::load(&dir).expect("load our conversion");

    let prompt = "<|im_start|>user\nCall Ada at (408) 555-0123, not 555-0199.<|im_end|>\n<|im_start|>assistant\n";
    let tokens = model.encode(prompt).expect("encode");
    let theirs = oracle
        .forward(
            &Tensor::new(tokens.as_slice(), &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .expect("ids"),
            0,
        )
        .and_then(|t| t.squeeze(0))
        .expect("oracle forward");
    let mut state = model.extend(&model.empty(), &tokens).expect("ours");
    let mut worst = max_diff(state.logits().expect("logits"), &theirs);
    // Three decoding steps through both KV caches.
    let mut next = theirs
        .argmax(0)
        .and_then(|t| t.to_scalar::<u32>())
        .expect("argmax");
    for step in 0..3 {
        let theirs = oracle
            .forward(
                &Tensor::new(&[[next]], &Device::Cpu).expect("id"),
                tokens.len() + step,
            )
            .and_then(|t| t.squeeze(0))
            .expect("oracle step");
        state = model.extend(&state, &[next]).expect("our step");
        worst = worst.max(max_diff(state.logits().expect("logits"), &theirs));
        next = theirs
            .argmax(0)
            .and_then(|t| t.to_scalar::<u32>())
            .expect("argmax");
    }
    eprintln!(
        "SmolLM2-135M: {} prompt tokens + 3 steps, max |ours - quantized_llama| = {worst:e}",
        tokens.len()
    );
    assert!(worst <= 1e-3, "{worst}");
}

#[test]
fn the_smollm2_tokenizer_splits_digits_and_round_trips() {
    let (_, dir) = smollm2();
    let tok = crate::tokenizer::read(&dir.join("tokenizer.json")).expect("tokenizer");
    let text = "Call (408) 555-0123 or email ada@example.org.";
    let ids = crate::tokenizer::encode(&tok, text).expect("encode");
    let pieces: Vec<String> = ids
        .iter()
        .map(|&i| tok.id_to_token(i).unwrap_or_default())
        .collect();
    for digits in ["408", "555", "0123"] {
        for d in digits.chars() {
            assert!(pieces.contains(&d.to_string()), "{d} alone in {pieces:?}");
        }
    }
    assert!(!pieces
        .iter()
        .any(|p| p.len() > 1 && p.chars().all(|c| c.is_ascii_digit())));
    assert_eq!(tok.decode(&ids, false).expect("decode"), text);
    let special = crate::tokenizer::encode(&tok, "<|im_start|>").expect("encode");
    assert_eq!(special.len(), 1, "control tokens are special: {special:?}");
}
