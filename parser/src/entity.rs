//! Typed entities: phone numbers, emails, URLs, postal addresses, dates, times and money amounts found inside an element's text.
//!
//! Detection is three steps. Each kind has one or more regexes (compiled once, run with the
//! `regex` crate, so every search is linear in the text); each raw match goes through a validator
//! that checks what a regex cannot say cleanly (digit counts, calendar and clock ranges, the
//! characters around the match) and may shorten the span (trailing punctuation); finally
//! overlapping candidates are resolved, longest first, so the result is sorted and disjoint.
//!
//! Known gaps: month and weekday names are English only; German addresses need either a street
//! suffix (`-straße`, `-weg`, ...) or a postcode and city, and a capitalised word right before
//! the street name is taken as part of it; bare domains are recognised only for a fixed list of
//! common lower-case TLDs; unseparated digit runs are phone numbers only behind `+`, `00`,
//! `tel:` or a trunk `0`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// What a detected entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Phone,
    Email,
    Url,
    Address,
    Date,
    Time,
    Money,
}

impl EntityKind {
    /// Every kind, in declaration order.
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Phone,
        EntityKind::Email,
        EntityKind::Url,
        EntityKind::Address,
        EntityKind::Date,
        EntityKind::Time,
        EntityKind::Money,
    ];

    /// Human name used in prompts and CLI output: "phone number", "email address", "url",
    /// "address", "date", "time", "money".
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Phone => "phone number",
            EntityKind::Email => "email address",
            EntityKind::Url => "url",
            EntityKind::Address => "address",
            EntityKind::Date => "date",
            EntityKind::Time => "time",
            EntityKind::Money => "money",
        }
    }
}

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: EntityKind,
    /// Byte span into the text, on char boundaries.
    pub span: Range<usize>,
}

/// Finds typed entities in `text`.
///
/// The result is sorted by start and non-overlapping: when two matches overlap the longer one is
/// kept, ties going to the kind that comes first in [`EntityKind::ALL`]. Trailing punctuation
/// (`.,;:!?`) and closing brackets that are not part of an entity are left out of its span.
/// Never panics, and never backtracks: every search runs on the `regex` crate's automata, so
/// time grows linearly with the text.
pub fn detect(text: &str) -> Vec<Found> {
    let mut candidates = Vec::new();
    let clues = Clues::of(text);
    for rule in RULES.iter().filter(|r| (r.needs)(&clues)) {
        for m in rule.regex.find_iter(text) {
            if let Some(span) = (rule.accept)(text, m.range()) {
                if !span.is_empty() {
                    candidates.push(Found {
                        kind: rule.kind,
                        span,
                    });
                }
            }
        }
    }
    resolve_overlaps(candidates)
}

/// Keeps the longest candidates (ties: `EntityKind` order, then the earlier one) that do not
/// overlap anything kept before them, and returns them sorted by start.
fn resolve_overlaps(mut candidates: Vec<Found>) -> Vec<Found> {
    candidates.sort_by(|a, b| {
        b.span
            .len()
            .cmp(&a.span.len())
            .then(a.kind.cmp(&b.kind))
            .then(a.span.start.cmp(&b.span.start))
    });
    // Kept entities by start; they are disjoint, so only the neighbours of a new span can clash.
    let mut kept: BTreeMap<usize, Found> = BTreeMap::new();
    for candidate in candidates {
        let Range { start, end } = candidate.span;
        let clashes_before = kept
            .range(..=start)
            .next_back()
            .is_some_and(|(_, k)| k.span.end > start);
        let clashes_after = kept.range(start..).next().is_some_and(|(&s, _)| s < end);
        if !clashes_before && !clashes_after {
            kept.insert(start, candidate);
        }
    }
    kept.into_values().collect()
}

/// A regex for one kind and the validator its matches go through.
struct Rule {
    kind: EntityKind,
    regex: &'static LazyLock<Regex>,
    /// Gets the whole text and a match's span; returns the entity's span, or `None` to drop it.
    accept: fn(&str, Range<usize>) -> Option<Range<usize>>,
    /// Whether the text can hold a match at all: a cheap test that spares most texts (labels,
    /// button names) the regex search.
    needs: fn(&Clues) -> bool,
}

/// What one pass over a text says about the entities it could hold.
#[derive(Debug, Default)]
struct Clues {
    digits: usize,
    at: bool,
    dot: bool,
    colon: bool,
    /// "noon" or "midnight", any case.
    noon: bool,
}

impl Clues {
    fn of(text: &str) -> Clues {
        let mut c = Clues::default();
        for b in text.bytes() {
            match b {
                b'0'..=b'9' => c.digits += 1,
                b'@' => c.at = true,
                b'.' => c.dot = true,
                b':' => c.colon = true,
                _ => {}
            }
        }
        let bytes = text.as_bytes();
        c.noon = bytes.windows(4).any(|w| w.eq_ignore_ascii_case(b"noon"))
            || bytes
                .windows(8)
                .any(|w| w.eq_ignore_ascii_case(b"midnight"));
        c
    }
}

