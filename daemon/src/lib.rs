//! deixis-daemon: the pipeline around the parser and the model, the settings, and the
//! binaries `deixis` (CLI) and `deixisd` (the D-Bus service).
//!
//! Stages here: 0 capture (`capture`: the accessibility bus, the only user of atspi, and the
//! AccessKit trees apps push), 5-6 resolution (`worker`: the model thread; `resolve`: the
//! model by default, the baseline where it does not load or is chosen), 7 answer (`service`: the D-Bus service; `store`: what is
//! kept, the only user of sled; `access`: who may call; the CLI's output).

pub mod access;
pub mod capture;
pub mod cli;
pub mod config;
pub mod datagen;
pub mod picture;
pub mod pipeline;
pub mod resolve;
pub mod service;
pub mod store;
pub mod training;
pub mod worker;

pub mod eval;

/// The message of a caught panic (`catch_unwind`'s payload), for an error reply.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}
