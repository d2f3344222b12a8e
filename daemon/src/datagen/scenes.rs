//! Screens of four more kinds, each with the requests people make of them:
//! - a media player (phone): now playing, transport buttons known by description, a seek bar,
//!   an up-next queue ("skip this song", "play the second song in the queue", "what's
//!   playing?");
//! - a map (phone): a search box, pins named for their places, zoom and location buttons, the
//!   card of the selected place ("get directions", "the pin for Elm Park Cafe", "zoom in");
//! - a chat (phone): a header with call buttons, bubbles from both sides with links, numbers
//!   and times in them, a message box ("open the link she sent", "call the number in his last
//!   message", "reply");
//! - a GTK-like desktop dialog (1920x1080): a header bar, a sidebar of sections, a form of
//!   labelled entries, check boxes and a combo box, Cancel and Apply at the bottom right ("the
//!   third item in the sidebar", "the check box next to Show hidden files", "apply").

use super::words::{BUSINESSES, FIRST, LAST, ORDINALS, SETTINGS, STREETS, SUBJECTS, TITLE_WORDS};
use super::{capital, Gen};
use deixis_parser::format::Turn;
use deixis_parser::{Case, ElementId, ScreenSize};
use rand::seq::SliceRandom;
use rand::Rng;

const PHONE: ScreenSize = ScreenSize {
    width: 1080.0,
    height: 2400.0,
};

