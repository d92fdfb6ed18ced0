//! What the connections, the commands and the append-only-file writer
//! share: the store behind its lock, the server-wide facts commands report,
//! and the link to the writer. Here rather than in mod.rs, which only builds
//! it, so that none of them imports from the component's own module.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Notify, watch};

use super::settings::AppendFsync;
use super::store::Store;

/// Server-wide facts commands report (`INFO`, `CONFIG GET`).
pub struct ServerInfo {
    pub(super) started: Instant,
    pub(super) port: u16,
    pub(super) aof: bool,
    pub(super) fsync: AppendFsync,
    /// The component's name, for logs.
    pub(super) name: String,
    /// `AUTH` is required first when set.
    pub(super) password: Option<Bytes>,
    /// Bytes of replies a connection may have pending before it is dropped.
    pub(super) client_output_limit: usize,
    /// Past this many bytes of data, commands that add to it are refused.
    pub(super) max_memory: Option<usize>,
}

impl ServerInfo {
    /// Facts with no password and no limits but the default output limit.
    pub(super) fn new(port: u16, aof: bool, fsync: AppendFsync) -> ServerInfo {
        ServerInfo {
            started: Instant::now(),
            port,
            aof,
            fsync,
            name: "redis".into(),
            password: None,
            client_output_limit: usize::MAX,
            max_memory: None,
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub(super) store: Mutex<Store>,
    pub(super) info: ServerInfo,
    pub(super) aof: Option<AofLink>,
}

impl Shared {
    /// The store, locked. A panic while it was held (a bug) must not take
    /// every other client down with it, hence no poisoning.
    pub(super) fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the connections share with the writer.
pub(super) struct AofLink {
    /// Wakes the writer: there is something to write.
    pub wake: Notify,
    /// How far the file is durable (written, and fsynced under `always`).
    pub durable: watch::Receiver<u64>,
}