static RULES: [Rule; 12] = [
    Rule {
        kind: EntityKind::Phone,
        regex: &PHONE_INTERNATIONAL,
        needs: |c| c.digits >= 7,
        accept: accept_phone,
    },
    Rule {
        kind: EntityKind::Phone,
        regex: &PHONE_LOCAL,
        needs: |c| c.digits >= 7,
        accept: accept_phone,
    },
    Rule {
        kind: EntityKind::Email,
        regex: &EMAIL,
        needs: |c| c.at,
        accept: accept_email,
    },
    Rule {
        kind: EntityKind::Url,
        regex: &URL_WITH_SCHEME,
        needs: |c| c.colon,
        accept: accept_url,
    },
    Rule {
        kind: EntityKind::Url,
        regex: &URL_WWW,
        needs: |c| c.dot,
        accept: accept_url,
    },
    Rule {
        kind: EntityKind::Url,
        regex: &URL_BARE_DOMAIN,
        needs: |c| c.dot,
        accept: accept_url,
    },
    Rule {
        kind: EntityKind::Address,
        regex: &ADDRESS_NUMBER_FIRST,
        needs: |c| c.digits >= 1,
        accept: accept_number_first_address,
    },
    Rule {
        kind: EntityKind::Address,
        regex: &ADDRESS_NUMBER_AFTER,
        needs: |c| c.digits >= 1,
        accept: accept_number_after_address,
    },
    Rule {
        kind: EntityKind::Date,
        regex: &DATE_NUMERIC,
        needs: |c| c.digits >= 2,
        accept: accept_numeric_date,
    },
    Rule {
        kind: EntityKind::Date,
        regex: &DATE_WORDS,
        needs: |_| true,
        accept: accept_word_date,
    },
    Rule {
        kind: EntityKind::Time,
        regex: &TIME,
        needs: |c| c.digits >= 1 || c.noon,
        accept: accept_time,
    },
    Rule {
        kind: EntityKind::Money,
        regex: &MONEY,
        needs: |c| c.digits >= 1,
        accept: accept_money,
    },
];

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("entity patterns are valid regexes")
}

// Patterns use `(?x)` (whitespace ignored, `#` comments, `\x20` for a space) and the ASCII word
// boundary `(?-u:\b)`, which keeps the lazy DFA usable on non-ASCII text; boundaries the regex
// cannot express (no look-behind) are checked by the validators.

/// International numbers: `+1 (408) 555-0123`, `+44 20 7946 0958`, `0049 30 901820`,
/// `tel:+14085550123`.
static PHONE_INTERNATIONAL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?x)
        (?: tel: \+? | \+ | 00 )            # tel: URI, plus sign, or the 00 dialling prefix
        [1-9] [0-9]{0,13}                   # country code, or the whole number unspaced
        (?:
            (?: [\x20.\-]? \( [0-9]{1,4} \) [\x20.\-]? | [\x20.\-] )   # separator or (area code)
            [0-9]{1,14}
        ){0,7}",
    )
});

/// National numbers: North American `(408) 555-0123`, `1-800-555-0199`, `555-0123`, and numbers
/// with a leading trunk 0 such as `020 7946 0958`, `07700 900123`, `030/901820`.
static PHONE_LOCAL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?x)
          (?: 1 [\x20.\-] )?                                          # North America: 1,
          \(? [0-9]{3} \)? [\x20.\-]? [0-9]{3} [\x20.\-] [0-9]{4}     # area, exchange, line
        | [0-9]{3} - [0-9]{4}                                         # exchange and line
        | \(? 0 [0-9]{1,4} \)? [\x20\-/]?                             # trunk 0 and area code,
          [0-9]{2,8} (?: [\x20\-] [0-9]{2,8} ){0,3}                   # subscriber number",
    )
});

/// Email addresses: a local part, `@`, and a domain with at least one dot.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?x)
        [A-Za-z0-9._%+\-]+ @
        [A-Za-z0-9] (?: [A-Za-z0-9\-]* [A-Za-z0-9] )?
        (?: \. [A-Za-z0-9] (?: [A-Za-z0-9\-]* [A-Za-z0-9] )? )*
        \. [A-Za-z]{2,24} (?-u:\b)",
    )
});

/// URLs with a scheme, up to the next space, quote or angle bracket.
static URL_WITH_SCHEME: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"(?i:https?|ftps?|file)://[^\s<>"'`“”‘’]+"#));

/// URLs starting with `www.`, any TLD, optional port and path.
static URL_WWW: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?x)
        (?i:www) \.
        (?: [A-Za-z0-9] (?: [A-Za-z0-9\-]* [A-Za-z0-9] )? \. )+
        [A-Za-z]{2,24} (?-u:\b)
        (?: : [0-9]{1,5} )?
        (?: [/?\#] [^\s<>"'`“”‘’]* )?"#,
    )
});

