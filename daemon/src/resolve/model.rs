//! The language-model resolver: the prompt (parser::prompt) read by a model, and constrained
//! decoding over the prompt's candidate numbers and 0.
//!
//! The model answers `" 3<|end|>"`, or `" 3, 5<|end|>"` for several entities, or `" 0<|end|>"`
//! for none (`<|end|>` is the model's end-of-sequence token; a chat model answers in its own
//! turn, without the space). Every number is scored: the
//! probability of `" N"` followed by the end or by a comma, normalized over the numbers
//! present (constrained decoding, `Model::score`). The best number is selected; while the
//! model prefers a comma after the last selected number, the next best is added.
//!
//! A model with a pointer head (`Config::pointer_size`) scores the numbers by pointing
//! instead: at the prompt's last token (and after each comma), `Model::point` compares the
//! position's hidden state with each candidate's, read at the last token of its entry
//! (`Pieces::prompt`), adds the match of the request's tokens against the entry's tokens
//! when the model has that term (`Config::pointer_match`), and normalizes over the numbers
//! still open. The comma against the end is still the language model's, after the number
//! taken.
//!
//! Prompt and answer are tokenized in pieces (the screen prefix, the rest of the prompt, each
//! `" N"`, each `","`), the same way in training (`crate::training`) and here, so a screen's
//! prefix is computed once (`prepare`, `PrefixCache`) and reused by every request on it.
//!
//! With a lexical weight (`model.lexical_weight`), the baseline's score of each number, times
//! the weight, is added to the model's log-probability and the numbers are normalized again
//! (`blend`) before one is taken, at every step: the baseline's word matches, which a model
//! trained on generated screens misses on real ones, count next to the model's reading. A
//! number the rules rule out (a relation's anchor: `baseline::RULED_OUT`) is all but removed.
//!
//! A request the model cannot take (a prompt longer than its context) is answered by the
//! baseline, and the log says so (sizes only).

use std::path::Path;
use std::sync::Mutex;

use deixis_model::{Model, ModelError, PrefixCache};
use deixis_parser::prompt::{self, Prompt};
use tokenizers::Tokenizer;

use super::baseline::Baseline;
use super::{Answer, Ranked, Request, Resolver};

/// At most this many entities in one answer.
pub const MAX_SELECTED: usize = 8;

/// How the prompt is wrapped for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// Our own model: the prompt as it is.
    Plain,
    /// A chat model (SmolLM2-Instruct): the prompt as the user's turn of its chat template,
    /// after `shots` solved examples (prompt, answer numbers) as earlier turns.
    Chat { shots: Vec<(String, Vec<usize>)> },
}

/// Prompt and answer pieces as token ids.
#[derive(Debug)]
pub struct Pieces<'a> {
    tokenizer: &'a Tokenizer,
    end: u32,
    /// `" N"` (our prompt ends with "Relevant entity:"), or `"N"` (a chat model's answer
    /// starts its own turn).
    space: bool,
}

