//! Evaluation: a resolver scored on eval files (one case per JSONL line), with accuracy by each
//! case's `scoring` rule, per-case latency (parse + resolve) and each case's outcome (what was
//! selected, the top of the ranking) for looking at the failures.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use deixis_parser::format::{read_jsonl, FormatError};
use deixis_parser::parse::seed_from;
use deixis_parser::{Case, Element, ElementId, Scoring};

use crate::config::ParseSettings;
use crate::pipeline::{parse_config, prepare, Prepared};
use crate::resolve::{Answer, Request, Resolver};

/// The figures for one eval file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    pub path: String,
    /// Every case line, malformed ones included.
    pub cases: usize,
    pub correct: usize,
    /// Malformed lines (counted as wrong).
    pub errors: usize,
    pub accuracy: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// One per well-formed case, in file order.
    pub outcomes: Vec<Outcome>,
}

/// How one case went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub correct: bool,
    pub selected: Vec<ElementId>,
    pub targets: Vec<ElementId>,
    /// The first three of the ranking: element id and score.
    pub top: Vec<(ElementId, f64)>,
    pub ms: f64,
}

/// Whether a selected set is right for `targets` under `scoring`.
pub fn is_correct(scoring: Scoring, selected: &[ElementId], targets: &[ElementId]) -> bool {
    match scoring {
        Scoring::Any => selected.len() == 1 && targets.contains(&selected[0]),
        Scoring::Set => {
            let mut a = selected.to_vec();
            let mut b = targets.to_vec();
            a.sort_unstable();
            a.dedup();
            b.sort_unstable();
            b.dedup();
            a == b
        }
    }
}

/// Scores `resolver` on the cases in `bytes`. Each malformed line, and each case whose
/// resolution panics (a bug, reported rather than ending the run), goes to `on_error` as
/// (line, problem) and counts as a wrong case in `errors`.
pub fn eval_file(
    path: &str,
    bytes: &[u8],
    resolver: &dyn Resolver,
    settings: &ParseSettings,
    mut on_error: impl FnMut(usize, &str),
) -> FileReport {
    let mut report = FileReport {
        path: path.to_owned(),
        cases: 0,
        correct: 0,
        errors: 0,
        accuracy: 0.0,
        p50_ms: 0.0,
        p95_ms: 0.0,
        outcomes: Vec::new(),
    };
    let mut latencies = Vec::new();
    for (line, case) in read_jsonl(bytes) {
        report.cases += 1;
        let mut case = match case {
            Ok(case) => case,
            Err(e) => {
                report.errors += 1;
                on_error(e.line(), &format_problem(&e));
                continue;
            }
        };
        let start = Instant::now();
        let elements = std::mem::take(&mut case.elements);
        let resolved = catch_unwind(AssertUnwindSafe(|| {
            resolve_case(&case, elements, resolver, settings)
        }));
        let (prepared, answer) = match resolved {
            Ok(resolved) => resolved,
            Err(panic) => {
                report.errors += 1;
                let message = crate::panic_message(&*panic);
                on_error(
                    line,
                    &format!("resolving this case failed (a bug): {message}"),
                );
                continue;
            }
        };
        let selected = answer.selected_elements(&prepared.screen, &prepared.parse);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        latencies.push(ms);
        let correct = is_correct(case.scoring, &selected, &case.targets);
        if correct {
            report.correct += 1;
        }
        let top = answer
            .rows(&prepared.screen, &prepared.parse, 3)
            .into_iter()
            .map(|r| (r.id, r.score))
            .collect();
        report.outcomes.push(Outcome {
            id: case.id,
            correct,
            selected,
            targets: case.targets,
            top,
            ms,
        });
    }
    if report.cases > 0 {
        report.accuracy = report.correct as f64 / report.cases as f64;
    }
    report.p50_ms = percentile(&mut latencies, 0.50);
    report.p95_ms = percentile(&mut latencies, 0.95);
    report
}

