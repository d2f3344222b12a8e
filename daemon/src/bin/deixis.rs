//! `deixis`: the command line. Parses screens, resolves requests, scores eval files, prepares
//! models and talks to the running daemon. Its clap definitions are in `deixis_daemon::cli`.
//!
//! Exit status: 0 success, 1 user error (the message names the file, line and field), 2
//! internal error. Results go to stdout, diagnostics and logs to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Parser;
use deixis_daemon::capture::ocr::Ocr;
use deixis_daemon::capture::{Accessibility, CaptureConfig, Snapshot};
use deixis_daemon::cli::deixis::{
    Cli, Command, CorpusArg, DTypeArg, IoArg, ModelCommand, ResolverArg, ScopeArg,
};
use deixis_daemon::config::{self, OcrMode, Resolver as ResolverChoice, Settings, Sources};
use deixis_daemon::eval::{eval_file, FileReport};
use deixis_daemon::pipeline::{parse_config, prepare, Prepared};
use deixis_daemon::resolve::model::ModelResolver;
use deixis_daemon::resolve::{Request, Resolver};
use deixis_parser::format::read_screen_file;
use deixis_parser::parse::seed_from;
use deixis_parser::{Case, ElementId};

/// An error that is the user's to fix: exit status 1.
#[derive(Debug)]
struct UserError(anyhow::Error);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for UserError {}

