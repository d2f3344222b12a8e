//! OCR: the text of windows that expose no accessibility tree (games, some Electron apps, X11
//! tools), read from the screen's pixels with tesseract, as elements of the same screen model.
//!
//! - **Which windows.** The mapped top-level X11 windows (every one with `all_windows`, else
//!   the focused one, else the topmost), minus the exclusion lists (titles; apps by `WM_CLASS`
//!   or process name). In `ocr = "auto"` a window is read only when its accessibility tree is
//!   thin: the boxes of its non-container elements cover less than [`THIN_COVERAGE`] of the
//!   window (see `coverage`). `"always"` reads every chosen window, `"never"` none.
//! - **Pixels.** `GetImage` of the window's frame into memory (`x11::X11::screenshot`); the
//!   parts other windows cover are painted white first, so one window's text is never read as
//!   another's. Pixels go to tesseract through a pipe, never to a file, and are dropped after.
//! - **Tesseract.** The `tesseract` program (Debian `tesseract-ocr`), TSV output, English,
//!   one thread (`OMP_THREAD_LIMIT=1`: its OpenMP threads made it ~3x slower on 2 cores). The
//!   image is scaled up [`SCALE`] times first: screen fonts are ~8-13 px high, below what
//!   tesseract reads well. No binding crate: the maintained ones need libtesseract-dev and
//!   bindgen at build time, and the program gives the same words.
//! - **Elements.** One per tesseract line (its words joined by spaces, so that a phone number
//!   split into words is still one entity), role `static text`, class `OCR`, the window's
//!   `WM_CLASS` as app and its title as window. Words below [`MIN_CONFIDENCE`] are dropped.
//! - **Merging.** A line that lies mostly inside an element of the accessibility tree with
//!   text or a name is dropped: where both exist, AT-SPI's role and name win. A line that
//!   touches a password field is dropped too (its pixels may show the secret).
//! - **Unavailable** (no X server, no tesseract, a Wayland session): the snapshot says so in
//!   its diagnostics and capture carries on with what the accessibility bus gave.
//!
//! Results are cached by window and a hash of its pixels, so an unchanged window is not read
//! twice by a long-lived reader (the daemon).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deixis_parser::{Element, Origin, Rect, Role};
use image::RgbImage;

use super::x11::{TopWindow, X11};
use super::CaptureConfig;
use crate::config::OcrMode;

/// A window whose non-container elements cover less than this share of its visible area is
/// read by OCR in `auto` mode. Measured on the test desktop, each window alone: windows with
/// their trees cover 0.46 (zenity --info) to 0.97 (mousepad, featherpad; gtk3-widget-factory
/// 0.58, gtk4-demo 0.89, gtk3-demo 0.91); windows without one (xmessage, a GTK 4 app whose tree
/// never reached the bus) 0.
pub const THIN_COVERAGE: f64 = 0.10;

/// How much the pixels are scaled up before tesseract reads them.
pub const SCALE: u32 = 2;

/// Words tesseract is less sure of than this (0-100) are dropped: on screens they are mostly
/// icons and borders read as letters.
pub const MIN_CONFIDENCE: f32 = 40.0;

/// Windows smaller than this (either side, pixels) hold no readable text.
const MIN_SIDE: u32 = 12;

/// Windows of which other windows leave less than this share visible are not read.
pub const MIN_VISIBLE: f64 = 0.10;

/// What OCR did for one snapshot (no screen text: counts, classes and times).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OcrReport {
    /// Why OCR could not run, when it could not.
    pub unavailable: Option<String>,
    pub windows: Vec<OcrWindow>,
    pub took: Duration,
}

/// One window OCR considered.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrWindow {
    /// `WM_CLASS` class ("Xmessage").
    pub class: String,
    /// Share of the window's visible part its accessibility elements cover.
    pub coverage: f64,
    /// Share of the window other windows leave visible.
    pub visible: f64,
    /// Whether it was read (else its tree was full enough, or OCR is off).
    pub read: bool,
    /// Lines read, how many of them the accessibility tree already had, and how many touched
    /// secret input (dropped).
    pub lines: usize,
    pub duplicates: usize,
    pub secret: usize,
    /// Time tesseract took (0 when the cache answered or it was not read).
    pub ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("OCR is unavailable: {0}")]
    Unavailable(String),
    #[error("tesseract failed: {0}")]
    Failed(String),
}

