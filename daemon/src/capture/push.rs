//! Pushed trees: apps built on AccessKit hand their tree to deixis with `PushTree` (a
//! `TreeUpdate` as JSON) instead of exposing it on the accessibility bus. Each tree belongs to
//! the sender's unique bus name and its `app_id`: a client can replace, update or clear only its
//! own trees, and its trees go when it leaves the bus.
//!
//! The first update of a tree must carry `tree` (AccessKit's `TreeInfo`); later ones may be
//! incremental, as AccessKit sends them. accesskit_consumer panics on an update that breaks
//! the tree's rules (a child that does not exist, a missing root); such an update is refused
//! and the tree it was applied to is dropped, since it may be half-updated: the app pushes a
//! full tree again. Bounds are read in the tree's root coordinates, taken as screen pixels.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use accesskit::TreeUpdate;
use accesskit_consumer::{NodeRef, Tree, TreeChangeHandler};
use deixis_parser::{Element, ElementId, Origin, Rect, State};

/// Element ids of pushed trees start here: `PUSHED_IDS | slot << 24 | n`.
pub const PUSHED_IDS: u64 = 1 << 60;
/// At most this many trees per sender, and in all.
pub const MAX_TREES_PER_SENDER: usize = 16;
pub const MAX_TREES: usize = 256;
/// At most this many elements from one tree.
pub const MAX_ELEMENTS: usize = (1 << 24) - 1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PushError {
    #[error("the tree update is not AccessKit TreeUpdate JSON: {0}")]
    Json(String),
    #[error(
        "the tree update breaks AccessKit's rules ({0}); the tree was cleared, push a full tree"
    )]
    Invalid(String),
    #[error("too many trees: {0}")]
    TooMany(String),
}

/// Every pushed tree.
#[derive(Default)]
pub struct Pushed {
    trees: HashMap<(String, String), PushedTree>,
    next_slot: u64,
    /// Changes so far; two equal generations mean the same pushed elements.
    generation: u64,
    /// The app whose tree changed last.
    last_app: String,
}

impl std::fmt::Debug for Pushed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushed")
            .field("trees", &self.trees.len())
            .field("generation", &self.generation)
            .finish()
    }
}

struct PushedTree {
    tree: Tree,
    slot: u64,
    elements: Vec<Element>,
}

struct Ignore;

impl TreeChangeHandler for Ignore {
    fn node_added(&mut self, _: &NodeRef) {}
    fn node_updated(&mut self, _: &NodeRef, _: &NodeRef) {}
    fn focus_moved(&mut self, _: Option<&NodeRef>, _: Option<&NodeRef>) {}
    fn node_removed(&mut self, _: &NodeRef) {}
}

impl Pushed {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The app whose tree changed last.
    pub fn last_app(&self) -> &str {
        &self.last_app
    }

    /// Applies `json` to `sender`'s tree for `app_id`; an empty (or whitespace) string clears it.
    pub fn push(&mut self, sender: &str, app_id: &str, json: &str) -> Result<(), PushError> {
        let key = (sender.to_owned(), app_id.to_owned());
        self.last_app = app_id.to_owned();
        if json.trim().is_empty() {
            if self.trees.remove(&key).is_some() {
                self.generation += 1;
            }
            return Ok(());
        }
        let update: TreeUpdate =
            serde_json::from_str(json).map_err(|e| PushError::Json(e.to_string()))?;
        match self.trees.get_mut(&key) {
            Some(pushed) => {
                let applied = catch_unwind(AssertUnwindSafe(|| {
                    pushed.tree.update_and_process_changes(update, &mut Ignore)
                }));
                self.generation += 1;
                if let Err(panic) = applied {
                    self.trees.remove(&key);
                    return Err(PushError::Invalid(crate::panic_message(&*panic)));
                }
                pushed.elements = elements(&pushed.tree, pushed.slot, app_id);
            }
            None => {
                let mine = self.trees.keys().filter(|(s, _)| s == sender).count();
                if mine >= MAX_TREES_PER_SENDER || self.trees.len() >= MAX_TREES {
                    return Err(PushError::TooMany(format!(
                        "at most {MAX_TREES_PER_SENDER} per client and {MAX_TREES} in all"
                    )));
                }
                if update.tree.is_none() {
                    return Err(PushError::Invalid(
                        "the first update of a tree must set \"tree\"".into(),
                    ));
                }
                let tree = catch_unwind(AssertUnwindSafe(|| Tree::new(update, true)))
                    .map_err(|panic| PushError::Invalid(crate::panic_message(&*panic)))?;
                let slot = self.next_slot;
                self.next_slot += 1;
                let elements = elements(&tree, slot, app_id);
                self.trees.insert(
                    key,
                    PushedTree {
                        tree,
                        slot,
                        elements,
                    },
                );
                self.generation += 1;
            }
        }
        Ok(())
    }

