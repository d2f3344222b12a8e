//! Tree: what capture knows of the accessible objects, in memory: every node read, by its
//! object reference, with its properties and children; the apps and their windows; the focus
//! and the window activations seen. Walks fill it, events mend it, snapshots read it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use atspi::proxy::accessible::AccessibleProxy;
use atspi::proxy::application::ApplicationProxy;
use atspi::proxy::component::ComponentProxy;
use atspi::proxy::text::TextProxy;
use atspi::{
    CoordType, Interface, InterfaceSet, ObjectRefOwned, Role as AtspiRole, State as AtspiState,
    StateSet,
};
use deixis_parser::{Element, ElementId, Origin, Rect, State};
use futures_util::future::{join_all, BoxFuture, FutureExt};
use zbus::proxy::CacheProperties;
use zbus::Connection;

use super::{CaptureConfig, Coordinates};

/// Where the registry's desktop object lives; its children are the apps.
pub(crate) const REGISTRY: &str = "org.a11y.atspi.Registry";
pub(crate) const ROOT_PATH: &str = "/org/a11y/atspi/accessible/root";

/// One accessible object as last read.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub role: AtspiRole,
    pub name: String,
    pub description: String,
    pub states: StateSet,
    pub interfaces: InterfaceSet,
    /// x, y, width, height in the snapshot's coordinates.
    pub extents: Option<(i32, i32, i32, i32)>,
    /// Text interface content (never read for password fields).
    pub text: String,
    pub children: Vec<ObjectRefOwned>,
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub object: ObjectRefOwned,
    pub name: String,
    pub windows: Vec<ObjectRefOwned>,
    pub pid: Option<u32>,
    /// Toolkit name and version ("GTK", "4.8.3").
    pub toolkit: (String, String),
}

impl App {
    /// GTK 4 reports window-relative boxes as screen coordinates, and leaves the `showing`
    /// state off everything below the window (checked with GTK 4.8).
    pub fn is_gtk4(&self) -> bool {
        self.toolkit.0.eq_ignore_ascii_case("gtk") && self.toolkit.1.starts_with("4.")
    }
}

/// Nodes left out of a walk, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub depth: usize,
    pub nodes: usize,
    pub time: usize,
    pub failed: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub nodes: HashMap<ObjectRefOwned, Node>,
    pub apps: Vec<App>,
    /// The object that last took the focus (from events).
    pub focus: Option<ObjectRefOwned>,
    /// Windows in the order they were activated, most recent last (from events).
    pub activated: Vec<ObjectRefOwned>,
    /// Stable element ids: an object keeps its id for the tree's life.
    ids: HashMap<ObjectRefOwned, u64>,
    next_id: u64,
}

/// Reads nodes from the bus within a walk's bounds.
pub(crate) struct Reader<'a> {
    pub conn: &'a Connection,
    pub config: &'a CaptureConfig,
    pub coordinates: Coordinates,
    pub deadline: Instant,
    pub read: AtomicUsize,
    pub cut: Mutex<Cut>,
}

async fn proxy<'p, P>(conn: &Connection, object: &'p ObjectRefOwned) -> zbus::Result<P>
where
    P: From<zbus::Proxy<'p>> + zbus::proxy::Defaults,
{
    let name = object
        .name_as_str()
        .ok_or_else(|| zbus::Error::Failure("null object reference".into()))?;
    zbus::proxy::Builder::<P>::new(conn)
        .destination(name.to_owned())?
        .path(object.path_as_str())?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// The Accessible interface of `object`.
pub(crate) async fn accessible<'p>(
    conn: &Connection,
    object: &'p ObjectRefOwned,
) -> zbus::Result<AccessibleProxy<'p>> {
    proxy(conn, object).await
}

