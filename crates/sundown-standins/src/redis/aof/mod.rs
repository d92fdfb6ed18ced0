//! The append-only file: replayed at start, appended to while running.
//!
//! Entries are RESP arrays like Redis's AOF, each a write as it was
//! executed. Here: replaying the file at start and rewriting it to the
//! shortest form; writing it while running is the writer's (writer.rs).

mod writer;

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder as _;
use tokio_util::sync::CancellationToken;

use super::codec::{CodecError, ServerCodec, encode_command};
use super::commands::Special;
use super::session::{Session, check};
use super::shared::ServerInfo;
use super::store::Store;
use super::value::{Entry, Value};
pub(super) use writer::{Writer, writer};

/// Why the append-only file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(super) enum AofError {
    /// Reading, truncating or opening failed.
    #[error("append-only file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The file holds something that is not a command.
    #[error("append-only file {} is corrupt at byte offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad entry starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A stop was requested: the replay or rewrite was abandoned, the file
    /// left as it was.
    #[error("stopped before the append-only file was fully loaded")]
    Stopped,
}

/// How many commands (or keys, when rewriting) go between two looks at the
/// stop token: a few milliseconds of work, so a stop is seen at once, at
/// the cost of an atomic load per thousand commands.
const CHECK_EVERY: usize = 1024;

/// What loading found.
#[derive(Debug)]
pub(super) struct Loaded {
    /// The file, open for appending.
    pub file: File,
    /// Commands replayed.
    pub commands: usize,
    /// Bytes cut off the end: a last command (or `MULTI` block) that a crash
    /// interrupted mid-write.
    pub truncated: u64,
}

/// Replays `path` (missing is empty) into `store`; cuts off an incomplete
/// last entry, like Redis's `aof-load-truncated yes`. Gives up with
/// [`AofError::Stopped`] soon after `stop`, before touching the file: what
/// was loaded is then incomplete, and the next start replays it all.
pub(super) fn load(
    path: &Path,
    store: &mut Store,
    server: &ServerInfo,
    stop: &CancellationToken,
) -> Result<Loaded, AofError> {
    let io_err = |source| AofError::Io {
        path: path.to_path_buf(),
        source,
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(e)),
    };
    let total = data.len() as u64;
    let mut buf = Bytes::from(data)
        .try_into_mut()
        .unwrap_or_else(|b| BytesMut::from(&b[..]));
    let mut codec = ServerCodec::aof();
    let mut session = Session::replay();
    let mut commands = 0;
    // The end of the last entry that is whole (a MULTI block counts as one).
    let mut whole = 0u64;
    store.loading = true;
    let result = loop {
        if commands % CHECK_EVERY == 0 && stop.is_cancelled() {
            break Err(AofError::Stopped);
        }
        let offset = total - buf.len() as u64;
        let corrupt = |reason: String| AofError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason,
        };
        let args = match codec.decode(&mut buf) {
            Ok(Some(args)) => args,
            Ok(None) => break Ok(()),
            Err(CodecError::Protocol(m)) => break Err(corrupt(m)),
            Err(CodecError::Io(e)) => break Err(corrupt(e.to_string())),
        };
        let spec = match check(&args) {
            Ok(spec) => spec,
            Err(e) => break Err(corrupt(e.error_text().unwrap_or_default().to_string())),
        };
        if spec.special == Special::Exec && !session.in_multi() {
            break Err(corrupt("EXEC without MULTI".into()));
        }
        // Errors a command answers (WRONGTYPE…) are ignored, as Redis does:
        // the file records what was executed, errors included.
        let _ = session.execute(store, server, args);
        commands += 1;
        if !session.in_multi() {
            whole = total - buf.len() as u64;
        }
    };
    store.loading = false;
    result?;
    // A fresh setup has no data directory yet; Redis would refuse, but a
    // stand-in that runs out of the box is more useful.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err)?;
    let truncated = total - whole;
    if truncated > 0 {
        file.set_len(whole).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
    }
    Ok(Loaded {
        file,
        commands,
        truncated,
    })
}

/// Most elements per command in a rewritten file, so no single entry is huge.
const REWRITE_CHUNK: usize = 64;