    /// Drops every tree of `sender` (it left the bus). Returns whether there were any.
    pub fn remove_sender(&mut self, sender: &str) -> bool {
        let before = self.trees.len();
        self.trees.retain(|(s, _), _| s != sender);
        let removed = self.trees.len() != before;
        if removed {
            self.generation += 1;
        }
        removed
    }

    /// The elements of every tree, trees in the order they were first pushed.
    pub fn elements(&self) -> Vec<Element> {
        let mut trees: Vec<&PushedTree> = self.trees.values().collect();
        trees.sort_by_key(|t| t.slot);
        trees
            .into_iter()
            .flat_map(|t| t.elements.iter().cloned())
            .collect()
    }
}

/// The tree's visible nodes with bounds as elements, in document order. Hidden subtrees are
/// left out; nodes without bounds are not drawn, so only their descendants are kept.
fn elements(tree: &Tree, slot: u64, app_id: &str) -> Vec<Element> {
    let root = tree.state().root();
    let window = root.label().unwrap_or_default();
    let mut out = Vec::new();
    let mut ids: HashMap<accesskit_consumer::FullNodeId, ElementId> = HashMap::new();
    let mut stack = vec![(root, None::<ElementId>)];
    while let Some((node, parent)) = stack.pop() {
        if node.is_hidden() || out.len() >= MAX_ELEMENTS {
            continue;
        }
        let mut parent_of_children = parent;
        if let Some(b) = node.bounding_box() {
            let id = ElementId(PUSHED_IDS | slot << 24 | out.len() as u64);
            ids.insert(node.id(), id);
            let mut e = Element::new(id.0, &role_name(node.role()));
            e.role = node.role();
            e.origin = Origin::Onscreen;
            e.bounds = Rect::new(b.x0, b.y0, b.x1, b.y1);
            let label = node.label().unwrap_or_default();
            if node.is_password_input() {
                // Never read: the label says what the field is for.
                e.states.push(State::Sensitive);
            } else if node.is_text_input() {
                e.text = node.value().unwrap_or_default();
                e.description = label;
            } else if label.is_empty() {
                e.text = node.value().unwrap_or_default();
            } else {
                e.text = label;
            }
            if let Some(d) = node.description() {
                if e.description.is_empty() {
                    e.description = d;
                }
            }
            if let Some(author) = node.data().author_id() {
                e.resource_id = author.to_owned();
            }
            if node.is_focused() {
                e.states.push(State::Focused);
            }
            if node.is_disabled() {
                e.states.push(State::Disabled);
            }
            if node.is_selected() == Some(true) {
                e.states.push(State::Selected);
            }
            e.app = app_id.to_owned();
            e.window.clone_from(&window);
            e.parent = parent;
            parent_of_children = Some(id);
            out.push(e);
        }
        let children: Vec<_> = node.children().collect();
        for child in children.into_iter().rev() {
            stack.push((child, parent_of_children));
        }
    }
    out
}