/// Bare domains with a common lower-case TLD, optional port and path: `example.com`,
/// `gnome.org/foo`. File names (`report.pdf`, `main.rs`) do not end in one of these TLDs.
static URL_BARE_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?x)
        (?: [A-Za-z0-9] (?: [A-Za-z0-9\-]* [A-Za-z0-9] )? \. )+
        (?: com|org|net|edu|gov|mil|io|dev|app|co|uk|de|fr|eu|ca|au|jp|ch|nl|se|es|ru|cn|nz
          | br|ie|dk|fi|tv|info|biz|xyz|tech|online|blog|shop|cloud ) (?-u:\b)
        (?: : [0-9]{1,5} )?
        (?: [/?\#] [^\s<>"'`“”‘’]* )?"#,
    )
});

/// Street types that end the street name in number-first addresses, matched case-insensitively
/// ("real" only after "Camino": `accept_number_first_address`).
const STREET_TYPES: [&str; 35] = [
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "loop",
    "parkway",
    "pkwy",
    "square",
    "sq",
    "terrace",
    "ter",
    "highway",
    "hwy",
    "circle",
    "cir",
    "alley",
    "trail",
    "plaza",
    "crescent",
    "freeway",
    "expressway",
    "real",
];

/// Number-first addresses: `1 Infinite Loop, Cupertino, CA 95014`, `394 Van Ness Ave`,
/// `221B Baker Street, London NW1 6XE`.
static ADDRESS_NUMBER_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?x)
        [0-9]{{1,5}} [A-Za-z]? (?-u:\b)                # house number, maybe lettered (221B)
        (?: \x20+ (?: \p{{L}} [\p{{L}}'’\-]* \.?         # street name: the fewest words,
                   | [0-9]{{1,3}} (?i:st|nd|rd|th) )   # or ordinals (5th), that reach
        ){{1,4}}?                                      # a street type
        \x20+ (?i:{types}) (?-u:\b)                    # street type
        (?: \.? ,? \x20+ (?: Suite | Ste | Apt | Unit | Floor | Fl | \# ) \.?   # unit
            \x20* [0-9A-Za-z\-]{{1,6}} )?
        (?: \.? , \x20* (?: [0-9]{{5}} \x20+ )?        # city, maybe after a 5-digit postcode
            \p{{Lu}} \p{{Ll}} [\p{{L}}'\-]* (?: \x20 \p{{Lu}} \p{{Ll}} [\p{{L}}'\-]* ){{0,2}} )?
        (?: ,? \x20+
            (?: [A-Z]{{2}} \x20+ [0-9]{{5}} (?: -[0-9]{{4}} )?             # state and ZIP code
              | [A-Z]{{1,2}} [0-9] [A-Z0-9]? \x20? [0-9] [A-Z]{{2}} )      # UK postcode
            (?-u:\b) )?",
        types = STREET_TYPES.join("|")
    ))
});

/// Number-after addresses (German style): a street with a street suffix (`Friedrichstraße 43`),
/// or street words followed by a postcode and city (`Unter den Linden 77, 10117 Berlin`).
static ADDRESS_NUMBER_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?x)
        (?:
            \p{Lu} [\p{L}\-]*?                                   # street with a street suffix,
            (?i: straße | strasse | str\.? | weg | platz | allee | gasse | damm | ufer | chaussee )
            \x20 [0-9]{1,4} [A-Za-z]? (?-u:\b)                    # house number,
            (?: ,? \x20+ [0-9]{5}                                 # maybe postcode and city
                \x20+ \p{Lu} [\p{L}\-]* (?: \x20 am \x20 \p{Lu} [\p{L}\-]* )? )?
          |
            \p{Lu} [\p{L}\-]*                                     # capitalised street words,
            (?: \x20 (?: \p{Lu} [\p{L}\-]*                        # German particles allowed
                     | den | der | dem | die | des | am | im | an | auf | zum | zur | von | vom )
            ){0,2}
            \x20 [0-9]{1,4} [A-Za-z]? (?-u:\b)                    # house number,
            ,? \x20+ [0-9]{5}                                     # postcode and city
            \x20+ \p{Lu} [\p{L}\-]* (?: \x20 am \x20 \p{Lu} [\p{L}\-]* )?
        )",
    )
});

/// Numeric dates: year first (`2024-03-05`) or day/month first (`05/03/2024`, `3/5/24`).
static DATE_NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?x)
          [0-9]{4} [\-/.] [0-9]{1,2} [\-/.] [0-9]{1,2}
        | [0-9]{1,2} [\-/.] [0-9]{1,2} [\-/.] (?: [0-9]{4} | [0-9]{2} )",
    )
});

