//! Baseline resolver: rules, no model. Lexical match of the request against each candidate's text,
//! description, named fields and resource id (weighted by how rare a word is on this screen, with a
//! small table of UI synonyms for the screen's own elements; a word one slip from a screen word
//! read as it; a name said in full ahead of one said in part); type words ("number" -> phone
//! numbers, "link", "button"...; "call X" wants X's number; "how much" a price unless a measure
//! follows; an image whose class says button is a button; "write back" the message field, not the
//! Back button; "take me to" an address, "the second place" there counted; a "link" is a web
//! address in text too); ordinals ("second", "last", "third from the right"; counted among like
//! things, in the body rather than the app bars unless a position names a part of the screen, "the
//! first button at the bottom"; after a dialogue that named several things, in the order it named
//! them; "her last message" on her side of a chat; "the number he sent" in his bubbles, the latest
//! first; one inside a name the screen says, "Last of Glass", is a word of the name); screen
//! positions ("at the top"; "corner" names a place only beside a position) and relations to another
//! element ("below X", "left side of X"; the anchor itself ruled out), the best placed or related
//! match leading the next by a clear margin; superlatives over numbers in the fields ("closest",
//! "cheapest", "newer"; among the things the dialogue just offered; "published later" compares
//! years, whatever description says "published"); decades and centuries ("from the 90's") against
//! the years in the fields; places and their people's adjectives ("Italy", "Italian") as one word;
//! negation ("not the one with X"; what it names ruled out; a negation word inside a phrase the
//! screen says, "do not disturb", is part of a name); acting on an item through the control in its
//! row ("buy the navy one", "read Keiko's mail"); a question about a named value answered by the
//! value beside its label ("what is the status?"); a question that names no picture is answered by
//! words, not by an image or icon; "let's go there" after a turn that named one thing is that
//! thing. It selects the best candidate, or none when nothing in the request points anywhere.
//!
//! It is the floor every model must beat and the fallback when no model loads.

use std::collections::HashMap;
use std::sync::OnceLock;

use deixis_parser::cluster::surrounding;
use deixis_parser::element::{Rect, ScreenSize};
use deixis_parser::format::Turn;
use deixis_parser::parse::humanize_id;
use deixis_parser::EntityKind;
use deixis_parser::Role;

use super::{Answer, Ranked, Request, Resolver};

#[derive(Debug, Clone, Copy, Default)]
pub struct Baseline;

impl Resolver for Baseline {
    fn name(&self) -> &str {
        "baseline"
    }

    fn resolve(&self, request: &Request<'_>) -> Answer {
        let cands = features(request);
        let query = Query::read(request.query);
        let (mut scores, _) = score(&cands, &query, request);
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(k, s)| (k, *s));
        let mut ranked: Vec<Ranked> = cands
            .iter()
            .zip(scores.iter_mut())
            .map(|(c, s)| Ranked {
                number: c.number,
                score: *s,
                selected: false,
            })
            .collect();
        if let Some((k, s)) = best {
            ranked[k].selected = s > SELECT_THRESHOLD;
        }
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.number.cmp(&b.number)));
        Answer { ranked }
    }
}

/// A candidate must score above this to be selected; below it the answer is "none".
pub const SELECT_THRESHOLD: f64 = 0.05;

/// How far a picture falls below the threshold when a question that does not name one asks
/// (`score`): in the blend, its odds against the others shrink by `exp(weight x this)`.
const PICTURE_IN_QUESTION: f64 = 2.0;

/// `Baseline::scores` of a candidate the request rules out (a relation's anchor).
pub const RULED_OUT: f64 = -10.0;

impl Baseline {
    /// Each prompt number's score, indexed by the number (index 0, "none", holds
    /// `SELECT_THRESHOLD`: a candidate must beat it to be selected). The anchor of a relation
    /// ("Directions" in "the button left of Directions") is never what the request means; it
    /// scores `RULED_OUT`, which outweighs any model's reading in the blend.
    pub fn scores(&self, request: &Request<'_>) -> Vec<f64> {
        let cands = features(request);
        let query = Query::read(request.query);
        let (scores, anchors) = score(&cands, &query, request);
        let count = request.parse.candidates.len();
        let mut by_number = vec![0.0; count + 1];
        by_number[0] = SELECT_THRESHOLD;
        for ((c, s), anchor) in cands.iter().zip(scores).zip(anchors) {
            if let Some(slot) = by_number.get_mut(c.number) {
                *slot = if anchor { RULED_OUT } else { s };
            }
        }
        by_number
    }
}

/// Words that carry no reference on their own.
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "on",
    "in",
    "at",
    "to",
    "of",
    "for",
    "and",
    "or",
    "is",
    "are",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "which",
    "what",
    "with",
    "click",
    "tap",
    "press",
    "select",
    "choose",
    "open",
    "go",
    "please",
    "me",
    "my",
    "i",
    "you",
    "can",
    "could",
    "would",
    "want",
    "like",
    "one",
    "ones",
    "option",
    "there",
    "here",
    "page",
    "screen",
    "shown",
    "displayed",
    "visible",
    "show",
    "just",
    "thank",
    "thanks",
    "so",
    "be",
    "from",
    "by",
    "get",
    "set",
    "do",
    "does",
    "did",
    "let",
    "lets",
    "let's",
    "into",
    "onto",
    "up",
    "where",
    "who",
    "how",
    "many",
    "much",
    "will",
    "should",
    "some",
    "any",
    "all",
    "item",
    "element",
    "thing",
    "side",
    "corner",
    "part",
    "which",
    "off",
    "has",
    "have",
    "had",
    "was",
    "were",
    "located",
    "present",
    "given",
    // "comes from India": where a thing comes from is in the words after.
    "comes",
    "come",
    "came",
];

/// UI words and the words toolkits and apps use for the same thing.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("more", &["dots", "overflow", "options", "menu", "kebab"]),
    (
        "back",
        &["navigate", "up", "arrow", "backward", "return", "previous"],
    ),
    ("search", &["find", "magnifier", "query", "lookup"]),
    (
        "settings",
        &[
            "setting",
            "gear",
            "preferences",
            "configuration",
            "config",
            "cog",
        ],
    ),
    ("close", &["dismiss", "cancel", "exit", "x"]),
    ("add", &["plus", "new", "create", "compose", "fab"]),
    ("delete", &["trash", "remove", "bin", "discard"]),
    ("play", &["playback", "resume", "start"]),
    ("menu", &["hamburger", "drawer", "navigation", "nav"]),
    ("profile", &["account", "avatar", "user", "person"]),
    ("cart", &["basket", "bag", "shopping"]),
    (
        "favorite",
        &["favourite", "heart", "like", "star", "bookmark"],
    ),
    ("edit", &["pencil", "modify", "write"]),
    ("camera", &["photo", "capture", "picture"]),
    ("mic", &["microphone", "voice", "speak"]),
    ("call", &["phone", "dial", "telephone"]),
    ("message", &["sms", "chat", "text", "messages"]),
    ("refresh", &["reload", "sync"]),
    (
        "notification",
        &["notifications", "bell", "alert", "alerts"],
    ),
    ("location", &["map", "pin", "gps", "place", "marker"]),
    ("info", &["information", "about", "details", "detail"]),
    ("share", &["send", "forward"]),
    ("next", &["forward", "skip", "right"]),
    ("previous", &["prev", "rewind", "left"]),
    ("home", &["house", "main"]),
    ("filter", &["funnel"]),
    ("help", &["question", "support"]),
    ("email", &["mail", "inbox", "envelope"]),
    (
        "image",
        &["picture", "photo", "img", "cover", "thumbnail", "logo"],
    ),
    ("download", &["save"]),
];

/// What a request asks for by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Entity(EntityKind),
    Role(&'static [Role]),
}

