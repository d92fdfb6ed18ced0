//! The clients blocked on lists (`BLPOP`, `BLMOVE`, …), first come first
//! served per key. The store (store.rs) keeps them under its lock and
//! serves them after each command that pushed to a list they wait on;
//! this is only the bookkeeping of who waits where.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::reply::Reply;

/// What a blocked client does once its list has an element.
#[derive(Debug, Clone)]
pub(super) enum BlockOp {
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
    pub(super) fn timeout_reply(&self) -> Reply {
        match self {
            BlockOp::Pop { .. } => Reply::NullArray,
            BlockOp::Move { .. } => Reply::nil(),
        }
    }
}

/// The answer for a blocked client, and how far the append-only file must
/// be durable before it may be sent.
#[derive(Debug)]
pub(super) struct Served {
    /// The reply.
    pub reply: Reply,
    /// The append-only-file position that covers the pop.
    pub seq: u64,
}

/// One blocked client's wait.
struct Waiter {
    /// The blocked client's id.
    client: u64,
    keys: Vec<Bytes>,
    op: BlockOp,
    tx: oneshot::Sender<Served>,
}

/// The clients blocked on lists, first come first served per key.
#[derive(Default)]
pub(super) struct Blocking {
    by_key: HashMap<Bytes, VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
    /// Keys pushed to since their waiters were last served.
    ready: Vec<Bytes>,
    next_id: u64,
}

impl Blocking {
    /// Number of blocked clients.
    pub(super) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Whether this client is blocked.
    pub(super) fn is_blocked(&self, client: u64) -> bool {
        self.waiters.values().any(|w| w.client == client)
    }

    /// The waiters of one client.
    pub(super) fn of_client(&self, client: u64) -> Vec<u64> {
        self.waiters
            .iter()
            .filter(|(_, w)| w.client == client)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Blocks `client` on `keys`; the answer arrives on `tx`. Returns the
    /// waiter's id for [`Blocking::unblock`].
    pub(super) fn block(
        &mut self,
        client: u64,
        keys: Vec<Bytes>,
        op: BlockOp,
        tx: oneshot::Sender<Served>,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        for key in &keys {
            let queue = self.by_key.entry(key.clone()).or_default();
            // BLPOP k k waits once on k.
            if queue.back() != Some(&id) {
                queue.push_back(id);
            }
        }
        self.waiters.insert(
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
    pub(super) fn unblock(&mut self, id: u64) -> bool {
        let Some(w) = self.waiters.remove(&id) else {
            return false;
        };
        self.leave_queues(id, &w.keys);
        true
    }

    /// Takes waiter `id` off the queues of `keys`.
    fn leave_queues(&mut self, id: u64, keys: &[Bytes]) {
        for key in keys {
            if let Some(q) = self.by_key.get_mut(key) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
    }

    /// Notes that `key` received elements, so its waiters are served after
    /// the current command.
    pub(super) fn signal_ready(&mut self, key: &Bytes) {
        if !self.by_key.is_empty() && self.by_key.contains_key(key) && !self.ready.contains(key) {
            self.ready.push(key.clone());
        }
    }

    /// The keys signalled since the last call, in order.
    pub(super) fn take_ready(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.ready)
    }

    /// The first waiter on `key`.
    pub(super) fn first(&self, key: &[u8]) -> Option<u64> {
        self.by_key.get(key).and_then(|q| q.front()).copied()
    }

    /// What waiter `id` is to do; `None` when its connection is gone, and
    /// then it is forgotten without being given anything.
    pub(super) fn live_op(&mut self, id: u64) -> Option<BlockOp> {
        match self.waiters.get(&id) {
            Some(w) if !w.tx.is_closed() => Some(w.op.clone()),
            _ => {
                self.unblock(id);
                None
            }
        }
    }

    /// Answers waiter `id` and forgets it.
    pub(super) fn serve(&mut self, id: u64, served: Served) {
        if let Some(w) = self.take_waiter(id) {
            // The receiver was alive a moment ago, under the store's lock.
            let _ = w.tx.send(served);
        }
    }

    fn take_waiter(&mut self, id: u64) -> Option<Waiter> {
        let w = self.waiters.get(&id)?;
        let keys = w.keys.clone();
        self.leave_queues(id, &keys);
        self.waiters.remove(&id)
    }
}
