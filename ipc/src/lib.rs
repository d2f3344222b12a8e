//! deixis-ipc: the D-Bus interface `org.deixis.Deixis1`: its names, its error replies, its wire
//! types (dictionaries of variants), the [`Backend`] trait the service implements, the zbus
//! object ([`Interface`]) that decodes calls into typed requests for it, and the client proxy.
//!
//! Only this crate knows D-Bus wire types; the daemon converts its core types to and from the
//! plain structs here.

use std::collections::HashMap;
use std::future::Future;

use zbus::zvariant::{OwnedValue, Value};

/// Well-known bus name of the service on the session bus.
pub const BUS_NAME: &str = "org.deixis.Deixis1";
/// Object path of the service object.
pub const OBJECT_PATH: &str = "/org/deixis/Deixis1";
/// Interface name.
pub const INTERFACE: &str = "org.deixis.Deixis1";
/// Prefix of the service's D-Bus error names.
pub const ERROR_PREFIX: &str = "org.deixis.Deixis1.Error";

/// Strings longer than this are refused with `TooLarge`.
pub const MAX_STRING_BYTES: usize = 64 * 1024;

/// The service's error replies (`org.deixis.Deixis1.Error.*`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.deixis.Deixis1.Error")]
pub enum Error {
    #[zbus(error)]
    ZBus(zbus::Error),
    InvalidArgument(String),
    TooLarge(String),
    NotReady(String),
    Timeout(String),
    AccessDenied(String),
    Internal(String),
}

/// Options of `Resolve`, decoded. Unknown keys are ignored (forward compatibility); a known key
/// with the wrong type is `InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolveOptions {
    pub max_results: Option<u32>,
    pub min_score: Option<f64>,
    pub app: Option<String>,
    pub timeout_ms: Option<u32>,
    /// Dialogue turns: (speaker, text).
    pub context: Vec<(String, String)>,
}

/// One ranked candidate of a `Resolve` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    /// `onscreen`, `conversational` or `background`.
    pub kind: String,
    pub entity_type: String,
    pub text: String,
    pub app: String,
    /// x, y, width, height in screen pixels.
    pub bounds: (i32, i32, i32, i32),
    pub score: f64,
    pub selected: bool,
    pub actions: Vec<String>,
}

/// What the service sees now.
#[derive(Debug, Clone, PartialEq)]
pub struct Screen {
    pub snapshot_id: String,
    pub parse: String,
    pub entities: Vec<Candidate>,
}

/// What the service does; the daemon implements it. Futures are `Send` for zbus's executor.
pub trait Backend: Send + Sync + 'static {
    fn resolve(
        &self,
        query: String,
        options: ResolveOptions,
    ) -> impl Future<Output = Result<Vec<Candidate>, Error>> + Send;
    fn current_screen(&self) -> impl Future<Output = Result<Screen, Error>> + Send;
    fn version(&self) -> String;
    fn model(&self) -> String;
    fn status(&self) -> String;
    fn capture_sources(&self) -> Vec<String>;
}

/// The zbus object at [`OBJECT_PATH`], decoding calls for a [`Backend`].
#[derive(Debug)]
pub struct Interface<B>(pub B);

#[zbus::interface(name = "org.deixis.Deixis1")]
impl<B: Backend> Interface<B> {
    async fn resolve(
        &self,
        query: String,
        options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
        if query.len() > MAX_STRING_BYTES {
            return Err(Error::TooLarge(format!(
                "query is {} bytes; the limit is {MAX_STRING_BYTES}",
                query.len()
            )));
        }
        let options = decode_options(&options)?;
        let answer = self.0.resolve(query, options).await?;
        answer.iter().map(encode).collect()
    }