/// Parses a case's screen (`elements`, taken from it) as the pipeline does and asks
/// `resolver` its request.
pub fn resolve_case(
    case: &Case,
    elements: Vec<Element>,
    resolver: &dyn Resolver,
    settings: &ParseSettings,
) -> (Prepared, Answer) {
    let config = parse_config(settings, seed_from(&case.id));
    let prepared = prepare(case.size, elements, &config);
    let request = Request {
        screen: &prepared.screen,
        parse: &prepared.parse,
        context: &case.context,
        query: &case.query,
    };
    let answer = resolver.resolve(&request);
    (prepared, answer)
}

/// A format error's problem without its leading line number ("FIELD: problem").
pub fn format_problem(e: &FormatError) -> String {
    let text = e.to_string();
    text.split_once(": ")
        .map_or(text.clone(), |(_, rest)| rest.to_owned())
}

/// Nearest-rank percentile; 0 for no samples.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (p * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::baseline::Baseline;

    #[test]
    fn scoring_rules() {
        let ids = |v: &[u64]| v.iter().map(|&i| ElementId(i)).collect::<Vec<_>>();
        assert!(is_correct(Scoring::Any, &ids(&[3]), &ids(&[3, 4])));
        assert!(!is_correct(Scoring::Any, &ids(&[3, 4]), &ids(&[3, 4])));
        assert!(!is_correct(Scoring::Any, &ids(&[]), &ids(&[3])));
        assert!(is_correct(Scoring::Set, &ids(&[4, 3]), &ids(&[3, 4])));
        assert!(is_correct(Scoring::Set, &ids(&[]), &ids(&[])));
        assert!(!is_correct(Scoring::Set, &ids(&[3]), &ids(&[3, 4])));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.5), 50.0);
        assert_eq!(percentile(&mut v, 0.95), 95.0);
        assert_eq!(percentile(&mut [], 0.5), 0.0);
    }

    #[test]
    fn malformed_lines_count_as_wrong_and_are_reported() {
        let input = concat!(
            r#"{"id": "a", "elements": [{"id": 0, "text": "Save", "bbox": [0,0,10,10]}, {"id": 1, "text": "Open", "bbox": [20,0,30,10]}], "query": "save", "target_ids": [0], "scoring": "any"}"#,
            "\n{broken\n",
            r#"{"id": "c", "elements": [{"id": 0, "text": "Save", "bbox": [0,0,10,10]}], "query": "delete everything", "target_ids": [], "scoring": "set"}"#,
            "\n"
        );
        let mut errors = Vec::new();
        let report = eval_file(
            "x.jsonl",
            input.as_bytes(),
            &Baseline,
            &ParseSettings::default(),
            |line, e| errors.push(format!("{line}: {e}")),
        );
        assert_eq!((report.cases, report.correct, report.errors), (3, 2, 1));
        assert_eq!(
            errors,
            vec!["2: (json): key must be a string at column 2".to_owned()]
        );
    }

    /// Answers like the baseline, but panics on one request.
    struct Fragile;

    impl Resolver for Fragile {
        fn name(&self) -> &str {
            "fragile"
        }

        fn resolve(&self, request: &Request<'_>) -> crate::resolve::Answer {
            assert!(request.query != "boom", "a bug on this request");
            Baseline.resolve(request)
        }
    }

    /// A case whose resolution panics is reported with its line and counted in `errors`;
    /// the cases after it are still scored.
    #[test]
    fn a_case_that_panics_is_an_error_and_the_run_goes_on() {
        let case = |id: &str, query: &str| {
            format!(
                r#"{{"id": "{id}", "elements": [{{"id": 0, "text": "Save", "bbox": [0,0,10,10]}}], "query": "{query}", "target_ids": [0]}}"#
            )
        };
        let input = [case("a", "save"), case("b", "boom"), case("c", "save")].join("\n");
        let mut errors = Vec::new();
        let report = eval_file(
            "x.jsonl",
            input.as_bytes(),
            &Fragile,
            &ParseSettings::default(),
            |line, e| errors.push(format!("{line}: {e}")),
        );
        assert_eq!((report.cases, report.correct, report.errors), (3, 2, 1));
        assert_eq!(
            errors,
            ["2: resolving this case failed (a bug): a bug on this request"]
        );
        assert_eq!(report.outcomes.len(), 2);
    }
}
