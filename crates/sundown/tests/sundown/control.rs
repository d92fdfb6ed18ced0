//! The control socket's lock outlives the socket: `serve` hands it back, so
//! a supervisor can stop answering and still keep a second run of the same
//! config from starting until its own process has ended.

use sundown::control::{ControlError, ControlSocket};
use sundown::logs::LogStore;
use tokio_util::sync::CancellationToken;

use crate::common::sup;

#[tokio::test]
async fn the_lock_served_back_keeps_a_second_run_out_until_it_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sock");
    let lock_file = dir.path().join("s.sock.lock");
    let running = sup("[components.a]\nkind = \"sim\"\n").spawn();
    let socket = ControlSocket::bind(&path).expect("bind");
    let stop = CancellationToken::new();
    stop.cancel();
    let lock = socket
        .serve(
            running.status(),
            running.handle(),
            LogStore::new(16),
            None,
            stop,
        )
        .await;
    assert!(!path.exists(), "the socket is removed when serving ends");
    assert!(lock_file.exists(), "the lock is still held");
    match ControlSocket::bind(&path) {
        Err(ControlError::InUse(p)) => assert_eq!(p, path),
        other => panic!("a second run must be refused while the lock is held: {other:?}"),
    }
    drop(lock);
    assert!(!lock_file.exists(), "the lock file goes with the lock");
    let again = ControlSocket::bind(&path).expect("free once the lock is dropped");
    drop(again);
    let _ = running.shutdown().await;
}
