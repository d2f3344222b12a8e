//! LiveScreen: the accessible tree kept current from events (focus, window activation, children,
//! state, text, bounds and name changes), so a snapshot is read from memory instead of walking
//! the bus again.
//!
//! An actor: one task owns the tree and the event stream; [`LiveScreen`] is its handle, talking
//! to it over a bounded channel with a reply channel per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use atspi::events::object::Property;
use atspi::events::{Event, FocusEvents, ObjectEvents, WindowEvents};
use atspi::{ObjectRefOwned, State as AtspiState};
use futures_util::future::join_all;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::tree::{self, Tree};
use super::{cut_diagnostics, Accessibility, CaptureConfig, CaptureError, Snapshot, WAYLAND};
use deixis_parser::ScreenSize;

/// Requests waiting for the actor: a handful of clients asking for snapshots at once is the
/// expected load; more wait for room.
const CAPACITY: usize = 16;

/// Events waiting for the actor. A burst beyond this (a big page loading) is not queued: the
/// actor walks everything again instead, which is cheaper than thousands of small mends.
const EVENT_CAPACITY: usize = 4096;

enum Command {
    Snapshot(oneshot::Sender<Snapshot>),
    Stop,
}

/// Handle to the live screen.
#[derive(Debug)]
pub struct LiveScreen {
    commands: mpsc::Sender<Command>,
    /// The generation after each change.
    changes: watch::Receiver<u64>,
    task: JoinHandle<Accessibility>,
    /// Moves events from the bus to the actor, always reading, so the connection never stalls.
    pump: JoinHandle<()>,
}

impl Accessibility {
    /// Listens to events, walks the screen once, and keeps the result current.
    pub async fn live(self, config: CaptureConfig) -> Result<LiveScreen, CaptureError> {
        // Listen before walking, so nothing that changes during the walk is missed.
        self.a11y
            .register_event::<ObjectEvents>()
            .await
            .map_err(CaptureError::Events)?;
        self.a11y
            .register_event::<WindowEvents>()
            .await
            .map_err(CaptureError::Events)?;
        self.a11y
            .register_event::<FocusEvents>()
            .await
            .map_err(CaptureError::Events)?;
        // zbus stops reading the connection when a message stream's queue is full, and the
        // walk's replies would wait behind unread events: a task drains the stream from the
        // start into a bounded channel, and a full channel means "walk again".
        let mut stream = Box::pin(self.a11y.event_stream());
        let (events, event_queue) = mpsc::channel(EVENT_CAPACITY);
        let overflow = Arc::new(AtomicBool::new(false));
        let flag = overflow.clone();
        let pump = tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                // A signal that does not parse as an event is someone else's.
                let Ok(event) = event else { continue };
                match events.try_send(event) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => flag.store(true, Ordering::Relaxed),
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
        });
        let (tree, cut, _) = match self.walk(&config).await {
            Ok(walked) => walked,
            Err(e) => {
                pump.abort();
                return Err(e);
            }
        };
        let initial = cut_diagnostics(cut, &config);
        let size = self.screen_size().await;
        let registry = zbus::fdo::DBusProxy::new(self.conn())
            .await?
            .get_name_owner(tree::REGISTRY.try_into().map_err(zbus::Error::from)?)
            .await
            .map(|n| n.to_string())
            .ok();
        let (commands, receiver) = mpsc::channel(CAPACITY);
        let (changed, changes) = watch::channel(0);
        let state = State {
            changed,
            tree,
            config,
            size,
            initial,
            registry,
            overflow,
            generation: 0,
        };
        let task = tokio::spawn(run(self, state, event_queue, receiver));
        Ok(LiveScreen {
            commands,
            changes,
            task,
            pump,
        })
    }
}

impl LiveScreen {
    /// What is on the screen now, from memory.
    pub async fn snapshot(&self) -> Result<Snapshot, CaptureError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Snapshot(reply))
            .await
            .map_err(|_| CaptureError::Stopped)?;
        answer.await.map_err(|_| CaptureError::Stopped)
    }

    /// Changes as they happen: the value is the generation a snapshot taken now would have.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Stops listening and restores what connecting changed.
    pub async fn stop(self) -> Result<(), CaptureError> {
        let _ = self.commands.send(Command::Stop).await;
        let accessibility = self.task.await.map_err(|_| CaptureError::Stopped)?;
        self.pump.abort();
        let _ = self.pump.await;
        accessibility.restore().await
    }
}

