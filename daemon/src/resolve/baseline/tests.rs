//! The baseline's rules, each on a small screen.

use deixis_parser::format::read_case;
use deixis_parser::parse::seed_from;

use super::*;
use crate::config::ParseSettings;
use crate::pipeline::{parse_config, prepare, Prepared};

/// Resolves `query` on a screen of `(id, role, text, desc, res_id, bbox)` rows; returns the
/// selected element ids.
fn pick(elements: &str, context: &str, query: &str) -> Vec<u64> {
    pick_on((1000, 1000), elements, context, query)
}

/// `pick` on a screen of `(width, height)`.
fn pick_on(size: (u32, u32), elements: &str, context: &str, query: &str) -> Vec<u64> {
    on_screen_of(size, elements, context, query, |p, request| {
        Baseline
            .resolve(request)
            .selected_elements(&p.screen, &p.parse)
            .into_iter()
            .map(|id| id.0)
            .collect()
    })
}

/// Prepares the case `(size, elements, context, query)` and hands its parse and request to `f`.
fn on_screen_of<T>(
    size: (u32, u32),
    elements: &str,
    context: &str,
    query: &str,
    f: impl FnOnce(&Prepared, &Request<'_>) -> T,
) -> T {
    let (width, height) = size;
    let json = format!(
        r#"{{"id": "t", "screen": {{"width": {width}, "height": {height}}},
            "elements": [{elements}], "context": [{context}], "query": {query:?}}}"#
    );
    let case = read_case(&json).expect("test case");
    let config = parse_config(&ParseSettings::default(), seed_from(&case.id));
    let p = prepare(case.size, case.elements, &config);
    let request = Request {
        screen: &p.screen,
        parse: &p.parse,
        context: &case.context,
        query: &case.query,
    };
    f(&p, &request)
}

const CONTACT: &str = r#"
    {"id": 0, "role": "label", "text": "Ada Lovelace", "bbox": [10, 10, 300, 40]},
    {"id": 1, "role": "label", "text": "Mobile", "bbox": [10, 60, 100, 80]},
    {"id": 2, "role": "label", "text": "+44 20 7946 0958", "bbox": [120, 60, 300, 80]},
    {"id": 3, "role": "label", "text": "Work", "bbox": [10, 100, 100, 120]},
    {"id": 4, "role": "label", "text": "(408) 555-0123", "bbox": [120, 100, 300, 120]},
    {"id": 5, "role": "label", "text": "ada@example.org", "bbox": [120, 140, 300, 160]},
    {"id": 6, "role": "push button", "text": "", "desc": "Edit", "bbox": [900, 10, 940, 40]},
    {"id": 7, "role": "push button", "text": "", "res_id": "com.app:id/search_button", "bbox": [950, 10, 990, 40]}
"#;

/// `Baseline::scores` on a screen, by element id.
fn scores_by_id(size: (u32, u32), elements: &str, context: &str, query: &str) -> HashMap<u64, f64> {
    on_screen_of(size, elements, context, query, |p, request| {
        let scores = Baseline.scores(request);
        p.parse
            .candidates
            .iter()
            .map(|c| (p.screen.elements[c.element].id.0, scores[c.number]))
            .collect()
    })
}

#[test]
fn type_words_find_entities() {
    assert_eq!(pick(CONTACT, "", "email her"), vec![5]);
    assert_eq!(pick(CONTACT, "", "call the work number"), vec![4]);
    assert_eq!(pick(CONTACT, "", "call the mobile number"), vec![2]);
}

#[test]
fn descriptions_and_resource_ids_name_icons() {
    assert_eq!(pick(CONTACT, "", "tap the search button"), vec![7]);
    assert_eq!(pick(CONTACT, "", "click on edit"), vec![6]);
}

#[test]
fn nothing_relevant_is_none() {
    assert_eq!(
        pick(CONTACT, "", "what's the weather like"),
        Vec::<u64>::new()
    );
}

const LINKS: &str = r#"
    {"id": 10, "role": "link", "text": "Orca screen reader", "bbox": [10, 100, 400, 120]},
    {"id": 11, "role": "paragraph", "text": "Orca is a free screen reader", "bbox": [10, 125, 600, 145]},
    {"id": 12, "role": "link", "text": "Accessibility in GNOME", "bbox": [10, 200, 400, 220]},
    {"id": 13, "role": "paragraph", "text": "GNOME is accessible", "bbox": [10, 225, 600, 245]},
    {"id": 14, "role": "link", "text": "AT-SPI2 documentation", "bbox": [10, 300, 400, 320]}
"#;

#[test]
fn ordinals_count_in_reading_order_among_the_wanted_type() {
    assert_eq!(pick(LINKS, "", "open the second link"), vec![12]);
    assert_eq!(pick(LINKS, "", "open the last link"), vec![14]);
    assert_eq!(pick(LINKS, "", "the first one"), vec![10]);
}

const ICONS: &str = r#"
    {"id": 20, "role": "push button", "desc": "Play", "bbox": [10, 10, 50, 50]},
    {"id": 21, "role": "push button", "desc": "Pause", "bbox": [60, 10, 100, 50]},
    {"id": 22, "role": "push button", "desc": "Stop", "bbox": [110, 10, 150, 50]},
    {"id": 23, "role": "push button", "desc": "Shuffle", "bbox": [160, 10, 200, 50]},
    {"id": 24, "role": "label", "text": "Now playing", "bbox": [10, 900, 300, 930]},
    {"id": 25, "role": "push button", "desc": "Volume", "bbox": [10, 950, 50, 990]}
"#;

#[test]
fn ordinals_count_from_a_side() {
    assert_eq!(pick(ICONS, "", "third icon from the right"), vec![21]);
    assert_eq!(pick(ICONS, "", "second button from the left"), vec![21]);
}

#[test]
fn relations_to_an_anchor() {
    assert_eq!(pick(ICONS, "", "the button below now playing"), vec![25]);
    assert_eq!(pick(ICONS, "", "icon right of pause"), vec![22]);
    assert_eq!(
        pick(ICONS, "", "click the button next to shuffle"),
        vec![22]
    );
    assert_eq!(
        pick(ICONS, "", "the icon on the left side of stop"),
        vec![21]
    );
    assert_eq!(
        pick(ICONS, "", "select the icon which is right side of play"),
        vec![21]
    );
}

#[test]
fn positions_break_ties() {
    let two = r#"
        {"id": 30, "role": "push button", "desc": "Search", "bbox": [10, 10, 50, 50]},
        {"id": 31, "role": "push button", "desc": "Search", "bbox": [10, 900, 50, 950]}
    "#;
    assert_eq!(pick(two, "", "the search button at the top"), vec![30]);
    assert_eq!(pick(two, "", "search at the bottom"), vec![31]);
}

