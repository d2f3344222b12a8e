//! Training the reference model (`deixis model train --config FILE`): generated cases
//! (`crate::datagen`) rendered as prompts with their answers, a BPE tokenizer trained on
//! generated prompts, and the decoder trained from scratch on the CPU (`deixis_model::train`).
//!
//! A run is reproducible from its config: the seeds and the generator's version fix the
//! tokenizer, the initialization and every batch. Step `s` reads batch `s % K` of data chunk
//! `s / K` (chunk `c` is `datagen::generate_with(data_seed + c, CHUNK, type_questions,
//! generator)`, shuffled by `seed`), so a resumed run sees the same batches as an
//! uninterrupted one. Held-out cases come from `held_out_seed`, which no
//! training chunk uses. Nothing from the external eval files is read.
//!
//! The output directory holds `tokenizer.json`, `checkpoint.safetensors` (parameters,
//! optimizer moments, step), `loss.csv`, `eval.csv`, `loss.png` and `model/` (the exported
//! model the runtime loads). The CSVs' `seconds` is the run's training time: a resumed run
//! counts on from the time its checkpoint's step was reached.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use deixis_model::train::{self as trainer, Choice, Example, Trainer};
use deixis_parser::parse::seed_from;
use deixis_parser::Case;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::config::ParseSettings;
use crate::eval::is_correct;
use crate::pipeline::{parse_config, prepare};
use crate::resolve::baseline::Baseline;
use crate::resolve::model::{Keyed, ModelResolver, Pieces};
use crate::resolve::Request;

/// Cases per data chunk.
pub const CHUNK: usize = 1024;
/// The end token of our tokenizers (`deixis_model::tokenizer::SPECIAL[1]`).
const END: u32 = 1;

/// A training run's settings (TOML).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds the initialization and the order of examples within a chunk.
    pub seed: u64,
    /// Chunk `c` of training cases is generated from seed `data_seed + c`.
    pub data_seed: u64,
    /// Held-out cases are generated from this seed (outside the training chunks' seeds).
    pub held_out_seed: u64,
    /// Held-out cases scored at every evaluation.
    pub held_out_cases: usize,
    /// Generated cases the tokenizer is trained on (from `data_seed`).
    pub tokenizer_cases: usize,
    pub vocab_size: usize,
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    /// Longest sequence in tokens; longer examples are left out.
    pub max_positions: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    /// Optimizer steps of the whole run (the learning rate decays over them).
    pub steps: usize,
    pub checkpoint_every: usize,
    pub eval_every: usize,
    /// Weight of an auxiliary next-token loss on the prompt's tokens, added to the answer's
    /// (0, the default: the answer alone). `loss.csv` keeps the answer's loss either way.
    #[serde(default)]
    pub prompt_loss_weight: f64,
    /// Width of the pointer head (0, the default: none, the model names numbers in text).
    #[serde(default)]
    pub pointer_size: usize,
    /// The pointer adds its match term: request tokens against entry tokens (default false;
    /// see `deixis_model::pointer`).
    #[serde(default)]
    pub pointer_match: bool,
    /// The tokenizer lowercases text first (default false).
    #[serde(default)]
    pub lowercase: bool,
    /// The pointer head learns over a prior: the baseline's score of each candidate, times
    /// this weight, added to its logit, as the resolver adds it (default 0: none; needs a
    /// pointer head). The exported config carries it.
    #[serde(default)]
    pub lexical_weight: f64,
    /// Share of the training and held-out cases that ask for a value by its kind ("what time
    /// is it?"; `datagen::generate_with`). Default 0: the cases `datagen::generate` draws.
    #[serde(default)]
    pub type_questions: f64,
    /// The generator's version the run reads (`datagen::generate_with`; default the current
    /// one). The committed recipes say 1, the version the shipped model was trained on.
    #[serde(default = "current_generator")]
    pub generator: u32,
}

fn current_generator() -> u32 {
    crate::datagen::GENERATOR
}