    async fn current_screen(
        &self,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<(String, String, Vec<HashMap<String, OwnedValue>>), Error> {
        let screen = self.0.current_screen().await?;
        let entities = screen
            .entities
            .iter()
            .map(encode)
            .collect::<Result<_, _>>()?;
        Ok((screen.snapshot_id, screen.parse, entities))
    }

    #[zbus(property)]
    fn version(&self) -> String {
        self.0.version()
    }

    #[zbus(property)]
    fn model(&self) -> String {
        self.0.model()
    }

    #[zbus(property)]
    fn status(&self) -> String {
        self.0.status()
    }

    #[zbus(property)]
    fn capture_sources(&self) -> Vec<String> {
        self.0.capture_sources()
    }
}

/// Client side of the interface.
#[zbus::proxy(
    interface = "org.deixis.Deixis1",
    default_service = "org.deixis.Deixis1",
    default_path = "/org/deixis/Deixis1"
)]
pub trait Deixis1 {
    fn resolve(
        &self,
        query: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;

    fn current_screen(
        &self,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<(String, String, Vec<HashMap<String, OwnedValue>>)>;

    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;
}

fn wrong(key: &str, want: &str) -> Error {
    Error::InvalidArgument(format!("option {key:?} must be {want}"))
}

/// Decodes `Resolve`'s options.
pub fn decode_options(options: &HashMap<String, OwnedValue>) -> Result<ResolveOptions, Error> {
    let mut out = ResolveOptions::default();
    for (key, value) in options {
        let value: &Value<'_> = value;
        // A variant inside the variant (`v` holding `v`) is looked through once.
        let value = match value {
            Value::Value(inner) => inner.as_ref(),
            v => v,
        };
        match key.as_str() {
            "max_results" => match value {
                Value::U32(n) => out.max_results = Some(*n),
                _ => return Err(wrong(key, "a u32")),
            },
            "min_score" => match value {
                Value::F64(x) if x.is_finite() => out.min_score = Some(*x),
                _ => return Err(wrong(key, "a finite double (d)")),
            },
            "app" => match value {
                Value::Str(s) if s.len() <= MAX_STRING_BYTES => out.app = Some(s.to_string()),
                Value::Str(_) => {
                    return Err(Error::TooLarge(format!("option {key:?} is too long")))
                }
                _ => return Err(wrong(key, "a string")),
            },
            "timeout_ms" => match value {
                Value::U32(n) => out.timeout_ms = Some(*n),
                _ => return Err(wrong(key, "a u32")),
            },
            "context" => {
                let turns: Vec<HashMap<String, String>> = OwnedValue::try_from(value.clone())
                    .ok()
                    .and_then(|v| Vec::<HashMap<String, String>>::try_from(v).ok())
                    .ok_or_else(|| wrong(key, "a list of dialogue turns, aa{ss}"))?;
                let mut bytes = 0;
                for turn in turns {
                    let speaker = turn.get("speaker").cloned().unwrap_or_default();
                    let text = turn.get("text").cloned().unwrap_or_default();
                    bytes += speaker.len() + text.len();
                    if bytes > MAX_STRING_BYTES {
                        return Err(Error::TooLarge(format!("option {key:?} is too long")));
                    }
                    out.context.push((speaker, text));
                }
            }
            // Unknown keys are ignored: newer clients may send more.
            _ => {}
        }
    }
    Ok(out)
}

/// A candidate as `a{sv}`.
pub fn encode(c: &Candidate) -> Result<HashMap<String, OwnedValue>, Error> {
    let owned = |v: Value<'_>| {
        OwnedValue::try_from(v)
            .map_err(|e| Error::Internal(format!("cannot encode an answer: {e}")))
    };
    let mut map = HashMap::new();
    map.insert("id".to_owned(), owned(Value::from(c.id.as_str()))?);
    map.insert("kind".to_owned(), owned(Value::from(c.kind.as_str()))?);
    map.insert(
        "type".to_owned(),
        owned(Value::from(c.entity_type.as_str()))?,
    );
    map.insert("text".to_owned(), owned(Value::from(c.text.as_str()))?);
    map.insert("app".to_owned(), owned(Value::from(c.app.as_str()))?);
    let (x, y, w, h) = c.bounds;
    map.insert(
        "bounds".to_owned(),
        owned(Value::from(zbus::zvariant::Structure::from((x, y, w, h))))?,
    );
    map.insert("score".to_owned(), owned(Value::from(c.score))?);
    map.insert("selected".to_owned(), owned(Value::from(c.selected))?);
    map.insert("actions".to_owned(), owned(Value::from(c.actions.clone()))?);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: Vec<(&str, Value<'static>)>) -> HashMap<String, OwnedValue> {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), OwnedValue::try_from(v).expect("owned")))
            .collect()
    }

    #[test]
    fn known_options_decode_and_unknown_ones_are_ignored() {
        let o = decode_options(&opts(vec![
            ("max_results", Value::U32(3)),
            ("min_score", Value::F64(0.5)),
            ("app", Value::from("gedit")),
            ("future_option", Value::from(true)),
        ]))
        .expect("options");
        assert_eq!(o.max_results, Some(3));
        assert_eq!(o.min_score, Some(0.5));
        assert_eq!(o.app.as_deref(), Some("gedit"));
    }

    #[test]
    fn a_known_option_with_the_wrong_type_is_invalid() {
        for (key, value) in [
            ("max_results", Value::from("three")),
            ("min_score", Value::F64(f64::NAN)),
            ("app", Value::U32(1)),
            ("context", Value::from("hi")),
        ] {
            let e = decode_options(&opts(vec![(key, value)])).expect_err(key);
            assert!(matches!(e, Error::InvalidArgument(_)), "{key}: {e:?}");
        }
    }

    #[test]
    fn context_turns_decode() {
        let turn: HashMap<String, String> = [
            ("speaker".to_owned(), "agent".to_owned()),
            ("text".to_owned(), "hi".to_owned()),
        ]
        .into();
        let o = decode_options(&opts(vec![("context", Value::from(vec![turn]))])).expect("options");
        assert_eq!(o.context, vec![("agent".to_owned(), "hi".to_owned())]);
    }
}
