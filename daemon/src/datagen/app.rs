//! Phone app screens as Android view hierarchies show them (lower-case text in some, icons known
//! only by a description or a resource id, images without text, text boxes, toggles, unnamed
//! layout panels), and two kinds of request about them:
//! - a referring expression for one element, by its name, by a relation to another element
//!   ("the image below weather", "the button beside english"), by an ordinal ("the 2nd image
//!   from the top") or by a corner ("the icon at the top right"), sometimes with a typo, a
//!   doubled space or no article;
//! - a question whose answer is an element's text ("what is the humidity?", "how many photos
//!   are there?", "what is the app name?").

use super::words::{
    APPS, COUNTED, ICONS, ORDINALS, ORDINAL_NUMBERS, PRODUCTS, READINGS, TITLE_WORDS, UI_LABELS,
};
use super::{capital, Gen};
use deixis_parser::{Case, ElementId, ScreenSize};
use rand::seq::SliceRandom;
use rand::Rng;

/// An icon: (description, resource id, what users call it), as in `words::ICONS`.
type Icon = (&'static str, &'static str, &'static str);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Text,
    Button,
    Icon,
    Image,
    Input,
    Switch,
    Check,
    /// A page indicator: one of a row of small dots.
    Dot,
}

impl Kind {
    /// What people call an element of this kind in a request.
    fn words(self) -> &'static [&'static str] {
        match self {
            Kind::Text => &["option", "text", "item"],
            Kind::Button => &["button"],
            Kind::Icon => &["icon", "button", "symbol"],
            Kind::Image => &["image", "picture", "photo"],
            Kind::Input => &["text box", "field", "input field", "text field"],
            Kind::Switch => &["toggle", "switch"],
            Kind::Check => &["checkbox", "check box"],
            Kind::Dot => &["page indicator", "dot", "page indicator icon", "indicator"],
        }
    }
}

/// An element of an app screen and what users call it ("" when it has no name).
#[derive(Clone, Debug)]
struct Item {
    id: ElementId,
    kind: Kind,
    name: String,
    row: usize,
    /// Horizontal centre.
    x: f64,
}

/// A laid-out app screen: rows from top to bottom, each left to right. Row 0 is the top bar.
struct Screen {
    size: ScreenSize,
    rows: Vec<Vec<Item>>,
    /// Whether the last row is a bottom navigation bar.
    bottom_bar: bool,
    /// The title, when it is the app's name.
    app_title: Option<ElementId>,
    /// Labelled values: (key, value element).
    readings: Vec<(String, ElementId)>,
    /// Counts: (how a user asks for it, element).
    counts: Vec<(String, ElementId)>,
}

impl Screen {
    fn items(&self) -> impl Iterator<Item = &Item> {
        self.rows.iter().flatten()
    }

    /// Items with a name no other item on the screen has.
    fn unique(&self) -> Vec<Item> {
        self.items()
            .filter(|i| !i.name.is_empty())
            .filter(|i| self.items().filter(|j| j.name == i.name).count() == 1)
            .cloned()
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Relation {
    Below,
    Above,
    Right,
    Left,
}

/// The element in `relation` to `anchor`: in the next row down (or up), the one whose centre
/// is nearest the anchor's; in the anchor's row, its neighbour on that side.
fn relate(s: &Screen, anchor: &Item, relation: Relation) -> Option<Item> {
    let nearest = |r: &Vec<Item>| -> Option<Item> {
        r.iter()
            .min_by(|a, b| (a.x - anchor.x).abs().total_cmp(&(b.x - anchor.x).abs()))
            .cloned()
    };
    let row = &s.rows[anchor.row];
    let col = row.iter().position(|i| i.id == anchor.id)?;
    match relation {
        Relation::Below => nearest(s.rows.get(anchor.row + 1)?),
        Relation::Above => nearest(s.rows.get(anchor.row.checked_sub(1)?)?),
        Relation::Right => row.get(col + 1).cloned(),
        Relation::Left => row.get(col.checked_sub(1)?).cloned(),
    }
}

/// Digits for each `#` of a pattern.
fn digits(g: &mut Gen<'_>, pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| {
            if c == '#' {
                char::from(b'0' + g.rng.gen_range(0..10u8))
            } else {
                c
            }
        })
        .collect()
}