impl TrainConfig {
    pub fn read(path: &Path) -> anyhow::Result<TrainConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config: TrainConfig = toml::from_str(&text)
            .with_context(|| format!("{} is not a training config", path.display()))?;
        config
            .check()
            .with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        let chunks = (self.steps * self.batch_size).div_ceil(CHUNK) as u64 + 1;
        if (self.data_seed..self.data_seed + chunks).contains(&self.held_out_seed) {
            bail!(
                "held_out_seed {} is one of the training chunks' seeds ({}..{})",
                self.held_out_seed,
                self.data_seed,
                self.data_seed + chunks
            );
        }
        if self.batch_size == 0 || self.batch_size > CHUNK {
            bail!("batch_size must be 1..={CHUNK}");
        }
        if self.heads == 0 || self.kv_heads == 0 || self.width % self.heads != 0 {
            bail!("width must be a multiple of heads, and heads and kv_heads at least 1");
        }
        if self.heads % self.kv_heads != 0 {
            bail!("heads must be a multiple of kv_heads");
        }
        if !(0.0..=100.0).contains(&self.prompt_loss_weight) {
            bail!("prompt_loss_weight must be between 0 and 100");
        }
        if self.pointer_match && self.pointer_size == 0 {
            bail!("pointer_match needs a pointer head (pointer_size > 0)");
        }
        if !(0.0..=100.0).contains(&self.lexical_weight) {
            bail!("lexical_weight must be between 0 and 100");
        }
        if self.lexical_weight > 0.0 && self.pointer_size == 0 {
            bail!("lexical_weight needs a pointer head (pointer_size > 0)");
        }
        if !(0.0..=1.0).contains(&self.type_questions) {
            bail!("type_questions must be between 0 and 1");
        }
        let versions = crate::datagen::VERSIONS;
        if !versions.contains(&self.generator) {
            bail!("generator must be {versions:?}");
        }
        if self.checkpoint_every == 0 || self.eval_every == 0 || self.steps == 0 {
            bail!("steps, checkpoint_every and eval_every must be at least 1");
        }
        Ok(())
    }

    /// The learning rate at `step` (from 0): linear warm-up, then cosine decay to a tenth.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.learning_rate * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = (self.steps - self.warmup_steps.min(self.steps)).max(1) as f64;
        let t = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
    }

    fn model_config(&self) -> deixis_model::Config {
        let mut config = trainer::config(
            self.vocab_size,
            self.width,
            self.layers,
            self.heads,
            self.kv_heads,
            self.ffn,
            self.max_positions,
        );
        config.pointer_size = self.pointer_size;
        config.pointer_match = self.pointer_match;
        config.lexical_weight = self.lexical_weight;
        config
    }
}

/// Candidate numbers of a case's targets, ascending: for each target element, its own
/// candidate (not one entity inside its text) when it has one. `None` when a target has no
/// candidate (left out of the parse).
pub fn answer_numbers(
    screen: &deixis_parser::Screen,
    parse: &deixis_parser::ScreenParse,
    targets: &[deixis_parser::ElementId],
) -> Option<Vec<usize>> {
    let mut numbers = Vec::new();
    for id in targets {
        let of_target: Vec<_> = parse
            .candidates
            .iter()
            .filter(|c| screen.elements[c.element].id == *id)
            .collect();
        let c = of_target
            .iter()
            .find(|c| c.entity.is_none())
            .or(of_target.first())?;
        numbers.push(c.number);
    }
    numbers.sort_unstable();
    numbers.dedup();
    Some(numbers)
}

/// A case parsed and rendered as the resolver renders it, and its answer numbers (`None`
/// when a target has no candidate).
fn solved(
    case: &Case,
    settings: &ParseSettings,
) -> (deixis_parser::prompt::Prompt, Option<Vec<usize>>) {
    let (_, prompt, numbers) = solved_with_parse(case, settings);
    (prompt, numbers)
}

/// `solved`, and the parsed screen.
fn solved_with_parse(
    case: &Case,
    settings: &ParseSettings,
) -> (
    crate::pipeline::Prepared,
    deixis_parser::prompt::Prompt,
    Option<Vec<usize>>,
) {
    let config = parse_config(settings, seed_from(&case.id));
    let p = prepare(case.size, case.elements.clone(), &config);
    let numbers = answer_numbers(&p.screen, &p.parse, &case.targets);
    let prompt = deixis_parser::prompt::render(
        &p.screen,
        &p.parse,
        &case.context,
        &case.query,
        settings.max_text_chars,
    );
    (p, prompt, numbers)
}

