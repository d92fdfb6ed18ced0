use super::*;
use crate::redis::settings::AppendFsync;

fn info() -> ServerInfo {
    ServerInfo::new(0, false, AppendFsync::Always)
}

/// A stop token never cancelled.
fn go() -> CancellationToken {
    CancellationToken::new()
}

fn entry(parts: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_command(&mut v, parts.iter().map(|p| p.as_bytes()));
    v
}

#[test]
fn replay_applies_whole_entries_and_cuts_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    let mut data = entry(&["SET", "a", "1"]);
    data.extend(entry(&["MULTI"]));
    data.extend(entry(&["SET", "b", "2"]));
    data.extend(entry(&["EXEC"]));
    let whole = data.len() as u64;
    data.extend(entry(&["MULTI"]));
    data.extend(entry(&["SET", "c", "3"]));
    std::fs::write(&path, &data).unwrap();
    let mut store = Store::new();
    let loaded = load(&path, &mut store, &info(), &go()).unwrap();
    assert_eq!(loaded.truncated, data.len() as u64 - whole);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
    assert_eq!(store.len(), 2, "a and b, not the unfinished block's c");
}

#[test]
fn a_rewrite_rebuilds_the_same_data_in_fewer_commands() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    let mut data = Vec::new();
    for i in 0..200 {
        data.extend(entry(&["RPUSH", "l", &i.to_string()]));
        data.extend(entry(&["INCR", "n"]));
        data.extend(entry(&[
            "HSET",
            "h",
            &format!("f{}", i % 70),
            &i.to_string(),
        ]));
    }
    data.extend(entry(&["PEXPIREAT", "h", "99999999999999"]));
    data.extend(entry(&["SET", "s", "v", "PXAT", "99999999999999"]));
    data.extend(entry(&["SET", "old", "v", "PXAT", "1"]));
    std::fs::write(&path, &data).unwrap();
    let mut before = Store::new();
    load(&path, &mut before, &info(), &go()).unwrap();
    rewrite(&path, &before, &go()).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < data.len() as u64 / 4, "{size} bytes");
    let mut after = Store::new();
    let loaded = load(&path, &mut after, &info(), &go()).unwrap();
    assert_eq!(
        loaded.commands,
        4 + 2 + 1 + 1 + 1,
        "chunked RPUSH and HSET, INCR's SET, PEXPIREAT, SET"
    );
    for key in [&b"l"[..], b"n", b"h", b"s"] {
        assert_eq!(
            before.get(key),
            after.get(key),
            "{}",
            String::from_utf8_lossy(key)
        );
    }
    assert!(after.get(b"old").is_none());
}

/// `SET key:i v` and `INCR n`, `n` times each: a file a rewrite shortens.
fn long_file(path: &Path, n: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..n {
        data.extend(entry(&["SET", &format!("key:{i}"), "v"]));
        data.extend(entry(&["INCR", "n"]));
    }
    std::fs::write(path, &data).unwrap();
    data
}

#[test]
fn a_stopped_replay_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    let mut data = long_file(&path, 5 * CHECK_EVERY);
    // A torn tail, which a complete load would cut off.
    data.extend(b"*2\r\n$3\r\nGET");
    std::fs::write(&path, &data).unwrap();
    let stop = CancellationToken::new();
    stop.cancel();
    let mut store = Store::new();
    let err = load(&path, &mut store, &info(), &stop).unwrap_err();
    assert!(matches!(err, AofError::Stopped), "{err}");
    assert!(store.len() < 5 * CHECK_EVERY, "it stopped early");
    assert_eq!(std::fs::read(&path).unwrap(), data, "not even the tail cut");
}

#[test]
fn a_stopped_rewrite_deletes_its_temporary_file_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    let data = long_file(&path, 3 * CHECK_EVERY);
    let mut store = Store::new();
    load(&path, &mut store, &info(), &go()).unwrap();
    let stop = CancellationToken::new();
    stop.cancel();
    let err = rewrite(&path, &store, &stop).unwrap_err();
    assert!(matches!(err, AofError::Stopped), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert!(!rewrite_path(&path).exists(), "the temporary file is gone");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn corruption_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    let mut data = entry(&["SET", "a", "1"]);
    let offset = data.len();
    data.extend(b"garbage\r\n");
    data.extend(entry(&["SET", "b", "2"]));
    std::fs::write(&path, &data).unwrap();
    let err = load(&path, &mut Store::new(), &info(), &go())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("byte offset {offset}")), "{err}");
    assert!(err.contains("a.aof"), "{err}");
}

#[test]
fn unknown_commands_are_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    std::fs::write(&path, entry(&["NOSUCH", "x"])).unwrap();
    let err = load(&path, &mut Store::new(), &info(), &go())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("byte offset 0") && err.contains("unknown command"),
        "{err}"
    );
}

#[test]
fn expiry_in_the_past_is_applied_after_replay_not_during() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    // Live: SET k 5 with an expiry, INCR before it passed, then the
    // expiry passed. Replay must not expire k before INCR runs, and k
    // must be gone afterwards.
    let mut data = entry(&["SET", "k", "5", "PXAT", "1000"]);
    data.extend(entry(&["INCR", "k"]));
    data.extend(entry(&["RPUSH", "l", "x"]));
    std::fs::write(&path, &data).unwrap();
    let mut store = Store::new();
    load(&path, &mut store, &info(), &go()).unwrap();
    assert!(store.get(b"k").is_none());
    assert!(store.get(b"l").is_some());
}

#[test]
fn a_rewrite_removes_what_a_killed_process_left_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.aof");
    long_file(&path, 10);
    let stale = dir.path().join("a.aof.rewrite.999999999.0");
    let other = dir.path().join("b.aof.rewrite.999999999.0");
    std::fs::write(&stale, b"half a rewrite").unwrap();
    std::fs::write(&other, b"another file's").unwrap();
    let mut store = Store::new();
    load(&path, &mut store, &info(), &go()).unwrap();
    rewrite(&path, &store, &go()).unwrap();
    assert!(!stale.exists(), "left by a killed process");
    assert!(other.exists(), "not this file's");
}
