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
//! Privacy: the text of password fields is never requested; excluded apps are never walked; no
//! pixels are read here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atspi::proxy::accessible::AccessibleProxy;
use atspi::proxy::bus::{BusProxy, StatusProxy};
use atspi::proxy::component::ComponentProxy;
use atspi::proxy::text::TextProxy;
use atspi::{
    CoordType, Interface, InterfaceSet, ObjectRefOwned, Role as AtspiRole, State as AtspiState,
    StateSet,
};
use deixis_parser::{Element, Origin, Rect, ScreenSize, State};
use futures_util::future::{join_all, BoxFuture, FutureExt};
use zbus::proxy::CacheProperties;
use zbus::Connection;

/// What a snapshot reads and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// Every showing window instead of the focused one.
    pub all_windows: bool,
    /// App names never walked (case-insensitive).
    pub exclude_apps: Vec<String>,
    pub enable_accessibility: bool,
    pub screen_reader_hint: bool,
    /// Nodes deeper than this below a window are cut.
    pub max_depth: usize,
    /// At most this many nodes per snapshot.
    pub max_nodes: usize,
    /// A walk stops starting new nodes after this long.
    pub max_time: Duration,
    /// Text read from a node's Text interface is cut at this many characters.
    pub max_text_chars: usize,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            all_windows: false,
            exclude_apps: Vec::new(),
            enable_accessibility: true,
            screen_reader_hint: false,
            max_depth: 64,
            max_nodes: 10_000,
            max_time: Duration::from_secs(2),
            max_text_chars: 2_000,
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
        source: zbus::Error,
    },
    #[error("a call on the accessibility bus failed")]
    Bus(#[from] zbus::Error),
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
}

/// What was on the screen, as elements of the screen model.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub size: Option<ScreenSize>,
    pub elements: Vec<Element>,
    pub coordinates: Coordinates,
    /// What was cut, skipped or guessed, for the user (never screen text).
    pub diagnostics: Vec<String>,
    /// Nodes read (showing or not).
    pub nodes: usize,
    pub took: Duration,
}

/// A connection to the accessibility bus, with what it changed on the session bus.
#[derive(Debug)]
pub struct Accessibility {
    a11y: Connection,
    session: Option<Connection>,
    /// Status flags this connection turned on, to turn off again.
    turned_on: Vec<Flag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    IsEnabled,
    ScreenReaderEnabled,
}

impl Accessibility {
    pub async fn connect(config: &CaptureConfig) -> Result<Accessibility, CaptureError> {
        let session = Connection::session().await;
        let from_env = std::env::var("AT_SPI_BUS_ADDRESS")
            .ok()
            .filter(|a| !a.is_empty());
        let address = match (&from_env, &session) {
            (Some(a), _) => a.clone(),
            (None, Ok(s)) => BusProxy::new(s).await?.get_address().await?,
            (None, Err(e)) => return Err(CaptureError::NoSessionBus(e.clone())),
        };
        let a11y = async {
            zbus::connection::Builder::address(address.as_str())?
                .build()
                .await
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
        };
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
                // A bus without org.a11y.Status (the variable was set by hand) has nothing to
                // turn on.
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

    /// Reads the focused window (or every showing window) into a snapshot.
    pub async fn snapshot(&self, config: &CaptureConfig) -> Result<Snapshot, CaptureError> {
        let start = Instant::now();
        let walk = Walk {
            conn: &self.a11y,
            config,
            deadline: start + config.max_time,
            nodes: AtomicUsize::new(0),
            cut: Mutex::new(Cut::default()),
        };
        let mut diagnostics = Vec::new();
        let coordinates = if is_wayland() {
            diagnostics.push(
                "Wayland session: boxes are relative to each window (clients get no global \
                 positions)"
                    .to_owned(),
            );
            Coordinates::Window
        } else {
            Coordinates::Screen
        };

        let desktop = accessible(
            &self.a11y,
            "org.a11y.atspi.Registry",
            "/org/a11y/atspi/accessible/root",
        )
        .await?;
        let size = match component(
            &self.a11y,
            "org.a11y.atspi.Registry",
            "/org/a11y/atspi/accessible/root",
        )
        .await
        {
            Ok(c) => c.get_extents(CoordType::Screen).await.ok(),
            Err(_) => None,
        }
        .filter(|&(_, _, w, h)| w > 0 && h > 0)
        .map(|(_, _, w, h)| ScreenSize {
            width: f64::from(w),
            height: f64::from(h),
        });

        // Apps and their windows, read concurrently.
        let apps = desktop.get_children().await?;
        let apps = join_all(apps.into_iter().map(|app| walk.app(app))).await;
        let mut windows: Vec<Window> = Vec::new();
        let mut excluded = 0;
        for app in apps.into_iter().flatten() {
            if config
                .exclude_apps
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&app.name))
            {
                excluded += 1;
                continue;
            }
            windows.extend(app.windows);
        }
        if excluded > 0 {
            diagnostics.push(format!("{excluded} app(s) on the exclusion list not read"));
        }
        let showing: Vec<Window> = windows
            .into_iter()
            .filter(|w| w.states.contains(AtspiState::Showing))
            .collect();
        let chosen: Vec<Window> = if config.all_windows {
            showing
        } else {
            let active: Vec<&Window> = showing
                .iter()
                .filter(|w| w.states.contains(AtspiState::Active))
                .collect();
            match active.as_slice() {
                [one] => vec![(*one).clone()],
                _ => {
                    diagnostics.push(format!(
                        "no single active window ({} active); reading all {} showing windows",
                        active.len(),
                        showing.len()
                    ));
                    showing
                }
            }
        };

