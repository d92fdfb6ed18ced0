//! The control socket: while `sundown run` runs, a Unix socket answers
//! HTTP/1.1 with JSON (`curl --unix-socket S http://x/status`), so a
//! running supervisor can be inspected and told to stop from the shell.
//!
//! Only the same user (or root) is served. The socket is created mode 0600
//! in a directory that others cannot write to, and every connection's peer
//! credentials (`SO_PEERCRED`) are checked as well, so a loosened file mode
//! does not open it up. A stale socket left by a dead run is replaced; a
//! live one means another sundown owns it, which is an error.
//!
//! Endpoints: `GET /status` ([`StatusView`], schema 2), `GET
//! /wait?ready` and `GET /wait?completed=NAME` (a long poll: one JSON line
//! once every component is up, or NAME has completed, or that can no
//! longer happen), `GET /wait?end` (once the run has ended, with the exit
//! code its process exits with: the socket is served until after the
//! engine is done, so a client hears it before the socket closes), `POST /shutdown`
//! (the same as SIGTERM), `GET /logs[/NAME][?n=N&since=MS&follow=1]` (a
//! component's recent lines, or every component's in time order, then the
//! new ones until the run ends), and the changes
//! `POST /stop/NAME`, `/start/NAME`, `/restart/NAME` and `/reload`, each
//! answered with two JSON lines: what it will do at once, then how it
//! ended once it has. `GET /plan/stop/NAME` (`start`, `restart`, `reload`)
//! is a dry run: the engine's plan for that change now, as one JSON object
//! (the first of those lines), or the refusal it would get, and nothing
//! changes. It is a path of its own, not a query on the change, so that a
//! supervisor that does not know it cannot take it for the change. The
//! client side is [`client`].
//!
//! Where the socket is, [`SocketTarget`] alone decides. A reload that
//! changes `control_socket` moves the socket there (a new one is bound
//! before the old one is removed; if the new place cannot be served, the
//! old one stays and the error is logged), so clients that read the new
//! config find the daemon.

mod answer;
pub mod client;
mod clients;
mod log_lines;
mod path;
mod reply;
mod socket;
mod wait;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) use self::clients::{Clients, serve_one};
pub use self::log_lines::LogQuery;
pub use self::path::{SocketTarget, default_socket_path};
pub use self::socket::{ControlSocket, Moves, RunLock};

/// A client that sends nothing gets cut off after this.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Clients served at once (the control socket and the metrics port each).
pub(crate) const MAX_CLIENTS: usize = 32;
/// After a failed accept (out of descriptors), wait this long.
pub(crate) const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Why the control socket cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A live supervisor answers on it.
    #[error("another sundown is running with the control socket {0}")]
    InUse(PathBuf),
    /// Others could replace the socket there.
    #[error(
        "{0} is writable by every user, so the control socket is not served there; set `[supervisor] control_socket` to a path in a private directory"
    )]
    UnsafeDir(PathBuf),
    /// Something else is in the socket's place.
    #[error("{0} exists and is not a socket; not replacing it")]
    NotASocket(PathBuf),
    /// The file system said no.
    #[error("control socket: cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// To what.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}
