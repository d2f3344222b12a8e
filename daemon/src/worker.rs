//! The model worker: the resolver runs on its own thread behind a bounded queue, pipeline
//! stages 4-6, so model work never blocks the async executor and requests are served one at a
//! time in arrival order (a language model holds one KV cache).
//!
//! When the screen changes, the service sends `prepare` before anyone asks: the worker renders
//! the screen's prompt prefix (instruction and parse) once and keeps it for the snapshot, so a
//! request on that screen only adds its own part. A panic inside one request is caught and
//! becomes that request's error; the thread goes on serving. A request whose caller gave up
//! (timed out) is skipped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use deixis_parser::format::Turn;
use deixis_parser::prompt::INSTRUCTION;
use deixis_parser::{Element, ParseConfig};
use tokio::sync::{mpsc, oneshot};

use crate::pipeline::Prepared;
use crate::resolve::{Answer, Resolver};

/// Requests waiting for the worker; more wait for room (within their timeout).
pub const QUEUE: usize = 64;

/// A screen ready for requests: its parse and its prompt prefix.
#[derive(Debug)]
pub struct Snapshot {
    pub id: String,
    pub prepared: Prepared,
    pub config: ParseConfig,
}

/// What a request gets back: the screen it was answered on (with the entities added) and the
/// answer.
#[derive(Debug)]
pub struct Resolved {
    pub prepared: Prepared,
    pub answer: Answer,
    /// Whether the screen's prefix was ready when the request came (it had been prepared).
    pub prefix_ready: bool,
    pub took: std::time::Duration,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WorkerError {
    #[error("the resolver failed on this request: {0}")]
    Panicked(String),
    #[error("the model worker has stopped")]
    Stopped,
}

enum Job {
    Prepare(Arc<Snapshot>),
    Resolve {
        snapshot: Arc<Snapshot>,
        entities: Vec<Element>,
        context: Vec<Turn>,
        query: String,
        reply: oneshot::Sender<Result<Resolved, WorkerError>>,
    },
}

/// Handle to the worker thread; the thread ends when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Worker {
    jobs: mpsc::Sender<Job>,
}

/// The worker thread's state.
struct Thread {
    resolver: Box<dyn Resolver + Send>,
    /// The last prepared snapshot and its prompt prefix.
    prefix: Option<(String, String)>,
}

impl Worker {
    /// Starts the thread with `resolver`.
    pub fn start(resolver: Box<dyn Resolver + Send>) -> std::io::Result<Worker> {
        let (jobs, mut queue) = mpsc::channel(QUEUE);
        let mut thread = Thread {
            resolver,
            prefix: None,
        };
        std::thread::Builder::new()
            .name("deixis-model".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    thread.run(job);
                }
            })?;
        Ok(Worker { jobs })
    }

    /// Prepares a new screen ahead of requests; waits for room in the queue.
    pub async fn prepare(&self, snapshot: Arc<Snapshot>) {
        let _ = self.jobs.send(Job::Prepare(snapshot)).await;
    }

    /// Resolves `query` on `snapshot` with conversation and background `entities` added.
    pub async fn resolve(
        &self,
        snapshot: Arc<Snapshot>,
        entities: Vec<Element>,
        context: Vec<Turn>,
        query: String,
    ) -> Result<Resolved, WorkerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Resolve {
                snapshot,
                entities,
                context,
                query,
                reply,
            })
            .await
            .map_err(|_| WorkerError::Stopped)?;
        answer.await.map_err(|_| WorkerError::Stopped)?
    }
}

