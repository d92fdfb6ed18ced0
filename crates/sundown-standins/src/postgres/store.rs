//! The SQLite database behind the stand-in: where it lives, how each
//! connection is set up, and what all sessions share (the writers' lock and
//! the handles that interrupt them at a kill).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, InterruptHandle, OpenFlags};

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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// Set for `data = None`: the private directory holding the database,
    /// removed when the last connection is gone (declared after `keeper`,
    /// so it is dropped after it).
    memory: Option<MemoryDir>,
    /// Serializes autocommit writers in this process. SQLite allows one
    /// writer at a time anyway; without this, the losers wait in SQLite's
    /// busy handler, which sleeps in growing steps (1, 2, 5, 10 ms …) and
    /// wakes late. A mutex hands the lock over as soon as it is free.
    writers: Mutex<()>,
    /// Interrupt handles of the open session connections, by session id.
    interrupts: Mutex<HashMap<u64, InterruptHandle>>,
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

fn memory_dir() -> Result<MemoryDir, String> {
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
                return Err(format!(
                    "cannot create a directory in {}: {e}",
                    base.display()
                ));
            }
        }
    }
    Err(format!(
        "cannot create a directory in {}: {}",
        base.display(),
        last.map_or_else(String::new, |e| e.to_string())
    ))
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
    pub(super) fn open(data: Option<&Path>) -> Result<Store, String> {
        let (path, memory) = match data {
            Some(path) => {
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.is_dir()
                {
                    return Err(format!(
                        "cannot open database {}: directory {} does not exist",
                        path.display(),
                        dir.display()
                    ));
                }
                // SQLite's "unable to open database file" hides the OS
                // error; opening it ourselves first names it.
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
                (path.to_path_buf(), None)
            }
            None => {
                let dir = memory_dir()?;
                (dir.0.join("db.sqlite"), Some(dir))
            }
        };
        let fail = |e: rusqlite::Error| format!("cannot open database {}: {e}", path.display());
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
            return Err(format!(
                "cannot open database {}: it refuses WAL mode (journal mode {mode})",
                path.display()
            ));
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
            memory,
            writers: Mutex::new(()),
            interrupts: Mutex::new(HashMap::new()),
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
    pub(super) fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = open_connection(&self.path)?;
        if self.durability.is_some() {
            conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0;")?;
        } else {
            conn.execute_batch("PRAGMA synchronous = OFF;")?;
        }
        Ok(conn)
    }

    /// Returns once what this session just committed is on disk (a data
    /// file; at once in memory). Sessions committing at the same time share
    /// one fsync of the WAL: PostgreSQL's group commit.
    pub(super) fn committed(&self) -> Result<(), String> {
        let Some(d) = &self.durability else {
            return Ok(());
        };
        d.wait_durable()?;
        if d.since_checkpoint.fetch_add(1, Ordering::Relaxed) + 1 >= CHECKPOINT_EVERY
            && let Ok(keeper) = self.keeper.try_lock()
        {
            d.since_checkpoint.store(0, Ordering::Relaxed);
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

    pub(super) fn register(&self, session: u64, handle: InterruptHandle) {
        self.interrupts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(session, handle);
    }

    pub(super) fn unregister(&self, session: u64) {
        self.interrupts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&session);
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

    /// Interrupts whatever every session is running (a kill).
    pub(super) fn interrupt_all(&self) {
        for h in self
            .interrupts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            h.interrupt();
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

/// Group commit for a database file.
///
/// Sessions commit with SQLite's `synchronous=OFF`: the WAL frames are
/// written but not synced. Each committing session then takes a ticket and
/// waits until an fsync that started after its commit has finished; the
/// first waiter to find no fsync running runs one, for every ticket issued
/// so far. Eight sessions committing together thus pay for about one fsync,
/// not eight in a row, and a commit is still acknowledged only once it is
/// on disk. The database file itself is only written by checkpoints, which
/// the keeper runs with `synchronous=FULL` (WAL synced, then the database
/// file synced before the WAL can be reused), so nothing acknowledged
/// depends on an unsynced write.
struct GroupCommit {
    wal_path: PathBuf,
    /// The WAL, opened at the first commit (SQLite creates it). It is never
    /// deleted while the keeper is open, so the handle stays valid.
    wal: Mutex<Option<File>>,
    state: Mutex<SyncState>,
    synced: Condvar,
    since_checkpoint: AtomicU64,
}

#[derive(Default)]
struct SyncState {
    /// Tickets issued: commits written to the WAL.
    written: u64,
    /// Tickets covered by a finished fsync.
    synced: u64,
    syncing: bool,
    /// After a failed fsync the kernel may have dropped the unwritten
    /// pages; nothing can be acknowledged any more (PostgreSQL panics).
    failed: Option<String>,
}

impl GroupCommit {
    fn new(db: &Path) -> GroupCommit {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        GroupCommit {
            wal_path: PathBuf::from(wal),
            wal: Mutex::new(None),
            state: Mutex::new(SyncState::default()),
            synced: Condvar::new(),
            since_checkpoint: AtomicU64::new(0),
        }
    }

    fn wait_durable(&self) -> Result<(), String> {
        let mut s = lock(&self.state);
        s.written += 1;
        let mine = s.written;
        while s.synced < mine {
            if let Some(e) = &s.failed {
                return Err(e.clone());
            }
            if s.syncing {
                s = self.synced.wait(s).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            s.syncing = true;
            let target = s.written;
            drop(s);
            let result = self.sync();
            s = lock(&self.state);
            s.syncing = false;
            match result {
                Ok(()) => s.synced = s.synced.max(target),
                Err(e) => {
                    let msg = format!("could not fsync {}: {e}", self.wal_path.display());
                    tracing::error!("postgres: {msg}; no further commit can be acknowledged");
                    s.failed = Some(msg);
                }
            }
            self.synced.notify_all();
        }
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let mut wal = lock(&self.wal);
        // Should the WAL ever be a new file (it is not while the keeper
        // lives), sync that one.
        let on_disk = std::fs::metadata(&self.wal_path)?;
        let file = match wal.take() {
            Some(f)
                if f.metadata()
                    .is_ok_and(|m| m.ino() == on_disk.ino() && m.dev() == on_disk.dev()) =>
            {
                f
            }
            _ => std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.wal_path)?,
        };
        let result = file.sync_data();
        *wal = Some(file);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_is_wal_and_removed_with_the_store() {
        let store = Store::open(None).expect("open in memory");
        let dir = store
            .memory
            .as_ref()
            .map(|d| d.0.clone())
            .expect("a memory dir");
        assert!(dir.is_dir());
        assert!(store.durability.is_none());
        lock(&store.keeper)
            .execute_batch("CREATE TABLE t (a); INSERT INTO t VALUES (1)")
            .expect("write");
        let other = store.connect().expect("second connection");
        let n: i64 = other
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(n, 1);
        drop((other, store));
        assert!(!dir.exists(), "{} should be gone", dir.display());
    }

    #[test]
    fn concurrent_commits_share_fsyncs_and_reach_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let store = std::sync::Arc::new(Store::open(Some(&path)).expect("open"));
        store
            .connect()
            .expect("connect")
            .execute_batch("CREATE TABLE t (a INTEGER)")
            .expect("create");
        store.committed().expect("durable");
        let wal = dir.path().join("db.sqlite-wal");
        let inode =
            || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&wal).expect("a WAL"));
        let first = inode();
        let threads: Vec<_> = (0..4)
            .map(|k| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    let c = store.connect().expect("connect");
                    for i in 0..200 {
                        c.execute("INSERT INTO t VALUES (?1)", [k * 1000 + i])
                            .expect("insert");
                        store.committed().expect("durable");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(
            inode(),
            first,
            "closing session connections never removes the WAL"
        );
        let d = store.durability.as_ref().expect("a file has durability");
        let s = lock(&d.state);
        assert_eq!(s.written, 801);
        assert_eq!(s.synced, 801);
        drop(s);
        assert!(
            store.checkpoint(false).expect("checkpoint"),
            "TRUNCATE completes"
        );
        drop(store);
        let c = Connection::open(&path).expect("reopen");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 800);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let e = Store::open(Some(Path::new("/nonexistent-sundown/dir/db.sqlite")))
            .expect_err("no such dir");
        assert!(
            e.contains("directory /nonexistent-sundown/dir does not exist"),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk");
        std::fs::write(&path, vec![b'x'; 4096]).expect("write junk");
        let e = Store::open(Some(&path)).expect_err("not a database");
        assert!(e.contains("not a database"), "{e}");
    }
}
