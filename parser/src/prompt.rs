//! Prompt: the text a language model reads, pipeline stage 4 (ReALM's wording): instruction,
//! the onscreen parse, the entities without a box, the dialogue, and the request.
//!
//! The screen comes first so that one screen's prefix (`Prompt::prefix_len`) is computed once
//! and reused by every request on that screen.

use crate::element::Screen;
use crate::format::Turn;
use crate::parse::{clean, ScreenParse};

/// The instruction that opens every prompt.
pub const INSTRUCTION: &str = "Select which among the following entities, if any, are required to understand the user\nrequest below. Output 0 if none of the entities are relevant.\n";

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    /// Bytes of `text` that depend only on the screen (instruction and parse).
    pub prefix_len: usize,
}

/// Renders the prompt for `query` on a parsed screen. Entity descriptions are shortened to
/// `max_text_chars` characters, as element texts are in the parse.
pub fn render(
    screen: &Screen,
    parse: &ScreenParse,
    context: &[Turn],
    query: &str,
    max_text_chars: usize,
) -> Prompt {
    let mut text = String::with_capacity(INSTRUCTION.len() + parse.text.len() + 256);
    text.push_str(INSTRUCTION);
    text.push_str("Screen:\n");
    text.push_str(&parse.text);
    text.push('\n');
    let prefix_len = text.len();

    text.push_str(&entities(screen, parse, max_text_chars));
    if !context.is_empty() {
        text.push_str("Dialogue:\n");
        for turn in context {
            let speaker = clean(&turn.speaker, 40).0;
            let said = clean(&turn.text, max_text_chars).0;
            text.push_str(&format!("{speaker}: {said}\n"));
        }
    }
    text.push_str(&format!(
        "User request: {}\n",
        clean(query, max_text_chars).0
    ));
    text.push_str("Relevant entity:");
    Prompt { text, prefix_len }
}

/// One candidate's entry in a rendered prompt: its prompt number and its bytes
/// (`text[start..end]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub number: usize,
    pub start: usize,
    pub end: usize,
}

/// The candidates' entries in a rendered prompt, in the order they appear. A tagged candidate
/// is its `{{n. text}}`; an entity of the `Entities:` block (0, "None", included) is its line,
/// newline included.
///
/// A pointer-headed model reads a candidate at the token holding its entry's last byte: by
/// then it has read the whole entry. The parse defuses braces in screen text and every entity
/// line is one line (`clean` collapses whitespace), so scanning the text finds exactly the
/// entries `render` wrote. Everything after the last entry is dialogue and request.
pub fn entries(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    // The last such block is the real one: screen text comes before it, and after it only
    // entity lines, dialogue lines ("speaker: text") and the request.
    let screen_end = text
        .rfind("\nEntities:\n0. None\n")
        .map_or(text.len(), |i| i + 1);
    let mut at = 0;
    while let Some(open) = text[at..screen_end].find("{{") {
        let start = at + open + 2;
        let digits = text[start..].bytes().take_while(u8::is_ascii_digit).count();
        let Some(close) = text[start..screen_end].find("}}") else {
            break;
        };
        if let Ok(number) = text[start..start + digits].parse::<usize>() {
            entries.push(Entry {
                number,
                start: start - 2,
                end: start + close + 2,
            });
        }
        at = start + close + 2;
    }
    if screen_end < text.len() {
        let mut at = screen_end + "Entities:\n".len();
        while let Some(line) = text
            .get(at..)
            .and_then(|rest| rest.split_inclusive('\n').next())
        {
            let digits = line.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || !line[digits..].starts_with(". ") || !line.ends_with('\n') {
                break;
            }
            if let Ok(number) = line[..digits].parse::<usize>() {
                entries.push(Entry {
                    number,
                    start: at,
                    end: at + line.len(),
                });
            }
            at += line.len();
        }
    }
    entries
}

/// The `Entities:` block: "0. None", then each element without a box with its prompt number.
pub fn entities(screen: &Screen, parse: &ScreenParse, max_text_chars: usize) -> String {
    let mut text = String::from("Entities:\n0. None\n");
    let first = parse.candidates.len() - parse.boxless.len() + 1;
    for (k, &i) in parse.boxless.iter().enumerate() {
        let e = &screen.elements[i];
        let kind = clean(&e.role_name, 40).0;
        let kind = if kind.is_empty() {
            "entity".to_owned()
        } else {
            kind
        };
        text.push_str(&format!("{}. Type: {kind}", first + k));
        let name = &parse.shown[i];
        if !name.is_empty() {
            text.push_str(&format!(" | name: {name}"));
        }
        let description = clean(&e.description, max_text_chars).0;
        if !description.is_empty() {
            text.push_str(&format!(" | description: {description}"));
        }
        for (field, value) in &e.fields {
            let field = clean(field, 40).0;
            let value = clean(value, max_text_chars).0;
            text.push_str(&format!(" | {field}: {value}"));
        }
        text.push('\n');
    }
    text
}