const TYPE_WORDS: &[(&str, Want)] = &[
    ("number", Want::Entity(EntityKind::Phone)),
    ("phone", Want::Entity(EntityKind::Phone)),
    ("call", Want::Entity(EntityKind::Phone)),
    ("dial", Want::Entity(EntityKind::Phone)),
    ("ring", Want::Entity(EntityKind::Phone)),
    ("telephone", Want::Entity(EntityKind::Phone)),
    ("email", Want::Entity(EntityKind::Email)),
    ("mail", Want::Entity(EntityKind::Email)),
    ("address", Want::Entity(EntityKind::Address)),
    ("directions", Want::Entity(EntityKind::Address)),
    ("navigate", Want::Entity(EntityKind::Address)),
    ("located", Want::Entity(EntityKind::Address)),
    ("date", Want::Entity(EntityKind::Date)),
    ("day", Want::Entity(EntityKind::Date)),
    ("time", Want::Entity(EntityKind::Time)),
    ("price", Want::Entity(EntityKind::Money)),
    ("cost", Want::Entity(EntityKind::Money)),
    ("amount", Want::Entity(EntityKind::Money)),
    ("much", Want::Entity(EntityKind::Money)),
    ("website", Want::Entity(EntityKind::Url)),
    ("url", Want::Entity(EntityKind::Url)),
    ("site", Want::Entity(EntityKind::Url)),
    ("web", Want::Entity(EntityKind::Url)),
    ("link", Want::Role(&[Role::Link])),
    (
        "button",
        Want::Role(&[Role::Button, Role::DefaultButton, Role::Switch]),
    ),
    ("icon", Want::Role(&[Role::Image, Role::Button])),
    ("symbol", Want::Role(&[Role::Image, Role::Button])),
    ("image", Want::Role(&[Role::Image])),
    ("picture", Want::Role(&[Role::Image])),
    ("photo", Want::Role(&[Role::Image])),
    ("switch", Want::Role(&[Role::Switch, Role::CheckBox])),
    ("toggle", Want::Role(&[Role::Switch, Role::CheckBox])),
    ("checkbox", Want::Role(&[Role::CheckBox, Role::Switch])),
    ("check", Want::Role(&[Role::CheckBox, Role::Switch])),
    ("tab", Want::Role(&[Role::Tab])),
    (
        "field",
        Want::Role(&[Role::TextInput, Role::SearchInput, Role::PasswordInput]),
    ),
    (
        "box",
        Want::Role(&[Role::TextInput, Role::SearchInput, Role::CheckBox]),
    ),
    ("input", Want::Role(&[Role::TextInput, Role::SearchInput])),
    ("entry", Want::Role(&[Role::TextInput, Role::SearchInput])),
    ("heading", Want::Role(&[Role::Heading])),
    ("title", Want::Role(&[Role::Heading, Role::Label])),
    ("text", Want::Role(&[Role::Label, Role::Paragraph])),
    ("slider", Want::Role(&[Role::Slider])),
    ("menu", Want::Role(&[Role::MenuItem, Role::Menu])),
    ("turn", Want::Role(&[Role::Switch, Role::CheckBox])),
    ("enable", Want::Role(&[Role::Switch, Role::CheckBox])),
    ("disable", Want::Role(&[Role::Switch, Role::CheckBox])),
];

/// Verbs of pressing: the word after one names a control.
const PRESS: &[&str] = &["press", "tap", "click", "hit", "push"];

/// Words after which an ordinal is part of a phrase, not a count.
const NOT_COUNTED: &[&str] = &[
    "person", "grader", "grade", "place", "time", "times", "half", "class", "party", "aid", "lady",
    "hand", "name", "world", "sight", "love", "language", "edition",
];

const ORDINALS: &[(&str, isize)] = &[
    ("first", 1),
    ("1st", 1),
    ("second", 2),
    ("2nd", 2),
    ("third", 3),
    ("3rd", 3),
    ("fourth", 4),
    ("4th", 4),
    ("fifth", 5),
    ("5th", 5),
    ("sixth", 6),
    ("6th", 6),
    ("seventh", 7),
    ("7th", 7),
    ("eighth", 8),
    ("8th", 8),
    ("ninth", 9),
    ("9th", 9),
    ("tenth", 10),
    ("10th", 10),
    ("last", -1),
];

/// Directions: as a position ("at the top"), or as a relation to an anchor ("below X").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Top,
    Bottom,
    Left,
    Right,
}

/// Relation words and the side of the anchor the target is on (`None`: next to, any side).
const RELATIONS: &[(&str, Option<Dir>)] = &[
    ("below", Some(Dir::Bottom)),
    ("under", Some(Dir::Bottom)),
    ("underneath", Some(Dir::Bottom)),
    ("beneath", Some(Dir::Bottom)),
    ("above", Some(Dir::Top)),
    ("over", Some(Dir::Top)),
    ("before", Some(Dir::Left)),
    ("after", Some(Dir::Right)),
    ("beside", None),
    ("next", None),
    ("near", None),
    ("adjacent", None),
];

/// The request, read once.
#[derive(Debug, Default, Clone)]
struct Query {
    /// Content words (stop, ordinal, direction and relation words removed).
    words: Vec<String>,
    /// Content words of the anchor phrase, when there is a relation.
    anchor: Vec<String>,
    relation: Option<Option<Dir>>,
    wants: Vec<Want>,
    ordinal: Option<isize>,
    /// "in the second row", "third column": a place in a grid of candidates.
    row: Option<isize>,
    column: Option<isize>,
    /// "from the right": the axis and end an ordinal counts from.
    ordinal_from: Option<Dir>,
    positions: Vec<Dir>,
    negated: bool,
    /// The two-word phrases around each negation word ("do not", "not disturb"): where a
    /// candidate says one ("Do not disturb"), the word is part of a name, not a negation.
    negations: Vec<[String; 2]>,
    /// The ordinal and the word after it ("last of"): where a candidate says them ("Last of
    /// Glass"), the ordinal is part of a name and counts nothing.
    ordinal_phrase: Option<[String; 2]>,
    superlative: Option<Superlative>,
    /// "there" or "it": the request points back at something said ("let's go there").
    refers_back: bool,
    /// "from the 90's", "the 1700s": the years a decade or century spans.
    years: Option<(u32, u32)>,
    deictic: bool,
    /// "her last message", "the number he sent": the chat bubbles on this side (theirs on the
    /// left, "my" and "I sent" on the right).
    sender: Option<Dir>,
    /// A question ("what is the status?", "tell me the version"), not a command.
    asks: bool,
    /// The request starts with a verb that asks for an entity ("call", "email", "navigate").
    type_verb: bool,
    /// "buy the navy one", "add the cheapest one to the cart": the act is the button in the
    /// row of the item the words name.
    buys: bool,
}

/// A superlative over a number found in the candidates' fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Superlative {
    /// Smallest distance ("closest", "nearest", "quickest").
    Nearest,
    Cheapest,
    Dearest,
    /// Earliest year ("older", "earlier", "first released").
    Oldest,
    Newest,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