/// The actor's state.
struct State {
    tree: Tree,
    config: CaptureConfig,
    size: Option<ScreenSize>,
    /// What the first walk cut.
    initial: Vec<String>,
    /// The registry's unique name: its root's children are the apps.
    registry: Option<String>,
    /// Set when events were dropped: the tree must be walked again.
    overflow: Arc<AtomicBool>,
    /// Events applied so far.
    generation: u64,
    /// Tells watchers the generation after each change.
    changed: watch::Sender<u64>,
}

async fn run(
    bus: Accessibility,
    mut state: State,
    mut events: mpsc::Receiver<Event>,
    mut commands: mpsc::Receiver<Command>,
) -> Accessibility {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Snapshot(reply)) => {
                    if state.overflow.swap(false, Ordering::Relaxed) {
                        state.walk_again(&bus).await;
                    }
                    let _ = reply.send(state.snapshot(&bus).await);
                }
                Some(Command::Stop) | None => break,
            },
            event = events.recv() => match event {
                Some(event) => state.apply(&bus, event).await,
                None => break,
            },
        }
    }
    bus
}

impl State {
    async fn snapshot(&mut self, bus: &Accessibility) -> Snapshot {
        let start = Instant::now();
        let (windows, mut diagnostics) = self.tree.choose_windows(&self.config);
        let offsets = bus
            .window_offsets(&self.tree, &windows, &mut diagnostics)
            .await;
        let elements = self.tree.elements(&windows, &offsets);
        diagnostics.extend(self.initial.iter().cloned());
        if bus.coordinates == super::Coordinates::Window {
            diagnostics.push(WAYLAND.to_owned());
        }
        Snapshot {
            size: self.size,
            elements,
            coordinates: bus.coordinates,
            diagnostics,
            nodes: 0,
            took: start.elapsed(),
            generation: self.generation,
            ocr: super::ocr::OcrReport::default(),
        }
    }

    /// Throws the tree away and walks everything again (after dropped events).
    async fn walk_again(&mut self, bus: &Accessibility) {
        if let Ok((tree, _, _)) = bus.walk(&self.config).await {
            self.tree.replace(tree);
            self.generation += 1;
            self.changed.send_replace(self.generation);
        }
    }

    /// Mends the tree after one event.
    async fn apply(&mut self, bus: &Accessibility, event: Event) {
        self.generation += 1;
        self.changed.send_replace(self.generation);
        let config = self.config.clone();
        let reader = bus.reader(&config);
        match event {
            Event::Focus(FocusEvents::Focus(e)) => self.tree.focus = Some(e.item),
            Event::Window(WindowEvents::Activate(e)) => {
                self.tree.activated.retain(|w| *w != e.item);
                self.tree.activated.push(e.item);
            }
            Event::Object(ObjectEvents::StateChanged(e)) => {
                if e.state == AtspiState::Focused && e.enabled {
                    self.tree.focus = Some(e.item.clone());
                }
                let mut children = Vec::new();
                if let Some(node) = self.tree.nodes.get_mut(&e.item) {
                    if e.enabled {
                        node.states.insert(e.state);
                    } else {
                        node.states.remove(e.state);
                    }
                    children.clone_from(&node.children);
                }
                // A window that shows for the first time has not been walked.
                let walk = e.state == AtspiState::Showing
                    && e.enabled
                    && children.iter().any(|c| !self.tree.nodes.contains_key(c));
                if walk {
                    self.rewalk(&reader, &e.item).await;
                }
            }
            Event::Object(ObjectEvents::PropertyChange(e)) => {
                if let Some(node) = self.tree.nodes.get_mut(&e.item) {
                    match e.value {
                        Property::Name(name) => node.name = name,
                        Property::Description(d) => node.description = d,
                        Property::Role(role) => node.role = role,
                        _ => {}
                    }
                }
            }
            Event::Object(ObjectEvents::TextChanged(e)) => {
                if let Some((role, interfaces)) =
                    self.tree.nodes.get(&e.item).map(|n| (n.role, n.interfaces))
                {
                    let text = reader.text(&e.item, role, interfaces).await;
                    if let Some(node) = self.tree.nodes.get_mut(&e.item) {
                        node.text = text;
                    }
                }
            }
            Event::Object(ObjectEvents::BoundsChanged(e)) => {
                // Everything below moves with it.
                let mut objects = Vec::new();
                let mut stack = vec![e.item.clone()];
                while let Some(o) = stack.pop() {
                    if let Some(node) = self.tree.nodes.get(&o) {
                        stack.extend(node.children.iter().cloned());
                        objects.push((o, node.interfaces));
                    }
                }
                let extents = join_all(objects.iter().map(|(o, i)| reader.extents(o, *i))).await;
                for ((o, _), extents) in objects.into_iter().zip(extents) {
                    if let Some(node) = self.tree.nodes.get_mut(&o) {
                        node.extents = extents;
                    }
                }
            }
            Event::Object(ObjectEvents::ChildrenChanged(e)) => {
                let desktop = e.item.path_as_str() == tree::ROOT_PATH
                    && e.item
                        .name_as_str()
                        .is_some_and(|n| Some(n) == self.registry.as_deref());
                if desktop {
                    self.reload_apps(&reader).await;
                } else if self.tree.nodes.contains_key(&e.item) {
                    self.rechild(&reader, &e.item).await;
                } else if let Some(app) = self.tree.apps.iter_mut().find(|a| a.object == e.item) {
                    // An app root: its children are its windows.
                    if let Ok(p) = super::tree::accessible(reader.conn, &e.item).await {
                        if let Ok(windows) = p.get_children().await {
                            app.windows = windows;
                        }
                    }
                    let unknown: Vec<ObjectRefOwned> = self
                        .tree
                        .apps
                        .iter()
                        .flat_map(|a| a.windows.iter())
                        .filter(|w| !self.tree.nodes.contains_key(w))
                        .cloned()
                        .collect();
                    for w in unknown {
                        self.rewalk(&reader, &w).await;
                    }
                }
            }
            _ => {}
        }
    }

