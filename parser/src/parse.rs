//! Onscreen parse: the screen as layout-keeping text with every candidate tagged in place as
//! `{{n. text}}` (ReALM Algorithm 2, pipeline stage 3), and the candidates behind the tags.
//!
//! Centres are sorted top to bottom, then (stably) left to right; an element joins the current
//! line when its centre is within `line_margin * screen height` of the line's first centre.
//! Items on a line are joined by TAB, lines by NEWLINE. An element whose text holds typed
//! entities (phone numbers, emails, ...) is shown with each entity tagged; otherwise the whole
//! element is one tag. Prompt numbers are shuffled with a seed so a model cannot learn
//! positions; elements without a box are numbered after the screen's.

use std::fmt::Write as _;
use std::ops::Range;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cluster::{cluster, containers, ClusterConfig, Clusters};
use crate::diagnostic::Diagnostic;
use crate::element::{Element, Screen};
use crate::entity::{detect, EntityKind};

/// Settings of the parse stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParseConfig {
    /// Two centres belong to one line when they differ by at most this fraction of the screen
    /// height.
    pub line_margin: f64,
    /// At most this many elements are parsed; the rest are left out with a diagnostic
    /// (elements with text are kept first).
    pub max_elements: usize,
    /// Longer element texts are shortened (with "…") and a diagnostic.
    pub max_text_chars: usize,
    /// Seed of the prompt-number shuffle (in the daemon: from the snapshot id).
    pub seed: u64,
    pub cluster: ClusterConfig,
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig {
            line_margin: 0.02,
            max_elements: 5000,
            max_text_chars: 300,
            seed: 0,
            cluster: ClusterConfig::default(),
        }
    }
}

/// One candidate of the prompt: an element, or a typed entity inside an element's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Prompt number, from 1 (0 means "none" and is no candidate).
    pub number: usize,
    /// Index into `Screen::elements`.
    pub element: usize,
    /// The typed entity and its byte span in the element's shown text, if this candidate is
    /// one entity of the element rather than the whole element.
    pub entity: Option<(EntityKind, Range<usize>)>,
}

/// The parse of one screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenParse {
    /// The onscreen parse text, tags included.
    pub text: String,
    /// Element indices per line, top to bottom, each line left to right.
    pub lines: Vec<Vec<usize>>,
    /// Candidates, `candidates[n - 1]` has prompt number `n`.
    pub candidates: Vec<Candidate>,
    /// Shown text per element (whitespace collapsed, shortened, or a stand-in such as
    /// `[icon: search]`); empty for elements left out.
    pub shown: Vec<String>,
    /// Elements without a box (conversation, background), in prompt-number order.
    pub boxless: Vec<usize>,
    pub clusters: Clusters,
}

impl ScreenParse {
    /// The candidate with prompt number `n`, if any.
    pub fn candidate(&self, n: usize) -> Option<&Candidate> {
        n.checked_sub(1).and_then(|i| self.candidates.get(i))
    }

    /// The text a candidate stands for: its entity's span, or its element's shown text.
    pub fn candidate_text(&self, c: &Candidate) -> &str {
        let shown = &self.shown[c.element];
        match &c.entity {
            Some((_, span)) => &shown[span.clone()],
            None => shown,
        }
    }
}