impl Query {
    fn read(text: &str) -> Query {
        let mut all: Vec<String> = words(text).into_iter().map(spelled).collect();
        // "write back", "text him back": back to the sender, in the message field, not the
        // Back button ("the text beside back" is: the verb comes right before, or before a
        // pronoun).
        for i in 1..all.len() {
            let verb = |j: usize| REPLY.contains(&all[j].as_str());
            let pronoun = matches!(all[i - 1].as_str(), "him" | "her" | "them" | "me" | "us");
            if all[i] == "back" && (verb(i - 1) || i >= 2 && pronoun && verb(i - 2)) {
                all[i] = "message".to_owned();
            }
        }
        let mut q = Query::default();
        // "Take me to the second place": the second of the places, not a set phrase.
        let taken_to = all
            .windows(3)
            .any(|w| matches!(w[0].as_str(), "take" | "drive") && w[1] == "me" && w[2] == "to");
        let mut i = 0;
        let mut head = Vec::new();
        let mut named = Vec::new();
        while i < all.len() {
            let w = all[i].as_str();
            let next = all.get(i + 1).map(String::as_str);
            if matches!(
                w,
                "not" | "isn't" | "don't" | "without" | "other" | "except"
            ) {
                q.negated = true;
                if let Some(before) = i.checked_sub(1).map(|b| &all[b]) {
                    q.negations.push([before.clone(), w.to_string()]);
                }
                if let Some(next) = next {
                    q.negations.push([w.to_string(), next.to_string()]);
                }
            }
            if matches!(
                w,
                "it" | "that" | "this" | "there" | "her" | "him" | "them" | "one"
            ) {
                q.deictic = true;
            }
            if let Some(s) = superlative(w) {
                q.superlative = Some(s);
            }
            if let Some(span) = decade(w) {
                q.years = Some(span);
                i += 1;
                continue;
            }
            if matches!(w, "buy" | "purchase" | "cart") {
                q.buys = true;
            }
            if let Some(&(_, n)) = ORDINALS.iter().find(|(o, _)| *o == w) {
                // An ordinal counts things ("second link", "third trending story", "the
                // last one"), except in set phrases ("first person", "seventh grader").
                // Last, after no article, it says when ("install the update first").
                let adverb = i + 1 == all.len() && i > 0 && all[i - 1] != "the";
                let set_phrase =
                    next.is_some_and(|x| NOT_COUNTED.contains(&x) && !(taken_to && x == "place"));
                let counts = !adverb && !set_phrase;
                if counts {
                    if let Some(next) = next.filter(|x| *x != "one" && type_word(x).is_none()) {
                        q.ordinal_phrase = Some([w.to_string(), next.to_string()]);
                    }
                    match next {
                        Some("row" | "line") => q.row = Some(n),
                        Some("column") => q.column = Some(n),
                        _ => q.ordinal = Some(n),
                    }
                    i += 1;
                    continue;
                }
            }
            if let Some(d) = direction(w) {
                let counted = q.ordinal.is_some()
                    && i > 0
                    && all[i - 1] == "the"
                    && i >= 2
                    && all[i - 2] == "from";
                // "left of X", "right to X", "on the left side of X".
                let joint = if next == Some("side") { 2 } else { 1 };
                let relation = matches!(all.get(i + joint).map(String::as_str), Some("of" | "to"))
                    && !counted
                    && i + joint + 1 < all.len();
                if counted || (q.ordinal.is_some() && i > 0 && all[i - 1] == "from") {
                    q.ordinal_from = Some(d);
                } else if relation && q.relation.is_none() {
                    q.relation = Some(Some(d));
                    q.anchor = content(&all[i + joint + 1..]);
                    break;
                } else {
                    q.positions.push(d);
                }
                i += 1;
                continue;
            }
            if let Some(&(_, rel)) = RELATIONS.iter().find(|(r, _)| *r == w) {
                if q.relation.is_none()
                    && i + 1 < all.len()
                    && !(w == "next"
                        && (matches!(next, Some("page" | "track" | "song"))
                            || next.is_some_and(|x| type_word(x).is_some())))
                {
                    q.relation = Some(rel);
                    let rest = if matches!(next, Some("to")) {
                        &all[i + 2..]
                    } else {
                        &all[i + 1..]
                    };
                    q.anchor = content(rest);
                    if !q.anchor.is_empty() {
                        break;
                    }
                    q.relation = None;
                }
            }
            // "press call", "go to price": after a verb of pressing or going, the word names a
            // control or a section ("Call", "Price"), not a kind of entity.
            let pressed = i > 0 && PRESS.contains(&all[i - 1].as_str())
                || i > 1 && all[i - 2] == "go" && all[i - 1] == "to";
            // "how much is the calories", "how much time": "much" asks for money unless a
            // measure follows.
            let measured =
                w == "much" && all[i + 1..].iter().any(|x| MEASURES.contains(&x.as_str()));
            match type_word(w) {
                _ if measured => {}
                Some(Want::Entity(_)) if pressed => named.push(all[i].clone()),
                Some(want) if !q.wants.contains(&want) => q.wants.push(want),
                _ => {}
            }
            // "Open the link I sent": a web address in a message is a link too.
            let url = Want::Entity(EntityKind::Url);
            if matches!(w, "link" | "links") && !pressed && !q.wants.contains(&url) {
                q.wants.push(url);
            }
            head.push(all[i].clone());
            i += 1;
        }
        // "play the last song again": the one before this one.
        if q.ordinal == Some(-1) && all.iter().any(|w| w == "again") {
            q.ordinal = None;
            head.retain(|w| w != "play");
            head.push("previous".to_owned());
        }
        q.asks = text.trim_end().ends_with('?')
            || all.first().is_some_and(|w| {
                matches!(
                    w.as_str(),
                    "what"
                        | "what's"
                        | "whats"
                        | "which"
                        | "tell"
                        | "how"
                        | "when"
                        | "where"
                        | "who"
                )
            });
        q.type_verb = all.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "call" | "dial" | "ring" | "phone" | "email" | "mail" | "navigate"
            )
        });
        let has = |set: &[&str]| all.iter().any(|w| set.contains(&w.as_str()));
        if has(&["message", "messages", "text", "bubble"]) {
            if has(&["her", "his", "their"]) {
                q.sender = Some(Dir::Left);
            } else if has(&["my"]) {
                q.sender = Some(Dir::Right);
            }
        }
        // "there" in "is there", "there are" says something exists; it points nowhere.
        q.refers_back = all.iter().enumerate().any(|(i, w)| {
            let next_to = |set: &[&str]| {
                [i.checked_sub(1), Some(i + 1)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| all.get(j))
                    .any(|v| set.contains(&v.as_str()))
            };
            w == "it"
                || (w == "there" && !next_to(&["is", "are", "was", "were", "isn't", "aren't"]))
        });
        // "call the number he sent", "the address I sent": what one side of a chat sent.
        if q.sender.is_none() && has(&["sent", "texted", "shared", "wrote"]) {
            if has(&["he", "she", "they"]) {
                q.sender = Some(Dir::Left);
            } else if has(&["i"]) {
                q.sender = Some(Dir::Right);
            }
        }
        // "Take me to the fourth place": a destination is an address.
        let address = Want::Entity(EntityKind::Address);
        if taken_to && !q.wants.contains(&address) {
            q.wants.push(address);
        }
        // "email address", "web address": the address is of that kind, not a street's.
        if q.wants.contains(&address)
            && (q.wants.contains(&Want::Entity(EntityKind::Email))
                || q.wants.contains(&Want::Entity(EntityKind::Url)))
        {
            q.wants.retain(|&w| w != address);
        }
        // Words that ask for an entity type ("email her", "call that number") pick entities
        // by type; matched as text they would pick the labels that name the type ("Email").
        q.words = content(&head)
            .into_iter()
            .filter(|w| named.contains(w) || !matches!(type_word(w), Some(Want::Entity(_))))
            .collect();
        // "in the corner" places; "a table at Corner" names ("Corner Bakery").
        if q.positions.is_empty()
            && q.ordinal_from.is_none()
            && q.relation.is_none()
            && head.iter().any(|w| w == "corner")
        {
            q.words.push("corner".to_owned());
        }
        // "the one published later": the superlative compares the years; "published" would
        // pick whichever description happens to say the word.
        if q.superlative.is_some() {
            q.words.retain(|w| !DATED.contains(&w.as_str()));
        }
        q
    }
}

/// What the best placed or related match gains when a request names a place ("at the top
/// right") or a relation ("below X").
const PLACED: f64 = 0.5;

/// Verbs after which "back" means back to the sender ("write back").
const REPLY: &[&str] = &[
    "write", "text", "reply", "respond", "answer", "message", "email",
];

/// What "how much" asks about when it is not a price ("how much is the calories?", "how much
/// of the video", "how much time is left"; "how much is left on the card" is money).
const MEASURES: &[&str] = &[
    "of", "calories", "calorie", "kcal", "battery", "storage", "space", "memory", "data",
    "distance", "weight", "water", "protein", "fat", "sugar", "carbs", "steps", "volume",
    "progress", "time",
];

/// Verbs that say what a year or a number in a description is of ("published in 2005").
const DATED: &[&str] = &[
    "published",
    "released",
    "written",
    "recorded",
    "issued",
    "out",
    "made",
    "built",
    "founded",
    "opened",
    "dated",
    "appeared",
];

/// The years a decade or century word spans: "90's" and "90s" 1990-1999, "00s" 2000-2009,
/// "1980s" 1980-1989, "1700's" 1700-1799.
fn decade(w: &str) -> Option<(u32, u32)> {
    let digits = w.strip_suffix("'s").or_else(|| w.strip_suffix('s'))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !digits.ends_with('0') {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    match digits.len() {
        // The twenties and later are the last century's; the noughties and tens, this one's.
        2 if n >= 20 => Some((1900 + n, 1909 + n)),
        2 => Some((2000 + n, 2009 + n)),
        4 if (1000..2100).contains(&n) && n % 100 == 0 => Some((n, n + 99)),
        4 if (1000..2100).contains(&n) => Some((n, n + 9)),
        _ => None,
    }
}

/// The type a word asks for ("links" -> links).
fn type_word(w: &str) -> Option<Want> {
    TYPE_WORDS
        .iter()
        .find(|(t, _)| *t == w || w.strip_suffix('s') == Some(t))
        .map(|&(_, want)| want)
}

fn content(words: &[String]) -> Vec<String> {
    words
        .iter()
        .filter(|w| !STOP.contains(&w.as_str()) && direction(w).is_none())
        .filter(|w| {
            !matches!(
                w.as_str(),
                "not" | "without" | "other" | "except" | "isn't" | "don't"
            )
        })
        .cloned()
        .collect()
}

/// The words that carry a request's structure, which a typed request sometimes misspells.
const STRUCTURE_WORDS: &[&str] = &[
    "first", "second", "third", "fourth", "fifth", "sixth", "last", "below", "above", "under",
    "beside", "next", "left", "right", "bottom", "before", "after", "button", "image", "icon",
    "corner", "text",
];

/// Words one slip from a structure word that are words of their own.
const NOT_SLIPS: &[&str] = &["blow", "fist", "firs", "mage", "sith"];

/// `w`, or the structure word it misspells by two letters swapped or one left out ("frist",
/// "rigth", "belw", "buton"); hand-written because a general spelling corrector would also
/// "fix" the screen's own words, and these few need no dictionary.
fn spelled(w: String) -> String {
    if w.len() < 4 || STRUCTURE_WORDS.contains(&w.as_str()) || NOT_SLIPS.contains(&w.as_str()) {
        return w;
    }
    STRUCTURE_WORDS
        .iter()
        .find(|right| slip(&w, right))
        .map_or(w, |right| (*right).to_owned())
}

/// Whether `w` is `right` typed with two neighbouring letters swapped or one left out.
fn slip(w: &str, right: &str) -> bool {
    let (a, b) = (w.as_bytes(), right.as_bytes());
    if a.len() == b.len() {
        let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        matches!(diff[..], [i, j] if j == i + 1 && a[i] == b[j] && a[j] == b[i])
    } else if a.len() + 1 == b.len() {
        (0..b.len()).any(|skip| b[..skip] == a[..skip] && b[skip + 1..] == a[skip..])
    } else {
        false
    }
}

/// `words` with each word of four letters or more that nothing on the screen has replaced by
/// the one screen word it is a slip of ("spanih" -> "spanish", "refrehs" -> "refresh"), when
/// there is exactly one.
fn on_screen(words: &[String], cands: &[Cand]) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            let screen = || {
                cands
                    .iter()
                    .flat_map(|c| c.fields.iter().flat_map(|(f, _)| f))
            };
            if w.len() < 4 || screen().any(|x| matches(w, x)) {
                return w.clone();
            }
            let mut fixes: Vec<&String> = screen()
                .filter(|x| !STOP.contains(&x.as_str()) && slip(w, x))
                .collect();
            fixes.sort_unstable();
            fixes.dedup();
            match fixes[..] {
                [fix] => fix.clone(),
                _ => w.clone(),
            }
        })
        .collect()
}

