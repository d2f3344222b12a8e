//! Capture: the screen read from the accessibility bus (AT-SPI2), pipeline stage 0. The only
//! module that imports atspi.
//!
//! [`Accessibility::connect`] finds the bus (`AT_SPI_BUS_ADDRESS`, else `org.a11y.Bus.GetAddress`
//! on the session bus), turns `org.a11y.Status.IsEnabled` on (so Chromium, Electron and Qt build
//! their trees) and `ScreenReaderEnabled` only when asked; [`Accessibility::restore`] puts back
//! what was there. [`Accessibility::snapshot`] walks the windows, each node's properties fetched
//! in one batch of concurrent calls and siblings walked concurrently, within bounds on depth,
//! nodes and time; what was cut is said in the snapshot's diagnostics.
//!
//! [`Accessibility::live`] keeps a [`live::LiveScreen`]: the same tree kept current from events,
//! so "what is on screen now" is answered from memory.
//!
//! `org.a11y.atspi.Cache.GetItems` is not used: it misses the children of manages-descendants
//! containers, keeps stale objects and returns nothing for Qt5; the concurrent walk is exact.
//!
//! Privacy: the text of password fields is never requested; excluded apps and windows are never
//! walked; no pixels are read here (`ocr` reads them, in memory, for windows without a tree).

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atspi::proxy::bus::{BusProxy, StatusProxy};
use atspi::AccessibilityConnection;
use deixis_parser::{Element, ScreenSize};
use futures_util::future::join_all;
use zbus::Connection;

pub mod live;
pub mod ocr;
pub mod push;
mod tree;
mod x11;

use tree::{Reader, Tree};

/// What a snapshot reads and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// Every showing window instead of the focused one.
    pub all_windows: bool,
    /// App names never walked (case-insensitive).
    pub exclude_apps: Vec<String>,
    /// Windows whose title contains one of these (case-insensitive) are never walked.
    pub exclude_windows: Vec<String>,
    pub enable_accessibility: bool,
    pub screen_reader_hint: bool,
    /// Nodes deeper than this below a window are cut.
    pub max_depth: usize,
    /// At most this many nodes per walk.
    pub max_nodes: usize,
    /// A walk stops starting new nodes after this long.
    pub max_time: Duration,
    /// Text read from a node's Text interface is cut at this many characters.
    pub max_text_chars: usize,
    /// When windows are read from their pixels (`ocr`).
    pub ocr: crate::config::OcrMode,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            all_windows: false,
            exclude_apps: Vec::new(),
            exclude_windows: Vec::new(),
            enable_accessibility: true,
            screen_reader_hint: false,
            max_depth: 64,
            max_nodes: 10_000,
            max_time: Duration::from_secs(2),
            max_text_chars: 2_000,
            ocr: crate::config::OcrMode::Auto,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no session bus to find the accessibility bus on (is DBUS_SESSION_BUS_ADDRESS set?)")]
    NoSessionBus(#[source] zbus::Error),
    #[error("cannot reach the accessibility bus at {address}")]
    NoA11yBus {
        address: String,
        #[source]
        source: atspi::AtspiError,
    },
    #[error("a call on the accessibility bus failed")]
    Bus(#[from] zbus::Error),
    #[error("cannot listen to accessibility events")]
    Events(#[source] atspi::AtspiError),
    #[error("the live screen has stopped")]
    Stopped,
}

/// How a snapshot's boxes are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coordinates {
    /// Global screen pixels (X11).
    Screen,
    /// Relative to each element's window: a Wayland session gives clients no global positions.
    Window,
}

impl Coordinates {
    pub fn name(self) -> &'static str {
        match self {
            Coordinates::Screen => "screen",
            Coordinates::Window => "window",
        }
    }

    /// Window-relative on a Wayland session, screen coordinates otherwise.
    pub fn of_session() -> Coordinates {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let wayland = var("XDG_SESSION_TYPE").is_some_and(|t| t == "wayland")
            || (var("WAYLAND_DISPLAY").is_some() && var("DISPLAY").is_none());
        if wayland {
            Coordinates::Window
        } else {
            Coordinates::Screen
        }
    }
}