/// The prompt of a case (as the resolver renders it) with its answer: tokens, and the scored
/// positions (those predicting the answer). `None` when it does not fit or has no answer.
/// With a `lexical_weight`, each pointer choice carries the baseline's scores of its
/// entries times the weight, the prior the resolver adds (`resolve::model`).
pub fn example(
    case: &Case,
    tokenizer: &Tokenizer,
    settings: &ParseSettings,
    max_positions: usize,
    lexical_weight: f64,
) -> anyhow::Result<Option<Example>> {
    let (p, prompt, Some(numbers)) = solved_with_parse(case, settings) else {
        return Ok(None);
    };
    let lexical = (lexical_weight > 0.0).then(|| {
        Baseline.scores(&Request {
            screen: &p.screen,
            parse: &p.parse,
            context: &case.context,
            query: &case.query,
        })
    });
    let pieces = Pieces::with(tokenizer, END);
    let Keyed {
        mut tokens,
        keys,
        request,
    } = pieces.prompt("", &prompt)?;
    let start = tokens.len() - 1;
    // The pointer head's choices, as the resolver makes them: the first among every number
    // and 0 at the prompt's last token; each next one after the comma, among the numbers
    // not yet taken.
    let targets = if numbers.is_empty() {
        vec![0]
    } else {
        numbers.clone()
    };
    let mut choices = Vec::with_capacity(targets.len());
    let mut query = start;
    for (i, &n) in targets.iter().enumerate() {
        let taken = &targets[..i];
        let open: Vec<usize> = (usize::from(i > 0)..keys.len())
            .filter(|m| !taken.contains(m))
            .collect();
        let Some(at) = open.iter().map(|&m| keys[m]).collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let Some(target) = open.iter().position(|&m| m == n) else {
            return Ok(None);
        };
        let prior = lexical.as_ref().map_or_else(Vec::new, |scores| {
            open.iter()
                .map(|&m| (lexical_weight * scores.get(m).copied().unwrap_or(0.0)) as f32)
                .collect()
        });
        choices.push(Choice {
            query,
            entries: at,
            target,
            prior,
        });
        query += pieces.number(n, false)?.len();
    }
    tokens.extend(pieces.answer(&numbers)?);
    if tokens.len() > max_positions {
        return Ok(None);
    }
    let scored = (start..tokens.len() - 1).collect();
    Ok(Some(Example {
        tokens,
        scored,
        choices,
        request,
    }))
}

/// Seed of the generated cases `few_shot` draws from (no training chunk or held-out set).
pub const FEW_SHOT_SEED: u64 = 5;

/// `n` solved generated examples (prompt text, answer numbers) for a chat model's few-shot
/// prompt: the first short ones (at most 1,200 bytes of prompt).
pub fn few_shot(n: usize, settings: &ParseSettings) -> Vec<(String, Vec<usize>)> {
    let mut shots = Vec::new();
    for case in crate::datagen::generate(FEW_SHOT_SEED, 200) {
        if shots.len() == n {
            break;
        }
        let (prompt, Some(numbers)) = solved(&case, settings) else {
            continue;
        };
        if prompt.text.len() <= 1200 {
            shots.push((prompt.text, numbers));
        }
    }
    shots
}

/// Seed of the generated prompts the flash engine's predictors are trained on (apart from the
/// model's training and held-out seeds).
pub const PREDICTOR_CORPUS_SEED: u64 = 5_000_000;

/// Prompt texts (with their answers) of `n` generated cases from `seed`: a corpus of the text
/// the models read, for the activation predictors.
pub fn corpus(seed: u64, n: usize, settings: &ParseSettings) -> Vec<String> {
    prompt_texts(&crate::datagen::generate(seed, n), settings)
}

/// The prompt texts of generated cases, for training a tokenizer.
fn prompt_texts(cases: &[Case], settings: &ParseSettings) -> Vec<String> {
    cases
        .iter()
        .map(|case| {
            let (prompt, numbers) = solved(case, settings);
            let numbers = numbers.unwrap_or_default();
            let answer: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
            format!("{} {}", prompt.text, answer.join(", "))
        })
        .collect()
}

/// The batches of data chunk `c`, each sorted by length, in a seeded order.
fn chunk_batches(
    config: &TrainConfig,
    c: usize,
    tokenizer: &Tokenizer,
    settings: &ParseSettings,
) -> anyhow::Result<Vec<Vec<Example>>> {
    let cases = crate::datagen::generate_with(
        config.data_seed + c as u64,
        CHUNK,
        config.type_questions,
        config.generator,
    );
    let mut examples = Vec::with_capacity(cases.len());
    for case in &cases {
        if let Some(e) = example(
            case,
            tokenizer,
            settings,
            config.max_positions,
            config.lexical_weight,
        )? {
            examples.push(e);
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed ^ (c as u64).rotate_left(32));
    examples.shuffle(&mut rng);
    // Batches of similar lengths waste less on padding: sort windows of 16 batches.
    let window = config.batch_size * 16;
    let mut batches = Vec::new();
    for w in examples.chunks_mut(window) {
        w.sort_by_key(|e| e.tokens.len());
        for b in w.chunks(config.batch_size) {
            if b.len() == config.batch_size {
                batches.push(b.to_vec());
            }
        }
    }
    batches.shuffle(&mut rng);
    Ok(batches)
}

/// Batches per chunk: a step's chunk and batch follow from its number alone.
fn batches_per_chunk(config: &TrainConfig) -> usize {
    // A chunk loses a few cases (too long, no candidate); count on nine tenths.
    (CHUNK * 9 / 10 / config.batch_size).max(1)
}

/// Accuracy of the model in `dir` on `cases`, and its latency per case (ms, p50).
pub fn held_out_accuracy(
    dir: &Path,
    cases: &[Case],
    settings: &ParseSettings,
) -> anyhow::Result<(f64, f64)> {
    let resolver = ModelResolver::load(dir, settings.max_text_chars)?;
    let mut correct = 0;
    let mut latencies = Vec::with_capacity(cases.len());
    for case in cases {
        let start = Instant::now();
        let (p, answer) =
            crate::eval::resolve_case(case, case.elements.clone(), &resolver, settings);
        let selected = answer.selected_elements(&p.screen, &p.parse);
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
        if is_correct(case.scoring, &selected, &case.targets) {
            correct += 1;
        }
    }
    let p50 = crate::eval::percentile(&mut latencies, 0.5);
    Ok((correct as f64 / cases.len().max(1) as f64, p50))
}

/// The output directory does not fit the request (the user's to fix).
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    #[error("{} already holds a run: add --resume to continue it, or choose another --out", .0.display())]
    HoldsARun(PathBuf),
    #[error("--resume: {} has no checkpoint", .0.display())]
    NoCheckpoint(PathBuf),
    #[error("--init: {} holds no finished run (no checkpoint.safetensors and tokenizer.json)", .0.display())]
    NoRun(PathBuf),
}