fn direction(w: &str) -> Option<Dir> {
    Some(match w {
        "top" | "upper" | "topmost" => Dir::Top,
        "bottom" | "lower" | "bottommost" => Dir::Bottom,
        "left" | "leftmost" => Dir::Left,
        "right" | "rightmost" => Dir::Right,
        _ => return None,
    })
}

fn superlative(w: &str) -> Option<Superlative> {
    Some(match w {
        "closest" | "nearest" | "quickest" | "fastest" | "shortest" | "nearby" | "closer" => {
            Superlative::Nearest
        }
        "cheapest" | "cheaper" | "lowest" => Superlative::Cheapest,
        "expensive" | "priciest" | "highest" => Superlative::Dearest,
        "older" | "oldest" | "earlier" | "earliest" | "classic" => Superlative::Oldest,
        "newer" | "newest" | "recent" | "latest" | "modern" | "later" => Superlative::Newest,
        _ => return None,
    })
}

/// What the baseline knows of one candidate.
#[derive(Debug)]
struct Cand {
    number: usize,
    role: Role,
    entity: Option<EntityKind>,
    rect: Option<Rect>,
    /// Words of the shown text, the description, the resource id and the role, with weights.
    fields: Vec<(Vec<String>, f64)>,
    /// Position in reading order (lines top to bottom, left to right).
    order: usize,
    /// Index of the element in `Screen::elements`.
    element: usize,
    /// The parse line the element is on (boxless: `usize::MAX`).
    line: usize,
    /// Numbers found next to attribute words, for superlatives.
    distance: Option<f64>,
    money: Option<f64>,
    /// Every plausible year in the text, then the description and fields; the first is the
    /// one superlatives compare ("newer").
    years: Vec<u32>,
    /// The name as a dialogue would say it, lowercased ("up!" for "Up! (by Samantha Jade)").
    name: String,
    /// The last dialogue turn that says `name`.
    mentioned: Option<usize>,
}

fn features(request: &Request<'_>) -> Vec<Cand> {
    let parse = request.parse;
    let mut order = vec![usize::MAX; request.screen.elements.len()];
    for (k, &i) in parse
        .lines
        .iter()
        .flatten()
        .chain(&parse.boxless)
        .enumerate()
    {
        order[i] = k;
    }
    let mut line = vec![usize::MAX; request.screen.elements.len()];
    for (l, items) in parse.lines.iter().enumerate() {
        for &i in items {
            line[i] = l;
        }
    }
    let context: Vec<String> = request
        .context
        .iter()
        .map(|t| t.text.to_lowercase())
        .collect();
    parse
        .candidates
        .iter()
        .map(|c| {
            let e = &request.screen.elements[c.element];
            let text = parse.candidate_text(c).to_owned();
            let id_words = humanize_id(&e.resource_id);
            // The description and the named fields ("city: Fremont; year: 1975"), as the
            // prompt shows them.
            let mut described = e.description.clone();
            for (field, value) in &e.fields {
                described.push_str(&format!("; {field}: {value}"));
            }
            // An image or unknown view whose class says it is a button ("IMAGE_BUTTON",
            // "StarButton") is one: Android apps name their controls by class.
            let (role, role_name) = if matches!(e.role, Role::Image | Role::Unknown)
                && e.class.to_lowercase().contains("button")
            {
                (Role::Button, "button")
            } else {
                (e.role, e.role_name.as_str())
            };
            let fields = vec![
                (with_places(words(&text)), 1.0),
                (with_places(words(&described)), 0.8),
                (words(&id_words), 0.7),
                (words(role_name), 0.3),
                (words(&humanize_id(&e.class)), 0.2),
            ];
            let all = format!("{} {described}", e.text).to_lowercase();
            // The name as a dialogue would say it: "Up! (by Samantha Jade)" -> "up!".
            let name = e
                .text
                .split(" (")
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase();
            Cand {
                number: c.number,
                role,
                entity: c.entity.as_ref().map(|(k, _)| *k),
                rect: e.bounds,
                fields,
                order: order[c.element],
                element: c.element,
                line: line[c.element],
                distance: number_after(&all, &["distance", "away"]),
                money: money(&all),
                years: all_years(&all),
                mentioned: (!name.is_empty())
                    .then(|| context.iter().rposition(|t| t.contains(&name)))
                    .flatten(),
                name,
            }
        })
        .collect()
}

/// The first number after one of `keys` ("distance: 4 miles" -> 4).
fn number_after(text: &str, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| {
        let at = text.find(k)? + k.len();
        text[at..]
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .find(|s| !s.is_empty() && s.chars().any(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
    })
}

fn money(text: &str) -> Option<f64> {
    let at = text.find(['$', '€', '£'])?;
    // '€' and '£' take more than one byte.
    let sign = text[at..].chars().next()?;
    text[at + sign.len_utf8()..]
        .split(|c: char| !c.is_ascii_digit() && c != '.' && c != ',')
        .next()
        .and_then(|s| s.replace(',', "").parse().ok())
}

/// Every plausible year (1000-2099) in a text, in order.
fn all_years(text: &str) -> Vec<u32> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| s.len() == 4)
        .filter_map(|s| s.parse::<u32>().ok())
        .filter(|y| (1000..2100).contains(y))
        .collect()
}

/// Whether a query word matches a field word: equal, a plural, or a shared stem of at least
/// five letters.
fn matches(q: &str, w: &str) -> bool {
    if q == w {
        return true;
    }
    let (short, long) = if q.len() <= w.len() { (q, w) } else { (w, q) };
    if short.len() >= 3
        && long
            .strip_prefix(short)
            .is_some_and(|rest| matches!(rest, "s" | "es" | "'s" | "n"))
    {
        return true;
    }
    let common = q.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count();
    common >= 5 && common * 4 >= long.len() * 3
}

/// Places and the adjectives of their people where the plural and stem rules of `matches` do
/// not already pair them ("India" and "Indian" pair by those): "the Italian one" when the
/// description says Italy, "comes from France" when it says French (`with_places`).
const PLACES: &[(&str, &[&str])] = &[
    ("italy", &["italian"]),
    ("france", &["french"]),
    ("spain", &["spanish"]),
    ("japan", &["japanese"]),
    ("china", &["chinese"]),
    ("philippines", &["filipino", "philippine"]),
    ("mexico", &["mexican"]),
    ("greece", &["greek"]),
    ("turkey", &["turkish"]),
    ("thailand", &["thai"]),
    ("vietnam", &["vietnamese"]),
    ("britain", &["british"]),
    ("england", &["english"]),
    ("scotland", &["scottish", "scots"]),
    ("ireland", &["irish"]),
    ("wales", &["welsh"]),
    ("netherlands", &["dutch"]),
    ("holland", &["dutch"]),
    ("sweden", &["swedish"]),
    ("norway", &["norwegian"]),
    ("denmark", &["danish"]),
    ("finland", &["finnish"]),
    ("poland", &["polish"]),
    ("portugal", &["portuguese"]),
    ("switzerland", &["swiss"]),
    ("hungary", &["hungarian"]),
    ("ukraine", &["ukrainian"]),
    ("lebanon", &["lebanese"]),
    ("israel", &["israeli"]),
    ("iran", &["iranian", "persian"]),
    ("egypt", &["egyptian"]),
    ("morocco", &["moroccan"]),
    ("peru", &["peruvian"]),
    ("brazil", &["brazilian"]),
    ("argentina", &["argentine", "argentinian"]),
    ("chile", &["chilean"]),
    ("haiti", &["haitian"]),
    ("canada", &["canadian"]),
    ("pakistan", &["pakistani"]),
    ("bangladesh", &["bangladeshi"]),
    ("nepal", &["nepalese", "nepali"]),
    ("burma", &["burmese"]),
    ("myanmar", &["burmese"]),
    ("taiwan", &["taiwanese"]),
    ("belgium", &["belgian"]),
    ("iraq", &["iraqi"]),
    ("afghanistan", &["afghan"]),
    ("cyprus", &["cypriot"]),
    ("malta", &["maltese"]),
    ("iceland", &["icelandic"]),
    ("europe", &["european"]),
    ("sicily", &["sicilian"]),
    ("naples", &["neapolitan"]),
    ("venice", &["venetian"]),
    ("texas", &["texan"]),
    ("hawaii", &["hawaiian"]),
];