/// Dates with English month or weekday names (`March 5, 2024`, `Tue 5 Mar`, `Friday`) and the
/// relative days `today`, `tomorrow`, `yesterday`.
static DATE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    const WEEKDAY: &str = r"(?: mon(?:day)? | tue(?:s(?:day)?)? | wed(?:nesday)?
        | thu(?:r(?:s(?:day)?)?)? | fri(?:day)? | sat(?:urday)? | sun(?:day)? ) (?-u:\b)";
    const MONTH: &str = r"(?: jan(?:uary)? | feb(?:ruary)? | mar(?:ch)? | apr(?:il)? | may
        | june? | july? | aug(?:ust)? | sep(?:t(?:ember)?)? | oct(?:ober)? | nov(?:ember)?
        | dec(?:ember)? ) (?-u:\b) \.?";
    const DAY: &str = r"[0-9]{1,2} (?: st | nd | rd | th )? (?-u:\b)";
    const YEAR: &str = r"[0-9]{4} (?-u:\b)";
    compile(&format!(
        r"(?xi)
        (?-u:\b)
        (?:
            # (Tue,) March 5(, 2024)
            (?: {WEEKDAY} ,? \x20+ )? {MONTH} \x20+ {DAY} (?: ,? \x20+ {YEAR} )?
            # (Tue) 5 (of) March (2024)
          | (?: {WEEKDAY} ,? \x20+ )? {DAY} \x20+ (?: of \x20+ )? {MONTH} (?: ,? \x20+ {YEAR} )?
            # March 2024
          | {MONTH} ,? \x20+ {YEAR}
          | (?: monday | tuesday | wednesday | thursday | friday | saturday | sunday ) (?-u:\b)
          | (?: today | tomorrow | yesterday ) (?-u:\b)
        )"
    ))
});

/// Clock times: `10:30`, `10:30:15`, `9:15 PM`, `9am`, `9 a.m.`, `noon`, `midnight`.
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?xi)
          (?: [01]?[0-9] | 2[0-3] ) : [0-5][0-9] (?: : [0-5][0-9] )?
              (?: \x20? (?: [ap]m (?-u:\b) | [ap]\.m\. ) )?
        | (?: 1[0-2] | 0?[1-9] ) \x20? (?: [ap]m (?-u:\b) | [ap]\.m\. )
        | (?-u:\b) (?: noon | midnight ) (?-u:\b)",
    )
});

/// Money: a currency symbol or ISO code before or after an amount: `$1,299.00`, `12,50 €`,
/// `USD 20`, `CHF 9.90`.
static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    // Digits with thousands separators, or plain digits; then maybe cents.
    const AMOUNT: &str = r"(?: [0-9]{1,3} (?: [,.'’\x20\x{a0}\x{202f}] [0-9]{3} ){1,6}
        | [0-9]{1,15} ) (?: [.,] [0-9]{1,2} )?";
    const SYMBOL: &str = r"[$€£¥₹₩₽₺₪]";
    const CODE: &str = r"(?: USD | EUR | GBP | JPY | CHF | CAD | AUD | NZD | CNY | RMB | INR | SEK
        | NOK | DKK | PLN | CZK | HUF | RUB | BRL | MXN | KRW | SGD | HKD | ZAR | TRY ) (?-u:\b)";
    const SPACE: &str = r"[\x20\x{a0}\x{202f}]?";
    compile(&format!(
        r"(?x)
          (?: (?: US | CA | AU | NZ | HK | SG | A | C | R | S )? \$ | {SYMBOL} | {CODE} )
          {SPACE} {AMOUNT}
        | {AMOUNT} {SPACE} (?: {SYMBOL} | {CODE} )"
    ))
});

// --- validators ---

/// Whether the character next to a match makes it part of something longer: a letter, digit or
/// underscore, or one of `joiners` with a digit beyond it (`1.2.3`, `192.168.1.10`).
fn glued(next: Option<char>, beyond: Option<char>, joiners: &[char]) -> bool {
    match next {
        Some(c) if c.is_alphanumeric() || c == '_' => true,
        Some(c) if joiners.contains(&c) => beyond.is_some_and(char::is_numeric),
        _ => false,
    }
}

fn glued_before(text: &str, start: usize, joiners: &[char]) -> bool {
    let mut before = text[..start].chars().rev();
    glued(before.next(), before.next(), joiners)
}

fn glued_after(text: &str, end: usize, joiners: &[char]) -> bool {
    let mut after = text[end..].chars();
    glued(after.next(), after.next(), joiners)
}

/// Numeric joiners: a match next to one of these and a digit is part of a longer number.
const NUMBER_JOINERS: [char; 5] = ['.', ',', '-', '/', ':'];

