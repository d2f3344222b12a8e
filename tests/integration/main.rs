//! deixis-tests: the one integration-test binary. Each module drives real parts (the built
//! `deixis` binary, real files in temp dirs) and asserts what a user or script would see.

mod cli;
mod daemon;
mod desktop;
mod model;
mod support;
