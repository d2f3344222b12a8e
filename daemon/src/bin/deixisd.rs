//! `deixisd`: the deixis service on the session bus (`org.deixis.Deixis1`). Parses the command
//! line, loads the config, sets up logging and calls `service::run` until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use deixis_daemon::config::{self, Sources};
use deixis_daemon::service::{self, Source};
use deixis_parser::format::read_screen_file;

#[derive(Debug, Parser)]
#[command(
    name = "deixisd",
    version,
    about = "The deixis service: which thing on the screen does the user mean?"
)]
struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/deixis/config.toml).
    #[arg(long, value_name = "FILE", env = "DEIXIS_CONFIG")]
    config: Option<PathBuf>,
    /// Serve this screen file instead of the live screen (demos, tests).
    #[arg(long, value_name = "FILE")]
    screen: Option<PathBuf>,
    /// Check the configuration, print it with every default filled in, and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&Sources::from_process(cli.config.as_deref())) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("deixisd: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        print!("{}", settings.to_toml());
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("DEIXIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.level));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    match serve(cli, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deixisd: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn serve(cli: Cli, settings: config::Settings) -> anyhow::Result<()> {
    let source = match &cli.screen {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let case =
                read_screen_file(&bytes).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))?;
            Source::Fixed(Box::new(case))
        }
        None => Source::Live,
    };
    // Two workers: the bus and capture; resolution runs on the blocking pool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return std::future::pending().await,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        service::run(settings, source, shutdown)
            .await
            .context("serving")
    })
}