impl Thread {
    fn run(&mut self, job: Job) {
        match job {
            Job::Prepare(snapshot) => {
                self.prepare(&snapshot);
            }
            Job::Resolve {
                snapshot,
                entities,
                context,
                query,
                reply,
            } => {
                if reply.is_closed() {
                    return;
                }
                let start = Instant::now();
                let prefix_ready = self
                    .prefix
                    .as_ref()
                    .is_some_and(|(id, _)| *id == snapshot.id);
                let result = catch_unwind(AssertUnwindSafe(|| {
                    if !prefix_ready {
                        self.prepare(&snapshot);
                    }
                    let (screen, parse) = deixis_parser::parse::with_boxless(
                        &snapshot.prepared.screen,
                        &snapshot.prepared.parse,
                        &entities,
                        &snapshot.config,
                    );
                    let request = crate::resolve::Request {
                        screen: &screen,
                        parse: &parse,
                        context: &context,
                        query: &query,
                    };
                    let answer = self.resolver.resolve(&request);
                    Resolved {
                        prepared: Prepared {
                            screen,
                            parse,
                            diagnostics: Vec::new(),
                        },
                        answer,
                        prefix_ready,
                        took: start.elapsed(),
                    }
                }))
                .map_err(|panic| WorkerError::Panicked(crate::panic_message(&*panic)));
                let _ = reply.send(result);
            }
        }
    }

    /// Renders the screen's prompt prefix and keeps it for the snapshot (a language model
    /// computes its KV cache over the same text).
    fn prepare(&mut self, snapshot: &Snapshot) {
        if self
            .prefix
            .as_ref()
            .is_some_and(|(id, _)| *id == snapshot.id)
        {
            return;
        }
        let parse = &snapshot.prepared.parse.text;
        let mut prefix = String::with_capacity(INSTRUCTION.len() + parse.len() + 9);
        prefix.push_str(INSTRUCTION);
        prefix.push_str("Screen:\n");
        prefix.push_str(parse);
        prefix.push('\n');
        self.resolver.prepare(&prefix);
        self.prefix = Some((snapshot.id.clone(), prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::prepare;
    use crate::resolve::{Ranked, Request};
    use deixis_parser::{Origin, Rect};

    /// Panics on "boom", otherwise selects the first candidate whose text contains the query.
    struct Picky;

    impl Resolver for Picky {
        fn name(&self) -> &str {
            "picky"
        }

        fn resolve(&self, request: &Request<'_>) -> Answer {
            assert_ne!(request.query, "boom", "a resolver bug");
            Answer {
                ranked: request
                    .parse
                    .candidates
                    .iter()
                    .map(|c| Ranked {
                        number: c.number,
                        score: 1.0,
                        selected: request.parse.candidate_text(c).contains(request.query),
                    })
                    .collect(),
            }
        }
    }

    fn snapshot() -> Arc<Snapshot> {
        let mut call = Element::new(1, "push button");
        call.text = "Call".into();
        call.origin = Origin::Onscreen;
        call.bounds = Rect::new(0.0, 0.0, 50.0, 20.0);
        let config = ParseConfig::default();
        Arc::new(Snapshot {
            id: "s".into(),
            prepared: prepare(None, vec![call], &config),
            config,
        })
    }

    #[tokio::test]
    async fn a_panic_is_one_requests_error_and_the_worker_goes_on() {
        let worker = Worker::start(Box::new(Picky)).expect("start");
        let s = snapshot();
        worker.prepare(s.clone()).await;
        let e = worker
            .resolve(s.clone(), vec![], vec![], "boom".into())
            .await
            .expect_err("panics");
        assert!(
            matches!(e, WorkerError::Panicked(ref m) if m.contains("a resolver bug")),
            "{e}"
        );
        let ok = worker
            .resolve(s.clone(), vec![], vec![], "Call".into())
            .await
            .expect("served after the panic");
        assert!(ok.prefix_ready);
        assert_eq!(
            ok.answer
                .selected_elements(&ok.prepared.screen, &ok.prepared.parse),
            [deixis_parser::ElementId(1)]
        );
    }

    #[tokio::test]
    async fn entities_are_candidates_after_the_screen() {
        let worker = Worker::start(Box::new(Picky)).expect("start");
        let mut alarm = Element::new(9, "alarm");
        alarm.text = "Alarm 7:00".into();
        alarm.origin = Origin::Background;
        let r = worker
            .resolve(snapshot(), vec![alarm], vec![], "Alarm".into())
            .await
            .expect("answer");
        assert!(!r.prefix_ready);
        assert_eq!(r.prepared.parse.candidates.len(), 2);
        assert_eq!(
            r.answer
                .selected_elements(&r.prepared.screen, &r.prepared.parse),
            [deixis_parser::ElementId(9)]
        );
    }
}
