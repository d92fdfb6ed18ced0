//! Ending a session's running statement from outside it: a cancel request,
//! the statement timeout, the client going away, the component stopping.
//!
//! Each session has a [`Control`]. The session marks it busy while its
//! database thread works on a request; an interrupt only lands on a busy
//! session (as in PostgreSQL, a cancel that arrives between requests does
//! nothing, and cannot hit the next one). The statement ends through
//! SQLite's own means: `sqlite3_interrupt` for the others' interrupts, and
//! a progress handler, called every [`PROGRESS_OPS`] virtual machine steps,
//! that checks the deadline and the interrupt (so a statement started
//! after an interrupt of the same request ends too). SQLite then fails the
//! statement with `SQLITE_INTERRUPT` (and rolls back a transaction that it
//! was writing in); the session says why, from the reason recorded here.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, InterruptHandle};

use super::error::PgError;

/// Virtual machine steps between two looks at the deadline: a fraction of a
/// millisecond of work, so a timeout lands promptly and costs little.
const PROGRESS_OPS: i32 = 1000;

/// Why a statement was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// The client's cancel request.
    Cancel = 2,
    /// The statement ran past the session's `statement_timeout`.
    Timeout = 3,
    /// The client closed its connection.
    Gone = 4,
    /// The component is stopping or being killed.
    Shutdown = 5,
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;

impl Reason {
    fn from_state(s: u8) -> Option<Reason> {
        Some(match s {
            2 => Reason::Cancel,
            3 => Reason::Timeout,
            4 => Reason::Gone,
            5 => Reason::Shutdown,
            _ => return None,
        })
    }

    /// What the client is told (PostgreSQL's wording where it has one).
    pub(super) fn error(self) -> PgError {
        let message = match self {
            Reason::Cancel => "canceling statement due to user request",
            Reason::Timeout => "canceling statement due to statement timeout",
            Reason::Gone => "canceling statement: the client has gone",
            Reason::Shutdown => "canceling statement: the database system is shutting down",
        };
        PgError::error("57014", message)
    }
}

/// A statement's time limit, lifted when dropped.
pub(super) struct Armed(Arc<Control>);

impl Drop for Armed {
    fn drop(&mut self) {
        self.0.disarm();
    }
}

/// One session's handle for interrupting it.
pub(super) struct Control {
    /// The process id and secret of the session's `BackendKeyData`, which a
    /// cancel request must present.
    pub(super) pid: i32,
    secret: i32,
    /// `IDLE`, `BUSY`, or a [`Reason`]: busy and interrupted.
    state: AtomicU8,
    handle: InterruptHandle,
    /// Held across marking a request interrupted and interrupting SQLite,
    /// and by `end`: so an interrupt meant for one request cannot land on
    /// the next.
    gate: Mutex<()>,
    /// When the running statement times out; only the session thread sets
    /// it, the progress handler (on the same thread) reads it.
    deadline: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("pid", &self.pid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Control {
    /// A control for `conn`, with a random secret (a counter or anything
    /// derived from the pid would let any client cancel others' queries),
    /// watching over the connection's statements.
    pub(super) fn install(conn: &mut Connection, session: u64) -> rusqlite::Result<Arc<Control>> {
        let control = Arc::new(Control {
            pid: i32::try_from(session % 0x7fff_ffff).unwrap_or(0),
            secret: rand::random(),
            state: AtomicU8::new(IDLE),
            handle: conn.get_interrupt_handle(),
            deadline: Mutex::new(None),
            gate: Mutex::new(()),
        });
        let watcher = Arc::clone(&control);
        conn.progress_handler(PROGRESS_OPS, Some(move || watcher.should_stop()))?;
        Ok(control)
    }

    pub(super) fn secret(&self) -> i32 {
        self.secret
    }

    /// Whether `secret` is this session's (in constant time).
    pub(super) fn matches(&self, secret: &[u8]) -> bool {
        let mine = self.secret.to_be_bytes();
        secret.len() == mine.len()
            && secret.iter().zip(mine).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
    }

    /// The session hands its thread a request.
    pub(super) fn begin(&self) {
        self.state.store(BUSY, Ordering::SeqCst);
    }

    /// The request is done: an interrupt that came too late is forgotten.
    pub(super) fn end(&self) {
        let _gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        self.state.store(IDLE, Ordering::SeqCst);
    }

    /// Interrupts the running request, if there is one. The first reason
    /// given wins.
    pub(super) fn interrupt(&self, why: Reason) {
        let _gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        if self
            .state
            .compare_exchange(BUSY, why as u8, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.handle.interrupt();
        }
    }

    /// Why the running request was interrupted, if it was.
    pub(super) fn interrupted(&self) -> Option<Reason> {
        Reason::from_state(self.state.load(Ordering::SeqCst))
    }

    /// Sets the time limit of the statement about to run (`None`: none).
    pub(super) fn arm(&self, limit: Option<Duration>) {
        *self.lock_deadline() = limit.and_then(|l| Instant::now().checked_add(l));
    }

    /// [`Control::arm`] until the guard is dropped.
    pub(super) fn armed(self: &Arc<Self>, limit: Option<Duration>) -> Armed {
        self.arm(limit);
        Armed(Arc::clone(self))
    }

    pub(super) fn disarm(&self) {
        *self.lock_deadline() = None;
    }

    fn lock_deadline(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The progress handler: whether SQLite should end the statement.
    fn should_stop(&self) -> bool {
        if self.interrupted().is_some() {
            return true;
        }
        let late = matches!(*self.lock_deadline(), Some(d) if Instant::now() >= d);
        if late {
            // A concurrent interrupt may have won; either way, stop.
            let _ = self.state.compare_exchange(
                BUSY,
                Reason::Timeout as u8,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
        late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNAWAY: &str =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";

    #[test]
    fn the_deadline_ends_a_runaway_statement() {
        let mut c = Connection::open_in_memory().expect("open");
        let control = Control::install(&mut c, 7).expect("install");
        control.begin();
        control.arm(Some(Duration::from_millis(50)));
        let e = c
            .query_row(RUNAWAY, [], |r| r.get::<_, i64>(0))
            .expect_err("interrupted");
        assert_eq!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::OperationInterrupted)
        );
        assert_eq!(control.interrupted(), Some(Reason::Timeout));
        control.disarm();
        control.end();
        assert_eq!(control.interrupted(), None);
        let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).expect("goes on");
        assert_eq!(one, 1);
    }

    #[test]
    fn an_interrupt_between_requests_does_nothing() {
        let mut c = Connection::open_in_memory().expect("open");
        let control = Control::install(&mut c, 7).expect("install");
        control.interrupt(Reason::Cancel);
        assert_eq!(control.interrupted(), None);
        control.begin();
        let one: i64 = c
            .query_row("SELECT 1", [], |r| r.get(0))
            .expect("not cancelled");
        assert_eq!(one, 1);
        control.interrupt(Reason::Cancel);
        control.interrupt(Reason::Gone);
        assert_eq!(
            control.interrupted(),
            Some(Reason::Cancel),
            "the first reason wins"
        );
    }

    #[test]
    fn the_secret_must_match_exactly() {
        let mut c = Connection::open_in_memory().expect("open");
        let control = Control::install(&mut c, 7).expect("install");
        assert!(control.matches(&control.secret().to_be_bytes()));
        assert!(!control.matches(&(control.secret() ^ 1).to_be_bytes()));
        assert!(!control.matches(&[]));
        assert_eq!(control.pid, 7);
    }
}