/// Drops trailing `.,;:!?` and quotes, and closing brackets that have no opening partner inside
/// the span.
fn trim_trailing(text: &str, span: Range<usize>) -> Range<usize> {
    const BRACKETS: [(char, char); 4] = [('(', ')'), ('[', ']'), ('{', '}'), ('<', '>')];
    let s = &text[span.clone()];
    // Openers minus closers per bracket pair; negative means unmatched closers.
    let mut balance = [0i64; BRACKETS.len()];
    for c in s.chars() {
        for (count, (open, close)) in balance.iter_mut().zip(BRACKETS) {
            if c == open {
                *count += 1;
            } else if c == close {
                *count -= 1;
            }
        }
    }
    let mut end = span.end;
    while let Some(last) = text[span.start..end].chars().next_back() {
        let drop = match BRACKETS.iter().position(|&(_, close)| close == last) {
            Some(i) if balance[i] < 0 => {
                balance[i] += 1;
                true
            }
            Some(_) => false,
            None => matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"'),
        };
        if !drop {
            break;
        }
        end -= last.len_utf8();
    }
    span.start..end
}

fn accept_phone(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let s = &text[span.clone()];
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    // The 00 dialling prefix is not part of the E.164 number.
    let digits = digits - if s.starts_with("00") { 2 } else { 0 };
    let balanced = s.matches('(').count() == s.matches(')').count();
    let plausible = (7..=15).contains(&digits) && balanced && !is_numeric_date(s);
    let alone = !glued_before(text, span.start, &NUMBER_JOINERS)
        && !glued_after(text, span.end, &NUMBER_JOINERS);
    (plausible && alone).then_some(span)
}

fn accept_email(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let alone =
        !glued_before(text, span.start, &[]) && !glued_after(text, span.end, &['.', '-', '@']);
    alone.then_some(span)
}

fn accept_url(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let span = trim_trailing(text, span);
    let s = &text[span.clone()];
    let has_host = s.find("://").is_none_or(|i| i + 3 < s.len());
    // `@` before a bare domain makes it an email's; `.`, `/`, `-` make it part of a longer
    // name or path.
    let alone = !text[..span.start]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '/' | '\\' | '-'));
    (has_host && alone).then_some(span)
}

fn is_street_type(word: &str) -> bool {
    STREET_TYPES.iter().any(|t| t.eq_ignore_ascii_case(word))
}

/// Whether street name words look like a name rather than a phrase ("3 kids on the street"):
/// either all capitalised (a few particles allowed) or all lower case without function words.
fn plausible_street_name(words: &[&str]) -> bool {
    const PARTICLES: [&str; 10] = [
        "de", "la", "del", "der", "den", "van", "von", "du", "le", "of",
    ];
    const FUNCTION_WORDS: [&str; 40] = [
        "a", "an", "the", "on", "in", "of", "at", "to", "and", "or", "my", "your", "our", "his",
        "her", "their", "its", "this", "that", "these", "those", "for", "from", "with", "by",
        "down", "up", "along", "near", "past", "across", "into", "onto", "over", "around", "is",
        "are", "was", "were", "more",
    ];
    let ordinal = |w: &str| w.starts_with(|c: char| c.is_ascii_digit());
    let capitalised = |w: &str| w.starts_with(char::is_uppercase);
    let all_capitalised = words
        .iter()
        .all(|w| capitalised(w) || ordinal(w) || PARTICLES.contains(w));
    let all_lower_case = words
        .iter()
        .all(|w| !capitalised(w) && !FUNCTION_WORDS.contains(w));
    all_capitalised || all_lower_case
}

fn accept_number_first_address(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    if glued_before(text, span.start, &NUMBER_JOINERS) {
        return None;
    }
    // Words after the house number; the regex ends the name at the first street type after at
    // least one name word.
    let words: Vec<&str> = text[span.clone()]
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_end_matches(['.', ',']))
        .collect();
    let name_len = words.iter().skip(1).position(|w| is_street_type(w))? + 1;
    // "El Camino Real" is a street; "10 very real" is not.
    if words[name_len].eq_ignore_ascii_case("real")
        && !words[name_len - 1].eq_ignore_ascii_case("camino")
    {
        return None;
    }
    plausible_street_name(&words[..name_len]).then_some(span)
}

fn accept_number_after_address(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    (!glued_before(text, span.start, &[])).then_some(span)
}

