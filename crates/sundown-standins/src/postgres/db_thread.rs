//! A session's SQLite connection, on its own thread: the session's database
//! thread.
//!
//! Every client session gets its own connection (so one client's `BEGIN`
//! does not swallow another's statements) and its own thread (so SQLite's
//! blocking calls, fsyncs and busy waits never run on the async runtime).
//! The session sends closures over a channel and awaits their results.

use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::db::Db;
use super::error::PgError;
use super::store::Store;

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// The async side's handle on a session thread.
pub(super) struct DbThread {
    jobs: mpsc::Sender<Job>,
    done: oneshot::Receiver<()>,
}

impl DbThread {
    /// Starts a session thread and opens its connection there.
    pub(super) async fn start(store: Arc<Store>, id: u64) -> Result<DbThread, PgError> {
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
                let conn = match store.connect() {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                store.register(id, conn.get_interrupt_handle());
                let _ = opened_tx.send(Ok(()));
                let mut db = Db::new(conn, Arc::clone(&store));
                while let Ok(job) = rx.recv() {
                    job(&mut db);
                }
                // Closing rolls back an open transaction, like a backend exit.
                drop(db);
                store.unregister(id);
            })
            .map_err(|e| PgError::fatal("53000", format!("cannot start a session thread: {e}")))?;
        match opened.await {
            Ok(Ok(())) => Ok(DbThread { jobs, done }),
            Ok(Err(e)) => Err(PgError::fatal(
                "58030",
                format!("cannot open the database: {e}"),
            )),
            Err(_) => Err(PgError::fatal("XX000", "the session thread died")),
        }
    }

    /// Runs `f` on the session's connection. `None`: the thread is gone.
    pub(super) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |db| {
                let _ = tx.send(f(db));
            }))
            .ok()?;
        rx.await.ok()
    }

    /// Closes the connection and waits until the thread has let go of it.
    pub(super) async fn finish(self) {
        drop(self.jobs);
        let _ = self.done.await;
    }
}
