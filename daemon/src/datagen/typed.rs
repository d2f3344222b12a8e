//! Questions that name what kind of value they want, not a label beside it ("what time is
//! it?", "which website is listed?", "how much does it cost?"): an app screen holds two to four
//! values of different kinds (a time, a date, an email address, a website, a phone number, a
//! price, a street address), alone on their rows, after a word that is not their kind ("Sat",
//! "Contact") or inside a sentence ("Opens at 9:30 AM"), among plain rows; the question asks
//! for one kind and the answer is the element that shows it.
//!
//! Drawn only when a run asks for them (`datagen::generate_with`'s `type_questions`), so the
//! cases of seeds drawn before they existed stay as they were.

use super::words::{APPS, BUSINESSES, CITIES, FIRST, ICONS, LAST, STREETS, UI_LABELS};
use super::Gen;
use deixis_parser::{Case, ElementId, ScreenSize};
use rand::seq::SliceRandom;
use rand::Rng;

/// A kind of value a question can ask for by name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ValueKind {
    Time,
    Date,
    Email,
    Website,
    Phone,
    Price,
    Address,
}

const KINDS: [ValueKind; 7] = [
    ValueKind::Time,
    ValueKind::Date,
    ValueKind::Email,
    ValueKind::Website,
    ValueKind::Phone,
    ValueKind::Price,
    ValueKind::Address,
];

const WEEKDAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MAIL_DOMAINS: &[&str] = &[
    "mail.com",
    "inbox.net",
    "post.org",
    "letters.io",
    "fastmail.co",
    "webpost.de",
];
const TLDS: &[&str] = &["com", "org", "net", "io", "co.uk", "app"];

impl ValueKind {
    /// Questions asking for a value of this kind.
    fn questions(self) -> &'static [&'static str] {
        match self {
            ValueKind::Time => &[
                "What time is it?",
                "What time is shown?",
                "what time does it say",
                "Tell me the time.",
                "At what time is it set?",
                "Which time is displayed?",
            ],
            ValueKind::Date => &[
                "What is the date?",
                "Which date is shown?",
                "what date does it say",
                "Tell me the date.",
                "On which day is it?",
                "What date is displayed?",
            ],
            ValueKind::Email => &[
                "Which email is shown?",
                "what's the email",
                "Give me the e-mail address.",
                "What is the mail id?",
                "Which email address is listed?",
            ],
            ValueKind::Website => &[
                "What is the website?",
                "Which site is listed?",
                "what's the web address",
                "What URL is shown?",
                "Which web page is mentioned?",
            ],
            ValueKind::Phone => &[
                "What is the phone number?",
                "Which number is shown?",
                "what's the contact number",
                "What number should I call?",
                "Tell me the telephone number.",
            ],
            ValueKind::Price => &[
                "What is the price?",
                "How much does it cost?",
                "what's the cost",
                "How much is it?",
                "What amount is shown?",
            ],
            ValueKind::Address => &[
                "What is the address?",
                "Where is it located?",
                "what's the address shown",
                "Which street address is given?",
            ],
        }
    }

    /// Words that may stand before a value on its row without saying its kind.
    fn lead_ins(self) -> &'static [&'static str] {
        match self {
            ValueKind::Time => &["Sat", "Today", "Starts", "Alarm", "Pickup", "Next bus"],
            ValueKind::Date => &["Updated", "Posted", "Member since", "Expires", "Joined"],
            ValueKind::Email => &["Contact", "Support", "Reach us", "Send to"],
            ValueKind::Website => &["Visit", "More info", "Home page", "Online"],
            ValueKind::Phone => &["Call us", "Mobile", "Office", "Hotline"],
            ValueKind::Price => &["Total", "Only", "Now", "Subtotal"],
            ValueKind::Address => &["Find us", "Location", "Office", "Pickup point"],
        }
    }

    /// Sentences a value can stand in (`{}` is the value).
    fn sentences(self) -> &'static [&'static str] {
        match self {
            ValueKind::Time => &["Opens at {}", "Your ride arrives {}", "Reminder set for {}"],
            ValueKind::Date => &["Delivered on {}", "Valid until {}", "Next payment {}"],
            ValueKind::Email => &["Write to {} for help", "Receipt sent to {}"],
            ValueKind::Website => &["Learn more at {}", "Tickets on {}"],
            ValueKind::Phone => &["For bookings call {}", "Questions? Ring {}"],
            ValueKind::Price => &["Pay {} at checkout", "Ships free over {}"],
            ValueKind::Address => &["Meet at {}", "Collect from {}"],
        }
    }
}