impl Reader<'_> {
    fn count(&self, f: impl FnOnce(&mut Cut)) {
        f(&mut self.cut.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn cut(&self) -> Cut {
        *self.cut.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The apps on the registry and their windows.
    pub async fn apps(&self) -> zbus::Result<Vec<App>> {
        let desktop = ObjectRefOwned::from_static_str_unchecked(REGISTRY, ROOT_PATH);
        let root: AccessibleProxy<'_> = proxy(self.conn, &desktop).await?;
        let apps = root.get_children().await?;
        let dbus = zbus::fdo::DBusProxy::new(self.conn).await?;
        let apps = join_all(apps.into_iter().map(|object| {
            let dbus = &dbus;
            async move {
                let p: AccessibleProxy<'_> = proxy(self.conn, &object).await.ok()?;
                let a: ApplicationProxy<'_> = proxy(self.conn, &object).await.ok()?;
                let bus_name = object.name_as_str()?.to_owned();
                let pid = async {
                    let name = zbus::names::BusName::try_from(bus_name.as_str()).ok()?;
                    dbus.get_connection_unix_process_id(name).await.ok()
                };
                let (name, windows, toolkit, version, pid) = tokio::join!(
                    p.name(),
                    p.get_children(),
                    a.toolkit_name(),
                    a.version(),
                    pid
                );
                Some(App {
                    object: object.clone(),
                    name: name.unwrap_or_default(),
                    windows: windows.unwrap_or_default(),
                    pid,
                    toolkit: (toolkit.unwrap_or_default(), version.unwrap_or_default()),
                })
            }
        }))
        .await;
        Ok(apps.into_iter().flatten().collect())
    }

    /// One node's properties, box and children list: one batch of concurrent calls (the box
    /// is asked for before knowing whether the node has a Component: a failed call costs less
    /// than a second round trip). Text is a second batch, and only for nodes that have it and
    /// are not password fields.
    pub async fn node(&self, object: &ObjectRefOwned) -> zbus::Result<Node> {
        let p: AccessibleProxy<'_> = proxy(self.conn, object).await?;
        let kind = self.coord_type();
        let extents = async {
            let c: ComponentProxy<'_> = proxy(self.conn, object).await.ok()?;
            c.get_extents(kind).await.ok()
        };
        let (role, name, description, states, interfaces, children, extents) = tokio::join!(
            p.get_role(),
            p.name(),
            p.description(),
            p.get_state(),
            p.get_interfaces(),
            p.get_children(),
            extents
        );
        let (role, interfaces) = (role?, interfaces.unwrap_or_default());
        let text = self.text(object, role, interfaces).await;
        Ok(Node {
            role,
            name: name?,
            description: description.unwrap_or_default(),
            states: states?,
            interfaces,
            extents: extents.filter(|_| interfaces.contains(Interface::Component)),
            text,
            children: children.unwrap_or_default(),
        })
    }

    fn coord_type(&self) -> CoordType {
        match self.coordinates {
            Coordinates::Screen => CoordType::Screen,
            Coordinates::Window => CoordType::Window,
        }
    }

    pub async fn extents(
        &self,
        object: &ObjectRefOwned,
        interfaces: InterfaceSet,
    ) -> Option<(i32, i32, i32, i32)> {
        if !interfaces.contains(Interface::Component) {
            return None;
        }
        let p: ComponentProxy<'_> = proxy(self.conn, object).await.ok()?;
        p.get_extents(self.coord_type()).await.ok()
    }

    /// The node's text, unless it is a password field (never requested) or has no Text.
    pub async fn text(
        &self,
        object: &ObjectRefOwned,
        role: AtspiRole,
        interfaces: InterfaceSet,
    ) -> String {
        if role == AtspiRole::PasswordText || !interfaces.contains(Interface::Text) {
            return String::new();
        }
        let Ok(p) = proxy::<TextProxy<'_>>(self.conn, object).await else {
            return String::new();
        };
        let count = p.character_count().await.unwrap_or(0).max(0);
        let end = count.min(i32::try_from(self.config.max_text_chars).unwrap_or(i32::MAX));
        if end == 0 {
            return String::new();
        }
        p.get_text(0, end).await.unwrap_or_default()
    }

    /// Reads `object` and everything below it, siblings concurrently, into `into`.
    pub fn walk<'s>(
        &'s self,
        object: ObjectRefOwned,
        depth: usize,
        into: &'s Mutex<HashMap<ObjectRefOwned, Node>>,
    ) -> BoxFuture<'s, ()> {
        async move {
            if depth > self.config.max_depth {
                return self.count(|c| c.depth += 1);
            }
            if Instant::now() > self.deadline {
                return self.count(|c| c.time += 1);
            }
            if self.read.fetch_add(1, Ordering::Relaxed) >= self.config.max_nodes {
                return self.count(|c| c.nodes += 1);
            }
            let node = match self.node(&object).await {
                Ok(node) => node,
                Err(_) => return self.count(|c| c.failed += 1),
            };
            // A window that is not showing is kept (it may show later) but not walked.
            let children = if depth == 0 && !node.states.contains(AtspiState::Showing) {
                Vec::new()
            } else {
                node.children.clone()
            };
            into.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(object, node);
            join_all(children.into_iter().map(|c| self.walk(c, depth + 1, into))).await;
        }
        .boxed()
    }
}

