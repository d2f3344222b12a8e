//! Dialogue about entities that are not on the screen:
//! - a choice between described things (books, songs, recipes): the assistant asked "do you
//!   mean A or B?" and the user answers by what one of them is ("the fantasy novel", "not the
//!   one about pirates", "the older one", "the one by Okafor");
//! - places the assistant found (address, distance, traffic): the user follows up on the ones
//!   it named ("let's go there", "which one is closer?", "the one with no traffic").

use super::words::BUSINESSES;
use super::words::{
    CUISINES, FILLERS, GENRES, INGREDIENTS, PLOTS, POI_NOUNS, POI_TYPES, STREETS, TITLE_WORDS,
    TRAFFIC,
};
use super::{capital, Gen};
use deixis_parser::format::Turn;
use deixis_parser::{Case, ElementId, Origin};
use rand::seq::SliceRandom;
use rand::Rng;

/// A described thing to choose between.
struct Thing {
    id: ElementId,
    title: String,
    genre: String,
    /// How a user recalls its story or main ingredient.
    recall: String,
    creator: String,
    year: u32,
}

fn turn(speaker: &str, text: String) -> Turn {
    Turn {
        speaker: speaker.into(),
        text,
    }
}

impl Gen<'_> {
    fn title(&mut self) -> String {
        let a = self.pick(TITLE_WORDS);
        let b = self.pick(TITLE_WORDS);
        match self.rng.gen_range(0..4) {
            0 => format!("The {a} {b}"),
            1 => format!("{a} of {b}"),
            2 => a.to_owned(),
            _ => format!("{a} {b}"),
        }
    }

    /// The assistant asked which of two (or three) books, songs or recipes; the user says.
    pub(super) fn choice(&mut self) -> Case {
        let domain = *["book", "song", "recipe"]
            .choose(self.rng)
            .unwrap_or(&"book");
        let n = if self.rng.gen_bool(0.15) { 3 } else { 2 };
        let mut plots = PLOTS.to_vec();
        plots.shuffle(self.rng);
        let mut ingredients = INGREDIENTS.to_vec();
        ingredients.shuffle(self.rng);
        let genres: Vec<&str> = GENRES
            .iter()
            .filter(|(d, _)| *d == domain)
            .map(|(_, g)| *g)
            .collect();
        let people = self.people(n);
        // Sentences every candidate's description carries, and a pool for each one's own.
        let mut fillers: Vec<&str> = FILLERS
            .iter()
            .filter(|(d, _)| *d == domain)
            .map(|(_, f)| *f)
            .collect();
        fillers.shuffle(self.rng);
        let shared_count = self.rng.gen_range(0..=2);
        let (shared, own) = fillers.split_at(shared_count);
        let mut own = own.iter();
        let mut things = Vec::new();
        for k in 0..n {
            let year = self.rng.gen_range(1900..2024);
            let creator = people[k].clone();
            let (title, genre, recall, description) = if domain == "recipe" {
                let cuisine = self.pick(CUISINES);
                let dish = *["soup", "stew", "cake", "salad", "curry", "pie"]
                    .choose(self.rng)
                    .unwrap_or(&"soup");
                let (ingredient, recall) = ingredients[k];
                let main = ingredient.split(' ').next_back().unwrap_or(ingredient);
                let title = format!("{} {}", capital(main), dish);
                let minutes = self.rng.gen_range(2..12) * 10;
                let description = format!(
                    "A {cuisine} {dish} made with {ingredient}. Ready in {minutes} minutes; {} \
                     reviews say it is {}.",
                    self.rng.gen_range(5..900),
                    *["easy", "rich", "light", "quick", "a family favourite"]
                        .choose(self.rng)
                        .unwrap_or(&"easy")
                );
                (
                    title,
                    format!("{} {dish}", cuisine.to_lowercase()),
                    recall.to_owned(),
                    description,
                )
            } else {
                let title = self.title();
                let genre = (*genres.choose(self.rng).unwrap_or(&"novel")).to_owned();
                let (plot, recall) = plots[k];
                let extra = match self.rng.gen_range(0..6) {
                    0 => format!(
                        " It was adapted into a film in {}.",
                        (year + self.rng.gen_range(1..20)).min(2024)
                    ),
                    1 => {
                        " It received positive reviews, with praise for its characters.".to_owned()
                    }
                    2 => format!(" It won the {} Prize.", self.pick(TITLE_WORDS)),
                    _ => String::new(),
                };
                let description = if domain == "song" {
                    format!("\"{title}\" is a {genre} by {creator}, released in {year}. The song {plot}.{extra}")
                } else {
                    format!("{title} is a {year} {genre} by {creator}. The story {plot}.{extra}")
                };
                (title, genre, recall.to_owned(), description)
            };
            // The first sentence introduces it; the telling sentence is anywhere after.
            let mut sentences: Vec<String> = description
                .split_inclusive(". ")
                .map(|s| s.trim().to_owned())
                .collect();
            let mut rest = sentences.split_off(1.min(sentences.len()));
            rest.extend(shared.iter().map(|s| (*s).to_owned()));
            if self.rng.gen_bool(0.5) {
                rest.extend(own.next().map(|s| (*s).to_owned()));
            }
            rest.shuffle(self.rng);
            sentences.extend(rest);
            let description = sentences.join(" ");
            let fields = if self.rng.gen_bool(0.8) {
                vec![("description", description)]
            } else {
                vec![
                    // In name order, as screen files keep fields.
                    ("by", creator.clone()),
                    ("genre", genre.clone()),
                    ("year", year.to_string()),
                ]
            };
            let id = self.entity(Origin::Conversational, domain, &title, &fields);
            things.push(Thing {
                id,
                title,
                genre,
                recall,
                creator,
                year,
            });
        }
        let names: Vec<String> = things.iter().map(|t| format!("'{}'", t.title)).collect();
        let listed = match names.as_slice() {
            [a, b] => format!("{a} or {b}"),
            [a, b, c] => format!("{a}, {b} or {c}"),
            _ => names.join(", "),
        };
        let asked = match self.rng.gen_range(0..3) {
            0 => format!("Do you mean {listed}?"),
            1 => format!("Did you mean {listed}?"),
            _ => format!("Which one: {listed}?"),
        };
        let mut context = Vec::new();
        if self.rng.gen_bool(0.5) {
            let verb = match domain {
                "song" => "play",
                "recipe" => "show me",
                _ => "find",
            };
            context.push(turn(
                "user",
                format!(
                    "{verb} the {domain} {}",
                    self.pick(&["please", "I told you about", "from yesterday", "again"])
                ),
            ));
        }
        context.push(turn("agent", asked));

        let k = self.rng.gen_range(0..n);
        let t = &things[k];
        let others: Vec<&Thing> = things.iter().filter(|o| o.id != t.id).collect();
        let other = others[0];
        let distinct_genre = others.iter().all(|o| o.genre != t.genre);
        let newest = things.iter().all(|o| o.id == t.id || o.year < t.year);
        let oldest = things.iter().all(|o| o.id == t.id || o.year > t.year);
        let query = loop {
            let q = match self.rng.gen_range(0..9) {
                0 | 1 => match self.rng.gen_range(0..4) {
                    0 => format!("the one about {}", t.recall),
                    1 => format!("The one with {}.", t.recall),
                    2 => t.recall.clone(),
                    _ => format!("I think it had {} in it", t.recall),
                },
                2 if n == 2 => match self.rng.gen_range(0..3) {
                    0 => format!("not the one with {}", other.recall),
                    1 => format!("Not {}.", other.title),
                    _ => format!("not the one about {}", other.recall),
                },
                3 if distinct_genre => match self.rng.gen_range(0..3) {
                    0 => format!("The {}", t.genre),
                    1 => format!("the {} one", t.genre),
                    _ => format!("it's a {}", t.genre),
                },
                4 if newest && domain != "recipe" => {
                    (*["the newer one", "The more recent one", "the latest one"]
                        .choose(self.rng)
                        .unwrap_or(&"the newer one"))
                    .to_owned()
                }
                4 if oldest && domain != "recipe" => {
                    (*["the older one", "The earlier one", "the oldest one"]
                        .choose(self.rng)
                        .unwrap_or(&"the older one"))
                    .to_owned()
                }
                5 if domain != "recipe" => match self.rng.gen_range(0..3) {
                    0 => format!("the one from {}", t.year),
                    1 => format!(
                        "the one by {}",
                        t.creator.split(' ').next_back().unwrap_or("")
                    ),
                    _ => format!("Pretty sure it was by {}.", t.creator),
                },
                6 => {
                    let word = t
                        .title
                        .split(' ')
                        .rfind(|w| w.len() > 3)
                        .unwrap_or(&t.title);
                    format!("the {} one", word.to_lowercase())
                }
                7 => {
                    let ord = ["first", "second", "third"][k];
                    format!("the {ord} one")
                }
                8 => t.title.to_lowercase(),
                _ => continue,
            };
            break q;
        };
        let query = if self.rng.gen_bool(0.3) {
            capital(&query)
        } else {
            query
        };
        self.case_without_screen(context, query, vec![t.id])
    }

    /// Places the assistant found on the way; the user follows up on the ones it named.
    pub(super) fn places(&mut self) -> Case {
        let n = self.rng.gen_range(3..=7);
        let mut names = BUSINESSES.to_vec();
        names.shuffle(self.rng);
        let mut streets = STREETS.to_vec();
        streets.shuffle(self.rng);
        let (kind, asked) = *POI_TYPES.choose(self.rng).unwrap_or(&POI_TYPES[0]);
        let mut distances: Vec<u32> = (1..=9).collect();
        distances.shuffle(self.rng);
        struct Place {
            id: ElementId,
            name: String,
            address: String,
            miles: u32,
            traffic: &'static str,
        }
        let mut places = Vec::new();
        let separate = self.rng.gen_bool(0.5);
        for k in 0..n {
            // The first two are of the kind asked for; the rest anything.
            let this_kind = if k < 2 {
                kind
            } else {
                POI_TYPES.choose(self.rng).map_or(kind, |p| p.0)
            };
            // Named for what it is ("Harbor Bakehouse"), unless that name is taken.
            let stem = names[k].split(' ').next().unwrap_or(names[k]);
            let nouns = POI_NOUNS
                .iter()
                .find(|(k, _)| *k == this_kind)
                .map_or(&[][..], |(_, n)| *n);
            let name = match nouns.choose(self.rng) {
                Some(noun) if !places.iter().any(|p: &Place| p.name.starts_with(stem)) => {
                    format!("{stem} {noun}")
                }
                _ => names[k].to_owned(),
            };
            let address = format!("{} {}", self.rng.gen_range(100..999), streets[k]);
            let miles = distances[k];
            let traffic = *TRAFFIC.choose(self.rng).unwrap_or(&TRAFFIC[0]);
            let fields = if separate {
                vec![
                    ("address", address.clone()),
                    ("distance", format!("{miles} miles")),
                    ("traffic", traffic.to_owned()),
                ]
            } else {
                vec![(
                    "description",
                    format!("address: {address}; distance: {miles} miles; type: {this_kind}; traffic: {traffic}"),
                )]
            };
            let id = self.entity(Origin::Conversational, this_kind, &name, &fields);
            places.push(Place {
                id,
                name,
                address,
                miles,
                traffic,
            });
        }
        // Shown in a shuffled order, as a knowledge base lists them.
        self.elements.shuffle(self.rng);
        let (a, b) = (&places[0], &places[1]);
        let mut context = vec![turn(
            "user",
            match self.rng.gen_range(0..4) {
                0 => format!("find me {asked}"),
                1 => format!("Where can I get {asked}?"),
                2 => format!("is there {asked} nearby"),
                _ => format!("Car, I need {asked}, the closest one please."),
            },
        )];
        let two = self.rng.gen_bool(0.4);
        let ended_with_none = self.rng.gen_bool(0.06);
        if two {
            context.push(turn(
                "agent",
                match self.rng.gen_range(0..3) {
                    0 => format!("{} and {} are both nearby.", a.name, b.name),
                    1 => format!("There is {} and {}. Which do you prefer?", a.name, b.name),
                    _ => format!("Would you prefer {} or {}?", a.name, b.name),
                },
            ));
            let (query, targets) = if ended_with_none {
                ("what's the weather like tomorrow".to_owned(), vec![])
            } else {
                match self.rng.gen_range(0..6) {
                    0 => ("Which is closer?".to_owned(), vec![a.id, b.id]),
                    1 => (
                        "Which one is quickest to reach?".to_owned(),
                        vec![a.id, b.id],
                    ),
                    2 => (
                        format!("Is any of them within {} miles?", self.rng.gen_range(2..8)),
                        vec![a.id, b.id],
                    ),
                    3 => ("which one has less traffic".to_owned(), vec![a.id, b.id]),
                    4 => {
                        let closer = if a.miles < b.miles { a } else { b };
                        ("take me to the closer one".to_owned(), vec![closer.id])
                    }
                    _ => {
                        let p = if self.rng.gen_bool(0.5) { a } else { b };
                        let word = p.name.split(' ').next().unwrap_or(&p.name);
                        (format!("Let's go to {word}, thanks."), vec![p.id])
                    }
                }
            };
            return self.case_without_screen(context, query, targets);
        }
        context.push(turn(
            "agent",
            match self.rng.gen_range(0..4) {
                0 => format!("{} is {} miles away at {}.", a.name, a.miles, a.address),
                1 => format!(
                    "The closest {kind} is {} at {}, with {}.",
                    a.name, a.address, a.traffic
                ),
                2 => format!("There is {} {} miles away: is that okay?", a.name, a.miles),
                _ => format!("{} is located at {}.", a.name, a.address),
            },
        ));
        if self.rng.gen_bool(0.3) {
            context.push(turn("user", "What is the address?".to_owned()));
            context.push(turn("agent", format!("It is at {}.", a.address)));
        }
        let query = if ended_with_none {
            "play some music".to_owned()
        } else {
            (*[
                "Thanks, let's go there.",
                "take me there",
                "Set the navigation for there, thank you.",
                "Is there any traffic on the way there?",
                "Sounds good, send it to my GPS.",
                "Please pick the quickest route there.",
                "How far is it?",
                "yes, go there",
            ]
            .choose(self.rng)
            .unwrap_or(&"take me there"))
            .to_owned()
        };
        let targets = if ended_with_none { vec![] } else { vec![a.id] };
        self.case_without_screen(context, query, targets)
    }
}
