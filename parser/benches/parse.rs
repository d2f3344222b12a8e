//! Cluster + parse of synthetic desktop-like screens of 200, 2,000 and 20,000 elements, and
//! DBSCAN alone with linfa-nn's linear search against the grid index.
//!
//! Screens: panels of rows, each row a label, a value with a phone number or date now and
//! then, and an icon button; a container box per panel. Run with `cargo bench -p deixis-parser`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use deixis_parser::cluster::{BoxGap, GridSearch};
use deixis_parser::element::{Element, Rect, Screen, ScreenSize};
use deixis_parser::{parse, ClusterConfig, ParseConfig};
use linfa::traits::Transformer;
use linfa_clustering::Dbscan;
use linfa_nn::LinearSearch;
use ndarray::Array2;

/// A screen of `n` elements laid out as panels of rows, three panels across a 1920x1080
/// screen; beyond the first screenful they continue below it, as a long scrolled page does.
fn screen(n: usize) -> Screen {
    let mut elements: Vec<Element> = Vec::with_capacity(n);
    let push = |elements: &mut Vec<Element>, role: &str, text: String, r: (f64, f64, f64, f64)| {
        let mut e = Element::new(elements.len() as u64, role);
        e.text = text;
        e.bounds = Rect::new(r.0, r.1, r.2, r.3);
        elements.push(e);
    };
    let (panel_w, row_h, rows_per_panel) = (620.0, 32.0, 12);
    let mut k = 0usize;
    'outer: for panel in 0.. {
        let px = (panel % 3) as f64 * (panel_w + 20.0);
        let py = (panel / 3) as f64 * (rows_per_panel as f64 * row_h + 40.0);
        let bottom = py + rows_per_panel as f64 * row_h + 20.0;
        push(
            &mut elements,
            "panel",
            String::new(),
            (px, py, px + panel_w, bottom),
        );
        for row in 0..rows_per_panel {
            let y = py + 10.0 + row as f64 * row_h;
            let value = match k % 5 {
                0 => format!("+1 (408) 555-{:04}", k % 10_000),
                1 => "March 5, 2024".to_owned(),
                _ => format!("value {k}"),
            };
            let rows = [
                (
                    "label",
                    format!("Field {k}"),
                    (px + 10.0, y, px + 200.0, y + 24.0),
                ),
                ("label", value, (px + 210.0, y, px + 560.0, y + 24.0)),
                (
                    "push button",
                    String::new(),
                    (px + 570.0, y, px + 600.0, y + 24.0),
                ),
            ];
            for (role, text, r) in rows {
                if elements.len() >= n {
                    break 'outer;
                }
                push(&mut elements, role, text, r);
            }
            k += 1;
        }
    }
    let size = ScreenSize {
        width: 1920.0,
        height: 1080.0,
    };
    Screen::new(Some(size), elements, &mut Vec::new())
}

fn cluster_and_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("cluster+parse");
    for n in [200usize, 2_000, 20_000] {
        let s = screen(n);
        let config = ParseConfig {
            max_elements: n,
            ..ParseConfig::default()
        };
        group.bench_with_input(BenchmarkId::from_parameter(n), &s, |b, s| {
            b.iter(|| parse(s, &config))
        });
    }
    group.finish();
}

/// DBSCAN alone over the same boxes: linfa-nn's linear search against our grid index.
fn dbscan_index(c: &mut Criterion) {
    let mut group = c.benchmark_group("dbscan");
    for n in [200usize, 2_000] {
        let s = screen(n);
        let mut records = Array2::<f64>::zeros((n, 4));
        for (row, e) in s.elements.iter().enumerate() {
            let r = e.bounds.expect("every bench element has a box");
            records
                .row_mut(row)
                .assign(&ndarray::arr1(&[r.x1, r.y1, r.x2, r.y2]));
        }
        let eps = ClusterConfig::default().eps * s.size.height;
        let linear = Dbscan::params_with(2, BoxGap, LinearSearch).tolerance(eps);
        let grid = Dbscan::params_with(2, BoxGap, GridSearch).tolerance(eps);
        group.bench_with_input(BenchmarkId::new("linear", n), &records, |b, r| {
            b.iter(|| linear.transform(r).expect("valid params"))
        });
        group.bench_with_input(BenchmarkId::new("grid", n), &records, |b, r| {
            b.iter(|| grid.transform(r).expect("valid params"))
        });
    }
    group.finish();
}

criterion_group!(benches, cluster_and_parse, dbscan_index);
criterion_main!(benches);