#[test]
fn negation_and_superlatives_choose_between_entities() {
    let books = r#"
        {"id": 0, "role": "book", "text": "Unwind", "desc": "A 2007 dystopian novel about harvest camps", "bbox": null},
        {"id": 1, "role": "book", "text": "Entwined", "desc": "A 2011 novel based on a fairy tale about dancing princesses", "bbox": null}
    "#;
    let ctx = r#"{"speaker": "agent", "text": "Do you mean 'Unwind' or 'Entwined'?"}"#;
    assert_eq!(pick(books, ctx, "the dystopian book"), vec![0]);
    assert_eq!(pick(books, ctx, "not the one with princesses"), vec![0]);
    assert_eq!(pick(books, ctx, "the newer one"), vec![1]);
    let places = r#"
        {"id": 0, "role": "gas station", "text": "Valero", "desc": "address: 200 Alester Ave; distance: 5 miles", "bbox": null},
        {"id": 1, "role": "gas station", "text": "Chevron", "desc": "address: 783 Arcadia Pl; distance: 2 miles", "bbox": null}
    "#;
    assert_eq!(pick(places, "", "take me to the closest one"), vec![1]);
    // After the assistant offered two, a comparison is between those two.
    let more = format!(
        r#"{places}, {{"id": 2, "role": "gas station", "text": "Shell", "desc": "distance: 1 miles", "bbox": null}}"#
    );
    let offer = r#"{"speaker": "agent", "text": "Would you prefer Valero or Chevron?"}"#;
    assert_eq!(pick(&more, offer, "take me to the closer one"), vec![1]);
    assert_eq!(pick(&more, "", "take me to the closest one"), vec![2]);
}

#[test]
fn a_named_button_beats_a_type_word() {
    let mail = r#"
        {"id": 0, "role": "push button", "text": "Reply", "bbox": [10, 10, 80, 40]},
        {"id": 1, "role": "push button", "text": "Forward", "bbox": [90, 10, 180, 40]},
        {"id": 2, "role": "label", "text": "From: grace@navy.mil", "bbox": [10, 60, 400, 80]}
    "#;
    assert_eq!(pick(mail, "", "reply to this email"), vec![0]);
    assert_eq!(pick(mail, "", "copy the email address"), vec![2]);
}

#[test]
fn turning_things_on_and_off_means_switches() {
    let settings = r#"
        {"id": 0, "role": "list item", "text": "Bluetooth", "bbox": [0, 100, 200, 130]},
        {"id": 1, "role": "label", "text": "Bluetooth can be turned off to save power.", "bbox": [300, 100, 800, 130]},
        {"id": 2, "role": "toggle button", "desc": "Bluetooth", "bbox": [900, 100, 960, 130]}
    "#;
    assert_eq!(pick(settings, "", "turn off bluetooth"), vec![2]);
}

#[test]
fn ordinals_count_among_the_surroundings_of_a_match() {
    let sidebar = r#"
        {"id": 0, "role": "heading", "text": "Trending", "bbox": [700, 100, 900, 130]},
        {"id": 1, "role": "link", "text": "Fans that never stop", "bbox": [700, 140, 900, 160]},
        {"id": 2, "role": "link", "text": "Systemd timers", "bbox": [700, 170, 900, 190]},
        {"id": 3, "role": "link", "text": "Flatpak vs Snap", "bbox": [700, 200, 900, 220]},
        {"id": 4, "role": "link", "text": "Home", "bbox": [10, 10, 60, 30]},
        {"id": 5, "role": "link", "text": "News", "bbox": [70, 10, 120, 30]}
    "#;
    assert_eq!(pick(sidebar, "", "open the third trending story"), vec![3]);
}

#[test]
fn rows_and_columns_of_a_grid() {
    let grid = r#"
        {"id": 0, "role": "image", "bbox": [0, 100, 90, 190]},
        {"id": 1, "role": "image", "bbox": [100, 100, 190, 190]},
        {"id": 2, "role": "image", "bbox": [200, 100, 290, 190]},
        {"id": 3, "role": "image", "bbox": [0, 300, 90, 390]},
        {"id": 4, "role": "image", "bbox": [100, 300, 190, 390]},
        {"id": 5, "role": "image", "bbox": [200, 300, 290, 390]},
        {"id": 6, "role": "label", "text": "Gallery", "bbox": [0, 10, 200, 40]}
    "#;
    assert_eq!(
        pick(grid, "", "the second image in the second row"),
        vec![4]
    );
    assert_eq!(
        pick(grid, "", "select the icon in the first row third column"),
        vec![2]
    );
    assert_eq!(
        pick(grid, "", "click on third image from second row"),
        vec![5]
    );
}

#[test]
fn a_relation_prefers_the_wanted_type() {
    let row = r#"
        {"id": 0, "role": "label", "text": "Benjamin Franklin", "bbox": [100, 100, 300, 130]},
        {"id": 1, "role": "label", "text": "Founding father", "bbox": [310, 100, 500, 130]},
        {"id": 2, "role": "push button", "res_id": "follow", "bbox": [40, 100, 90, 130]}
    "#;
    assert_eq!(
        pick(row, "", "click on the button next to benjamin franklin"),
        vec![2]
    );
}

#[test]
fn a_label_naming_the_type_does_not_beat_the_entity() {
    let card = r#"
        {"id": 0, "role": "label", "text": "Email", "bbox": [10, 100, 100, 120]},
        {"id": 1, "role": "label", "text": "ada@example.org", "bbox": [120, 100, 300, 120]},
        {"id": 2, "role": "label", "text": "Phone", "bbox": [10, 140, 100, 160]},
        {"id": 3, "role": "label", "text": "+44 20 7946 0958", "bbox": [120, 140, 300, 160]}
    "#;
    assert_eq!(pick(card, "", "email her"), vec![1]);
    assert_eq!(pick(card, "", "call that phone number"), vec![3]);
}

/// Prices in any of the three currencies, whatever bytes their sign takes.
#[test]
fn money_reads_each_currency() {
    assert_eq!(money("$1,250.50 total"), Some(1250.5));
    assert_eq!(money("£632 "), Some(632.0));
    assert_eq!(money("now €8.99"), Some(8.99));
    assert_eq!(money("£"), None);
    assert_eq!(money("no price"), None);
}

/// A screen of pound and euro prices is resolved like any other (it once panicked on the
/// sign's second byte).
#[test]
fn prices_in_pounds_and_euros_resolve() {
    let elements = r#"{"id": 0, "role": "label", "text": "Ships free over £632", "bbox": [0, 0, 500, 50]},
        {"id": 1, "role": "label", "text": "Only €8.99", "bbox": [0, 100, 500, 150]},
        {"id": 2, "role": "push button", "text": "Checkout", "bbox": [0, 200, 500, 250]}"#;
    assert_eq!(pick(elements, "", "press checkout"), [2]);
}