fn user(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(UserError(e.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DEIXIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`deixis parse ... | head`): not an error of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<UserError>() => {
            eprintln!("deixis: {e:#}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("deixis: internal error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Model(command) = cli.command {
        return model_command(command, cli.config);
    }
    let mut sources = Sources::from_process(cli.config.as_deref());
    if let Command::Resolve { resolver, .. } | Command::Eval { resolver, .. } = &cli.command {
        if let Some(r) = resolver.resolver {
            let name = match r {
                ResolverArg::Baseline => "baseline",
                ResolverArg::Model => "model",
            };
            sources
                .overrides
                .push(("model.resolver".into(), name.into()));
        }
        if let Some(dir) = &resolver.model {
            sources
                .overrides
                .push(("model.path".into(), dir.display().to_string()));
        }
    }
    let settings = config::load(&sources).map_err(user)?;
    match cli.command {
        Command::Parse {
            screen,
            prompt,
            png,
        } => {
            let live = screen.is_none();
            let (case, prepared) = match screen {
                Some(path) => read_and_prepare(&path, &settings)?,
                None => {
                    let (case, _) = capture(&settings, settings.capture.all_windows).context(
                        "no live screen to parse (give --screen FILE for a screen file)",
                    )?;
                    let config = parse_config(&settings.parse, seed_from(&case.id));
                    let prepared = prepare(case.size, case.elements.clone(), &config);
                    (case, prepared)
                }
            };
            if let Some(out) = &png {
                let background = if live {
                    match deixis_daemon::capture::screenshot() {
                        Ok(shot) => Some(shot),
                        Err(e) => {
                            eprintln!("deixis: no screenshot ({e}); drawing on a blank canvas");
                            None
                        }
                    }
                } else {
                    None
                };
                let picture =
                    deixis_daemon::picture::draw(&prepared.screen, &prepared.parse, background);
                picture
                    .save_with_format(out, image::ImageFormat::Png)
                    .with_context(|| format!("cannot write {}", out.display()))
                    .map_err(user)?;
                eprintln!(
                    "deixis: drew {}x{} into {}",
                    picture.width(),
                    picture.height(),
                    out.display()
                );
            }
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", prepared.parse.text)?;
            if !prepared.parse.boxless.is_empty() {
                let entities = deixis_parser::prompt::entities(
                    &prepared.screen,
                    &prepared.parse,
                    settings.parse.max_text_chars,
                );
                write!(out, "{entities}")?;
            }
            if let Some(query) = prompt {
                let p = deixis_parser::prompt::render(
                    &prepared.screen,
                    &prepared.parse,
                    &case.context,
                    &query,
                    settings.parse.max_text_chars,
                );
                writeln!(out, "\n{}", p.text)?;
            }
            Ok(())
        }
        Command::Resolve {
            screen,
            json,
            max_results,
            query,
            ..
        } => {
            let Some(path) = screen else {
                return resolve_via_daemon(&query, max_results, json);
            };
            let resolver = load_resolver(&settings)?;
            let (case, prepared) = read_and_prepare(&path, &settings)?;
            let request = Request {
                screen: &prepared.screen,
                parse: &prepared.parse,
                context: &case.context,
                query: &query,
            };
            let answer = resolver.resolve(&request);
            print_answer(&prepared, &answer, max_results, json)?;
            Ok(())
        }
        Command::Capture { json, all_windows } => {
            let (case, snapshot) = capture(&settings, all_windows || settings.capture.all_windows)?;
            let mut out = std::io::stdout().lock();
            if json {
                let mut value = deixis_parser::format::case_to_json(&case);
                if let Some(top) = value.as_object_mut() {
                    top.insert("coordinates".into(), snapshot.coordinates.name().into());
                    top.insert("diagnostics".into(), snapshot.diagnostics.clone().into());
                    top.insert("ocr".into(), ocr_json(&snapshot.ocr));
                }
                writeln!(out, "{value}")?;
            } else {
                for e in &case.elements {
                    let b = e.bounds.map_or(String::new(), |r| {
                        format!("{:.0},{:.0} {:.0}x{:.0}", r.x1, r.y1, r.width(), r.height())
                    });
                    writeln!(
                        out,
                        "{:<5} {:<18} {:<22} {:?}  {}",
                        e.id, e.role_name, b, e.text, e.app
                    )?;
                }
            }
            eprintln!(
                "deixis: {} element(s) from {} node(s) in {} ms",
                case.elements.len(),
                snapshot.nodes,
                snapshot.took.as_millis()
            );
            Ok(())
        }
        Command::Model(_) => unreachable!("handled above"),
        Command::Screen { json } => screen_via_daemon(json),
        Command::Status { json } => status_via_daemon(json),
        Command::Forget { scope, json } => forget_via_daemon(scope, json),
        Command::Eval {
            json,
            files,
            shots,
            limit,
            cases,
            ..
        } => {
            let resolver = if shots > 0 && settings.model.resolver == ResolverChoice::Model {
                let dir = settings
                    .model
                    .path
                    .clone()
                    .or_else(deixis_daemon::resolve::builtin_model_dir)
                    .ok_or_else(|| user(anyhow!("--shots: give --model DIR")))?;
                let examples = deixis_daemon::training::few_shot(shots, &settings.parse);
                Box::new(
                    ModelResolver::load(&dir, settings.parse.max_text_chars)
                        .with_context(|| format!("cannot load the model {}", dir.display()))
                        .map_err(user)?
                        .with_shots(examples)
                        .with_default_lexical(settings.model.lexical_weight),
                )
            } else {
                load_resolver(&settings)?
            };
            let mut reports = Vec::new();
            for path in &files {
                let mut bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))
                    .map_err(user)?;
                if let Some(n) = limit {
                    let end = bytes
                        .iter()
                        .enumerate()
                        .filter(|(_, &b)| b == b'\n')
                        .nth(n.saturating_sub(1))
                        .map_or(bytes.len(), |(i, _)| i + 1);
                    bytes.truncate(if n == 0 { 0 } else { end });
                }
                let shown = path.display().to_string();
                reports.push(eval_file(
                    &shown,
                    &bytes,
                    resolver.as_ref(),
                    &settings.parse,
                    |line, problem| eprintln!("{shown}:{line}: {problem}"),
                ));
            }
            if let Some(path) = cases {
                write_outcomes(&path, &reports)
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map_err(user)?;
            }
            print_reports(&reports, resolver.name(), json)?;
            Ok(())
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `$XDG_CACHE_HOME/deixis/models/NAME` (or `~/.cache/...`).
fn cached_model(name: &str) -> Option<PathBuf> {
    deixis_model::cache_dir().map(|c| c.join("models").join(name))
}

/// `deixis model ...`; `train_config` is `--config` (the training settings for `train`).
fn model_command(command: ModelCommand, train_config: Option<PathBuf>) -> anyhow::Result<()> {
    use deixis_model::convert::{convert, Source};
    use deixis_model::weights::DType;
    match command {
        ModelCommand::Convert {
            gguf,
            model,
            safetensors,
            config,
            tokenizer,
            out,
            dtype,
        } => {
            let source = match (gguf, model, config, tokenizer) {
                (Some(path), _, _, _) => Source::Gguf(path),
                (None, Some(dir), _, _) => Source::Model(dir),
                (None, None, Some(config), Some(tokenizer)) if !safetensors.is_empty() => {
                    Source::SafeTensors {
                        weights: safetensors,
                        config,
                        tokenizer,
                    }
                }
                _ => {
                    return Err(user(anyhow!(
                        "give --gguf FILE, --model DIR, or --safetensors FILE... --config FILE --tokenizer FILE"
                    )))
                }
            };
            let dtype = match dtype {
                DTypeArg::F32 => DType::F32,
                DTypeArg::F16 => DType::F16,
            };
            eprintln!("deixis: converting into {} ...", out.display());
            let summary = convert(&source, &out, dtype).map_err(user)?;
            let c = &summary.config;
            println!(
                "{}: {} layers, width {}, {} heads ({} key/value), FFN {}, vocabulary {}; {:.1}M parameters; weights.bin {:.1} MiB; {:.1} s",
                c.architecture.name(),
                c.num_layers,
                c.hidden_size,
                c.num_heads,
                c.num_kv_heads,
                c.intermediate_size,
                c.vocab_size,
                summary.parameters as f64 / 1e6,
                summary.bytes as f64 / (1024.0 * 1024.0),
                summary.took.as_secs_f64()
            );
            Ok(())
        }
        ModelCommand::Data {
            seed,
            count,
            type_questions,
            generator,
        } => {
            if !(0.0..=1.0).contains(&type_questions) {
                return Err(user(anyhow!("--type-questions must be between 0 and 1")));
            }
            let versions = deixis_daemon::datagen::VERSIONS;
            if !versions.contains(&generator) {
                return Err(user(anyhow!("--generator must be {versions:?}")));
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let cases =
                deixis_daemon::datagen::generate_with(seed, count, type_questions, generator);
            for case in cases {
                writeln!(out, "{}", deixis_parser::format::case_to_json(&case))?;
            }
            out.flush()?;
            Ok(())
        }
        ModelCommand::Train {
            out,
            resume,
            stop_after,
            init,
        } => {
            let config = train_config
                .ok_or_else(|| user(anyhow!("give the training settings with --config FILE")))?;
            let settings = deixis_daemon::training::TrainConfig::read(&config).map_err(user)?;
            let out = out.unwrap_or_else(|| {
                let stem = config
                    .file_stem()
                    .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
                PathBuf::from(format!("train-{stem}"))
            });
            deixis_daemon::training::run(&settings, &out, resume, stop_after, init.as_deref())
                .map_err(|e| {
                    if e.is::<deixis_daemon::training::OutError>() {
                        user(e)
                    } else {
                        e
                    }
                })?;
            std::fs::copy(&config, out.join("train.toml")).with_context(|| {
                format!("cannot copy {} into {}", config.display(), out.display())
            })?;
            Ok(())
        }
        ModelCommand::TrainPredictors {
            model,
            corpus,
            tokens,
            rank,
            epochs,
            sparsity,
            json,
        } => train_predictors(&model, corpus, tokens, rank, epochs, sparsity, json),
        ModelCommand::Bench {
            json,
            quick,
            tokens,
            io,
            threads,
            window,
            disk,
            model,
            active,
            lookahead,
        } => {
            let settings = deixis_model::flash::bench::Settings {
                prefill: 4,
                tokens: if quick && model.is_none() {
                    4
                } else {
                    tokens.max(1)
                },
                window: window.max(1),
                threads: threads.max(1),
                seed: 1,
                lookahead,
                submit: match io {
                    IoArg::Ring => deixis_model::flash::io::Submit::Ring,
                    IoArg::Threads => deixis_model::flash::io::Submit::Threads,
                },
            };
            match model {
                Some(dir) => bench_model(&dir, json, &settings),
                None => bench(json, quick, &settings, disk, &active),
            }
        }
        ModelCommand::Generate {
            model,
            max_tokens,
            chat,
            prompt,
        } => {
            let dir = model
                .or_else(|| cached_model("smollm2-135m-instruct"))
                .ok_or_else(|| user(anyhow!("give --model DIR")))?;
            let start = std::time::Instant::now();
            let model = deixis_model::Model::load(&dir)
                .map_err(|e| user(anyhow!("{}: {e}", dir.display())))?;
            let loaded = start.elapsed();
            let text = if chat {
                format!("<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n")
            } else {
                prompt
            };
            let ids = model.encode(&text)?;
            let start = std::time::Instant::now();
            let out = model.generate(&ids, max_tokens, model.config.eos_token_id)?;
            let took = start.elapsed();
            println!("{}", model.decode(&out));
            eprintln!(
                "deixis: loaded in {:.2} s; {} prompt tokens, {} generated in {:.2} s",
                loaded.as_secs_f64(),
                ids.len(),
                out.len(),
                took.as_secs_f64()
            );
            Ok(())
        }
    }
}

/// `deixis model train-predictors`.
fn train_predictors(
    dir: &std::path::Path,
    corpus: CorpusArg,
    tokens: usize,
    rank: usize,
    epochs: usize,
    sparsity: f64,
    json: bool,
) -> anyhow::Result<()> {
    use deixis_model::flash::{self, predictor};
    use rand::{Rng, SeedableRng};
    if !(0.0..1.0).contains(&sparsity) {
        return Err(user(anyhow!("--sparsity must be at least 0 and below 1")));
    }
    let oracle = std::sync::Arc::new(
        flash::Oracle::load(dir).map_err(|e| user(anyhow!("{}: {e}", dir.display())))?,
    );
    let gated = oracle.gate(0).is_some();
    let mut opts = flash::Options::new(flash::Method::Flash, u64::MAX / 4);
    // Gated models: activations of the dense model (no thresholds yet), every neuron.
    let predictor = if gated {
        opts.thresholds = vec![0.0; oracle.layers()];
        flash::Predictor::All
    } else {
        flash::Predictor::Oracle(oracle.clone())
    };
    let mut engine = flash::Engine::open(dir, opts, predictor)
        .map_err(|e| user(anyhow!("{}: {e}", dir.display())))?;
    let (width, neurons) = (engine.config.hidden_size, engine.config.intermediate_size);
    let longest = engine.config.max_positions.min(256);
    // Sequences of at most `longest` tokens, `tokens` in all.
    let mut sequences: Vec<Vec<u32>> = Vec::new();
    match corpus {
        CorpusArg::Prompts => {
            let settings = deixis_daemon::config::ParseSettings::default();
            let mut k = 0;
            while sequences.iter().map(Vec::len).sum::<usize>() < tokens {
                let texts = deixis_daemon::training::corpus(
                    deixis_daemon::training::PREDICTOR_CORPUS_SEED + k,
                    64,
                    &settings,
                );
                k += 1;
                for t in texts {
                    let ids = deixis_model::tokenizer::encode(&engine.tokenizer, &t)?;
                    for chunk in ids.chunks(longest) {
                        sequences.push(chunk.to_vec());
                    }
                }
            }
        }
        CorpusArg::Random => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let vocab = engine.config.vocab_size as u32;
            while sequences.iter().map(Vec::len).sum::<usize>() < tokens {
                sequences.push((0..longest).map(|_| rng.gen_range(0..vocab)).collect());
            }
        }
    }
    let start = std::time::Instant::now();
    if gated {
        engine.record_inputs();
    } else {
        engine.record();
    }
    let mut left = tokens;
    for seq in &sequences {
        let n = seq.len().min(left);
        if n == 0 {
            break;
        }
        let mut state = engine.empty();
        engine.run(&mut state, &seq[..n])?;
        left -= n;
        eprint!(
            "\rdeixis: collecting activations: {}/{tokens} tokens",
            tokens - left
        );
    }
    eprintln!(" ({:.0} s)", start.elapsed().as_secs_f64());
    let mut samples = engine.take_samples();
    let cats = if gated {
        let gates: Vec<_> = (0..oracle.layers())
            .filter_map(|l| oracle.gate(l).cloned())
            .collect();
        let cats = predictor::Thresholds::choose(&mut samples, &gates, width, sparsity)?;
        cats.write(dir)
            .with_context(|| format!("cannot write thresholds into {}", dir.display()))?;
        eprintln!(
            "deixis: CATS thresholds for {:.0}% sparsity written to {}",
            sparsity * 100.0,
            dir.join(predictor::THRESHOLDS_FILE).display()
        );
        Some(cats)
    } else {
        None
    };
    let settings = predictor::TrainSettings {
        rank,
        epochs,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let (trained, reports) =
        predictor::LowRank::train(&samples, width, neurons, &settings, &mut |r| {
            eprintln!(
                "deixis: layer {}: recall {:.3}, precision {:.3}",
                r.layer, r.recall, r.precision
            )
        })?;
    let out = dir.join(predictor::FILE);
    trained
        .save(&out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "deixis: trained {} predictors (rank {rank}, {} bytes) in {:.0} s into {}",
        reports.len(),
        trained.bytes(),
        start.elapsed().as_secs_f64(),
        out.display()
    );
    if json {
        println!(
            "{}",
            serde_json::json!({ "rank": rank, "tokens": tokens, "layers": reports, "cats": cats })
        );
        return Ok(());
    }
    println!(
        "{:>5} {:>8} {:>10} {:>7} {:>9}",
        "layer", "active", "predicted", "recall", "precision"
    );
    for r in &reports {
        println!(
            "{:>5} {:>7.2}% {:>9.2}% {:>7.3} {:>9.3}",
            r.layer,
            r.active_fraction * 100.0,
            r.predicted_fraction * 100.0,
            r.recall,
            r.precision
        );
    }
    let n = reports.len().max(1) as f64;
    println!(
        "{:>5} {:>7.2}% {:>9.2}% {:>7.3} {:>9.3}",
        "mean",
        reports.iter().map(|r| r.active_fraction).sum::<f64>() / n * 100.0,
        reports.iter().map(|r| r.predicted_fraction).sum::<f64>() / n * 100.0,
        reports.iter().map(|r| r.recall).sum::<f64>() / n,
        reports.iter().map(|r| r.precision).sum::<f64>() / n,
    );
    Ok(())
}

/// `deixis model bench`: generates the models it needs into the cache (once), runs them.
fn bench(
    json: bool,
    quick: bool,
    settings: &deixis_model::flash::bench::Settings,
    disk: bool,
    only: &[u32],
) -> anyhow::Result<()> {
    use deixis_model::flash::{bench, synth::Synth};
    let mut runs = Vec::new();
    for pct in [3u32, 5, 10] {
        if !only.is_empty() && !only.contains(&pct) {
            continue;
        }
        let active = f64::from(pct) / 100.0;
        let (name, synth) = if quick {
            let s = Synth {
                vocab: 1024,
                width: 512,
                neurons: 2048,
                layers: 4,
                heads: 8,
                max_positions: 512,
                ..Synth::opt_1_3b(active, 1)
            };
            ("opt-shaped-13m", s)
        } else {
            ("opt-shaped-1.3b", Synth::opt_1_3b(active, 1))
        };
        let dir = cached_model(&format!("bench-{name}-{pct}pct"))
            .ok_or_else(|| anyhow!("no cache directory: set XDG_CACHE_HOME or HOME"))?;
        let config_matches = std::fs::read_to_string(dir.join("config.json"))
            .ok()
            .and_then(|t| deixis_model::Config::from_json(&t).ok())
            .is_some_and(|c| c == synth.config());
        if !config_matches || !dir.join("weights.bin").exists() {
            eprintln!(
                "deixis: generating {name} ({} parameters, {pct}% active) into {}",
                synth.parameters(),
                dir.display()
            );
            let tmp = dir.with_extension("partial");
            let _ = std::fs::remove_dir_all(&tmp);
            synth.write(&tmp)?;
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&tmp, &dir)
                .with_context(|| format!("cannot move {} to {}", tmp.display(), dir.display()))?;
        }
        if disk {
            let sizes = [4096u64, 8192, 16384, 32768, 131072, 262144];
            let readers = [1usize, 4, 8, 16, 32];
            let (table, used) = bench::disk_table(
                &dir.join("weights.bin"),
                &sizes,
                &readers,
                512,
                settings.submit,
            )?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"sizes": sizes, "in_flight": readers, "submit": used, "mib_s": table})
                );
                return Ok(());
            }
            println!(
                "cold random reads of {} ({}), MiB/s (rows: read size; columns: reads in flight)",
                dir.display(),
                used.name()
            );
            print!("{:>8}", "size");
            for r in readers {
                print!(" {r:>7}");
            }
            println!();
            for (size, row) in sizes.iter().zip(table) {
                print!("{:>6} K", size / 1024);
                for v in row {
                    print!(" {v:>7.0}");
                }
                println!();
            }
            return Ok(());
        }
        let run = bench::run(
            &dir,
            name,
            synth.parameters(),
            active,
            settings,
            None,
            &mut |what| eprintln!("deixis: {what}"),
        )?;
        runs.push(run);
    }
    print_runs(&runs, json);
    Ok(())
}