/// The tesseract program.
#[derive(Debug, Clone)]
pub struct Tesseract {
    program: PathBuf,
}

impl Tesseract {
    /// `DEIXIS_TESSERACT` or `tesseract` on `PATH`, with English installed.
    pub fn find() -> Result<Tesseract, OcrError> {
        let program = std::env::var_os("DEIXIS_TESSERACT")
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from("tesseract"), PathBuf::from);
        let out = Command::new(&program)
            .arg("--list-langs")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                OcrError::Unavailable(format!(
                    "cannot run {} ({e}); install tesseract-ocr",
                    program.display()
                ))
            })?;
        let langs = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !langs.lines().any(|l| l.trim() == "eng") {
            return Err(OcrError::Unavailable(format!(
                "{} has no English data (eng); install tesseract-ocr-eng",
                program.display()
            )));
        }
        Ok(Tesseract { program })
    }

    /// The lines in `image`, boxes in its pixels; tesseract on one thread.
    pub fn read(&self, image: &RgbImage) -> Result<Vec<Line>, OcrError> {
        self.read_with(image, Some(1))
    }

    /// `read` with tesseract's OpenMP threads limited to `threads` (`None`: its default, one
    /// per core), for the benchmark that chose one.
    pub fn read_with(
        &self,
        image: &RgbImage,
        threads: Option<usize>,
    ) -> Result<Vec<Line>, OcrError> {
        // PPM: the simplest format tesseract (leptonica) reads from a pipe; a header and the
        // raw pixels, nothing to encode.
        let mut ppm = format!("P6\n{} {}\n255\n", image.width(), image.height()).into_bytes();
        ppm.extend_from_slice(image.as_raw());
        let mut command = Command::new(&self.program);
        command.args(["stdin", "stdout", "-l", "eng", "--psm", "3", "tsv"]);
        match threads {
            Some(n) => command.env("OMP_THREAD_LIMIT", n.to_string()),
            None => command.env_remove("OMP_THREAD_LIMIT"),
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| OcrError::Unavailable(format!("cannot run tesseract: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        // Write from another thread: tesseract may fill its output pipe before reading all.
        let writer = std::thread::spawn(move || stdin.write_all(&ppm));
        let out = child
            .wait_with_output()
            .map_err(|e| OcrError::Failed(e.to_string()))?;
        let written = writer.join().unwrap_or(Ok(()));
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(OcrError::Failed(format!(
                "{}: {}",
                out.status,
                err.lines().last().unwrap_or("")
            )));
        }
        written.map_err(|e| OcrError::Failed(format!("writing the image: {e}")))?;
        Ok(parse_tsv(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// One line of text tesseract read.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub rect: Rect,
    pub text: String,
    pub words: Vec<Word>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub rect: Rect,
    pub text: String,
    pub confidence: f32,
}

/// Tesseract's TSV (`level page block par line word left top width height conf text`) into
/// lines of words, in reading order; words below [`MIN_CONFIDENCE`] and lines with no letter
/// or digit are dropped.
pub fn parse_tsv(tsv: &str) -> Vec<Line> {
    let mut lines: Vec<((u32, u32, u32, u32), Line)> = Vec::new();
    for row in tsv.lines().skip(1) {
        let f: Vec<&str> = row.splitn(12, '\t').collect();
        if f.len() < 12 || f[0] != "5" {
            continue;
        }
        let num = |k: usize| f[k].trim().parse::<u32>().ok();
        let (Some(page), Some(block), Some(par), Some(line)) = (num(1), num(2), num(3), num(4))
        else {
            continue;
        };
        let (Some(left), Some(top), Some(width), Some(height)) = (num(6), num(7), num(8), num(9))
        else {
            continue;
        };
        let confidence = f[10].trim().parse::<f32>().unwrap_or(-1.0);
        let text = f[11].trim();
        if text.is_empty() || confidence < MIN_CONFIDENCE {
            continue;
        }
        let Some(rect) = Rect::new(
            f64::from(left),
            f64::from(top),
            f64::from(left + width),
            f64::from(top + height),
        ) else {
            continue;
        };
        let word = Word {
            rect,
            text: text.to_owned(),
            confidence,
        };
        let key = (page, block, par, line);
        match lines.iter_mut().find(|(k, _)| *k == key) {
            Some((_, l)) => {
                l.rect = union(l.rect, rect);
                l.text.push(' ');
                l.text.push_str(text);
                l.words.push(word);
            }
            None => lines.push((
                key,
                Line {
                    rect,
                    text: text.to_owned(),
                    words: vec![word],
                },
            )),
        }
    }
    lines
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.text.chars().any(char::is_alphanumeric))
        .collect()
}

fn union(a: Rect, b: Rect) -> Rect {
    Rect {
        x1: a.x1.min(b.x1),
        y1: a.y1.min(b.y1),
        x2: a.x2.max(b.x2),
        y2: a.y2.max(b.y2),
    }
}

fn intersection(a: &Rect, b: &Rect) -> f64 {
    let w = a.x2.min(b.x2) - a.x1.max(b.x1);
    let h = a.y2.min(b.y2) - a.y1.max(b.y1);
    if w > 0.0 && h > 0.0 {
        w * h
    } else {
        0.0
    }
}

/// Roles that only hold others: their boxes say nothing about whether the tree has content.
fn is_container(role: Role) -> bool {
    matches!(
        role,
        Role::Window | Role::Dialog | Role::GenericContainer | Role::ScrollView | Role::Unknown
    )
}

/// The share of the visible part of `window` (not under the windows `above`) covered by the
/// boxes of `elements` that are not containers, on a grid of 8-pixel cells (overlapping boxes
/// count once); and the share of the window that is visible.
pub fn coverage(window: &Rect, elements: &[Element], above: &[Rect]) -> (f64, f64) {
    const CELL: f64 = 8.0;
    let cols = (window.width() / CELL).ceil().max(1.0) as usize;
    let rows = (window.height() / CELL).ceil().max(1.0) as usize;
    let mut covered = vec![false; cols * rows];
    let visible: Vec<bool> = (0..rows * cols)
        .map(|k| {
            let x = window.x1 + ((k % cols) as f64 + 0.5) * CELL;
            let y = window.y1 + ((k / cols) as f64 + 0.5) * CELL;
            !above
                .iter()
                .any(|r| x >= r.x1 && x < r.x2 && y >= r.y1 && y < r.y2)
        })
        .collect();
    for e in elements.iter().filter(|e| !is_container(e.role)) {
        let Some(b) = e.bounds else { continue };
        if intersection(&b, window) <= 0.0 {
            continue;
        }
        let cell = |v: f64, origin: f64, n: usize| {
            (((v - origin) / CELL).floor().max(0.0) as usize).min(n)
        };
        let (c1, c2) = (cell(b.x1, window.x1, cols), cell(b.x2, window.x1, cols));
        let (r1, r2) = (cell(b.y1, window.y1, rows), cell(b.y2, window.y1, rows));
        for r in r1..r2.max(r1 + 1).min(rows) {
            for c in c1..c2.max(c1 + 1).min(cols) {
                covered[r * cols + c] = true;
            }
        }
    }
    let shown = visible.iter().filter(|&&v| v).count();
    if shown == 0 {
        return (0.0, 0.0);
    }
    let hit = (0..covered.len())
        .filter(|&k| covered[k] && visible[k])
        .count();
    (
        hit as f64 / shown as f64,
        shown as f64 / covered.len() as f64,
    )
}

/// Whether an OCR line repeats an accessibility element: it lies mostly (more than half its
/// area) inside one that has text or a name.
fn duplicates(line: &Rect, elements: &[Element]) -> bool {
    let area = line.area().max(1.0);
    elements.iter().any(|e| {
        let named = !(e.text.trim().is_empty() && e.description.trim().is_empty());
        named
            && !is_container(e.role)
            && e.bounds
                .is_some_and(|b| intersection(line, &b) > 0.5 * area)
    })
}

/// Whether an OCR line touches a password field (or other secret input) the accessibility
/// tree marks: its pixels may show the secret ("show password"), and it is never read.
fn secret(line: &Rect, elements: &[Element]) -> bool {
    elements
        .iter()
        .any(|e| e.is_sensitive() && e.bounds.is_some_and(|b| intersection(line, &b) > 0.0))
}

/// The name of process `pid` (`/proc/PID/comm`).
fn process_name(pid: Option<u32>) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", pid?)).ok()?;
    Some(comm.trim().to_owned())
}

fn window_rect(w: &TopWindow) -> Rect {
    let (x, y, width, height) = w.rect;
    Rect {
        x1: f64::from(x),
        y1: f64::from(y),
        x2: f64::from(x) + f64::from(width),
        y2: f64::from(y) + f64::from(height),
    }
}

/// What a window's lines were, by window and pixels (see the module doc).
type Cache = HashMap<(u32, u64), Vec<Line>>;

/// OCR over X11 and tesseract, for as long as its owner lives.
#[derive(Debug)]
pub struct Ocr {
    x11: X11,
    tesseract: Tesseract,
    cache: Mutex<Cache>,
}

impl Ocr {
    /// Connects to the X server and finds tesseract; the error says which is missing.
    pub fn new() -> Result<Ocr, OcrError> {
        if super::Coordinates::of_session() == super::Coordinates::Window {
            return Err(OcrError::Unavailable(
                "a Wayland session gives no screen pixels to read (X11 only)".into(),
            ));
        }
        let x11 = X11::connect()
            .ok_or_else(|| OcrError::Unavailable("no X server (is DISPLAY set?)".into()))?;
        let tesseract = Tesseract::find()?;
        Ok(Ocr {
            x11,
            tesseract,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The screen's size in pixels.
    pub fn screen_size(&self) -> (u16, u16) {
        self.x11.screen_size()
    }

    pub fn tesseract(&self) -> &Tesseract {
        &self.tesseract
    }

    /// Adds the text of the chosen windows whose trees are thin to `elements`, new ids from
    /// `next_id` on. Blocking (tesseract takes ~0.1-1 s a window).
    pub fn read(
        &self,
        elements: &mut Vec<Element>,
        config: &CaptureConfig,
        next_id: u64,
    ) -> OcrReport {
        let start = Instant::now();
        let mut report = OcrReport::default();
        if config.ocr == OcrMode::Never {
            return report;
        }
        let tops = self.x11.top_windows();
        let focused = self.x11.focused(&tops);
        let excluded = |w: &TopWindow| {
            let title = w.title.to_lowercase();
            let comm = process_name(w.pid);
            config
                .exclude_windows
                .iter()
                .any(|x| !x.is_empty() && title.contains(&x.to_lowercase()))
                || config.exclude_apps.iter().any(|x| {
                    x.eq_ignore_ascii_case(&w.class.0)
                        || x.eq_ignore_ascii_case(&w.class.1)
                        || comm.as_deref().is_some_and(|c| x.eq_ignore_ascii_case(c))
                })
        };
        let readable: Vec<usize> = (0..tops.len())
            .filter(|&k| tops[k].rect.2 >= MIN_SIDE && tops[k].rect.3 >= MIN_SIDE)
            .filter(|&k| !excluded(&tops[k]))
            .collect();
        let chosen: Vec<usize> = if config.all_windows {
            readable
        } else {
            let focus = focused.and_then(|f| readable.iter().copied().find(|&k| tops[k].id == f));
            focus.or(readable.last().copied()).into_iter().collect()
        };
        let mut next_id = next_id;
        for k in chosen {
            let window = &tops[k];
            let rect = window_rect(window);
            let above: Vec<Rect> = tops[k + 1..].iter().map(window_rect).collect();
            // What shows in this window: elements over its visible part (for duplicates), and
            // of those, the ones of its own application (for coverage: a window below or above
            // may reach into the same pixels). Elements carry the AT-SPI application's name,
            // which is the WM_CLASS instance or class or the process name (GTK, Qt, Chromium,
            // Firefox, Electron).
            let visible: Vec<Element> = elements
                .iter()
                .filter(|e| {
                    e.bounds.is_some_and(|b| {
                        let (cx, cy) = ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0);
                        let inside = |r: &Rect| cx >= r.x1 && cx < r.x2 && cy >= r.y1 && cy < r.y2;
                        inside(&rect) && !above.iter().any(inside)
                    })
                })
                .cloned()
                .collect();
            let comm = process_name(window.pid);
            let own: Vec<Element> = visible
                .iter()
                .filter(|e| {
                    let app = e.app.as_str();
                    !app.is_empty()
                        && (app.eq_ignore_ascii_case(&window.class.0)
                            || app.eq_ignore_ascii_case(&window.class.1)
                            || comm.as_deref().is_some_and(|c| app.eq_ignore_ascii_case(c)))
                })
                .cloned()
                .collect();
            let (covered, shown) = coverage(&rect, &own, &above);
            let mut seen = OcrWindow {
                class: window.class.1.clone(),
                coverage: covered,
                visible: shown,
                read: false,
                lines: 0,
                duplicates: 0,
                secret: 0,
                ms: 0,
            };
            if shown < MIN_VISIBLE || (config.ocr == OcrMode::Auto && covered >= THIN_COVERAGE) {
                report.windows.push(seen);
                continue;
            }
            seen.read = true;
            let started = Instant::now();
            let lines = match self.window_lines(window, &above) {
                Ok((lines, fresh)) => {
                    if fresh {
                        seen.ms = started.elapsed().as_millis() as u64;
                    }
                    lines
                }
                Err(e) => {
                    report.unavailable = Some(e.to_string());
                    report.windows.push(seen);
                    continue;
                }
            };
            for line in lines {
                let bounds = Rect {
                    x1: rect.x1 + line.rect.x1 / f64::from(SCALE),
                    y1: rect.y1 + line.rect.y1 / f64::from(SCALE),
                    x2: rect.x1 + line.rect.x2 / f64::from(SCALE),
                    y2: rect.y1 + line.rect.y2 / f64::from(SCALE),
                };
                seen.lines += 1;
                if secret(&bounds, &visible) {
                    seen.secret += 1;
                    continue;
                }
                if duplicates(&bounds, &visible) {
                    seen.duplicates += 1;
                    continue;
                }
                let mut e = Element::new(next_id, "static text");
                next_id += 1;
                e.role = Role::Label;
                e.text = line.text;
                e.class = "OCR".into();
                e.bounds = Some(bounds);
                // The instance name, like AT-SPI's application names ("xmessage").
                e.app = if window.class.0.is_empty() {
                    window.class.1.clone()
                } else {
                    window.class.0.clone()
                };
                e.window = window.title.clone();
                e.origin = Origin::Onscreen;
                elements.push(e);
            }
            report.windows.push(seen);
        }
        report.took = start.elapsed();
        report
    }

    /// A window's lines (boxes in its scaled pixels), and whether tesseract ran for them (else
    /// the cache answered). Parts of it under the windows `above` are blanked first.
    fn window_lines(
        &self,
        window: &TopWindow,
        above: &[Rect],
    ) -> Result<(Vec<Line>, bool), OcrError> {
        let rect = window_rect(window);
        let mut pixels = self
            .x11
            .screenshot(window.rect)
            .map_err(OcrError::Unavailable)?;
        for cover in above {
            let x1 = (cover.x1 - rect.x1).max(0.0) as u32;
            let y1 = (cover.y1 - rect.y1).max(0.0) as u32;
            let x2 = ((cover.x2 - rect.x1).max(0.0) as u32).min(pixels.width());
            let y2 = ((cover.y2 - rect.y1).max(0.0) as u32).min(pixels.height());
            for y in y1..y2 {
                for x in x1..x2 {
                    pixels.put_pixel(x, y, image::Rgb([255, 255, 255]));
                }
            }
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (pixels.width(), pixels.height()).hash(&mut hasher);
        pixels.as_raw().hash(&mut hasher);
        let key = (window.id, hasher.finish());
        if let Some(lines) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok((lines.clone(), false));
        }
        let scaled = prepare(pixels, SCALE);
        let lines = self.tesseract.read(&scaled)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        // Keep what the screen shows now, not its history: a window's old contents go.
        cache.retain(|(id, _), _| *id != window.id);
        cache.insert(key, lines.clone());
        Ok((lines, true))
    }
}

/// Adds OCR's text to `snapshot` (or says in its diagnostics why OCR could not run): elements,
/// the screen size where the accessibility bus gave none, the report.
pub fn add_to(
    snapshot: &mut super::Snapshot,
    ocr: Result<&Ocr, &OcrError>,
    config: &CaptureConfig,
) {
    if config.ocr == OcrMode::Never {
        return;
    }
    let ocr = match ocr {
        Ok(ocr) => ocr,
        Err(e) => {
            snapshot
                .diagnostics
                .push(format!("{e}; carrying on without it"));
            snapshot.ocr.unavailable = Some(e.to_string());
            return;
        }
    };
    let next_id = snapshot
        .elements
        .iter()
        .map(|e| e.id.0 + 1)
        .max()
        .unwrap_or(1);
    let report = ocr.read(&mut snapshot.elements, config, next_id);
    if snapshot.size.is_none() {
        let (w, h) = ocr.screen_size();
        snapshot.size = Some(deixis_parser::ScreenSize {
            width: f64::from(w),
            height: f64::from(h),
        });
    }
    let read: Vec<&OcrWindow> = report.windows.iter().filter(|w| w.read).collect();
    let mut classes: Vec<&str> = read.iter().map(|w| w.class.as_str()).collect();
    classes.dedup();
    snapshot.diagnostics.push(format!(
        "OCR read {} of {} window(s) [{}] in {} ms: {} line(s), {} already in the accessibility tree",
        read.len(),
        report.windows.len(),
        classes.join(", "),
        report.took.as_millis(),
        read.iter().map(|w| w.lines).sum::<usize>(),
        read.iter().map(|w| w.duplicates).sum::<usize>(),
    ));
    if let Some(e) = &report.unavailable {
        snapshot.diagnostics.push(e.clone());
    }
    snapshot.took += report.took;
    snapshot.ocr = report;
}

/// Pixels as tesseract is given them: rules and stipple erased, scaled up `scale` times.
pub fn prepare(mut pixels: RgbImage, scale: u32) -> RgbImage {
    erase_rulings(&mut pixels);
    if scale <= 1 {
        return pixels;
    }
    image::imageops::resize(
        &pixels,
        pixels.width() * scale,
        pixels.height() * scale,
        image::imageops::FilterType::Triangle,
    )
}

/// Ink runs at least this long (pixels, before scaling) are rules, not letters: UI text up to
/// ~18 px has no straight stroke this long.
const RULE_MIN: usize = 20;
/// Rules are at most this thick.
const RULE_MAX_WIDTH: usize = 2;

/// Paints thin straight lines (borders, separators, underlines) in the background colour.
/// A border drawn a pixel or two from a word makes tesseract read the two as one glyph run
/// (xmessage's "Call" inside its text box was read as "[call" with confidence 0).
///
/// The background is the most common colour; ink is what differs from it in luminance by
/// more than 48. A rule is a run of at least `RULE_MIN` ink pixels along a row (column) with
/// background within `RULE_MAX_WIDTH` pixels above or below (left or right) along all of it.
fn erase_rulings(image: &mut RgbImage) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    for p in image.pixels() {
        *counts.entry(p.0).or_default() += 1;
    }
    let background = counts
        .into_iter()
        .max_by_key(|&(c, n)| (n, c))
        .map_or([255; 3], |(c, _)| c);
    let luma =
        |c: [u8; 3]| (299 * u32::from(c[0]) + 587 * u32::from(c[1]) + 114 * u32::from(c[2])) / 1000;
    let bg = luma(background);
    let ink: Vec<bool> = image
        .pixels()
        .map(|p| luma(p.0).abs_diff(bg) > 48)
        .collect();
    let at = |x: usize, y: usize| ink[y * w + x];
    let mut erase = vec![false; w * h];
    // Along rows (horizontal rules), then along columns (vertical rules).
    for horizontal in [true, false] {
        let (outer, inner) = if horizontal { (h, w) } else { (w, h) };
        let pos = |o: usize, i: usize| if horizontal { (i, o) } else { (o, i) };
        for o in 0..outer {
            let mut i = 0;
            while i < inner {
                let (x, y) = pos(o, i);
                if !at(x, y) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < inner && {
                    let (x, y) = pos(o, i);
                    at(x, y)
                } {
                    i += 1;
                }
                if i - start < RULE_MIN {
                    continue;
                }
                // Thin: the line's thickness across it, at its middle, is small.
                let (mx, my) = pos(o, (start + i) / 2);
                let across = |d: isize| {
                    let (x, y) = if horizontal {
                        (mx as isize, my as isize + d)
                    } else {
                        (mx as isize + d, my as isize)
                    };
                    x >= 0
                        && y >= 0
                        && (x as usize) < w
                        && (y as usize) < h
                        && at(x as usize, y as usize)
                };
                let thickness = 1
                    + (1..).take_while(|&d| across(d)).count()
                    + (1..).take_while(|&d| across(-d)).count();
                if thickness <= RULE_MAX_WIDTH {
                    for k in start..i {
                        let (x, y) = pos(o, k);
                        erase[y * w + x] = true;
                    }
                }
            }
        }
    }
    // Stipple: checkerboard texture (Athena and Motif scroll bars, grips, dotted fills). Next
    // to a word it becomes part of its first letter ("Meeting" was read as "Heeting"). Text
    // has no 5x5 checkerboard: a letter's diagonal strokes are one pixel wide.
    for y in 2..h.saturating_sub(2) {
        for x in 2..w.saturating_sub(2) {
            let p = at(x, y);
            let checker = (0..5).all(|dy| {
                (0..5).all(|dx| at(x + dx - 2, y + dy - 2) == (p ^ ((dx + dy) % 2 == 1)))
            });
            if checker {
                for dy in 0..5 {
                    for dx in 0..5 {
                        erase[(y + dy - 2) * w + x + dx - 2] = true;
                    }
                }
            }
        }
    }
    for (k, p) in image.pixels_mut().enumerate() {
        if erase[k] {
            p.0 = background;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_become_lines_and_low_confidence_goes() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t400\t100\t-1\t\n\
            4\t1\t1\t1\t1\t0\t10\t10\t200\t20\t-1\t\n\
            5\t1\t1\t1\t1\t1\t10\t10\t50\t20\t96.5\tCall\n\
            5\t1\t1\t1\t1\t2\t70\t12\t120\t18\t91.0\t+1 555\n\
            5\t1\t1\t1\t1\t3\t200\t12\t20\t18\t12.0\t|\n\
            5\t1\t2\t1\t1\t1\t10\t60\t80\t20\t88.0\tQuit\n\
            5\t1\t3\t1\t1\t1\t10\t90\t8\t8\t95.0\t--\n";
        let lines = parse_tsv(tsv);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Call +1 555", "Quit"]);
        assert_eq!(
            lines[0].rect,
            Rect {
                x1: 10.0,
                y1: 10.0,
                x2: 190.0,
                y2: 30.0
            }
        );
        assert_eq!(parse_tsv(""), []);
        assert_eq!(parse_tsv("garbage\nrow\twith\ttabs\n"), []);
    }

    #[test]
    fn rules_and_stipple_are_erased_and_letters_kept() {
        let white = image::Rgb([255, 255, 255]);
        let black = image::Rgb([0, 0, 0]);
        let mut img = RgbImage::from_pixel(80, 40, white);
        // A one-pixel border line, 30 px long, one pixel left of a letter-like block.
        for y in 5..35 {
            img.put_pixel(10, y, black);
        }
        // A horizontal rule two pixels thick.
        for x in 20..70 {
            img.put_pixel(x, 36, black);
            img.put_pixel(x, 37, black);
        }
        // A "letter": a 6x10 solid stem (thicker than a rule, shorter than RULE_MIN).
        for y in 10..20 {
            for x in 12..18 {
                img.put_pixel(x, y, black);
            }
        }
        // A one-pixel diagonal stroke (like `x` in a bitmap font): not stipple.
        for d in 0..8 {
            img.put_pixel(30 + d, 10 + d, black);
        }
        // A 7x7 checkerboard (a scroll bar's stipple).
        for y in 20..27 {
            for x in 50..57 {
                if (x + y) % 2 == 0 {
                    img.put_pixel(x, y, black);
                }
            }
        }
        erase_rulings(&mut img);
        let ink = |x, y| img.get_pixel(x, y) == &black;
        assert!((5..35).all(|y| !ink(10, y)), "the border is gone");
        assert!(
            (20..70).all(|x| !ink(x, 36) && !ink(x, 37)),
            "the rule is gone"
        );
        assert!(
            (10..20).all(|y| (12..18).all(|x| ink(x, y))),
            "the letter stays"
        );
        assert!((0..8).all(|d| ink(30 + d, 10 + d)), "the diagonal stays");
        assert!(
            (20..27).all(|y| (50..57).all(|x| !ink(x, y))),
            "the stipple is gone"
        );
    }

    fn element(role: &str, text: &str, rect: (f64, f64, f64, f64)) -> Element {
        let mut e = Element::new(1, role);
        e.text = text.into();
        e.bounds = Rect::new(rect.0, rect.1, rect.2, rect.3);
        e
    }

    #[test]
    fn coverage_counts_content_not_containers() {
        let window = Rect::new(0.0, 0.0, 800.0, 600.0).expect("finite");
        let frame = element("frame", "Title", (0.0, 0.0, 800.0, 600.0));
        let panel = element("panel", "", (0.0, 0.0, 800.0, 600.0));
        assert_eq!(
            coverage(&window, &[frame.clone(), panel.clone()], &[]),
            (0.0, 1.0)
        );
        // A button of a quarter of the window, twice (overlap counts once).
        let button = element("push button", "OK", (0.0, 0.0, 400.0, 300.0));
        let all = [frame, panel, button.clone(), button];
        let (c, shown) = coverage(&window, &all, &[]);
        assert!((c - 0.25).abs() < 0.01 && shown == 1.0, "{c} {shown}");
        // The right half under another window: the button covers half of what shows.
        let right = Rect::new(400.0, 0.0, 1000.0, 600.0).expect("finite");
        let (c, shown) = coverage(&window, &all, &[right]);
        assert!(
            (c - 0.5).abs() < 0.01 && (shown - 0.5).abs() < 0.01,
            "{c} {shown}"
        );
        // Outside the window: nothing.
        let far = element("label", "x", (900.0, 700.0, 1000.0, 800.0));
        assert_eq!(coverage(&window, &[far], &[]).0, 0.0);
    }

    #[test]
    fn a_line_inside_a_named_element_is_a_duplicate() {
        let label = element("label", "Hello world", (10.0, 10.0, 200.0, 40.0));
        let unnamed = element("image", "", (300.0, 10.0, 500.0, 40.0));
        let inside = Rect::new(12.0, 12.0, 150.0, 38.0).expect("finite");
        let over_unnamed = Rect::new(310.0, 12.0, 450.0, 38.0).expect("finite");
        let apart = Rect::new(12.0, 100.0, 150.0, 130.0).expect("finite");
        let elements = [label, unnamed];
        assert!(duplicates(&inside, &elements));
        assert!(!duplicates(&over_unnamed, &elements));
        assert!(!duplicates(&apart, &elements));
        // Over a password field, even its edge: secret.
        let mut password = element("password text", "", (300.0, 100.0, 500.0, 130.0));
        assert!(password.is_sensitive());
        password.text.clear();
        assert!(secret(
            &Rect::new(280.0, 110.0, 320.0, 125.0).expect("finite"),
            &[password.clone()]
        ));
        assert!(!secret(&apart, &[password]));
    }
}
