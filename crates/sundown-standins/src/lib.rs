//! In-process stand-ins for [sundown]: the pieces of a job pipeline
//! (an HTTP front end, a worker pool) and look-alikes of the datastores it
//! uses (Redis, PostgreSQL), so a graph can be run, stopped and tested with
//! nothing else installed.
//!
//! Each is a component kind written against sundown's public kind interface
//! ([`sundown::kind`]), the proof that a kind can live outside the library.
//! Register them all with [`kinds`]:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = sundown::Config::load_with(
//!     "supervisor.toml".as_ref(),
//!     &sundown_standins::kinds(),
//! )?;
//! # let _ = config; Ok(()) }
//! ```
//!
//! Each one also runs on its own, outside any supervisor, for a test that
//! needs a server: build it from its settings and drive it with a detached
//! [`sundown::component::Lifecycle`] (see [`redis::Redis`]).

pub mod http;
pub mod jobs;
pub mod postgres;
pub mod redis;
mod settings;
pub mod worker_pool;

use sundown::Kinds;

/// The built-in kinds (`process`, `sim`) and the stand-ins (`http`,
/// `worker_pool`, `redis`, `postgres`): what the `sundown` binary accepts.
pub fn kinds() -> Kinds {
    sundown::kinds::builtin()
        .with(http::KIND)
        .with(worker_pool::KIND)
        .with(redis::KIND)
        .with(postgres::KIND)
}

#[cfg(test)]
mod settings_tests;