/// `deixis model bench --model DIR`: the three methods on a model directory, reading
/// generated prompts.
fn bench_model(
    dir: &std::path::Path,
    json: bool,
    settings: &deixis_model::flash::bench::Settings,
) -> anyhow::Result<()> {
    use deixis_model::flash::{bench, predictor::Thresholds};
    let model =
        deixis_model::Model::load(dir).map_err(|e| user(anyhow!("{}: {e}", dir.display())))?;
    let text = deixis_daemon::training::corpus(
        deixis_daemon::training::PREDICTOR_CORPUS_SEED + 999,
        8,
        &deixis_daemon::config::ParseSettings::default(),
    )
    .join("\n");
    let ids = model.encode(&text)?;
    let params = model.parameters() as u64;
    let config = model.config.clone();
    drop(model);
    let active = match Thresholds::read(dir)? {
        Some(t) => 1.0 - t.sparsity,
        None => f64::NAN,
    };
    let name = dir
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    let mut run = bench::run(
        dir,
        &name,
        params,
        active,
        settings,
        Some(&ids),
        &mut |what| eprintln!("deixis: {what}"),
    )?;
    if run.active_fraction.is_nan() {
        let neurons = (config.num_layers * config.intermediate_size) as f64;
        run.active_fraction = run.results[2].active_per_token / neurons;
    }
    print_runs(&[run], json);
    Ok(())
}

