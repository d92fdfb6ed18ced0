//! A session's SQLite connection, on its own thread: the session's database
//! thread.
//!
//! Every client session gets its own connection (so one client's `BEGIN`
//! does not swallow another's statements) and its own thread (so SQLite's
//! blocking calls, fsyncs and busy waits never run on the async runtime).
//! The session sends closures over a channel and awaits their results.
//! While one runs, the session's [`Control`] is busy: a cancel, timeout,
//! stop or the client's leaving can interrupt it.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::db::Db;
use super::error::PgError;
use super::interrupt::Control;
use super::store::Store;

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// The async side's handle on a session thread.
pub(super) struct DbThread {
    jobs: mpsc::Sender<Job>,
    done: oneshot::Receiver<()>,
    control: Arc<Control>,
}

impl DbThread {
    /// Starts a session thread and opens its connection there;
    /// `statement_timeout` is the session's initial one.
    pub(super) async fn start(
        store: Arc<Store>,
        id: u64,
        statement_timeout: Option<Duration>,
    ) -> Result<DbThread, PgError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (opened_tx, opened) = oneshot::channel();
        let (done_tx, done) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("pg-session-{id}"))
            .spawn(move || {
                // Dropped last, when the connection is closed: the session's
                // `finish` and a kill wait for them.
                let _done = done_tx;
                let _running = store.thread_token();
                let opened = store.connect().and_then(|mut conn| {
                    let control = Control::install(&mut conn, id)?;
                    Ok((conn, control))
                });
                let (conn, control) = match opened {
                    Ok(opened) => opened,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                store.register(id, Arc::clone(&control));
                let _ = opened_tx.send(Ok(Arc::clone(&control)));
                let mut db = Db::new(conn, Arc::clone(&store), control, statement_timeout);
                while let Ok(job) = rx.recv() {
                    job(&mut db);
                }
                // Closing rolls back an open transaction, like a backend exit.
                drop(db);
                store.unregister(id);
            })
            .map_err(|e| PgError::fatal("53000", format!("cannot start a session thread: {e}")))?;
        match opened.await {
            Ok(Ok(control)) => Ok(DbThread {
                jobs,
                done,
                control,
            }),
            Ok(Err(e)) => Err(PgError::fatal(
                "58030",
                format!("cannot open the database: {e}"),
            )),
            Err(_) => Err(PgError::fatal("XX000", "the session thread died")),
        }
    }

    /// The session's interrupt control.
    pub(super) fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Runs `f` on the session's connection. `None`: the thread is gone.
    pub(super) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        // Busy from before the job is queued, so an interrupt that comes
        // while it waits for the thread still counts.
        self.control.begin();
        let sent = self.jobs.send(Box::new(move |db| {
            let _ = tx.send(f(db));
        }));
        let result = match sent {
            Ok(()) => rx.await.ok(),
            Err(_) => None,
        };
        self.control.end();
        result
    }

    /// Closes the connection and waits until the thread has let go of it.
    pub(super) async fn finish(self) {
        drop(self.jobs);
        let _ = self.done.await;
    }
}