impl Tree {
    /// Takes another tree's nodes and apps, keeping this tree's element ids, focus and
    /// activation history.
    pub fn replace(&mut self, other: Tree) {
        self.nodes = other.nodes;
        self.apps = other.apps;
    }

    /// Drops `object` and everything below it.
    pub fn remove(&mut self, object: &ObjectRefOwned) {
        let mut stack = vec![object.clone()];
        while let Some(o) = stack.pop() {
            if let Some(node) = self.nodes.remove(&o) {
                stack.extend(node.children);
            }
        }
    }

    fn id(&mut self, object: &ObjectRefOwned) -> u64 {
        if let Some(&id) = self.ids.get(object) {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(object.clone(), id);
        id
    }

    /// The windows a snapshot reads, and what it says about the choice.
    pub fn choose_windows(
        &self,
        config: &CaptureConfig,
    ) -> (Vec<(String, ObjectRefOwned)>, Vec<String>) {
        let mut diagnostics = Vec::new();
        let mut excluded = 0;
        let mut showing = Vec::new();
        for app in &self.apps {
            if config
                .exclude_apps
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&app.name))
            {
                excluded += 1;
                continue;
            }
            for w in &app.windows {
                let Some(node) = self.nodes.get(w) else {
                    continue;
                };
                let title = node.name.to_lowercase();
                if config
                    .exclude_windows
                    .iter()
                    .any(|x| !x.is_empty() && title.contains(&x.to_lowercase()))
                {
                    excluded += 1;
                    continue;
                }
                if node.states.contains(AtspiState::Showing) {
                    showing.push((app.name.clone(), w.clone()));
                }
            }
        }
        if excluded > 0 {
            diagnostics.push(format!(
                "{excluded} app(s) or window(s) on the exclusion lists not read"
            ));
        }
        if config.all_windows {
            return (showing, diagnostics);
        }
        // The window holding the focused object; else the most recently activated one.
        let focused = self
            .focus
            .as_ref()
            .and_then(|f| self.window_of(f, &showing))
            .or_else(|| {
                let holding: Vec<usize> = (0..showing.len())
                    .filter(|&k| self.holds_focus(&showing[k].1))
                    .collect();
                match holding.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                }
            });
        let chosen = focused.or_else(|| {
            self.activated
                .iter()
                .rev()
                .find_map(|a| showing.iter().position(|(_, w)| w == a))
                .or_else(|| {
                    let active: Vec<usize> = (0..showing.len())
                        .filter(|&k| {
                            self.nodes
                                .get(&showing[k].1)
                                .is_some_and(|n| n.states.contains(AtspiState::Active))
                        })
                        .collect();
                    match active.as_slice() {
                        [one] => Some(*one),
                        _ => None,
                    }
                })
        });
        match chosen {
            Some(k) => (vec![showing.swap_remove(k)], diagnostics),
            None => {
                diagnostics.push(format!(
                    "no focused or active window; reading all {} showing windows",
                    showing.len()
                ));
                (showing, diagnostics)
            }
        }
    }

    /// Index in `windows` of the window whose subtree holds `object`.
    fn window_of(
        &self,
        object: &ObjectRefOwned,
        windows: &[(String, ObjectRefOwned)],
    ) -> Option<usize> {
        windows.iter().position(|(_, w)| self.contains(w, object))
    }

    fn contains(&self, root: &ObjectRefOwned, object: &ObjectRefOwned) -> bool {
        let mut stack = vec![root];
        while let Some(o) = stack.pop() {
            if o == object {
                return true;
            }
            if let Some(node) = self.nodes.get(o) {
                stack.extend(node.children.iter());
            }
        }
        false
    }

    fn holds_focus(&self, root: &ObjectRefOwned) -> bool {
        let mut stack = vec![root];
        while let Some(o) = stack.pop() {
            let Some(node) = self.nodes.get(o) else {
                continue;
            };
            if o != root && node.states.contains(AtspiState::Focused) {
                return true;
            }
            stack.extend(node.children.iter());
        }
        false
    }

    /// The app a window belongs to.
    pub fn app_of(&self, window: &ObjectRefOwned) -> Option<&App> {
        self.apps.iter().find(|a| a.windows.contains(window))
    }

    /// The showing nodes of the chosen windows, in tree order, as elements; `offsets` moves
    /// a window's boxes (window-relative toolkits).
    pub fn elements(
        &mut self,
        windows: &[(String, ObjectRefOwned)],
        offsets: &HashMap<ObjectRefOwned, (i32, i32)>,
    ) -> Vec<Element> {
        let mut out = Vec::new();
        for (app, window) in windows {
            let title = self
                .nodes
                .get(window)
                .map(|n| n.name.clone())
                .unwrap_or_default();
            let gtk4 = self.app_of(window).is_some_and(App::is_gtk4);
            let offset = offsets.get(window).copied().unwrap_or((0, 0));
            let mut stack = vec![(window.clone(), None)];
            while let Some((object, parent)) = stack.pop() {
                let Some(node) = self.nodes.get(&object) else {
                    continue;
                };
                let mut node = node.clone();
                if gtk4 && node.states.contains(AtspiState::Visible) {
                    node.states.insert(AtspiState::Showing);
                }
                node.extents = node
                    .extents
                    .map(|(x, y, w, h)| (x + offset.0, y + offset.1, w, h));
                let mut id = parent;
                if let Some(e) = self.element(&object, &node, app, &title, parent) {
                    id = Some(e.id);
                    out.push(e);
                }
                stack.extend(node.children.iter().rev().map(|c| (c.clone(), id)));
            }
        }
        out
    }

    fn element(
        &mut self,
        object: &ObjectRefOwned,
        node: &Node,
        app: &str,
        window: &str,
        parent: Option<ElementId>,
    ) -> Option<Element> {
        if !node.states.contains(AtspiState::Showing) {
            return None;
        }
        let (x, y, w, h) = node.extents.filter(|&(_, _, w, h)| w >= 0 && h >= 0)?;
        let (x, y, w, h) = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
        let mut e = Element::new(self.id(object), node.role.name());
        e.bounds = Rect::new(x, y, x + w, y + h);
        e.origin = Origin::Onscreen;
        e.text = if node.name.is_empty() {
            node.text.clone()
        } else {
            node.name.clone()
        };
        e.description = node.description.clone();
        e.app = app.to_owned();
        e.window = window.to_owned();
        e.parent = parent;
        e.states = states(node.states);
        if node.role == AtspiRole::PasswordText {
            e.states.push(State::Sensitive);
        }
        Some(e)
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
