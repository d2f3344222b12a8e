//! Screen file and eval case reader: one JSON format for both (`elements`, `context`, `query`,
//! `target_ids`, `scoring`), read leniently (any field may be missing or null, unknown fields
//! are ignored) but never silently wrong: a malformed value is an error naming its line and
//! field.
//!
//! The format is a boundary, so its JSON shape lives only here; readers produce core types.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::element::{Element, ElementId, Origin, Rect, ScreenSize, State};

/// One dialogue turn of a case's `context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub speaker: String,
    pub text: String,
}

/// How a case's answer is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// Correct iff exactly one element is selected and it is a target.
    Any,
    /// Correct iff the selected set equals the targets (ReALM's rule; empty = "none").
    Set,
}

/// A screen file or one eval case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub source: String,
    pub size: Option<ScreenSize>,
    pub elements: Vec<Element>,
    pub context: Vec<Turn>,
    pub query: String,
    pub targets: Vec<ElementId>,
    pub scoring: Scoring,
}

/// Why a screen file or eval line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The bytes are not UTF-8.
    Utf8 { line: usize, column: usize },
    /// The text is not JSON (syntax, nesting too deep, number out of range).
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// A field holds a value of the wrong shape.
    Field {
        line: usize,
        field: String,
        problem: String,
    },
}

impl FormatError {
    pub fn line(&self) -> usize {
        match self {
            FormatError::Utf8 { line, .. }
            | FormatError::Json { line, .. }
            | FormatError::Field { line, .. } => *line,
        }
    }

    /// The same error, with lines counted from `first` instead of 1 (a line of a JSONL file).
    fn on_line(self, first: usize) -> FormatError {
        let shift = |line: usize| line + first - 1;
        match self {
            FormatError::Utf8 { line, column } => FormatError::Utf8 {
                line: shift(line),
                column,
            },
            FormatError::Json {
                line,
                column,
                message,
            } => FormatError::Json {
                line: shift(line),
                column,
                message,
            },
            FormatError::Field {
                line,
                field,
                problem,
            } => FormatError::Field {
                line: shift(line),
                field,
                problem,
            },
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Utf8 { line, column } => {
                write!(f, "{line}: (text): invalid UTF-8 at column {column}")
            }
            FormatError::Json {
                line,
                column,
                message,
            } => write!(f, "{line}: (json): {message} at column {column}"),
            FormatError::Field {
                line,
                field,
                problem,
            } => write!(f, "{line}: {field}: {problem}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// A case as a JSON object in the screen file format: what `read_case` reads back. Empty
/// fields are left out; the box is `[x1, y1, x2, y2]` rounded to 1/100 pixel.
pub fn case_to_json(case: &Case) -> Value {
    let mut top = serde_json::Map::new();
    top.insert("id".into(), case.id.clone().into());
    if !case.source.is_empty() {
        top.insert("source".into(), case.source.clone().into());
    }
    top.insert(
        "screen".into(),
        case.size.map_or(
            Value::Null,
            |s| serde_json::json!({"width": s.width, "height": s.height}),
        ),
    );
    let elements = case.elements.iter().map(element_to_json).collect();
    top.insert("elements".into(), Value::Array(elements));
    let context = case
        .context
        .iter()
        .map(|t| serde_json::json!({"speaker": t.speaker, "text": t.text}))
        .collect();
    top.insert("context".into(), Value::Array(context));
    top.insert("query".into(), case.query.clone().into());
    let targets = case.targets.iter().map(|t| Value::from(t.0)).collect();
    top.insert("target_ids".into(), Value::Array(targets));
    let scoring = match case.scoring {
        Scoring::Any => "any",
        Scoring::Set => "set",
    };
    top.insert("scoring".into(), scoring.into());
    Value::Object(top)
}

fn element_to_json(e: &Element) -> Value {
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let mut o = serde_json::Map::new();
    o.insert("id".into(), e.id.0.into());
    let strings = [
        ("role", &e.role_name),
        ("cls", &e.class),
        ("text", &e.text),
        ("desc", &e.description),
        ("res_id", &e.resource_id),
        ("app", &e.app),
        ("window", &e.window),
    ];
    for (key, value) in strings {
        if !value.is_empty() || matches!(key, "role" | "text") {
            o.insert(key.into(), value.as_str().into());
        }
    }
    let bbox = e.bounds.map_or(Value::Null, |r| {
        serde_json::json!([round(r.x1), round(r.y1), round(r.x2), round(r.y2)])
    });
    o.insert("bbox".into(), bbox);
    o.insert(
        "parent".into(),
        e.parent.map_or(Value::Null, |p| p.0.into()),
    );
    if !e.states.is_empty() {
        let states = e.states.iter().map(|s| Value::from(s.name())).collect();
        o.insert("states".into(), Value::Array(states));
    }
    if e.origin == Origin::Background {
        o.insert("kind".into(), "background".into());
    }
    if !e.fields.is_empty() {
        let fields = e
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        o.insert("fields".into(), Value::Object(fields));
    }
    Value::Object(o)
}

/// Reads a whole screen file (one JSON object, pretty-printed or not).
pub fn read_screen_file(bytes: &[u8]) -> Result<Case, FormatError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(bytes, e.valid_up_to());
        FormatError::Utf8 { line, column }
    })?;
    read_case(text)
}

/// Reads a JSONL eval file: one case per non-blank line, each with its 1-based line number.
/// A bad line is an error for that line only.
pub fn read_jsonl(bytes: &[u8]) -> impl Iterator<Item = (usize, Result<Case, FormatError>)> + '_ {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| (i + 1, read_screen_file(line).map_err(|e| e.on_line(i + 1))))
}