/// `words` and, after each place or people's adjective in `PLACES`, its counterparts: a
/// field that says "Italian" matches "Italy" as a word of its own.
fn with_places(mut words: Vec<String>) -> Vec<String> {
    static COUNTERPARTS: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    let counterparts = COUNTERPARTS.get_or_init(|| {
        let mut map: HashMap<&str, Vec<&str>> = HashMap::new();
        for &(place, peoples) in PLACES {
            map.entry(place).or_default().extend(peoples);
            for &people in peoples {
                map.entry(people).or_default().push(place);
            }
        }
        map
    });
    let extra: Vec<String> = words
        .iter()
        .filter_map(|w| counterparts.get(w.as_str()))
        .flatten()
        .map(|&w| w.to_owned())
        .collect();
    words.extend(extra);
    words
}

/// Lexical score of one candidate for `query_words`, each word weighted by its rarity on the
/// screen (`idf`) and each field by its weight; UI synonyms count at half weight, on the
/// screen's own elements only (a "pizza place" the assistant named is no "gps"). With `in_full`,
/// a name the words say in full ("tips") leads one they say in part ("basic tips") by a
/// tenth, which breaks what would otherwise be a tie; a question ("is there any missed
/// call?") asks for what a name is about, not the name, so it passes `false`.
fn lexical(c: &Cand, query_words: &[String], idf: &HashMap<&str, f64>, in_full: bool) -> f64 {
    let mut total = 0.0;
    for q in query_words {
        let weight = idf.get(q.as_str()).copied().unwrap_or(1.0);
        let mut best: f64 = 0.0;
        for (field, fw) in &c.fields {
            if field.iter().any(|w| matches(q, w)) {
                best = best.max(*fw);
            } else if c.rect.is_some() && synonyms(q).any(|s| field.iter().any(|w| matches(s, w))) {
                best = best.max(fw * 0.5);
            }
        }
        total += weight * best;
    }
    let said_in_full = in_full
        && c.fields.iter().any(|(field, fw)| {
            let mut content = field
                .iter()
                .filter(|w| !STOP.contains(&w.as_str()))
                .peekable();
            *fw >= 0.7
                && content.peek().is_some()
                && content.all(|w| query_words.iter().any(|q| matches(q, w)))
        });
    if said_in_full {
        total * 1.1
    } else {
        total
    }
}

fn synonyms(q: &str) -> impl Iterator<Item = &'static str> + '_ {
    SYNONYMS.iter().flat_map(move |(word, others)| {
        let hit = *word == q || others.contains(&q);
        let word: &'static str = word;
        hit.then(move || std::iter::once(word).chain(others.iter().copied()))
            .into_iter()
            .flatten()
    })
}

/// The candidates the latest dialogue turn naming two or more of them names (whole words), in
/// the order it names them ("I found Tea Garden in Fremont, Quick Lube in Milpitas"); empty when no turn
/// names two. A name inside a longer one ("Dark" in "The Dark Burning") is that longer name's.
fn listed(cands: &[Cand], context: &[Turn]) -> Vec<usize> {
    let mut by_length: Vec<usize> = (0..cands.len())
        .filter(|&i| cands[i].name.chars().count() >= 2)
        .collect();
    by_length.sort_by_key(|&i| std::cmp::Reverse(cands[i].name.len()));
    for turn in context.iter().rev() {
        let text = turn.text.to_lowercase();
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let mut named: Vec<(usize, usize)> = Vec::new();
        for &i in &by_length {
            let name = &cands[i].name;
            let free = text.match_indices(name.as_str()).find(|&(at, _)| {
                let end = at + name.len();
                let whole = !text[..at].ends_with(char::is_alphanumeric)
                    && !text[end..].starts_with(char::is_alphanumeric);
                whole && taken.iter().all(|&(s, e)| end <= s || at >= e)
            });
            if let Some((at, _)) = free {
                taken.push((at, at + name.len()));
                named.push((at, i));
            }
        }
        if named.len() >= 2 {
            named.sort_unstable();
            return named.into_iter().map(|(_, i)| i).collect();
        }
    }
    Vec::new()
}

/// `length` in steps of 2% of `extent`: sizes and edges that differ by less count as equal.
fn snap(length: f64, extent: f64) -> i64 {
    (length / (extent * 0.02)).round() as i64
}

/// Narrows an ordinal's pool to like things: "the last image" among seven equal thumbnails, an
/// ad and six rating stars counts the thumbnails. The pool keeps the one largest set of the
/// same role and size (to 2% of the screen) when it holds at least half the pool and enough
/// members to count to `k`; with two such sets, or none, the pool stays as it is.
fn like_things(pool: &mut Vec<usize>, cands: &[Cand], k: isize, size: ScreenSize) {
    let key = |i: usize| {
        let c = &cands[i];
        c.rect.map(|r| {
            (
                c.role,
                snap(r.width(), size.width),
                snap(r.height(), size.height),
            )
        })
    };
    let mut groups: HashMap<(Role, i64, i64), usize> = HashMap::new();
    for &i in pool.iter() {
        if let Some(key) = key(i) {
            *groups.entry(key).or_default() += 1;
        }
    }
    let largest = groups.values().copied().max().unwrap_or(0);
    let mut of_largest = groups.iter().filter(|(_, &count)| count == largest);
    let (Some((&group, _)), None) = (of_largest.next(), of_largest.next()) else {
        return;
    };
    if largest < pool.len() && 2 * largest >= pool.len() && largest >= k.unsigned_abs().max(2) {
        pool.retain(|&i| key(i) == Some(group));
    }
}

/// Whether a candidate sits where app bars are: its centre in the top or bottom tenth of the
/// screen.
fn in_bar(c: &Cand, size: ScreenSize) -> bool {
    c.rect.is_some_and(|r| {
        let y = r.center().1;
        y < size.height * 0.1 || y > size.height * 0.9
    })
}

/// The rows of the longest list on the screen, for an ordinal that names neither a type nor
/// words on it ("open the fourth message", "the second item in the sidebar"): the largest set
/// of like things stacked in one column (one role, left edge and width, to 2% of the screen),
/// actionable ones first among equals, when it has enough rows to count to `k`.
fn list_rows(cands: &[Cand], k: isize, size: ScreenSize) -> Option<Vec<usize>> {
    let key = |c: &Cand| {
        c.rect
            .map(|r| (c.role, snap(r.x1, size.width), snap(r.width(), size.width)))
    };
    let mut columns: HashMap<(Role, i64, i64), Vec<usize>> = HashMap::new();
    for (i, c) in cands.iter().enumerate() {
        if let Some(key) = key(c) {
            columns.entry(key).or_default().push(i);
        }
    }
    columns
        .into_values()
        .filter(|rows| rows.len() >= k.unsigned_abs().max(2))
        .max_by_key(|rows| {
            let first = rows[0];
            (
                rows.len(),
                is_actionable(cands[first].role),
                std::cmp::Reverse(first),
            )
        })
}

/// Whether a chat bubble sits on `side` (`Dir::Right`: mine; any other: theirs): it starts
/// past the margin and reaches the edge, or the other way round.
fn bubble_on(r: &Rect, side: Dir, width: f64) -> bool {
    match side {
        Dir::Right => r.x1 > width * 0.1 && r.x2 > width * 0.9,
        _ => r.x1 < width * 0.1 && r.x2 < width * 0.9,
    }
}

/// The `k`th item (from 1; -1 is the last).
fn nth<T>(items: &[T], k: isize) -> Option<&T> {
    if k < 0 {
        items.last()
    } else {
        items.get((k as usize).checked_sub(1)?)
    }
}

