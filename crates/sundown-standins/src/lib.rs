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
//! Each one also serves a test on its own: a graph of one component starts
//! it, waits until it is ready, and stops it the way `sundown run` would.
//! A Redis stand-in on a port of the test's choosing:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
//! let redis = sundown::Supervisor::from_toml_str_with(
//!     &format!("[components.redis]\nkind = \"redis\"\nlisten = \"127.0.0.1:{port}\"\n"),
//!     &sundown_standins::kinds(),
//! )?
//! .start()
//! .await?;
//! // … the code under test talks to 127.0.0.1:{port} …
//! let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
//! let mut conn = client.get_multiplexed_async_connection().await?;
//! let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
//! assert_eq!(pong, "PONG");
//! let report = redis.shutdown().await;
//! assert_eq!(report.exit_code, 0);
//! # Ok(()) }
//! ```
//!
//! The components can also be driven by hand (build one from its settings,
//! run it with [`sundown::component::Lifecycle::detached`]), as this
//! crate's own tests do.

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
