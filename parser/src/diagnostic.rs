//! Diagnostic: something the parser dropped, capped or fixed on its way, said to the caller
//! instead of failing (the parser never fails on a screen).

use std::fmt;

use crate::element::ElementId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnostic {
    /// Sensitive elements (password fields) whose text was dropped before anything else saw it.
    SensitiveRedacted { count: usize },
    /// More elements than `ParseConfig::max_elements`: the rest were left out of the parse.
    ElementsCapped {
        total: usize,
        kept: usize,
        /// Of those left out, how many had no text, description or resource id.
        left_out_without_text: usize,
    },
    /// An element's text was longer than `ParseConfig::max_text_chars` and was shortened.
    TextTruncated { element: ElementId, chars: usize },
    /// A later element reused an earlier element's id and was left out.
    DuplicateId { element: ElementId },
    /// An element's box had a coordinate that was not a finite number; it was treated as
    /// having no box.
    InvalidBounds { element: ElementId },
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::SensitiveRedacted { count } => {
                write!(
                    f,
                    "text of {count} sensitive element(s) (password fields) not read"
                )
            }
            Diagnostic::ElementsCapped {
                total,
                kept,
                left_out_without_text,
            } => write!(
                f,
                "screen has {total} elements; kept {kept}, left out {} ({left_out_without_text} \
                 of them without text); raise parse.max_elements to keep more",
                total - kept
            ),
            Diagnostic::TextTruncated { element, chars } => {
                write!(f, "element {element}: text of {chars} characters shortened")
            }
            Diagnostic::DuplicateId { element } => {
                write!(
                    f,
                    "element id {element} used twice; the later element was left out"
                )
            }
            Diagnostic::InvalidBounds { element } => {
                write!(
                    f,
                    "element {element}: box is not finite; treated as having no box"
                )
            }
        }
    }
}