/// Roles a request usually acts on.
fn is_actionable(role: Role) -> bool {
    matches!(
        role,
        Role::Button
            | Role::DefaultButton
            | Role::Link
            | Role::Switch
            | Role::CheckBox
            | Role::RadioButton
            | Role::MenuItem
            | Role::Tab
            | Role::ListItem
            | Role::TextInput
            | Role::SearchInput
            | Role::ComboBox
    )
}

fn wants_match(want: Want, c: &Cand) -> bool {
    match want {
        Want::Entity(kind) => c.entity == Some(kind),
        Want::Role(roles) => roles.contains(&c.role),
    }
}

/// Each candidate's score, and whether it is the anchor of the request's relation.
fn score(cands: &[Cand], q: &Query, request: &Request<'_>) -> (Vec<f64>, Vec<bool>) {
    let n = cands.len();
    let mut anchored = vec![false; n];
    if n == 0 {
        return (Vec::new(), anchored);
    }
    // A negation word in a phrase the screen says ("do not disturb") is part of a name.
    let says = |pair: &[String; 2]| {
        cands.iter().any(|c| {
            c.fields
                .iter()
                .any(|(f, _)| f.windows(2).any(|w| w[0] == pair[0] && w[1] == pair[1]))
        })
    };
    // An ordinal in a phrase the screen says ("Last of Glass") is a word of a name.
    let named = q.ordinal_phrase.as_ref().filter(|pair| says(pair));
    let mut said = q.words.clone();
    if let Some([ordinal, _]) = named {
        said.insert(0, ordinal.clone());
    }
    // The request's words as the screen spells them.
    let q = &Query {
        words: on_screen(&said, cands),
        anchor: on_screen(&q.anchor, cands),
        negated: q.negated && !q.negations.iter().any(says),
        ordinal: q.ordinal.filter(|_| named.is_none()),
        ..q.clone()
    };
    // Rarity of each query word on this screen: a word every candidate has tells nothing.
    let mut idf = HashMap::new();
    for w in q.words.iter().chain(&q.anchor) {
        let df = cands
            .iter()
            .filter(|c| {
                c.fields
                    .iter()
                    .any(|(f, _)| f.iter().any(|x| matches(w, x)))
            })
            .count();
        idf.insert(
            w.as_str(),
            ((n as f64 + 1.0) / (df as f64 + 0.5)).ln().max(0.1),
        );
    }
    // The words that name a thing, not a kind of control. With a place on the screen ("the
    // icon at the top right") only they match: "icon" picks by role (below), not by the
    // resource ids that happen to say "ic_".
    let name_words: Vec<String> = q
        .words
        .iter()
        .filter(|w| !matches!(type_word(w), Some(Want::Role(_))))
        .cloned()
        .collect();
    let matched = if q.positions.is_empty() {
        &q.words
    } else {
        &name_words
    };
    let mut scores: Vec<f64> = cands
        .iter()
        .map(|c| lexical(c, matched, &idf, !q.asks))
        .collect();
    let max_lex = scores.iter().copied().fold(0.0, f64::max);
    if max_lex > 0.0 {
        scores.iter_mut().for_each(|s| *s /= max_lex);
    }
    let typed: Vec<bool> = cands
        .iter()
        .map(|c| q.wants.iter().any(|&w| wants_match(w, c)))
        .collect();
    if typed.iter().any(|&t| t) {
        // "the work number", "the checkbox of title": a candidate of the wanted type that does
        // not name itself takes the words of its labels, the objects around it in its cluster
        // (ReALM Algorithm 1), nearest and same-row neighbours counting most.
        let mut by_element: HashMap<usize, f64> = HashMap::new();
        for (c, s) in cands.iter().zip(&scores) {
            let e = by_element.entry(c.element).or_default();
            *e = e.max(*s);
        }
        let scale = request.screen.size.height * 0.02;
        let clusters = &request.parse.clusters;
        // When a candidate of the wanted type is itself named ("the search button"), its
        // neighbours take nothing.
        let self_named = cands
            .iter()
            .zip(&typed)
            .zip(&scores)
            .any(|((c, &t), &own)| t && own >= 0.5 && c.entity.is_none());
        let boosts: Vec<f64> = cands
            .iter()
            .zip(&typed)
            .zip(&scores)
            .map(|((c, &t), &own)| {
                if !t || own >= 0.5 || self_named {
                    return 0.0;
                }
                let Some(rect) = c.rect else { return 0.0 };
                surrounding(request.screen, clusters, c.element, 6)
                    .into_iter()
                    .filter_map(|(i, _)| {
                        let other = request.screen.elements[i].bounds?;
                        let (dx, dy) = rect.gaps(&other);
                        // Same row, or stacked right under or over it ("Elm Park
                        // Garage" over its number): as close as neighbours get.
                        let w = if dy == 0.0 {
                            1.0 / (1.0 + dx / scale)
                        } else if stacked(&rect, &other) {
                            1.0 / (1.0 + dy / scale)
                        } else {
                            0.5 / (1.0 + dx.hypot(dy) / scale)
                        };
                        Some(w * by_element.get(&i).copied().unwrap_or(0.0))
                    })
                    .fold(0.0, f64::max)
            })
            .collect();
        for (((s, &t), b), c) in scores.iter_mut().zip(&typed).zip(boosts).zip(cands) {
            // Other candidates fade, except actionable best lexical matches: "reply to this
            // email" means the Reply button, not the sender's address. When the type word is
            // the verb ("call Elm Park Garage"), the words name whose entity it is.
            *s = if t {
                *s + 0.5 + 0.8 * b
            } else if *s >= 0.99 && is_actionable(c.role) && !q.type_verb {
                *s
            } else {
                *s * 0.6
            };
        }
    } else {
        for (s, &t) in scores.iter_mut().zip(&typed) {
            if t {
                *s += 0.5;
            }
        }
    }

    let size = request.screen.size;
    let frac = |c: &Cand, d: Dir| {
        c.rect.map_or(0.0, |r| {
            let (x, y) = r.center();
            match d {
                Dir::Top => 1.0 - y / size.height,
                Dir::Bottom => y / size.height,
                Dir::Left => 1.0 - x / size.width,
                Dir::Right => x / size.width,
            }
        })
    };

    if let Some(side) = q.relation {
        let anchor_scores: Vec<f64> = cands
            .iter()
            .map(|c| lexical(c, &q.anchor, &idf, true))
            .collect();
        let best = anchor_scores.iter().copied().fold(0.0, f64::max);
        if best > 0.0 {
            for (a, &s) in anchored.iter_mut().zip(&anchor_scores) {
                *a = s >= best * 0.999;
            }
            let anchors: Vec<&Rect> = cands
                .iter()
                .zip(&anchored)
                .filter(|(_, &a)| a)
                .filter_map(|(c, _)| c.rect.as_ref())
                .collect();
            let scale = size.height.max(size.width) * 0.1;
            // "the button next to X": of the wanted type when there is one. "Press call next
            // to Elena": of the things the words name alike, when they name several.
            let any_typed = typed.iter().any(|&t| t);
            let by_name: Vec<f64> = cands
                .iter()
                .map(|c| lexical(c, &name_words, &idf, !q.asks))
                .collect();
            let top_name = by_name.iter().copied().fold(0.0, f64::max);
            let named: Vec<bool> = by_name
                .iter()
                .zip(&anchor_scores)
                .map(|(&s, &a)| top_name > 0.0 && s >= top_name * 0.99 && a < best * 0.999)
                .collect();
            let several = named.iter().filter(|&&x| x).count() >= 2;
            for ((((s, c), &a), &t), &m) in scores
                .iter_mut()
                .zip(cands)
                .zip(&anchor_scores)
                .zip(&typed)
                .zip(&named)
            {
                let Some(r) = c.rect else { continue };
                let rel = anchors
                    .iter()
                    .map(|anchor| relation_score(anchor, &r, side, scale))
                    .fold(0.0, f64::max);
                // The anchor itself is not the target.
                let own = if a >= best * 0.999 { 0.0 } else { 1.0 };
                let kind = if several && !m {
                    0.25
                } else if any_typed && !t {
                    0.5
                } else {
                    1.0
                };
                *s = *s * 0.3 + 2.0 * rel * own * kind;
            }
            // "The text below X" names one thing, as a place does.
            lead(&mut scores, PLACED);
        }
    }

    // "The number he sent": of the things the words pick, those in his bubbles (the left side
    // of a chat), the latest first.
    if let (Some(side), None) = (q.sender, q.ordinal) {
        let width = request.screen.size.width;
        let on_side: Vec<bool> = cands
            .iter()
            .map(|c| c.rect.is_some_and(|r| bubble_on(&r, side, width)))
            .collect();
        let top = scores.iter().copied().fold(0.0, f64::max);
        let latest = (0..n)
            .filter(|&i| on_side[i] && top > 0.0 && scores[i] >= top * 0.99)
            .max_by(|&a, &b| {
                let y = |i: usize| cands[i].rect.map_or(0.0, |r| r.center().1);
                y(a).total_cmp(&y(b))
            });
        if top > 0.0 {
            for (s, &o) in scores.iter_mut().zip(&on_side) {
                if o && *s >= top * 0.5 {
                    *s += 0.3;
                }
            }
        }
        if let Some(i) = latest {
            scores[i] += 0.1;
        }
    }

    if let Some(r) = q.row {
        // A grid: rows are the parse's lines holding candidates of the wanted type (or
        // actionable ones), top to bottom; the item is counted left to right in its row.
        let of_type: Vec<usize> = (0..n).filter(|&i| typed[i]).collect();
        let pool = if of_type.len() >= 2 {
            of_type
        } else {
            (0..n)
                .filter(|&i| is_actionable(cands[i].role) || cands[i].role == Role::Image)
                .collect()
        };
        let mut lines: Vec<usize> = pool
            .iter()
            .map(|&i| cands[i].line)
            .filter(|&l| l != usize::MAX)
            .collect();
        lines.sort_unstable();
        lines.dedup();
        if let Some(&line) = nth(&lines, r) {
            let mut row: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|&i| cands[i].line == line)
                .collect();
            row.sort_by(|&a, &b| {
                let x = |i: usize| cands[i].rect.map_or(0.0, |r| r.center().0);
                x(a).total_cmp(&x(b))
            });
            if let Some(&i) = nth(&row, q.column.or(q.ordinal).unwrap_or(1)) {
                scores[i] += 2.0;
            }
        }
    } else if let Some(i) = q
        .ordinal
        .filter(|_| q.ordinal_from.is_none())
        .and_then(|k| nth(&listed(cands, request.context), k).copied())
    {
        // "call the second one" after the assistant named several: the second it named.
        scores[i] += 2.0;
    } else if let Some((k, side)) = q.ordinal.zip(q.sender) {
        // "her last message": the bubbles on her side of a chat, top to bottom.
        let width = request.screen.size.width;
        let mut pool: Vec<usize> = (0..n)
            .filter(|&i| matches!(cands[i].role, Role::Label | Role::Paragraph))
            .filter(|&i| cands[i].rect.is_some_and(|r| bubble_on(&r, side, width)))
            .collect();
        like_things(&mut pool, cands, k, request.screen.size);
        pool.sort_by_key(|&i| cands[i].order);
        if let Some(&i) = nth(&pool, k) {
            scores[i] += 2.0;
        }
    } else if let Some(k) = q.ordinal {
        // The pool the ordinal counts in: candidates of the wanted type ("call the second
        // result": the second phone number, not a heading that says "results"), of those the
        // ones the words match; else all.
        let of_type: Vec<usize> = (0..n).filter(|&i| typed[i]).collect();
        let counted = if of_type.len() >= 2 {
            of_type.clone()
        } else {
            (0..n).collect()
        };
        let pool_min = counted.iter().map(|&i| scores[i]).fold(0.0, f64::max) * 0.5;
        let mut pool: Vec<usize> = counted
            .iter()
            .copied()
            .filter(|&i| scores[i] > 0.0 && scores[i] >= pool_min)
            .collect();
        if pool.len() < 2 {
            pool = of_type;
        }
        // "the third trending story": count among what surrounds the one match (ReALM
        // Algorithm 1), the actionable ones if there are enough.
        if pool.len() < 2 {
            if let Some(m) = (0..n).find(|&i| scores[i] > 0.0 && scores[i] >= pool_min) {
                let around: Vec<usize> =
                    surrounding(request.screen, &request.parse.clusters, cands[m].element, n)
                        .into_iter()
                        .map(|(e, _)| e)
                        .collect();
                let members: Vec<usize> = (0..n)
                    .filter(|&i| around.contains(&cands[i].element))
                    .collect();
                let actionable: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| is_actionable(cands[i].role))
                    .collect();
                pool = if actionable.len() >= k.unsigned_abs() {
                    actionable
                } else {
                    members
                };
            }
        }
        if pool.len() < 2 {
            // Counting down a list; counting from the left or right is along a row.
            let across = matches!(q.ordinal_from, Some(Dir::Left | Dir::Right));
            pool = (!across)
                .then(|| list_rows(cands, k, request.screen.size))
                .flatten()
                .unwrap_or_else(|| (0..n).collect());
        }
        // "The first button at the bottom", "the second icon at the top right": the ordinal
        // counts in the named part of the screen (the outer third on each named side), along
        // the row nearest a named top or bottom edge when that row holds enough.
        if !q.positions.is_empty() {
            let need = k.unsigned_abs().max(1);
            let region: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|&i| q.positions.iter().all(|&d| frac(&cands[i], d) >= 2.0 / 3.0))
                .collect();
            if region.len() >= need {
                let edge = q
                    .positions
                    .iter()
                    .find(|d| matches!(d, Dir::Top | Dir::Bottom))
                    .copied();
                let nearest = edge.and_then(|d| {
                    let i = *region
                        .iter()
                        .max_by(|&&a, &&b| frac(&cands[a], d).total_cmp(&frac(&cands[b], d)))?;
                    let row: Vec<usize> = region
                        .iter()
                        .copied()
                        .filter(|&j| {
                            cands[j]
                                .rect
                                .zip(cands[i].rect)
                                .is_some_and(|(a, b)| same_row(&a, &b))
                        })
                        .collect();
                    (row.len() >= need).then_some(row)
                });
                pool = nearest.unwrap_or(region);
            }
        } else {
            // The app bars at the top and bottom edges are named by their corner ("the icon at
            // the top right"); an ordinal counts the body's things when it holds enough of
            // them.
            let size = request.screen.size;
            // A bar is a row: a lone small thing at the bottom is not one.
            let bar = |i: usize| {
                let line = cands[i].line;
                in_bar(&cands[i], size)
                    && line != usize::MAX
                    && cands
                        .iter()
                        .filter(|c| c.line == line && in_bar(c, size))
                        .count()
                        >= 2
            };
            let body: Vec<usize> = pool.iter().copied().filter(|&i| !bar(i)).collect();
            if body.len() < pool.len() && body.len() >= k.unsigned_abs().max(2) {
                pool = body;
            }
        }
        like_things(&mut pool, cands, k, request.screen.size);
        let key = |i: usize| -> (f64, f64) {
            let c = &cands[i];
            let (x, y) = c.rect.map_or((0.0, c.order as f64), |r| r.center());
            match q.ordinal_from {
                Some(Dir::Right) => (-x, y),
                Some(Dir::Left) => (x, y),
                Some(Dir::Bottom) => (-y, x),
                Some(Dir::Top) => (y, x),
                None => (c.order as f64, 0.0),
            }
        };
        // Counting from the left or right happens along one row: the line holding most of
        // the pool (the topmost of equals), when it has enough members.
        if matches!(q.ordinal_from, Some(Dir::Left | Dir::Right)) {
            let mut per_line: HashMap<usize, usize> = HashMap::new();
            for &i in &pool {
                *per_line.entry(cands[i].line).or_default() += 1;
            }
            let row = per_line
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(&l, &count)| (l, count));
            if let Some((l, count)) = row {
                if count >= k.unsigned_abs() && l != usize::MAX {
                    pool.retain(|&i| cands[i].line == l);
                }
            }
        }
        pool.sort_by(|&a, &b| {
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        let at = if k < 0 {
            pool.len().checked_sub(1)
        } else {
            Some(k as usize - 1)
        };
        if let Some(&i) = at.and_then(|at| pool.get(at)) {
            scores[i] += 2.0;
        }
    }

    if !q.positions.is_empty() {
        let any_match = scores.iter().any(|&s| s > 0.0);
        for (s, c) in scores.iter_mut().zip(cands) {
            let p: f64 =
                q.positions.iter().map(|&d| frac(c, d)).sum::<f64>() / q.positions.len() as f64;
            // Position ranks among matching candidates; alone it is weak evidence.
            *s += if any_match && *s > 0.0 {
                0.6 * p
            } else {
                0.1 * p * p
            };
        }
        // "The icon at the top right" names one thing: the best placed of the matches gains
        // what makes the blend take it, as an ordinal's pick does (an ordinal placed by
        // position has had its pick, a relation its lead).
        if any_match && q.ordinal.is_none() && q.relation.is_none() {
            lead(&mut scores, PLACED);
        }
    }

    if let Some(sup) = q.superlative {
        let value = |c: &Cand| match sup {
            Superlative::Nearest => c.distance.map(|d| -d),
            Superlative::Cheapest => c.money.map(|m| -m),
            Superlative::Dearest => c.money,
            Superlative::Oldest => c.years.first().map(|&y| -f64::from(y)),
            Superlative::Newest => c.years.first().map(|&y| f64::from(y)),
        };
        // "Take me to the closer one" after "Would you prefer A or B?": closer of those two.
        let mut compared = listed(cands, request.context);
        if compared.len() < 2 {
            compared = (0..n).collect();
        }
        let values: Vec<f64> = compared.iter().filter_map(|&i| value(&cands[i])).collect();
        let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if values.len() >= 2 {
            for &i in &compared {
                if value(&cands[i]) == Some(best) {
                    scores[i] += 0.8;
                }
            }
        }
    }

    // "Let's go there", "send it to my car" after a turn that named one thing: that thing,
    // whatever else the words match ("the quickest route", "no traffic" describe the trip):
    // it gains more than words and a superlative can add (1 + 0.8).
    if q.refers_back {
        if let Some(last) = request.context.len().checked_sub(1) {
            let named: Vec<usize> = (0..n)
                .filter(|&i| cands[i].mentioned == Some(last))
                .collect();
            if let [i] = named[..] {
                scores[i] += 2.0;
            }
        }
    }

    // "The one from the 90's": the candidates whose fields name a year of that decade, when
    // some do and some do not.
    if let Some((from, to)) = q.years {
        let within: Vec<bool> = cands
            .iter()
            .map(|c| c.years.iter().any(|y| (from..=to).contains(y)))
            .collect();
        if within.iter().any(|&w| w) && !within.iter().all(|&w| w) {
            for (s, w) in scores.iter_mut().zip(within) {
                if w {
                    *s += 0.8;
                }
            }
        }
    }

    // Acting on an item through the control in its row: "buy the navy one" presses the "Add
    // to cart" beside "Navy headphones"; "read Keiko's mail" (no email address on the screen)
    // opens the subject link in Keiko's row. Each such control takes the best score of the
    // other things in its row, and more, so that it beats the item that named the row.
    let mail = Want::Entity(EntityKind::Email);
    let controls: &[Role] = if q.buys {
        &[Role::Button, Role::DefaultButton]
    } else if q.wants.contains(&mail) && !cands.iter().any(|c| wants_match(mail, c)) {
        &[Role::Link, Role::Button]
    } else {
        &[]
    };
    if !controls.is_empty() {
        let row_best: Vec<f64> = cands
            .iter()
            .map(|c| {
                let Some(r) = c.rect.filter(|_| controls.contains(&c.role)) else {
                    return 0.0;
                };
                cands
                    .iter()
                    .zip(&scores)
                    .filter(|(o, _)| !controls.contains(&o.role))
                    .filter(|(o, _)| o.rect.is_some_and(|or| same_row(&r, &or)))
                    .map(|(_, &s)| s)
                    .fold(0.0, f64::max)
            })
            .collect();
        for (s, b) in scores.iter_mut().zip(row_best) {
            *s += 1.5 * b;
        }
    }

    // A question about a named value ("what is the status?", "tell me the version") asks for
    // the value after its label in the row ("Status   Active"), when nothing on the screen is
    // of a kind the question names.
    if q.asks && !typed.iter().any(|&t| t) {
        let top = scores.iter().copied().fold(0.0, f64::max);
        let mut values = vec![0.0; n];
        for (l, c) in cands.iter().enumerate() {
            let Some(label) = c.rect else { continue };
            if top <= 0.0 || scores[l] < top * 0.99 || c.role != Role::Label {
                continue;
            }
            let value = (0..n)
                .filter(|&v| matches!(cands[v].role, Role::Label | Role::Paragraph | Role::Cell))
                .filter_map(|v| Some((v, cands[v].rect?)))
                .filter(|(_, r)| same_row(&label, r) && r.x1 >= label.x2 - size.width * 0.01)
                .min_by(|a, b| a.1.x1.total_cmp(&b.1.x1));
            if let Some((v, _)) = value {
                values[v] += 1.5 * scores[l];
            }
        }
        for (s, v) in scores.iter_mut().zip(values) {
            *s += v;
        }
    }

    // Negation with nothing else to go on ("not the one with X") picks the others; the ones
    // it names are ruled out, as a relation's anchor is, unless it names every candidate.
    if q.negated && q.relation.is_none() && q.ordinal.is_none() && q.superlative.is_none() {
        let top = scores.iter().copied().fold(0.0, f64::max);
        if top > 0.0 {
            let others = scores.iter().any(|&s| s < top);
            for (s, anchored) in scores.iter_mut().zip(&mut anchored) {
                *anchored |= others && *s == top;
                *s = top - *s + 0.1;
            }
        }
    }

    // "that one", "get there": with no other evidence, the most recently mentioned entity,
    // then the focused element.
    if scores.iter().all(|&s| s <= SELECT_THRESHOLD) && q.deictic {
        let latest = cands.iter().filter_map(|c| c.mentioned).max();
        for (s, c) in scores.iter_mut().zip(cands) {
            if latest.is_some() && c.mentioned == latest {
                *s += 0.2;
            }
        }
        for (s, c) in scores.iter_mut().zip(cands) {
            let focused = request.parse.candidate(c.number).is_some_and(|cand| {
                request.screen.elements[cand.element].has(deixis_parser::State::Focused)
            });
            if focused {
                *s += 0.1;
            }
        }
    }
    // The assistant just asked "Do you mean A or B?": the answer is one of those it named,
    // even when nothing in it tells them apart.
    if scores.iter().all(|&s| s <= SELECT_THRESHOLD) {
        let asked = request.context.len().checked_sub(1);
        let mentioned: Vec<usize> = (0..n)
            .filter(|&i| asked.is_some() && cands[i].mentioned == asked)
            .collect();
        if mentioned.len() >= 2 {
            scores[mentioned[0]] += SELECT_THRESHOLD * 1.2;
        }
    }
    // A question asks for words to read back ("what is the app title?"): a picture is its
    // answer only when the question names one ("what is the icon at the top?"). Machine
    // captions on icons ("a white arrow on a blue background .") share the question's words
    // without answering it.
    let names_picture = q
        .wants
        .iter()
        .any(|w| matches!(w, Want::Role(roles) if roles.contains(&Role::Image)));
    if q.asks && !names_picture {
        for (s, c) in scores.iter_mut().zip(cands) {
            if c.role == Role::Image {
                *s = s.min(SELECT_THRESHOLD) - PICTURE_IN_QUESTION;
            }
        }
    }
    (scores, anchored)
}

