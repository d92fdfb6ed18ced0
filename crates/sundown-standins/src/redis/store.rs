//! The data: keys with their values and expiry, the clients blocked on
//! lists, and the append-only-file buffer.
//!
//! Everything here sits behind one mutex that a connection takes once per
//! batch of pipelined commands. That one lock is what makes each command,
//! each `MULTI`/`EXEC` block and each hand-over to a blocked client atomic,
//! and what gives the append-only file the exact order of execution.

use std::collections::{HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::clients::Clients;
use super::codec::encode_command;
use super::reply::Reply;

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Bytes),
    /// A list.
    List(VecDeque<Bytes>),
    /// A hash.
    Hash(HashMap<Bytes, Bytes>),
}

/// A key's value and when it expires (Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// When it expires, in Unix milliseconds.
    pub expire_at: Option<u64>,
}

/// What a blocked client does once its list has an element.
#[derive(Debug, Clone)]
pub enum BlockOp {
    /// `BLPOP` (`left`) or `BRPOP`: answer `[key, element]`.
    Pop {
        /// Pop from the head.
        left: bool,
    },
    /// `BLMOVE`/`BRPOPLPUSH`: move the element to `dst`, answer it.
    Move {
        /// Destination list.
        dst: Bytes,
        /// Pop from the head of the source.
        from_left: bool,
        /// Push to the head of the destination.
        to_left: bool,
    },
}

impl BlockOp {
    /// The answer when the timeout passes first.
    pub fn timeout_reply(&self) -> Reply {
        match self {
            BlockOp::Pop { .. } => Reply::NullArray,
            BlockOp::Move { .. } => Reply::nil(),
        }
    }
}

/// The answer for a blocked client, and how far the append-only file must
/// be durable before it may be sent.
#[derive(Debug)]
pub struct Served {
    /// The reply.
    pub reply: Reply,
    /// The append-only-file position that covers the pop.
    pub seq: u64,
}

struct Waiter {
    /// The blocked client's id.
    client: u64,
    keys: Vec<Bytes>,
    op: BlockOp,
    tx: oneshot::Sender<Served>,
}

/// The clients blocked on lists, first come first served per key.
#[derive(Default)]
struct Blocking {
    by_key: HashMap<Bytes, VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
    /// Keys pushed to since their waiters were last served.
    ready: Vec<Bytes>,
    next_id: u64,
}

/// The append-only-file entries not yet handed to the writer.
#[derive(Default)]
struct AofBuf {
    buf: Vec<u8>,
    /// Bytes handed to the writer so far.
    taken: u64,
}

/// The whole dataset (database 0).
#[derive(Default)]
pub struct Store {
    db: HashMap<Bytes, Entry>,
    /// While the append-only file is replayed, nothing expires: the file
    /// records what happened when, and expiring a key mid-replay would make
    /// later entries apply to a different state than they did live.
    pub loading: bool,
    aof: Option<AofBuf>,
    blocking: Blocking,
    /// The connected clients.
    pub clients: Clients,
    /// Unix ms at the start of the current command.
    pub now: u64,
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Arguments up to this size are copied when stored; see [`own`].
const OWN_LIMIT: usize = 16 * 1024;

/// An argument made fit to be stored. Arguments are slices of the buffer
/// their request arrived in; kept as they are, a 3-byte value would hold
/// on to that whole buffer (kilobytes, with every other request in it) for
/// as long as the key lives. Large values are kept as slices: they are
/// most of their buffer anyway, and copying them would cost more.
pub fn own(b: &Bytes) -> Bytes {
    if b.len() <= OWN_LIMIT {
        Bytes::copy_from_slice(b)
    } else {
        b.clone()
    }
}

/// `-WRONGTYPE …`.
pub fn wrongtype() -> Reply {
    Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value")
}

impl Store {
    /// An empty store; nothing is logged until [`Store::enable_aof`].
    pub fn new() -> Store {
        Store {
            now: unix_ms(),
            ..Store::default()
        }
    }

    /// Starts logging writes (after the replay).
    pub fn enable_aof(&mut self) {
        self.aof = Some(AofBuf::default());
    }

    /// Reads the clock for the next command.
    pub fn tick(&mut self) {
        self.now = unix_ms();
    }

    // ---- append-only file ----

    /// Logs a write as executed.
    pub fn log(&mut self, parts: &[&[u8]]) {
        if let Some(aof) = &mut self.aof {
            encode_command(&mut aof.buf, parts.iter().copied());
        }
    }

    /// Logs a command verbatim.
    pub fn log_args(&mut self, args: &[Bytes]) {
        if let Some(aof) = &mut self.aof {
            encode_command(&mut aof.buf, args.iter().map(|a| &a[..]));
        }
    }