fn print_runs(runs: &[deixis_model::flash::bench::Run], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "runs": runs }));
        return;
    }
    let mib = |b: f64| b / (1024.0 * 1024.0);
    for run in runs {
        println!(
            "{} ({} parameters, predictor: {}), {:.0}% active: weights {:.0} MiB, budget {:.0} MiB, bundle {} B, \
             window {} tokens, {}{}, disk {:.0} MiB/s cold at {} KiB reads ({:.0} MiB/s \
             in batches of {} reads, a layer's)",
            run.model,
            run.params,
            run.predictor,
            run.active_fraction * 100.0,
            mib(run.model_bytes as f64),
            mib(run.dram_budget_bytes as f64),
            run.bundle_bytes,
            run.window,
            match run.submit {
                deixis_model::flash::io::Submit::Ring => "io_uring".to_owned(),
                deixis_model::flash::io::Submit::Threads => format!("{} reader threads", run.threads),
            },
            if run.direct_io {
                ", O_DIRECT"
            } else {
                ", buffered + DONTNEED"
            },
            run.disk_read_mib_s,
            run.read_bytes / 1024,
            run.disk_read_mib_s_layer_batches,
            run.reads_per_layer,
        );
        println!(
            "  {:<6} {:>10} {:>8} {:>8} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9}",
            "method",
            "ms/token",
            "io ms",
            "mem ms",
            "compute ms",
            "MiB/token",
            "reads/tok",
            "active",
            "read",
            "peak MiB"
        );
        for r in &run.results {
            println!(
                "  {:<6} {:>10.1} {:>8.1} {:>8.1} {:>10.1} {:>10.2} {:>10.0} {:>9.0} {:>9.0} {:>9.0}",
                r.method.name(),
                r.ms_per_token,
                r.io_ms,
                r.mem_ms,
                r.compute_ms,
                mib(r.bytes_per_token),
                r.reads_per_token,
                r.active_per_token,
                r.missing_per_token,
                mib(r.peak_dram_bytes as f64),
            );
        }
        if let Some(f) = run
            .results
            .iter()
            .find(|r| r.method == deixis_model::flash::Method::Flash)
        {
            // The ratios: bytes read per neuron that had to come from disk (named and
            // not in memory when named, or read ahead and then named), and the time the token
            // waited for reads against what those bytes take at the disk's throughput.
            let from_disk = f.missing_per_token + f.prefetch_hits_per_token;
            let at = |mib_s: f64| mib(f.bytes_per_token) / mib_s * 1000.0;
            println!(
                "  flash: bytes / (neurons from disk x bundle) {:.3}; I/O waited {:.1} ms = {:.2}x \
                 the deep-queue time, {:.2}x the layer-batch time, {:.2}x the time of layer \
                 batches {:.1} ms apart ({:.0} MiB/s)",
                f.bytes_per_token / (from_disk * run.bundle_bytes as f64).max(1.0),
                f.io_ms,
                f.io_ms / at(run.disk_read_mib_s).max(1e-9),
                f.io_ms / at(run.disk_read_mib_s_layer_batches).max(1e-9),
                f.io_ms / at(run.disk_read_mib_s_paced).max(1e-9),
                run.gap_ms,
                run.disk_read_mib_s_paced,
            );
            if f.prefetched_per_token > 0.0 {
                println!(
                    "  lookahead: {:.0} neurons read ahead per token, {:.0} of them named by \
                     their layer ({:.0}%); those reads took {:.1} ms beside compute",
                    f.prefetched_per_token,
                    f.prefetch_hits_per_token,
                    100.0 * f.prefetch_hits_per_token / f.prefetched_per_token,
                    f.prefetch_ms,
                );
            }
        }
    }
}

