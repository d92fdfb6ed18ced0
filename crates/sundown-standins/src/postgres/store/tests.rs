//! The store on tmpfs and on disk: where it lives, group commit under
//! concurrent sessions, and the errors that name what is wrong.

use super::*;

#[test]
fn memory_store_is_wal_and_removed_with_the_store() {
    let store = Store::open(None).expect("open in memory");
    let dir = store
        .memory
        .as_ref()
        .map(|d| d.0.clone())
        .expect("a memory dir");
    assert!(dir.is_dir());
    assert!(store.durability.is_none());
    lock(&store.keeper)
        .execute_batch("CREATE TABLE t (a); INSERT INTO t VALUES (1)")
        .expect("write");
    let other = store.connect().expect("second connection");
    let n: i64 = other
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("read");
    assert_eq!(n, 1);
    drop((other, store));
    assert!(!dir.exists(), "{} should be gone", dir.display());
}

#[test]
fn concurrent_commits_share_fsyncs_and_reach_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let store = std::sync::Arc::new(Store::open(Some(&path)).expect("open"));
    store
        .connect()
        .expect("connect")
        .execute_batch("CREATE TABLE t (a INTEGER)")
        .expect("create");
    store.committed().expect("durable");
    let wal = dir.path().join("db.sqlite-wal");
    let inode = || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&wal).expect("a WAL"));
    let first = inode();
    let threads: Vec<_> = (0..4)
        .map(|k| {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                let c = store.connect().expect("connect");
                for i in 0..200 {
                    c.execute("INSERT INTO t VALUES (?1)", [k * 1000 + i])
                        .expect("insert");
                    store.committed().expect("durable");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(
        inode(),
        first,
        "closing session connections never removes the WAL"
    );
    let d = store.durability.as_ref().expect("a file has durability");
    assert_eq!(d.tickets(), (801, 801), "written, synced");
    assert!(
        store.checkpoint(false).expect("checkpoint"),
        "TRUNCATE completes"
    );
    drop(store);
    let c = Connection::open(&path).expect("reopen");
    let n: i64 = c
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 800);
}

#[test]
fn a_missing_directory_is_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data/nested/db.sqlite");
    Store::open(Some(&path)).expect("the directories are made");
    assert!(path.is_file());
}

#[test]
fn a_directory_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("write");
    let e = Store::open(Some(&file.join("dir/db.sqlite")))
        .expect_err("a directory under a file")
        .to_string();
    assert!(
        e.contains(&format!("cannot create directory {}/dir", file.display())),
        "{e}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("junk");
    std::fs::write(&path, vec![b'x'; 4096]).expect("write junk");
    let e = Store::open(Some(&path))
        .expect_err("not a database")
        .to_string();
    assert!(e.contains("not a database"), "{e}");
}