fn is_leap_year(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Whether `day` exists in `month` of `year`.
fn is_valid_day(year: u32, month: u32, day: u32) -> bool {
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Whether `s` is exactly a valid numeric date: `2024-03-05`, `05/03/2024`, `3/5/24`
/// (day-month or month-day). Dotted dates need a four-digit year, so `1.2.3` is no date.
fn is_numeric_date(s: &str) -> bool {
    let Some(separator) = s.chars().find(|c| !c.is_ascii_digit()) else {
        return false;
    };
    let parts: Vec<&str> = s.split(separator).collect();
    let [first, second, third] = parts.as_slice() else {
        return false;
    };
    let all_digits = parts
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
    if !all_digits {
        return false;
    }
    let number = |p: &str| p.parse::<u32>().unwrap_or(0);
    let (a, b, c) = (number(first), number(second), number(third));
    match (first.len(), third.len()) {
        (4, 1 | 2) => is_valid_day(a, b, c),
        (1 | 2, 4) => is_valid_day(c, b, a) || is_valid_day(c, a, b),
        (1 | 2, 2) if separator != '.' => {
            is_valid_day(2000 + c, b, a) || is_valid_day(2000 + c, a, b)
        }
        _ => false,
    }
}

fn accept_numeric_date(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let alone = !glued_before(text, span.start, &NUMBER_JOINERS)
        && (iso_time_follows(text, span.end) || !glued_after(text, span.end, &NUMBER_JOINERS));
    (alone && is_numeric_date(&text[span.clone()])).then_some(span)
}

/// Whether `T` and a digit follow `end`, as in ISO 8601 `2024-03-05T10:30`.
fn iso_time_follows(text: &str, end: usize) -> bool {
    let mut after = text[end..].chars();
    after.next() == Some('T') && after.next().is_some_and(|c| c.is_ascii_digit())
}

/// The month (1-12) an English month name or abbreviation stands for.
fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let word = word.to_ascii_lowercase();
    MONTHS
        .iter()
        .zip(1..)
        .find(|(prefix, _)| word.starts_with(*prefix))
        .map(|(_, month)| month)
}

fn accept_word_date(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    // Lower-case month and weekday names that are also common English words.
    const AMBIGUOUS: [&str; 5] = ["may", "mar", "sat", "sun", "wed"];
    let span = trim_trailing(text, span);
    if glued_before(text, span.start, &NUMBER_JOINERS)
        || glued_after(text, span.end, &NUMBER_JOINERS)
    {
        return None;
    }
    let (mut month, mut day, mut year) = (None, None, None);
    for word in text[span.clone()]
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let number = digits.parse::<u32>().ok()?;
            if digits.len() == 4 {
                year = Some(number);
            } else {
                day = Some(number);
            }
        } else if AMBIGUOUS.contains(&word) {
            return None;
        } else if let Some(m) = month_number(word) {
            month = Some(m);
        }
    }
    match (month, day) {
        // Without a year, allow 29 February.
        (Some(month), Some(day)) => is_valid_day(year.unwrap_or(2024), month, day).then_some(span),
        _ => Some(span),
    }
}

fn accept_time(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let s = &text[span.clone()];
    let hour_digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if hour_digits > 0 {
        let hour = s[..hour_digits].parse::<u32>().ok()?;
        let twelve_hour = s[hour_digits..].bytes().any(|b| b.is_ascii_alphabetic());
        if twelve_hour && !(1..=12).contains(&hour) {
            return None;
        }
    }
    // ISO 8601 `2024-03-05T10:30`: a `T` after a digit does not glue.
    let mut before = text[..span.start].chars().rev();
    let iso = before.next() == Some('T') && before.next().is_some_and(|c| c.is_ascii_digit());
    let alone = (iso || !glued_before(text, span.start, &[':', '.']))
        && !glued_after(text, span.end, &[':', '.']);
    alone.then_some(span)
}

