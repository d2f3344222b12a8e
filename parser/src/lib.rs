//! deixis-parser: the screen model and everything between captured elements and the prompt:
//! elements (stage 1), clusters (stage 2), the onscreen parse (stage 3) and the prompt
//! (stage 4), plus the reader of the screen file / eval case format.
//!
//! It does no I/O and never fails on a screen: `parse` returns `(ScreenParse, Vec<Diagnostic>)`.

pub mod cluster;
pub mod element;
pub mod entity;
pub mod parse;
pub mod prompt;

pub mod diagnostic;
pub mod format;

/// Element roles are accesskit's.
pub use accesskit::Role;
pub use cluster::{ClusterConfig, Clusters};
pub use diagnostic::Diagnostic;
pub use element::{Element, ElementId, Origin, Rect, Screen, ScreenSize, State};
pub use entity::EntityKind;
pub use format::{Case, FormatError, Scoring, Turn};
pub use parse::{parse, Candidate, ParseConfig, ScreenParse};
pub use prompt::Prompt;
