//! Group commit for a database file: sessions committing at the same moment
//! share one fsync of the WAL, as PostgreSQL's WAL flush does, instead of
//! paying for one fsync each under SQLite's write lock. The store (store.rs)
//! holds one per data file and waits on it after every commit that wrote.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// A mutex's guard, also after a panic elsewhere held it: what it guards
/// stays consistent (each holder leaves it whole), so a poisoned lock would
/// only spread one failure to every session.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An fsync of the WAL failed: no commit can be acknowledged from then on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not fsync {}: {error}", wal.display())]
pub(super) struct FsyncFailed {
    wal: PathBuf,
    error: Arc<io::Error>,
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
pub(super) struct GroupCommit {
    wal_path: PathBuf,
    /// The WAL, opened at the first commit (SQLite creates it). It is never
    /// deleted while the keeper is open, so the handle stays valid.
    wal: Mutex<Option<File>>,
    state: Mutex<SyncState>,
    synced: Condvar,
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
    failed: Option<FsyncFailed>,
}

impl GroupCommit {
    /// Group commit for the database file `db`.
    pub(super) fn new(db: &Path) -> GroupCommit {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        GroupCommit {
            wal_path: PathBuf::from(wal),
            wal: Mutex::new(None),
            state: Mutex::new(SyncState::default()),
            synced: Condvar::new(),
        }
    }

    /// Returns once what the caller has just committed is on disk,
    /// running the fsync itself if none that covers it is under way.
    pub(super) fn wait_durable(&self) -> Result<(), FsyncFailed> {
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
                    let failed = FsyncFailed {
                        wal: self.wal_path.clone(),
                        error: Arc::new(e),
                    };
                    tracing::error!("postgres: {failed}; no further commit can be acknowledged");
                    s.failed = Some(failed);
                }
            }
            self.synced.notify_all();
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
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
impl GroupCommit {
    /// Tickets issued and tickets covered by a finished fsync.
    pub(super) fn tickets(&self) -> (u64, u64) {
        let s = lock(&self.state);
        (s.written, s.synced)
    }
}
