//! Element: one thing on the screen (or in the conversation) with its role, text and box; a
//! `Screen` is the list of them after the privacy filter, pipeline stage 1.

use std::fmt;

use accesskit::Role;

use crate::diagnostic::Diagnostic;

/// An element's id: the screen file's `id`, or the daemon's id for a captured object.
/// Unrelated to prompt numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementId(pub u64);

impl fmt::Display for ElementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Coordinates are clamped to this magnitude so that sums and products stay finite.
pub const MAX_COORD: f64 = 1e7;

/// An axis-aligned box in screen pixels; always finite with `x1 <= x2` and `y1 <= y2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

impl Rect {
    /// A normalized box from two corners in any order; `None` if a coordinate is not finite.
    pub fn new(x1: f64, y1: f64, x2: f64, y2: f64) -> Option<Rect> {
        if ![x1, y1, x2, y2].iter().all(|v| v.is_finite()) {
            return None;
        }
        let c = |v: f64| v.clamp(-MAX_COORD, MAX_COORD);
        let (x1, x2) = (c(x1.min(x2)), c(x1.max(x2)));
        let (y1, y2) = (c(y1.min(y2)), c(y1.max(y2)));
        Some(Rect { x1, y1, x2, y2 })
    }

    pub fn width(&self) -> f64 {
        self.x2 - self.x1
    }

    pub fn height(&self) -> f64 {
        self.y2 - self.y1
    }

    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }

    pub fn center(&self) -> (f64, f64) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    pub fn contains_point(&self, (x, y): (f64, f64)) -> bool {
        self.x1 <= x && x <= self.x2 && self.y1 <= y && y <= self.y2
    }

    /// Horizontal and vertical gaps between two boxes (0 where they overlap on that axis).
    pub fn gaps(&self, other: &Rect) -> (f64, f64) {
        let dx = (self.x1.max(other.x1) - self.x2.min(other.x2)).max(0.0);
        let dy = (self.y1.max(other.y1) - self.y2.min(other.y2)).max(0.0);
        (dx, dy)
    }

    /// Euclidean length of the gap between two boxes: 0 when they touch or overlap.
    pub fn gap(&self, other: &Rect) -> f64 {
        let (dx, dy) = self.gaps(other);
        dx.hypot(dy)
    }
}

/// Where a candidate comes from: the screen, the conversation, or background activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Onscreen,
    Conversational,
    Background,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Onscreen => "onscreen",
            Origin::Conversational => "conversational",
            Origin::Background => "background",
        }
    }
}

/// Element states that matter to resolution and privacy (a subset of AT-SPI's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Focused,
    Selected,
    Checked,
    Pressed,
    Expanded,
    Editable,
    Disabled,
    /// Input that must never be read (AT-SPI has no such state; toolkits mark password
    /// entries with role `password text`, web pages with `type=password`).
    Sensitive,
}

impl State {
    /// The state's name in the screen file format (AT-SPI's where it has one).
    pub fn name(self) -> &'static str {
        match self {
            State::Focused => "focused",
            State::Selected => "selected",
            State::Checked => "checked",
            State::Pressed => "pressed",
            State::Expanded => "expanded",
            State::Editable => "editable",
            State::Disabled => "disabled",
            State::Sensitive => "sensitive input",
        }
    }

    /// Reads an AT-SPI state name; `None` for states deixis does not use.
    pub fn from_name(name: &str) -> Option<State> {
        Some(
            match name
                .trim()
                .to_ascii_lowercase()
                .replace(['_', '-'], " ")
                .as_str()
            {
                "focused" => State::Focused,
                "selected" => State::Selected,
                "checked" => State::Checked,
                "pressed" => State::Pressed,
                "expanded" => State::Expanded,
                "editable" => State::Editable,
                "disabled" | "insensitive" => State::Disabled,
                "sensitive input" | "password" | "protected" => State::Sensitive,
                _ => return None,
            },
        )
    }
}

