//! Service: the pipeline behind `org.deixis.Deixis1`, stage 7. [`run`] owns the session-bus
//! name and serves until shutdown; [`Service`] answers calls: a fixed screen (`--screen FILE`)
//! parsed once at start, or the live screen from capture, parsed when it is asked for.
//!
//! Resolution runs on the blocking pool, not the executor; a panic in one request becomes an
//! `Internal` error reply; every request has a timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deixis_ipc::{Backend, Candidate, Error, ResolveOptions, Screen};
use deixis_parser::format::Turn;
use deixis_parser::parse::seed_from;
use deixis_parser::prompt::entities;
use deixis_parser::Case;

use crate::capture::{Accessibility, CaptureConfig, LiveScreenHandle};
use crate::config::Settings;
use crate::pipeline::{parse_config, prepare, Prepared};
use crate::resolve::baseline::Baseline;
use crate::resolve::{Request, Resolver};

/// Requests get this long unless they ask for less.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Answers hold at most this many candidates unless asked for fewer.
const DEFAULT_MAX_RESULTS: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot connect to the session bus")]
    Bus(#[source] zbus::Error),
    #[error("cannot own the name {name} on the session bus (is another deixisd running?)")]
    Name {
        name: &'static str,
        #[source]
        source: zbus::Error,
    },
    #[error("cannot read the screen")]
    Capture(#[from] crate::capture::CaptureError),
}

/// Where the screen comes from.
#[derive(Debug)]
pub enum Source {
    /// A screen file, parsed once.
    Fixed(Box<Case>),
    /// The live screen from the accessibility bus.
    Live,
}

/// The backend of the D-Bus interface.
#[derive(Debug)]
pub struct Service {
    settings: Settings,
    screen: ScreenState,
}

#[derive(Debug)]
enum ScreenState {
    Fixed {
        snapshot_id: String,
        prepared: Arc<Prepared>,
        context: Vec<Turn>,
    },
    Live(LiveScreenHandle),
}

/// Serves the interface on the session bus (the address in `DBUS_SESSION_BUS_ADDRESS`) until
/// `shutdown` completes; requests in flight finish first.
pub async fn run(
    settings: Settings,
    source: Source,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let screen = match source {
        Source::Fixed(case) => {
            let case = *case;
            let config = parse_config(&settings.parse, seed_from(&case.id));
            let prepared =
                tokio::task::spawn_blocking(move || prepare(case.size, case.elements, &config))
                    .await
                    .map_err(|_| {
                        ServiceError::Bus(zbus::Error::Failure("parse panicked".into()))
                    })?;
            ScreenState::Fixed {
                snapshot_id: case.id.clone(),
                prepared: Arc::new(prepared),
                context: case.context,
            }
        }
        Source::Live => {
            let config = capture_config(&settings);
            let bus = Accessibility::connect(&config).await?;
            ScreenState::Live(LiveScreenHandle::new(bus.live(config).await?))
        }
    };
    let service = Service { settings, screen };
    let connection = zbus::connection::Builder::session()
        .map_err(ServiceError::Bus)?
        .serve_at(deixis_ipc::OBJECT_PATH, deixis_ipc::Interface(service))
        .map_err(ServiceError::Bus)?
        .build()
        .await
        .map_err(ServiceError::Bus)?;
    connection
        .request_name(deixis_ipc::BUS_NAME)
        .await
        .map_err(|source| ServiceError::Name {
            name: deixis_ipc::BUS_NAME,
            source,
        })?;
    tracing::info!(name = deixis_ipc::BUS_NAME, "serving");
    shutdown.await;
    tracing::info!("shutting down");
    // Refuse new calls, let zbus finish the ones in flight, then stop capture.
    let _ = connection.release_name(deixis_ipc::BUS_NAME).await;
    let server = connection.object_server();
    if let Ok(iface) = server
        .interface::<_, deixis_ipc::Interface<Service>>(deixis_ipc::OBJECT_PATH)
        .await
    {
        if let ScreenState::Live(live) = &iface.get().await.0.screen {
            live.stop().await;
        }
    }
    Ok(())
}

/// Capture settings from the config.
pub fn capture_config(settings: &Settings) -> CaptureConfig {
    CaptureConfig {
        all_windows: settings.capture.all_windows,
        exclude_apps: settings.capture.exclude_apps.clone(),
        exclude_windows: settings.capture.exclude_windows.clone(),
        enable_accessibility: settings.capture.enable_accessibility,
        screen_reader_hint: settings.capture.screen_reader_hint,
        ..CaptureConfig::default()
    }
}

impl Service {
    /// The screen now, parsed, with its id and dialogue.
    async fn current(&self) -> Result<(String, Arc<Prepared>, Vec<Turn>), Error> {
        match &self.screen {
            ScreenState::Fixed {
                snapshot_id,
                prepared,
                context,
            } => Ok((snapshot_id.clone(), prepared.clone(), context.clone())),
            ScreenState::Live(live) => {
                let snapshot = live.snapshot().await.map_err(|e| {
                    Error::NotReady(format!("the live screen is not available: {e}"))
                })?;
                let id = format!("live-{}", snapshot.generation);
                let config = parse_config(&self.settings.parse, seed_from(&id));
                let prepared = tokio::task::spawn_blocking(move || {
                    prepare(snapshot.size, snapshot.elements, &config)
                })
                .await
                .map_err(|_| Error::Internal("parsing the screen failed".into()))?;
                Ok((id, Arc::new(prepared), Vec::new()))
            }
        }
    }
}

fn candidates(prepared: &Prepared, answer: &crate::resolve::Answer, max: usize) -> Vec<Candidate> {
    answer
        .rows(&prepared.screen, &prepared.parse, max)
        .into_iter()
        .map(|r| {
            let b = r
                .bounds
                .unwrap_or([0, 0, 0, 0])
                .map(|v| i32::try_from(v).unwrap_or(i32::MAX));
            Candidate {
                id: r.id.to_string(),
                kind: r.kind.to_owned(),
                entity_type: r.entity_type,
                text: r.text,
                app: r.app,
                bounds: (b[0], b[1], b[2], b[3]),
                score: r.score,
                selected: r.selected,
                actions: Vec::new(),
            }
        })
        .collect()
}

impl Backend for Service {
    async fn resolve(
        &self,
        query: String,
        options: ResolveOptions,
    ) -> Result<Vec<Candidate>, Error> {
        let timeout = options.timeout_ms.map_or(DEFAULT_TIMEOUT, |ms| {
            Duration::from_millis(u64::from(ms)).min(DEFAULT_TIMEOUT)
        });
        let work = async {
            let (_, prepared, mut context) = self.current().await?;
            context.extend(options.context.iter().map(|(speaker, text)| Turn {
                speaker: speaker.clone(),
                text: text.clone(),
            }));
            let max = options.max_results.unwrap_or(DEFAULT_MAX_RESULTS) as usize;
            let min_score = options.min_score;
            let app = options.app.clone();
            // The resolver runs on the blocking pool; a panic there is this request's alone.
            tokio::task::spawn_blocking(move || {
                let request = Request {
                    screen: &prepared.screen,
                    parse: &prepared.parse,
                    context: &context,
                    query: &query,
                };
                let answer = Baseline.resolve(&request);
                let mut out = candidates(&prepared, &answer, usize::MAX);
                out.retain(|c| min_score.is_none_or(|m| c.score >= m));
                if let Some(app) = &app {
                    out.retain(|c| c.app == *app);
                }
                out.truncate(max);
                out
            })
            .await
            .map_err(|_| Error::Internal("resolving this request failed".into()))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| Error::Timeout(format!("no answer within {} ms", timeout.as_millis())))?
    }

    async fn current_screen(&self) -> Result<Screen, Error> {
        let (snapshot_id, prepared, _) = self.current().await?;
        let parse = format!(
            "{}\n{}",
            prepared.parse.text,
            entities(
                &prepared.screen,
                &prepared.parse,
                self.settings.parse.max_text_chars
            )
        );
        let all = crate::resolve::Answer {
            ranked: prepared
                .parse
                .candidates
                .iter()
                .map(|c| crate::resolve::Ranked {
                    number: c.number,
                    score: 0.0,
                    selected: false,
                })
                .collect(),
        };
        Ok(Screen {
            snapshot_id,
            parse,
            entities: candidates(&prepared, &all, usize::MAX),
        })
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn model(&self) -> String {
        "baseline".to_owned()
    }

    fn status(&self) -> String {
        "ready".to_owned()
    }

    fn capture_sources(&self) -> Vec<String> {
        match self.screen {
            ScreenState::Fixed { .. } => vec!["screen-file".to_owned()],
            ScreenState::Live(_) => vec!["atspi".to_owned()],
        }
    }
}