/// Appends the commands that rebuild one key.
fn rebuild(out: &mut Vec<u8>, key: &Bytes, entry: &Entry) {
    let at = entry.expire_at.map(|t| t.to_string());
    match &entry.value {
        Value::Str(v) => match &at {
            Some(at) => encode_command(
                out,
                [&b"SET"[..], key, v, b"PXAT", at.as_bytes()].into_iter(),
            ),
            None => encode_command(out, [&b"SET"[..], key, v].into_iter()),
        },
        Value::List(items) => {
            let items: Vec<&Bytes> = items.iter().collect();
            for chunk in items.chunks(REWRITE_CHUNK) {
                let head = [&b"RPUSH"[..], key];
                let args: Vec<&[u8]> = head
                    .into_iter()
                    .chain(chunk.iter().map(|b| &b[..]))
                    .collect();
                encode_command(out, args.into_iter());
            }
        }
        Value::Hash(fields) => {
            let pairs: Vec<(&Bytes, &Bytes)> = fields.iter().collect();
            for chunk in pairs.chunks(REWRITE_CHUNK) {
                let head = [&b"HSET"[..], key];
                let args: Vec<&[u8]> = head
                    .into_iter()
                    .chain(chunk.iter().flat_map(|(f, v)| [&f[..], &v[..]]))
                    .collect();
                encode_command(out, args.into_iter());
            }
        }
    }
    if let (Some(at), false) = (&at, matches!(entry.value, Value::Str(_))) {
        encode_command(out, [&b"PEXPIREAT"[..], key, at.as_bytes()].into_iter());
    }
}

/// Where a rewrite is written before it replaces the file: the same
/// directory, so the rename is atomic.
fn rewrite_path(path: &Path) -> PathBuf {
    // One name per attempt: a loader given up on by a kill may still be
    // finishing its rewrite while the next start of the component begins
    // one of its own.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".rewrite.{}.{seq}", std::process::id()));
    path.with_file_name(name)
}

/// Removes the temporary files of rewrites that a killed process left
/// (another process's pid: this one's may still be finishing, and no other
/// live process rewrites this file while sundown holds its config's lock).
fn remove_stale_rewrites(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.rewrite.", name.to_string_lossy());
    let ours = format!("{prefix}{}.", std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let file = e.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && !file.starts_with(&ours) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Replaces the file with the shortest commands that rebuild `store`, the
/// way Redis's `BGREWRITEAOF` does, so the file does not grow with every
/// write ever made. A crash at any point leaves either the old file or the
/// new one: the new one is written aside, fsynced, then renamed over. A
/// `stop` or a failure before the rename deletes the new one and keeps the
/// old. Returns the new file, open for appending, and how many keys it holds.
pub(super) fn rewrite(
    path: &Path,
    store: &Store,
    stop: &CancellationToken,
) -> Result<(File, usize), AofError> {
    let io_err = |source| AofError::Io {
        path: path.to_path_buf(),
        source,
    };
    remove_stale_rewrites(path);
    let tmp = rewrite_path(path);
    let keys = match write_rewrite(&tmp, store, stop) {
        Ok(keys) => keys,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    // The rename itself is durable only once the directory is.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
    }
    let file = OpenOptions::new().append(true).open(path).map_err(io_err)?;
    Ok((file, keys))
}

/// Writes the rewrite of `store` to `tmp` and fsyncs it; returns its keys.
fn write_rewrite(tmp: &Path, store: &Store, stop: &CancellationToken) -> Result<usize, AofError> {
    let io_err = |source| AofError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let mut file = io::BufWriter::new(File::create(tmp).map_err(io_err)?);
    let mut entry = Vec::new();
    let mut keys = 0;
    for (key, e) in store.entries() {
        if keys % CHECK_EVERY == 0 && stop.is_cancelled() {
            return Err(AofError::Stopped);
        }
        keys += 1;
        entry.clear();
        rebuild(&mut entry, key, e);
        file.write_all(&entry).map_err(io_err)?;
    }
    let file = file.into_inner().map_err(|e| io_err(e.into_error()))?;
    if stop.is_cancelled() {
        return Err(AofError::Stopped);
    }
    file.sync_all().map_err(io_err)?;
    Ok(keys)
}

#[cfg(test)]
mod tests;
