//! deixis-daemon: the pipeline around the parser and the model, the settings, and the
//! binaries `deixis` (CLI) and later `deixisd` (the D-Bus service).
//!
//! Stages here: 0 capture (`capture`: the accessibility bus, the only user of atspi), 5-6
//! resolution (`resolve`: the baseline now, the model later), 7 answer (the CLI's output;
//! D-Bus and the store come with the daemon).

pub mod access;
pub mod capture;
pub mod config;
pub mod pipeline;
pub mod resolve;
pub mod service;
pub mod store;
pub mod worker;

pub mod eval;
