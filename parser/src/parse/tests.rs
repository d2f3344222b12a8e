//! Goldens of the onscreen parse of the included screens, and its invariants as properties.

use expect_test::{expect, Expect};
use proptest::prelude::*;

use super::*;
use crate::element::{Rect, ScreenSize};
use crate::format::read_screen_file;
use crate::prompt::{entries, render};

/// Parses a screen file and renders the parse, its candidates' element ids and diagnostics.
fn check(file: &str, expect: Expect) {
    let path = format!("{}/testdata/screens/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect("fixture");
    let case = read_screen_file(&bytes).expect("fixture parses");
    let mut diags = Vec::new();
    let screen = Screen::new(case.size, case.elements, &mut diags);
    let config = ParseConfig {
        seed: seed_from(&case.id),
        ..ParseConfig::default()
    };
    let (parse, more) = parse(&screen, &config);
    diags.extend(more);
    let mut out = parse.text.clone();
    out.push_str("\n--\n");
    for c in &parse.candidates {
        let e = &screen.elements[c.element];
        let kind = c.entity.as_ref().map_or("element", |(k, _)| k.name());
        out.push_str(&format!("{} -> {} ({kind})\n", c.number, e.id));
    }
    for d in &diags {
        out.push_str(&format!("! {d}\n"));
    }
    expect.assert_eq(&out);
}

#[test]
fn contact_card_with_two_phone_numbers() {
    check(
        "contact_card.json",
        expect![[r#"
        {{7. Contacts}}	{{12. [tool bar]}}
        {{29. [push button: Create New Contact]}}	{{36. Contacts}}	{{11. [push button: Search]}}	{{38. Ada Lovelace}}	{{43. [push button: Main Menu]}}	{{20. [push button: Close]}}
        {{17. [panel]}}	{{40. [list]}}	{{15. Ada Lovelace}}	{{14. [panel]}}
        {{35. [image: Ada Lovelace]}}	{{47. Ada Lovelace}}
        {{44. Alan Turing}}	{{28. [image: Ada Lovelace]}}
        {{54. [image: Alan Turing]}}	{{22. Alan Turing}}
        {{53. Charles Babbage}}
        {{31. [image: Charles Babbage]}}	{{41. Charles Babbage}}
        {{46. Grace Hopper}}	{{45. Ada Lovelace}}
        {{32. [image: Grace Hopper]}}	{{42. Grace Hopper}}
        {{13. Katherine Johnson}}	{{10. [icon: call-start-symbolic]}}	{{34. Call}}	{{3. [icon: mail-send-symbolic]}}	{{4. Message}}	{{16. [icon: document-edit-symbolic]}}	{{5. Edit}}
        {{48. [image: Katherine Johnson]}}	{{39. Katherine Johnson}}
        {{49. Linus Torvalds}}	{{25. [list]}}	Mobile {{30. +44 20 7946 0958}}
        {{2. [image: Linus Torvalds]}}	{{37. Linus Torvalds}}	{{51. Mobile}}	{{8. +44 20 7946 0958}}
        Work {{50. (408) 555-0123}}
        {{18. Work}}	{{19. (408) 555-0123}}
        {{23. [separator]}}	Email {{52. ada@analytical.engine.org}}	{{26. ada@analytical.engine.org}}
        {{27. Email}}
        Address {{24. 12 St James's Square, London SW1Y 4JH}}
        {{9. Address}}	{{33. 12 St James's Square, London SW1Y 4JH}}
        Birthday {{1. December 10, 1815}}
        {{6. Birthday}}	{{21. December 10, 1815}}
        --
        1 -> 51 (date)
        2 -> 26 (element)
        3 -> 35 (element)
        4 -> 34 (element)
        5 -> 36 (element)
        6 -> 52 (element)
        7 -> 0 (element)
        8 -> 41 (phone number)
        9 -> 49 (element)
        10 -> 33 (element)
        11 -> 4 (element)
        12 -> 1 (element)
        13 -> 22 (element)
        14 -> 29 (element)
        15 -> 10 (element)
        16 -> 37 (element)
        17 -> 8 (element)
        18 -> 43 (element)
        19 -> 44 (phone number)
        20 -> 7 (element)
        21 -> 53 (date)
        22 -> 15 (element)
        23 -> 28 (element)
        24 -> 48 (address)
        25 -> 38 (element)
        26 -> 47 (email address)
        27 -> 46 (element)
        28 -> 30 (element)
        29 -> 2 (element)
        30 -> 39 (phone number)
        31 -> 17 (element)
        32 -> 20 (element)
        33 -> 50 (address)
        34 -> 32 (element)
        35 -> 11 (element)
        36 -> 3 (element)
        37 -> 27 (element)
        38 -> 5 (element)
        39 -> 24 (element)
        40 -> 9 (element)
        41 -> 18 (element)
        42 -> 21 (element)
        43 -> 6 (element)
        44 -> 13 (element)
        45 -> 31 (element)
        46 -> 19 (element)
        47 -> 12 (element)
        48 -> 23 (element)
        49 -> 25 (element)
        50 -> 42 (phone number)
        51 -> 40 (element)
        52 -> 45 (email address)
        53 -> 16 (element)
        54 -> 14 (element)
    "#]],
    );
}

#[test]
fn search_results() {
    check(
        "search_results.json",
        expect![[r#"
        {{19. linux screen reader at DuckDuckGo — Mozilla Firefox}}	{{2. [tool bar: Browser tabs]}}
        {{15. linux screen reader at DuckDuckGo}}	{{23. [push button: Open a new tab]}}	{{20. [push button: Close]}}
        {{9. [tool bar: Navigation]}}	{{32. [push button: Back]}}	{{29. [push button: Forward]}}	{{16. [push button: Reload]}}	{{34. https://duckduckgo.com/?q=linux+screen+reader}}	{{4. [push button: Open application menu]}}
        {{25. [document web: linux screen reader at DuckDuckGo]}}	{{28. [panel]}}
        {{33. linux screen reader}}	{{6. [push button: Search]}}
        {{22. [panel]}}	{{27. Orca - GNOME Wiki!}}
        {{26. https://wiki.gnome.org/Projects/Orca}}
        {{7. Orca is a free, open source, flexible, and extensible screen reader that provides access to the graphical desktop via speech and refreshable braille.}}
        {{21. [panel]}}	{{35. Orca (assistive technology) - Wikipedia}}
        {{36. https://en.wikipedia.org/wiki/Orca_(assistive_technology)}}
        {{37. Orca is a free and open-source, flexible, extensible screen reader from the GNOME project for individuals who are blind or visually impaired.}}
        {{14. [panel]}}	{{13. Accessibility - ArchWiki}}
        {{1. This article describes how to configure screen readers, magnifiers and on-screen keyboards on Arch Linux, including Orca, Speakup and Fenrir.}}	{{17. https://wiki.archlinux.org/title/Accessibility}}
        {{12. [scroll bar]}}
        {{11. [panel]}}	{{10. Speakup: a screen review package for the Linux console}}
        {{18. https://linux-speakup.org/}}
        {{31. Speakup is a screen review package for the Linux operating system. It enables a blind or visually impaired user to work with the text console.}}
        {{3. [panel]}}	{{5. Screen readers on Linux: Orca, Speakup and Fenrir compared}}
        {{8. https://blog.example.org/2023/linux-screen-readers}}
        {{30. We tried the three main Linux screen readers for a month each. Here is how they handle the desktop, the terminal and the web browser.}}
        {{24. Next page}}
        --
        1 -> 26 (element)
        2 -> 1 (element)
        3 -> 31 (element)
        4 -> 10 (element)
        5 -> 32 (element)
        6 -> 14 (element)
        7 -> 18 (element)
        8 -> 33 (url)
        9 -> 5 (element)
        10 -> 28 (element)
        11 -> 27 (element)
        12 -> 36 (element)
        13 -> 24 (element)
        14 -> 23 (element)
        15 -> 2 (element)
        16 -> 8 (element)
        17 -> 25 (url)
        18 -> 29 (url)
        19 -> 0 (element)
        20 -> 4 (element)
        21 -> 19 (element)
        22 -> 15 (element)
        23 -> 3 (element)
        24 -> 35 (element)
        25 -> 11 (element)
        26 -> 17 (url)
        27 -> 16 (element)
        28 -> 12 (element)
        29 -> 7 (element)
        30 -> 34 (element)
        31 -> 30 (element)
        32 -> 6 (element)
        33 -> 13 (element)
        34 -> 9 (url)
        35 -> 20 (element)
        36 -> 21 (url)
        37 -> 22 (element)
    "#]],
    );
}

#[test]
fn settings_page() {
    check(
        "settings_page.json",
        expect![[r#"
        {{30. Settings}}	{{15. [tool bar]}}	{{38. [tool bar]}}
        {{46. [push button: Search]}}	{{33. Settings}}	{{1. [push button: Primary Menu]}}	{{16. Power}}	{{14. [push button: Close]}}
        {{51. [list]}}	{{43. [panel]}}
        {{32. Wi-Fi}}	{{36. Wi-Fi}}	{{40. Power Saving}}
        {{5. Network}}	{{41. Network}}	{{52. [list]}}	{{28. Screen Brightness}}
        {{58. Screen Brightness}}	{{55. 62}}
        {{18. Bluetooth}}	{{24. Bluetooth}}	{{53. Dim Screen}}	{{48. Dim Screen}}
        {{44. Displays}}	{{6. Displays}}	{{26. Reduces the screen brightness when the computer is inactive.}}	{{47. [toggle button: Dim Screen]}}
        {{19. Screen Blank}}
        {{39. Sound}}	{{59. Sound}}	{{56. Screen Blank}}	{{42. 5 minutes}}
        {{9. Power}}	{{60. Power}}	{{4. Automatic Suspend}}
        {{17. Automatic Suspend}}	{{13. When on battery power}}	{{50. [icon: go-next-symbolic]}}
        {{63. Multitasking}}	{{20. Multitasking}}	{{34. Wi-Fi}}	{{49. Wi-Fi}}
        {{61. Appearance}}	{{3. Appearance}}	{{23. Wi-Fi can be turned off to save power.}}	{{8. [toggle button: Wi-Fi]}}
        {{25. Notifications}}	{{22. [separator]}}	{{12. Bluetooth}}	{{57. Bluetooth}}
        {{29. Notifications}}	{{27. Bluetooth can be turned off to save power.}}	{{7. [toggle button: Bluetooth]}}
        {{54. Search}}	{{35. Search}}	{{21. Suspend & Power Button}}
        {{37. [list]}}	{{62. Power Button Behavior}}
        {{11. Power Button Behavior}}	{{2. Suspend}}
        {{45. Show Battery Percentage}}
        {{10. Show Battery Percentage}}	{{31. [toggle button: Show Battery Percentage]}}
        --
        1 -> 4 (element)
        2 -> 59 (element)
        3 -> 20 (element)
        4 -> 43 (element)
        5 -> 9 (element)
        6 -> 12 (element)
        7 -> 54 (element)
        8 -> 50 (element)
        9 -> 17 (element)
        10 -> 61 (element)
        11 -> 58 (element)
        12 -> 51 (element)
        13 -> 45 (element)
        14 -> 29 (element)
        15 -> 1 (element)
        16 -> 28 (element)
        17 -> 44 (element)
        18 -> 11 (element)
        19 -> 40 (element)
        20 -> 18 (element)
        21 -> 55 (element)
        22 -> 26 (element)
        23 -> 49 (element)
        24 -> 10 (element)
        25 -> 22 (element)
        26 -> 38 (element)
        27 -> 53 (element)
        28 -> 33 (element)
        29 -> 23 (element)
        30 -> 0 (element)
        31 -> 62 (element)
        32 -> 7 (element)
        33 -> 3 (element)
        34 -> 47 (element)
        35 -> 24 (element)
        36 -> 6 (element)
        37 -> 56 (element)
        38 -> 27 (element)
        39 -> 15 (element)
        40 -> 31 (element)
        41 -> 8 (element)
        42 -> 42 (element)
        43 -> 30 (element)
        44 -> 13 (element)
        45 -> 60 (element)
        46 -> 2 (element)
        47 -> 39 (element)
        48 -> 37 (element)
        49 -> 48 (element)
        50 -> 46 (element)
        51 -> 5 (element)
        52 -> 32 (element)
        53 -> 36 (element)
        54 -> 25 (element)
        55 -> 35 (element)
        56 -> 41 (element)
        57 -> 52 (element)
        58 -> 34 (element)
        59 -> 14 (element)
        60 -> 16 (element)
        61 -> 21 (element)
        62 -> 57 (element)
        63 -> 19 (element)
    "#]],
    );
}

#[test]
fn open_email_never_shows_the_password() {
    check(
        "open_email.json",
        expect![[r#"
        Meeting on {{32. Tuesday}}	{{6. [tool bar]}}
        {{19. Reply}}	{{31. Reply All}}	{{27. Forward}}	{{29. [separator]}}	{{10. Archive}}	{{9. Delete}}
        {{28. [panel]}}	{{2. [panel]}}	{{21. [panel]}}
        {{34. From:}}	Grace Hopper <{{13. grace@navy.mil}}>	{{35. Unlock vault}}
        {{38. To:}}	Ada Lovelace <{{36. ada@analytical.engine.org}}>
        {{8. Subject:}}	Meeting on {{12. Tuesday}}	{{14. Enter your master password to fill saved logins.}}
        {{25. Date:}}	{{23. Tue, 5 Mar 2024}} {{20. 10:30}}	{{15. Master password}}
        {{26. [panel]}}	{{5. [separator]}}	{{16. [password text]}}
        {{30. Hi Ada,}}
        {{7. Unlock}}
        Can we meet on {{11. Tuesday}} at {{18. 3:00 PM}} to go over the compiler budget? The estimate for the first phase came in at {{3. $1,250.00}}, which is a little over what we planned.
        {{22. https://cobol.example.com/agenda}}	I have put the agenda at {{37. https://cobol.example.com/agenda}}, so please add anything I missed before {{1. Monday}} evening.
        We will meet at {{33. 1600 Pennsylvania Ave}} NW, Washington, DC 20500. If anything changes, call me at {{24. +1 202-555-0175}}.
        {{4. Best,}}
        {{17. Grace}}
        --
        1 -> 22 (date)
        2 -> 9 (element)
        3 -> 21 (money)
        4 -> 25 (element)
        5 -> 18 (element)
        6 -> 1 (element)
        7 -> 32 (element)
        8 -> 14 (element)
        9 -> 7 (element)
        10 -> 6 (element)
        11 -> 21 (date)
        12 -> 15 (date)
        13 -> 11 (email address)
        14 -> 29 (element)
        15 -> 30 (element)
        16 -> 31 (element)
        17 -> 26 (element)
        18 -> 21 (time)
        19 -> 2 (element)
        20 -> 17 (time)
        21 -> 27 (element)
        22 -> 23 (url)
        23 -> 17 (date)
        24 -> 24 (phone number)
        25 -> 16 (element)
        26 -> 19 (element)
        27 -> 4 (element)
        28 -> 8 (element)
        29 -> 5 (element)
        30 -> 20 (element)
        31 -> 3 (element)
        32 -> 0 (date)
        33 -> 24 (address)
        34 -> 10 (element)
        35 -> 28 (element)
        36 -> 13 (email address)
        37 -> 22 (url)
        38 -> 12 (element)
        ! text of 1 sensitive element(s) (password fields) not read
    "#]],
    );
}

#[test]
fn toolbar_of_icons_without_text() {
    check(
        "icon_toolbar.json",
        expect![[r#"
            {{6. sunset.png — Example Editor}}	{{25. [tool bar]}}
            {{24. [push button: Open]}}	{{19. [push button: Save]}}	{{1. [separator]}}	{{4. [push button: undo button]}}	{{21. [push button: button redo]}}	{{12. [separator]}}	{{5. [push button: Zoom in]}}	{{17. [push button: Zoom out]}}	{{23. [push button: crop button]}}	{{11. [push button: button rotate left]}}	{{7. [push button]}}	{{2. [separator]}}	{{14. [push button: Play]}}	{{13. [push button: Pause]}}	{{3. [push button: search button]}}	{{18. [push button: Main Menu]}}	{{20. [push button: Close]}}
            {{16. [panel]}}
            {{10. [image: sunset.png]}}
            {{15. [status bar]}}	{{8. sunset.png — 1920 × 1280 px — 100%}}	{{9. [push button: Previous Image]}}	{{22. [push button: Next Image]}}
            --
            1 -> 4 (element)
            2 -> 13 (element)
            3 -> 16 (element)
            4 -> 5 (element)
            5 -> 8 (element)
            6 -> 0 (element)
            7 -> 12 (element)
            8 -> 22 (element)
            9 -> 23 (element)
            10 -> 20 (element)
            11 -> 11 (element)
            12 -> 7 (element)
            13 -> 15 (element)
            14 -> 14 (element)
            15 -> 21 (element)
            16 -> 19 (element)
            17 -> 9 (element)
            18 -> 17 (element)
            19 -> 3 (element)
            20 -> 18 (element)
            21 -> 6 (element)
            22 -> 24 (element)
            23 -> 10 (element)
            24 -> 2 (element)
            25 -> 1 (element)
        "#]],
    );
}

#[test]
fn two_column_layout_interleaves_rows() {
    check(
        "two_column.json",
        expect![[r#"
        {{12. The Daily Kernel — Mozilla Firefox}}	{{41. [tool bar: Browser tabs]}}
        {{3. The Daily Kernel}}	{{7. [push button: Open a new tab]}}	{{1. [push button: Close]}}
        {{31. [tool bar: Navigation]}}	{{23. [push button: Back]}}	{{45. [push button: Forward]}}	{{4. [push button: Reload]}}	{{24. https://dailykernel.example.com/}}	{{35. [push button: Open application menu]}}
        {{42. [document web: The Daily Kernel]}}
        {{2. The Daily Kernel}}
        {{30. [panel]}}	{{36. News}}	{{13. Reviews}}	{{39. Guides}}	{{26. About}}
        {{10. [panel]}}	{{8. [panel]}}	{{38. [panel]}}
        {{40. GNOME 46 brings a faster file search}}	{{29. Trending}}
        {{37. The new release rewrites the search provider in Nautilus, cutting the time to first result in half on large home folders.}}	{{28. Why your laptop fan never stops}}
        {{14. A beginner's guide to systemd timers}}
        {{6. Read more}}	{{44. Flatpak vs Snap, one year later}}
        {{19. [panel]}}
        {{33. Rust drivers land in the mainline kernel}}	{{25. Ten keyboard shortcuts you should know}}
        {{5. After two years of review, the first network driver written in Rust has been merged, with more expected next cycle.}}	{{17. Get the weekly newsletter}}
        {{16. [entry: Email address]}}	{{20. Subscribe}}
        {{9. Read more}}
        {{27. [panel]}}	{{32. [scroll bar]}}
        {{21. Orca screen reader gets a new speech backend}}
        {{18. Orca can now talk to Spiel as well as Speech Dispatcher, which should make it easier to ship modern voices.}}
        {{11. Read more}}
        {{15. [panel]}}
        {{22. Wayland accessibility: where things stand in 2024}}
        Screen readers, on-screen keyboards and magnifiers all need new protocols. We look at what works {{43. today}} and what is missing.
        {{34. Read more}}
        --
        1 -> 4 (element)
        2 -> 12 (element)
        3 -> 2 (element)
        4 -> 8 (element)
        5 -> 26 (element)
        6 -> 23 (element)
        7 -> 3 (element)
        8 -> 20 (element)
        9 -> 27 (element)
        10 -> 18 (element)
        11 -> 31 (element)
        12 -> 0 (element)
        13 -> 15 (element)
        14 -> 38 (element)
        15 -> 32 (element)
        16 -> 42 (element)
        17 -> 41 (element)
        18 -> 30 (element)
        19 -> 24 (element)
        20 -> 43 (element)
        21 -> 29 (element)
        22 -> 33 (element)
        23 -> 6 (element)
        24 -> 9 (url)
        25 -> 40 (element)
        26 -> 17 (element)
        27 -> 28 (element)
        28 -> 37 (element)
        29 -> 36 (element)
        30 -> 13 (element)
        31 -> 5 (element)
        32 -> 44 (element)
        33 -> 25 (element)
        34 -> 35 (element)
        35 -> 10 (element)
        36 -> 14 (element)
        37 -> 22 (element)
        38 -> 19 (element)
        39 -> 16 (element)
        40 -> 21 (element)
        41 -> 1 (element)
        42 -> 11 (element)
        43 -> 34 (date)
        44 -> 39 (element)
        45 -> 7 (element)
    "#]],
    );
}

#[test]
fn prompt_matches_the_design() {
    let case = crate::format::read_case(
        r#"{"id": "p", "screen": {"width": 100, "height": 100},
            "elements": [
              {"id": 0, "role": "push button", "text": "Call", "bbox": [0, 0, 20, 10]},
              {"id": 1, "role": "label", "text": "+1 408 555 0123", "bbox": [30, 0, 90, 10]},
              {"id": 2, "role": "icon", "desc": "search", "bbox": [0, 50, 10, 60]},
              {"id": 3, "role": "alarm", "text": "Wake up", "desc": "7:00 every day", "bbox": null}
            ],
            "context": [{"speaker": "agent", "text": "You have one alarm."}],
            "query": "call\tthat   number"}"#,
    )
    .expect("case");
    let screen = Screen::new(case.size, case.elements, &mut Vec::new());
    let (parse, _) = parse(&screen, &ParseConfig::default());
    let prompt = render(&screen, &parse, &case.context, &case.query, 300);
    expect![[r#"
        Select which among the following entities, if any, are required to understand the user
        request below. Output 0 if none of the entities are relevant.
        Screen:
        {{1. Call}}	{{2. +1 408 555 0123}}
        {{3. [icon: search]}}
        Entities:
        0. None
        4. Type: alarm | name: Wake up | description: 7:00 every day
        Dialogue:
        agent: You have one alarm.
        User request: call that number
        Relevant entity:"#]]
    .assert_eq(&prompt.text);
    assert!(prompt.text[..prompt.prefix_len].ends_with("[icon: search]}}\n"));
    let entries: Vec<(usize, &str)> = entries(&prompt.text)
        .into_iter()
        .map(|e| (e.number, &prompt.text[e.start..e.end]))
        .collect();
    assert_eq!(
        entries,
        [
            (1, "{{1. Call}}"),
            (2, "{{2. +1 408 555 0123}}"),
            (3, "{{3. [icon: search]}}"),
            (0, "0. None\n"),
            (
                4,
                "4. Type: alarm | name: Wake up | description: 7:00 every day\n"
            )
        ]
    );
}

#[test]
fn stand_ins_and_resource_ids_read_as_words() {
    assert_eq!(
        humanize_id("com.example.editor:id/crop_button"),
        "crop button"
    );
    assert_eq!(humanize_id("buttonShowInfoIMDB"), "button show info imdb");
    assert_eq!(humanize_id("btn_rotate_left"), "button rotate left");
    assert_eq!(humanize_id("ivUserAvatar"), "image user avatar");
    assert_eq!(humanize_id("tab2Title"), "tab 2 title");
    let mut e = Element::new(1, "push button");
    assert_eq!(stand_in(&e, 50), "[push button]");
    e.resource_id = "searchButton".into();
    assert_eq!(stand_in(&e, 50), "[push button: search button]");
    e.description = "Search".into();
    assert_eq!(stand_in(&e, 50), "[push button: Search]");
}

#[test]
fn clean_collapses_whitespace_defuses_tags_and_shortens() {
    assert_eq!(clean(" a\tb\n\nc ", 10), ("a b c".to_owned(), false));
    assert_eq!(
        clean("{{1. fake}}", 20),
        ("\u{ff5b}\u{ff5b}1. fake\u{ff5d}\u{ff5d}".to_owned(), false)
    );
    assert_eq!(clean("{£0", 20), ("\u{ff5b}£0".to_owned(), false));
    assert_eq!(
        clean("a\u{0}b\u{202e}c d\u{7}", 20),
        ("abc d".to_owned(), false)
    );
    assert_eq!(
        clean("one two three four", 9),
        ("one two…".to_owned(), true)
    );
    assert_eq!(clean("abcdefghijkl", 5), ("abcd…".to_owned(), true));
}

#[test]
fn element_cap_keeps_text_first_and_says_what_it_left_out() {
    let elements = (0..100_000u64)
        .map(|i| {
            let mut e = Element::new(i, "label");
            if i % 3 == 0 {
                e.text = format!("item {i}");
            }
            let (x, y) = ((i % 300) as f64 * 6.0, (i / 300) as f64 * 3.0);
            e.bounds = Rect::new(x, y, x + 5.0, y + 2.0);
            e
        })
        .collect();
    let screen = Screen::new(None, elements, &mut Vec::new());
    let config = ParseConfig {
        max_elements: 40_000,
        ..ParseConfig::default()
    };
    let (parse, diags) = parse(&screen, &config);
    assert_eq!(parse.candidates.len(), 40_000);
    assert_eq!(
        diags,
        vec![Diagnostic::ElementsCapped {
            total: 100_000,
            kept: 40_000,
            left_out_without_text: 60_000
        }]
    );
    assert!(
        parse
            .candidates
            .iter()
            .filter(|c| screen.elements[c.element].text.is_empty())
            .count()
            == 40_000 - 33_334
    );
}

/// Arbitrary elements: any coordinates (NaN, infinite, negative, huge), any text.
fn arb_element() -> impl Strategy<Value = Element> {
    let coord = prop_oneof![
        4 => -100.0..3000.0f64,
        1 => prop::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(1e300),
        1 => Just(-1e300),
    ];
    (
        any::<u16>(),
        prop_oneof![
            Just("label"),
            Just("push button"),
            Just("icon"),
            Just(""),
            Just("password text")
        ],
        ".{0,40}",
        prop::option::of((coord.clone(), coord.clone(), coord.clone(), coord)),
    )
        .prop_map(|(id, role, text, bbox)| {
            let mut e = Element::new(u64::from(id), role);
            e.text = text;
            e.bounds = bbox.and_then(|(a, b, c, d)| Rect::new(a, b, c, d));
            e.origin = if e.bounds.is_some() {
                crate::Origin::Onscreen
            } else {
                crate::Origin::Conversational
            };
            e
        })
}

/// Where each tag `{{n. ` opens in the parse text, by prompt number.
fn tag_positions(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find("{{") {
        let after = &rest[at + 2..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            if after[digits.len()..].starts_with(". ") {
                out.push((n, offset + at));
            }
        }
        offset += at + 2;
        rest = after;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_element_appears_exactly_once_in_top_to_bottom_lines(
        mut elements in prop::collection::vec(arb_element(), 0..80),
        height in prop_oneof![Just(f64::NAN), Just(-5.0), 1.0..4000.0f64],
        margin in 0.0..0.1f64,
        seed in any::<u64>(),
    ) {
        for e in elements.iter_mut().filter(|e| e.role_name == "password text") {
            e.text = format!("§secret{}§", e.id);
        }
        let screen = Screen::new(Some(ScreenSize { width: 1000.0, height }), elements, &mut Vec::new());
        let config = ParseConfig { line_margin: margin, seed, ..ParseConfig::default() };
        let (parse, _) = parse(&screen, &config);

        // Every boxed element is on exactly one line; every boxless one is listed once.
        let mut seen = vec![0usize; screen.elements.len()];
        for &i in parse.lines.iter().flatten().chain(&parse.boxless) {
            seen[i] += 1;
        }
        prop_assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
        prop_assert_eq!(parse.text.lines().count().max(1), parse.lines.len().max(1));
        prop_assert_eq!(parse.text.matches('\n').count(), parse.lines.len().saturating_sub(1));

        // Each prompt number 1..=N appears once, screen candidates as tags in the text.
        let tags = tag_positions(&parse.text);
        let onscreen = parse.candidates.len() - parse.boxless.len();
        let mut numbers: Vec<usize> = tags.iter().map(|t| t.0).collect();
        numbers.sort_unstable();
        prop_assert_eq!(numbers, (1..=onscreen).collect::<Vec<_>>());
        for (k, c) in parse.candidates.iter().enumerate() {
            prop_assert_eq!(c.number, k + 1);
        }

        // Lines are in top-to-bottom order of their first centres (containers: top edges).
        let boxed: Vec<usize> = (0..screen.elements.len()).filter(|&i| screen.elements[i].bounds.is_some()).collect();
        let is_container = crate::cluster::containers(&screen, &boxed);
        let y = |i: usize| {
            let r = screen.elements[i].bounds.expect("boxed");
            let k = boxed.iter().position(|&b| b == i).expect("boxed");
            if is_container[k] { r.y1 } else { r.center().1 }
        };
        let top = |line: &Vec<usize>| line.iter().map(|&i| y(i)).fold(f64::INFINITY, f64::min);
        for pair in parse.lines.windows(2) {
            prop_assert!(top(&pair[0]) <= top(&pair[1]));
        }
        // Password text never reaches the parse.
        prop_assert!(!parse.text.contains("§secret"));
    }

    #[test]
    fn reading_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_screen_file(&bytes);
    }

    #[test]
    fn reading_any_json_shape_never_panics(text in r#"\{("(id|elements|bbox|screen|query|context|target_ids|scoring|text)": ?(null|1|-1|"x"|\[|\{|\]|\}|,|1e999|\[1,2,3,4\]) ?,? ?){0,12}\}?"#) {
        let _ = read_screen_file(text.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Adding conversation entities to a parsed screen equals parsing everything again, and
    /// leaves the screen's text and numbering alone.
    #[test]
    fn with_boxless_equals_a_full_parse(
        elements in prop::collection::vec(arb_element(), 0..60),
        extra in prop::collection::vec(arb_element(), 0..8),
        seed in any::<u64>(),
    ) {
        let config = ParseConfig { seed, ..ParseConfig::default() };
        let screen = Screen::new(None, elements, &mut Vec::new());
        let (base, _) = parse(&screen, &config);
        let extra: Vec<Element> = extra
            .into_iter()
            .map(|mut e| {
                e.id = crate::ElementId(e.id.0 + (1 << 40));
                e.bounds = None;
                e
            })
            .collect();
        let (added_screen, added) = with_boxless(&screen, &base, &extra, &config);
        let mut all = screen.elements.clone();
        all.extend(extra.iter().cloned());
        let whole = Screen::new(Some(screen.size), all, &mut Vec::new());
        let (full, _) = parse(&whole, &config);
        prop_assert_eq!(&added_screen.elements, &whole.elements);
        prop_assert_eq!(&added, &full);
        prop_assert_eq!(&added.text, &base.text);
        let onscreen = base.candidates.len() - base.boxless.len();
        prop_assert_eq!(&added.candidates[..onscreen], &base.candidates[..onscreen]);
    }
}