/// "Call the second one" after the assistant named several: the second it named, whatever
/// order the entities come in, and a name inside a longer one is not a mention of its own.
#[test]
fn ordinals_after_a_dialogue_list_count_in_the_order_it_named_them() {
    let places = r#"
        {"id": 0, "role": "restaurant", "text": "Tea Garden", "desc": "phone: (534) 555-6183", "bbox": null},
        {"id": 1, "role": "restaurant", "text": "Quick Lube", "desc": "phone: (406) 555-1517", "bbox": null},
        {"id": 2, "role": "restaurant", "text": "Dark", "desc": "phone: (406) 555-1111", "bbox": null},
        {"id": 3, "role": "restaurant", "text": "The Dark Room", "desc": "phone: (406) 555-2222", "bbox": null}
    "#;
    let ctx = r#"{"speaker": "user", "text": "find restaurants near me"},
        {"speaker": "agent", "text": "I found Quick Lube in Milpitas, The Dark Room in Fremont, Tea Garden in Fremont."}"#;
    assert_eq!(pick(places, ctx, "call the first one"), vec![1]);
    assert_eq!(pick(places, ctx, "call the second one"), vec![3]);
    assert_eq!(pick(places, ctx, "the third one"), vec![0]);
    assert_eq!(pick(places, ctx, "the last one"), vec![0]);
    // The latest turn that names two counts; an earlier list does not.
    let ctx = r#"{"speaker": "agent", "text": "I found Quick Lube, Tea Garden and Dark."},
        {"speaker": "user", "text": "which are open?"},
        {"speaker": "agent", "text": "Dark and Quick Lube are open."}"#;
    assert_eq!(pick(places, ctx, "the first one"), vec![2]);
}

/// An ordinal with a type word counts among candidates of that type, not a heading whose
/// text matches another word of the request.
#[test]
fn ordinals_with_a_type_count_among_that_type() {
    let results = r#"
        {"id": 0, "role": "heading", "text": "Search results", "bbox": [10, 10, 600, 40]},
        {"id": 1, "role": "link", "text": "Pizza Planet", "bbox": [10, 60, 600, 90]},
        {"id": 2, "role": "label", "text": "(912) 555-1447", "bbox": [10, 95, 300, 120]},
        {"id": 3, "role": "link", "text": "Fuel Stop", "bbox": [10, 160, 600, 190]},
        {"id": 4, "role": "label", "text": "(630) 555-4125", "bbox": [10, 195, 300, 220]},
        {"id": 5, "role": "link", "text": "Taco Loco", "bbox": [10, 260, 600, 290]},
        {"id": 6, "role": "label", "text": "(519) 555-9744", "bbox": [10, 295, 300, 320]}
    "#;
    assert_eq!(pick(results, "", "call the second result"), vec![4]);
    assert_eq!(pick(results, "", "call the first result"), vec![2]);
    assert_eq!(pick(results, "", "open the third link"), vec![5]);
}

/// An ordinal counts like things: "the last image" is the last of the equal thumbnails, not a
/// rating star below them; with no set holding half the pool, every image counts.
#[test]
fn ordinals_count_like_things() {
    let photos = r#"
        {"id": 0, "role": "label", "text": "Photos", "bbox": [0, 20, 1000, 60]},
        {"id": 1, "role": "image", "bbox": [50, 100, 250, 250]},
        {"id": 2, "role": "image", "bbox": [300, 100, 500, 250]},
        {"id": 3, "role": "image", "bbox": [550, 100, 750, 250]},
        {"id": 4, "role": "image", "bbox": [50, 300, 250, 450]},
        {"id": 5, "role": "image", "bbox": [300, 300, 500, 450]},
        {"id": 6, "role": "image", "bbox": [400, 900, 420, 920]},
        {"id": 7, "role": "image", "bbox": [430, 900, 450, 920]},
        {"id": 8, "role": "image", "bbox": [460, 900, 480, 920]}
    "#;
    assert_eq!(pick(photos, "", "click on the last image"), vec![5]);
    assert_eq!(pick(photos, "", "select the fourth image"), vec![4]);
    let mixed = r#"
        {"id": 1, "role": "image", "bbox": [50, 100, 250, 250]},
        {"id": 2, "role": "image", "bbox": [300, 100, 400, 150]},
        {"id": 3, "role": "image", "bbox": [550, 100, 600, 120]},
        {"id": 4, "role": "image", "bbox": [50, 300, 250, 450]},
        {"id": 5, "role": "image", "bbox": [400, 900, 420, 920]}
    "#;
    assert_eq!(pick(mixed, "", "click on the last image"), vec![5]);
}

/// Named fields count as the description does: words, years, distances.
#[test]
fn named_fields_are_matched_like_the_description() {
    let places = r#"
        {"id": 0, "role": "restaurant", "text": "Slice House", "fields": {"city": "Redwood City", "distance": "4 miles"}, "bbox": null},
        {"id": 1, "role": "restaurant", "text": "Pizza Planet", "fields": {"city": "Milpitas", "distance": "2 miles"}, "bbox": null}
    "#;
    let ctx = r#"{"speaker": "agent", "text": "I found Slice House in Redwood City, Pizza Planet in Milpitas."}"#;
    assert_eq!(pick(places, ctx, "the one in Redwood City"), vec![0]);
    assert_eq!(pick(places, ctx, "the one in milpitas"), vec![1]);
    assert_eq!(pick(places, ctx, "the closest one"), vec![1]);
    let songs = r#"
        {"id": 0, "role": "song", "text": "Orchard Summer", "fields": {"by": "Noor Fischer", "year": "1975"}, "bbox": null},
        {"id": 1, "role": "song", "text": "The Dark Burning", "fields": {"by": "Quinn Novak", "year": "1959"}, "bbox": null}
    "#;
    let ctx =
        r#"{"speaker": "agent", "text": "Did you mean 'Orchard Summer' or 'The Dark Burning'?"}"#;
    assert_eq!(pick(songs, ctx, "the one from 1959"), vec![1]);
    assert_eq!(pick(songs, ctx, "the older one"), vec![1]);
    assert_eq!(pick(songs, ctx, "the one by Fischer"), vec![0]);
}

