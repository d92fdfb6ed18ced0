//! Handing list elements to blocked clients, and `CLIENT KILL`, which
//! must be atomic with it: the store's side of blocking.rs.

use bytes::Bytes;

use super::Store;
use crate::redis::blocking::{BlockOp, Served};
use crate::redis::reply::Reply;

impl Store {
    /// `CLIENT KILL`: tells the client's connection to close, and takes it
    /// off every list it waits on, so from now on it is given nothing.
    /// Returns whether such a client was connected.
    pub(crate) fn kill_client(&mut self, client: u64) -> bool {
        let Some(record) = self.clients.get(client) else {
            return false;
        };
        record.kill.cancel();
        for id in self.blocking.of_client(client) {
            self.blocking.unblock(id);
        }
        true
    }

    /// Serves the clients blocked on lists that received elements, in the
    /// order they blocked, as Redis does after each command. A move may make
    /// another list ready, which is served in the same pass.
    pub(crate) fn serve_ready(&mut self) {
        loop {
            let keys = self.blocking.take_ready();
            if keys.is_empty() {
                return;
            }
            for key in keys {
                self.serve_key(&key);
            }
        }
    }

    fn serve_key(&mut self, key: &Bytes) {
        loop {
            let Some(id) = self.blocking.first(key) else {
                return;
            };
            match self.list_mut(key) {
                Ok(Some(l)) if !l.is_empty() => {}
                _ => return,
            }
            // Its connection is gone: forgotten without taking anything.
            let Some(op) = self.blocking.live_op(id) else {
                continue;
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
            self.blocking.serve(id, Served { reply, seq });
        }
    }

    /// Pops from a list known to be non-empty, removing it when emptied.
    fn pop(&mut self, key: &[u8], left: bool) -> Bytes {
        let v = match self.list_mut(key) {
            Ok(Some(l)) => if left { l.pop_front() } else { l.pop_back() }.unwrap_or_default(),
            _ => Bytes::new(),
        };
        self.shrank(super::list_item(&v));
        self.remove_if_empty(key);
        v
    }

    /// `LMOVE`: moves one element from `src` to `dst`, logging it and
    /// waking `dst`'s waiters; `None` when `src` is empty.
    pub(crate) fn lmove(
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
        self.grew(super::list_item(&v));
        let side = |left: bool| if left { &b"LEFT"[..] } else { b"RIGHT" };
        self.log(&[b"LMOVE", src, dst, side(from_left), side(to_left)]);
        self.blocking.signal_ready(dst);
        Ok(Some(v))
    }
}
