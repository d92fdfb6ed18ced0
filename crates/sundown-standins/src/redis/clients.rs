//! The connected clients, for `CLIENT LIST` and `CLIENT KILL`.
//!
//! Kept inside the store, under its lock: `CLIENT KILL` must be atomic with
//! the hand-over of list elements, so that once it has answered, the killed
//! client can no longer be given a job (a worker pool relies on this before
//! it empties the killed worker's processing list).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// One connected client.
pub(super) struct ClientRecord {
    /// Its address.
    pub addr: String,
    /// Our address it connected to.
    pub laddr: String,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// When it connected.
    pub since: Instant,
    /// Cancelled by `CLIENT KILL`: its connection closes.
    pub kill: CancellationToken,
    /// Bytes of replies produced and not yet written (`omem`), kept by
    /// the connection without taking the store lock.
    pub omem: Arc<AtomicUsize>,
}

/// Every connected client, by id.
#[derive(Default)]
pub(super) struct Clients {
    map: BTreeMap<u64, ClientRecord>,
}

impl Clients {
    /// Registers a client.
    pub(super) fn add(&mut self, id: u64, record: ClientRecord) {
        self.map.insert(id, record);
    }

    /// Forgets a client.
    pub(super) fn remove(&mut self, id: u64) {
        self.map.remove(&id);
    }

    /// How many are connected.
    pub(super) fn count(&self) -> usize {
        self.map.len()
    }

    /// A client.
    pub(super) fn get(&self, id: u64) -> Option<&ClientRecord> {
        self.map.get(&id)
    }

    /// Records a client's name.
    pub(super) fn set_name(&mut self, id: u64, name: Option<Bytes>) {
        if let Some(c) = self.map.get_mut(&id) {
            c.name = name;
        }
    }

    /// Every client id, in connection order.
    pub(super) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.map.keys().copied()
    }

    /// A `CLIENT LIST` line (with its newline), in Redis's format.
    pub(super) fn line(&self, id: u64, blocked: bool) -> Option<String> {
        let c = self.map.get(&id)?;
        let name = c
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        Some(format!(
            "id={id} addr={} laddr={} fd=-1 name={name} age={} idle=0 flags={} db=0 sub=0 psub=0 multi=-1 omem={} user=default resp=2\n",
            c.addr,
            c.laddr,
            c.since.elapsed().as_secs(),
            if blocked { "b" } else { "N" },
            c.omem.load(Ordering::Relaxed),
        ))
    }
}
