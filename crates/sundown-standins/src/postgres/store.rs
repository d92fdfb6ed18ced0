//! The SQLite database behind the stand-in: where it lives, how each
//! connection is set up, and what all sessions share (the writers' lock and
//! the controls that interrupt them: cancel requests, a stop, a kill).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::group_commit::{FsyncFailed, GroupCommit, lock};
use super::guard;
use super::interrupt::{Control, Reason};

/// How long a statement waits for another connection's write lock before it
/// fails with `55P03` (PostgreSQL would wait for row locks indefinitely by
/// default; a bounded wait keeps a forgotten transaction from hanging every
/// writer forever).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each session keeps compiled.
const STATEMENT_CACHE: usize = 64;

/// Durable commits between two checkpoints of the WAL into the database
/// file (SQLite's own default is 1000 pages).
const CHECKPOINT_EVERY: u64 = 500;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum OpenError {
    /// The data file's directory is missing and cannot be made.
    #[error("cannot open database {}: cannot create directory {}: {source}", path.display(), dir.display())]
    Directory {
        path: PathBuf,
        dir: PathBuf,
        source: std::io::Error,
    },
    /// The data file cannot be opened or created.
    #[error("cannot open database {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// SQLite refused it (not a database, …).
    #[error("cannot open database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// It cannot be put in WAL mode.
    #[error("cannot open database {}: it refuses WAL mode (journal mode {mode})", path.display())]
    NoWal { path: PathBuf, mode: String },
    /// No private directory for an in-memory database could be made.
    #[error("cannot create a directory in {}: {reason}", base.display())]
    MemoryDir { base: PathBuf, reason: String },
}

/// The database and what every session's connection shares.
pub(super) struct Store {
    path: PathBuf,
    /// The component's own connection: it keeps the database open across
    /// sessions and runs the checkpoints (with `synchronous=FULL`, so the
    /// database file is synced before SQLite may reuse the WAL).
    keeper: Mutex<Connection>,
    /// For a data file: makes commits durable (see [`GroupCommit`]).
    durability: Option<GroupCommit>,
    /// Durable commits since the keeper's last checkpoint.
    since_checkpoint: AtomicU64,
    /// Set for `data = None`: the private directory holding the database,
    /// removed when the last connection is gone (declared after `keeper`,
    /// so it is dropped after it).
    memory: Option<MemoryDir>,
    /// Serializes autocommit writers in this process. SQLite allows one
    /// writer at a time anyway; without this, the losers wait in SQLite's
    /// busy handler, which sleeps in growing steps (1, 2, 5, 10 ms …) and
    /// wakes late. A mutex hands the lock over as soon as it is free.
    writers: Mutex<()>,
    /// The controls of the open session connections, by session id.
    sessions: Mutex<HashMap<u64, Arc<Control>>>,
    /// Session threads still running (a kill waits a little for them, so
    /// their connections close and an in-memory directory can go).
    threads: tokio::sync::watch::Sender<usize>,
}

/// Held by a session thread while it runs.
pub(super) struct ThreadToken<'a>(&'a Store);

impl Drop for ThreadToken<'_> {
    fn drop(&mut self) {
        self.0.threads.send_modify(|n| *n -= 1);
    }
}

/// A private directory for an in-memory database: on tmpfs (`/dev/shm`)
/// where there is one, so the pages never touch a disk.
#[derive(Debug)]
struct MemoryDir(PathBuf);

impl Drop for MemoryDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("postgres: cannot remove {}: {e}", self.0.display());
        }
    }
}

