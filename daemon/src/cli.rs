//! The command lines of `deixis` and `deixisd` (clap definitions), here rather than in the
//! binaries so that `manual` can generate the man pages and shell completions the package
//! ships from them.

#[cfg(test)]
mod manual;

/// `deixis`, the command-line client and tool.
pub mod deixis {
    use std::path::PathBuf;

    use clap::{Args, Parser, Subcommand, ValueEnum};

    #[derive(Debug, Parser)]
    #[command(
        name = "deixis",
        version,
        about = "Which thing on the screen does the user mean?"
    )]
    pub struct Cli {
        /// Config file (default: $XDG_CONFIG_HOME/deixis/config.toml).
        #[arg(long, global = true, value_name = "FILE", env = "DEIXIS_CONFIG")]
        pub config: Option<PathBuf>,
        #[command(subcommand)]
        pub command: Command,
    }

    #[derive(Debug, Subcommand)]
    pub enum Command {
        /// Print the onscreen parse of a screen, entities tagged as {{n. text}}.
        Parse {
            /// A screen file (the eval case format); without it, the live screen.
            #[arg(long, value_name = "FILE")]
            screen: Option<PathBuf>,
            /// Also print the whole prompt for this request.
            #[arg(long, value_name = "QUERY")]
            prompt: Option<String>,
            /// Also draw what deixis sees into this PNG: elements, clusters (one colour
            /// each), parse lines and prompt numbers, over a screenshot of the live screen
            /// (over a white canvas with --screen).
            #[arg(long, value_name = "FILE")]
            png: Option<PathBuf>,
        },
        /// Rank the candidates a request could mean.
        Resolve {
            /// A screen file; without it, ask the running daemon.
            #[arg(long, value_name = "FILE")]
            screen: Option<PathBuf>,
            #[command(flatten)]
            resolver: ResolverArgs,
            /// Print JSON (the D-Bus answer's fields) instead of a table.
            #[arg(long)]
            json: bool,
            /// How many candidates to print.
            #[arg(long, default_value_t = 5)]
            max_results: usize,
            /// What the user said.
            query: String,
        },
        /// Read the screen from the accessibility bus, in the screen file format.
        Capture {
            /// Print the screen file (JSON) instead of a table.
            #[arg(long)]
            json: bool,
            /// Every showing window, not only the focused one (default: the config's
            /// capture.all_windows).
            #[arg(long)]
            all_windows: bool,
        },
        /// What the running deixisd sees now: its onscreen parse and entities.
        Screen {
            /// Print the D-Bus reply as JSON: {"snapshot_id", "parse", "entities"}.
            #[arg(long)]
            json: bool,
        },
        /// The running deixisd's version, resolver, status and capture sources.
        Status {
            /// Print the properties as JSON.
            #[arg(long)]
            json: bool,
        },
        /// Make the running deixisd delete what it keeps, from memory and disk.
        Forget {
            /// What to delete.
            #[arg(value_enum)]
            scope: ScopeArg,
            /// Print {"forgotten": SCOPE} as JSON.
            #[arg(long)]
            json: bool,
        },
        /// Prepare and try language models.
        #[command(subcommand)]
        Model(ModelCommand),
        /// Score a resolver on eval files (JSONL, one case a line).
        Eval {
            #[command(flatten)]
            resolver: ResolverArgs,
            /// Print {"files": [...]} as JSON instead of a table.
            #[arg(long)]
            json: bool,
            /// A chat model (SmolLM2-Instruct) reads this many solved generated examples first
            /// (few-shot); our own model ignores it.
            #[arg(long, default_value_t = 0, value_name = "N")]
            shots: usize,
            /// Only the first N cases of each file (for slow resolvers).
            #[arg(long, value_name = "N")]
            limit: Option<usize>,
            /// Also write each case's outcome to this file, a JSON line per case: file, id,
            /// correct, selected, targets, top (the first three ranked: id and score), ms.
            #[arg(long, value_name = "FILE")]
            cases: Option<PathBuf>,
            #[arg(required = true, value_name = "FILE.jsonl")]
            files: Vec<PathBuf>,
        },
    }

    #[derive(Debug, Subcommand)]
    pub enum ModelCommand {
        /// Convert a GGUF file, or safetensors with their config.json and tokenizer.json, into a
        /// model directory (config.json, tokenizer.json, weights.bin).
        Convert {
            /// A GGUF file (llama architecture; dequantized).
            #[arg(long, value_name = "FILE", conflicts_with_all = ["safetensors", "config", "tokenizer", "model"])]
            gguf: Option<PathBuf>,
            /// A model directory (config.json, tokenizer.json, weights.bin): its weights
            /// stored again in --dtype (f16 halves a trained model's size).
            #[arg(long, value_name = "DIR", conflicts_with_all = ["safetensors", "config", "tokenizer"])]
            model: Option<PathBuf>,
            /// Safetensors files (llama, OPT or deixis).
            #[arg(long, value_name = "FILE", num_args = 1.., requires_all = ["config", "tokenizer"])]
            safetensors: Vec<PathBuf>,
            /// The Hugging Face config.json of the safetensors.
            #[arg(long, value_name = "FILE")]
            config: Option<PathBuf>,
            /// The tokenizer.json of the safetensors.
            #[arg(long, value_name = "FILE")]
            tokenizer: Option<PathBuf>,
            /// The model directory to write.
            #[arg(long, value_name = "DIR")]
            out: PathBuf,
            /// How weights are stored.
            #[arg(long, value_enum, default_value_t = DTypeArg::F32)]
            dtype: DTypeArg,
        },
        /// Generated reference-resolution examples (ReALM-style: on-screen, conversational,
        /// background, none) as JSONL in the eval case format, on stdout.
        Data {
            /// The same seed gives the same cases.
            #[arg(long, default_value_t = 1)]
            seed: u64,
            /// How many cases.
            #[arg(long, default_value_t = 1000)]
            count: usize,
            /// Share of the cases (0 to 1) that ask for a value by its kind ("what time is
            /// it?"); 0 draws the cases earlier versions drew for the same seed.
            #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
            type_questions: f64,
            /// The generator's version: 1 words one chat request "copy him last message", 2
            /// fixes it, 3 also gives a share of the unnamed icons and images machine captions
            /// ("a white arrow on a blue background ."); the same cases otherwise.
            #[arg(long, value_name = "VERSION", default_value_t = crate::datagen::GENERATOR)]
            generator: u32,
        },
        /// Train the reference model from scratch on generated data (CPU): tokenizer,
        /// checkpoints, loss.csv, eval.csv, loss.png and the exported model in --out.
        ///
        /// The run's settings are the file given with --config (TOML). The shipped model was
        /// trained with model/deixis-small.toml, then with model/deixis-small-types.toml and
        /// --init on the first run's directory.
        Train {
            /// Where the run's files go (default: train-<config name> in the current directory).
            #[arg(long, value_name = "DIR")]
            out: Option<PathBuf>,
            /// Continue the run in --out from its last checkpoint.
            #[arg(long)]
            resume: bool,
            /// Stop (with a checkpoint) after this step; --resume continues the same run.
            #[arg(long, value_name = "STEP")]
            stop_after: Option<usize>,
            /// Start from the finished run in DIR (its tokenizer and parameters; fresh
            /// optimizer, step 0): a second stage on other data.
            #[arg(long, value_name = "DIR")]
            init: Option<PathBuf>,
        },
        /// Train the flash engine's low-rank activation predictors for a model: runs it over a
        /// corpus recording each layer's FFN inputs and active neurons, trains one predictor per
        /// layer, writes DIR/predictors.safetensors and prints held-out recall and precision.
        TrainPredictors {
            /// The model directory.
            #[arg(long, value_name = "DIR")]
            model: PathBuf,
            /// The corpus: generated ReALM prompts (tokenized with the model's tokenizer), or
            /// random token ids (generated benchmark models, whose tokens mean nothing).
            #[arg(long, value_enum, default_value_t = CorpusArg::Prompts)]
            corpus: CorpusArg,
            /// Tokens run to collect activations (10% held out for the report).
            #[arg(long, default_value_t = 4096)]
            tokens: usize,
            /// Rank of each predictor.
            #[arg(long, default_value_t = 128)]
            rank: usize,
            /// Passes over the collected tokens.
            #[arg(long, default_value_t = 30)]
            epochs: usize,
            /// Gated (SwiGLU) models, which are not sparse by themselves: the share of gate
            /// activations per layer that CATS thresholds make zero (written to
            /// DIR/thresholds.json, which the runtime and the engine then apply).
            #[arg(long, default_value_t = 0.8)]
            sparsity: f64,
            /// Print the report as JSON.
            #[arg(long)]
            json: bool,
        },
        /// The flash engine's benchmark: naive, budgeted mmap and flash on the same weights with
        /// half the model as the DRAM budget, from a cold page cache; generated OPT-shaped models
        /// (1.3B parameters, f16) with 3%, 5% and 10% of FFN neurons active.
        Bench {
            /// Print the runs as JSON.
            #[arg(long)]
            json: bool,
            /// A smoke run: a 13M-parameter model of the same kind, 4 tokens.
            #[arg(long)]
            quick: bool,
            /// Tokens measured per run (after 4 that fill the window).
            #[arg(long, default_value_t = 16)]
            tokens: usize,
            /// How reads are submitted: one io_uring submission per batch, or a pool of
            /// --threads readers (also where io_uring is refused).
            #[arg(long, value_enum, default_value_t = IoArg::Ring)]
            io: IoArg,
            /// Parallel readers of the thread pool; with --disk, the reads in flight.
            #[arg(long, default_value_t = 8)]
            threads: usize,
            /// Tokens whose neurons stay in memory.
            #[arg(long, default_value_t = 5)]
            window: usize,
            /// Only measure the disk: cold random-read throughput by read size and reads in
            /// flight.
            #[arg(long)]
            disk: bool,
            /// Benchmark this model directory instead (for example SmolLM2 after
            /// `deixis model train-predictors`), on generated prompts.
            #[arg(long, value_name = "DIR")]
            model: Option<PathBuf>,
            /// Only these active percentages (of 3, 5, 10).
            #[arg(long, value_name = "PERCENT", value_delimiter = ',')]
            active: Vec<u32>,
            /// Flash with the lookahead: the next layer's likely neurons are read while a layer
            /// computes.
            #[arg(long)]
            lookahead: bool,
        },
        /// Greedy generation from a prompt (a smoke test of a model).
        Generate {
            /// Model directory (default: $XDG_CACHE_HOME/deixis/models/smollm2-135m-instruct).
            #[arg(long, value_name = "DIR")]
            model: Option<PathBuf>,
            /// Most tokens to generate.
            #[arg(long, default_value_t = 32)]
            max_tokens: usize,
            /// Wrap the prompt in the chat template (<|im_start|>user ... <|im_start|>assistant).
            #[arg(long)]
            chat: bool,
            prompt: String,
        },
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    pub enum CorpusArg {
        Prompts,
        Random,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    pub enum IoArg {
        Ring,
        Threads,
    }

    #[derive(Debug, Clone, Copy, ValueEnum)]
    pub enum DTypeArg {
        F32,
        F16,
    }

    #[derive(Debug, Args)]
    pub struct ResolverArgs {
        /// Which resolver answers (default: the config's model.resolver).
        #[arg(long, value_enum)]
        pub resolver: Option<ResolverArg>,
        /// Model directory (default: the config's model.path, else the shipped model).
        #[arg(long, value_name = "DIR")]
        pub model: Option<PathBuf>,
    }

    #[derive(Debug, Clone, Copy, ValueEnum)]
    pub enum ScopeArg {
        All,
        Conversation,
        Background,
        Screens,
        Log,
    }

    impl ScopeArg {
        pub fn name(self) -> &'static str {
            match self {
                ScopeArg::All => "all",
                ScopeArg::Conversation => "conversation",
                ScopeArg::Background => "background",
                ScopeArg::Screens => "screens",
                ScopeArg::Log => "log",
            }
        }
    }

    #[derive(Debug, Clone, Copy, ValueEnum)]
    pub enum ResolverArg {
        Baseline,
        Model,
    }
}

/// `deixisd`, the service.
pub mod deixisd {
    use std::path::PathBuf;

    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(
        name = "deixisd",
        version,
        about = "The deixis service: which thing on the screen does the user mean?"
    )]
    pub struct Cli {
        /// Config file (default: $XDG_CONFIG_HOME/deixis/config.toml).
        #[arg(long, value_name = "FILE", env = "DEIXIS_CONFIG")]
        pub config: Option<PathBuf>,
        /// Serve this screen file instead of the live screen (demos, tests).
        #[arg(long, value_name = "FILE")]
        pub screen: Option<PathBuf>,
        /// Check the configuration, print it with every default filled in, and exit.
        #[arg(long)]
        pub check_config: bool,
    }
}