/// Runs (or, with `resume`, continues) the training described by `config` in `out`, until
/// `config.steps`, or until step `stop_after` (a checkpoint is written there; a later
/// `resume` goes on exactly as if the run had not stopped). With `init`, a new run starts
/// from the run in that directory: its tokenizer and parameters (the shapes must match
/// `config`), fresh optimizer moments, step 0.
pub fn run(
    config: &TrainConfig,
    out: &Path,
    resume: bool,
    stop_after: Option<usize>,
    init: Option<&Path>,
) -> anyhow::Result<()> {
    let settings = ParseSettings::default();
    let checkpoint = out.join("checkpoint.safetensors");
    let tokenizer_path = out.join("tokenizer.json");
    if checkpoint.exists() && !resume {
        return Err(OutError::HoldsARun(out.to_owned()).into());
    }
    if resume && !checkpoint.exists() {
        return Err(OutError::NoCheckpoint(out.to_owned()).into());
    }
    let init = init.filter(|_| !resume);
    if let Some(dir) = init {
        if !dir.join("checkpoint.safetensors").exists() || !dir.join("tokenizer.json").exists() {
            return Err(OutError::NoRun(dir.to_owned()).into());
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    let started = Instant::now();
    let tokenizer = if resume {
        deixis_model::tokenizer::read(&tokenizer_path)?
    } else if let Some(dir) = init {
        let from = dir.join("tokenizer.json");
        std::fs::copy(&from, &tokenizer_path)
            .with_context(|| format!("cannot copy {}", from.display()))?;
        deixis_model::tokenizer::read(&tokenizer_path)?
    } else {
        eprintln!(
            "training the tokenizer on {} generated prompts",
            config.tokenizer_cases
        );
        let cases = crate::datagen::generate_with(
            config.data_seed,
            config.tokenizer_cases,
            config.type_questions,
            config.generator,
        );
        let tok = deixis_model::tokenizer::train(
            prompt_texts(&cases, &settings).into_iter(),
            config.vocab_size,
            config.lowercase,
        )?;
        tok.save(&tokenizer_path, false)
            .map_err(|e| anyhow!("cannot write {}: {e}", tokenizer_path.display()))?;
        tok
    };
    let vocab = tokenizer.get_vocab_size(true);
    let mut model_config = config.model_config();
    model_config.vocab_size = vocab;
    let mut trainer = Trainer::new(model_config, config.seed, config.learning_rate)?;
    trainer.prompt_weight = config.prompt_loss_weight;
    if resume {
        trainer.load_checkpoint(&checkpoint)?;
    } else if let Some(dir) = init {
        trainer.load_parameters(&dir.join("checkpoint.safetensors"))?;
    }
    let held_out = crate::datagen::generate_with(
        config.held_out_seed,
        config.held_out_cases,
        config.type_questions,
        config.generator,
    );
    eprintln!(
        "model: {} parameters ({} layers, width {}, ffn {}, vocab {vocab}); steps {}..{} of batch {}",
        trainer.parameters(),
        config.layers,
        config.width,
        config.ffn,
        trainer.step,
        config.steps,
        config.batch_size
    );

    let mut loss_csv = csv(
        &out.join("loss.csv"),
        "step,loss,learning_rate,tokens,seconds",
    )?;
    let mut eval_csv = csv(
        &out.join("eval.csv"),
        "step,held_out_accuracy,p50_ms,seconds",
    )?;
    let bar = indicatif::ProgressBar::new(config.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} steps, eta {eta} {msg}",
        )?
        .progress_chars("=> "),
    );
    bar.set_position(trainer.step as u64);

    let per_chunk = batches_per_chunk(config);
    let mut loaded: Option<(usize, Vec<Vec<Example>>)> = None;
    let mut tokens_seen = 0usize;
    let mut smooth: Option<f32> = None;
    let session = Instant::now();
    let before = if resume {
        seconds_at(&out.join("loss.csv"), trainer.step)
    } else {
        0.0
    };
    let seconds = || before + session.elapsed().as_secs_f64();
    let stop = stop_after.unwrap_or(config.steps).min(config.steps);
    while trainer.step < stop {
        let step = trainer.step;
        let (c, b) = (step / per_chunk, step % per_chunk);
        if loaded.as_ref().is_none_or(|(lc, _)| *lc != c) {
            loaded = Some((c, chunk_batches(config, c, &tokenizer, &settings)?));
        }
        let batches = loaded
            .as_ref()
            .map(|(_, b)| b)
            .ok_or_else(|| anyhow!("no data"))?;
        let lr = config.learning_rate_at(step);
        trainer.set_learning_rate(lr);
        let Some(batch) = batches.get(b) else {
            // A chunk with fewer batches than counted on: the step is skipped (the same
            // in every run).
            trainer.step += 1;
            continue;
        };
        let loss = trainer.step(batch)?;
        if !loss.is_finite() {
            bail!("the loss became {loss} at step {step}; lower learning_rate");
        }
        let tokens: usize = batch.iter().map(|e| e.tokens.len()).sum();
        tokens_seen += tokens;
        smooth = Some(smooth.map_or(loss, |s| 0.98 * s + 0.02 * loss));
        writeln!(
            loss_csv,
            "{},{loss},{lr},{tokens},{:.1}",
            trainer.step,
            seconds()
        )?;
        let rate = tokens_seen as f64 / session.elapsed().as_secs_f64();
        bar.set_position(trainer.step as u64);
        bar.set_message(format!(
            "loss {:.4}, {rate:.0} tokens/s",
            smooth.unwrap_or(loss)
        ));
        let last = trainer.step == config.steps;
        if trainer.step % config.checkpoint_every == 0 || trainer.step == stop {
            trainer.save_checkpoint(&checkpoint)?;
            loss_csv.flush()?;
            plot(out)?;
            if bar.is_hidden() {
                // Not a terminal (a log file): a line per checkpoint instead of the bar.
                eprintln!(
                    "step {}/{}: loss {:.4}, {rate:.0} tokens/s, {:.1} min",
                    trainer.step,
                    config.steps,
                    smooth.unwrap_or(loss),
                    seconds() / 60.0
                );
            }
        }
        if trainer.step % config.eval_every == 0 || last {
            let dir = out.join("model");
            trainer.export(&dir, &tokenizer)?;
            let (accuracy, p50) = held_out_accuracy(&dir, &held_out, &settings)?;
            writeln!(
                eval_csv,
                "{},{accuracy:.4},{p50:.2},{:.1}",
                trainer.step,
                seconds()
            )?;
            eval_csv.flush()?;
            bar.println(format!(
                "step {}: held-out accuracy {:.2}% ({} cases), {p50:.1} ms per case",
                trainer.step,
                accuracy * 100.0,
                held_out.len()
            ));
            plot(out)?;
        }
    }
    bar.finish();
    if trainer.step < config.steps {
        eprintln!(
            "stopped at step {} of {}: --resume continues",
            trainer.step, config.steps
        );
        return Ok(());
    }
    eprintln!(
        "done: {} steps in {:.1} min this session; model in {}",
        trainer.step,
        started.elapsed().as_secs_f64() / 60.0,
        out.join("model").display()
    );
    Ok(())
}