    /// Reads a node's children again: new ones are walked, gone ones dropped.
    async fn rechild(&mut self, reader: &tree::Reader<'_>, object: &ObjectRefOwned) {
        let Ok(p) = super::tree::accessible(reader.conn, object).await else {
            return;
        };
        let Ok(children) = p.get_children().await else {
            return;
        };
        let old = self
            .tree
            .nodes
            .get(object)
            .map(|n| n.children.clone())
            .unwrap_or_default();
        for gone in old.iter().filter(|c| !children.contains(c)) {
            self.tree.remove(gone);
        }
        let new: Vec<ObjectRefOwned> = children
            .iter()
            .filter(|c| !self.tree.nodes.contains_key(c))
            .cloned()
            .collect();
        if let Some(node) = self.tree.nodes.get_mut(object) {
            node.children = children;
        }
        let found = Mutex::new(HashMap::new());
        join_all(new.into_iter().map(|c| reader.walk(c, 1, &found))).await;
        self.tree
            .nodes
            .extend(found.into_inner().unwrap_or_else(|e| e.into_inner()));
    }

    /// Walks `object` and its subtree again.
    async fn rewalk(&mut self, reader: &tree::Reader<'_>, object: &ObjectRefOwned) {
        self.tree.remove(object);
        let found = Mutex::new(HashMap::new());
        reader.walk(object.clone(), 0, &found).await;
        self.tree
            .nodes
            .extend(found.into_inner().unwrap_or_else(|e| e.into_inner()));
    }

    async fn reload_apps(&mut self, reader: &tree::Reader<'_>) {
        let Ok(apps) = reader.apps().await else {
            return;
        };
        let known: Vec<ObjectRefOwned> = self.tree.apps.iter().map(|a| a.object.clone()).collect();
        let gone: Vec<ObjectRefOwned> = self
            .tree
            .apps
            .iter()
            .filter(|a| !apps.iter().any(|n| n.object == a.object))
            .flat_map(|a| a.windows.clone())
            .collect();
        for w in &gone {
            self.tree.remove(w);
        }
        let new_windows: Vec<ObjectRefOwned> = apps
            .iter()
            .filter(|a| !known.contains(&a.object))
            .flat_map(|a| a.windows.clone())
            .collect();
        self.tree.apps = apps;
        for w in new_windows {
            self.rewalk(reader, &w).await;
        }
    }
}
