//! What a key holds (a string, a list or a hash, and its expiry), and how
//! a request's argument becomes a stored value. The store (store.rs), the
//! commands and the append-only-file rewrite all speak in these.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::reply::Reply;

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// A string.
    Str(Bytes),
    /// A list.
    List(VecDeque<Bytes>),
    /// A hash.
    Hash(HashMap<Bytes, Bytes>),
}

/// A key's value and when it expires (Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    /// The value.
    pub value: Value,
    /// When it expires, in Unix milliseconds.
    pub expire_at: Option<u64>,
}

/// Arguments up to this size are copied when stored; see [`own`].
const OWN_LIMIT: usize = 16 * 1024;

/// An argument made fit to be stored. Arguments are slices of the buffer
/// their request arrived in; kept as they are, a 3-byte value would hold
/// on to that whole buffer (kilobytes, with every other request in it) for
/// as long as the key lives. Large values are kept as slices: they are
/// most of their buffer anyway, and copying them would cost more.
pub(super) fn own(b: &Bytes) -> Bytes {
    if b.len() <= OWN_LIMIT {
        Bytes::copy_from_slice(b)
    } else {
        b.clone()
    }
}

/// `-WRONGTYPE …`.
pub(super) fn wrongtype() -> Reply {
    Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_small_values_do_not_pin_the_request_buffer() {
        let buffer = Bytes::from(vec![b'x'; 64 * 1024]);
        let small = own(&buffer.slice(10..13));
        let range = buffer.as_ptr_range();
        assert!(!range.contains(&small.as_ptr()), "copied out of the buffer");
        let big = own(&buffer.slice(0..OWN_LIMIT + 1));
        assert!(range.contains(&big.as_ptr()), "a large value stays a slice");
    }
}
