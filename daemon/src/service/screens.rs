//! The current screen: the capture source (a screen file or the live accessibility tree) plus
//! the trees apps pushed, through stages 1-3, cached until something changes.
//!
//! A snapshot's id names its content: the screen file's id, or a hash of the elements, so the
//! same screen keeps one id, one prompt numbering (the shuffle seed comes from the id) and one
//! prompt prefix. Asking for the screen when nothing changed costs a comparison; after a change
//! the screen is parsed once, on the blocking pool, whoever asks first (the change watcher,
//! usually, before any request).

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use deixis_ipc::Error;
use deixis_parser::format::Turn;
use deixis_parser::parse::seed_from;
use deixis_parser::{Element, ScreenSize, State};

use crate::capture::push::Pushed;
use crate::capture::LiveScreenHandle;
use crate::config::Settings;
use crate::pipeline::{parse_config, prepare};
use crate::worker::Snapshot;

/// Where the screen comes from.
#[derive(Debug)]
pub enum Base {
    Fixed {
        id: String,
        size: Option<ScreenSize>,
        elements: Vec<Element>,
        context: Vec<Turn>,
    },
    Live(LiveScreenHandle),
}

/// The screen now, ready for requests.
#[derive(Debug)]
pub struct Current {
    pub snapshot: Arc<Snapshot>,
    /// The dialogue of a screen file.
    pub context: Vec<Turn>,
    /// The app of the focused element (or the app with the most elements).
    pub app: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    live: u64,
    ocr: u64,
    pushed: u64,
    settings: u64,
}

#[derive(Debug)]
pub struct Screens {
    pub base: Base,
    pub pushed: Mutex<Pushed>,
    cache: tokio::sync::Mutex<Option<(Key, Arc<Current>)>>,
}

impl Screens {
    pub fn new(base: Base) -> Screens {
        Screens {
            base,
            pushed: Mutex::new(Pushed::default()),
            cache: tokio::sync::Mutex::new(None),
        }
    }

    pub fn pushed(&self) -> std::sync::MutexGuard<'_, Pushed> {
        self.pushed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The screen now, and whether it differs from the one before.
    pub async fn current(
        &self,
        settings: &Settings,
        settings_generation: u64,
    ) -> Result<(Arc<Current>, bool), Error> {
        let mut cache = self.cache.lock().await;
        let key = Key {
            live: match &self.base {
                Base::Live(live) => *live.changes().borrow(),
                Base::Fixed { .. } => 0,
            },
            ocr: match &self.base {
                Base::Live(live) => live.ocr_epoch(),
                Base::Fixed { .. } => 0,
            },
            pushed: self.pushed().generation(),
            settings: settings_generation,
        };
        if let Some((k, current)) = &*cache {
            if *k == key {
                return Ok((current.clone(), false));
            }
        }
        let (size, mut elements, base_id, context) = match &self.base {
            Base::Fixed {
                id,
                size,
                elements,
                context,
            } => (*size, elements.clone(), id.clone(), context.clone()),
            Base::Live(live) => {
                let snapshot = live.snapshot().await.map_err(|e| {
                    Error::NotReady(format!("the live screen is not available: {e}"))
                })?;
                (
                    snapshot.size,
                    snapshot.elements,
                    "live".to_owned(),
                    Vec::new(),
                )
            }
        };
        let (pushed, last_pushed_app) = {
            let p = self.pushed();
            (p.elements(), p.last_app().to_owned())
        };
        let pushed: Vec<Element> = pushed
            .into_iter()
            .filter(|e| !excluded(&settings.capture.exclude_apps, &e.app))
            .collect();
        let pushed_changed = cache.as_ref().is_some_and(|(k, _)| k.pushed != key.pushed);
        let id = if pushed.is_empty() && matches!(self.base, Base::Fixed { .. }) {
            base_id
        } else {
            elements.extend(pushed);
            format!("{base_id}-{:016x}", content_hash(&elements, settings))
        };
        if let Some((_, current)) = &*cache {
            if current.snapshot.id == id {
                let current = current.clone();
                *cache = Some((key, current.clone()));
                return Ok((current, false));
            }
        }
        let config = parse_config(&settings.parse, seed_from(&id));
        // The app that changed: the one that pushed, else the focused one.
        let app = if pushed_changed {
            last_pushed_app
        } else {
            main_app(&elements)
        };
        let prepared = tokio::task::spawn_blocking(move || prepare(size, elements, &config))
            .await
            .map_err(|_| Error::Internal("parsing the screen failed".into()))?;
        let current = Arc::new(Current {
            snapshot: Arc::new(Snapshot {
                id,
                prepared,
                config,
            }),
            context,
            app,
        });
        *cache = Some((key, current.clone()));
        Ok((current, true))
    }
}

/// Whether `app` is on the exclusion list (names compared without case).
fn excluded(list: &[String], app: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(app))
}

/// A hash of what the parse reads from the elements (and of the parse settings).
fn content_hash(elements: &[Element], settings: &Settings) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for e in elements {
        e.id.0.hash(&mut h);
        e.role_name.hash(&mut h);
        e.text.hash(&mut h);
        e.description.hash(&mut h);
        e.resource_id.hash(&mut h);
        e.app.hash(&mut h);
        e.window.hash(&mut h);
        if let Some(b) = e.bounds {
            [b.x1, b.y1, b.x2, b.y2].map(f64::to_bits).hash(&mut h);
        }
        for s in &e.states {
            s.name().hash(&mut h);
        }
    }
    format!("{:?}", settings.parse).hash(&mut h);
    h.finish()
}

/// The focused element's app, else the app with the most elements.
fn main_app(elements: &[Element]) -> String {
    if let Some(e) = elements.iter().find(|e| e.has(State::Focused)) {
        return e.app.clone();
    }
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in elements {
        *counts.entry(e.app.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(app, _)| app.to_owned())
        .unwrap_or_default()
}