impl<'a> Pieces<'a> {
    /// The pieces of `model`, whose config must name its end token.
    pub fn new(model: &'a Model) -> Result<Pieces<'a>, ModelError> {
        let end = model.config.eos_token_id.ok_or_else(|| {
            ModelError::Candle(candle_core::Error::Msg(
                "the model's config names no end-of-sequence token".into(),
            ))
        })?;
        Ok(Pieces::with(&model.tokenizer, end))
    }

    pub fn with(tokenizer: &'a Tokenizer, end: u32) -> Pieces<'a> {
        Pieces {
            tokenizer,
            end,
            space: true,
        }
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(deixis_model::tokenizer::encode(self.tokenizer, text)?)
    }

    /// `lead` (constant text before every prompt) and the prompt, tokenized as two pieces
    /// (the screen prefix and the request part), and where the model reads each candidate
    /// and the request.
    pub fn prompt(&self, lead: &str, prompt: &Prompt) -> Result<Keyed, ModelError> {
        let split = prompt.prefix_len;
        let mut tokens = Vec::new();
        let entries = prompt::entries(&prompt.text);
        let count = entries.iter().map(|e| e.number + 1).max().unwrap_or(1);
        let mut keys = vec![None; count];
        // The request: everything after the last entry.
        let request_at = entries.iter().map(|e| e.end).max().unwrap_or(split);
        let mut request = None;
        for (text, from, to, shift) in [
            (
                format!("{lead}{}", &prompt.text[..split]),
                0,
                split,
                lead.len(),
            ),
            (prompt.text[split..].to_owned(), split, prompt.text.len(), 0),
        ] {
            let encoding = self
                .tokenizer
                .encode(text.as_str(), false)
                .map_err(|e| deixis_model::tokenizer::TokenizerError::Encode(e.to_string()))?;
            let offsets = encoding.get_offsets();
            // The token holding byte `at` of the prompt (`at` in this piece).
            let holding = |at: usize| {
                let at = at - from + shift;
                offsets
                    .iter()
                    .rposition(|&(start, _)| start <= at)
                    .map(|i| tokens.len() + i)
            };
            for e in entries.iter().filter(|e| e.end > from && e.end <= to) {
                // Entries lie within one piece: the prefix ends at a line's end.
                if let (Some(first), Some(last)) = (holding(e.start.max(from)), holding(e.end - 1))
                {
                    keys[e.number] = Some((first, last));
                }
            }
            if request.is_none() && request_at >= from && request_at < to {
                request = holding(request_at);
            }
            tokens.extend_from_slice(encoding.get_ids());
        }
        let request = request.unwrap_or(tokens.len())..tokens.len();
        Ok(Keyed {
            tokens,
            keys,
            request,
        })
    }

    /// `" N"` followed by the end token (`last`) or by a comma.
    pub fn number(&self, n: usize, last: bool) -> Result<Vec<u32>, ModelError> {
        let mut t = self.encode(&if self.space {
            format!(" {n}")
        } else {
            n.to_string()
        })?;
        if last {
            t.push(self.end);
        } else {
            t.extend(self.encode(",")?);
        }
        Ok(t)
    }

    /// The whole answer for `numbers` (empty: `" 0"`).
    pub fn answer(&self, numbers: &[usize]) -> Result<Vec<u32>, ModelError> {
        if numbers.is_empty() {
            return self.number(0, true);
        }
        let mut t = Vec::new();
        for (i, &n) in numbers.iter().enumerate() {
            t.extend(self.number(n, i + 1 == numbers.len())?);
        }
        Ok(t)
    }
}

/// A prompt's tokens and where the model reads each candidate and the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub tokens: Vec<u32>,
    /// `keys[n]`: the positions of the tokens holding the first and the last byte of prompt
    /// number `n`'s entry (`prompt::entries`); `None` for a number with no entry.
    pub keys: Vec<Option<(usize, usize)>>,
    /// The tokens after the last entry: dialogue and request.
    pub request: std::ops::Range<usize>,
}

/// The chat template's wrapping of one user turn and the assistant's answer start.
fn chat_turn(user: &str) -> String {
    format!("<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
}

/// A model directory answering requests.
#[derive(Debug)]
pub struct ModelResolver {
    model: Model,
    name: String,
    style: Style,
    /// Text before every prompt (chat style: the solved examples and the turn's start).
    lead: String,
    max_text_chars: usize,
    cache: Mutex<PrefixCache>,
    /// Weight of the baseline's scores added to the model's log-probabilities (0: none).
    lexical: f64,
}

impl ModelResolver {
    /// Loads the model in `dir`; element texts in prompts are shortened to `max_text_chars`.
    /// A model whose tokenizer has the chat template's tokens is asked in chat style
    /// (zero-shot; see `with_shots`), any other as it is.
    pub fn load(dir: &Path, max_text_chars: usize) -> Result<Self, ModelError> {
        let model = Model::load(dir)?;
        Pieces::new(&model)?;
        let style = if model.tokenizer.token_to_id("<|im_start|>").is_some() {
            Style::Chat { shots: Vec::new() }
        } else {
            Style::Plain
        };
        let name = dir
            .file_name()
            .map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
        let trained = model.config.lexical_weight;
        Ok(Self::new(model, name, style, max_text_chars).with_lexical(trained))
    }

    pub fn new(model: Model, name: String, style: Style, max_text_chars: usize) -> Self {
        let lead = match &style {
            Style::Plain => String::new(),
            Style::Chat { shots } => {
                let mut lead = String::new();
                for (text, numbers) in shots {
                    let answer = if numbers.is_empty() {
                        "0".to_owned()
                    } else {
                        numbers
                            .iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    lead.push_str(&chat_turn(text));
                    lead.push_str(&format!("{answer}<|im_end|>\n"));
                }
                lead.push_str("<|im_start|>user\n");
                lead
            }
        };
        ModelResolver {
            model,
            name,
            style,
            lead,
            max_text_chars,
            cache: Mutex::new(PrefixCache::new(4)),
            lexical: 0.0,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The same model asked after solved examples (chat style only; `Plain` ignores them).
    pub fn with_shots(self, shots: Vec<(String, Vec<usize>)>) -> Self {
        match self.style {
            Style::Chat { .. } => Self::new(
                self.model,
                self.name,
                Style::Chat { shots },
                self.max_text_chars,
            ),
            Style::Plain => self,
        }
    }

    /// The same model with the baseline's scores, times `weight`, added to its
    /// log-probabilities (0: the model alone).
    /// A model trained with a prior (`Config::lexical_weight`) should keep its own weight:
    /// see `with_default_lexical`.
    pub fn with_lexical(mut self, weight: f64) -> Self {
        self.lexical = weight;
        self
    }

    /// The weight of the baseline's scores (0: none).
    pub fn lexical(&self) -> f64 {
        self.lexical
    }

    /// `with_lexical(weight)` for a model trained without a prior; a model trained with one
    /// keeps the weight it was trained with.
    pub fn with_default_lexical(self, weight: f64) -> Self {
        if self.model.config.lexical_weight > 0.0 {
            self
        } else {
            self.with_lexical(weight)
        }
    }

    pub fn style(&self) -> &Style {
        &self.style
    }

    fn prompt(&self, request: &Request<'_>) -> Prompt {
        let mut p = prompt::render(
            request.screen,
            request.parse,
            request.context,
            request.query,
            self.max_text_chars,
        );
        if matches!(self.style, Style::Chat { .. }) {
            p.text.push_str("<|im_end|>\n<|im_start|>assistant\n");
        }
        p
    }

    /// The model's answer, or why it has none.
    pub fn answer(&self, request: &Request<'_>) -> Result<Answer, ModelError> {
        let mut pieces = Pieces::new(&self.model)?;
        pieces.space = self.style == Style::Plain;
        let prompt = self.prompt(request);
        let keyed = pieces.prompt(&self.lead, &prompt)?;
        let tokens = &keyed.tokens;
        let pointing = self.model.has_pointer().then_some(&keyed);
        let count = request.parse.candidates.len();
        // The longest answer must fit after the prompt.
        let longest = pieces.number(count, false)?.len() * MAX_SELECTED + 1;
        let max = self.model.config.max_positions;
        if tokens.len() + longest > max {
            return Err(ModelError::TooLong {
                len: tokens.len() + longest,
                max,
            });
        }
        let mut state = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .state(&self.model, tokens)?;

        let lexical: Option<Vec<f64>> = (self.lexical > 0.0).then(|| {
            Baseline
                .scores(request)
                .into_iter()
                .map(|s| self.lexical * s)
                .collect()
        });
        let lexical = lexical.as_deref();
        let (probs, more) = self.step(&pieces, &state, count, &[], pointing, lexical)?;
        let mut ranked: Vec<Ranked> = (1..=count)
            .map(|n| Ranked {
                number: n,
                score: probs[n],
                selected: false,
            })
            .collect();
        let best = argmax(&probs, &[]);
        let mut selected = Vec::new();
        if best != 0 {
            selected.push(best);
            let mut go_on = more[best];
            while go_on && selected.len() < MAX_SELECTED {
                let last = *selected.last().unwrap_or(&best);
                state = self.model.extend(&state, &pieces.number(last, false)?)?;
                let (p, m) = self.step(&pieces, &state, count, &selected, pointing, lexical)?;
                let next = argmax(&p, &selected);
                if next == 0 {
                    break;
                }
                selected.push(next);
                go_on = m[next];
            }
        }
        for r in &mut ranked {
            r.selected = selected.contains(&r.number);
        }
        ranked.sort_by(|a, b| {
            b.selected
                .cmp(&a.selected)
                .then(b.score.total_cmp(&a.score))
                .then(a.number.cmp(&b.number))
        });
        Ok(Answer { ranked })
    }

    /// Probability of each number 0..=count after `state` (the ones in `taken` excluded, and
    /// 0 too once something is taken), and whether a comma is likelier than the end after it.
    ///
    /// With `pointing` (a pointer-headed model: where each entry and the request are read),
    /// the pointer head gives the probabilities, and the comma is weighed after the most
    /// probable number only (the one the caller takes).
    fn step(
        &self,
        pieces: &Pieces<'_>,
        state: &deixis_model::State,
        count: usize,
        taken: &[usize],
        pointing: Option<&Keyed>,
        lexical: Option<&[f64]>,
    ) -> Result<(Vec<f64>, Vec<bool>), ModelError> {
        let first = usize::from(!taken.is_empty());
        let numbers: Vec<usize> = (first..=count).filter(|n| !taken.contains(n)).collect();
        if let Some(keyed) = pointing {
            let at = numbers
                .iter()
                .map(|&n| {
                    keyed.keys.get(n).copied().flatten().ok_or_else(|| {
                        ModelError::Candle(candle_core::Error::Msg(format!(
                            "prompt number {n} has no entry in the prompt"
                        )))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let scores = self
                .model
                .point(state, state.len() - 1, &at, keyed.request.clone())?;
            let mut probs = vec![0.0; count + 1];
            for (&n, s) in numbers.iter().zip(scores) {
                probs[n] = f64::from(s).exp();
            }
            if let Some(lexical) = lexical {
                blend(&mut probs, &numbers, lexical);
            }
            let mut more = vec![false; count + 1];
            let best = argmax(&probs, taken);
            if best != 0 {
                let ends = [pieces.number(best, true)?, pieces.number(best, false)?];
                let s = self.model.score(state, &ends, true)?;
                more[best] = s[1] > s[0];
            }
            return Ok((probs, more));
        }
        let mut conts = Vec::with_capacity(numbers.len() * 2);
        for &n in &numbers {
            conts.push(pieces.number(n, true)?);
            if n != 0 {
                conts.push(pieces.number(n, false)?);
            }
        }
        let scores = self.model.score(state, &conts, true)?;
        let mut probs = vec![0.0; count + 1];
        let mut more = vec![false; count + 1];
        let mut k = 0;
        for &n in &numbers {
            let end = f64::from(scores[k]).exp();
            k += 1;
            if n != 0 {
                let comma = f64::from(scores[k]).exp();
                k += 1;
                probs[n] = end + comma;
                more[n] = comma > end;
            } else {
                probs[n] = end;
            }
        }
        if let Some(lexical) = lexical {
            blend(&mut probs, &numbers, lexical);
        }
        Ok((probs, more))
    }
}

/// Multiplies each of `numbers`' probabilities by `exp(lexical[n])` and normalizes them again
/// (the model's log-probabilities plus the weighted baseline scores, as a softmax).
fn blend(probs: &mut [f64], numbers: &[usize], lexical: &[f64]) {
    let top = numbers
        .iter()
        .map(|&n| lexical.get(n).copied().unwrap_or(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for &n in numbers {
        probs[n] *= (lexical.get(n).copied().unwrap_or(0.0) - top).exp();
        total += probs[n];
    }
    if total > 0.0 {
        for &n in numbers {
            probs[n] /= total;
        }
    }
}

/// The most probable number not in `taken` (0 when nothing has probability).
fn argmax(probs: &[f64], taken: &[usize]) -> usize {
    (0..probs.len())
        .filter(|n| !taken.contains(n))
        .max_by(|&a, &b| probs[a].total_cmp(&probs[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

impl Resolver for ModelResolver {
    fn name(&self) -> &str {
        &self.name
    }

    fn prepare(&self, prefix: &str) {
        let text = format!("{}{prefix}", self.lead);
        let ready = self.model.encode(&text).and_then(|tokens| {
            self.cache
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .state(&self.model, &tokens)
        });
        if let Err(e) = ready {
            tracing::warn!(
                prefix_bytes = prefix.len(),
                "cannot prepare the screen: {e}"
            );
        }
    }

    fn resolve(&self, request: &Request<'_>) -> Answer {
        match self.answer(request) {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(
                    candidates = request.parse.candidates.len(),
                    "the model cannot answer ({e}); the baseline answers"
                );
                Baseline.resolve(request)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ParseSettings;
    use crate::pipeline::{parse_config, prepare};
    use deixis_parser::parse::seed_from;

    /// An untrained model of our architecture (random weights) with a tokenizer trained on
    /// generated prompts, and some generated cases.
    fn untrained(max_positions: usize) -> (tempfile::TempDir, Vec<deixis_parser::Case>) {
        untrained_with(max_positions, 0, false)
    }

    /// `untrained`, with a pointer head of `pointer_size` (0: none), with or without its match
    /// term.
    fn untrained_with(
        max_positions: usize,
        pointer_size: usize,
        pointer_match: bool,
    ) -> (tempfile::TempDir, Vec<deixis_parser::Case>) {
        let cases = crate::datagen::generate(21, 12);
        let texts: Vec<String> = cases
            .iter()
            .map(|c| format!("{} {:?}", c.query, c.elements))
            .collect();
        let tok = deixis_model::tokenizer::train(texts.into_iter(), 300, false).expect("tokenizer");
        let mut config =
            deixis_model::train::config(tok.get_vocab_size(true), 32, 2, 4, 2, 64, max_positions);
        config.pointer_size = pointer_size;
        config.pointer_match = pointer_match;
        let trainer = deixis_model::train::Trainer::new(config, 1, 1e-3).expect("trainer");
        let dir = tempfile::tempdir().expect("dir");
        trainer.export(dir.path(), &tok).expect("export");
        (dir, cases)
    }

    /// A case's screen parsed with the default settings.
    fn parsed(case: &deixis_parser::Case) -> crate::pipeline::Prepared {
        let config = parse_config(&ParseSettings::default(), seed_from(&case.id));
        prepare(case.size, case.elements.clone(), &config)
    }

    fn answer_of(resolver: &dyn Resolver, case: &deixis_parser::Case, prepared: bool) -> Answer {
        let p = parsed(case);
        if prepared {
            let prompt = prompt::render(&p.screen, &p.parse, &[], "", 300);
            resolver.prepare(&prompt.text[..prompt.prefix_len]);
        }
        resolver.resolve(&Request {
            screen: &p.screen,
            parse: &p.parse,
            context: &case.context,
            query: &case.query,
        })
    }

    #[test]
    fn every_candidate_is_ranked_once_with_a_probability() {
        // Text numbers, a pointer head, a pointer head with its match term.
        for (pointer_size, pointer_match) in [(0, false), (16, false), (16, true)] {
            let (dir, cases) = untrained_with(2048, pointer_size, pointer_match);
            let resolver = ModelResolver::load(dir.path(), 300).expect("load");
            assert_eq!(resolver.style(), &Style::Plain);
            assert_eq!(resolver.model().has_pointer(), pointer_size > 0);
            ranks_every_candidate_once(&resolver, &cases);
        }
    }

    /// The blend multiplies by `exp(lexical)` and normalizes over the numbers still open;
    /// the others are left as they were.
    #[test]
    fn blend_adds_the_lexical_scores_to_the_log_probabilities() {
        let mut probs = vec![0.1, 0.6, 0.3, 0.5];
        blend(&mut probs, &[0, 1, 2], &[0.0, 0.0, 2.0, 9.0]);
        let raw = [0.1, 0.6, 0.3 * 2f64.exp()];
        let total: f64 = raw.iter().sum();
        for n in 0..3 {
            assert!((probs[n] - raw[n] / total).abs() < 1e-12, "{probs:?}");
        }
        assert_eq!(probs[3], 0.5);
        assert!(probs[2] > probs[1]);
        // Huge scores do not overflow.
        let mut probs = vec![0.5, 0.5];
        blend(&mut probs, &[0, 1], &[1e4, 1e4 + 1.0]);
        assert!(probs.iter().all(|p| p.is_finite()));
        assert!((probs[1] - 1f64.exp() / (1.0 + 1f64.exp())).abs() < 1e-12);
    }

    /// With a large lexical weight an untrained model takes the baseline's choice wherever the
    /// baseline is sure of it (its best candidate well ahead of the next), and still ranks every
    /// candidate once with a probability.
    #[test]
    fn a_heavy_lexical_weight_follows_the_baseline() {
        let (dir, _) = untrained_with(2048, 16, true);
        let resolver = ModelResolver::load(dir.path(), 300)
            .expect("load")
            .with_lexical(100.0);
        assert_eq!(resolver.lexical(), 100.0);
        let cases = crate::datagen::generate(33, 40);
        let mut sure = 0;
        for case in &cases {
            let p = parsed(case);
            let request = Request {
                screen: &p.screen,
                parse: &p.parse,
                context: &case.context,
                query: &case.query,
            };
            let lexical = Baseline.scores(&request);
            let mut order: Vec<usize> = (0..lexical.len()).collect();
            order.sort_by(|&a, &b| lexical[b].total_cmp(&lexical[a]));
            if order.len() < 2 || order[0] == 0 || lexical[order[0]] - lexical[order[1]] < 0.2 {
                continue;
            }
            sure += 1;
            let answer = resolver.answer(&request).expect("the model answers");
            assert_eq!(answer.ranked[0].number, order[0], "{}", case.query);
            assert!(answer.ranked[0].selected, "{}", case.query);
        }
        assert!(sure >= 10, "only {sure} cases where the baseline is sure");
        ranks_every_candidate_once(&resolver, &cases[..6]);
    }

    fn ranks_every_candidate_once(resolver: &ModelResolver, cases: &[deixis_parser::Case]) {
        for case in cases {
            let p = parsed(case);
            let request = Request {
                screen: &p.screen,
                parse: &p.parse,
                context: &case.context,
                query: &case.query,
            };
            let answer = resolver.answer(&request).expect("the model answers");
            let mut numbers: Vec<usize> = answer.ranked.iter().map(|r| r.number).collect();
            numbers.sort_unstable();
            assert_eq!(numbers, (1..=p.parse.candidates.len()).collect::<Vec<_>>());
            let total: f64 = answer.ranked.iter().map(|r| r.score).sum();
            assert!(total <= 1.0 + 1e-4, "{total}");
            assert!(answer.ranked.iter().all(|r| (0.0..=1.0).contains(&r.score)));
            // Selected ones come first.
            let first_unselected = answer.ranked.iter().position(|r| !r.selected);
            if let Some(k) = first_unselected {
                assert!(answer.ranked[k..].iter().all(|r| !r.selected));
            }
            // A prepared screen prefix gives the same answer.
            assert_eq!(answer_of(resolver, case, true), answer);
        }
    }

    #[test]
    fn a_prompt_longer_than_the_model_takes_goes_to_the_baseline() {
        let (dir, cases) = untrained(64);
        let resolver = ModelResolver::load(dir.path(), 300).expect("load");
        for case in &cases[..3] {
            let p = parsed(case);
            let request = Request {
                screen: &p.screen,
                parse: &p.parse,
                context: &case.context,
                query: &case.query,
            };
            assert!(matches!(
                resolver.answer(&request),
                Err(ModelError::TooLong { .. })
            ));
            assert_eq!(resolver.resolve(&request), Baseline.resolve(&request));
        }
    }

    #[test]
    fn a_chat_model_reads_its_shots_before_the_request() {
        let (dir, _) = untrained(256);
        let model = Model::load(dir.path()).expect("load");
        let r = ModelResolver::new(
            model,
            "chat".into(),
            Style::Chat {
                shots: vec![("P1".into(), vec![2, 5]), ("P2".into(), vec![])],
            },
            300,
        );
        assert_eq!(
            r.lead,
            "<|im_start|>user\nP1<|im_end|>\n<|im_start|>assistant\n2, 5<|im_end|>\n\
             <|im_start|>user\nP2<|im_end|>\n<|im_start|>assistant\n0<|im_end|>\n<|im_start|>user\n"
        );
    }
}