/// What was on the screen, as elements of the screen model.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub size: Option<ScreenSize>,
    pub elements: Vec<Element>,
    pub coordinates: Coordinates,
    /// What was cut, skipped or guessed, for the user (never screen text).
    pub diagnostics: Vec<String>,
    /// Nodes read (showing or not) to make it.
    pub nodes: usize,
    pub took: Duration,
    /// Changes seen since the live screen started (0 for a one-shot snapshot): two snapshots
    /// with the same generation show the same screen (as the accessibility bus sees it).
    pub generation: u64,
    /// What OCR added (`ocr::Ocr::read`); empty when it did not run.
    pub ocr: ocr::OcrReport,
}

/// The whole screen's pixels from the X server of `DISPLAY`, in memory (for a picture the
/// user asked for; capture itself stores none).
pub fn screenshot() -> Result<image::RgbImage, String> {
    let x11 = x11::X11::connect().ok_or("no X server (is DISPLAY set?)")?;
    let (w, h) = x11.screen_size();
    x11.screenshot((0, 0, u32::from(w), u32::from(h)))
}

impl Snapshot {
    /// A snapshot with no elements: the accessibility bus could not be read, for `reason`
    /// (OCR may still add text).
    pub fn without_accessibility(reason: String) -> Snapshot {
        Snapshot {
            size: None,
            elements: Vec::new(),
            coordinates: Coordinates::of_session(),
            diagnostics: vec![reason],
            nodes: 0,
            took: Duration::ZERO,
            generation: 0,
            ocr: ocr::OcrReport::default(),
        }
    }
}

/// A live screen shared by request handlers, stopped once.
#[derive(Debug)]
pub struct LiveScreenHandle {
    live: tokio::sync::Mutex<Option<live::LiveScreen>>,
    changes: tokio::sync::watch::Receiver<u64>,
    /// OCR for windows without a tree (or why there is none); `None` with `ocr = "never"`.
    ocr: Option<std::sync::Arc<Result<ocr::Ocr, ocr::OcrError>>>,
    config: CaptureConfig,
    /// Whether the last snapshot read a window by OCR: such windows send no events, so the
    /// screen is looked at again every `OCR_RECHECK` while there are any.
    ocr_read: std::sync::atomic::AtomicBool,
    started: Instant,
}

/// How often windows read by OCR are looked at again (their pixels compared; tesseract runs
/// only where they changed) when the screen is asked for.
pub const OCR_RECHECK: Duration = Duration::from_secs(2);

