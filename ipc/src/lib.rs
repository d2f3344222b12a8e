//! deixis-ipc: the D-Bus interface `org.deixis.Deixis1`: its names, its error replies, its wire
//! types (dictionaries of variants), the [`Backend`] trait the service implements, the zbus
//! object ([`Interface`]) that decodes calls into typed requests for it, and the client proxy.
//!
//! Only this crate knows D-Bus wire types; the daemon converts its core types to and from the
//! plain structs here. Every method call first goes through [`Backend::authorize`] with the
//! caller's unique bus name; the properties are open to every caller (they carry no screen
//! content). A call with the wrong D-Bus signature never reaches the backend: zbus answers it
//! with `org.freedesktop.DBus.Error.InvalidArgs`.

use std::collections::HashMap;
use std::future::Future;

use zbus::object_server::SignalEmitter;
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
/// An AccessKit tree update (JSON) longer than this is refused with `TooLarge`.
pub const MAX_TREE_BYTES: usize = 8 * 1024 * 1024;
/// At most this many entities in one `AddConversationEntities` or `SetBackgroundEntities` call.
pub const MAX_ENTITIES: usize = 1000;
/// At most this many fields in one entity.
pub const MAX_FIELDS: usize = 64;

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

/// A conversational or background entity as a client hands it over.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityIn {
    pub entity_type: String,
    pub text: String,
    pub fields: Vec<(String, String)>,
    /// Seconds the entity lives; `None`: the service's default.
    pub ttl_s: Option<u32>,
}

/// What `Forget` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Conversation,
    Background,
    Screens,
    Log,
}

impl Scope {
    pub const NAMES: [&'static str; 5] = ["all", "conversation", "background", "screens", "log"];

    pub fn from_name(name: &str) -> Result<Scope, Error> {
        Ok(match name {
            "all" => Scope::All,
            "conversation" => Scope::Conversation,
            "background" => Scope::Background,
            "screens" => Scope::Screens,
            "log" => Scope::Log,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown scope {:?}; use one of: {}",
                    truncate(name, 64),
                    Scope::NAMES.join(", ")
                )))
            }
        })
    }
}

/// Who is calling: the connection the call came in on and the caller's unique bus name.
#[derive(Debug, Clone)]
pub struct Caller {
    pub connection: zbus::Connection,
    pub sender: String,
}