/// Calls the running deixisd on the session bus; errors say how to start one, or what the
/// daemon answered.
fn call_daemon<T, F>(call: impl FnOnce(deixis_ipc::Deixis1Proxy<'static>) -> F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = zbus::Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let no_daemon = || {
        user(anyhow!(
            "no deixisd on the session bus: start one with `deixisd` (or `deixisd --screen FILE`; \
             with the package installed, `systemctl --user start deixisd`)"
        ))
    };
    runtime.block_on(async {
        let conn = zbus::Connection::session().await.map_err(|_| no_daemon())?;
        let proxy = deixis_ipc::Deixis1Proxy::new(&conn)
            .await
            .map_err(|_| no_daemon())?;
        match call(proxy).await {
            Ok(answer) => Ok(answer),
            Err(zbus::Error::MethodError(name, message, _)) => {
                let name = name.as_str();
                if name == "org.freedesktop.DBus.Error.ServiceUnknown"
                    || name == "org.freedesktop.DBus.Error.NameHasNoOwner"
                {
                    Err(no_daemon())
                } else {
                    Err(user(anyhow!(
                        "deixisd: {name}: {}",
                        message.unwrap_or_default()
                    )))
                }
            }
            Err(zbus::Error::FDO(e)) => match *e {
                zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_) => {
                    Err(no_daemon())
                }
                e => Err(user(anyhow!("deixisd: {e}"))),
            },
            Err(e) => Err(anyhow::Error::new(e).context("calling deixisd")),
        }
    })
}