/// One element of the screen model.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub id: ElementId,
    pub role: Role,
    /// The role as the source named it ("push button", "book"): shown in stand-ins and entity
    /// lists, where it says more than the mapped `role`.
    pub role_name: String,
    pub text: String,
    pub description: String,
    /// Android resource id or toolkit author id (`searchButton`, `com.app:id/crop`).
    pub resource_id: String,
    /// Toolkit class (`GtkButton`, `TEXT_VIEW`).
    pub class: String,
    /// `None` for entities that are not on the screen (conversation, background).
    pub bounds: Option<Rect>,
    pub states: Vec<State>,
    pub app: String,
    pub window: String,
    pub parent: Option<ElementId>,
    pub origin: Origin,
    /// Named fields of an entity without a box ("number": "555-0100"), shown in the prompt's
    /// entity list.
    pub fields: Vec<(String, String)>,
}

impl Element {
    /// A bare element: the starting point for builders in tests, capture and readers.
    pub fn new(id: u64, role_name: &str) -> Element {
        Element {
            id: ElementId(id),
            role: role_from_name(role_name),
            role_name: role_name.to_owned(),
            text: String::new(),
            description: String::new(),
            resource_id: String::new(),
            class: String::new(),
            bounds: None,
            states: Vec::new(),
            app: String::new(),
            window: String::new(),
            parent: None,
            origin: Origin::Conversational,
            fields: Vec::new(),
        }
    }

    /// Whether this element holds secret input whose text must never be read.
    pub fn is_sensitive(&self) -> bool {
        self.role == Role::PasswordInput || self.states.contains(&State::Sensitive)
    }

    pub fn has(&self, state: State) -> bool {
        self.states.contains(&state)
    }
}

/// The screen's size in the elements' coordinate space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenSize {
    pub width: f64,
    pub height: f64,
}

/// The screen model: elements after the privacy filter, plus the screen's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Screen {
    pub size: ScreenSize,
    pub elements: Vec<Element>,
}