    /// The append-only-file position after everything logged so far.
    pub fn aof_seq(&self) -> u64 {
        self.aof
            .as_ref()
            .map_or(0, |a| a.taken + a.buf.len() as u64)
    }

    /// Where the buffer ends now, to undo entries with [`Store::aof_rollback`].
    pub fn aof_mark(&self) -> usize {
        self.aof.as_ref().map_or(0, |a| a.buf.len())
    }

    /// Drops the entries logged since `mark`.
    pub fn aof_rollback(&mut self, mark: usize) {
        if let Some(aof) = &mut self.aof {
            aof.buf.truncate(mark);
        }
    }

    /// Hands the pending entries to the writer, swapping in its empty
    /// buffer; returns the position they end at.
    pub fn take_aof(&mut self, spare: &mut Vec<u8>) -> u64 {
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
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        match self.db.get(key) {
            None => true,
            Some(e) if self.expired(e) => {
                self.db.remove(key);
                self.log(&[b"DEL", key]);
                true
            }
            Some(_) => false,
        }
    }

    /// The live entry at `key`.
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.db.get(key)
    }

    /// The live entry at `key`, mutable.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.db.get_mut(key)
    }

    /// Sets `key` (stored as its own copy, see [`own`]), replacing any
    /// value and expiry.
    pub fn set(&mut self, key: &Bytes, entry: Entry) {
        match self.db.get_mut(key) {
            Some(old) => *old = entry,
            None => {
                self.db.insert(own(key), entry);
            }
        }
    }

    /// The entry at `key`, created by `new` when absent (or expired).
    fn get_or_insert(&mut self, key: &Bytes, new: impl FnOnce() -> Value) -> &mut Entry {
        if self.expire_if_needed(key) {
            self.db.insert(
                own(key),
                Entry {
                    value: new(),
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
    pub fn remove(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key) && self.db.remove(key).is_some()
    }

    /// Removes `key` if it holds an empty list or hash (Redis never keeps
    /// empty aggregates).
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        let empty = match self.db.get(key).map(|e| &e.value) {
            Some(Value::List(l)) => l.is_empty(),
            Some(Value::Hash(h)) => h.is_empty(),
            _ => false,
        };
        if empty {
            self.db.remove(key);
        }
    }

    /// The list at `key` (`None` when absent), or WRONGTYPE.
    pub fn list_mut(&mut self, key: &[u8]) -> Result<Option<&mut VecDeque<Bytes>>, Reply> {
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
    pub fn list_or_create(&mut self, key: &Bytes) -> Result<&mut VecDeque<Bytes>, Reply> {
        match &mut self
            .get_or_insert(key, || Value::List(VecDeque::new()))
            .value
        {
            Value::List(l) => Ok(l),
            _ => Err(wrongtype()),
        }
    }

    /// The hash at `key` (`None` when absent), or WRONGTYPE.
    pub fn hash_mut(&mut self, key: &[u8]) -> Result<Option<&mut HashMap<Bytes, Bytes>>, Reply> {
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
    pub fn hash_or_create(&mut self, key: &Bytes) -> Result<&mut HashMap<Bytes, Bytes>, Reply> {
        match &mut self
            .get_or_insert(key, || Value::Hash(HashMap::new()))
            .value
        {
            Value::Hash(h) => Ok(h),
            _ => Err(wrongtype()),
        }
    }

    /// Number of keys (expired ones not yet reclaimed included, as in Redis).
    pub fn len(&self) -> usize {
        self.db.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    /// Number of keys with an expiry.
    pub fn expires(&self) -> usize {
        self.db.values().filter(|e| e.expire_at.is_some()).count()
    }

    /// The live keys matching a glob pattern.
    pub fn keys(&self, pattern: &[u8]) -> Vec<Bytes> {
        let all = pattern == b"*";
        self.db
            .iter()
            .filter(|(k, e)| !self.expired(e) && (all || super::glob::matches(pattern, k)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every live key and its entry.
    pub fn entries(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.db.iter().filter(|(_, e)| !self.expired(e))
    }

    /// Deletes every key.
    pub fn clear(&mut self) {
        self.db.clear();
    }

    /// A rough size of the data in bytes, for `INFO`.
    pub fn used_memory(&self) -> usize {
        const OVERHEAD: usize = 48;
        self.db
            .iter()
            .map(|(k, e)| {
                k.len()
                    + OVERHEAD
                    + match &e.value {
                        Value::Str(s) => s.len(),
                        Value::List(l) => l.iter().map(|v| v.len() + 16).sum(),
                        Value::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len() + 32).sum(),
                    }
            })
            .sum()
    }

    // ---- blocked clients ----

    /// Number of blocked clients.
    pub fn blocked_clients(&self) -> usize {
        self.blocking.waiters.len()
    }

    /// Whether this client is blocked.
    pub fn is_blocked(&self, client: u64) -> bool {
        self.blocking.waiters.values().any(|w| w.client == client)
    }

    /// `CLIENT KILL`: tells the client's connection to close, and takes it
    /// off every list it waits on, so from now on it is given nothing.
    /// Returns whether such a client was connected.
    pub fn kill_client(&mut self, client: u64) -> bool {
        let Some(record) = self.clients.get(client) else {
            return false;
        };
        record.kill.cancel();
        let waiting: Vec<u64> = self
            .blocking
            .waiters
            .iter()
            .filter(|(_, w)| w.client == client)
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            self.unblock(id);
        }
        true
    }

    /// Blocks `client` on `keys`; the answer arrives on `tx`. Returns the
    /// waiter's id for [`Store::unblock`].
    pub fn block(
        &mut self,
        client: u64,
        keys: Vec<Bytes>,
        op: BlockOp,
        tx: oneshot::Sender<Served>,
    ) -> u64 {
        let b = &mut self.blocking;
        b.next_id += 1;
        let id = b.next_id;
        for key in &keys {
            let queue = b.by_key.entry(key.clone()).or_default();
            // BLPOP k k waits once on k.
            if queue.back() != Some(&id) {
                queue.push_back(id);
            }
        }
        b.waiters.insert(
            id,
            Waiter {
                client,
                keys,
                op,
                tx,
            },
        );
        id
    }

    /// Removes a waiter; returns whether it was still waiting (false: it was
    /// served, and its answer is in its channel).
    pub fn unblock(&mut self, id: u64) -> bool {
        let b = &mut self.blocking;
        let Some(w) = b.waiters.remove(&id) else {
            return false;
        };
        for key in &w.keys {
            if let Some(q) = b.by_key.get_mut(key) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    b.by_key.remove(key);
                }
            }
        }
        true
    }

    /// Notes that `key` received elements, so its waiters are served after
    /// the current command.
    pub fn signal_ready(&mut self, key: &Bytes) {
        let b = &mut self.blocking;
        if !b.by_key.is_empty() && b.by_key.contains_key(key) && !b.ready.contains(key) {
            b.ready.push(key.clone());
        }
    }

    /// Serves the clients blocked on lists that received elements, in the
    /// order they blocked, as Redis does after each command. A move may make
    /// another list ready, which is served in the same pass.
    pub fn serve_ready(&mut self) {
        while !self.blocking.ready.is_empty() {
            let keys = std::mem::take(&mut self.blocking.ready);
            for key in keys {
                self.serve_key(&key);
            }
        }
    }

    fn serve_key(&mut self, key: &Bytes) {
        loop {
            let Some(&id) = self.blocking.by_key.get(key).and_then(|q| q.front()) else {
                return;
            };
            match self.list_mut(key) {
                Ok(Some(l)) if !l.is_empty() => {}
                _ => return,
            }
            let op = match self.blocking.waiters.get(&id) {
                Some(w) if !w.tx.is_closed() => w.op.clone(),
                // Its connection is gone: forget it without taking anything.
                _ => {
                    self.unblock(id);
                    continue;
                }
            };
            let reply = match op {
                BlockOp::Pop { left } => {
                    let value = self.pop(key, left);
                    self.log(&[if left { b"LPOP" } else { b"RPOP" }, key]);
                    Reply::bulks([key.clone(), value])
                }
                BlockOp::Move {
                    dst,
                    from_left,
                    to_left,
                } => match self.lmove(key, &dst, from_left, to_left) {
                    Ok(Some(v)) => Reply::bulk(v),
                    Ok(None) => return,
                    Err(e) => e,
                },
            };
            let seq = self.aof_seq();
            if let Some(w) = self.take_waiter(id) {
                // The receiver was alive a moment ago, under this lock.
                let _ = w.tx.send(Served { reply, seq });
            }
        }
    }

    fn take_waiter(&mut self, id: u64) -> Option<Waiter> {
        let w = self.blocking.waiters.get(&id)?;
        let keys = w.keys.clone();
        let b = &mut self.blocking;
        for key in &keys {
            if let Some(q) = b.by_key.get_mut(key) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    b.by_key.remove(key);
                }
            }
        }
        b.waiters.remove(&id)
    }

    /// Pops from a list known to be non-empty, removing it when emptied.
    fn pop(&mut self, key: &[u8], left: bool) -> Bytes {
        let v = match self.list_mut(key) {
            Ok(Some(l)) => if left { l.pop_front() } else { l.pop_back() }.unwrap_or_default(),
            _ => Bytes::new(),
        };
        self.remove_if_empty(key);
        v
    }

    /// `LMOVE`: moves one element from `src` to `dst`, logging it and
    /// waking `dst`'s waiters; `None` when `src` is empty.
    pub fn lmove(
        &mut self,
        src: &Bytes,
        dst: &Bytes,
        from_left: bool,
        to_left: bool,
    ) -> Result<Option<Bytes>, Reply> {
        match self.list_mut(src)? {
            Some(l) if !l.is_empty() => {}
            _ => return Ok(None),
        }
        // Checked before popping, so a WRONGTYPE leaves the source intact.
        self.list_mut(dst)?;
        let v = self.pop(src, from_left);
        let l = self.list_or_create(dst)?;
        if to_left {
            l.push_front(v.clone());
        } else {
            l.push_back(v.clone());
        }
        let side = |left: bool| if left { &b"LEFT"[..] } else { b"RIGHT" };
        self.log(&[b"LMOVE", src, dst, side(from_left), side(to_left)]);
        self.signal_ready(dst);
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(store: &mut Store, key: &str, v: &str) {
        let key = Bytes::from(key.to_string());
        store
            .list_or_create(&key)
            .unwrap()
            .push_back(Bytes::from(v.to_string()));
        store.signal_ready(&key);
    }

    #[test]
    fn waiters_are_served_first_come_first_served() {
        let mut store = Store::new();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        store.block(0, vec![Bytes::from("q")], BlockOp::Pop { left: false }, tx1);
        store.block(0, vec![Bytes::from("q")], BlockOp::Pop { left: false }, tx2);
        push(&mut store, "q", "a");
        store.serve_ready();
        let got = rx1.try_recv().expect("first waiter served");
        assert_eq!(
            got.reply,
            Reply::bulks([Bytes::from("q"), Bytes::from("a")])
        );
        assert!(rx2.try_recv().is_err(), "second waiter still waits");
        assert_eq!(store.blocked_clients(), 1);
        assert!(store.is_empty(), "the emptied list is gone");
    }

    #[test]
    fn a_move_to_a_watched_list_serves_its_waiter_too() {
        let mut store = Store::new();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        let mv = BlockOp::Move {
            dst: Bytes::from("b"),
            from_left: false,
            to_left: true,
        };
        store.block(0, vec![Bytes::from("a")], mv, tx1);
        store.block(0, vec![Bytes::from("b")], BlockOp::Pop { left: true }, tx2);
        push(&mut store, "a", "x");
        store.serve_ready();
        assert_eq!(rx1.try_recv().unwrap().reply, Reply::bulk(Bytes::from("x")));
        assert_eq!(
            rx2.try_recv().unwrap().reply,
            Reply::bulks([Bytes::from("b"), Bytes::from("x")])
        );
        assert!(store.is_empty());
    }

    #[test]
    fn an_unblocked_waiter_is_not_served_and_a_gone_one_takes_nothing() {
        let mut store = Store::new();
        let (tx1, rx1) = oneshot::channel();
        let (tx2, _rx2) = oneshot::channel();
        let (tx3, mut rx3) = oneshot::channel();
        let gone = store.block(0, vec![Bytes::from("q")], BlockOp::Pop { left: true }, tx1);
        let left = store.block(0, vec![Bytes::from("q")], BlockOp::Pop { left: true }, tx2);
        store.block(0, vec![Bytes::from("q")], BlockOp::Pop { left: true }, tx3);
        drop(rx1);
        assert!(store.unblock(left));
        assert!(!store.unblock(left));
        push(&mut store, "q", "v");
        store.serve_ready();
        assert!(rx3.try_recv().is_ok());
        assert!(!store.unblock(gone), "the dropped waiter was forgotten");
    }

    #[test]
    fn stored_small_values_do_not_pin_the_request_buffer() {
        let buffer = Bytes::from(vec![b'x'; 64 * 1024]);
        let small = own(&buffer.slice(10..13));
        let range = buffer.as_ptr_range();
        assert!(!range.contains(&small.as_ptr()), "copied out of the buffer");
        let big = own(&buffer.slice(0..OWN_LIMIT + 1));
        assert!(range.contains(&big.as_ptr()), "a large value stays a slice");
    }

    #[test]
    fn expired_keys_vanish_and_the_deletion_is_logged() {
        let mut store = Store::new();
        store.enable_aof();
        store.set(
            &Bytes::from("k"),
            Entry {
                value: Value::Str(Bytes::from("v")),
                expire_at: Some(store.now - 1),
            },
        );
        store.loading = true;
        assert!(store.get(b"k").is_some(), "nothing expires while loading");
        store.loading = false;
        assert!(store.get(b"k").is_none());
        let mut spare = Vec::new();
        store.take_aof(&mut spare);
        assert_eq!(spare, b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
    }
}
