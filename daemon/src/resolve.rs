//! Resolution: which candidates a request means, pipeline stage 6. A resolver ranks every
//! candidate of a parsed screen with a score and marks the ones it selects; nothing selected
//! means "none of them".

use deixis_parser::format::Turn;
use deixis_parser::{ElementId, Screen, ScreenParse};

pub mod baseline;

/// What a resolver is asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub screen: &'a Screen,
    pub parse: &'a ScreenParse,
    pub context: &'a [Turn],
    pub query: &'a str,
}

/// One candidate's place in an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Prompt number of the candidate (`ScreenParse::candidate`).
    pub number: usize,
    pub score: f64,
    pub selected: bool,
}

/// Every candidate, best first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub ranked: Vec<Ranked>,
}

impl Answer {
    /// Element ids of the selected candidates, each once, in rank order.
    pub fn selected_elements(&self, screen: &Screen, parse: &ScreenParse) -> Vec<ElementId> {
        let mut ids = Vec::new();
        for r in self.ranked.iter().filter(|r| r.selected) {
            if let Some(c) = parse.candidate(r.number) {
                let id = screen.elements[c.element].id;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }
}

/// Anything that answers requests: the baseline, later the language model.
pub trait Resolver {
    /// Short name for reports ("baseline", "model").
    fn name(&self) -> &str;
    fn resolve(&self, request: &Request<'_>) -> Answer;
}