/// Reads one case from JSON text.
pub fn read_case(text: &str) -> Result<Case, FormatError> {
    let top: BTreeMap<String, &RawValue> = serde_json::from_str(text).map_err(|e| {
        let mut error = json_error(&e);
        if e.is_data() {
            if let (
                FormatError::Json {
                    message, column, ..
                },
                Ok(v),
            ) = (&mut error, serde_json::from_str::<Value>(text))
            {
                *message = format!("a screen must be a JSON object, got {}", json_kind(&v));
                *column = 1;
            }
        }
        error
    })?;
    let src = Source { text };
    let get = |key: &str| top.get(key).copied();

    let mut case = Case {
        id: src
            .opt_string_or_number(get("id"), "id")?
            .unwrap_or_default(),
        source: src.opt_string(get("source"), "source")?.unwrap_or_default(),
        size: None,
        elements: Vec::new(),
        context: Vec::new(),
        query: src.opt_string(get("query"), "query")?.unwrap_or_default(),
        targets: Vec::new(),
        scoring: Scoring::Set,
    };
    if let Some(raw) = get("screen") {
        case.size = src.screen_size(raw)?;
    }
    if let Some(raw) = get("elements") {
        for (i, raw) in src.opt_array(raw, "elements")?.into_iter().enumerate() {
            case.elements.push(src.element(raw, i)?);
        }
    }
    if let Some(raw) = get("context") {
        for (i, raw) in src.opt_array(raw, "context")?.into_iter().enumerate() {
            case.context.push(src.turn(raw, i)?);
        }
    }
    if let Some(raw) = get("target_ids") {
        for (i, raw) in src.opt_array(raw, "target_ids")?.into_iter().enumerate() {
            let field = format!("target_ids[{i}]");
            let id = src
                .id(raw, &field)?
                .ok_or_else(|| src.field(raw, &field, "null"))?;
            case.targets.push(id);
        }
    }
    if let Some(raw) = get("scoring") {
        case.scoring = match src.opt_string(Some(raw), "scoring")?.as_deref() {
            None | Some("set") => Scoring::Set,
            Some("any") => Scoring::Any,
            Some(other) => {
                let problem = format!("expected \"any\" or \"set\", got {other:?}");
                return Err(src.field(raw, "scoring", &problem));
            }
        };
    }
    Ok(case)
}

fn json_error(e: &serde_json::Error) -> FormatError {
    FormatError::Json {
        line: e.line().max(1),
        column: e.column(),
        message: without_position(e),
    }
}

/// serde_json's message without its " at line L column C": the line is reported separately,
/// and inside a field it would count from the field, not the file.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}

/// 1-based line and column of a byte offset.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

