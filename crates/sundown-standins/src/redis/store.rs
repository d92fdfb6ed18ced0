//! The data: keys with their values and expiry, the clients blocked on
//! lists (their bookkeeping is blocking.rs), and the append-only-file
//! buffer.
//!
//! Everything here sits behind one mutex that a connection takes once per
//! batch of pipelined commands. That one lock is what makes each command,
//! each `MULTI`/`EXEC` block and each hand-over to a blocked client atomic,
//! and what gives the append-only file the exact order of execution.

use std::collections::{HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::blocking::Blocking;
use super::clients::Clients;
use super::codec::encode_command;
use super::reply::Reply;
use super::value::{Entry, Value, own, wrongtype};

/// The append-only-file entries not yet handed to the writer.
#[derive(Default)]
struct AofBuf {
    buf: Vec<u8>,
    /// Bytes handed to the writer so far.
    taken: u64,
}

/// The whole dataset (database 0).
#[derive(Default)]
pub(super) struct Store {
    db: HashMap<Bytes, Entry>,
    /// While the append-only file is replayed, nothing expires: the file
    /// records what happened when, and expiring a key mid-replay would make
    /// later entries apply to a different state than they did live.
    pub loading: bool,
    aof: Option<AofBuf>,
    /// The clients blocked on lists.
    pub blocking: Blocking,
    /// The connected clients.
    pub clients: Clients,
    /// Unix ms at the start of the current command.
    pub now: u64,
    /// The approximate size of the data, kept as it changes (memory.rs).
    used: usize,
}

/// Unix time in milliseconds.
pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// An empty store; nothing is logged until [`Store::enable_aof`].
    pub(super) fn new() -> Store {
        Store {
            now: unix_ms(),
            ..Store::default()
        }
    }

    /// Starts logging writes (after the replay).
    pub(super) fn enable_aof(&mut self) {
        self.aof = Some(AofBuf::default());
    }

    /// Reads the clock for the next command.
    pub(super) fn tick(&mut self) {
        self.now = unix_ms();
    }

    // ---- append-only file ----

    /// Logs a write as executed.
    pub(super) fn log(&mut self, parts: &[&[u8]]) {
        if let Some(aof) = &mut self.aof {
            encode_command(&mut aof.buf, parts.iter().copied());
        }
    }

    /// Logs a command verbatim.
    pub(super) fn log_args(&mut self, args: &[Bytes]) {
        if let Some(aof) = &mut self.aof {
            encode_command(&mut aof.buf, args.iter().map(|a| &a[..]));
        }
    }

    /// The append-only-file position after everything logged so far.
    pub(super) fn aof_seq(&self) -> u64 {
        self.aof
            .as_ref()
            .map_or(0, |a| a.taken + a.buf.len() as u64)
    }

    /// Where the buffer ends now, to undo entries with [`Store::aof_rollback`].
    pub(super) fn aof_mark(&self) -> usize {
        self.aof.as_ref().map_or(0, |a| a.buf.len())
    }

    /// Drops the entries logged since `mark`.
    pub(super) fn aof_rollback(&mut self, mark: usize) {
        if let Some(aof) = &mut self.aof {
            aof.buf.truncate(mark);
        }
    }

    /// Hands the pending entries to the writer, swapping in its empty
    /// buffer; returns the position they end at.
    pub(super) fn take_aof(&mut self, spare: &mut Vec<u8>) -> u64 {
        match &mut self.aof {
            Some(aof) => {
                std::mem::swap(&mut aof.buf, spare);
                aof.taken += spare.len() as u64;
                aof.taken
            }
            None => 0,
        }
    }

    // ---- keys ----

    fn expired(&self, e: &Entry) -> bool {
        !self.loading && e.expire_at.is_some_and(|t| t <= self.now)
    }

    /// Deletes `key` if it has expired (logging the `DEL`, as Redis does, so
    /// a replay that does not expire keys sees the same state); returns
    /// whether the key is (now) absent.
    pub(super) fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        match self.db.get(key) {
            None => true,
            Some(e) if self.expired(e) => {
                self.remove_entry(key);
                self.log(&[b"DEL", key]);
                true
            }
            Some(_) => false,
        }
    }

    /// The live entry at `key`.
    pub(super) fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.db.get(key)
    }

    /// The live entry at `key`, mutable.
    pub(super) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.db.get_mut(key)
    }

    /// Sets `key` (stored as its own copy, see [`own`]), replacing any
    /// value and expiry.
    pub(super) fn set(&mut self, key: &Bytes, entry: Entry) {
        let new = memory::entry_size(key, &entry.value);
        match self.db.get_mut(key) {
            Some(old) => {
                let old = std::mem::replace(old, entry);
                self.shrank(memory::entry_size(key, &old.value));
            }
            None => {
                self.db.insert(own(key), entry);
            }
        }
        self.grew(new);
    }

    /// The entry at `key`, created by `new` when absent (or expired).
    fn get_or_insert(&mut self, key: &Bytes, new: impl FnOnce() -> Value) -> &mut Entry {
        if self.expire_if_needed(key) {
            let value = new();
            self.grew(memory::entry_size(key, &value));
            self.db.insert(
                own(key),
                Entry {
                    value,
                    expire_at: None,
                },
            );
        }
        // Present now; `entry` only to get it without an `Option`.
        self.db.entry(key.clone()).or_insert_with(|| Entry {
            value: Value::Str(Bytes::new()),
            expire_at: None,
        })
    }

    /// Removes `key`; returns whether a live key was removed.
    pub(super) fn remove(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key) && self.remove_entry(key)
    }

    /// Removes `key`, live or not, and its size from the count.
    fn remove_entry(&mut self, key: &[u8]) -> bool {
        match self.db.remove_entry(key) {
            Some((k, e)) => {
                self.shrank(memory::entry_size(&k, &e.value));
                true
            }
            None => false,
        }
    }

    /// Removes `key` if it holds an empty list or hash (Redis never keeps
    /// empty aggregates).
    pub(super) fn remove_if_empty(&mut self, key: &[u8]) {
        let empty = match self.db.get(key).map(|e| &e.value) {
            Some(Value::List(l)) => l.is_empty(),
            Some(Value::Hash(h)) => h.is_empty(),
            _ => false,
        };
        if empty {
            self.remove_entry(key);
        }
    }

    /// The list at `key` (`None` when absent), or WRONGTYPE.
    pub(super) fn list_mut(&mut self, key: &[u8]) -> Result<Option<&mut VecDeque<Bytes>>, Reply> {
        match self.get_mut(key) {
            None => Ok(None),
            Some(Entry {
                value: Value::List(l),
                ..
            }) => Ok(Some(l)),
            Some(_) => Err(wrongtype()),
        }
    }

    /// The list at `key`, created when absent, or WRONGTYPE.
    pub(super) fn list_or_create(&mut self, key: &Bytes) -> Result<&mut VecDeque<Bytes>, Reply> {
        match &mut self
            .get_or_insert(key, || Value::List(VecDeque::new()))
            .value
        {
            Value::List(l) => Ok(l),
            _ => Err(wrongtype()),
        }
    }

    /// The hash at `key` (`None` when absent), or WRONGTYPE.
    pub(super) fn hash_mut(
        &mut self,
        key: &[u8],
    ) -> Result<Option<&mut HashMap<Bytes, Bytes>>, Reply> {
        match self.get_mut(key) {
            None => Ok(None),
            Some(Entry {
                value: Value::Hash(h),
                ..
            }) => Ok(Some(h)),
            Some(_) => Err(wrongtype()),
        }
    }

    /// The hash at `key`, created when absent, or WRONGTYPE.
    pub(super) fn hash_or_create(
        &mut self,
        key: &Bytes,
    ) -> Result<&mut HashMap<Bytes, Bytes>, Reply> {
        match &mut self
            .get_or_insert(key, || Value::Hash(HashMap::new()))
            .value
        {
            Value::Hash(h) => Ok(h),
            _ => Err(wrongtype()),
        }
    }

    /// Number of keys (expired ones not yet reclaimed included, as in Redis).
    pub(super) fn len(&self) -> usize {
        self.db.len()
    }

    /// Whether there are no keys.
    pub(super) fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    /// Number of keys with an expiry.
    pub(super) fn expires(&self) -> usize {
        self.db.values().filter(|e| e.expire_at.is_some()).count()
    }

    /// The live keys matching a glob pattern.
    pub(super) fn keys(&self, pattern: &[u8]) -> Vec<Bytes> {
        let all = pattern == b"*";
        self.db
            .iter()
            .filter(|(k, e)| !self.expired(e) && (all || super::glob::matches(pattern, k)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every live key and its entry.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.db.iter().filter(|(_, e)| !self.expired(e))
    }

    /// Deletes every key.
    pub(super) fn clear(&mut self) {
        self.db.clear();
        self.used = 0;
    }
}

mod blocked;
mod memory;
#[cfg(test)]
mod tests;

pub(super) use memory::{hash_field, list_item};