/// A stable 64-bit FNV-1a hash, for deriving shuffle seeds from ids. std's hashers may change
/// between releases, and a seed must give the same numbering forever.
pub fn seed_from(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Parses a screen. Never fails: what it drops or fixes is in the diagnostics.
pub fn parse(screen: &Screen, config: &ParseConfig) -> (ScreenParse, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let n = screen.elements.len();
    let included = select(screen, config.max_elements, &mut diagnostics);

    let mut shown = vec![String::new(); n];
    let mut entities: Vec<Vec<(EntityKind, Range<usize>)>> = vec![Vec::new(); n];
    for &i in &included {
        let e = &screen.elements[i];
        let (text, truncated) = clean(&e.text, config.max_text_chars);
        if truncated {
            diagnostics.push(Diagnostic::TextTruncated {
                element: e.id,
                chars: e.text.chars().count(),
            });
        }
        if text.is_empty() {
            shown[i] = stand_in(e, config.max_text_chars);
        } else {
            entities[i] = detect(&text)
                .into_iter()
                .map(|f| (f.kind, f.span))
                .collect();
            shown[i] = text;
        }
    }

    let (boxed, mut boxless): (Vec<usize>, Vec<usize>) = included
        .iter()
        .partition(|&&i| screen.elements[i].bounds.is_some());

    // Candidate slots: one per entity of an element with entities, else one per element.
    let slots = |elements: &[usize]| -> Vec<(usize, Option<usize>)> {
        elements
            .iter()
            .flat_map(|&i| {
                let k = entities[i].len();
                let whole = (k == 0).then_some((i, None));
                whole.into_iter().chain((0..k).map(move |j| (i, Some(j))))
            })
            .collect()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut onscreen = slots(&boxed);
    onscreen.shuffle(&mut rng);
    boxless.shuffle(&mut rng);
    let mut candidates = Vec::with_capacity(onscreen.len() + boxless.len());
    // number_of[i][j]: prompt number of element i's entity j (or of the element, j = 0).
    let mut number_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (slot, (i, j)) in onscreen
        .into_iter()
        .chain(boxless.iter().map(|&i| (i, None)))
        .enumerate()
    {
        let number = slot + 1;
        let entity = j.map(|j| entities[i][j].clone());
        let at = j.unwrap_or(0);
        if number_of[i].len() <= at {
            number_of[i].resize(at + 1, 0);
        }
        number_of[i][at] = number;
        candidates.push(Candidate {
            number,
            element: i,
            entity,
        });
    }

    let is_container = containers(screen, &boxed);
    let lines = lines(screen, &boxed, &is_container, config.line_margin);
    let mut text = String::new();
    for (l, line) in lines.iter().enumerate() {
        if l > 0 {
            text.push('\n');
        }
        for (k, &i) in line.iter().enumerate() {
            if k > 0 {
                text.push('\t');
            }
            tag(&mut text, &shown[i], &entities[i], &number_of[i]);
        }
    }
    let clusters = cluster(screen, &boxed, &is_container, &config.cluster);
    let parse = ScreenParse {
        text,
        lines,
        candidates,
        shown,
        boxless,
        clusters,
    };
    (parse, diagnostics)
}

/// Adds elements without a box (conversation and background entities) to a parsed screen
/// without parsing it again: the screen's text, lines, clusters and numbering stay as they are
/// (so a model's cached prefix stays valid), and the result equals parsing the whole screen
/// again when it is under the element cap. Sensitive text is dropped and repeated ids are left
/// out, as `Screen::new` does.
pub fn with_boxless(
    screen: &Screen,
    parse: &ScreenParse,
    extra: &[Element],
    config: &ParseConfig,
) -> (Screen, ScreenParse) {
    let mut screen = screen.clone();
    let mut parse = parse.clone();
    let mut ids: std::collections::HashSet<_> = screen.elements.iter().map(|e| e.id).collect();
    let mut boxless: Vec<usize> = parse.boxless.clone();
    boxless.sort_unstable();
    for e in extra {
        if !ids.insert(e.id) {
            continue;
        }
        let mut e = Element {
            bounds: None,
            ..e.clone()
        };
        if e.is_sensitive() {
            e.text.clear();
            e.description.clear();
        }
        let (text, _) = clean(&e.text, config.max_text_chars);
        let shown = if text.is_empty() {
            stand_in(&e, config.max_text_chars)
        } else {
            text
        };
        boxless.push(screen.elements.len());
        screen.elements.push(e);
        parse.shown.push(shown);
        parse.clusters.of.push(None);
    }
    // The same draws as `parse`: the onscreen shuffle first, then the boxless one.
    let onscreen = parse.candidates.len() - parse.boxless.len();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut skip: Vec<usize> = (0..onscreen).collect();
    skip.shuffle(&mut rng);
    boxless.shuffle(&mut rng);
    parse.candidates.truncate(onscreen);
    for (k, &i) in boxless.iter().enumerate() {
        parse.candidates.push(Candidate {
            number: onscreen + k + 1,
            element: i,
            entity: None,
        });
    }
    parse.boxless = boxless;
    (screen, parse)
}

/// Indices of the elements to parse: all, or when there are more than `max`, those with
/// something to show first, in screen order.
fn select(screen: &Screen, max: usize, diagnostics: &mut Vec<Diagnostic>) -> Vec<usize> {
    let n = screen.elements.len();
    let max = max.max(1);
    if n <= max {
        return (0..n).collect();
    }
    let has_text = |e: &Element| {
        !(e.text.trim().is_empty() && e.description.trim().is_empty() && e.resource_id.is_empty())
    };
    let (mut keep, rest): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&i| has_text(&screen.elements[i]));
    keep.truncate(max);
    let room = max - keep.len();
    keep.extend(rest.iter().take(room));
    keep.sort_unstable();
    let left_out_without_text = rest.len().saturating_sub(room);
    diagnostics.push(Diagnostic::ElementsCapped {
        total: n,
        kept: keep.len(),
        left_out_without_text,
    });
    keep
}

/// Groups boxed elements into lines (ReALM Algorithm 2). A container stands at its top-left
/// corner instead of its centre, so it opens the part of the screen it holds rather than
/// landing in the middle of it.
fn lines(screen: &Screen, boxed: &[usize], is_container: &[bool], margin: f64) -> Vec<Vec<usize>> {
    let mut order: Vec<(f64, f64, usize)> = boxed
        .iter()
        .zip(is_container)
        .map(|(&i, &container)| {
            let r = screen.elements[i].bounds.unwrap_or(crate::element::Rect {
                x1: 0.0,
                y1: 0.0,
                x2: 0.0,
                y2: 0.0,
            });
            let (x, y) = if container { (r.x1, r.y1) } else { r.center() };
            (y, x, i)
        })
        .collect();
    order.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    let margin = margin.max(0.0) * screen.size.height;
    let mut lines: Vec<Vec<(f64, usize)>> = Vec::new();
    let mut anchor = f64::NEG_INFINITY;
    for (y, x, i) in order {
        match lines.last_mut() {
            Some(line) if y - anchor <= margin => line.push((x, i)),
            _ => {
                anchor = y;
                lines.push(vec![(x, i)]);
            }
        }
    }
    lines
        .into_iter()
        .map(|mut line| {
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            line.into_iter().map(|(_, i)| i).collect()
        })
        .collect()
}

/// Appends an element's shown text with its candidates tagged.
fn tag(out: &mut String, shown: &str, entities: &[(EntityKind, Range<usize>)], numbers: &[usize]) {
    // Writing into a String cannot fail.
    if entities.is_empty() {
        let number = numbers.first().copied().unwrap_or(0);
        let _ = write!(out, "{{{{{number}. {shown}}}}}");
        return;
    }
    let mut at = 0;
    for ((_, span), number) in entities.iter().zip(numbers) {
        let (before, text) = (&shown[at..span.start], &shown[span.clone()]);
        let _ = write!(out, "{before}{{{{{number}. {text}}}}}");
        at = span.end;
    }
    out.push_str(&shown[at..]);
}

/// Collapses whitespace (TAB and NEWLINE are the parse's separators), drops control and
/// bidirectional-override characters, defuses braces, and shortens to `max` characters. Returns the text and whether it was shortened.
pub fn clean(text: &str, max: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut chars = 0;
    let mut truncated = false;
    // Control characters and bidirectional overrides (which can make text read differently
    // from what it holds) are dropped; other whitespace separates words.
    let visible: String = text
        .chars()
        .filter(|&c| {
            let hidden = c.is_control() && !c.is_whitespace();
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
            !hidden && !bidi
        })
        .collect();
    for word in visible.split_whitespace() {
        let extra = word.chars().count() + usize::from(chars > 0);
        if chars + extra > max {
            let room = max.saturating_sub(chars + usize::from(chars > 0) + 1);
            if room > 0 {
                if chars > 0 {
                    out.push(' ');
                }
                out.extend(word.chars().take(room));
            }
            out.push('…');
            truncated = true;
            break;
        }
        if chars > 0 {
            out.push(' ');
        }
        out.push_str(word);
        chars += extra;
    }
    // Braces in screen text would read like (or run into) the `{{n. text}}` tags: they are
    // shown as their fullwidth forms, which look the same to a reader.
    if out.contains(['{', '}']) {
        out = out.replace('{', "\u{ff5b}").replace('}', "\u{ff5d}");
    }
    (out, truncated)
}

/// A readable stand-in for an element with no text: `[icon: search]`, `[push button]`.
pub fn stand_in(e: &Element, max: usize) -> String {
    let role = if e.role_name.trim().is_empty() {
        "element".to_owned()
    } else {
        clean(&e.role_name, 40).0.to_lowercase()
    };
    let label = if !e.description.trim().is_empty() {
        clean(&e.description, max).0
    } else {
        clean(&humanize_id(&e.resource_id), max).0
    };
    if label.is_empty() {
        format!("[{role}]")
    } else {
        format!("[{role}: {label}]")
    }
}

/// Words of a resource id: `com.app:id/search_button` -> "search button",
/// `buttonShowInfoIMDB` -> "button show info imdb".
pub fn humanize_id(id: &str) -> String {
    let id = id.rsplit(['/', ':']).next().unwrap_or(id);
    let mut words = String::new();
    let mut prev: Option<char> = None;
    let chars: Vec<char> = id.chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == '.' || c.is_whitespace() {
            if !words.ends_with(' ') && !words.is_empty() {
                words.push(' ');
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let next_lower = chars.get(k + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next_lower)
                || (p.is_alphabetic() && c.is_ascii_digit())
                || (p.is_ascii_digit() && c.is_alphabetic());
            if boundary && !words.ends_with(' ') {
                words.push(' ');
            }
        }
        words.extend(c.to_lowercase());
        prev = Some(c);
    }
    words
        .split_whitespace()
        .map(|w| {
            ABBREVIATIONS
                .iter()
                .find(|(short, _)| *short == w)
                .map_or(w, |(_, long)| long)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Abbreviations common in resource ids (`btn_redo`, `ivAvatar`, `tvTitle`), spelled out so
/// that ids read like words to people and models.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("btn", "button"),
    ("img", "image"),
    ("iv", "image"),
    ("ic", "icon"),
    ("tv", "text"),
    ("txt", "text"),
    ("et", "edit"),
    ("cb", "check box"),
    ("fab", "floating button"),
    ("nav", "navigation"),
    ("prev", "previous"),
    ("msg", "message"),
    ("pic", "picture"),
    ("pwd", "password"),
    ("desc", "description"),
    ("num", "number"),
    ("tel", "phone"),
    ("addr", "address"),
    ("lbl", "label"),
    ("ll", "layout"),
    ("rv", "list"),
];

#[cfg(test)]
mod tests;