impl Screen {
    /// Builds the screen model, pipeline stage 1: drops the text of sensitive elements (they
    /// stay as referable "[password text]" elements), leaves out elements whose id was already
    /// used, and fills in a missing or unusable screen size from the elements' extent.
    pub fn new(
        size: Option<ScreenSize>,
        mut elements: Vec<Element>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Screen {
        let mut seen = std::collections::HashSet::with_capacity(elements.len());
        elements.retain(|e| {
            let first = seen.insert(e.id);
            if !first {
                diagnostics.push(Diagnostic::DuplicateId { element: e.id });
            }
            first
        });
        let mut redacted = 0;
        for e in &mut elements {
            if e.is_sensitive() && !(e.text.is_empty() && e.description.is_empty()) {
                e.text.clear();
                e.description.clear();
                redacted += 1;
            }
        }
        if redacted > 0 {
            diagnostics.push(Diagnostic::SensitiveRedacted { count: redacted });
        }
        let usable = |s: &ScreenSize| {
            s.width.is_finite() && s.height.is_finite() && s.width >= 1.0 && s.height >= 1.0
        };
        let size = match size.filter(usable) {
            Some(s) => ScreenSize {
                width: s.width.min(MAX_COORD),
                height: s.height.min(MAX_COORD),
            },
            None => {
                let (w, h) = elements
                    .iter()
                    .filter_map(|e| e.bounds)
                    .fold((0.0f64, 0.0f64), |(w, h), r| (w.max(r.x2), h.max(r.y2)));
                ScreenSize {
                    width: w.max(1.0),
                    height: h.max(1.0),
                }
            }
        };
        Screen { size, elements }
    }
}

/// Maps an AT-SPI role name (or Android class-like name) onto `accesskit::Role`.
/// Names deixis does not know become `Role::Unknown`; the original name is kept beside it.
pub fn role_from_name(name: &str) -> Role {
    let n = name.trim().to_ascii_lowercase().replace(['_', '-'], " ");
    match n.as_str() {
        "push button" | "button" | "image button" => Role::Button,
        "toggle button" | "switch" => Role::Switch,
        "check box" | "checkbox" | "check menu item" => Role::CheckBox,
        "radio button" | "radio menu item" => Role::RadioButton,
        "label" | "static" | "static text" | "text view" | "caption" => Role::Label,
        "text" | "entry" | "edit text" => Role::TextInput,
        "password text" => Role::PasswordInput,
        "link" => Role::Link,
        "icon" | "image" | "pictogram" | "image view" => Role::Image,
        "heading" => Role::Heading,
        "paragraph" => Role::Paragraph,
        "panel" | "filler" | "view" | "section" | "layered pane" | "viewport" => {
            Role::GenericContainer
        }
        "frame" | "window" => Role::Window,
        "dialog" | "file chooser" | "color chooser" => Role::Dialog,
        "alert" => Role::Alert,
        "tool bar" | "toolbar" => Role::Toolbar,
        "menu bar" => Role::MenuBar,
        "menu" => Role::Menu,
        "menu item" => Role::MenuItem,
        "list" => Role::List,
        "list box" => Role::ListBox,
        "list item" => Role::ListItem,
        "table" => Role::Table,
        "table cell" | "cell" => Role::Cell,
        "table row" => Role::Row,
        "column header" | "table column header" => Role::ColumnHeader,
        "row header" | "table row header" => Role::RowHeader,
        "tree" => Role::Tree,
        "tree table" => Role::TreeGrid,
        "tree item" => Role::TreeItem,
        "combo box" | "spinner" => Role::ComboBox,
        "slider" | "seek bar" => Role::Slider,
        "spin button" => Role::SpinButton,
        "progress bar" | "level bar" => Role::ProgressIndicator,
        "scroll bar" => Role::ScrollBar,
        "scroll pane" | "scroll view" => Role::ScrollView,
        "separator" => Role::Splitter,
        "page tab" | "tab" => Role::Tab,
        "page tab list" | "tab list" => Role::TabList,
        "status bar" | "statusbar" => Role::Status,
        "tool tip" | "tooltip" => Role::Tooltip,
        "document web" | "document frame" | "document text" | "html container" => Role::Document,
        "canvas" | "drawing area" => Role::Canvas,
        "header" => Role::Header,
        "footer" => Role::Footer,
        "form" => Role::Form,
        "grouping" | "group" => Role::Group,
        "application" => Role::Application,
        "title bar" => Role::TitleBar,
        "video" => Role::Video,
        "audio" => Role::Audio,
        "notification" => Role::Alert,
        _ => Role::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_normalizes_and_rejects_non_finite() {
        let r = Rect::new(10.0, 20.0, 0.0, 5.0).expect("finite");
        assert_eq!((r.x1, r.y1, r.x2, r.y2), (0.0, 5.0, 10.0, 20.0));
        assert!(Rect::new(f64::NAN, 0.0, 1.0, 1.0).is_none());
        assert!(Rect::new(0.0, 0.0, f64::INFINITY, 1.0).is_none());
        let huge = Rect::new(-1e300, 0.0, 1e300, 1.0).expect("finite");
        assert_eq!(huge.width(), 2.0 * MAX_COORD);
    }

    #[test]
    fn gap_is_zero_for_overlap_and_euclidean_between_corners() {
        let a = Rect::new(0.0, 0.0, 10.0, 10.0).expect("box");
        let b = Rect::new(5.0, 5.0, 20.0, 20.0).expect("box");
        let c = Rect::new(13.0, 14.0, 20.0, 20.0).expect("box");
        assert_eq!(a.gap(&b), 0.0);
        assert_eq!(a.gap(&c), 5.0);
        assert_eq!(c.gap(&a), 5.0);
    }

    #[test]
    fn sensitive_text_is_dropped_at_stage_one() {
        let mut pw = Element::new(1, "password text");
        pw.text = "hunter2".into();
        let mut web = Element::new(2, "entry");
        web.text = "secret".into();
        web.states.push(State::Sensitive);
        let mut diags = Vec::new();
        let screen = Screen::new(None, vec![pw, web], &mut diags);
        assert!(screen.elements.iter().all(|e| e.text.is_empty()));
        assert_eq!(diags, vec![Diagnostic::SensitiveRedacted { count: 2 }]);
    }

    #[test]
    fn roles_map_onto_accesskit() {
        assert_eq!(role_from_name("push button"), Role::Button);
        assert_eq!(role_from_name("Push_Button"), Role::Button);
        assert_eq!(role_from_name("password text"), Role::PasswordInput);
        assert_eq!(role_from_name("book"), Role::Unknown);
    }
}
