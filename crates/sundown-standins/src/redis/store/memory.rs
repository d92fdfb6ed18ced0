//! The size of the data, for `INFO memory` and `max_memory`: an
//! approximation (the bytes of keys and values plus a fixed overhead per
//! key, list element and hash field), kept up to date by every write as a
//! difference, never by walking the data. Only a whole key's removal or
//! replacement walks that key's value, which dropping it does anyway.

use bytes::Bytes;

use super::Store;
use crate::redis::value::Value;

/// A key's bookkeeping: its entry in the table, its expiry.
const KEY: usize = 48;
/// A list element's, besides its bytes.
const LIST_ITEM: usize = 16;
/// A hash field's, besides its name and value.
const HASH_FIELD: usize = 32;

/// What one list element adds.
pub(crate) fn list_item(v: &[u8]) -> usize {
    v.len() + LIST_ITEM
}

/// What one hash field adds.
pub(crate) fn hash_field(f: &[u8], v: &[u8]) -> usize {
    f.len() + v.len() + HASH_FIELD
}

/// What a whole key adds.
pub(super) fn entry_size(key: &Bytes, value: &Value) -> usize {
    key.len()
        + KEY
        + match value {
            Value::Str(s) => s.len(),
            Value::List(l) => l.iter().map(|v| list_item(v)).sum(),
            Value::Hash(h) => h.iter().map(|(f, v)| hash_field(f, v)).sum(),
        }
}

impl Store {
    /// The data grew by `n` bytes.
    pub(crate) fn grew(&mut self, n: usize) {
        self.used = self.used.saturating_add(n);
    }

    /// The data shrank by `n` bytes.
    pub(crate) fn shrank(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }

    /// The approximate size of the data, in bytes.
    pub(crate) fn used_memory(&self) -> usize {
        self.used
    }

    /// The same, counted the slow way: what the count must always equal.
    #[cfg(test)]
    pub(crate) fn walk_memory(&self) -> usize {
        self.db.iter().map(|(k, e)| entry_size(k, &e.value)).sum()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::redis::session::Session;
    use crate::redis::settings::AppendFsync;
    use crate::redis::shared::ServerInfo;
    use crate::redis::store::Store;

    #[test]
    fn the_count_kept_by_writes_is_what_walking_the_data_finds() {
        let script: &[&[&str]] = &[
            &["SET", "s", "hello"],
            &["SET", "s", "hello world"],
            &["APPEND", "s", "!!"],
            &["APPEND", "new", "abc"],
            &["INCR", "n"],
            &["INCRBY", "n", "123456"],
            &["DECRBY", "n", "123456"],
            &["MSET", "a", "1", "b", "22"],
            &["SETNX", "a", "x"],
            &["SET", "e", "v", "PX", "1"],
            &["RPUSH", "l", "a", "bb", "ccc", "bb"],
            &["LPUSH", "l", "z"],
            &["LPOP", "l"],
            &["RPOP", "l", "2"],
            &["LREM", "l", "0", "a"],
            &["RPUSH", "src", "x", "y"],
            &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
            &["RPOPLPUSH", "src", "dst"],
            &["BLPOP", "dst", "0"],
            &["HSET", "h", "f", "1", "g", "22"],
            &["HSET", "h", "f", "111"],
            &["HSETNX", "h", "k", "v"],
            &["HINCRBY", "h", "f", "1000"],
            &["HINCRBY", "h", "new", "5"],
            &["HDEL", "h", "g", "nope"],
            &["EXPIRE", "a", "100"],
            &["DEL", "b", "s", "nope"],
            &["SET", "l", "replaces a list"],
            &["MULTI"],
            &["RPUSH", "m", "1"],
            &["HSET", "mh", "a", "b"],
            &["EXEC"],
            &["HDEL", "mh", "a"],
            &["FLUSHALL"],
            &["RPUSH", "after", "flush"],
        ];
        let mut store = Store::new();
        let server = ServerInfo::new(0, false, AppendFsync::Always);
        let mut session = Session::new(1);
        for (i, cmd) in script.iter().enumerate() {
            if i == 10 {
                // Let `e` expire: reading it then removes it.
                std::thread::sleep(std::time::Duration::from_millis(5));
                store.tick();
                let _ = session.execute(
                    &mut store,
                    &server,
                    vec![Bytes::from("GET"), Bytes::from("e")],
                );
            }
            let args = cmd.iter().map(|a| Bytes::from(a.to_string())).collect();
            let _ = session.execute(&mut store, &server, args);
            assert_eq!(store.used_memory(), store.walk_memory(), "after {cmd:?}");
        }
        assert!(store.used_memory() > 0);
    }
}
