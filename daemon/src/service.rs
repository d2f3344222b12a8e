//! Service: the pipeline behind `org.deixis.Deixis1`, stage 7. [`run`] owns the session-bus
//! name and serves until shutdown; [`Service`] answers calls.
//!
//! - The screen ([`screens`]) is a screen file (`--screen FILE`) or the live screen, plus the
//!   trees apps pushed. A watcher task parses it when it changes, hands it to the model worker
//!   to compute its prompt prefix, keeps its text in the store for the retention period, and
//!   emits `ScreenChanged`: a request then only has to process itself.
//! - Resolution runs on the model worker thread behind a bounded queue ([`crate::worker`]);
//!   every request has a timeout; a panic in one request is an `Internal` error reply.
//! - Conversation and background entities live in memory and in the store; a write is
//!   acknowledged once it is on disk.
//! - Access: `[clients] allow` ([`crate::access`]); a pushed tree belongs to its sender, and
//!   its trees go when it leaves the bus.
//! - Logs carry sizes and ids, never screen text or queries, unless `[log] content` is on.
//! - Shutdown: new calls are refused, calls in flight finish, the store is flushed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deixis_ipc::{Backend, Caller, Candidate, EntityIn, Error, ResolveOptions, Scope, Screen};
use deixis_parser::format::Turn;
use deixis_parser::prompt::entities;
use deixis_parser::{Case, Element, Origin};
use futures_util::StreamExt;
use tokio::sync::{mpsc, Notify};

use crate::access::Access;
use crate::capture::ocr::{Ocr, OcrError};
use crate::capture::{Accessibility, CaptureConfig, LiveScreenHandle};
use crate::config::OcrMode;
use crate::config::Settings;
use crate::pipeline::Prepared;
use crate::store::{LogEntry, Part, Store, StoreError, StoredEntity};
use crate::worker::Worker;

pub mod screens;

use screens::{Base, Current, Screens};

/// Requests get this long unless they ask for less.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Answers hold at most this many candidates unless asked for fewer.
const DEFAULT_MAX_RESULTS: u32 = 10;
/// Conversation entities live this long unless they say otherwise, and at most `MAX_TTL_S`.
pub const DEFAULT_TTL_S: u32 = 600;
pub const MAX_TTL_S: u32 = 7 * 24 * 3600;
/// Changes closer together than this are parsed once.
const DEBOUNCE: Duration = Duration::from_millis(15);
/// How often expired entities and old screens are removed.
const EXPIRY_EVERY: Duration = Duration::from_secs(30);
/// Calls in flight get this long to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

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
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error("no place for the store: set XDG_DATA_HOME or HOME, or set [store] ephemeral = true")]
    NoDataDir,
    #[error("cannot start the model worker")]
    Worker(#[source] std::io::Error),
}

/// Where the screen comes from.
#[derive(Debug)]
pub enum Source {
    /// A screen file, parsed once.
    Fixed(Box<Case>),
    /// The live screen from the accessibility bus.
    Live,
}

/// What the daemon's signal handlers ask of the service.
#[derive(Debug)]
pub enum Control {
    /// SIGHUP: the config file again.
    Reload(Box<Settings>),
    /// SIGTERM, SIGINT.
    Shutdown,
}

/// The backend of the D-Bus interface: a cheap handle, shared with the service's tasks.
#[derive(Debug, Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: RwLock<Arc<Settings>>,
    settings_generation: AtomicU64,
    screens: Screens,
    worker: Worker,
    resolver: String,
    store: Arc<Store>,
    entities: RwLock<Vec<StoredEntity>>,
    access: Access,
    /// Wakes the change watcher (pushed trees, reloads).
    changed: Notify,
    closing: AtomicBool,
    in_flight: AtomicUsize,
    sources: Vec<String>,
}

/// Counts a call in flight until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn store_error(e: StoreError) -> Error {
    tracing::error!(error = %e, "store");
    Error::Internal(format!("the store failed: {e}"))
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::Internal("the store call panicked".into()))?
        .map_err(store_error)
}