/// What the service does; the daemon implements it. Futures are `Send` for zbus's executor.
pub trait Backend: Send + Sync + 'static {
    /// Refuses callers the service does not serve (`AccessDenied`); runs before every method.
    fn authorize(&self, caller: &Caller) -> impl Future<Output = Result<(), Error>> + Send;
    fn resolve(
        &self,
        caller: Caller,
        query: String,
        options: ResolveOptions,
    ) -> impl Future<Output = Result<Vec<Candidate>, Error>> + Send;
    fn current_screen(&self) -> impl Future<Output = Result<Screen, Error>> + Send;
    /// Replaces (or with an empty update, clears) the caller's tree for `app_id`.
    fn push_tree(
        &self,
        caller: Caller,
        app_id: String,
        tree_update_json: String,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Stores the entities; returns their ids. Returns once they are on disk.
    fn add_conversation_entities(
        &self,
        entities: Vec<EntityIn>,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// Replaces the background entities.
    fn set_background_entities(
        &self,
        entities: Vec<EntityIn>,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn forget(&self, scope: Scope) -> impl Future<Output = Result<(), Error>> + Send;
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
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
        let caller = self.caller(&header, connection).await?;
        check_len("query", &query, MAX_STRING_BYTES)?;
        let options = decode_options(&options)?;
        let answer = self.0.resolve(caller, query, options).await?;
        answer.iter().map(encode).collect()
    }

    async fn current_screen(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<(String, String, Vec<HashMap<String, OwnedValue>>), Error> {
        // No options are defined yet; unknown keys are ignored.
        let _ = options;
        self.caller(&header, connection).await?;
        let screen = self.0.current_screen().await?;
        let entities = screen
            .entities
            .iter()
            .map(encode)
            .collect::<Result<_, _>>()?;
        Ok((screen.snapshot_id, screen.parse, entities))
    }

    async fn push_tree(
        &self,
        app_id: String,
        tree_update_json: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<(), Error> {
        let caller = self.caller(&header, connection).await?;
        check_len("app_id", &app_id, MAX_STRING_BYTES)?;
        check_len("tree_update_json", &tree_update_json, MAX_TREE_BYTES)?;
        self.0.push_tree(caller, app_id, tree_update_json).await
    }

    async fn add_conversation_entities(
        &self,
        entities: Vec<HashMap<String, OwnedValue>>,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<Vec<String>, Error> {
        self.caller(&header, connection).await?;
        let entities = decode_entities(&entities)?;
        self.0.add_conversation_entities(entities).await
    }

    async fn set_background_entities(
        &self,
        entities: Vec<HashMap<String, OwnedValue>>,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<(), Error> {
        self.caller(&header, connection).await?;
        let entities = decode_entities(&entities)?;
        self.0.set_background_entities(entities).await
    }

    async fn forget(
        &self,
        scope: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<(), Error> {
        self.caller(&header, connection).await?;
        let scope = Scope::from_name(&scope)?;
        self.0.forget(scope).await
    }

    /// The screen changed; never carries screen content.
    #[zbus(signal)]
    pub async fn screen_changed(
        emitter: &SignalEmitter<'_>,
        snapshot_id: &str,
        app: &str,
    ) -> zbus::Result<()>;

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

impl<B: Backend> Interface<B> {
    /// The caller, authorized.
    async fn caller(
        &self,
        header: &zbus::message::Header<'_>,
        connection: &zbus::Connection,
    ) -> Result<Caller, Error> {
        let sender = header
            .sender()
            .map(|s| s.to_string())
            .ok_or_else(|| Error::AccessDenied("the call has no sender".into()))?;
        let caller = Caller {
            connection: connection.clone(),
            sender,
        };
        self.0.authorize(&caller).await?;
        Ok(caller)
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

    fn push_tree(&self, app_id: &str, tree_update_json: &str) -> zbus::Result<()>;

    fn add_conversation_entities(
        &self,
        entities: Vec<HashMap<&str, Value<'_>>>,
    ) -> zbus::Result<Vec<String>>;

    fn set_background_entities(&self, entities: Vec<HashMap<&str, Value<'_>>>) -> zbus::Result<()>;

    fn forget(&self, scope: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    fn screen_changed(&self, snapshot_id: &str, app: &str) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn model(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn capture_sources(&self) -> zbus::Result<Vec<String>>;
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn check_len(what: &str, s: &str, max: usize) -> Result<(), Error> {
    if s.len() > max {
        return Err(Error::TooLarge(format!(
            "{what} is {} bytes; the limit is {max}",
            s.len()
        )));
    }
    Ok(())
}

/// Looks through one level of variant (`v` holding `v`).
fn unwrap_variant<'a>(value: &'a Value<'a>) -> &'a Value<'a> {
    match value {
        Value::Value(inner) => inner.as_ref(),
        v => v,
    }
}

/// Decodes the entities of `AddConversationEntities` and `SetBackgroundEntities`. Unknown keys
/// are ignored; known keys with the wrong type are `InvalidArgument`.
pub fn decode_entities(entities: &[HashMap<String, OwnedValue>]) -> Result<Vec<EntityIn>, Error> {
    if entities.len() > MAX_ENTITIES {
        return Err(Error::TooLarge(format!(
            "{} entities in one call; the limit is {MAX_ENTITIES}",
            entities.len()
        )));
    }
    let mut out = Vec::with_capacity(entities.len());
    for (n, entity) in entities.iter().enumerate() {
        let wrong = |key: &str, want: &str| {
            Error::InvalidArgument(format!("entity {n}: {key:?} must be {want}"))
        };
        let mut e = EntityIn::default();
        for (key, value) in entity {
            let value = unwrap_variant(value);
            match key.as_str() {
                "type" | "text" => {
                    let Value::Str(s) = value else {
                        return Err(wrong(key, "a string"));
                    };
                    check_len(&format!("entity {n}: {key:?}"), s, MAX_STRING_BYTES)?;
                    if key == "type" {
                        e.entity_type = s.to_string();
                    } else {
                        e.text = s.to_string();
                    }
                }
                "ttl_s" => match value {
                    Value::U32(t) => e.ttl_s = Some(*t),
                    _ => return Err(wrong(key, "a u32")),
                },
                "fields" => {
                    let fields: HashMap<String, String> = OwnedValue::try_from(value.clone())
                        .ok()
                        .and_then(|v| HashMap::<String, String>::try_from(v).ok())
                        .ok_or_else(|| wrong(key, "a string map, a{ss}"))?;
                    if fields.len() > MAX_FIELDS {
                        return Err(Error::TooLarge(format!(
                            "entity {n}: {} fields; the limit is {MAX_FIELDS}",
                            fields.len()
                        )));
                    }
                    let mut fields: Vec<(String, String)> = fields.into_iter().collect();
                    fields.sort();
                    for (k, v) in &fields {
                        check_len(&format!("entity {n}: field"), k, MAX_STRING_BYTES)?;
                        check_len(&format!("entity {n}: field {k:?}"), v, MAX_STRING_BYTES)?;
                    }
                    e.fields = fields;
                }
                _ => {}
            }
        }
        if e.text.trim().is_empty() && e.fields.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "entity {n} has neither text nor fields"
            )));
        }
        out.push(e);
    }
    Ok(out)
}

fn wrong(key: &str, want: &str) -> Error {
    Error::InvalidArgument(format!("option {key:?} must be {want}"))
}

/// Decodes `Resolve`'s options.
pub fn decode_options(options: &HashMap<String, OwnedValue>) -> Result<ResolveOptions, Error> {
    let mut out = ResolveOptions::default();
    for (key, value) in options {
        let value = unwrap_variant(value);
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