/// An append-mode CSV file with `header` written when it is new.
fn csv(path: &Path, header: &str) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    if new {
        writeln!(w, "{header}")?;
    }
    Ok(w)
}

/// The run's seconds at `step` in a `loss.csv` (its last row of that step; 0 without one).
fn seconds_at(path: &Path, step: usize) -> f64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let at = cols.first()?.parse::<usize>().ok()?;
            let seconds = cols.get(4)?.parse::<f64>().ok()?;
            (at == step).then_some(seconds)
        })
        .last()
        .unwrap_or(0.0)
}

/// Reads a CSV written by `csv`: the rows' first two columns (step, value), from the last
/// run of each step (a resumed run appends the steps it repeats).
fn read_series(path: &Path) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut rows: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().skip(1) {
        let mut cols = line.split(',');
        let (Some(Ok(s)), Some(Ok(v))) = (
            cols.next().map(str::parse::<f64>),
            cols.next().map(str::parse::<f64>),
        ) else {
            continue;
        };
        while rows.last().is_some_and(|(last, _)| *last >= s) {
            rows.pop();
        }
        rows.push((s, v));
    }
    rows
}

/// Draws `loss.png` from `loss.csv` and `eval.csv`: the loss (mean of each 1% of the steps,
/// black, log scale, a grey line at each power of ten) and held-out accuracy (blue dots,
/// 0 at the bottom to 100% at the top, light blue lines at 50%, 90% and 99%).
pub fn plot(out: &Path) -> anyhow::Result<PathBuf> {
    const W: u32 = 900;
    const H: u32 = 450;
    const M: f64 = 20.0;
    let loss = read_series(&out.join("loss.csv"));
    let eval = read_series(&out.join("eval.csv"));
    let mut img = image::RgbImage::from_pixel(W, H, image::Rgb([255, 255, 255]));
    let path = out.join("loss.png");
    let max_step = loss
        .iter()
        .chain(&eval)
        .map(|(s, _)| *s)
        .fold(1.0, f64::max);
    let x = |s: f64| M + (s / max_step) * (W as f64 - 2.0 * M);
    let (lo, hi) = (-3.0f64, 1.5f64); // log10 of the loss axis
    let y_loss = |l: f64| {
        let v = l.max(1e-3).log10().clamp(lo, hi);
        H as f64 - M - (v - lo) / (hi - lo) * (H as f64 - 2.0 * M)
    };
    let y_acc = |a: f64| H as f64 - M - a * (H as f64 - 2.0 * M);
    let hline = |img: &mut image::RgbImage, y: f64, c: [u8; 3]| {
        for px in M as u32..W - M as u32 {
            img.put_pixel(px, y.round() as u32, image::Rgb(c));
        }
    };
    for p in -3..=1 {
        hline(&mut img, y_loss(10f64.powi(p)), [210, 210, 210]);
    }
    for a in [0.5, 0.9, 0.99] {
        hline(&mut img, y_acc(a), [200, 220, 255]);
    }
    let bucket = (loss.len() / 100).max(1);
    let points: Vec<(f64, f64)> = loss
        .chunks(bucket)
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect();
    for w in points.windows(2) {
        line(
            &mut img,
            (x(w[0].0), y_loss(w[0].1)),
            (x(w[1].0), y_loss(w[1].1)),
            [0, 0, 0],
        );
    }
    for &(s, a) in &eval {
        let (cx, cy) = (x(s), y_acc(a));
        for dx in -2i32..=2 {
            for dy in -2i32..=2 {
                let (px, py) = (cx as i32 + dx, cy as i32 + dy);
                if px >= 0 && py >= 0 && (px as u32) < W && (py as u32) < H {
                    img.put_pixel(px as u32, py as u32, image::Rgb([30, 80, 220]));
                }
            }
        }
    }
    img.save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A straight line of pixels from `a` to `b`.
fn line(img: &mut image::RgbImage, a: (f64, f64), b: (f64, f64), c: [u8; 3]) {
    let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (px, py) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        if px >= 0.0 && py >= 0.0 && (px as u32) < img.width() && (py as u32) < img.height() {
            img.put_pixel(px as u32, py as u32, image::Rgb(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(steps: usize) -> TrainConfig {
        TrainConfig {
            seed: 3,
            data_seed: 500,
            held_out_seed: 99,
            held_out_cases: 8,
            tokenizer_cases: 150,
            vocab_size: 400,
            width: 32,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ffn: 64,
            max_positions: 1024,
            batch_size: 4,
            learning_rate: 3e-3,
            warmup_steps: 2,
            steps,
            checkpoint_every: 3,
            eval_every: 4,
            prompt_loss_weight: 0.0,
            pointer_size: 16,
            pointer_match: true,
            lowercase: false,
            lexical_weight: 0.0,
            type_questions: 0.0,
            generator: crate::datagen::GENERATOR,
        }
    }

    /// With a lexical weight, each pointer choice carries the weight times the baseline's
    /// score of each entry it chooses among; without one, no prior.
    #[test]
    fn a_lexical_weight_puts_the_baselines_scores_on_the_choices() {
        let settings = ParseSettings::default();
        let cases = crate::datagen::generate(17, 40);
        let tok =
            deixis_model::tokenizer::train(prompt_texts(&cases, &settings).into_iter(), 500, false)
                .expect("tokenizer");
        let mut nonzero = 0;
        for case in &cases {
            let plain = example(case, &tok, &settings, 4096, 0.0).expect("example");
            let Some(plain) = plain else { continue };
            assert!(plain.choices.iter().all(|c| c.prior.is_empty()));
            let e = example(case, &tok, &settings, 4096, 2.5)
                .expect("example")
                .expect("fits");
            assert_eq!(e.tokens, plain.tokens);
            let (p, _, _) = solved_with_parse(case, &settings);
            let scores = Baseline.scores(&Request {
                screen: &p.screen,
                parse: &p.parse,
                context: &case.context,
                query: &case.query,
            });
            let first = &e.choices[0];
            // The first choice is among every number and 0, in order.
            assert_eq!(first.prior.len(), first.entries.len());
            assert_eq!(first.prior.len(), scores.len());
            for (prior, score) in first.prior.iter().zip(&scores) {
                assert!((f64::from(*prior) - 2.5 * score).abs() < 1e-4);
            }
            nonzero += usize::from(first.prior.iter().any(|&p| p > 0.2));
            for c in &e.choices {
                assert_eq!(c.prior.len(), c.entries.len());
            }
        }
        assert!(nonzero >= 20, "{nonzero}");
    }

    #[test]
    fn every_example_scores_exactly_its_answer() {
        let settings = ParseSettings::default();
        let cases = crate::datagen::generate(11, 60);
        let mut none = 0;
        // Without and with lowercasing (the keys come from offsets into the original text).
        let toks = [false, true].map(|lowercase| {
            deixis_model::tokenizer::train(
                prompt_texts(&cases, &settings).into_iter(),
                500,
                lowercase,
            )
            .expect("tokenizer")
        });
        for (case, tok) in cases.iter().flat_map(|c| toks.iter().map(move |t| (c, t))) {
            let e = example(case, tok, &settings, 4096, 0.0)
                .expect("example")
                .expect("fits");
            let answer: Vec<u32> = e.scored.iter().map(|&i| e.tokens[i + 1]).collect();
            assert_eq!(answer.last(), Some(&END), "{}", case.id);
            let text = tok.decode(&answer, true).expect("decode");
            let numbers: Vec<usize> = text
                .split(',')
                .map(|n| n.trim().parse().expect("a number"))
                .collect();
            // The numbers name the targets.
            let config = parse_config(&settings, seed_from(&case.id));
            let p = prepare(case.size, case.elements.clone(), &config);
            let mut named: Vec<_> = numbers
                .iter()
                .filter(|&&n| n != 0)
                .map(|&n| p.screen.elements[p.parse.candidate(n).expect("candidate").element].id)
                .collect();
            named.sort_unstable();
            let mut targets = case.targets.clone();
            targets.sort_unstable();
            assert_eq!(named, targets, "{}: {text}", case.id);
            none += usize::from(numbers == [0]);
            // The pointer's choices: one per number, each entry from its first token to its
            // last, the target's the entry of that number.
            assert_eq!(e.choices.len(), numbers.len(), "{}", case.id);
            let decode = |range: std::ops::RangeInclusive<usize>| {
                tok.decode(&e.tokens[range], false)
                    .expect("decode")
                    .to_lowercase()
            };
            for (c, &n) in e.choices.iter().zip(&numbers) {
                for &(first, last) in &c.entries {
                    let text = decode(first..=last);
                    let text = text.trim_start();
                    let tagged = text.starts_with("{{") && text.ends_with("}}");
                    let line = text.ends_with('\n')
                        && text.find(". ").is_some_and(|d| {
                            d > 0 && text[..d].bytes().all(|b| b.is_ascii_digit())
                        });
                    assert!(tagged || line, "{}: not an entry: {text:?}", case.id);
                    assert!(!text[2..text.len() - 2].contains("}}"), "{text:?}");
                }
                let entry = decode(c.entries[c.target].0..=c.entries[c.target].1);
                let entry = entry.trim_start().trim_start_matches("{{");
                assert!(entry.starts_with(&format!("{n}. ")), "{n}: {entry}");
                // The query reads the prompt's last token, or the comma after a number.
                let q = decode(0..=c.query);
                assert!(q.ends_with("relevant entity:") || q.ends_with(','), "{q}");
            }
            // The request: the dialogue and the request after the last entry.
            let request = decode(e.request.start..=e.request.end - 1);
            assert!(
                request.starts_with("dialogue:") || request.starts_with("user request:"),
                "{request:?}"
            );
            assert!(request.ends_with("relevant entity:"), "{request:?}");
            // The prompt collapses runs of spaces (generated requests have doubled ones).
            let query = case.query.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(request.contains(&query.to_lowercase()), "{request:?}");
        }
        assert!(none > 0, "no case without a target");
    }

    #[test]
    fn a_run_writes_its_files_refuses_to_overwrite_and_resumes_to_the_same_model() {
        let dir = tempfile::tempdir().expect("dir");
        let whole = dir.path().join("whole");
        run(&tiny(8), &whole, false, None, None).expect("run");
        for f in [
            "tokenizer.json",
            "checkpoint.safetensors",
            "loss.csv",
            "eval.csv",
            "loss.png",
        ] {
            assert!(whole.join(f).is_file(), "{f}");
        }
        let loss = std::fs::read_to_string(whole.join("loss.csv")).expect("loss.csv");
        assert_eq!(loss.lines().count(), 1 + 8, "{loss}");
        let eval = read_series(&whole.join("eval.csv"));
        assert_eq!(eval.iter().map(|r| r.0).collect::<Vec<_>>(), [4.0, 8.0]);
        assert!(eval.iter().all(|r| (0.0..=1.0).contains(&r.1)));
        let png = image::open(whole.join("loss.png")).expect("a PNG");
        assert_eq!((png.width(), png.height()), (900, 450));
        let err = run(&tiny(8), &whole, false, None, None).expect_err("overwrite");
        assert!(err.to_string().contains("--resume"), "{err}");

        // Stopped at step 5 and resumed: the same model, byte for byte.
        let split = dir.path().join("split");
        run(&tiny(8), &split, false, Some(5), None).expect("first part");
        assert_eq!(
            std::fs::read_to_string(split.join("loss.csv"))
                .expect("csv")
                .lines()
                .count(),
            1 + 5
        );
        // As if the first part had taken 1000 s: the resumed part counts on from there.
        let csv_path = split.join("loss.csv");
        let text = std::fs::read_to_string(&csv_path).expect("csv");
        let (head, last) = text.trim_end().rsplit_once(',').expect("a row");
        assert!(last.parse::<f64>().is_ok(), "{last}");
        std::fs::write(&csv_path, format!("{head},1000.0\n")).expect("write");
        run(&tiny(8), &split, true, None, None).expect("resumed");
        let text = std::fs::read_to_string(&csv_path).expect("csv");
        let times: Vec<f64> = (text.lines().skip(1))
            .map(|l| {
                l.rsplit(',')
                    .next()
                    .expect("seconds")
                    .parse()
                    .expect("a number")
            })
            .collect();
        assert_eq!(times.len(), 8);
        assert!(times[5..].iter().all(|&t| t >= 1000.0), "{times:?}");
        let weights = |d: &Path| std::fs::read(d.join("model/weights.bin")).expect("weights");
        assert!(weights(&whole) == weights(&split), "resumed run differs");
        let err = run(&tiny(8), &dir.path().join("none"), true, None, None).expect_err("no run");
        assert!(err.to_string().contains("no checkpoint"), "{err}");

        // A second stage from the whole run: its tokenizer and parameters. With a learning
        // rate of 0 the exported model is the first stage's, byte for byte.
        let mut second = tiny(2);
        second.data_seed = 700;
        second.type_questions = 0.5;
        second.learning_rate = 0.0;
        let staged = dir.path().join("staged");
        run(&second, &staged, false, None, Some(&whole)).expect("second stage");
        let text = |d: &Path| std::fs::read(d.join("tokenizer.json")).expect("tokenizer");
        assert!(text(&staged) == text(&whole));
        assert!(
            weights(&staged) == weights(&whole),
            "init did not load the parameters"
        );
        let loss = std::fs::read_to_string(staged.join("loss.csv")).expect("loss.csv");
        assert_eq!(loss.lines().count(), 1 + 2, "{loss}");
        let err = run(
            &second,
            &dir.path().join("other"),
            false,
            None,
            Some(&split.join("no")),
        )
        .expect_err("no run to start from");
        assert!(err.to_string().contains("--init"), "{err}");
    }

    #[test]
    fn configs_are_checked() {
        let mut c = tiny(100);
        c.held_out_seed = 501;
        assert!(c
            .check()
            .expect_err("overlap")
            .to_string()
            .contains("held_out_seed"));
        let mut c = tiny(100);
        c.width = 30;
        assert!(c.check().is_err());
        let c = tiny(100);
        assert!(c.learning_rate_at(0) < c.learning_rate_at(1));
        assert!((c.learning_rate_at(2) - c.learning_rate).abs() < 1e-9);
        assert!((c.learning_rate_at(100) - c.learning_rate * 0.1).abs() < 1e-9);
        let mut c = tiny(100);
        c.type_questions = 1.5;
        assert!(c.check().is_err());
        let mut c = tiny(100);
        c.generator = 0;
        assert!(c.check().is_err());
        c.generator = crate::datagen::GENERATOR + 1;
        assert!(c.check().is_err());
        let bad = toml::from_str::<TrainConfig>("seed = 1\nwidht = 3\n").expect_err("unknown");
        assert!(bad.to_string().contains("widht"), "{bad}");
    }
}
