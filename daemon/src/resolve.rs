//! Resolution: which candidates a request means, pipeline stage 6. A resolver ranks every
//! candidate of a parsed screen with a score and marks the ones it selects; nothing selected
//! means "none of them".

use deixis_parser::format::Turn;
use deixis_parser::{ElementId, Screen, ScreenParse};

pub mod baseline;
pub mod model;

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

/// One ranked candidate as an answer shows it: element id, origin, type, text, app, box.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: ElementId,
    pub kind: &'static str,
    /// The entity's type ("phone number") or the element's role ("push button").
    pub entity_type: String,
    pub text: String,
    pub app: String,
    /// x, y, width, height, rounded to pixels.
    pub bounds: Option<[i64; 4]>,
    pub score: f64,
    pub selected: bool,
}

impl Answer {
    /// The first `max` ranked candidates as rows.
    pub fn rows(&self, screen: &Screen, parse: &ScreenParse, max: usize) -> Vec<Row> {
        self.ranked
            .iter()
            .take(max)
            .filter_map(|r| {
                let c = parse.candidate(r.number)?;
                let e = &screen.elements[c.element];
                let entity_type = match (&c.entity, e.role_name.trim()) {
                    (Some((k, _)), _) => k.name(),
                    (None, "") => "element",
                    (None, role) => role,
                };
                Some(Row {
                    id: e.id,
                    kind: e.origin.name(),
                    entity_type: entity_type.to_owned(),
                    text: parse.candidate_text(c).to_owned(),
                    app: e.app.clone(),
                    bounds: e
                        .bounds
                        .map(|b| [b.x1, b.y1, b.width(), b.height()].map(|v| v.round() as i64)),
                    score: r.score,
                    selected: r.selected,
                })
            })
            .collect()
    }
}

/// Anything that answers requests: the baseline or a language model.
pub trait Resolver {
    /// Short name for reports ("baseline", the model directory's name).
    fn name(&self) -> &str;
    /// A new screen's prompt prefix (instruction and parse), before any request on it: a
    /// language model computes its state over it now so requests only add their own part.
    fn prepare(&self, _prefix: &str) {}
    fn resolve(&self, request: &Request<'_>) -> Answer;
}

/// The shipped model's directory name.
pub const BUILTIN_MODEL: &str = "deixis-small";

/// Where the shipped model is: `$XDG_DATA_HOME/deixis/models/deixis-small`,
/// `/usr/share/deixis/models/deixis-small` (packages), or the source tree this binary was
/// built from (`model/deixis-small`); the first that holds a `config.json`.
pub fn builtin_model_dir() -> Option<std::path::PathBuf> {
    let source_tree =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../model/{BUILTIN_MODEL}"));
    crate::config::data_dir()
        .map(|d| d.join("models").join(BUILTIN_MODEL))
        .into_iter()
        .chain([
            std::path::Path::new("/usr/share/deixis/models").join(BUILTIN_MODEL),
            source_tree,
        ])
        .find(|d| d.join("config.json").is_file())
}

/// The resolver `settings` choose. A model that cannot be loaded leaves the baseline in its
/// place, and the reason is returned with it (for the log or the terminal).
pub fn load(settings: &crate::config::Settings) -> (Box<dyn Resolver + Send>, Option<String>) {
    use crate::config::Resolver as Choice;
    if settings.model.resolver == Choice::Baseline {
        return (Box::new(baseline::Baseline), None);
    }
    let Some(dir) = settings.model.path.clone().or_else(builtin_model_dir) else {
        return (
            Box::new(baseline::Baseline),
            Some(format!(
                "no model: the built-in model ({BUILTIN_MODEL}) is not installed and model.path is not set; the baseline answers"
            )),
        );
    };
    // The resolver holds the whole model in memory (f32): it must fit model.dram_budget_mib.
    let budget = u64::from(settings.model.dram_budget_mib) * 1024 * 1024;
    if let Ok(header) = deixis_model::weights::read_header(&dir.join("weights.bin")) {
        let bytes = header.data_bytes * 4 / header.dtype.size() as u64;
        if bytes > budget {
            return (
                Box::new(baseline::Baseline),
                Some(format!(
                    "the model {} needs {} MiB in memory, more than model.dram_budget_mib ({} MiB); the baseline answers",
                    dir.display(),
                    bytes.div_ceil(1024 * 1024),
                    settings.model.dram_budget_mib
                )),
            );
        }
    }
    match model::ModelResolver::load(&dir, settings.parse.max_text_chars) {
        Ok(m) => (
            Box::new(m.with_default_lexical(settings.model.lexical_weight)),
            None,
        ),
        Err(e) => (
            Box::new(baseline::Baseline),
            Some(format!(
                "cannot load the model {}: {e}; the baseline answers",
                dir.display()
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model whose weights need more than `model.dram_budget_mib` is not loaded: the
    /// baseline answers and the reason names the setting.
    #[test]
    fn a_model_over_the_dram_budget_is_not_loaded() {
        let dir = tempfile::tempdir().expect("dir");
        let synth = deixis_model::flash::synth::Synth {
            vocab: 1024,
            width: 512,
            neurons: 2048,
            layers: 2,
            heads: 8,
            max_positions: 64,
            active: 0.1,
            shared: 0.5,
            dtype: deixis_model::weights::DType::F16,
            seed: 1,
        };
        synth.write(dir.path()).expect("write");
        let mut settings = crate::config::Settings::default();
        settings.model.resolver = crate::config::Resolver::Model;
        settings.model.path = Some(dir.path().to_path_buf());
        // 6.5M parameters: 13 MiB on disk in f16, 26 MiB in memory as f32.
        settings.model.dram_budget_mib = 16;
        let (resolver, why) = load(&settings);
        assert_eq!(resolver.name(), "baseline");
        let why = why.expect("a reason");
        assert!(why.contains("model.dram_budget_mib (16 MiB)"), "{why}");
        // With room, the budget lets it through (this generated model then fails the
        // resolver's own check: it names no end-of-sequence token).
        settings.model.dram_budget_mib = 64;
        let (_, why) = load(&settings);
        let why = why.expect("a reason");
        assert!(!why.contains("dram_budget"), "{why}");
        assert!(why.contains("end-of-sequence"), "{why}");
    }
}