        let trees = join_all(chosen.iter().map(|w| walk.node(w.object.clone(), 0))).await;
        let mut elements = Vec::new();
        for (window, tree) in chosen.iter().zip(trees) {
            if let Some(tree) = tree {
                flatten(&tree, window, None, coordinates, &mut elements);
            }
        }
        let cut = walk.cut.into_inner().unwrap_or_else(|e| e.into_inner());
        if cut.depth > 0 {
            diagnostics.push(format!(
                "{} node(s) deeper than {} not read",
                cut.depth, config.max_depth
            ));
        }
        if cut.nodes > 0 {
            diagnostics.push(format!(
                "{} node(s) beyond the limit of {} not read",
                cut.nodes, config.max_nodes
            ));
        }
        if cut.time > 0 {
            diagnostics.push(format!(
                "{} node(s) not read: the walk took longer than {} ms",
                cut.time,
                config.max_time.as_millis()
            ));
        }
        if cut.failed > 0 {
            diagnostics.push(format!(
                "{} node(s) went away or did not answer",
                cut.failed
            ));
        }
        Ok(Snapshot {
            size,
            elements,
            coordinates,
            diagnostics,
            nodes: walk.nodes.load(Ordering::Relaxed),
            took: start.elapsed(),
        })
    }
}

/// Whether this is a Wayland session, where clients have no global coordinates.
fn is_wayland() -> bool {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("XDG_SESSION_TYPE").is_some_and(|t| t == "wayland")
        || (var("WAYLAND_DISPLAY").is_some() && var("DISPLAY").is_none())
}

async fn accessible<'a>(
    conn: &Connection,
    name: &'a str,
    path: &'a str,
) -> zbus::Result<AccessibleProxy<'a>> {
    AccessibleProxy::builder(conn)
        .destination(name)?
        .path(path)?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

async fn component<'a>(
    conn: &Connection,
    name: &'a str,
    path: &'a str,
) -> zbus::Result<ComponentProxy<'a>> {
    ComponentProxy::builder(conn)
        .destination(name)?
        .path(path)?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

async fn text<'a>(conn: &Connection, name: &'a str, path: &'a str) -> zbus::Result<TextProxy<'a>> {
    TextProxy::builder(conn)
        .destination(name)?
        .path(path)?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// Nodes left out, by reason.
#[derive(Debug, Default)]
struct Cut {
    depth: usize,
    nodes: usize,
    time: usize,
    failed: usize,
}

/// One walk's shared state.
struct Walk<'a> {
    conn: &'a Connection,
    config: &'a CaptureConfig,
    deadline: Instant,
    nodes: AtomicUsize,
    cut: Mutex<Cut>,
}

#[derive(Debug, Clone)]
struct App {
    name: String,
    windows: Vec<Window>,
}

#[derive(Debug, Clone)]
struct Window {
    object: ObjectRefOwned,
    title: String,
    app: String,
    states: StateSet,
}

/// One node as read, with its children.
#[derive(Debug)]
struct Node {
    role: AtspiRole,
    name: String,
    description: String,
    states: StateSet,
    extents: Option<(i32, i32, i32, i32)>,
    text: String,
    children: Vec<Node>,
}

