//! Blocked clients served in order, and expiry that the append-only file
//! records.

use tokio::sync::oneshot;

use crate::redis::blocking::BlockOp;

use super::*;

fn push(store: &mut Store, key: &str, v: &str) {
    let key = Bytes::from(key.to_string());
    store
        .list_or_create(&key)
        .unwrap()
        .push_back(Bytes::from(v.to_string()));
    store.blocking.signal_ready(&key);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let mut store = Store::new();
    let (tx1, mut rx1) = oneshot::channel();
    let (tx2, mut rx2) = oneshot::channel();
    store
        .blocking
        .block(0, vec![Bytes::from("q")], BlockOp::Pop { left: false }, tx1);
    store
        .blocking
        .block(0, vec![Bytes::from("q")], BlockOp::Pop { left: false }, tx2);
    push(&mut store, "q", "a");
    store.serve_ready();
    let got = rx1.try_recv().expect("first waiter served");
    assert_eq!(
        got.reply,
        Reply::bulks([Bytes::from("q"), Bytes::from("a")])
    );
    assert!(rx2.try_recv().is_err(), "second waiter still waits");
    assert_eq!(store.blocking.len(), 1);
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
    store.blocking.block(0, vec![Bytes::from("a")], mv, tx1);
    store
        .blocking
        .block(0, vec![Bytes::from("b")], BlockOp::Pop { left: true }, tx2);
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
    let gone = store
        .blocking
        .block(0, vec![Bytes::from("q")], BlockOp::Pop { left: true }, tx1);
    let left = store
        .blocking
        .block(0, vec![Bytes::from("q")], BlockOp::Pop { left: true }, tx2);
    store
        .blocking
        .block(0, vec![Bytes::from("q")], BlockOp::Pop { left: true }, tx3);
    drop(rx1);
    assert!(store.blocking.unblock(left));
    assert!(!store.blocking.unblock(left));
    push(&mut store, "q", "v");
    store.serve_ready();
    assert!(rx3.try_recv().is_ok());
    assert!(
        !store.blocking.unblock(gone),
        "the dropped waiter was forgotten"
    );
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