/// Serves the interface on the session bus (the address in `DBUS_SESSION_BUS_ADDRESS`) until
/// `control` says to stop (or closes).
pub async fn run(
    settings: Settings,
    source: Source,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), ServiceError> {
    // Opening the store and reading its entities are disk work: the blocking pool.
    let dir = if settings.store.ephemeral {
        None
    } else {
        Some(crate::config::data_dir().ok_or(ServiceError::NoDataDir)?)
    };
    let (store, entities) = tokio::task::spawn_blocking(move || {
        let store = match dir {
            Some(dir) => Store::open(&dir)?,
            None => Store::memory(),
        };
        let entities = store.entities(now_ms())?;
        Ok::<_, StoreError>((store, entities))
    })
    .await
    .map_err(|_| ServiceError::NoDataDir)??;
    let (base, sources) = match source {
        Source::Fixed(case) => {
            let case = *case;
            (
                Base::Fixed {
                    id: if case.id.is_empty() {
                        "screen".to_owned()
                    } else {
                        case.id
                    },
                    size: case.size,
                    elements: case.elements,
                    context: case.context,
                },
                vec!["screen-file".to_owned(), "accesskit".to_owned()],
            )
        }
        Source::Live => {
            let config = capture_config(&settings);
            let bus = Accessibility::connect(&config).await?;
            let mut sources = vec!["atspi".to_owned(), "accesskit".to_owned()];
            let ocr = if config.ocr == OcrMode::Never {
                None
            } else {
                let ocr = tokio::task::spawn_blocking(Ocr::new)
                    .await
                    .unwrap_or_else(|_| Err(OcrError::Unavailable("starting it panicked".into())));
                match &ocr {
                    Ok(_) => sources.push("ocr".to_owned()),
                    Err(e) => tracing::warn!("{e}; carrying on without it"),
                }
                Some(ocr)
            };
            let live = bus.live(config.clone()).await?;
            (
                Base::Live(LiveScreenHandle::new(live, ocr, config)),
                sources,
            )
        }
    };
    let (resolver, why_not) = crate::resolve::load(&settings);
    if let Some(why_not) = why_not {
        tracing::warn!("{why_not}");
    }
    tracing::info!(resolver = resolver.name(), "resolver loaded");
    let service = Service {
        inner: Arc::new(Inner {
            resolver: resolver.name().to_owned(),
            worker: Worker::start(resolver).map_err(ServiceError::Worker)?,
            settings: RwLock::new(Arc::new(settings)),
            settings_generation: AtomicU64::new(0),
            screens: Screens::new(base),
            store: Arc::new(store),
            entities: RwLock::new(entities),
            access: Access::default(),
            changed: Notify::new(),
            closing: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            sources,
        }),
    };
    let connection = zbus::connection::Builder::session()
        .map_err(ServiceError::Bus)?
        .serve_at(
            deixis_ipc::OBJECT_PATH,
            deixis_ipc::Interface(service.clone()),
        )
        .map_err(ServiceError::Bus)?
        .build()
        .await
        .map_err(ServiceError::Bus)?;
    let tasks = [
        tokio::spawn(service.clone().watch_screen(connection.clone())),
        tokio::spawn(service.clone().watch_senders(connection.clone())),
        tokio::spawn(service.clone().expire()),
    ];
    connection
        .request_name(deixis_ipc::BUS_NAME)
        .await
        .map_err(|source| ServiceError::Name {
            name: deixis_ipc::BUS_NAME,
            source,
        })?;
    tracing::info!(name = deixis_ipc::BUS_NAME, "serving");
    while let Some(c) = control.recv().await {
        match c {
            Control::Reload(settings) => service.reload(*settings),
            Control::Shutdown => break,
        }
    }
    tracing::info!("shutting down");
    // Refuse new calls, let the ones in flight finish, then stop capture and flush the store.
    service.inner.closing.store(true, Ordering::SeqCst);
    let _ = connection.release_name(deixis_ipc::BUS_NAME).await;
    let start = Instant::now();
    while service.inner.in_flight.load(Ordering::SeqCst) > 0 && start.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in tasks {
        task.abort();
    }
    if let Base::Live(live) = &service.inner.screens.base {
        live.stop().await;
    }
    let store = service.inner.store.clone();
    blocking(move || store.flush())
        .await
        .map_err(|e| tracing::error!(error = %e, "flushing the store at shutdown"))
        .ok();
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
        ocr: settings.capture.ocr,
        ..CaptureConfig::default()
    }
}