/// "TextInput" -> "text input": AccessKit's role in the words stand-ins use.
fn role_name(role: accesskit::Role) -> String {
    let debug = format!("{role:?}");
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use accesskit::{Node, NodeId, Role, TreeId, TreeInfo};

    /// A window with a search field, a password field and a button, as JSON.
    pub(crate) fn sample(button: &str) -> String {
        let mut window = Node::new(Role::Window);
        window.set_label("Login");
        window.set_bounds(accesskit::Rect::new(0.0, 0.0, 400.0, 300.0));
        window.set_children(vec![NodeId(2), NodeId(3), NodeId(4), NodeId(5)]);
        let mut search = Node::new(Role::TextInput);
        search.set_label("Search");
        search.set_value("weather in Lisbon");
        search.set_bounds(accesskit::Rect::new(10.0, 10.0, 390.0, 40.0));
        let mut password = Node::new(Role::PasswordInput);
        password.set_label("Password");
        password.set_value("hunter2");
        password.set_bounds(accesskit::Rect::new(10.0, 60.0, 390.0, 90.0));
        let mut ok = Node::new(Role::Button);
        ok.set_label(button);
        ok.set_bounds(accesskit::Rect::new(300.0, 250.0, 390.0, 290.0));
        let mut hidden = Node::new(Role::Button);
        hidden.set_label("Hidden");
        hidden.set_hidden();
        hidden.set_bounds(accesskit::Rect::new(0.0, 0.0, 10.0, 10.0));
        let update = TreeUpdate {
            nodes: vec![
                (NodeId(1), window),
                (NodeId(2), search),
                (NodeId(3), password),
                (NodeId(4), ok),
                (NodeId(5), hidden),
            ],
            tree: Some(TreeInfo::new(NodeId(1))),
            tree_id: TreeId::ROOT,
            focus: NodeId(2),
        };
        serde_json::to_string(&update).expect("json")
    }

    #[test]
    fn a_pushed_tree_becomes_elements_without_secrets() {
        let mut pushed = Pushed::default();
        pushed
            .push(":1.5", "org.example.Login", &sample("Sign in"))
            .expect("push");
        let elements = pushed.elements();
        let shown: Vec<(&str, &str, &str)> = elements
            .iter()
            .map(|e| {
                (
                    e.role_name.as_str(),
                    e.text.as_str(),
                    e.description.as_str(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("window", "Login", ""),
                ("text input", "weather in Lisbon", "Search"),
                ("password input", "", ""),
                ("button", "Sign in", ""),
            ]
        );
        assert!(elements[1].has(State::Focused));
        assert!(elements[2].is_sensitive());
        assert!(elements.iter().all(|e| e.app == "org.example.Login"));
        assert_eq!(elements[3].parent, Some(elements[0].id));
    }

    #[test]
    fn trees_belong_to_their_sender() {
        let mut pushed = Pushed::default();
        pushed.push(":1.5", "app", &sample("One")).expect("push");
        pushed.push(":1.6", "app", &sample("Two")).expect("push");
        // Clearing is per sender: :1.6 cannot clear :1.5's tree.
        pushed.push(":1.6", "app", "").expect("clear");
        let texts: Vec<String> = pushed.elements().into_iter().map(|e| e.text).collect();
        assert!(texts.contains(&"One".to_owned()));
        assert!(!texts.contains(&"Two".to_owned()));
        assert!(pushed.remove_sender(":1.5"));
        assert!(pushed.elements().is_empty());
    }

    #[test]
    fn an_incremental_update_changes_one_node() {
        let mut pushed = Pushed::default();
        pushed
            .push(":1.5", "app", &sample("Sign in"))
            .expect("push");
        let mut ok = Node::new(Role::Button);
        ok.set_label("Signing in…");
        ok.set_bounds(accesskit::Rect::new(300.0, 250.0, 390.0, 290.0));
        let update = TreeUpdate {
            nodes: vec![(NodeId(4), ok)],
            tree: None,
            tree_id: TreeId::ROOT,
            focus: NodeId(2),
        };
        let json = serde_json::to_string(&update).expect("json");
        pushed.push(":1.5", "app", &json).expect("update");
        assert!(pushed.elements().iter().any(|e| e.text == "Signing in…"));
    }

    #[test]
    fn bad_updates_are_errors_not_panics() {
        let mut pushed = Pushed::default();
        assert!(matches!(
            pushed.push(":1.5", "app", "{not json"),
            Err(PushError::Json(_))
        ));
        // No `tree` in a first update.
        let no_tree = r#"{"nodes": [], "tree": null, "tree_id": "00000000-0000-0000-0000-000000000000", "focus": 1}"#;
        let e = pushed.push(":1.5", "app", no_tree);
        assert!(
            matches!(e, Err(PushError::Invalid(_)) | Err(PushError::Json(_))),
            "{e:?}"
        );
        // A root that is not among the nodes.
        pushed
            .push(":1.5", "app", &sample("Sign in"))
            .expect("push");
        let mut window = Node::new(Role::Window);
        window.set_children(vec![NodeId(99)]);
        let broken = TreeUpdate {
            nodes: vec![(NodeId(1), window)],
            tree: None,
            tree_id: TreeId::ROOT,
            focus: NodeId(1),
        };
        let json = serde_json::to_string(&broken).expect("json");
        assert!(matches!(
            pushed.push(":1.5", "app", &json),
            Err(PushError::Invalid(_))
        ));
        assert!(pushed.elements().is_empty(), "the broken tree is dropped");
    }
}
