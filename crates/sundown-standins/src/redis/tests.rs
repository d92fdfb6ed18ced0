use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::*;
use value::{Entry, Value};

/// A stored value whose freeing takes long, and says when it is done.
struct SlowDrop(Arc<AtomicBool>);

impl AsRef<[u8]> for SlowDrop {
    fn as_ref(&self) -> &[u8] {
        b"v"
    }
}

impl Drop for SlowDrop {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(600));
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_is_returned_before_the_store_is_freed() {
    let freed = Arc::new(AtomicBool::new(false));
    let mut store = Store::new();
    let slow = Bytes::from_owner(SlowDrop(freed.clone()));
    store.set(
        &Bytes::from_static(b"k"),
        Entry {
            value: Value::Str(slow),
            expire_at: None,
        },
    );
    let spec = RedisSpec::new("127.0.0.1:0".parse().unwrap());
    let (life, stop, _kill) = Lifecycle::detached("redis");
    stop.cancel();
    let started = Instant::now();
    let info = ServerInfo::new(0, false, AppendFsync::Always);
    let exit = serve(&spec, &life, store, info, None).await;
    assert_eq!(exit, Exit::Code(0));
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "the exit waited {:?} for the store to be freed",
        started.elapsed()
    );
    assert!(!freed.load(Ordering::SeqCst));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !freed.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the store is never freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