/// "Keiko's number" is in Keiko's row; "web address" and "email address" are not street addresses;
/// "where is it located" and "how much" ask for an address and a price.
#[test]
fn possessives_and_kinds_of_address() {
    let screen = r#"
        {"id": 0, "role": "label", "text": "Keiko Tanaka", "bbox": [10, 10, 300, 40]},
        {"id": 1, "role": "label", "text": "(408) 555-0123", "bbox": [320, 10, 900, 40]},
        {"id": 2, "role": "label", "text": "Omar Haddad", "bbox": [10, 60, 300, 90]},
        {"id": 3, "role": "label", "text": "(650) 555-0199", "bbox": [320, 60, 900, 90]},
        {"id": 4, "role": "label", "text": "Visit cornerbakery.net", "bbox": [10, 200, 500, 230]},
        {"id": 5, "role": "label", "text": "Meet at 226 Lake Dr, Palo Alto", "bbox": [10, 250, 500, 280]},
        {"id": 6, "role": "label", "text": "omar@example.org", "bbox": [10, 300, 500, 330]},
        {"id": 7, "role": "label", "text": "Total $55.99", "bbox": [10, 350, 500, 380]}
    "#;
    assert_eq!(pick(screen, "", "call Keiko's number"), vec![1]);
    assert_eq!(pick(screen, "", "call Omar\u{2019}s number"), vec![3]);
    assert_eq!(pick(screen, "", "what's the web address"), vec![4]);
    assert_eq!(pick(screen, "", "which email address is listed?"), vec![6]);
    assert_eq!(pick(screen, "", "Where is it located?"), vec![5]);
    assert_eq!(pick(screen, "", "How much does it cost?"), vec![7]);
}

/// An ordinal that names neither a type nor a word on the screen counts down the longest list,
/// its actionable column first: the fourth message is the fourth subject, not the fourth thing
/// in reading order.
#[test]
fn ordinals_without_a_type_count_the_rows_of_the_longest_list() {
    let inbox = r#"
        {"id": 0, "role": "heading", "text": "Inbox", "bbox": [100, 20, 900, 60]},
        {"id": 1, "role": "label", "text": "Nikolai Romero", "bbox": [100, 100, 400, 130]},
        {"id": 2, "role": "link", "text": "Project kickoff", "bbox": [420, 100, 900, 130]},
        {"id": 3, "role": "label", "text": "Elena Adeyemi", "bbox": [100, 150, 400, 180]},
        {"id": 4, "role": "link", "text": "Weekly report", "bbox": [420, 150, 900, 180]},
        {"id": 5, "role": "label", "text": "Rosa Dubois", "bbox": [100, 200, 400, 230]},
        {"id": 6, "role": "link", "text": "Re: contract draft", "bbox": [420, 200, 900, 230]},
        {"id": 7, "role": "label", "text": "Fatima Jensen", "bbox": [100, 250, 400, 280]},
        {"id": 8, "role": "link", "text": "Quarterly budget", "bbox": [420, 250, 900, 280]}
    "#;
    assert_eq!(pick(inbox, "", "open the fourth message"), vec![8]);
    assert_eq!(pick(inbox, "", "open the first message"), vec![2]);
    assert_eq!(pick(inbox, "", "read the last one"), vec![8]);
}

/// A structure word misspelled by a swap or a dropped letter still counts ("frist", "rigth",
/// "belw"); a word of its own one letter short ("blow") does not become one; an ordinal last
/// in the request with no article says when, not which.
#[test]
fn slips_in_structure_words_and_ordinals_that_say_when() {
    assert_eq!(spelled("frist".to_owned()), "first");
    assert_eq!(spelled("rigth".to_owned()), "right");
    assert_eq!(spelled("belw".to_owned()), "below");
    assert_eq!(spelled("buton".to_owned()), "button");
    assert_eq!(spelled("blow".to_owned()), "blow");
    assert_eq!(spelled("light".to_owned()), "light");
    assert_eq!(spelled("pause".to_owned()), "pause");
    assert_eq!(pick(ICONS, "", "thrid icon from the rigth"), vec![21]);
    assert_eq!(pick(ICONS, "", "the buton belw now playing"), vec![25]);
    assert_eq!(pick(ICONS, "", "press stop first"), vec![22]);
}

#[test]
fn acting_on_an_item_presses_the_control_in_its_row() {
    let shop = r#"
        {"id": 0, "role": "heading", "text": "Shop", "bbox": [40, 120, 1000, 180]},
        {"id": 1, "role": "label", "text": "Red t-shirt", "bbox": [40, 220, 600, 270]},
        {"id": 2, "role": "label", "text": "$164.99", "bbox": [650, 220, 800, 270]},
        {"id": 3, "role": "push button", "text": "Add to cart", "bbox": [850, 220, 990, 270]},
        {"id": 4, "role": "label", "text": "Navy t-shirt", "bbox": [40, 320, 600, 370]},
        {"id": 5, "role": "label", "text": "$41.99", "bbox": [650, 320, 800, 370]},
        {"id": 6, "role": "push button", "text": "Add to cart", "bbox": [850, 320, 990, 370]},
        {"id": 7, "role": "label", "text": "Pink t-shirt", "bbox": [40, 420, 600, 470]},
        {"id": 8, "role": "label", "text": "$75.99", "bbox": [650, 420, 800, 470]},
        {"id": 9, "role": "push button", "text": "Add to cart", "bbox": [850, 420, 990, 470]}
    "#;
    assert_eq!(pick(shop, "", "buy the pink one"), vec![9]);
    assert_eq!(pick(shop, "", "add the cheapest one to the cart"), vec![6]);
    // Naming the item without buying it still means the item.
    assert_eq!(pick(shop, "", "the pink one"), vec![7]);
    let inbox = r#"
        {"id": 0, "role": "heading", "text": "Inbox", "bbox": [300, 80, 1000, 140]},
        {"id": 1, "role": "label", "text": "Jonas Okafor", "bbox": [300, 180, 600, 230]},
        {"id": 2, "role": "link", "text": "Flight confirmation", "bbox": [620, 180, 1000, 230]},
        {"id": 3, "role": "label", "text": "Yuki Moreau", "bbox": [300, 270, 600, 320]},
        {"id": 4, "role": "link", "text": "Team offsite", "bbox": [620, 270, 1000, 320]}
    "#;
    assert_eq!(pick(inbox, "", "read Yuki's mail"), vec![4]);
    assert_eq!(pick(inbox, "", "open the email from Jonas"), vec![2]);
    // With an address on the screen, "email" asks for the address.
    let with_address = format!(
        r#"{inbox}, {{"id": 5, "role": "label", "text": "yuki@example.org", "bbox": [300, 400, 600, 440]}}"#
    );
    assert_eq!(pick(&with_address, "", "email Yuki"), vec![5]);
}