impl Walk<'_> {
    fn count(&self, f: impl FnOnce(&mut Cut)) {
        f(&mut self.cut.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// An app's name and its windows' names and states.
    async fn app(&self, app: ObjectRefOwned) -> Option<App> {
        let (name, path) = (app.name_as_str()?, app.path_as_str());
        let proxy = accessible(self.conn, name, path).await.ok()?;
        let (app_name, children) = tokio::join!(proxy.name(), proxy.get_children());
        let app_name = app_name.unwrap_or_default();
        let windows = join_all(children.unwrap_or_default().into_iter().map(|w| {
            let app_name = app_name.clone();
            async move {
                let proxy = accessible(self.conn, w.name_as_str()?, w.path_as_str())
                    .await
                    .ok()?;
                let (title, states) = tokio::join!(proxy.name(), proxy.get_state());
                Some(Window {
                    object: w.clone(),
                    title: title.unwrap_or_default(),
                    app: app_name,
                    states: states.ok()?,
                })
            }
        }))
        .await;
        Some(App {
            name: app_name,
            windows: windows.into_iter().flatten().collect(),
        })
    }

    /// Reads a node and, concurrently, its children.
    fn node(&self, object: ObjectRefOwned, depth: usize) -> BoxFuture<'_, Option<Node>> {
        async move {
            if depth > self.config.max_depth {
                self.count(|c| c.depth += 1);
                return None;
            }
            if Instant::now() > self.deadline {
                self.count(|c| c.time += 1);
                return None;
            }
            if self.nodes.fetch_add(1, Ordering::Relaxed) >= self.config.max_nodes {
                self.count(|c| c.nodes += 1);
                return None;
            }
            let Some(name) = object.name_as_str() else {
                self.count(|c| c.failed += 1);
                return None;
            };
            let path = object.path_as_str();
            let read = async {
                let p = accessible(self.conn, name, path).await?;
                let (role, label, description, states, interfaces, children) = tokio::join!(
                    p.get_role(),
                    p.name(),
                    p.description(),
                    p.get_state(),
                    p.get_interfaces(),
                    p.get_children()
                );
                Ok::<_, zbus::Error>((
                    role?,
                    label?,
                    description.unwrap_or_default(),
                    states?,
                    interfaces.unwrap_or_default(),
                    children.unwrap_or_default(),
                ))
            };
            let (role, label, description, states, interfaces, children) = match read.await {
                Ok(read) => read,
                Err(_) => {
                    self.count(|c| c.failed += 1);
                    return None;
                }
            };
            let (extents, text) = tokio::join!(
                self.extents(name, path, interfaces),
                self.text(name, path, role, interfaces)
            );
            let children = join_all(children.into_iter().map(|c| self.node(c, depth + 1))).await;
            Some(Node {
                role,
                name: label,
                description,
                states,
                extents,
                text,
                children: children.into_iter().flatten().collect(),
            })
        }
        .boxed()
    }

    async fn extents(
        &self,
        name: &str,
        path: &str,
        interfaces: InterfaceSet,
    ) -> Option<(i32, i32, i32, i32)> {
        if !interfaces.contains(Interface::Component) {
            return None;
        }
        let kind = if is_wayland() {
            CoordType::Window
        } else {
            CoordType::Screen
        };
        component(self.conn, name, path)
            .await
            .ok()?
            .get_extents(kind)
            .await
            .ok()
    }

    /// The node's text, unless it is a password field (never requested) or has no Text.
    async fn text(
        &self,
        name: &str,
        path: &str,
        role: AtspiRole,
        interfaces: InterfaceSet,
    ) -> String {
        if role == AtspiRole::PasswordText || !interfaces.contains(Interface::Text) {
            return String::new();
        }
        let Ok(proxy) = text(self.conn, name, path).await else {
            return String::new();
        };
        let count = proxy.character_count().await.unwrap_or(0).max(0);
        let end = count.min(i32::try_from(self.config.max_text_chars).unwrap_or(i32::MAX));
        if end == 0 {
            return String::new();
        }
        proxy.get_text(0, end).await.unwrap_or_default()
    }
}

/// Appends the showing nodes of a tree, in tree order, as elements.
fn flatten(
    node: &Node,
    window: &Window,
    parent: Option<u64>,
    coordinates: Coordinates,
    out: &mut Vec<Element>,
) {
    let showing = node.states.contains(AtspiState::Showing);
    let bounds = node
        .extents
        .filter(|&(_, _, w, h)| w >= 0 && h >= 0)
        .and_then(|(x, y, w, h)| {
            Rect::new(
                f64::from(x),
                f64::from(y),
                f64::from(x) + f64::from(w),
                f64::from(y) + f64::from(h),
            )
        });
    let mut id = parent;
    if showing {
        if let Some(bounds) = bounds {
            let mut e = Element::new(out.len() as u64, node.role.name());
            e.bounds = Some(bounds);
            e.origin = Origin::Onscreen;
            e.text = if node.name.is_empty() {
                node.text.clone()
            } else {
                node.name.clone()
            };
            e.description = node.description.clone();
            e.app = window.app.clone();
            e.window = window.title.clone();
            e.parent = parent.map(deixis_parser::ElementId);
            e.states = states(node.states);
            if node.role == AtspiRole::PasswordText {
                e.states.push(State::Sensitive);
            }
            id = Some(e.id.0);
            out.push(e);
        }
    }
    let _ = coordinates;
    for child in &node.children {
        flatten(child, window, id, coordinates, out);
    }
}

fn states(set: StateSet) -> Vec<State> {
    let map = [
        (AtspiState::Focused, State::Focused),
        (AtspiState::Selected, State::Selected),
        (AtspiState::Checked, State::Checked),
        (AtspiState::Pressed, State::Pressed),
        (AtspiState::Expanded, State::Expanded),
        (AtspiState::Editable, State::Editable),
    ];
    map.into_iter()
        .filter(|(a, _)| set.contains(*a))
        .map(|(_, s)| s)
        .collect()
}