impl Gen<'_> {
    /// Adds a view-hierarchy leaf.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn view(
        &mut self,
        role: &str,
        class: &str,
        text: &str,
        description: &str,
        resource_id: &str,
        bbox: [f64; 4],
    ) -> ElementId {
        let id = self.add(role, text, bbox);
        if let Some(e) = self.elements.last_mut() {
            e.class = class.to_owned();
            e.description = description.to_owned();
            e.resource_id = resource_id.to_owned();
        }
        id
    }

    /// An icon named by its description, its resource id, both or neither.
    pub(super) fn icon(&mut self, app: &str, icon: Icon, bbox: [f64; 4]) -> (ElementId, String) {
        let (desc, res, called) = icon;
        let (d, r) = match self.rng.gen_range(0..10) {
            0..=3 => (desc.to_owned(), String::new()),
            4..=6 => (String::new(), format!("com.{app}:id/{res}")),
            7 | 8 => (desc.to_owned(), res.to_owned()),
            _ => (String::new(), String::new()),
        };
        let named = if d.is_empty() && r.is_empty() {
            ""
        } else {
            called
        };
        let role = if self.rng.gen_bool(0.8) {
            "push button"
        } else {
            "image"
        };
        let id = self.view(role, "IMAGE_BUTTON", "", &d, &r, bbox);
        (id, named.to_owned())
    }

    /// `icon` as an item of row `row`, placed at its box's centre.
    fn icon_item(&mut self, app: &str, icon: Icon, bbox: [f64; 4], row: usize) -> Item {
        let (id, name) = self.icon(app, icon, bbox);
        Item {
            id,
            kind: Kind::Icon,
            name,
            row,
            x: (bbox[0] + bbox[2]) / 2.0,
        }
    }

    /// A number of icons drawn from `count`, spread evenly across the width `w` (icons of side
    /// `unit`), as row `row` at height `y`; `fallback` when the shuffled icons run out.
    fn icon_row(
        &mut self,
        app: &str,
        icons: &mut impl Iterator<Item = Icon>,
        fallback: Icon,
        count: std::ops::RangeInclusive<i32>,
        (w, unit): (f64, f64),
        (row, y): (usize, f64),
    ) -> Vec<Item> {
        // i32, as the committed run drew it: another type draws other numbers.
        let n = self.rng.gen_range(count);
        let step = w / n as f64;
        (0..n)
            .map(|k| {
                let icon = icons.next().unwrap_or(fallback);
                let x1 = step * k as f64 + (step - unit) / 2.0;
                self.icon_item(app, icon, [x1, y, x1 + unit, y + unit], row)
            })
            .collect()
    }

    pub(super) fn label_text(&mut self, lower: bool, text: &str) -> String {
        if lower {
            text.to_lowercase()
        } else if self.rng.gen_bool(0.1) {
            text.to_uppercase()
        } else {
            text.to_owned()
        }
    }

    /// A phone screen's width and height in pixels, one of three common sizes.
    pub(super) fn phone_size(&mut self) -> (f64, f64) {
        *[(1080.0, 1920.0), (1440.0, 2560.0), (720.0, 1280.0)]
            .choose(self.rng)
            .unwrap_or(&(1080.0, 1920.0))
    }

    /// A phone app screen of 4-8 body rows under a top bar, sometimes over a bottom bar.
    fn app_screen(&mut self) -> Screen {
        let (w, h) = self.phone_size();
        let unit = h / 20.0;
        let lower = self.rng.gen_bool(0.5);
        let app = self.pick(APPS).to_owned();
        let app_id = app.to_lowercase();
        let mut s = Screen {
            size: ScreenSize {
                width: w,
                height: h,
            },
            rows: Vec::new(),
            bottom_bar: false,
            app_title: None,
            readings: Vec::new(),
            counts: Vec::new(),
        };
        let mut icons = ICONS.to_vec();
        icons.shuffle(self.rng);
        let mut icons = icons.into_iter();
        let mut labels = UI_LABELS.to_vec();
        labels.shuffle(self.rng);
        let mut labels = labels.into_iter();

        // The top bar: navigation icon, title, 0-3 action icons.
        let mut top = Vec::new();
        let y = unit * 0.5;
        let nav = if self.rng.gen_bool(0.5) {
            ICONS[5]
        } else {
            ICONS[11]
        };
        let item = self.icon_item(&app_id, nav, [0.0, y, unit, y + unit], 0);
        top.push(item);
        let is_app = self.rng.gen_bool(0.5);
        let title = if is_app {
            app.clone()
        } else {
            labels.next().unwrap_or("Home").to_owned()
        };
        let title = self.label_text(lower, &title);
        let res = if self.rng.gen_bool(0.5) {
            "toolbar_title"
        } else {
            ""
        };
        let id = self.view(
            "label",
            "TEXT_VIEW",
            &title,
            "",
            res,
            [unit * 1.3, y, w * 0.6, y + unit],
        );
        if is_app {
            s.app_title = Some(id);
        }
        top.push(Item {
            id,
            kind: Kind::Text,
            name: title.to_lowercase(),
            row: 0,
            x: (unit * 1.3 + w * 0.6) / 2.0,
        });
        let actions = self.rng.gen_range(0..=3);
        for k in 0..actions {
            let x = w - unit * (actions - k) as f64;
            let icon = icons.next().unwrap_or(ICONS[0]);
            let item = self.icon_item(&app_id, icon, [x, y, x + unit, y + unit], 0);
            top.push(item);
        }
        s.rows.push(top);

        let mut y = unit * 2.0;
        let body = self.rng.gen_range(4..=8);
        for _ in 0..body {
            // Room for an image row with captions above the bottom bar.
            if y > h - unit * 5.6 {
                break;
            }
            let row = s.rows.len();
            let mut items = Vec::new();
            let mut height = unit;
            match self.rng.gen_range(0..100) {
                // A list row, sometimes with a control at its end.
                0..=29 => {
                    // Sometimes an icon leads the row (a side menu, a settings list).
                    let mut left = unit * 0.5;
                    if self.rng.gen_bool(0.35) {
                        let icon = icons.next().unwrap_or(ICONS[6]);
                        let bbox = [unit * 0.3, y, unit * 1.3, y + unit];
                        items.push(self.icon_item(&app_id, icon, bbox, row));
                        left = unit * 1.6;
                    }
                    let text = labels.next().unwrap_or("Help");
                    let text = self.label_text(lower, text);
                    let res = if self.rng.gen_bool(0.3) {
                        "textViewItemTitle"
                    } else {
                        ""
                    };
                    let id = self.view(
                        "label",
                        "TEXT_VIEW",
                        &text,
                        "",
                        res,
                        [left, y, w * 0.7, y + unit],
                    );
                    items.push(Item {
                        id,
                        kind: Kind::Text,
                        name: text.to_lowercase(),
                        row,
                        x: (left + w * 0.7) / 2.0,
                    });
                    let bbox = [w - unit * 1.5, y, w - unit * 0.5, y + unit];
                    match self.rng.gen_range(0..5) {
                        0 => {
                            let id = self.view("toggle button", "SWITCH", "", "", "", bbox);
                            items.push(Item {
                                id,
                                kind: Kind::Switch,
                                name: String::new(),
                                row,
                                x: w - unit,
                            });
                        }
                        1 => {
                            let id = self.view("check box", "CHECK_BOX", "", "", "", bbox);
                            items.push(Item {
                                id,
                                kind: Kind::Check,
                                name: String::new(),
                                row,
                                x: w - unit,
                            });
                        }
                        2 => {
                            let icon = icons.next().unwrap_or(ICONS[1]);
                            items.push(self.icon_item(&app_id, icon, bbox, row));
                        }
                        _ => {}
                    }
                }
                // Images side by side, sometimes captioned in the row below.
                30..=44 => {
                    let n = self.rng.gen_range(1..=3);
                    height = unit * 3.0;
                    let step = w / n as f64;
                    for k in 0..n {
                        let x1 = step * k as f64 + unit * 0.2;
                        let res = if self.rng.gen_bool(0.4) {
                            "imageViewThumbnail"
                        } else {
                            ""
                        };
                        let id = self.view(
                            "image",
                            "IMAGE_VIEW",
                            "",
                            "",
                            res,
                            [x1, y, x1 + step - unit * 0.4, y + height],
                        );
                        items.push(Item {
                            id,
                            kind: Kind::Image,
                            name: String::new(),
                            row,
                            x: x1 + step / 2.0,
                        });
                    }
                    if self.rng.gen_bool(0.5) {
                        s.rows.push(items);
                        items = Vec::new();
                        y += height + unit * 0.2;
                        height = unit * 0.8;
                        for k in 0..n {
                            let x1 = step * k as f64 + unit * 0.2;
                            let caption = if self.rng.gen_bool(0.5) {
                                format!("{} {}", self.pick(TITLE_WORDS), self.pick(TITLE_WORDS))
                            } else {
                                capital(self.pick(PRODUCTS))
                            };
                            let caption = self.label_text(lower, &caption);
                            let id = self.view(
                                "label",
                                "TEXT_VIEW",
                                &caption,
                                "",
                                "",
                                [x1, y, x1 + step - unit * 0.4, y + height],
                            );
                            items.push(Item {
                                id,
                                kind: Kind::Text,
                                name: caption.to_lowercase(),
                                row: row + 1,
                                x: x1 + step / 2.0,
                            });
                        }
                    }
                }
                // A text box, labelled on its left or by its hint.
                45..=56 => {
                    let key = *[
                        "Email",
                        "Password",
                        "Username",
                        "Name",
                        "Phone",
                        "Search",
                        "Address",
                        "City",
                        "Zip code",
                        "Message",
                        "Amount",
                        "Promo code",
                    ]
                    .choose(self.rng)
                    .unwrap_or(&"Name");
                    let key_shown = self.label_text(lower, key);
                    let res = format!("et_{}", key.to_lowercase().replace(' ', "_"));
                    if self.rng.gen_bool(0.5) {
                        let id = self.view(
                            "label",
                            "TEXT_VIEW",
                            &key_shown,
                            "",
                            "",
                            [unit * 0.5, y, w * 0.3, y + unit],
                        );
                        items.push(Item {
                            id,
                            kind: Kind::Text,
                            name: key.to_lowercase(),
                            row,
                            x: w * 0.15,
                        });
                        let res = if self.rng.gen_bool(0.5) {
                            res
                        } else {
                            String::new()
                        };
                        let id = self.view(
                            "entry",
                            "TEXT_INPUT",
                            "",
                            "",
                            &res,
                            [w * 0.32, y, w - unit * 0.5, y + unit],
                        );
                        items.push(Item {
                            id,
                            kind: Kind::Input,
                            name: String::new(),
                            row,
                            x: w * 0.66,
                        });
                    } else {
                        let id = self.view(
                            "entry",
                            "TEXT_INPUT",
                            &key_shown,
                            "",
                            &res,
                            [unit * 0.5, y, w - unit * 0.5, y + unit],
                        );
                        items.push(Item {
                            id,
                            kind: Kind::Input,
                            name: key.to_lowercase(),
                            row,
                            x: w / 2.0,
                        });
                    }
                }
                // Buttons side by side.
                57..=69 => {
                    let n = self.rng.gen_range(1..=3);
                    let step = w / n as f64;
                    for k in 0..n {
                        let text = labels.next().unwrap_or("OK");
                        let text = self.label_text(lower, text);
                        let x1 = step * k as f64 + unit * 0.3;
                        let id = self.view(
                            "push button",
                            "TEXT_BUTTON",
                            &text,
                            "",
                            "",
                            [x1, y, x1 + step - unit * 0.6, y + unit],
                        );
                        items.push(Item {
                            id,
                            kind: Kind::Button,
                            name: text.to_lowercase(),
                            row,
                            x: x1 + step / 2.0,
                        });
                    }
                }
                // A labelled value.
                70..=81 => {
                    let (key, pattern) = *READINGS.choose(self.rng).unwrap_or(&READINGS[0]);
                    if s.readings.iter().any(|(k, _)| k == key) {
                        continue;
                    }
                    let value = digits(self, pattern);
                    let key_shown = self.label_text(lower, key);
                    let id = self.view(
                        "label",
                        "TEXT_VIEW",
                        &key_shown,
                        "",
                        "",
                        [unit * 0.5, y, w * 0.5, y + unit],
                    );
                    items.push(Item {
                        id,
                        kind: Kind::Text,
                        name: key.to_lowercase(),
                        row,
                        x: w * 0.25,
                    });
                    let id = self.view(
                        "label",
                        "TEXT_VIEW",
                        &value,
                        "",
                        "",
                        [w * 0.55, y, w - unit * 0.5, y + unit],
                    );
                    items.push(Item {
                        id,
                        kind: Kind::Text,
                        name: value.to_lowercase(),
                        row,
                        x: w * 0.77,
                    });
                    s.readings.push((key.to_lowercase(), id));
                }
                // A count.
                82..=89 => {
                    let (noun, asked) = *COUNTED.choose(self.rng).unwrap_or(&COUNTED[0]);
                    if s.counts.iter().any(|(k, _)| k == asked) {
                        continue;
                    }
                    let text = format!("{} {noun}", self.rng.gen_range(0..60));
                    let text = self.label_text(lower, &text);
                    let id = self.view(
                        "label",
                        "TEXT_VIEW",
                        &text,
                        "",
                        "",
                        [unit * 0.5, y, w * 0.6, y + unit],
                    );
                    items.push(Item {
                        id,
                        kind: Kind::Text,
                        name: text.to_lowercase(),
                        row,
                        x: w * 0.3,
                    });
                    s.counts.push((asked.to_owned(), id));
                }
                // Page indicators: a row of small unnamed dots under a carousel.
                95..=99 => {
                    let n = self.rng.gen_range(3..=8);
                    let dot = unit * 0.3;
                    let x0 = w / 2.0 - n as f64 * dot;
                    let res = if self.rng.gen_bool(0.5) {
                        "page_indicator"
                    } else {
                        ""
                    };
                    height = dot;
                    for k in 0..n {
                        let x1 = x0 + k as f64 * dot * 2.0;
                        let id = self.view(
                            "image",
                            "IMAGE_VIEW",
                            "",
                            "",
                            res,
                            [x1, y, x1 + dot, y + dot],
                        );
                        items.push(Item {
                            id,
                            kind: Kind::Dot,
                            name: String::new(),
                            row,
                            x: x1 + dot / 2.0,
                        });
                    }
                }
                // A row of action icons.
                _ => {
                    items =
                        self.icon_row(&app_id, &mut icons, ICONS[2], 2..=4, (w, unit), (row, y));
                }
            }
            y += height + unit * 0.3;
            s.rows.push(items);
        }

        if self.rng.gen_bool(0.4) {
            let row = s.rows.len();
            let y = h - unit * 1.2;
            let items = self.icon_row(&app_id, &mut icons, ICONS[21], 3..=4, (w, unit), (row, y));
            s.rows.push(items);
            s.bottom_bar = true;
        }
        self.containers(&s, unit);
        s
    }

    /// The layout containers a view hierarchy also lists: a status-bar or root panel, and a
    /// panel round some rows. They have no text and nobody asks for them, but they are
    /// candidates, as on real screens (where more than half of the elements have no name).
    fn containers(&mut self, s: &Screen, unit: f64) {
        let ScreenSize { width: w, .. } = s.size;
        let h = s.size.height;
        if self.rng.gen_bool(0.6) {
            let res = if self.rng.gen_bool(0.5) {
                "statusBarBackground"
            } else {
                ""
            };
            self.view("panel", "View", "", "", res, [0.0, 0.0, w, unit * 0.4]);
        }
        if self.rng.gen_bool(0.4) {
            let bar = [0.0, h - unit * 0.15, w, h];
            self.view("panel", "View", "", "", "navigationBarBackground", bar);
        }
        for row in &s.rows {
            if row.is_empty() || !self.rng.gen_bool(0.35) {
                continue;
            }
            let boxes: Vec<[f64; 4]> = row
                .iter()
                .filter_map(|i| self.elements.get(i.id.0 as usize)?.bounds)
                .map(|b| [b.x1, b.y1, b.x2, b.y2])
                .collect();
            let top = boxes.iter().map(|b| b[1]).fold(f64::MAX, f64::min);
            let bottom = boxes.iter().map(|b| b[3]).fold(f64::MIN, f64::max);
            let (role, class) = *[
                ("panel", "View"),
                ("panel", "LinearLayout"),
                ("unknown", "FrameLayout"),
                ("unknown", "RelativeLayout"),
            ]
            .choose(self.rng)
            .unwrap_or(&("panel", "View"));
            let res = if self.rng.gen_bool(0.5) {
                *[
                    "content",
                    "container",
                    "root_layout",
                    "toolbar",
                    "appbar",
                    "recyclerView",
                    "list",
                    "ad_container",
                    "header",
                    "card_view",
                ]
                .choose(self.rng)
                .unwrap_or(&"content")
            } else {
                ""
            };
            self.view(
                role,
                class,
                "",
                "",
                res,
                [0.0, top - unit * 0.1, w, bottom + unit * 0.1],
            );
        }
    }

    /// A request as people type them: now and then a doubled space, a letter dropped or two
    /// letters swapped in a longer word, or the article left out.
    pub(super) fn noisy(&mut self, query: String) -> String {
        let mut words: Vec<String> = query.split(' ').map(str::to_owned).collect();
        if self.rng.gen_bool(0.1) {
            let long: Vec<usize> = (0..words.len())
                .filter(|&k| words[k].chars().count() >= 5 && words[k].is_ascii())
                .collect();
            if let Some(&k) = long.choose(self.rng) {
                let mut chars: Vec<char> = words[k].chars().collect();
                let at = self.rng.gen_range(1..chars.len() - 1);
                if self.rng.gen_bool(0.5) {
                    chars.remove(at);
                } else {
                    chars.swap(at, at + 1);
                }
                words[k] = chars.into_iter().collect();
            }
        }
        if self.rng.gen_bool(0.1) {
            if let Some(k) = words.iter().position(|w| w == "the") {
                words.remove(k);
            }
        }
        if words.len() > 1 && self.rng.gen_bool(0.12) {
            let k = self.rng.gen_range(0..words.len() - 1);
            words[k].push(' ');
        }
        words.join(" ")
    }

    /// A referring expression for one element of an app screen.
    pub(super) fn app_refer(&mut self) -> Case {
        let s = self.app_screen();
        for _ in 0..8 {
            let found = match self.rng.gen_range(0..10) {
                0..=2 => self.by_name(&s),
                3..=5 => self.by_relation(&s),
                6 | 7 => self.by_ordinal(&s),
                _ => self.by_corner(&s),
            };
            if let Some((query, target)) = found {
                let query = self.noisy(query);
                return self.case(s.size, Vec::new(), query, vec![target]);
            }
        }
        // Every screen has a named top-bar title.
        let title = &s.rows[0][1];
        let query = format!("{} {}", self.verb(), title.name);
        self.case(s.size, Vec::new(), query, vec![title.id])
    }

    /// "click on the", "select", ...
    fn verb(&mut self) -> String {
        let verb = *[
            "click on the",
            "click the",
            "click on",
            "tap on the",
            "tap the",
            "press the",
            "select the",
            "select",
            "open the",
            "go to",
            "hit the",
            "choose the",
        ]
        .choose(self.rng)
        .unwrap_or(&"click on the");
        verb.to_owned()
    }

    fn kind_word(&mut self, kind: Kind) -> String {
        (*kind.words().choose(self.rng).unwrap_or(&"item")).to_owned()
    }

    fn by_name(&mut self, s: &Screen) -> Option<(String, ElementId)> {
        let t = s.unique().choose(self.rng)?.clone();
        let verb = self.verb();
        let word = if t.kind == Kind::Text && self.rng.gen_bool(0.5) {
            String::new()
        } else {
            format!(" {}", self.kind_word(t.kind))
        };
        Some((format!("{verb} {}{word}", t.name), t.id))
    }

    fn by_relation(&mut self, s: &Screen) -> Option<(String, ElementId)> {
        let anchor = s.unique().choose(self.rng)?.clone();
        let relation = *[
            Relation::Below,
            Relation::Above,
            Relation::Right,
            Relation::Left,
        ]
        .choose(self.rng)?;
        let target = relate(s, &anchor, relation)?;
        let words: &[&str] = match relation {
            Relation::Below => &["below", "under", "which is below", "just below"],
            Relation::Above => &["above", "on top of", "which is above"],
            Relation::Right => &["beside", "next to", "right to", "to the right of", "after"],
            Relation::Left => &["left to", "before", "to the left of", "left of"],
        };
        let relation = *words.choose(self.rng)?;
        let verb = self.verb();
        let word = self.kind_word(target.kind);
        let anchor_name = match self.rng.gen_range(0..4) {
            0 => format!("the text {}", anchor.name),
            1 => format!("{} {}", anchor.name, self.kind_word(anchor.kind)),
            _ => anchor.name.clone(),
        };
        Some((format!("{verb} {word} {relation} {anchor_name}"), target.id))
    }

    fn by_ordinal(&mut self, s: &Screen) -> Option<(String, ElementId)> {
        let kind = *[
            Kind::Image,
            Kind::Icon,
            Kind::Button,
            Kind::Text,
            Kind::Input,
            Kind::Check,
            Kind::Switch,
            Kind::Dot,
        ]
        .choose(self.rng)?;
        // Body rows only: the bars are named by corner.
        let last_body = s.rows.len() - usize::from(s.bottom_bar);
        let of_kind: Vec<Item> = s.rows[1..last_body]
            .iter()
            .flatten()
            .filter(|i| i.kind == kind)
            .cloned()
            .collect();
        if of_kind.len() < 2 {
            return None;
        }
        let word = self.kind_word(kind);
        let verb = self.verb();
        let same_row = of_kind.iter().all(|i| i.row == of_kind[0].row);
        let k = self.rng.gen_range(0..of_kind.len().min(ORDINALS.len()));
        let ordinal = if self.rng.gen_bool(0.5) {
            ORDINALS[k]
        } else {
            ORDINAL_NUMBERS[k]
        };
        let rows_apart = of_kind
            .iter()
            .all(|i| of_kind.iter().filter(|j| j.row == i.row).count() == 1);
        let query = if same_row {
            if self.rng.gen_bool(0.5) {
                let from_right = of_kind.len() - 1 - k;
                let ordinal = ORDINALS.get(from_right)?;
                return Some((
                    format!("{verb} {ordinal} {word} from the right"),
                    of_kind[k].id,
                ));
            }
            format!("{verb} {ordinal} {word} from the left")
        } else if rows_apart {
            if k == of_kind.len() - 1 && self.rng.gen_bool(0.4) {
                format!("{verb} last {word}")
            } else if self.rng.gen_bool(0.3) {
                let from_bottom = of_kind.len() - 1 - k;
                let ordinal = ORDINALS.get(from_bottom)?;
                format!("{verb} {ordinal} {word} from the bottom")
            } else if self.rng.gen_bool(0.5) {
                format!("{verb} {ordinal} {word} from the top")
            } else {
                format!("{verb} {ordinal} {word}")
            }
        } else {
            // Reading order: top to bottom, then left to right.
            format!("{verb} {ordinal} {word}")
        };
        Some((query, of_kind[k].id))
    }

    fn by_corner(&mut self, s: &Screen) -> Option<(String, ElementId)> {
        let verb = self.verb();
        if s.bottom_bar && self.rng.gen_bool(0.4) {
            let bar = s.rows.last()?;
            let k = self.rng.gen_range(0..bar.len());
            let t = &bar[k];
            let place = if k == 0 {
                "at the bottom left".to_owned()
            } else if k == bar.len() - 1 {
                "at the bottom right".to_owned()
            } else if !t.name.is_empty() {
                return Some((format!("{verb} {} icon at the bottom", t.name), t.id));
            } else {
                return None;
            };
            let word = self.kind_word(Kind::Icon);
            return Some((format!("{verb} {word} {place}"), t.id));
        }
        let top = &s.rows[0];
        let word = self.kind_word(Kind::Icon);
        if top.len() > 2 && self.rng.gen_bool(0.7) {
            let t = top.last()?;
            let name = if t.name.is_empty() || self.rng.gen_bool(0.5) {
                String::new()
            } else {
                format!("{} ", t.name)
            };
            let place = *[
                "at the top right",
                "at the top right corner",
                "on the top right",
                "in the top right corner",
            ]
            .choose(self.rng)?;
            return Some((format!("{verb} {name}{word} {place}"), t.id));
        }
        let place = *[
            "at the top left",
            "at the top left corner",
            "on the top left",
        ]
        .choose(self.rng)?;
        Some((format!("{verb} {word} {place}"), top[0].id))
    }

    /// A question about an app screen whose answer is one element's text.
    pub(super) fn app_question(&mut self) -> Case {
        let mut s = self.app_screen();
        for _ in 0..20 {
            if !s.readings.is_empty() || !s.counts.is_empty() || s.app_title.is_some() {
                break;
            }
            self.elements.clear();
            s = self.app_screen();
        }
        let mut asks: Vec<(String, ElementId)> = Vec::new();
        if let Some(title) = s.app_title {
            let q = *[
                "What is the app name?",
                "What is the application name?",
                "Which app is this?",
                "What app is open?",
                "what's the name of this app",
            ]
            .choose(self.rng)
            .unwrap_or(&"What is the app name?");
            asks.push((q.to_owned(), title));
        }
        for (key, id) in &s.readings {
            let q = match self.rng.gen_range(0..5) {
                0 => format!("What is the {key}?"),
                1 => format!("What is the {key} shown on the screen?"),
                2 => format!("what's the {key}"),
                3 => format!("How much is the {key}?"),
                _ => format!("Tell me the {key}."),
            };
            asks.push((q, *id));
        }
        for (asked, id) in &s.counts {
            let q = match self.rng.gen_range(0..3) {
                0 => format!("How many {asked}?"),
                1 => format!("How many {asked} are there?"),
                _ => format!("how many {asked} are shown"),
            };
            asks.push((q, *id));
        }
        match asks.choose(self.rng).cloned() {
            Some((query, id)) => self.case(s.size, Vec::new(), query, vec![id]),
            None => self.case(
                s.size,
                Vec::new(),
                "What is the weather today?".into(),
                Vec::new(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// What a relation says holds between the boxes, for every anchor and relation on many
    /// screens: a target below starts under the anchor's bottom, one to the right starts past
    /// its right edge on the same line, and so on.
    #[test]
    fn relations_hold_between_the_boxes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut checked = 0;
        for _ in 0..200 {
            let mut g = Gen {
                rng: &mut rng,
                elements: Vec::new(),
                generator: crate::datagen::GENERATOR,
            };
            let s = g.app_screen();
            let bounds = |id: ElementId| {
                g.elements
                    .iter()
                    .find(|e| e.id == id)
                    .and_then(|e| e.bounds)
                    .expect("on-screen elements have boxes")
            };
            for anchor in s.unique() {
                let a = bounds(anchor.id);
                for relation in [
                    Relation::Below,
                    Relation::Above,
                    Relation::Right,
                    Relation::Left,
                ] {
                    let Some(t) = relate(&s, &anchor, relation) else {
                        continue;
                    };
                    let b = bounds(t.id);
                    let same_line = b.y1 < a.y2 && a.y1 < b.y2;
                    let holds = match relation {
                        Relation::Below => b.y1 >= a.y2,
                        Relation::Above => b.y2 <= a.y1,
                        Relation::Right => b.x1 >= a.x2 && same_line,
                        Relation::Left => b.x2 <= a.x1 && same_line,
                    };
                    assert!(holds, "{relation:?} {:?}: {a:?} -> {b:?}", anchor.name);
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "{checked}");
    }

    /// Ordinals count in reading order: "the 2nd image from the top" is below the first.
    #[test]
    fn ordinals_count_from_the_named_side() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut checked = 0;
        for _ in 0..300 {
            let mut g = Gen {
                rng: &mut rng,
                elements: Vec::new(),
                generator: crate::datagen::GENERATOR,
            };
            let s = g.app_screen();
            let Some((query, target)) = g.by_ordinal(&s) else {
                continue;
            };
            let kind = s.items().find(|i| i.id == target).map(|i| i.kind);
            let kind = kind.expect("the target is on the screen");
            let same: Vec<&Item> = s.rows[1..]
                .iter()
                .flatten()
                .filter(|i| i.kind == kind && !(s.bottom_bar && i.row == s.rows.len() - 1))
                .collect();
            let k = same.iter().position(|i| i.id == target).expect("counted");
            let n = ORDINALS.iter().zip(ORDINAL_NUMBERS).position(|(w, d)| {
                query.contains(&format!(" {w} ")) || query.contains(&format!(" {d} "))
            });
            let expected =
                if query.ends_with("from the right") || query.ends_with("from the bottom") {
                    same.len() - 1 - k
                } else if query.contains(" last ") {
                    same.len() - 1
                } else {
                    k
                };
            if !query.contains(" last ") {
                assert_eq!(n, Some(expected), "{query}");
            } else {
                assert_eq!(k, expected, "{query}");
            }
            checked += 1;
        }
        assert!(checked > 50, "{checked}");
    }
}