fn accept_money(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let alone =
        !glued_before(text, span.start, &['.', ',']) && !glued_after(text, span.end, &['.', ',']);
    alone.then_some(span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};
    use proptest::prelude::*;
    use EntityKind::*;

    fn kinds(text: &str) -> Vec<(EntityKind, &str)> {
        detect(text)
            .into_iter()
            .map(|found| (found.kind, &text[found.span]))
            .collect()
    }

    /// Each text is exactly one entity of `kind`.
    fn assert_whole(kind: EntityKind, texts: &[&str]) {
        for text in texts {
            assert_eq!(kinds(text), [(kind, *text)], "{text:?}");
        }
    }

    /// No text contains an entity of `kind`.
    fn assert_none_of(kind: EntityKind, texts: &[&str]) {
        for text in texts {
            let found = kinds(text);
            assert!(found.iter().all(|(k, _)| *k != kind), "{text:?}: {found:?}");
        }
    }

    /// Each `(text, entity)`: `entity` is the only entity found in `text`.
    fn assert_in_context(kind: EntityKind, cases: &[(&str, &str)]) {
        for (text, entity) in cases {
            assert_eq!(kinds(text), [(kind, *entity)], "{text:?}");
        }
    }

    fn check(text: &str, expect: Expect) {
        let actual: String = detect(text)
            .into_iter()
            .map(|found| format!("{:?} {:?}\n", found.kind, &text[found.span]))
            .collect();
        expect.assert_eq(&actual);
    }

    #[test]
    fn names_follow_declaration_order() {
        let names: Vec<&str> = EntityKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "phone number",
                "email address",
                "url",
                "address",
                "date",
                "time",
                "money"
            ]
        );
        assert!(EntityKind::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn phones() {
        assert_whole(
            Phone,
            &[
                "+1 (408) 555-0123",
                "+44 20 7946 0958",
                "+44 (0)20 7946 0958",
                "+49 30 901820",
                "+33 1 23 45 67 89",
                "0049 30 901820",
                "(408) 555-0123",
                "408-555-0123",
                "408.555.0123",
                "1-800-555-0199",
                "555-0123",
                "020 7946 0958",
                "07700 900123",
                "030/901820",
                "tel:+14085550123",
            ],
        );
        assert_in_context(
            Phone,
            &[
                ("Call +44 20 7946 0958.", "+44 20 7946 0958"),
                ("Phone: (408) 555-0123)", "(408) 555-0123"),
                ("Tel:408-555-0123, ext", "408-555-0123"),
            ],
        );
    }

    #[test]
    fn not_phones() {
        assert_none_of(
            Phone,
            &[
                "2024",
                "2024-03-05",
                "05-03-2024",
                "12345",
                "1234567",
                "$1,299.00",
                "12,50 €",
                "1.2.3",
                "10.12.1000",
                "10:30",
                "192.168.1.10",
                "192.168.100.200",
                "10.0.0.1",
                "+1 2",
                "1555-0123",
                "555-01234",
                "(408 555-0123",
            ],
        );
    }

    #[test]
    fn numbers_longer_than_e164_are_not_one_phone() {
        let long = "+1 408 555 0123 4567 89";
        assert!(!kinds(long).contains(&(Phone, long)), "{:?}", kinds(long));
    }

    #[test]
    fn emails() {
        assert_whole(Email, &["jane.doe+work@example.co.uk", "a@b.io"]);
        assert_in_context(
            Email,
            &[
                ("Mail me at a@b.io.", "a@b.io"),
                ("<jane.doe@example.com>", "jane.doe@example.com"),
            ],
        );
        assert_none_of(Email, &["@handle", "foo@bar", "ping @jane.doe", "a@b.io2"]);
    }

    #[test]
    fn urls() {
        assert_whole(
            Url,
            &[
                "https://example.com/a?b=c#d",
                "http://localhost:8080",
                "www.example.org/path",
                "www.example.museum",
                "example.com",
                "gnome.org/foo",
                "example.co.uk",
            ],
        );
        assert_in_context(
            Url,
            &[
                ("See https://example.com/a.", "https://example.com/a"),
                (
                    "(see https://en.wikipedia.org/wiki/Foo_(bar))",
                    "https://en.wikipedia.org/wiki/Foo_(bar)",
                ),
                ("Visit gnome.org/foo, then", "gnome.org/foo"),
                ("“https://example.com”", "https://example.com"),
            ],
        );
        assert_none_of(
            Url,
            &[
                "report.pdf",
                "main.rs",
                "v1.2",
                "example.community",
                "/usr/share/example.com",
                "http://",
                "ASP.NET",
            ],
        );
        // The domain of an email is part of the email, not a URL.
        assert_eq!(kinds("jane@example.com"), [(Email, "jane@example.com")]);
    }

    #[test]
    fn addresses() {
        assert_whole(
            Address,
            &[
                "1 Infinite Loop, Cupertino, CA 95014",
                "394 Van Ness Ave",
                "5677 springer street",
                "221B Baker Street, London NW1 6XE",
                "1600 Amphitheatre Pkwy, Mountain View, CA 94043",
                "350 5th Avenue",
                "12 Court St",
                "10 Downing Street",
                "1 Main St, Suite 200, Springfield",
                "Unter den Linden 77, 10117 Berlin",
                "Friedrichstraße 43",
                "Karl-Marx-Allee 33, 10178 Berlin",
                "Hauptstr. 5, 60311 Frankfurt am Main",
                "259 El Camino Real, Berkeley",
                "4 Camino Real",
            ],
        );
        assert_in_context(
            Address,
            &[
                ("Ship to 394 Van Ness Ave.", "394 Van Ness Ave"),
                ("We met at 5677 springer street!", "5677 springer street"),
            ],
        );
        assert_none_of(
            Address,
            &[
                "3 kids on the street",
                "5 blocks down Main Street",
                "10 more minutes down the road",
                "10 very real",
                "3 Real",
                "Street",
                "12 Street",
                "during 2024",
            ],
        );
    }

    #[test]
    fn dates() {
        assert_whole(
            Date,
            &[
                "2024-03-05",
                "05/03/2024",
                "12/25/2024",
                "3/5/24",
                "05.03.2024",
                "March 5, 2024",
                "March 5th",
                "5 March 2024",
                "5th of March",
                "Mar 5",
                "Tuesday, March 5",
                "Tue 5 Mar",
                "March 2024",
                "Friday",
                "today",
                "Tomorrow",
                "YESTERDAY",
                "Feb 29",
            ],
        );
        assert_in_context(
            Date,
            &[
                ("Due 5 Mar.", "5 Mar"),
                ("(today)", "today"),
                ("on 2024-03-05, then", "2024-03-05"),
            ],
        );
        assert_none_of(
            Date,
            &[
                "2024-13-05",
                "2024-02-30",
                "31/31/2024",
                "1.2.3",
                "1.2.24",
                "March 32",
                "Feb 30, 2023",
                "you may 5",
                "todays",
                "yesterdays",
                "12024-03-05",
                "2024-03-051",
            ],
        );
    }

    #[test]
    fn times() {
        assert_whole(
            Time,
            &[
                "10:30", "10:30:15", "9am", "9 a.m.", "9:15 PM", "21:45", "noon", "Midnight",
                "12pm", "0:05",
            ],
        );
        assert_in_context(
            Time,
            &[
                ("Starts at 10:30.", "10:30"),
                ("at 10:30 amazing", "10:30"),
                ("afternoon at 9am", "9am"),
            ],
        );
        assert_eq!(kinds("10:30-11:00"), [(Time, "10:30"), (Time, "11:00")]);
        assert_eq!(
            kinds("2024-03-05T10:30:00"),
            [(Date, "2024-03-05"), (Time, "10:30:00")]
        );
        assert_none_of(
            Time,
            &[
                "99:99",
                "24:00",
                "10:60",
                "13pm",
                "13:00 PM",
                "110:30",
                "10:305",
                "1:10:30:45",
                "16:9",
                "1:1000",
                "afternoon",
                "9amazing",
                "12.10:30",
            ],
        );
    }

    #[test]
    fn money() {
        assert_whole(
            Money,
            &[
                "$12.99",
                "$1,299.00",
                "€5",
                "5 €",
                "12,50 €",
                "1.299,00 €",
                "1 234,56 €",
                "£3.50",
                "USD 20",
                "20 USD",
                "¥1200",
                "CHF 9.90",
                "US$5",
                "12,50\u{a0}€",
            ],
        );
        assert_in_context(Money, &[("Total: $12.99.", "$12.99")]);
        assert_none_of(Money, &["12.99", "USD", "USDA 20", "$", "20 USDT"]);
    }

    #[test]
    fn overlaps_keep_the_longer_match() {
        // A date and an address both start at "5"; the address is longer.
        assert_eq!(kinds("5 March Road"), [(Address, "5 March Road")]);
        // The URL contains a time-like port and a date-like path.
        assert_eq!(
            kinds("https://x.org/2024-03-05/10:30"),
            [(Url, "https://x.org/2024-03-05/10:30")]
        );
    }

    #[test]
    fn mixed_screen_text() {
        check(
            "Meeting tomorrow at 9:15 PM with jane.doe@example.com (+1 (408) 555-0123). \
             Venue: 1 Infinite Loop, Cupertino, CA 95014 — tickets $12.99 \
             on www.example.org/path; report.pdf v1.2.3 updated 2024-03-05.",
            expect![[r#"
                Date "tomorrow"
                Time "9:15 PM"
                Email "jane.doe@example.com"
                Phone "+1 (408) 555-0123"
                Address "1 Infinite Loop, Cupertino, CA 95014"
                Money "$12.99"
                Url "www.example.org/path"
                Date "2024-03-05"
            "#]],
        );
    }

    #[test]
    fn one_megabyte_completes() {
        let unit = "Call +1 (408) 555-0123 or a@b.io, 10:30 on 2024-03-05: $12.99 — ünïcödé ";
        let text = unit.repeat((1 << 20) / unit.len() + 1);
        let per_unit = detect(unit).len();
        assert_eq!(per_unit, 5);
        assert_eq!(detect(&text).len(), per_unit * ((1 << 20) / unit.len() + 1));

        // Long runs that keep partial matches alive.
        for (piece, expected) in [
            ("1.", 0),
            ("0", 0),
            ("a.", 0),
            ("1,000", 0),
            ("x.com-", 1),
            ("9 ", 0),
            ("Aa ", 0),
            (")", 0),
        ] {
            let text = piece.repeat((1 << 20) / piece.len());
            assert_eq!(detect(&text).len(), expected, "{piece:?}");
        }
        let url = format!("https://example.com/{}", ")".repeat(1 << 20));
        assert_eq!(kinds(&url), [(Url, "https://example.com/")]);
    }

    proptest! {
        #[test]
        fn detect_returns_sorted_disjoint_char_spans(text in any::<String>()) {
            check_invariants(&text)?;
        }

        #[test]
        fn detect_returns_sorted_disjoint_char_spans_on_entity_like_text(
            text in "[0-9a-zA-Z +().,:;/@$€£#'ü-]{0,80}"
        ) {
            check_invariants(&text)?;
        }
    }

    fn check_invariants(text: &str) -> Result<(), TestCaseError> {
        let found = detect(text);
        for f in &found {
            prop_assert!(f.span.start < f.span.end && f.span.end <= text.len());
            prop_assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end));
        }
        for pair in found.windows(2) {
            prop_assert!(pair[0].span.end <= pair[1].span.start, "{:?}", pair);
        }
        Ok(())
    }
}