#[test]
fn pressing_a_word_names_a_control_and_next_to_picks_among_its_likes() {
    let contacts = r#"
        {"id": 0, "role": "heading", "text": "Contacts", "bbox": [40, 120, 1000, 180]},
        {"id": 1, "role": "label", "text": "Elena Rossi", "bbox": [40, 220, 500, 270]},
        {"id": 2, "role": "label", "text": "(730) 555-1644", "bbox": [500, 220, 840, 270]},
        {"id": 3, "role": "push button", "text": "Call", "bbox": [860, 220, 1000, 270]},
        {"id": 4, "role": "label", "text": "Jamal Schmidt", "bbox": [40, 310, 500, 360]},
        {"id": 5, "role": "label", "text": "(746) 555-7447", "bbox": [500, 310, 840, 360]},
        {"id": 6, "role": "push button", "text": "Call", "bbox": [860, 310, 1000, 360]}
    "#;
    assert_eq!(pick(contacts, "", "press call next to Jamal"), vec![6]);
    assert_eq!(pick(contacts, "", "tap call next to Elena"), vec![3]);
    // Without a verb of pressing, "call" asks for a number.
    assert_eq!(pick(contacts, "", "call the number next to Jamal"), vec![5]);
    // "Go to price": the section called Price, not the price.
    let product = r#"
        {"id": 0, "role": "label", "text": "Price", "bbox": [40, 220, 500, 270]},
        {"id": 1, "role": "label", "text": "$28.99", "bbox": [500, 220, 840, 270]}
    "#;
    assert_eq!(pick(product, "", "go to price"), vec![0]);
    assert_eq!(pick(product, "", "what is the price?"), vec![1]);
}

#[test]
fn her_last_message_is_on_her_side_and_the_last_song_again_is_the_previous() {
    let chat = r#"
        {"id": 0, "role": "push button", "desc": "Navigate up", "bbox": [20, 100, 140, 220]},
        {"id": 1, "role": "label", "text": "Mei Lovelace", "bbox": [160, 110, 700, 210]},
        {"id": 2, "role": "label", "text": "see you at 5:30", "bbox": [320, 300, 1040, 440]},
        {"id": 3, "role": "label", "text": "look at this", "bbox": [40, 480, 760, 620]},
        {"id": 4, "role": "label", "text": "my new number", "bbox": [40, 660, 760, 800]},
        {"id": 5, "role": "label", "text": "Lunch tomorrow?", "bbox": [320, 840, 1040, 980]},
        {"id": 6, "role": "entry", "text": "Message", "bbox": [40, 2200, 800, 2320]},
        {"id": 7, "role": "push button", "desc": "Send", "bbox": [940, 2200, 1060, 2320]}
    "#;
    let tall = |query: &str| pick_on((1080, 2400), chat, "", query);
    assert_eq!(tall("copy her last message"), vec![4]);
    assert_eq!(tall("copy his first message"), vec![3]);
    assert_eq!(tall("copy my last message"), vec![5]);
    let player = r#"
        {"id": 0, "role": "push button", "desc": "Previous", "bbox": [100, 800, 200, 900]},
        {"id": 1, "role": "push button", "desc": "Play", "bbox": [450, 800, 550, 900]},
        {"id": 2, "role": "push button", "desc": "Next", "bbox": [800, 800, 900, 900]}
    "#;
    assert_eq!(pick(player, "", "play the last song again"), vec![0]);
    assert_eq!(pick(player, "", "the last button"), vec![2]);
}

#[test]
fn a_question_about_a_named_value_asks_for_the_value_beside_its_label() {
    let stats = r#"
        {"id": 0, "role": "label", "text": "Speed", "bbox": [40, 300, 500, 400]},
        {"id": 1, "role": "label", "text": "90 mph", "bbox": [550, 300, 960, 400]},
        {"id": 2, "role": "label", "text": "Version", "bbox": [40, 450, 500, 550]},
        {"id": 3, "role": "label", "text": "9.0.0", "bbox": [550, 450, 960, 550]},
        {"id": 4, "role": "push button", "text": "Status", "bbox": [40, 600, 500, 700]}
    "#;
    assert_eq!(pick(stats, "", "What is the speed?"), vec![1]);
    assert_eq!(pick(stats, "", "tell me the version"), vec![3]);
    // A command names the label itself; a button has no value beside it.
    assert_eq!(pick(stats, "", "go to version"), vec![2]);
    assert_eq!(pick(stats, "", "what's the status"), vec![4]);
}

#[test]
fn slips_in_the_screens_words_and_calling_a_named_place() {
    let toolbar = r#"
        {"id": 0, "role": "push button", "desc": "Refresh", "bbox": [10, 10, 60, 60]},
        {"id": 1, "role": "push button", "text": "Spanish", "bbox": [100, 10, 300, 60]},
        {"id": 2, "role": "push button", "text": "English", "bbox": [400, 10, 600, 60]}
    "#;
    assert_eq!(pick(toolbar, "", "go to refrehs icon"), vec![0]);
    assert_eq!(pick(toolbar, "", "tap the spanih button"), vec![1]);
    let results = r#"
        {"id": 0, "role": "link", "text": "Elm Park Garage", "bbox": [100, 100, 900, 140]},
        {"id": 1, "role": "label", "text": "(957) 555-4485", "bbox": [600, 145, 900, 180]},
        {"id": 2, "role": "link", "text": "Burger Barn", "bbox": [100, 300, 900, 340]},
        {"id": 3, "role": "label", "text": "(332) 555-7011", "bbox": [600, 345, 900, 380]}
    "#;
    assert_eq!(pick(results, "", "call Elm Park Garage"), vec![1]);
    // A verb that names the button keeps it: "reply to this email" is the Reply button.
    assert_eq!(pick(results, "", "open Elm Park Garage"), vec![0]);
}

#[test]
fn the_icon_in_a_corner_is_placed_not_named_and_next_icon_is_no_relation() {
    let app = r#"
        {"id": 0, "role": "push button", "desc": "Open navigation drawer", "bbox": [0, 40, 90, 130]},
        {"id": 1, "role": "push button", "res_id": "com.app:id/share_button", "bbox": [820, 40, 910, 130]},
        {"id": 2, "role": "push button", "desc": "Next", "bbox": [910, 40, 1000, 130]},
        {"id": 3, "role": "push button", "res_id": "com.app:id/ic_download", "bbox": [800, 500, 890, 590]},
        {"id": 4, "role": "push button", "res_id": "com.app:id/ic_account", "bbox": [10, 880, 100, 970]},
        {"id": 5, "role": "push button", "desc": "Shopping cart", "bbox": [10, 910, 100, 1000]}
    "#;
    assert_eq!(pick(app, "", "choose the icon on the top right"), vec![2]);
    assert_eq!(pick(app, "", "tap the next icon"), vec![2]);
    assert_eq!(pick(app, "", "the download icon"), vec![3]);
}

#[test]
fn a_relations_anchor_is_ruled_out_for_the_blend() {
    let bar = r#"
        {"id": 0, "role": "push button", "desc": "Open navigation drawer", "bbox": [0, 40, 90, 130]},
        {"id": 1, "role": "push button", "text": "Directions", "bbox": [100, 40, 400, 130]},
        {"id": 2, "role": "push button", "desc": "Profile", "bbox": [900, 40, 990, 130]}
    "#;
    let query = "select button to the left of directions";
    let scores = scores_by_id((1000, 1000), bar, "", query);
    let of = |id: u64| scores[&id];
    assert_eq!(of(1), RULED_OUT);
    assert!(of(0) > of(2) && of(2) > RULED_OUT, "{scores:?}");
}

