//! Pictures of what deixis sees (`deixis parse --png`): the elements, the DBSCAN clusters (one
//! colour each), the onscreen parse's lines and the prompt numbers of the candidates, over the
//! screenshot (faded, so the drawing shows) or over a white canvas when there is none.
//!
//! - Each element's box is tinted and outlined in its cluster's colour; a cluster of several
//!   elements also gets a thicker outline around all of them.
//! - Each parse line is a dark line through the centres of its elements, left to right.
//! - Each candidate's prompt number is drawn white on black at the top left of its element
//!   (an entity inside an element: where its text starts, by its share of the text).
//!
//! Only pixels the user asked for are written, to the file they named.

use deixis_parser::parse::ScreenParse;
use deixis_parser::Screen;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_line_segment_mut};
use imageproc::rect::Rect as PixelRect;

/// Cluster colours, distinct on light and dark backgrounds (Tableau 10).
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// The largest picture drawn (either side: 48 MiB of pixels at most), so that a screen file
/// with huge boxes or size cannot ask for gigabytes; what lies beyond is cut.
pub const MAX_SIDE: u32 = 4096;

/// Draws `parse` of `screen` over `background` (a screenshot of the same screen) or a white
/// canvas of the screen's size.
pub fn draw(screen: &Screen, parse: &ScreenParse, background: Option<RgbImage>) -> RgbImage {
    let mut image = match background {
        Some(mut shot) => {
            // Faded towards white: the drawing must stand out from the screen.
            for p in shot.pixels_mut() {
                for c in &mut p.0 {
                    *c = 128 + *c / 2;
                }
            }
            shot
        }
        None => {
            let (w, h) = canvas_size(screen);
            RgbImage::from_pixel(w, h, Rgb([255, 255, 255]))
        }
    };
    let boxes: Vec<Option<PixelRect>> = screen
        .elements
        .iter()
        .map(|e| e.bounds.and_then(|b| pixel_rect(b.x1, b.y1, b.x2, b.y2)))
        .collect();
    let colour = |cluster: usize| Rgb(PALETTE[cluster % PALETTE.len()]);

    // Elements, outlined in their cluster's colour; those that hold no other element (not
    // containers) tinted too, so that panels do not cover what is in them.
    let holds = |outer: &PixelRect, k: usize| {
        boxes.iter().enumerate().any(|(j, inner)| {
            j != k
                && inner.is_some_and(|i| {
                    i.left() >= outer.left()
                        && i.top() >= outer.top()
                        && i.right() <= outer.right()
                        && i.bottom() <= outer.bottom()
                        && (i.width(), i.height()) != (outer.width(), outer.height())
                })
        })
    };
    for (k, b) in boxes.iter().enumerate() {
        let (Some(b), Some(cluster)) = (b, parse.clusters.of.get(k).copied().flatten()) else {
            continue;
        };
        if !holds(b, k) {
            tint(&mut image, *b, colour(cluster), 0.25);
        }
        draw_hollow_rect_mut(&mut image, *b, colour(cluster));
    }
    // Clusters of several elements: a thick outline around all of them.
    for cluster in 0..parse.clusters.count {
        let members: Vec<PixelRect> = (0..boxes.len())
            .filter(|&k| parse.clusters.of.get(k).copied().flatten() == Some(cluster))
            .filter_map(|k| boxes[k])
            .collect();
        if members.len() < 2 {
            continue;
        }
        let left = members.iter().map(|r| r.left()).min().unwrap_or(0) - 3;
        let top = members.iter().map(|r| r.top()).min().unwrap_or(0) - 3;
        let right = members.iter().map(|r| r.right()).max().unwrap_or(0) + 3;
        let bottom = members.iter().map(|r| r.bottom()).max().unwrap_or(0) + 3;
        for inset in 0..2 {
            if let Some(r) = rect_between(left + inset, top + inset, right - inset, bottom - inset)
            {
                draw_hollow_rect_mut(&mut image, r, colour(cluster));
            }
        }
    }
    // Parse lines: through the centres of their elements.
    let ink = Rgb([40, 40, 40]);
    for line in &parse.lines {
        let centres: Vec<(f32, f32)> = line
            .iter()
            .filter_map(|&k| boxes.get(k).copied().flatten())
            .map(|r| {
                (
                    r.left() as f32 + r.width() as f32 / 2.0,
                    r.top() as f32 + r.height() as f32 / 2.0,
                )
            })
            .collect();
        for pair in centres.windows(2) {
            draw_line_segment_mut(&mut image, pair[0], pair[1], ink);
        }
        if let [only] = centres.as_slice() {
            draw_line_segment_mut(
                &mut image,
                (only.0 - 4.0, only.1),
                (only.0 + 4.0, only.1),
                ink,
            );
        }
    }
    // Prompt numbers.
    for c in &parse.candidates {
        let Some(b) = boxes.get(c.element).copied().flatten() else {
            continue;
        };
        let shown = &parse.shown[c.element];
        let x = match &c.entity {
            Some((_, span)) if !shown.is_empty() => {
                b.left() + (b.width() as f64 * span.start as f64 / shown.len() as f64) as i32
            }
            _ => b.left(),
        };
        label(&mut image, x, b.top(), c.number);
    }
    image
}