/// The input text, to turn a raw value's position into a line number.
struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    /// Line on which a raw value (a slice of `self.text`) starts.
    fn line_of(&self, raw: &RawValue) -> usize {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        line_col(self.text.as_bytes(), offset).0
    }

    fn field(&self, raw: &RawValue, field: &str, problem: &str) -> FormatError {
        FormatError::Field {
            line: self.line_of(raw),
            field: field.to_owned(),
            problem: problem.to_owned(),
        }
    }

    fn value(&self, raw: &RawValue, field: &str) -> Result<Value, FormatError> {
        serde_json::from_str(raw.get()).map_err(|e| self.field(raw, field, &without_position(&e)))
    }

    fn opt_string(
        &self,
        raw: Option<&RawValue>,
        field: &str,
    ) -> Result<Option<String>, FormatError> {
        let Some(raw) = raw else { return Ok(None) };
        match self.value(raw, field)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(self.field(raw, field, &expected("a string", &other))),
        }
    }

    fn opt_string_or_number(
        &self,
        raw: Option<&RawValue>,
        field: &str,
    ) -> Result<Option<String>, FormatError> {
        let Some(raw) = raw else { return Ok(None) };
        match self.value(raw, field)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(self.field(raw, field, &expected("a string or number", &other))),
        }
    }

    fn opt_array(&self, raw: &'a RawValue, field: &str) -> Result<Vec<&'a RawValue>, FormatError> {
        if raw.get() == "null" {
            return Ok(Vec::new());
        }
        serde_json::from_str::<Vec<&RawValue>>(raw.get()).map_err(|_| {
            let shape = self
                .value(raw, field)
                .map_or_else(|e| e.to_string(), |v| expected("a list", &v));
            self.field(raw, field, &shape)
        })
    }

    fn object(
        &self,
        raw: &'a RawValue,
        field: &str,
    ) -> Result<BTreeMap<String, &'a RawValue>, FormatError> {
        serde_json::from_str(raw.get()).map_err(|_| {
            let shape = self
                .value(raw, field)
                .map_or_else(|e| e.to_string(), |v| expected("an object", &v));
            self.field(raw, field, &shape)
        })
    }

    fn id(&self, raw: &RawValue, field: &str) -> Result<Option<ElementId>, FormatError> {
        match self.value(raw, field)? {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_u64().map(|v| Some(ElementId(v))).ok_or_else(|| {
                self.field(
                    raw,
                    field,
                    &format!("expected a non-negative integer id, got {n}"),
                )
            }),
            other => Err(self.field(raw, field, &expected("a non-negative integer id", &other))),
        }
    }

    fn number(&self, raw: &RawValue, field: &str) -> Result<Option<f64>, FormatError> {
        match self.value(raw, field)? {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(n.as_f64()),
            other => Err(self.field(raw, field, &expected("a number", &other))),
        }
    }

    fn screen_size(&self, raw: &RawValue) -> Result<Option<ScreenSize>, FormatError> {
        if raw.get() == "null" {
            return Ok(None);
        }
        let obj = self.object(raw, "screen")?;
        let width = obj
            .get("width")
            .map(|r| self.number(r, "screen.width"))
            .transpose()?
            .flatten();
        let height = obj
            .get("height")
            .map(|r| self.number(r, "screen.height"))
            .transpose()?
            .flatten();
        Ok(width
            .zip(height)
            .map(|(width, height)| ScreenSize { width, height }))
    }

    fn element(&self, raw: &'a RawValue, index: usize) -> Result<Element, FormatError> {
        let name = |key: &str| format!("elements[{index}].{key}");
        let obj = self.object(raw, &format!("elements[{index}]"))?;
        let string = |key: &str| -> Result<String, FormatError> {
            Ok(self
                .opt_string(obj.get(key).copied(), &name(key))?
                .unwrap_or_default())
        };
        let id = match obj.get("id") {
            Some(r) => self.id(r, &name("id"))?,
            None => None,
        };
        let role_name = string("role")?;
        let mut element = Element::new(id.map_or(index as u64, |id| id.0), &role_name);
        element.text = string("text")?;
        element.description = string("desc")?;
        element.resource_id = string("res_id")?;
        element.class = string("cls")?;
        element.app = string("app")?;
        element.window = string("window")?;
        if let Some(r) = obj.get("parent") {
            element.parent = self.id(r, &name("parent"))?;
        }
        if let Some(r) = obj.get("bbox") {
            element.bounds = self.bbox(r, &name("bbox"))?;
        }
        if let Some(r) = obj.get("states") {
            for (i, s) in self.opt_array(r, &name("states"))?.into_iter().enumerate() {
                let field = format!("{}[{i}]", name("states"));
                if let Some(state) = self
                    .opt_string(Some(s), &field)?
                    .as_deref()
                    .and_then(State::from_name)
                {
                    element.states.push(state);
                }
            }
        }
        if let Some(r) = obj.get("fields") {
            let fields = self.object(r, &name("fields"))?;
            let mut keys: Vec<&str> = fields.keys().map(|k| k.as_str()).collect();
            keys.sort_unstable();
            for key in keys {
                let value = self
                    .opt_string(
                        fields.get(key).copied(),
                        &format!("{}.{key}", name("fields")),
                    )?
                    .unwrap_or_default();
                element.fields.push((key.to_owned(), value));
            }
        }
        element.origin = match string("kind")?.as_str() {
            "" | "onscreen" | "conversational" if element.bounds.is_some() => Origin::Onscreen,
            "" | "onscreen" | "conversational" => Origin::Conversational,
            "background" => Origin::Background,
            other => {
                let problem = format!(
                    "expected \"onscreen\", \"conversational\" or \"background\", got {other:?}"
                );
                return Err(self.field(obj["kind"], &name("kind"), &problem));
            }
        };
        Ok(element)
    }

    fn bbox(&self, raw: &RawValue, field: &str) -> Result<Option<Rect>, FormatError> {
        let bad = |v: &Value| {
            self.field(
                raw,
                field,
                &expected("[x1, y1, x2, y2] (four numbers) or null", v),
            )
        };
        match self.value(raw, field)? {
            Value::Null => Ok(None),
            Value::Array(items) if items.len() == 4 => {
                let mut c = [0.0; 4];
                for (slot, item) in c.iter_mut().zip(&items) {
                    *slot = item
                        .as_f64()
                        .ok_or_else(|| bad(&Value::Array(items.clone())))?;
                }
                // JSON cannot hold NaN or infinity, so every box read here is finite.
                Ok(Rect::new(c[0], c[1], c[2], c[3]))
            }
            other => Err(bad(&other)),
        }
    }

    fn turn(&self, raw: &'a RawValue, index: usize) -> Result<Turn, FormatError> {
        let obj = self.object(raw, &format!("context[{index}]"))?;
        let string = |key: &str| -> Result<String, FormatError> {
            Ok(self
                .opt_string(obj.get(key).copied(), &format!("context[{index}].{key}"))?
                .unwrap_or_default())
        };
        Ok(Turn {
            speaker: string("speaker")?,
            text: string("text")?,
        })
    }
}