#[test]
fn a_negation_word_inside_a_name_on_the_screen_is_no_negation() {
    let settings = r#"
        {"id": 0, "role": "label", "text": "Do not disturb", "bbox": [0, 100, 600, 160]},
        {"id": 1, "role": "toggle button", "desc": "Do not disturb", "bbox": [900, 100, 980, 160]},
        {"id": 2, "role": "label", "text": "Other settings", "bbox": [0, 200, 600, 260]},
        {"id": 3, "role": "label", "text": "Sounds", "bbox": [0, 300, 600, 360]}
    "#;
    assert_eq!(pick(settings, "", "turn off do not disturb"), vec![1]);
    assert_eq!(pick(settings, "", "open other settings"), vec![2]);
    // Where the screen does not say the phrase, the word negates.
    let not_sounds = pick(settings, "", "not sounds");
    assert!(
        !not_sounds.is_empty() && !not_sounds.contains(&3),
        "{not_sounds:?}"
    );
}

#[test]
fn what_a_negation_names_is_ruled_out_for_the_blend() {
    let songs = r#"
        {"id": 0, "role": "song", "text": "Sweet Little", "bbox": null},
        {"id": 1, "role": "song", "text": "The Sweet Ashes", "bbox": null}
    "#;
    let ctx = r#"{"speaker": "agent", "text": "Do you mean 'Sweet Little' or 'The Sweet Ashes'?"}"#;
    let scores = |query: &str| {
        let by_id = scores_by_id((1000, 1000), songs, ctx, query);
        [by_id[&0], by_id[&1]]
    };
    let not_little = scores("Not Sweet Little.");
    assert_eq!(not_little[0], RULED_OUT, "{not_little:?}");
    assert!(not_little[1] > SELECT_THRESHOLD, "{not_little:?}");
    // A negation that names both rules out neither.
    let not_sweet = scores("not the sweet one");
    assert!(not_sweet.iter().all(|&s| s > RULED_OUT), "{not_sweet:?}");
}

#[test]
fn a_name_said_in_full_leads_one_said_in_part_except_in_a_question() {
    let screen = r#"
        {"id": 0, "role": "push button", "text": "Basic tips", "bbox": [0, 100, 400, 160]},
        {"id": 1, "role": "push button", "text": "Tips", "bbox": [0, 200, 400, 260]},
        {"id": 2, "role": "label", "text": "Saved searches", "bbox": [0, 300, 400, 360]},
        {"id": 3, "role": "label", "text": "No saved searches.", "bbox": [0, 400, 400, 460]}
    "#;
    assert_eq!(pick(screen, "", "select tips"), vec![1]);
    assert_eq!(pick(screen, "", "open basic tips"), vec![0]);
    // Whichever comes first.
    let swapped = r#"
        {"id": 0, "role": "push button", "text": "Tips", "bbox": [0, 100, 400, 160]},
        {"id": 1, "role": "push button", "text": "Basic tips", "bbox": [0, 200, 400, 260]}
    "#;
    assert_eq!(pick(swapped, "", "select tips"), vec![0]);
    // A question asks for what the name is about.
    assert_eq!(pick(screen, "", "Are there any saved searches?"), vec![3]);
}

#[test]
fn a_neighbour_touching_only_at_a_corner_is_not_stacked() {
    let a = Rect::new(40.0, 310.0, 540.0, 360.0).expect("rect");
    let touching = Rect::new(540.0, 220.0, 864.0, 270.0).expect("rect");
    let under = Rect::new(100.0, 370.0, 500.0, 400.0).expect("rect");
    assert!(!stacked(&a, &touching));
    assert!(stacked(&a, &under));
}