impl LiveScreenHandle {
    pub fn new(
        live: live::LiveScreen,
        ocr: Option<Result<ocr::Ocr, ocr::OcrError>>,
        config: CaptureConfig,
    ) -> LiveScreenHandle {
        LiveScreenHandle {
            changes: live.changes(),
            live: tokio::sync::Mutex::new(Some(live)),
            ocr: ocr.map(std::sync::Arc::new),
            config,
            ocr_read: std::sync::atomic::AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// The generation a snapshot taken now would have, changing as the screen does.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Changes every `OCR_RECHECK` while windows are read by OCR, else 0: with `changes`, when
    /// a screen taken before may be out of date.
    pub fn ocr_epoch(&self) -> u64 {
        if self.ocr_read.load(std::sync::atomic::Ordering::Relaxed) {
            1 + self.started.elapsed().as_secs() / OCR_RECHECK.as_secs().max(1)
        } else {
            0
        }
    }

    pub async fn snapshot(&self) -> Result<Snapshot, CaptureError> {
        let mut snapshot = match &*self.live.lock().await {
            Some(live) => live.snapshot().await?,
            None => return Err(CaptureError::Stopped),
        };
        if let Some(ocr) = &self.ocr {
            let (ocr, config) = (ocr.clone(), self.config.clone());
            snapshot = tokio::task::spawn_blocking(move || {
                ocr::add_to(&mut snapshot, ocr.as_ref().as_ref(), &config);
                snapshot
            })
            .await
            .map_err(|_| CaptureError::Stopped)?;
            let read = snapshot.ocr.windows.iter().any(|w| w.read);
            self.ocr_read
                .store(read, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(snapshot)
    }

    /// Stops listening and restores the accessibility settings; later snapshots fail.
    pub async fn stop(&self) {
        if let Some(live) = self.live.lock().await.take() {
            if let Err(e) = live.stop().await {
                tracing::warn!(error = %e, "stopping the live screen");
            }
        }
    }
}

/// Where the buses are; `None` means "find it the usual way".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusAddresses {
    /// The session bus (default: `DBUS_SESSION_BUS_ADDRESS`).
    pub session: Option<String>,
    /// The accessibility bus (default: `AT_SPI_BUS_ADDRESS`, else asked of the session bus).
    pub a11y: Option<String>,
}

impl BusAddresses {
    /// From `AT_SPI_BUS_ADDRESS` and the session bus of this process.
    pub fn from_env() -> BusAddresses {
        BusAddresses {
            session: None,
            a11y: std::env::var("AT_SPI_BUS_ADDRESS")
                .ok()
                .filter(|a| !a.is_empty()),
        }
    }
}

/// A connection to the accessibility bus, with what it changed on the session bus.
#[derive(Debug)]
pub struct Accessibility {
    a11y: AccessibilityConnection,
    session: Option<Connection>,
    /// Status flags this connection turned on, to turn off again.
    turned_on: Vec<Flag>,
    coordinates: Coordinates,
    /// The X server, for the positions of windows whose toolkit reports window-relative boxes.
    x11: Option<std::sync::Arc<x11::X11>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    IsEnabled,
    ScreenReaderEnabled,
}

impl Accessibility {
    pub async fn connect(config: &CaptureConfig) -> Result<Accessibility, CaptureError> {
        Self::connect_to(&BusAddresses::from_env(), config).await
    }

    pub async fn connect_to(
        addresses: &BusAddresses,
        config: &CaptureConfig,
    ) -> Result<Accessibility, CaptureError> {
        let session = match &addresses.session {
            Some(a) => {
                async {
                    zbus::connection::Builder::address(a.as_str())?
                        .build()
                        .await
                }
                .await
            }
            None => Connection::session().await,
        };
        let address = match (&addresses.a11y, &session) {
            (Some(a), _) => a.clone(),
            (None, Ok(s)) => BusProxy::new(s).await?.get_address().await?,
            (None, Err(e)) => return Err(CaptureError::NoSessionBus(e.clone())),
        };
        let a11y = async {
            let parsed = address.parse().map_err(atspi::AtspiError::from)?;
            AccessibilityConnection::from_address(parsed).await
        }
        .await
        .map_err(|source| CaptureError::NoA11yBus {
            address: address.clone(),
            source,
        })?;
        let mut this = Accessibility {
            a11y,
            session: session.ok(),
            turned_on: Vec::new(),
            coordinates: Coordinates::of_session(),
            x11: None,
        };
        if this.coordinates == Coordinates::Screen {
            this.x11 = tokio::task::spawn_blocking(x11::X11::connect)
                .await
                .ok()
                .flatten()
                .map(std::sync::Arc::new);
        }
        if let Some(session) = &this.session {
            let status = StatusProxy::new(session).await?;
            let wanted = [
                (Flag::IsEnabled, config.enable_accessibility),
                (Flag::ScreenReaderEnabled, config.screen_reader_hint),
            ];
            for (flag, wanted) in wanted {
                if !wanted {
                    continue;
                }
                let on = match flag {
                    Flag::IsEnabled => status.is_enabled().await,
                    Flag::ScreenReaderEnabled => status.screen_reader_enabled().await,
                };
                // A session bus without org.a11y.Status (an accessibility bus given by hand)
                // has nothing to turn on.
                if let Ok(false) = on {
                    match flag {
                        Flag::IsEnabled => status.set_is_enabled(true).await?,
                        Flag::ScreenReaderEnabled => status.set_screen_reader_enabled(true).await?,
                    }
                    this.turned_on.push(flag);
                }
            }
        }
        Ok(this)
    }

    /// Turns off what `connect` turned on.
    pub async fn restore(self) -> Result<(), CaptureError> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let status = StatusProxy::new(session).await?;
        for flag in &self.turned_on {
            match flag {
                Flag::IsEnabled => status.set_is_enabled(false).await?,
                Flag::ScreenReaderEnabled => status.set_screen_reader_enabled(false).await?,
            }
        }
        Ok(())
    }

    fn conn(&self) -> &Connection {
        self.a11y.connection()
    }

    /// Reads the focused window (or every showing window) into a snapshot, walking the bus.
    pub async fn snapshot(&self, config: &CaptureConfig) -> Result<Snapshot, CaptureError> {
        let start = Instant::now();
        let (mut tree, reader_cut, nodes) = self.walk(config).await?;
        let size = self.screen_size().await;
        let (windows, mut diagnostics) = tree.choose_windows(config);
        let offsets = self.window_offsets(&tree, &windows, &mut diagnostics).await;
        let elements = tree.elements(&windows, &offsets);
        diagnostics.extend(cut_diagnostics(reader_cut, config));
        if self.coordinates == Coordinates::Window {
            diagnostics.push(WAYLAND.to_owned());
        }
        Ok(Snapshot {
            size,
            elements,
            coordinates: self.coordinates,
            diagnostics,
            nodes,
            took: start.elapsed(),
            generation: 0,
            ocr: ocr::OcrReport::default(),
        })
    }

    /// Screen positions of the chosen windows whose toolkit reports window-relative boxes.
    async fn window_offsets(
        &self,
        tree: &Tree,
        windows: &[(String, atspi::ObjectRefOwned)],
        diagnostics: &mut Vec<String>,
    ) -> HashMap<atspi::ObjectRefOwned, (i32, i32)> {
        let wanted: Vec<(atspi::ObjectRefOwned, u32, String)> = windows
            .iter()
            .filter_map(|(_, w)| {
                let app = tree.app_of(w).filter(|a| a.is_gtk4())?;
                let title = tree.nodes.get(w)?.name.clone();
                Some((w.clone(), app.pid?, title))
            })
            .collect();
        if wanted.is_empty() || self.coordinates != Coordinates::Screen {
            return HashMap::new();
        }
        let Some(x11) = self.x11.clone() else {
            diagnostics.push(format!(
                "{} GTK 4 window(s): no X server to place them; their boxes are window-relative",
                wanted.len()
            ));
            return HashMap::new();
        };
        let found = tokio::task::spawn_blocking(move || {
            wanted
                .into_iter()
                .filter_map(|(w, pid, title)| Some((w, x11.window_origin(pid, &title)?)))
                .collect::<HashMap<_, _>>()
        })
        .await
        .unwrap_or_default();
        found
    }

    /// Walks every app's windows into a new tree.
    async fn walk(&self, config: &CaptureConfig) -> Result<(Tree, tree::Cut, usize), CaptureError> {
        let reader = self.reader(config);
        let mut tree = Tree::default();
        tree.apps = reader.apps().await?;
        let excluded = |name: &str| {
            config
                .exclude_apps
                .iter()
                .any(|x| x.eq_ignore_ascii_case(name))
        };
        let nodes = Mutex::new(HashMap::new());
        let windows = tree
            .apps
            .iter()
            .filter(|a| !excluded(&a.name))
            .flat_map(|a| a.windows.iter().cloned());
        join_all(windows.map(|w| reader.walk(w, 0, &nodes))).await;
        tree.nodes = nodes.into_inner().unwrap_or_else(|e| e.into_inner());
        let read = tree.nodes.len();
        Ok((tree, reader.cut(), read))
    }

    fn reader<'a>(&'a self, config: &'a CaptureConfig) -> Reader<'a> {
        Reader {
            conn: self.conn(),
            config,
            coordinates: self.coordinates,
            deadline: Instant::now() + config.max_time,
            read: AtomicUsize::new(0),
            cut: Mutex::new(tree::Cut::default()),
        }
    }

    /// The desktop's size, from the registry's root object.
    async fn screen_size(&self) -> Option<ScreenSize> {
        let desktop =
            atspi::ObjectRefOwned::from_static_str_unchecked(tree::REGISTRY, tree::ROOT_PATH);
        let (_, _, w, h) = self
            .reader(&CaptureConfig::default())
            .extents(
                &desktop,
                atspi::InterfaceSet::new(atspi::Interface::Component),
            )
            .await
            .filter(|&(_, _, w, h)| w > 0 && h > 0)?;
        Some(ScreenSize {
            width: f64::from(w),
            height: f64::from(h),
        })
    }
}

const WAYLAND: &str =
    "Wayland session: boxes are relative to each window (clients get no global positions)";

fn cut_diagnostics(cut: tree::Cut, config: &CaptureConfig) -> Vec<String> {
    let mut out = Vec::new();
    if cut.depth > 0 {
        out.push(format!(
            "{} node(s) deeper than {} not read",
            cut.depth, config.max_depth
        ));
    }
    if cut.nodes > 0 {
        out.push(format!(
            "{} node(s) beyond the limit of {} not read",
            cut.nodes, config.max_nodes
        ));
    }
    if cut.time > 0 {
        out.push(format!(
            "{} node(s) not read: the walk took longer than {} ms",
            cut.time,
            config.max_time.as_millis()
        ));
    }
    if cut.failed > 0 {
        out.push(format!(
            "{} node(s) went away or did not answer",
            cut.failed
        ));
    }
    out
}
