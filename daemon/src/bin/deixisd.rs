//! `deixisd`: the deixis service on the session bus (`org.deixis.Deixis1`). Parses the command
//! line, loads the config, sets up logging and calls `service::run` until SIGTERM or SIGINT;
//! SIGHUP reads the config again (a config with errors is reported and the old one kept).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use deixis_daemon::cli::deixisd::Cli;
use deixis_daemon::config::{self, Sources};
use deixis_daemon::service::{self, Control, Source};
use deixis_parser::format::read_screen_file;

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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    let config_file = cli.config.clone();
    match serve(cli, settings, config_file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deixisd: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn serve(cli: Cli, settings: config::Settings, config_file: Option<PathBuf>) -> anyhow::Result<()> {
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
        let (control, requests) = tokio::sync::mpsc::channel(4);
        let signals = async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return std::future::pending().await;
            };
            loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = tokio::signal::ctrl_c() => break,
                    _ = hup.recv() => {
                        match config::load(&Sources::from_process(config_file.as_deref())) {
                            Ok(settings) => {
                                let _ = control.send(Control::Reload(Box::new(settings))).await;
                            }
                            Err(e) => tracing::error!("config not reloaded: {e}"),
                        }
                    }
                }
            }
            let _ = control.send(Control::Shutdown).await;
        };
        tokio::spawn(signals);
        service::run(settings, source, requests)
            .await
            .context("serving")
    })
}