/// "expected X, got Y" with Y's JSON type (never its content: it may be screen text).
fn expected(what: &str, got: &Value) -> String {
    format!("expected {what}, got {}", json_kind(got))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(a) if a.is_empty() => "an empty list",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::role_from_name;

    fn err(text: &str) -> String {
        match read_screen_file(text.as_bytes()) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_field_may_be_missing_or_null() {
        let case = read_case("{}").expect("empty object is a case");
        assert!(case.elements.is_empty());
        let case = read_case(
            r#"{"id": null, "screen": null, "elements": [{"id": 3, "role": null, "text": null,
                "bbox": null, "parent": null, "states": null}], "context": null, "query": null,
                "target_ids": null, "scoring": null, "meta": {"x": 1}}"#,
        )
        .expect("nulls are fine");
        assert_eq!(case.elements[0].id, ElementId(3));
        assert_eq!(case.elements[0].origin, Origin::Conversational);
        assert_eq!(case.scoring, Scoring::Set);
    }

    #[test]
    fn missing_ids_fall_back_to_position() {
        let case = read_case(r#"{"elements": [{"text": "a"}, {"text": "b"}]}"#).expect("case");
        let ids: Vec<_> = case.elements.iter().map(|e| e.id.0).collect();
        assert_eq!(ids, vec![0, 1]);
    }

    #[test]
    fn malformed_values_name_line_and_field() {
        let text = "{\n  \"elements\": [\n    {\"id\": 0, \"bbox\": [1, 2, 3, 4]},\n    {\"id\": 1,\n     \"bbox\": [1, 2, 3]}\n  ]\n}";
        assert_eq!(
            err(text),
            "5: elements[1].bbox: expected [x1, y1, x2, y2] (four numbers) or null, got a list"
        );
        assert_eq!(
            err(r#"{"query": 5}"#),
            "1: query: expected a string, got a number"
        );
        assert_eq!(
            err("{\n\"elements\": [\n{\"bbox\": [1e999, 0, 1, 1]}]}"),
            "3: elements[0].bbox: number out of range"
        );
        assert_eq!(
            err(r#"{"elements": [{"id": -1}]}"#),
            "1: elements[0].id: expected a non-negative integer id, got -1"
        );
        assert_eq!(
            err(r#"{"scoring": "most"}"#),
            "1: scoring: expected \"any\" or \"set\", got \"most\""
        );
        assert_eq!(
            err(r#"{"elements": {"a": 1}}"#),
            "1: elements: expected a list, got an object"
        );
        assert_eq!(
            err("{\"a\": [1,\n 2"),
            "2: (json): EOF while parsing a list at column 2"
        );
    }

    #[test]
    fn field_errors_never_echo_screen_text() {
        let e = err(r#"{"elements": [{"text": ["secret words"]}]}"#);
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn deep_nesting_and_bad_utf8_are_errors_not_panics() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        // Unknown fields are skipped without recursion, however deep.
        assert_eq!(err(&format!("{{\"meta\": {}}}", nest(100_000))), "ok");
        let deep = format!("{{\"elements\": [{{\"text\": {}}}]}}", nest(100_000));
        assert!(
            err(&deep).starts_with("1: elements[0].text: recursion limit exceeded"),
            "{}",
            err(&deep)
        );
        assert_eq!(
            err("[1, 2]"),
            "1: (json): a screen must be a JSON object, got a list at column 1"
        );
        let bytes = b"{\"query\": \"a\xff\"}";
        assert_eq!(
            read_screen_file(bytes).map(|_| ()),
            Err(FormatError::Utf8 {
                line: 1,
                column: 13
            })
        );
    }

    #[test]
    fn jsonl_reports_each_bad_line_and_keeps_going() {
        let input = b"{\"query\": \"a\"}\n\nnot json\n{\"query\": 1}\n{\"query\": \"b\"}\n";
        let got: Vec<_> = read_jsonl(input)
            .map(|(line, r)| (line, r.map(|c| c.query).map_err(|e| e.to_string())))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Ok("a".to_owned())),
                (3, Err("3: (json): expected ident at column 2".to_owned())),
                (
                    4,
                    Err("4: query: expected a string, got a number".to_owned())
                ),
                (5, Ok("b".to_owned())),
            ]
        );
    }

    #[test]
    fn reads_live_extras() {
        let case = read_case(
            r#"{"elements": [{"id": 7, "role": "push button", "bbox": [0, 0, 10, 10],
               "states": ["focused", "weird"], "app": "gedit", "window": "Untitled",
               "kind": "onscreen"}, {"id": 8, "kind": "background", "text": "Alarm 7:00"}]}"#,
        )
        .expect("case");
        let e = &case.elements[0];
        assert_eq!(e.states, vec![State::Focused]);
        assert_eq!((e.app.as_str(), e.window.as_str()), ("gedit", "Untitled"));
        assert_eq!(e.origin, Origin::Onscreen);
        assert_eq!(case.elements[1].origin, Origin::Background);
    }

    #[test]
    fn written_cases_read_back_the_same() {
        let text = r#"{"id": "w", "source": "atspi", "screen": {"width": 800, "height": 600},
            "elements": [
              {"id": 4, "role": "push button", "cls": "GtkButton", "text": "OK", "desc": "Confirm",
               "res_id": "ok", "bbox": [1.5, 2, 30, 40], "parent": 9, "app": "gedit",
               "window": "Untitled", "states": ["focused", "checked"]},
              {"id": 9, "role": "alarm", "text": "7:00", "bbox": null, "kind": "background"}],
            "context": [{"speaker": "agent", "text": "hi"}], "query": "ok",
            "target_ids": [4], "scoring": "any"}"#;
        let case = read_case(text).expect("case");
        let again = read_case(&case_to_json(&case).to_string()).expect("written case");
        assert_eq!(case, again);
    }

    #[test]
    fn role_names_are_mapped() {
        let case = read_case(r#"{"elements": [{"role": "link"}]}"#).expect("case");
        assert_eq!(case.elements[0].role, role_from_name("link"));
    }
}