impl Service {
    fn settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies a reloaded config. Capture, store and model settings take effect at the next
    /// start; the rest (clients, log content, parse, app exclusion of pushed trees, retention)
    /// at once.
    fn reload(&self, new: Settings) {
        let old = self.settings();
        if old.capture != new.capture || old.store != new.store || old.model != new.model {
            tracing::warn!(
                "reloaded: [capture], [store] and [model] changes take effect when deixisd restarts"
            );
        }
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
        self.inner
            .settings_generation
            .fetch_add(1, Ordering::SeqCst);
        self.inner.changed.notify_one();
        tracing::info!("configuration reloaded");
    }

    /// Counts a call, or refuses it during shutdown.
    fn enter(&self) -> Result<InFlight<'_>, Error> {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(&self.inner.in_flight);
        if self.inner.closing.load(Ordering::SeqCst) {
            return Err(Error::NotReady("deixisd is shutting down".into()));
        }
        Ok(guard)
    }

    async fn current(&self) -> Result<(Arc<Current>, bool), Error> {
        let settings = self.settings();
        let generation = self.inner.settings_generation.load(Ordering::SeqCst);
        self.inner.screens.current(&settings, generation).await
    }

    /// The conversation and background entities alive now, as elements without a box.
    fn entity_elements(&self) -> Vec<Element> {
        let now = now_ms();
        self.inner
            .entities
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|e| e.expires_ms > now)
            .map(|e| {
                let mut el = Element::new(
                    e.id,
                    if e.entity_type.trim().is_empty() {
                        "entity"
                    } else {
                        &e.entity_type
                    },
                );
                el.text.clone_from(&e.text);
                el.fields.clone_from(&e.fields);
                el.origin = if e.background {
                    Origin::Background
                } else {
                    Origin::Conversational
                };
                el
            })
            .collect()
    }

    /// Parses the screen whenever it changes, prepares its prefix, keeps its text, and tells
    /// the bus.
    async fn watch_screen(self, connection: zbus::Connection) {
        let mut live = match &self.inner.screens.base {
            Base::Live(live) => Some(live.changes()),
            Base::Fixed { .. } => None,
        };
        let emitter =
            match zbus::object_server::SignalEmitter::new(&connection, deixis_ipc::OBJECT_PATH) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "cannot emit signals");
                    return;
                }
            };
        loop {
            match self.current().await {
                Ok((current, true)) => self.announce(&emitter, &current).await,
                Ok((_, false)) => {}
                Err(e) => tracing::debug!(error = %e, "screen not available"),
            }
            let live_changed = async {
                match &mut live {
                    Some(rx) => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = live_changed => {}
                () = self.inner.changed.notified() => {}
            }
            tokio::time::sleep(DEBOUNCE).await;
        }
    }

    async fn announce(
        &self,
        emitter: &zbus::object_server::SignalEmitter<'_>,
        current: &Arc<Current>,
    ) {
        let snapshot = &current.snapshot;
        self.inner.worker.prepare(snapshot.clone()).await;
        let settings = self.settings();
        if settings.log.content {
            tracing::debug!(snapshot = %snapshot.id, parse = %snapshot.prepared.parse.text, "screen changed");
        } else {
            tracing::debug!(
                snapshot = %snapshot.id,
                elements = snapshot.prepared.screen.elements.len(),
                "screen changed"
            );
        }
        let store = self.inner.store.clone();
        let (id, text) = (snapshot.id.clone(), snapshot.prepared.parse.text.clone());
        if let Err(e) = blocking(move || store.put_screen(now_ms(), &id, &text)).await {
            tracing::warn!(error = %e, "keeping the screen");
        }
        if let Err(e) =
            deixis_ipc::Interface::<Service>::screen_changed(emitter, &snapshot.id, &current.app)
                .await
        {
            tracing::warn!(error = %e, "emitting ScreenChanged");
        }
    }

    /// Drops the trees of clients that leave the bus.
    async fn watch_senders(self, connection: zbus::Connection) {
        let Ok(dbus) = zbus::fdo::DBusProxy::new(&connection).await else {
            return;
        };
        let Ok(mut changes) = dbus.receive_name_owner_changed().await else {
            return;
        };
        while let Some(change) = changes.next().await {
            let Ok(args) = change.args() else { continue };
            if args.new_owner().is_none()
                && args.name().starts_with(':')
                && self.inner.screens.pushed().remove_sender(args.name())
            {
                self.inner.changed.notify_one();
            }
        }
    }

    /// Removes expired entities and screens past the retention period, now and then.
    async fn expire(self) {
        loop {
            tokio::time::sleep(EXPIRY_EVERY).await;
            let now = now_ms();
            self.inner
                .entities
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|e| e.expires_ms > now);
            let retention = u64::from(self.settings().store.retention_minutes) * 60_000;
            let store = self.inner.store.clone();
            match blocking(move || store.expire(now, now.saturating_sub(retention))).await {
                Ok(n) if n > 0 => tracing::debug!(removed = n, "expired"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "expiring"),
            }
        }
    }

    fn stored(entities: Vec<EntityIn>, conversation: bool) -> Vec<StoredEntity> {
        let now = now_ms();
        entities
            .into_iter()
            .map(|e| StoredEntity {
                id: 0,
                background: !conversation,
                entity_type: e.entity_type,
                text: e.text,
                fields: e.fields,
                expires_ms: match (conversation, e.ttl_s) {
                    (_, Some(t)) if t > 0 => now + u64::from(t.min(MAX_TTL_S)) * 1000,
                    (true, _) => now + u64::from(DEFAULT_TTL_S) * 1000,
                    (false, _) => u64::MAX,
                },
            })
            .collect()
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

/// A stable hash of a query for the resolution log (FNV-1a: the same query gives the same
/// hash across restarts).
fn query_hash(query: &str) -> u64 {
    deixis_parser::parse::seed_from(query)
}

impl Backend for Service {
    async fn authorize(&self, caller: &Caller) -> Result<(), Error> {
        let allow = self.settings().clients.allow.clone();
        self.inner.access.check(&allow, caller).await
    }

    async fn resolve(
        &self,
        _caller: Caller,
        query: String,
        options: ResolveOptions,
    ) -> Result<Vec<Candidate>, Error> {
        let _in_flight = self.enter()?;
        let start = Instant::now();
        let timeout = options.timeout_ms.map_or(DEFAULT_TIMEOUT, |ms| {
            Duration::from_millis(u64::from(ms)).min(DEFAULT_TIMEOUT)
        });
        let settings = self.settings();
        let query_hash = query_hash(&query);
        if settings.log.content {
            tracing::debug!(query = %query, "resolve");
        } else {
            tracing::debug!(query_bytes = query.len(), query_hash, "resolve");
        }
        let work = async {
            let (current, _) = self.current().await?;
            let mut context = current.context.clone();
            context.extend(options.context.iter().map(|(speaker, text)| Turn {
                speaker: speaker.clone(),
                text: text.clone(),
            }));
            self.inner
                .worker
                .resolve(
                    current.snapshot.clone(),
                    self.entity_elements(),
                    context,
                    query,
                )
                .await
                .map_err(|e| match e {
                    crate::worker::WorkerError::Panicked(_) => {
                        tracing::error!("a request panicked in the resolver");
                        Error::Internal("resolving this request failed".into())
                    }
                    crate::worker::WorkerError::Stopped => {
                        Error::Internal("the model worker has stopped".into())
                    }
                })
        };
        let resolved = tokio::time::timeout(timeout, work).await.map_err(|_| {
            Error::Timeout(format!("no answer within {} ms", timeout.as_millis()))
        })??;
        let max = options.max_results.unwrap_or(DEFAULT_MAX_RESULTS) as usize;
        let mut out = candidates(&resolved.prepared, &resolved.answer, usize::MAX);
        out.retain(|c| options.min_score.is_none_or(|m| c.score >= m));
        if let Some(app) = &options.app {
            out.retain(|c| c.app == *app);
        }
        out.truncate(max);
        let entry = LogEntry {
            at_ms: now_ms(),
            query_hash,
            chosen: out
                .iter()
                .filter(|c| c.selected)
                .map(|c| c.id.clone())
                .collect(),
            latency_us: start.elapsed().as_micros() as u64,
        };
        tracing::debug!(
            chosen = ?entry.chosen,
            latency_us = entry.latency_us,
            resolver_us = resolved.took.as_micros() as u64,
            prefix_ready = resolved.prefix_ready,
            "resolved"
        );
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.log(&entry) {
                tracing::warn!(error = %e, "resolution log");
            }
        });
        Ok(out)
    }

    async fn current_screen(&self) -> Result<Screen, Error> {
        let _in_flight = self.enter()?;
        let (current, _) = self.current().await?;
        let extra = self.entity_elements();
        let max_text_chars = self.settings().parse.max_text_chars;
        let snapshot = current.snapshot.clone();
        let (parse, entities) = tokio::task::spawn_blocking(move || {
            let (screen, parse) = deixis_parser::parse::with_boxless(
                &snapshot.prepared.screen,
                &snapshot.prepared.parse,
                &extra,
                &snapshot.config,
            );
            let text = format!(
                "{}\n{}",
                parse.text,
                entities(&screen, &parse, max_text_chars)
            );
            let all = crate::resolve::Answer {
                ranked: parse
                    .candidates
                    .iter()
                    .map(|c| crate::resolve::Ranked {
                        number: c.number,
                        score: 0.0,
                        selected: false,
                    })
                    .collect(),
            };
            let prepared = Prepared {
                screen,
                parse,
                diagnostics: Vec::new(),
            };
            (text, candidates(&prepared, &all, usize::MAX))
        })
        .await
        .map_err(|_| Error::Internal("rendering the screen failed".into()))?;
        Ok(Screen {
            snapshot_id: current.snapshot.id.clone(),
            parse,
            entities,
        })
    }

    async fn push_tree(
        &self,
        caller: Caller,
        app_id: String,
        tree_update_json: String,
    ) -> Result<(), Error> {
        let _in_flight = self.enter()?;
        let pushed = tokio::task::spawn_blocking({
            let service = self.clone();
            move || {
                service
                    .inner
                    .screens
                    .pushed()
                    .push(&caller.sender, &app_id, &tree_update_json)
            }
        })
        .await
        .map_err(|_| Error::Internal("reading the tree failed".into()))?;
        self.inner.changed.notify_one();
        pushed.map_err(|e| match e {
            crate::capture::push::PushError::TooMany(_) => Error::TooLarge(e.to_string()),
            _ => Error::InvalidArgument(e.to_string()),
        })
    }

    async fn add_conversation_entities(
        &self,
        entities: Vec<EntityIn>,
    ) -> Result<Vec<String>, Error> {
        let _in_flight = self.enter()?;
        let stored = Self::stored(entities, true);
        let store = self.inner.store.clone();
        let added = blocking(move || store.add_conversation(stored)).await?;
        let ids = added.iter().map(|e| e.id.to_string()).collect();
        self.inner
            .entities
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(added);
        Ok(ids)
    }

    async fn set_background_entities(&self, entities: Vec<EntityIn>) -> Result<(), Error> {
        let _in_flight = self.enter()?;
        let stored = Self::stored(entities, false);
        let store = self.inner.store.clone();
        let set = blocking(move || store.set_background(stored)).await?;
        let mut all = self
            .inner
            .entities
            .write()
            .unwrap_or_else(|p| p.into_inner());
        all.retain(|e| !e.background);
        all.extend(set);
        Ok(())
    }

    async fn forget(&self, scope: Scope) -> Result<(), Error> {
        let _in_flight = self.enter()?;
        let parts: Vec<Part> = match scope {
            Scope::All => vec![
                Part::Conversation,
                Part::Background,
                Part::Screens,
                Part::Log,
            ],
            Scope::Conversation => vec![Part::Conversation],
            Scope::Background => vec![Part::Background],
            Scope::Screens => vec![Part::Screens],
            Scope::Log => vec![Part::Log],
        };
        {
            let mut all = self
                .inner
                .entities
                .write()
                .unwrap_or_else(|p| p.into_inner());
            if parts.contains(&Part::Conversation) {
                all.retain(|e| e.background);
            }
            if parts.contains(&Part::Background) {
                all.retain(|e| !e.background);
            }
        }
        let store = self.inner.store.clone();
        blocking(move || store.forget(&parts)).await?;
        tracing::info!(scope = ?scope, "forgotten");
        Ok(())
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn model(&self) -> String {
        self.inner.resolver.clone()
    }

    fn status(&self) -> String {
        if self.inner.closing.load(Ordering::SeqCst) {
            "stopping".to_owned()
        } else {
            "ready".to_owned()
        }
    }

    fn capture_sources(&self) -> Vec<String> {
        self.inner.sources.clone()
    }
}