fn memory_dir() -> Result<MemoryDir, OpenError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let mut last = None;
    for _ in 0..100 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("sundown-postgres-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(MemoryDir(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(OpenError::MemoryDir {
                    base,
                    reason: e.to_string(),
                });
            }
        }
    }
    Err(OpenError::MemoryDir {
        base,
        reason: last.map_or_else(String::new, |e| e.to_string()),
    })
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database: the file `data`, or a
    /// private in-memory one.
    pub(super) fn open(data: Option<&Path>) -> Result<Store, OpenError> {
        let (path, memory) = match data {
            Some(path) => {
                // Made here, not left to whichever component of the
                // config happens to start first.
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
                        path: path.to_path_buf(),
                        dir: dir.to_path_buf(),
                        source,
                    })?;
                }
                // SQLite's "unable to open database file" hides the OS
                // error; opening it ourselves first names it.
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|source| OpenError::File {
                        path: path.to_path_buf(),
                        source,
                    })?;
                (path.to_path_buf(), None)
            }
            None => {
                let dir = memory_dir()?;
                (dir.0.join("db.sqlite"), Some(dir))
            }
        };
        let fail = |source| OpenError::Sqlite {
            path: path.clone(),
            source,
        };
        let keeper = open_connection(&path).map_err(fail)?;
        // Nothing outlives an in-memory database, so nothing needs to reach a disk.
        let sync = if memory.is_some() { "OFF" } else { "FULL" };
        keeper
            .execute_batch(&format!("PRAGMA synchronous = {sync}"))
            .map_err(fail)?;
        let mode: String = keeper
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::NoWal { path, mode });
        }
        // A read leaves the keeper holding its shared lock on the database
        // for good, so no other connection ever closes as "the last one",
        // which would delete the WAL under the group commit's file handle.
        keeper
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(fail)?;
        let durability = memory.is_none().then(|| GroupCommit::new(&path));
        Ok(Store {
            path,
            keeper: Mutex::new(keeper),
            durability,
            since_checkpoint: AtomicU64::new(0),
            memory,
            writers: Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
            threads: tokio::sync::watch::Sender::new(0),
        })
    }

    /// What the log says about where the data is.
    pub(super) fn describe(&self) -> String {
        match &self.memory {
            Some(_) => format!("in memory ({})", self.path.display()),
            None => format!("{} (WAL, fsync at commit)", self.path.display()),
        }
    }

    /// A session's connection.
    ///
    /// Its commits are not synced by SQLite (`synchronous=OFF`) but by
    /// [`Store::committed`], and it never checkpoints (only the keeper
    /// does, syncing the database file first): SQLite's `synchronous=FULL`
    /// would fsync the WAL once per commit while holding the write lock, so
    /// concurrent commits could never share an fsync.
    ///
    /// Then it is locked down (guard.rs): from here on, the client's SQL
    /// can neither change these settings nor reach other files.
    pub(super) fn connect(&self) -> rusqlite::Result<Connection> {
        let mut conn = open_connection(&self.path)?;
        if self.durability.is_some() {
            conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0;")?;
        } else {
            conn.execute_batch("PRAGMA synchronous = OFF;")?;
        }
        guard::lock_down(&mut conn)?;
        Ok(conn)
    }

    /// Returns once what this session just committed is on disk (a data
    /// file; at once in memory). Sessions committing at the same time share
    /// one fsync of the WAL: PostgreSQL's group commit.
    pub(super) fn committed(&self) -> Result<(), FsyncFailed> {
        let Some(d) = &self.durability else {
            return Ok(());
        };
        d.wait_durable()?;
        if self.since_checkpoint.fetch_add(1, Ordering::Relaxed) + 1 >= CHECKPOINT_EVERY
            && let Ok(keeper) = self.keeper.try_lock()
        {
            self.since_checkpoint.store(0, Ordering::Relaxed);
            // PASSIVE never waits: what readers still need stays in the WAL
            // for the next round.
            if let Err(e) = keeper.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!("postgres: checkpoint of {}: {e}", self.path.display());
            }
        }
        Ok(())
    }

    /// Copies the WAL into the database file. `quick` (at a kill) takes
    /// what it can without waiting for anything; otherwise the WAL is
    /// emptied (`TRUNCATE`), waiting up to the busy timeout for readers.
    /// Returns whether it completed; `Ok(true)` at once in memory.
    pub(super) fn checkpoint(&self, quick: bool) -> rusqlite::Result<bool> {
        if self.durability.is_none() {
            return Ok(true);
        }
        let keeper = if quick {
            match self.keeper.try_lock() {
                Ok(k) => k,
                Err(_) => return Ok(false),
            }
        } else {
            lock(&self.keeper)
        };
        let sql = if quick {
            keeper.busy_timeout(Duration::ZERO)?;
            "PRAGMA wal_checkpoint(PASSIVE)"
        } else {
            "PRAGMA wal_checkpoint(TRUNCATE)"
        };
        let busy: i64 = keeper.query_row(sql, [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    /// Takes the writers' lock (see [`Store::writers`]).
    pub(super) fn write_lock(&self) -> MutexGuard<'_, ()> {
        self.writers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn register(&self, session: u64, control: Arc<Control>) {
        self.lock_sessions().insert(session, control);
    }

    pub(super) fn unregister(&self, session: u64) {
        self.lock_sessions().remove(&session);
    }

    fn lock_sessions(&self) -> MutexGuard<'_, HashMap<u64, Arc<Control>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A client's cancel request: interrupts the running statement of the
    /// session with this process id, if the secret is that session's.
    /// Returns whether it was.
    pub(super) fn cancel(&self, pid: i32, secret: &[u8]) -> bool {
        let target = self
            .lock_sessions()
            .values()
            .find(|c| c.pid == pid && c.matches(secret))
            .cloned();
        target.inspect(|c| c.interrupt(Reason::Cancel)).is_some()
    }

    /// Counts a session thread until the token is dropped.
    pub(super) fn thread_token(&self) -> ThreadToken<'_> {
        self.threads.send_modify(|n| *n += 1);
        ThreadToken(self)
    }

    /// Completes when no session thread is left.
    pub(super) async fn threads_done(&self) {
        let _ = self.threads.subscribe().wait_for(|n| *n == 0).await;
    }

    /// Interrupts whatever every session is running (a stop or a kill).
    pub(super) fn interrupt_all(&self) {
        for c in self.lock_sessions().values() {
            c.interrupt(Reason::Shutdown);
        }
    }
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    // No URI flag: a data path is a path, even if it starts with `file:`.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // PostgreSQL enforces foreign keys; SQLite only when asked.
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

#[cfg(test)]
mod tests;