impl Gen<'_> {
    fn value_of(&mut self, kind: ValueKind) -> String {
        let r = &mut *self.rng;
        match kind {
            ValueKind::Time => match r.gen_range(0..3) {
                0 => format!(
                    "{}:{:02} {}",
                    r.gen_range(1..=12),
                    r.gen_range(0..60),
                    if r.gen_bool(0.5) { "AM" } else { "PM" }
                ),
                1 => format!("{:02}:{:02}", r.gen_range(0..24), r.gen_range(0..60)),
                _ => format!(
                    "{}:{:02} {}",
                    r.gen_range(1..=12),
                    r.gen_range(0..60),
                    if r.gen_bool(0.5) { "am" } else { "pm" }
                ),
            },
            ValueKind::Date => {
                let day = r.gen_range(1..=28);
                let month = r.gen_range(0..12);
                let year = r.gen_range(2019..=2027);
                match r.gen_range(0..5) {
                    0 => format!(
                        "{}, {} {day}",
                        WEEKDAYS.choose(r).unwrap_or(&"Mon"),
                        MONTHS[month]
                    ),
                    1 => format!("{} {day}, {year}", MONTHS[month]),
                    2 => format!("{:02}/{:02}/{year}", day, month + 1),
                    3 => format!("{year}-{:02}-{day:02}", month + 1),
                    _ => format!("{day} {} {year}", &MONTHS[month][..3]),
                }
            }
            ValueKind::Email => {
                let first = FIRST.choose(r).unwrap_or(&"ada").to_lowercase();
                let last = LAST.choose(r).unwrap_or(&"berg").to_lowercase();
                let domain = MAIL_DOMAINS.choose(r).unwrap_or(&"mail.com");
                match r.gen_range(0..3) {
                    0 => format!("{first}.{last}@{domain}"),
                    1 => format!("{first}{}@{domain}", r.gen_range(1..99)),
                    _ => format!("info@{}.com", squash(BUSINESSES.choose(r).unwrap_or(&"x"))),
                }
            }
            ValueKind::Website => {
                let name = squash(BUSINESSES.choose(r).unwrap_or(&"shop"));
                let tld = TLDS.choose(r).unwrap_or(&"com");
                match r.gen_range(0..3) {
                    0 => format!("www.{name}.{tld}"),
                    1 => format!("{name}.{tld}"),
                    _ => format!("https://{name}.{tld}"),
                }
            }
            ValueKind::Phone => {
                if r.gen_bool(0.6) {
                    self.phone()
                } else {
                    format!(
                        "+1 {} {} {:04}",
                        r.gen_range(200..990),
                        r.gen_range(200..990),
                        r.gen_range(0..10000)
                    )
                }
            }
            ValueKind::Price => match r.gen_range(0..4) {
                0 => format!("${}.{:02}", r.gen_range(1..500), r.gen_range(0..100)),
                1 => format!("€{}.{:02}", r.gen_range(1..500), r.gen_range(0..100)),
                2 => format!("£{}", r.gen_range(1..900)),
                _ => format!("${}", r.gen_range(1..2000)),
            },
            ValueKind::Address => format!(
                "{} {}, {}",
                r.gen_range(1..999),
                STREETS.choose(r).unwrap_or(&"Main St"),
                CITIES.choose(r).unwrap_or(&"Springfield")
            ),
        }
    }

    /// A text label (an Android `TEXT_VIEW` with no description or resource id).
    fn text_view(&mut self, text: &str, bbox: [f64; 4]) -> ElementId {
        self.view("label", "TEXT_VIEW", text, "", "", bbox)
    }

    /// An app screen with values of two to four kinds among plain rows, and a question
    /// asking for one of them by its kind.
    pub(super) fn type_question(&mut self) -> Case {
        let (size, values) = self.typed_screen();
        let (asked, target) = values[0];
        let query = (*asked.questions().choose(self.rng).unwrap_or(&"What is it?")).to_owned();
        let query = self.noisy(query);
        self.case(size, Vec::new(), query, vec![target])
    }

    /// An app screen with values of two to four different kinds among plain rows: its size,
    /// and each value's kind and element (the element showing it), in the order drawn.
    fn typed_screen(&mut self) -> (ScreenSize, Vec<(ValueKind, ElementId)>) {
        let (w, h) = self.phone_size();
        let unit = h / 20.0;
        let lower = self.rng.gen_bool(0.3);
        let app = self.pick(APPS).to_owned();
        let app_id = app.to_lowercase();
        let y = unit * 0.5;
        let nav = if self.rng.gen_bool(0.5) {
            ICONS[5]
        } else {
            ICONS[11]
        };
        self.icon(&app_id, nav, [0.0, y, unit, y + unit]);
        let title = self.label_text(lower, &app);
        self.text_view(&title, [unit * 1.3, y, w * 0.6, y + unit]);
        let mut icons = ICONS.to_vec();
        icons.shuffle(self.rng);
        let actions = self.rng.gen_range(0..=2);
        for (k, icon) in icons.into_iter().take(actions).enumerate() {
            let x = w - unit * (k + 1) as f64;
            self.icon(&app_id, icon, [x, y, x + unit, y + unit]);
        }

        let mut kinds = KINDS.to_vec();
        kinds.shuffle(self.rng);
        kinds.truncate(self.rng.gen_range(2..=4));
        // Rows: Some(kind) for a value, None for a plain label.
        let mut rows: Vec<Option<ValueKind>> = kinds.iter().copied().map(Some).collect();
        rows.extend((0..self.rng.gen_range(2..=5)).map(|_| None));
        rows.shuffle(self.rng);
        let mut labels = UI_LABELS.to_vec();
        labels.shuffle(self.rng);
        let mut labels = labels.into_iter();

        let mut values = Vec::new();
        let mut y = unit * 2.0;
        for row in rows {
            let text_box = |x1: f64, x2: f64| [x1, y, x2, y + unit];
            let id = match row {
                None => {
                    let text = self.label_text(lower, labels.next().unwrap_or("Help"));
                    self.text_view(&text, text_box(unit * 0.5, w * 0.7))
                }
                Some(kind) => {
                    let value = self.value_of(kind);
                    match self.rng.gen_range(0..3) {
                        0 => self.text_view(&value, text_box(unit * 0.5, w * 0.9)),
                        1 => {
                            let lead = *kind.lead_ins().choose(self.rng).unwrap_or(&"");
                            let lead = self.label_text(lower, lead);
                            self.text_view(&lead, text_box(unit * 0.5, w * 0.35));
                            self.text_view(&value, text_box(w * 0.4, w - unit * 0.5))
                        }
                        _ => {
                            let sentence = kind.sentences().choose(self.rng).unwrap_or(&"{}");
                            let text = sentence.replace("{}", &value);
                            self.text_view(&text, text_box(unit * 0.5, w - unit * 0.5))
                        }
                    }
                }
            };
            if let Some(kind) = row {
                values.push((kind, id));
            }
            y += unit * 1.3;
        }
        // The question asks for the first kind drawn.
        values.sort_by_key(|(kind, _)| kinds.iter().position(|k| k == kind));
        let size = ScreenSize {
            width: w,
            height: h,
        };
        (size, values)
    }
}