/// A candidate of a D-Bus answer (`a{sv}`) as JSON.
fn candidate_json(
    c: &std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
) -> serde_json::Value {
    use zbus::zvariant::Value;
    let get = |k: &str| -> Option<Value<'static>> {
        c.get(k).and_then(|v| v.try_clone().ok()).map(Value::from)
    };
    let text = |k: &str| match get(k) {
        Some(Value::Str(s)) => s.to_string(),
        _ => String::new(),
    };
    let bounds = c
        .get("bounds")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| <(i32, i32, i32, i32)>::try_from(v).ok())
        .map(|(x, y, w, h)| [x, y, w, h]);
    let score = match get("score") {
        Some(Value::F64(x)) => x,
        _ => 0.0,
    };
    let selected = matches!(get("selected"), Some(Value::Bool(true)));
    serde_json::json!({
        "id": text("id"), "kind": text("kind"), "type": text("type"), "text": text("text"),
        "app": text("app"), "bounds": bounds, "score": score, "selected": selected,
    })
}

/// Asks the running deixisd, and prints its answer as `resolve` does.
fn resolve_via_daemon(query: &str, max: usize, json: bool) -> anyhow::Result<()> {
    let query = query.to_owned();
    let answer = call_daemon(|proxy| async move {
        let mut options = std::collections::HashMap::new();
        options.insert(
            "max_results",
            zbus::zvariant::Value::from(u32::try_from(max).unwrap_or(u32::MAX)),
        );
        proxy.resolve(&query, options).await
    })?;
    let rows: Vec<serde_json::Value> = answer.iter().map(candidate_json).collect();
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::json!({ "candidates": rows }))?;
        return Ok(());
    }
    if !rows
        .iter()
        .any(|r| r["selected"].as_bool().unwrap_or(false))
    {
        writeln!(out, "none of the candidates")?;
    }
    write_table(&mut out, &rows)
}