impl Gen<'_> {
    /// A picture-less icon button known by its description.
    fn button(&mut self, description: &str, bbox: [f64; 4]) -> ElementId {
        let id = self.add("push button", "", bbox);
        if let Some(e) = self.elements.last_mut() {
            e.description = description.to_owned();
            e.class = "IMAGE_BUTTON".into();
        }
        id
    }

    pub(super) fn media_player(&mut self) -> Case {
        let w = PHONE.width;
        self.button("Collapse", [30.0, 100.0, 150.0, 220.0]);
        self.add("label", "Now playing", [300.0, 120.0, 780.0, 200.0]);
        let more = self.button("More options", [930.0, 100.0, 1050.0, 220.0]);
        let art = self.add("image", "", [140.0, 300.0, 940.0, 1100.0]);
        let title = self.title_words();
        let artist = format!("{} {}", self.pick(FIRST), self.pick(LAST));
        let title_id = self.add("label", &title, [80.0, 1160.0, 1000.0, 1240.0]);
        let artist_id = self.add("label", &artist, [80.0, 1250.0, 1000.0, 1310.0]);
        let seek = self.add("slider", "", [80.0, 1380.0, 1000.0, 1420.0]);
        let at = self.rng.gen_range(0..4);
        let elapsed = format!("{at}:{:02}", self.rng.gen_range(0..60));
        let total = format!(
            "{}:{:02}",
            at + self.rng.gen_range(1..4),
            self.rng.gen_range(0..60)
        );
        self.add("label", &elapsed, [80.0, 1430.0, 220.0, 1480.0]);
        self.add("label", &total, [860.0, 1430.0, 1000.0, 1480.0]);
        let playing = self.rng.gen_bool(0.6);
        let names = [
            "Shuffle",
            "Previous",
            if playing { "Pause" } else { "Play" },
            "Next",
            "Repeat",
        ];
        let step = w / 5.0;
        let transport: Vec<ElementId> = names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let x = step * k as f64 + step * 0.2;
                self.button(name, [x, 1540.0, x + step * 0.6, 1700.0])
            })
            .collect();
        self.add("heading", "Up next", [80.0, 1780.0, 600.0, 1850.0]);
        let queue: Vec<(String, ElementId)> = (0..self.rng.gen_range(2..=4))
            .map(|k| {
                let song = self.title_words();
                let y = 1880.0 + k as f64 * 120.0;
                let id = self.add("list item", &song, [80.0, y, 1000.0, y + 100.0]);
                (song, id)
            })
            .collect();
        let k = self.rng.gen_range(0..queue.len());
        let (query, target) = match self.rng.gen_range(0..10) {
            0 => (
                self.say(&["skip this song", "next track", "skip"]),
                transport[3],
            ),
            1 => (
                self.say(&[
                    "go back a song",
                    "previous track",
                    "play the last song again",
                ]),
                transport[1],
            ),
            2 if playing => (
                self.say(&["pause", "pause the music", "stop playing"]),
                transport[2],
            ),
            2 => (
                self.say(&["play", "resume the song", "press play"]),
                transport[2],
            ),
            3 => (self.say(&["turn on shuffle", "shuffle"]), transport[0]),
            4 => (
                self.say(&["repeat this song", "put it on repeat"]),
                transport[4],
            ),
            5 => (
                format!("play the {} song in the queue", ORDINALS[k]),
                queue[k].1,
            ),
            6 => (format!("play {}", queue[k].0.to_lowercase()), queue[k].1),
            7 => (
                self.say(&[
                    "what's playing?",
                    "what song is this",
                    "what's the name of this song",
                ]),
                title_id,
            ),
            8 => (
                self.say(&["who sings this?", "who is the artist"]),
                artist_id,
            ),
            _ => match self.rng.gen_range(0..3) {
                0 => (
                    self.say(&["open the album cover", "show the cover art"]),
                    art,
                ),
                1 => (self.say(&["the seek bar", "drag the progress bar"]), seek),
                _ => (
                    self.say(&["more options", "the three dots at the top"]),
                    more,
                ),
            },
        };
        self.case(PHONE, Vec::new(), query, vec![target])
    }

    pub(super) fn map(&mut self) -> Case {
        let search = self.add("entry", "Search here", [40.0, 120.0, 900.0, 240.0]);
        let mic = self.button("Voice search", [920.0, 120.0, 1040.0, 240.0]);
        self.add("panel", "", [0.0, 260.0, 1080.0, 1700.0]);
        let mut names = BUSINESSES.to_vec();
        names.shuffle(self.rng);
        let pins: Vec<(&str, ElementId, f64)> = (0..self.rng.gen_range(2..=5))
            .map(|k| {
                let x = 100.0 + k as f64 * 190.0 + self.rng.gen_range(0.0..60.0);
                let y = self.rng.gen_range(400.0..1500.0);
                let id = self.button(names[k], [x, y, x + 90.0, y + 120.0]);
                (names[k], id, y)
            })
            .collect();
        let zoom_in = self.button("Zoom in", [960.0, 1300.0, 1060.0, 1400.0]);
        let zoom_out = self.button("Zoom out", [960.0, 1410.0, 1060.0, 1510.0]);
        let here = self.button("Your location", [960.0, 1560.0, 1060.0, 1660.0]);
        let (chosen, _, _) = pins[self.rng.gen_range(0..pins.len())];
        self.add("heading", chosen, [40.0, 1740.0, 1040.0, 1820.0]);
        let address = format!("{} {}", self.rng.gen_range(10..999), self.pick(STREETS));
        let address_id = self.add("label", &address, [40.0, 1830.0, 1040.0, 1890.0]);
        let stars = format!("{:.1} stars", self.rng.gen_range(30..50) as f64 / 10.0);
        self.add("label", &stars, [40.0, 1900.0, 400.0, 1950.0]);
        let actions = ["Directions", "Start", "Call", "Save", "Share"];
        let buttons: Vec<ElementId> = actions
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let x = 40.0 + k as f64 * 205.0;
                self.add("push button", a, [x, 2000.0, x + 190.0, 2100.0])
            })
            .collect();
        let (query, target) = match self.rng.gen_range(0..10) {
            0 | 1 => (
                self.say(&["get directions", "how do I get there", "directions please"]),
                buttons[0],
            ),
            2 => (
                self.say(&["start navigation", "let's go", "start"]),
                buttons[1],
            ),
            3 => (
                self.say(&["call them", "call this place", "phone them"]),
                buttons[2],
            ),
            4 => (self.say(&["save this place", "bookmark it"]), buttons[3]),
            5 => {
                let (name, id, _) = pins[self.rng.gen_range(0..pins.len())];
                (format!("tap the pin for {name}"), id)
            }
            6 => {
                let top = pins
                    .iter()
                    .min_by(|a, b| a.2.total_cmp(&b.2))
                    .map_or(pins[0].1, |p| p.1);
                (self.say(&["the pin at the top", "the highest pin"]), top)
            }
            7 => match self.rng.gen_range(0..3) {
                0 => (self.say(&["zoom in", "make the map bigger"]), zoom_in),
                1 => (self.say(&["zoom out", "show more of the map"]), zoom_out),
                _ => (self.say(&["where am I", "show my location"]), here),
            },
            8 => (
                self.say(&["what's the address?", "the address of this place"]),
                address_id,
            ),
            _ => match self.rng.gen_range(0..2) {
                0 => (
                    self.say(&["search for something else", "the search box"]),
                    search,
                ),
                _ => (self.say(&["search by voice", "the microphone"]), mic),
            },
        };
        self.case(PHONE, Vec::new(), query, vec![target])
    }

    pub(super) fn chat(&mut self) -> Case {
        let friend = format!("{} {}", self.pick(FIRST), self.pick(LAST));
        let first = friend.split(' ').next().unwrap_or("").to_owned();
        let (pronoun, object, possessive) = if self.rng.gen_bool(0.5) {
            ("she", "her", "her")
        } else {
            ("he", "him", "his")
        };
        let back = self.button("Navigate up", [20.0, 100.0, 140.0, 220.0]);
        self.add("label", &friend, [160.0, 110.0, 700.0, 210.0]);
        let call = self.button("Voice call", [800.0, 100.0, 920.0, 220.0]);
        let video = self.button("Video call", [940.0, 100.0, 1060.0, 220.0]);
        let mut y = 300.0;
        // (from the friend, kind, element)
        let mut bubbles: Vec<(bool, &str, ElementId)> = Vec::new();
        for _ in 0..self.rng.gen_range(3..=6) {
            let theirs = self.rng.gen_bool(0.55);
            let (kind, text) = match self.rng.gen_range(0..6) {
                0 => ("number", format!("my new number is {}", self.phone())),
                1 => (
                    "link",
                    format!(
                        "look at this https://{}.example.com/{}",
                        self.pick(TITLE_WORDS).to_lowercase(),
                        self.rng.gen_range(10..999)
                    ),
                ),
                2 => (
                    "address",
                    format!(
                        "meet me at {} {}",
                        self.rng.gen_range(10..999),
                        self.pick(STREETS)
                    ),
                ),
                3 => (
                    "time",
                    format!(
                        "see you at {}:{:02}",
                        self.rng.gen_range(1..12),
                        15 * self.rng.gen_range(0..4)
                    ),
                ),
                _ => ("text", capital(&self.pick(SUBJECTS).to_lowercase())),
            };
            let (x1, x2) = if theirs {
                (40.0, 760.0)
            } else {
                (320.0, 1040.0)
            };
            let id = self.add("label", &text, [x1, y, x2, y + 140.0]);
            bubbles.push((theirs, kind, id));
            y += 180.0;
        }
        let input = self.add("entry", "Message", [40.0, 2200.0, 800.0, 2320.0]);
        let attach = self.button("Attach", [820.0, 2200.0, 920.0, 2320.0]);
        let send = self.button("Send", [940.0, 2200.0, 1060.0, 2320.0]);
        let last_of = |kind: &str, theirs: bool| {
            bubbles
                .iter()
                .rev()
                .find(|b| b.1 == kind && b.0 == theirs)
                .map(|b| b.2)
        };
        let mut asks: Vec<(String, ElementId)> = vec![
            (self.say(&["reply", "type a message", "write back"]), input),
            (self.say(&["send it", "hit send"]), send),
            (self.say(&["attach a photo", "add an attachment"]), attach),
            (format!("call {first}"), call),
            (format!("video call {object}"), video),
            (self.say(&["go back", "back to the chats"]), back),
        ];
        if let Some(id) = last_of("link", true) {
            asks.push((format!("open the link {pronoun} sent"), id));
        }
        if let Some(id) = last_of("number", true) {
            asks.push((format!("save {first}'s new number"), id));
            asks.push((format!("call the number {pronoun} sent"), id));
        }
        if let Some(id) = last_of("address", true) {
            asks.push((format!("take me to the address {pronoun} sent"), id));
        }
        if let Some(id) = last_of("link", false) {
            asks.push(("open the link I sent".to_owned(), id));
        }
        if let Some(id) = last_of("time", true).or_else(|| last_of("time", false)) {
            asks.push(("add that time to my calendar".to_owned(), id));
        }
        if let Some(&(_, _, id)) = bubbles.iter().rev().find(|b| b.0) {
            // Version 1 said "copy him last message".
            let whose = if self.generator == 1 {
                object
            } else {
                possessive
            };
            asks.push((format!("copy {whose} last message"), id));
        }
        // Several asks name the same thing; the ones about the bubbles come up as often as the
        // buttons.
        let k = if asks.len() > 6 && self.rng.gen_bool(0.6) {
            self.rng.gen_range(6..asks.len())
        } else {
            self.rng.gen_range(0..asks.len())
        };
        let (query, target) = asks.swap_remove(k);
        let context = if self.rng.gen_bool(0.3) {
            vec![Turn {
                speaker: "agent".into(),
                text: format!("You have a new message from {first}."),
            }]
        } else {
            Vec::new()
        };
        self.case(PHONE, context, query, vec![target])
    }

    /// A GTK-like preferences dialog on a desktop screen.
    pub(super) fn desktop_dialog(&mut self) -> Case {
        let size = ScreenSize {
            width: 1920.0,
            height: 1080.0,
        };
        let app = capital(self.pick(TITLE_WORDS));
        self.add(
            "frame",
            &format!("{app} Preferences"),
            [360.0, 140.0, 1560.0, 940.0],
        );
        self.add(
            "label",
            &format!("{app} Preferences"),
            [760.0, 150.0, 1160.0, 200.0],
        );
        let close = self.button("Close", [1500.0, 150.0, 1550.0, 200.0]);
        let menu = self.button("Main menu", [1440.0, 150.0, 1490.0, 200.0]);
        let mut sections = SETTINGS.to_vec();
        sections.shuffle(self.rng);
        let n = self.rng.gen_range(3..=6);
        let side: Vec<(&str, ElementId)> = sections[..n]
            .iter()
            .enumerate()
            .map(|(k, &name)| {
                let y = 240.0 + k as f64 * 60.0;
                let id = self.add("list item", name, [370.0, y, 640.0, y + 50.0]);
                (name, id)
            })
            .collect();
        let mut fields = Vec::new();
        let mut y = 240.0;
        let mut labels = [
            "Folder name",
            "Default location",
            "Font size",
            "User name",
            "Server address",
            "Port",
        ]
        .to_vec();
        labels.shuffle(self.rng);
        for label in labels.iter().take(self.rng.gen_range(2..=3)) {
            let l = self.add("label", label, [680.0, y, 940.0, y + 40.0]);
            let e = self.add("entry", "", [960.0, y - 5.0, 1520.0, y + 45.0]);
            fields.push((*label, l, e));
            y += 70.0;
        }
        let mut checks = [
            "Show hidden files",
            "Start at login",
            "Check for updates",
            "Send usage statistics",
            "Use dark theme",
        ]
        .to_vec();
        checks.shuffle(self.rng);
        let boxes: Vec<(&str, ElementId)> = checks
            .iter()
            .take(self.rng.gen_range(1..=3))
            .map(|&text| {
                let id = self.add("check box", text, [680.0, y, 1200.0, y + 40.0]);
                y += 60.0;
                (text, id)
            })
            .collect();
        let combo = self.add("combo box", "Automatic", [960.0, y, 1300.0, y + 45.0]);
        self.add("label", "Theme", [680.0, y, 940.0, y + 40.0]);
        let cancel = self.add("push button", "Cancel", [1220.0, 870.0, 1370.0, 920.0]);
        let apply = self.add("push button", "Apply", [1390.0, 870.0, 1540.0, 920.0]);
        let k = self.rng.gen_range(0..side.len());
        let (query, target) = match self.rng.gen_range(0..9) {
            0 => (
                self.say(&[
                    "apply",
                    "save the changes",
                    "the apply button at the bottom",
                ]),
                apply,
            ),
            1 => (self.say(&["cancel", "never mind, cancel"]), cancel),
            2 => (
                format!("the {} item in the sidebar", ORDINALS[k]),
                side[k].1,
            ),
            3 => (format!("go to {}", side[k].0.to_lowercase()), side[k].1),
            4 => {
                let (text, id) = boxes[self.rng.gen_range(0..boxes.len())];
                (format!("tick {}", text.to_lowercase()), id)
            }
            5 => {
                let (label, _, entry) = fields[self.rng.gen_range(0..fields.len())];
                (
                    format!("the text field next to {}", label.to_lowercase()),
                    entry,
                )
            }
            6 => {
                let (label, _, entry) = fields[0];
                (
                    match self.rng.gen_range(0..2) {
                        0 => "the first entry".to_owned(),
                        _ => format!("type in the {} box", label.to_lowercase()),
                    },
                    entry,
                )
            }
            7 => (
                self.say(&["change the theme", "the theme drop-down"]),
                combo,
            ),
            _ => match self.rng.gen_range(0..2) {
                0 => (
                    self.say(&["close the window", "the x at the top right"]),
                    close,
                ),
                _ => (self.say(&["open the menu", "the menu button"]), menu),
            },
        };
        self.case(size, Vec::new(), query, vec![target])
    }

    /// One of a few phrasings.
    fn say(&mut self, phrasings: &[&str]) -> String {
        self.pick(phrasings).to_owned()
    }

    fn title_words(&mut self) -> String {
        format!("{} {}", self.pick(TITLE_WORDS), self.pick(TITLE_WORDS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deixis_parser::Element;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn cases(scene: fn(&mut Gen<'_>) -> Case) -> Vec<Case> {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        (0..300)
            .map(|_| {
                let mut g = Gen {
                    rng: &mut rng,
                    elements: Vec::new(),
                    generator: crate::datagen::GENERATOR,
                };
                scene(&mut g)
            })
            .collect()
    }

    fn target(case: &Case) -> &Element {
        assert_eq!(case.targets.len(), 1, "{}", case.query);
        case.elements
            .iter()
            .find(|e| e.id == case.targets[0])
            .expect("the target is on the screen")
    }

    fn top(e: &Element) -> f64 {
        e.bounds.map_or(f64::NAN, |b| b.y1)
    }

    /// The requests mean what they say on the screen drawn: "skip" is the Next button, "the
    /// second song in the queue" the second row under Up next, "the pin at the top" the highest
    /// pin, "the link she sent" a link in one of her bubbles (on the left).
    #[test]
    fn each_scene_points_at_what_its_request_names() {
        let mut checked = 0;
        for case in cases(|g| g.media_player()) {
            let t = target(&case);
            if ["skip this song", "next track", "skip"].contains(&case.query.as_str()) {
                assert_eq!(t.description, "Next");
                checked += 1;
            }
            let queued = case.query.strip_prefix("play the ");
            if let Some(ordinal) = queued.filter(|q| q.ends_with("song in the queue")) {
                let k = ORDINALS
                    .iter()
                    .position(|o| ordinal.starts_with(o))
                    .expect("an ordinal");
                let mut queue: Vec<&Element> = case
                    .elements
                    .iter()
                    .filter(|e| e.role_name == "list item")
                    .collect();
                queue.sort_by(|a, b| top(a).total_cmp(&top(b)));
                assert_eq!(queue[k].id, t.id, "{}", case.query);
                checked += 1;
            }
        }
        for case in cases(|g| g.map()) {
            let t = target(&case);
            if ["the pin at the top", "the highest pin"].contains(&case.query.as_str()) {
                let pins = case.elements.iter().filter(|e| {
                    e.role_name == "push button"
                        && !["Voice search", "Zoom in", "Zoom out", "Your location"]
                            .contains(&e.description.as_str())
                });
                assert!(pins.clone().all(|p| top(p) >= top(t)), "{}", case.query);
                checked += 1;
            }
            if let Some(name) = case.query.strip_prefix("tap the pin for ") {
                assert_eq!(t.description, name);
                checked += 1;
            }
        }
        for case in cases(|g| g.chat()) {
            let t = target(&case);
            if case.query.ends_with("he sent") && case.query.contains("link") {
                assert!(t.text.contains("https://"), "{}", t.text);
                assert_eq!(t.bounds.map(|b| b.x1), Some(40.0), "her or his side");
                checked += 1;
            }
            if case.query.starts_with("call the number") {
                assert!(t.text.contains(" 555-"), "{}", t.text);
                checked += 1;
            }
        }
        for case in cases(|g| g.desktop_dialog()) {
            let t = target(&case);
            if case.query.ends_with("item in the sidebar") {
                let k = ORDINALS
                    .iter()
                    .position(|o| case.query == format!("the {o} item in the sidebar"))
                    .expect("an ordinal");
                let n = case
                    .elements
                    .iter()
                    .filter(|e| e.role_name == "list item" && top(e) < top(t))
                    .count();
                assert_eq!(n, k, "{}", case.query);
                checked += 1;
            }
            if let Some(label) = case.query.strip_prefix("the text field next to ") {
                assert_eq!(t.role_name, "entry");
                let l = case
                    .elements
                    .iter()
                    .find(|e| e.text.to_lowercase() == label)
                    .expect("the label is on the screen");
                assert!((top(l) - top(t) - 5.0).abs() < 1.0, "on the label's line");
                checked += 1;
            }
        }
        assert!(checked > 150, "only {checked} requests checked");
    }
}
