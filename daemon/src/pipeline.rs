//! Pipeline: one screen through stages 1-4 (elements, clusters, parse) with the settings
//! applied, ready for any resolver.

use deixis_parser::{
    parse, ClusterConfig, Diagnostic, Element, ParseConfig, Screen, ScreenParse, ScreenSize,
};

use crate::config::ParseSettings;

/// A screen after stages 1-3.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub screen: Screen,
    pub parse: ScreenParse,
    pub diagnostics: Vec<Diagnostic>,
}

/// The parser's configuration from the settings, with the prompt-number seed.
pub fn parse_config(settings: &ParseSettings, seed: u64) -> ParseConfig {
    ParseConfig {
        line_margin: settings.line_margin,
        max_elements: settings.max_elements,
        max_text_chars: settings.max_text_chars,
        seed,
        cluster: ClusterConfig {
            eps: settings.cluster_eps,
            min_points: settings.cluster_min_points,
        },
    }
}

/// Runs stages 1-3 on captured or read elements.
pub fn prepare(size: Option<ScreenSize>, elements: Vec<Element>, config: &ParseConfig) -> Prepared {
    let mut diagnostics = Vec::new();
    let screen = Screen::new(size, elements, &mut diagnostics);
    let (parse, more) = parse(&screen, config);
    diagnostics.extend(more);
    Prepared {
        screen,
        parse,
        diagnostics,
    }
}