/// Adds `by` to the best score when one is ahead of the rest (a tie stays a tie).
fn lead(scores: &mut [f64], by: f64) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    if let [first, second, ..] = order[..] {
        if scores[first] > scores[second] {
            scores[first] += by;
        }
    }
}

/// Whether one box sits over the other: they share at least half the narrower one's width.
fn stacked(a: &Rect, b: &Rect) -> bool {
    let shared = a.x2.min(b.x2) - a.x1.max(b.x1);
    shared >= 0.5 * a.width().min(b.width())
}

/// Whether two boxes sit in one row: the middle of either lies within the other's height.
fn same_row(a: &Rect, b: &Rect) -> bool {
    let within = |y: f64, r: &Rect| r.y1 <= y && y <= r.y2;
    within(a.center().1, b) || within(b.center().1, a)
}

/// How well `r` lies on `side` of `anchor`: 1 adjacent and aligned, falling with distance.
fn relation_score(anchor: &Rect, r: &Rect, side: Option<Dir>, scale: f64) -> f64 {
    let (ax, ay) = anchor.center();
    let (x, y) = r.center();
    let (dx, dy) = anchor.gaps(r);
    let overlap_x = dx == 0.0;
    let overlap_y = dy == 0.0;
    let decay = |d: f64| 1.0 / (1.0 + d / scale);
    match side {
        Some(Dir::Bottom) if y > ay && r.y1 >= anchor.y1 => {
            decay(dy) * if overlap_x { 1.0 } else { 0.5 * decay(dx) }
        }
        Some(Dir::Top) if y < ay && r.y2 <= anchor.y2 => {
            decay(dy) * if overlap_x { 1.0 } else { 0.5 * decay(dx) }
        }
        Some(Dir::Left) if x < ax && r.x2 <= anchor.x2 => {
            decay(dx) * if overlap_y { 1.0 } else { 0.5 * decay(dy) }
        }
        Some(Dir::Right) if x > ax && r.x1 >= anchor.x1 => {
            decay(dx) * if overlap_y { 1.0 } else { 0.5 * decay(dy) }
        }
        None => decay(dx.hypot(dy)) * if overlap_x || overlap_y { 1.0 } else { 0.6 },
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests;