/// `deixis screen`: the daemon's current screen.
fn screen_via_daemon(json: bool) -> anyhow::Result<()> {
    let (id, parse, entities) = call_daemon(|proxy| async move {
        proxy.current_screen(std::collections::HashMap::new()).await
    })?;
    let mut out = std::io::stdout().lock();
    if json {
        let entities: Vec<serde_json::Value> = entities.iter().map(candidate_json).collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "snapshot_id": id, "parse": parse, "entities": entities })
        )?;
    } else {
        writeln!(out, "{parse}")?;
    }
    Ok(())
}

/// `deixis status`: the daemon's properties.
fn status_via_daemon(json: bool) -> anyhow::Result<()> {
    let (version, model, status, sources) = call_daemon(|proxy| async move {
        Ok((
            proxy.version().await?,
            proxy.model().await?,
            proxy.status().await?,
            proxy.capture_sources().await?,
        ))
    })?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "version": version, "model": model, "status": status, "capture_sources": sources,
            })
        )?;
    } else {
        writeln!(out, "status\t{status}")?;
        writeln!(out, "version\t{version}")?;
        writeln!(out, "model\t{model}")?;
        writeln!(out, "capture sources\t{}", sources.join(", "))?;
    }
    Ok(())
}

/// `deixis forget SCOPE`.
fn forget_via_daemon(scope: ScopeArg, json: bool) -> anyhow::Result<()> {
    call_daemon(|proxy| async move { proxy.forget(scope.name()).await })?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::json!({ "forgotten": scope.name() }))?;
    } else {
        writeln!(out, "forgot {}", scope.name())?;
    }
    Ok(())
}