/// An app screen: a top bar of icon buttons, a body row of buttons (the middle one an image
/// whose class says it is a button, as Android image buttons often are) and a bottom bar.
const BARS: &str = r#"
    {"id": 0, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Navigate up", "bbox": [0, 10, 80, 90]},
    {"id": 1, "role": "label", "text": "Gallery", "bbox": [100, 10, 600, 90]},
    {"id": 2, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Share", "bbox": [800, 10, 880, 90]},
    {"id": 3, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Delete", "bbox": [900, 10, 980, 90]},
    {"id": 4, "role": "push button", "cls": "IMAGE_BUTTON", "res_id": "overflow_menu", "bbox": [100, 300, 180, 380]},
    {"id": 5, "role": "image", "cls": "IMAGE_BUTTON", "desc": "Play", "bbox": [450, 300, 530, 380]},
    {"id": 6, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Refresh", "bbox": [800, 300, 880, 380]},
    {"id": 7, "role": "label", "text": "Sunset over the bay", "bbox": [100, 500, 900, 560]},
    {"id": 8, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Home", "bbox": [100, 920, 180, 990]},
    {"id": 9, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Profile", "bbox": [450, 920, 530, 990]},
    {"id": 10, "role": "push button", "cls": "IMAGE_BUTTON", "desc": "Settings", "bbox": [800, 920, 880, 990]}
"#;

#[test]
fn ordinals_count_the_body_not_the_app_bars_and_image_buttons_are_buttons() {
    assert_eq!(
        pick(BARS, "", "press the first button from the left"),
        vec![4]
    );
    // An image whose class says button is one.
    assert_eq!(pick(BARS, "", "the button left of refresh"), vec![5]);
    assert_eq!(
        pick(BARS, "", "press the third button from the left"),
        vec![6]
    );
}

#[test]
fn a_position_narrows_an_ordinal_to_that_part_of_the_screen() {
    // The bottom bar's row, counted from its left.
    assert_eq!(
        pick(BARS, "", "press the first button at the bottom"),
        vec![8]
    );
    assert_eq!(pick(BARS, "", "the second button at the bottom"), vec![9]);
    // Two sides: the outer third on each.
    assert_eq!(pick(BARS, "", "the first icon at the top right"), vec![2]);
    assert_eq!(pick(BARS, "", "the last icon at the top"), vec![3]);
    // Without a position the body's row is counted.
    assert_eq!(pick(BARS, "", "press the second button"), vec![5]);
}

#[test]
fn a_question_is_answered_by_words_not_by_a_picture_unless_it_names_one() {
    // The icon's text is a machine caption that shares the question's words.
    let screen = r#"
        {"id": 0, "role": "icon", "text": "a white triangle with the name of a movie on a black background .", "bbox": [0, 10, 80, 90]},
        {"id": 1, "role": "label", "text": "VR Movies", "bbox": [100, 10, 600, 90]},
        {"id": 2, "role": "label", "text": "Settings", "bbox": [100, 300, 600, 360]}
    "#;
    assert_eq!(
        pick(screen, "", "What is the name of the movie app?"),
        vec![1]
    );
    let scores = scores_by_id(
        (1000, 1000),
        screen,
        "",
        "What is the name of the movie app?",
    );
    assert!(scores[&0] < SELECT_THRESHOLD, "{scores:?}");
    // A question that names a picture may be answered by one; a request that is no question
    // is not touched.
    assert_eq!(
        pick(screen, "", "what is the icon with the triangle?"),
        vec![0]
    );
    assert_eq!(pick(screen, "", "tap the white triangle"), vec![0]);
}

#[test]
fn places_decades_and_dates_in_descriptions() {
    let ctx = r#"{"speaker": "agent", "text": "Do you mean 'Pandoro' or 'Maple butter'?"}"#;
    let food = r#"
        {"id": 0, "role": "recipe", "text": "Pandoro", "desc": "A traditional Italian sweet bread, popular around Christmas", "bbox": null},
        {"id": 1, "role": "recipe", "text": "Maple butter", "desc": "A spread made from maple syrup; its name comes from its buttery texture", "bbox": null}
    "#;
    // The place matches its people's adjective; "comes" names nothing.
    assert_eq!(pick(food, ctx, "comes from Italy"), vec![0]);
    assert_eq!(pick(food, ctx, "the Italian one"), vec![0]);
    let ctx =
        r#"{"speaker": "agent", "text": "Do you mean 'Something Borrowed' or 'The Wedding'?"}"#;
    let books = r#"
        {"id": 0, "role": "book", "text": "Something Borrowed", "desc": "A 2005 novel about friends and marriage", "bbox": null},
        {"id": 1, "role": "book", "text": "The Wedding", "desc": "A romance novel published in April 2000, set in Los Angeles", "bbox": null}
    "#;
    // The superlative compares the years; "published" does not pick the book that says it.
    assert_eq!(
        pick(books, ctx, "the one that was published later"),
        vec![0]
    );
    assert_eq!(pick(books, ctx, "the one published earlier"), vec![1]);
    let ctx = r#"{"speaker": "agent", "text": "Do you mean 'Of the Balance of Trade' or 'The Death of Economics'?"}"#;
    let essays = r#"
        {"id": 0, "role": "book", "text": "Of the Balance of Trade", "desc": "An essay on monetary economics by David Hume, published in 1752", "bbox": null},
        {"id": 1, "role": "book", "text": "The Death of Economics", "desc": "A book by Paul Ormerod, first printed in 1994", "bbox": null}
    "#;
    assert_eq!(pick(essays, ctx, "the one from the 1700's"), vec![0]);
    assert_eq!(pick(essays, ctx, "not the book from the 1700s"), vec![1]);
    assert_eq!(
        pick(essays, ctx, "the one that came out in the 90's"),
        vec![1]
    );
}

#[test]
fn decade_and_century_words() {
    assert_eq!(decade("90's"), Some((1990, 1999)));
    assert_eq!(decade("80s"), Some((1980, 1989)));
    assert_eq!(decade("00s"), Some((2000, 2009)));
    assert_eq!(decade("1980s"), Some((1980, 1989)));
    assert_eq!(decade("1700's"), Some((1700, 1799)));
    assert_eq!(decade("1990"), None);
    assert_eq!(decade("95s"), None);
    assert_eq!(decade("items"), None);
}

#[test]
fn what_he_sent_is_in_his_bubbles_the_latest_first() {
    let chat = r#"
        {"id": 0, "role": "push button", "desc": "Navigate up", "bbox": [20, 100, 140, 220]},
        {"id": 1, "role": "label", "text": "Tara Berg", "bbox": [160, 110, 700, 210]},
        {"id": 2, "role": "label", "text": "meet me at 388 Park Blvd", "bbox": [320, 300, 1040, 440]},
        {"id": 3, "role": "label", "text": "meet me at 958 Cedar Ln", "bbox": [40, 480, 760, 620]},
        {"id": 4, "role": "label", "text": "my new number is (886) 555-3903", "bbox": [40, 660, 760, 800]},
        {"id": 5, "role": "label", "text": "meet me at 527 Willow Way", "bbox": [40, 840, 760, 980]},
        {"id": 6, "role": "label", "text": "my new number is (416) 555-1936", "bbox": [320, 1200, 1040, 1340]},
        {"id": 7, "role": "entry", "text": "Message", "bbox": [40, 2200, 800, 2320]}
    "#;
    let tall = |query: &str| pick_on((1080, 2400), chat, "", query);
    assert_eq!(tall("call the number he sent"), vec![4]);
    assert_eq!(tall("call the number I sent"), vec![6]);
    assert_eq!(tall("take me to the address she sent"), vec![5]);
    assert_eq!(tall("take me to the address I sent"), vec![2]);
}

#[test]
fn ui_synonyms_name_controls_on_the_screen_not_entities_in_the_dialogue() {
    let ctx = r#"{"speaker": "agent", "text": "The closest grocery store is Sunrise Grocery at 574 Castro St."}"#;
    let places = r#"
        {"id": 0, "role": "grocery store", "text": "Sunrise Grocery", "desc": "address: 574 Castro St; type: grocery store", "bbox": null},
        {"id": 1, "role": "pizza place", "text": "Olive Pizza", "desc": "address: 695 El Camino Real; type: pizza place", "bbox": null}
    "#;
    // "gps" is a synonym of "place" for icons; the pizza place is not what "it" means.
    assert_eq!(
        pick(places, ctx, "Sounds good, send it to my GPS."),
        vec![0]
    );
    let toolbar = r#"
        {"id": 0, "role": "push button", "res_id": "ic_place", "bbox": [0, 10, 80, 90]},
        {"id": 1, "role": "push button", "desc": "Share", "bbox": [100, 10, 180, 90]}
    "#;
    assert_eq!(pick(toolbar, "", "tap the gps icon"), vec![0]);
}

#[test]
fn there_after_a_turn_that_named_one_thing_is_that_thing() {
    let places = r#"
        {"id": 0, "role": "hotel", "text": "Comfort Inn", "desc": "address: 753 University Ave; distance: 4 miles; traffic: heavy traffic", "bbox": null},
        {"id": 1, "role": "shopping mall", "text": "Topanga Mall", "desc": "address: 12 Oak St; distance: 1 miles; traffic: no traffic", "bbox": null}
    "#;
    let ctx =
        r#"{"speaker": "agent", "text": "The address for Comfort Inn is 753 University Ave."}"#;
    // The route's words describe the trip, not the place.
    assert_eq!(
        pick(
            places,
            ctx,
            "Thank you car, let's go there on the quickest route with no traffic"
        ),
        vec![0]
    );
    // "Is there" asks whether something exists; it points at nothing said.
    assert_eq!(
        pick(places, ctx, "is there a mall with no traffic?"),
        vec![1]
    );
    // A turn that named both leaves the words to decide.
    let both = r#"{"speaker": "agent", "text": "Comfort Inn and Topanga Mall are both near."}"#;
    assert_eq!(pick(places, both, "take me to the closest one"), vec![1]);
}

#[test]
fn how_much_of_a_measure_write_back_and_a_place_called_corner() {
    let meal = r#"
        {"id": 0, "role": "label", "text": "Salmon bowl", "bbox": [40, 100, 500, 180]},
        {"id": 1, "role": "label", "text": "$14.50", "bbox": [550, 100, 960, 180]},
        {"id": 2, "role": "label", "text": "Calories", "bbox": [40, 300, 500, 400]},
        {"id": 3, "role": "label", "text": "640", "bbox": [550, 300, 960, 400]}
    "#;
    assert_eq!(pick(meal, "", "How much is the calories?"), vec![3]);
    assert_eq!(pick(meal, "", "How much is it?"), vec![1]);
    let chat = r#"
        {"id": 0, "role": "push button", "desc": "Navigate up", "bbox": [0, 40, 90, 130]},
        {"id": 1, "role": "label", "text": "are you coming tonight?", "bbox": [20, 300, 600, 360]},
        {"id": 2, "role": "entry", "text": "", "desc": "Message", "bbox": [20, 900, 880, 980]},
        {"id": 3, "role": "push button", "desc": "Send", "bbox": [900, 900, 990, 980]}
    "#;
    assert_eq!(pick(chat, "", "write back"), vec![2]);
    assert_eq!(pick(chat, "", "go back"), vec![0]);
    let places = r#"
        {"id": 0, "role": "link", "text": "Corner Bakery", "bbox": [100, 100, 900, 140]},
        {"id": 1, "role": "link", "text": "Golden Wok", "bbox": [100, 300, 900, 340]},
        {"id": 2, "role": "push button", "desc": "Filter", "bbox": [900, 900, 990, 990]}
    "#;
    assert_eq!(pick(places, "", "book a table at Corner"), vec![0]);
    assert_eq!(
        pick(places, "", "the button in the bottom right corner"),
        vec![2]
    );
}

/// The blend adds the baseline's scores to the model's: a place or a relation picks one thing
/// by a margin the model cannot wash out, not by the few hundredths between neighbours.
#[test]
fn the_best_placed_match_leads_by_a_clear_margin() {
    let bar = r#"
        {"id": 0, "role": "push button", "desc": "Home", "bbox": [700, 900, 790, 990]},
        {"id": 1, "role": "push button", "desc": "Search", "bbox": [800, 900, 890, 990]},
        {"id": 2, "role": "push button", "desc": "Profile", "bbox": [900, 900, 990, 990]},
        {"id": 3, "role": "label", "text": "Welcome back", "bbox": [100, 100, 900, 200]}
    "#;
    let s = scores_by_id((1000, 1000), bar, "", "tap the button at the bottom right");
    assert!(s[&2] >= s[&1] + PLACED, "{s:?}");
    assert!(s[&1] > s[&0], "{s:?}");
    // A relation too: the nearest on that side.
    let list = r#"
        {"id": 0, "role": "label", "text": "Sleep", "bbox": [100, 100, 300, 140]},
        {"id": 1, "role": "label", "text": "Display", "bbox": [100, 150, 300, 180]},
        {"id": 2, "role": "label", "text": "Phone", "bbox": [100, 190, 300, 220]}
    "#;
    let s = scores_by_id((1000, 1000), list, "", "tap the text below sleep");
    assert!(s[&1] >= s[&2] + PLACED, "{s:?}");
    // An ordinal placed by position has had its pick: no second one.
    let s = scores_by_id((1000, 1000), bar, "", "the second button at the bottom");
    let mut top: Vec<f64> = s.values().copied().collect();
    top.sort_by(|a, b| b.total_cmp(a));
    assert!(top[0] - top[1] < 2.0 + PLACED, "{s:?}");
}

#[test]
fn a_destination_is_an_address_and_a_web_address_is_a_link() {
    let results = r#"
        {"id": 0, "role": "label", "text": "Quick Lube", "bbox": [40, 100, 900, 140]},
        {"id": 1, "role": "label", "text": "738 Grant Rd, Sunnyvale", "bbox": [40, 150, 600, 190]},
        {"id": 2, "role": "label", "text": "(319) 555-1575", "bbox": [650, 150, 960, 190]},
        {"id": 3, "role": "label", "text": "Sushi Zen", "bbox": [40, 300, 900, 340]},
        {"id": 4, "role": "label", "text": "46 University Ave, Palo Alto", "bbox": [40, 350, 600, 390]},
        {"id": 5, "role": "label", "text": "(832) 555-8810", "bbox": [650, 350, 960, 390]},
        {"id": 6, "role": "label", "text": "Casa Nostra", "bbox": [40, 500, 900, 540]},
        {"id": 7, "role": "label", "text": "720 Bay St, Campbell", "bbox": [40, 550, 600, 590]},
        {"id": 8, "role": "label", "text": "(545) 555-2958", "bbox": [650, 550, 960, 590]}
    "#;
    assert_eq!(pick(results, "", "take me to the second place"), vec![4]);
    assert_eq!(pick(results, "", "take me to Casa Nostra"), vec![7]);
    let chat = r#"
        {"id": 0, "role": "push button", "desc": "Navigate up", "bbox": [0, 40, 90, 130]},
        {"id": 1, "role": "label", "text": "look at this https://bright.example.com/785", "bbox": [20, 300, 600, 360]},
        {"id": 2, "role": "label", "text": "Rent receipt", "bbox": [400, 400, 980, 460]},
        {"id": 3, "role": "label", "text": "look at this https://summer.example.com/792", "bbox": [400, 500, 980, 560]},
        {"id": 4, "role": "entry", "text": "", "desc": "Message", "bbox": [20, 900, 880, 980]}
    "#;
    assert_eq!(pick(chat, "", "open the link I sent"), vec![3]);
    assert_eq!(pick(chat, "", "open the link she sent"), vec![1]);
}

#[test]
fn an_ordinal_inside_a_name_is_a_word_of_the_name() {
    let songs = r#"
        {"id": 0, "role": "song", "text": "Last of Glass", "bbox": null},
        {"id": 1, "role": "song", "text": "Iron of Secret", "bbox": null}
    "#;
    let ctx = r#"{"speaker": "agent", "text": "Which one: 'Last of Glass' or 'Iron of Secret'?"}"#;
    assert_eq!(pick(songs, ctx, "Last of glass"), vec![0]);
    // Where no name says it, the ordinal counts.
    assert_eq!(pick(songs, ctx, "the last one"), vec![1]);
    assert_eq!(pick(songs, ctx, "the first of them"), vec![0]);
}
