//! Machine captions on unnamed icons and images (generator version 3).
//!
//! Screens annotated by a captioning model, as Google's screen-annotation data is, give an icon
//! that has no text, description or resource id a sentence saying what it looks like: "a white
//! arrow in a circle on a blue background .". Such a caption says nothing of what the icon does
//! or is called, and a request rarely says it back. A model that never met one takes its words
//! for a name, and a question ("what is the application name?") then picks a long caption over
//! the short title that answers it. Version 3 captions a share of the unnamed icons and images,
//! targets included: only elements no request can name get one, so a caption never changes
//! which element a request means.
//!
//! The pass draws from its own generator, seeded from the case's seed and index, so the cases
//! themselves are drawn exactly as versions 1 and 2 draw them.

use deixis_parser::{Case, Origin};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::words::COLOURS;

/// The version that first captions.
pub(super) const SINCE: u32 = 3;

/// The share of cases whose unnamed icons and images may get captions.
const CASES: f64 = 0.8;

/// The chance each unnamed icon or image of such a case gets one.
const ELEMENTS: f64 = 0.8;

/// Things a caption says an icon shows.
const THINGS: &[&str] = &[
    "arrow",
    "star",
    "heart",
    "pencil",
    "book",
    "clock",
    "bell",
    "envelope",
    "person",
    "house",
    "cloud",
    "camera",
    "phone",
    "lock",
    "key",
    "map",
    "flag",
    "gear",
    "cup",
    "tree",
    "leaf",
    "ball",
    "car",
    "plane",
    "speech bubble",
    "magnifying glass",
    "shopping cart",
    "trash can",
    "calendar",
    "globe",
    "lightning bolt",
    "musical note",
    "light bulb",
    "check mark",
    "cross",
    "plus sign",
    "question mark",
    "exclamation point",
    "dollar sign",
    "paper plane",
    "microphone",
    "headphones",
    "crown",
    "shield",
    "rocket",
    "diamond",
    "fish",
    "dog",
    "cat",
    "bird",
    "flower",
    "sun",
    "moon",
    "mountain",
    "wave",
    "hand",
    "eye",
    "smiley face",
    "letter a",
    "number 1",
];

/// Shapes an icon's ground or frame has.
const SHAPES: &[&str] = &[
    "circle",
    "square",
    "triangle",
    "rectangle",
    "hexagon",
    "rounded square",
    "line",
    "dot",
];

/// Where an arrow points.
const WAYS: &[&str] = &["up", "down", "left", "right", "to the right", "to the left"];

/// What a caption says a thing is doing.
const DOING: &[&str] = &[
    "floating in the air",
    "glowing",
    "drawn",
    "displayed",
    "shown",
];

/// Small counts a caption spells.
const COUNTS: &[&str] = &["two", "three", "four"];

/// One caption, in the captioner's style: lower case, a space before the full stop.
fn caption(rng: &mut ChaCha8Rng) -> String {
    let colour = |rng: &mut ChaCha8Rng| *COLOURS.choose(rng).unwrap_or(&"white");
    let thing = *THINGS.choose(rng).unwrap_or(&"star");
    let shape = *SHAPES.choose(rng).unwrap_or(&"circle");
    let (c1, c2, c3) = (colour(rng), colour(rng), colour(rng));
    match rng.gen_range(0..9) {
        0 => format!("a {c1} {thing} on a {c2} background ."),
        1 => format!("a {c1} {shape} with a {c2} {thing} in it ."),
        2 => format!("a {c1} icon of a {thing} ."),
        3 => {
            let way = *WAYS.choose(rng).unwrap_or(&"up");
            format!("a {c1} arrow pointing {way} on a {c2} background .")
        }
        4 => format!("a drawing of a {thing} on a {c2} background ."),
        5 => {
            let n = *COUNTS.choose(rng).unwrap_or(&"three");
            format!("{n} {c1} {shape}s are lined up on a {c2} background .")
        }
        6 => {
            let doing = *DOING.choose(rng).unwrap_or(&"shown");
            format!("a {c1} {thing} is {doing} on a {c2} background .")
        }
        7 => format!("a {c1} and {c2} {thing} with a {c3} border ."),
        _ => format!("a {c1} {shape} on a {c2} background that looks like a {thing} ."),
    }
}

/// Captions some of `case`'s unnamed icons and images, drawing from its own generator seeded by
/// `seed` and the case's index `k`.
pub(super) fn caption_unnamed(case: &mut Case, seed: u64, k: usize) {
    // A fixed odd multiplier spreads (seed, k) over the seed space; any fixed mix would do.
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64).wrapping_add(0xC0FF_EE00),
    );
    if !rng.gen_bool(CASES) {
        return;
    }
    for e in &mut case.elements {
        let unnamed = e.text.is_empty() && e.description.is_empty() && e.resource_id.is_empty();
        let pictured = matches!(e.role_name.as_str(), "push button" | "image" | "icon")
            && e.origin == Origin::Onscreen;
        if unnamed && pictured && rng.gen_bool(ELEMENTS) {
            e.text = caption(&mut rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::generate_with;

    /// Captions go only on icons and images no request can name, and the rest of every case is
    /// what version 2 draws.
    #[test]
    fn captions_go_only_on_unnamed_icons_and_images_and_change_nothing_else() {
        let v2 = generate_with(5, 400, 0.15, 2);
        let v3 = generate_with(5, 400, 0.15, 3);
        let mut captioned = 0;
        for (a, b) in v2.iter().zip(&v3) {
            assert_eq!(
                (&a.query, &a.targets, &a.context),
                (&b.query, &b.targets, &b.context)
            );
            assert_eq!(a.elements.len(), b.elements.len());
            for (x, y) in a.elements.iter().zip(&b.elements) {
                if x.text == y.text {
                    assert_eq!(x, y);
                    continue;
                }
                captioned += 1;
                assert!(x.text.is_empty() && x.description.is_empty());
                assert!(x.resource_id.is_empty());
                assert!(matches!(
                    x.role_name.as_str(),
                    "push button" | "image" | "icon"
                ));
                assert!(y.text.ends_with(" ."), "{}", y.text);
            }
        }
        assert!(captioned > 100, "{captioned} captions in 400 cases");
    }
}