/// "Elm Park Cafe" -> "elmparkcafe".
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Each kind shows once, in an element whose text has that kind's form; the question
    /// asks for the first kind drawn and its answer is that kind's element.
    #[test]
    fn values_have_their_kinds_form_and_the_answer_is_the_asked_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for _ in 0..300 {
            let mut g = Gen {
                rng: &mut rng,
                elements: Vec::new(),
                generator: crate::datagen::GENERATOR,
            };
            let (_, values) = g.typed_screen();
            assert!((2..=4).contains(&values.len()));
            for (k, (kind, id)) in values.iter().enumerate() {
                assert!(values[k + 1..].iter().all(|(other, _)| other != kind));
                let text = &g.elements[id.0 as usize].text;
                let digits = text.chars().filter(char::is_ascii_digit).count();
                let holds = match kind {
                    ValueKind::Time => text.contains(':') && digits >= 3,
                    ValueKind::Date => {
                        digits >= 1
                            && (MONTHS.iter().any(|m| text.contains(&m[..3]))
                                || text.contains('/')
                                || text.contains('-'))
                    }
                    ValueKind::Email => text.contains('@'),
                    ValueKind::Website => TLDS.iter().any(|d| text.contains(&format!(".{d}"))),
                    ValueKind::Phone => digits >= 10,
                    ValueKind::Price => text.contains(['$', '€', '£']),
                    ValueKind::Address => STREETS.iter().any(|s| text.contains(s)),
                };
                assert!(holds, "{kind:?}: {text:?}");
            }
            g.elements.clear();
            let case = g.type_question();
            let target = &case.elements[case.targets[0].0 as usize];
            assert!(!target.text.is_empty(), "{}", case.query);
        }
    }
}