/// A live snapshot from the accessibility bus, as a screen file case. Diagnostics go to stderr.
fn capture(settings: &Settings, all_windows: bool) -> anyhow::Result<(Case, Snapshot)> {
    let config = CaptureConfig {
        all_windows,
        ..deixis_daemon::service::capture_config(settings)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let accessible = runtime.block_on(async {
        let bus = match Accessibility::connect(&config).await {
            Ok(bus) => bus,
            Err(e) => return Ok(Err(e)),
        };
        let snapshot = bus.snapshot(&config).await;
        // Put back what connecting changed, whatever the walk did.
        let restored = bus.restore().await;
        let snapshot = snapshot.context("cannot read the screen")?;
        restored.context("cannot restore the accessibility settings")?;
        anyhow::Ok(Ok(snapshot))
    })?;
    let ocr = (config.ocr != OcrMode::Never).then(Ocr::new);
    let mut snapshot = match accessible {
        Ok(snapshot) => snapshot,
        // Without the accessibility bus, OCR alone can still read the screen.
        Err(e) if matches!(ocr, Some(Ok(_))) => Snapshot::without_accessibility(format!(
            "{:#}; reading the screen by OCR only",
            anyhow::Error::new(e)
        )),
        Err(e) => return Err(user(e)),
    };
    if let Some(ocr) = &ocr {
        deixis_daemon::capture::ocr::add_to(&mut snapshot, ocr.as_ref(), &config);
    }
    for d in &snapshot.diagnostics {
        eprintln!("deixis: capture: {d}");
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let case = Case {
        id: format!("capture-{millis}"),
        source: "atspi".into(),
        size: snapshot.size,
        elements: snapshot.elements.clone(),
        context: Vec::new(),
        query: String::new(),
        targets: Vec::new(),
        scoring: deixis_parser::Scoring::Set,
    };
    Ok((case, snapshot))
}

/// What OCR did, for `capture --json` (no screen text: classes, counts, times).
fn ocr_json(report: &deixis_daemon::capture::ocr::OcrReport) -> serde_json::Value {
    serde_json::json!({
        "unavailable": report.unavailable,
        "ms": report.took.as_millis() as u64,
        "windows": report.windows.iter().map(|w| serde_json::json!({
            "class": w.class,
            "coverage": (w.coverage * 1000.0).round() / 1000.0,
            "visible": (w.visible * 1000.0).round() / 1000.0,
            "read": w.read,
            "lines": w.lines,
            "duplicates": w.duplicates,
            "secret": w.secret,
            "ms": w.ms,
        })).collect::<Vec<_>>(),
    })
}

/// `line` and the rest of a format error's message (`line: field: problem`).
fn split_line(e: &deixis_parser::FormatError) -> (usize, String) {
    (e.line(), deixis_daemon::eval::format_problem(e))
}

/// The configured resolver; a model that does not load is named on stderr and the baseline
/// answers.
fn load_resolver(settings: &Settings) -> anyhow::Result<Box<dyn Resolver + Send>> {
    let (resolver, why_not) = deixis_daemon::resolve::load(settings);
    if let Some(why_not) = why_not {
        eprintln!("deixis: {why_not}");
    }
    Ok(resolver)
}

fn read_and_prepare(path: &Path, settings: &Settings) -> anyhow::Result<(Case, Prepared)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(user)?;
    let mut case = read_screen_file(&bytes).map_err(|e| {
        let (line, rest) = split_line(&e);
        user(anyhow!("{}:{line}: {rest}", path.display()))
    })?;
    let elements = std::mem::take(&mut case.elements);
    let config = parse_config(&settings.parse, seed_from(&case.id));
    let prepared = prepare(case.size, elements, &config);
    for d in &prepared.diagnostics {
        eprintln!("deixis: {}: {d}", path.display());
    }
    Ok((case, prepared))
}

fn print_answer(
    p: &Prepared,
    answer: &deixis_daemon::resolve::Answer,
    max: usize,
    json: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let rows: Vec<serde_json::Value> = answer
        .rows(&p.screen, &p.parse, max)
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id.to_string(),
                "kind": r.kind,
                "type": r.entity_type,
                "text": r.text,
                "app": r.app,
                "bounds": r.bounds,
                "score": r.score,
                "selected": r.selected,
            })
        })
        .collect();
    if json {
        writeln!(out, "{}", serde_json::json!({ "candidates": rows }))?;
        return Ok(());
    }
    if !answer.ranked.iter().any(|r| r.selected) {
        writeln!(out, "none of the candidates")?;
    }
    write_table(&mut out, &rows)
}

/// The answer table: selection mark, score, id, type, text.
fn write_table(out: &mut impl Write, rows: &[serde_json::Value]) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<4} {:>7}  {:<6} {:<16} text",
        "sel", "score", "id", "type"
    )?;
    for row in rows {
        let s = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
        let selected = row["selected"].as_bool().unwrap_or(false);
        writeln!(
            out,
            "{:<4} {:>7.3}  {:<6} {:<16} {}",
            if selected { "*" } else { "" },
            row["score"].as_f64().unwrap_or(0.0),
            s("id"),
            s("type"),
            s("text"),
        )?;
    }
    Ok(())
}

/// `deixis eval --cases FILE`: a JSON line per case.
fn write_outcomes(path: &Path, reports: &[FileReport]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let ids = |v: &[ElementId]| v.iter().map(|i| i.0).collect::<Vec<_>>();
    for r in reports {
        for o in &r.outcomes {
            let top: Vec<serde_json::Value> = o
                .top
                .iter()
                .map(|(id, score)| serde_json::json!({ "id": id.0, "score": score }))
                .collect();
            let line = serde_json::json!({
                "file": r.path, "id": o.id, "correct": o.correct,
                "selected": ids(&o.selected), "targets": ids(&o.targets), "top": top,
                "ms": o.ms,
            });
            writeln!(out, "{line}")?;
        }
    }
    out.flush()
}

fn print_reports(reports: &[FileReport], resolver: &str, json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let files: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "path": r.path, "cases": r.cases, "correct": r.correct, "errors": r.errors,
                    "accuracy": r.accuracy, "p50_ms": r.p50_ms, "p95_ms": r.p95_ms,
                })
            })
            .collect();
        let report = serde_json::json!({ "resolver": resolver, "files": files });
        return writeln!(out, "{report}");
    }
    let width = reports
        .iter()
        .map(|r| r.path.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:<width$} {:>6} {:>8} {:>7} {:>9} {:>8} {:>8}",
        "file", "cases", "correct", "errors", "accuracy", "p50 ms", "p95 ms"
    )?;
    for r in reports {
        writeln!(
            out,
            "{:<width$} {:>6} {:>8} {:>7} {:>9.3} {:>8.3} {:>8.3}",
            r.path, r.cases, r.correct, r.errors, r.accuracy, r.p50_ms, r.p95_ms
        )?;
    }
    writeln!(out, "resolver: {resolver}")
}