/// The canvas for a screen without a screenshot: its size, or what its boxes reach if more.
fn canvas_size(screen: &Screen) -> (u32, u32) {
    let (w, h) = screen
        .elements
        .iter()
        .filter_map(|e| e.bounds)
        .fold((screen.size.width, screen.size.height), |(w, h), b| {
            (w.max(b.x2), h.max(b.y2))
        });
    let side = |v: f64| (v.ceil().max(1.0) as u32).clamp(16, MAX_SIDE);
    (side(w), side(h))
}

fn pixel_rect(x1: f64, y1: f64, x2: f64, y2: f64) -> Option<PixelRect> {
    let c = |v: f64| v.round().clamp(-1.0, f64::from(MAX_SIDE)) as i32;
    rect_between(c(x1), c(y1), c(x2) - 1, c(y2) - 1)
}

/// The rectangle from (left, top) to (right, bottom), both included.
fn rect_between(left: i32, top: i32, right: i32, bottom: i32) -> Option<PixelRect> {
    (right >= left && bottom >= top).then(|| {
        PixelRect::at(left, top).of_size((right - left + 1) as u32, (bottom - top + 1) as u32)
    })
}

/// Mixes `colour` into the pixels of `r` (alpha `amount`).
fn tint(image: &mut RgbImage, r: PixelRect, colour: Rgb<u8>, amount: f32) {
    let (w, h) = image.dimensions();
    let x0 = r.left().max(0) as u32;
    let y0 = r.top().max(0) as u32;
    let x1 = (r.right() + 1).clamp(0, w as i32) as u32;
    let y1 = (r.bottom() + 1).clamp(0, h as i32) as u32;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = image.get_pixel_mut(x, y);
            for (c, t) in p.0.iter_mut().zip(colour.0) {
                *c = (f32::from(*c) * (1.0 - amount) + f32::from(t) * amount) as u8;
            }
        }
    }
}

/// Digits 0-9, 5x7 pixels each, one row a byte (the low five bits, left to right). Drawn
/// from this table rather than a font file: only digits are drawn, and a font would be a file
/// to ship and find at run time (imageproc draws text only from a TrueType font).
const DIGITS: [[u8; 7]; 10] = [
    [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
    [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
    [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
    [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
    [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
    [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
    [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
    [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
    [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
];

/// `number` white on black, its top left at (x, y).
fn label(image: &mut RgbImage, x: i32, y: i32, number: usize) {
    const SCALE: i32 = 2;
    let digits: Vec<usize> = number
        .to_string()
        .bytes()
        .map(|b| usize::from(b - b'0'))
        .collect();
    let width = digits.len() as i32 * 6 * SCALE + SCALE;
    let height = 9 * SCALE;
    if let Some(r) = rect_between(x, y, x + width - 1, y + height - 1) {
        draw_filled_rect_mut(image, r, Rgb([0, 0, 0]));
    }
    let (w, h) = image.dimensions();
    for (k, &d) in digits.iter().enumerate() {
        for (row, bits) in DIGITS[d].iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let px = x + SCALE + (k as i32 * 6 + col) * SCALE + dx;
                        let py = y + SCALE + row as i32 * SCALE + dy;
                        if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                            image.put_pixel(px as u32, py as u32, Rgb([255, 255, 255]));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deixis_parser::format::read_screen_file;
    use deixis_parser::parse::ParseConfig;

    fn example() -> (Screen, ScreenParse) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../parser/testdata/screens/contact_card.json"
        );
        let case = read_screen_file(&std::fs::read(path).expect("example screen")).expect("valid");
        let prepared = crate::pipeline::prepare(case.size, case.elements, &ParseConfig::default());
        (prepared.screen, prepared.parse)
    }

    #[test]
    fn the_picture_shows_elements_clusters_lines_and_numbers() {
        let (screen, parse) = example();
        let image = draw(&screen, &parse, None);
        let size = screen.size;
        assert_eq!(
            image.dimensions(),
            (size.width.ceil() as u32, size.height.ceil() as u32)
        );
        // Each candidate's label: black with white digits at its element's top left (labels
        // of elements that start at the same place overlap; each still shows black).
        for c in &parse.candidates {
            let b = screen.elements[c.element].bounds.expect("a box");
            if c.entity.is_some() {
                continue;
            }
            let (x, y) = (b.x1.round() as u32, b.y1.round() as u32);
            let black = (x..x + 14)
                .flat_map(|px| (y..y + 18).map(move |py| (px, py)))
                .filter(|&(px, py)| image.get_pixel(px, py) == &Rgb([0, 0, 0]))
                .count();
            assert!(black > 20, "label {} at {x},{y}", c.number);
        }
        // Every cluster colour that has an element shows somewhere.
        let mut colours = std::collections::HashSet::new();
        for p in image.pixels() {
            colours.insert(p.0);
        }
        for (cluster, colour) in PALETTE.iter().enumerate().take(parse.clusters.count) {
            assert!(colours.contains(colour), "cluster {cluster}");
        }
        // A screenshot is the background, faded.
        let shot = RgbImage::from_pixel(image.width(), image.height(), Rgb([0, 0, 0]));
        let over = draw(&screen, &parse, Some(shot));
        assert_eq!(
            over.get_pixel(image.width() - 1, image.height() - 1),
            &Rgb([128, 128, 128])
        );
    }

    #[test]
    fn huge_boxes_do_not_make_huge_pictures() {
        let (mut screen, parse) = example();
        screen.size.width = 1e7;
        if let Some(b) = screen.elements[0].bounds.as_mut() {
            b.y2 = 1e7;
        }
        let image = draw(&screen, &parse, None);
        assert_eq!(image.dimensions(), (MAX_SIDE, MAX_SIDE));
    }
}
