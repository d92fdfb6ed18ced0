//! `kind = "redis"`: a Redis stand-in that real clients (`redis-cli`, the
//! `redis` crate, `redis-benchmark`) accept.
//!
//! It speaks RESP2 over TCP with the commands a job queue needs (strings,
//! expiry, lists with blocking pops and moves, hashes, transactions) and
//! keeps its data in memory, optionally made durable by an append-only file
//! in Redis's format. Modules: `codec` (the wire) and `reply` (what is
//! answered), `store` (data and expiry, under one lock) with `value` (what
//! a key holds) and `blocking` (clients blocked on lists), `commands` and
//! `session` (what requests do), `conn` (a connection), `shared` (what the
//! connections share), `aof` (the file).
//!
//! Limits: with `password` set, nothing but `AUTH`, `HELLO` and `QUIT` runs
//! before the client has given it (`session`, `commands/auth.rs`); a
//! connection whose unread replies pass `client_output_limit` is closed
//! (`conn`); past `max_memory`, commands that would add data answer `-OOM`
//! (`session`, `store/memory.rs`).
//!
//! Stopping: the listener closes, each connection finishes and answers
//! what it had already received, a client blocked in `BRPOP` sees its
//! connection closed (never a reply it would take for a timeout), the file
//! is fsynced, and the component exits 0. The store is freed afterwards, on
//! a thread of its own: dropping millions of keys takes seconds the engine
//! would count against the stop timeout. A stop during the replay of the
//! file at start is seen within a thousand commands; the file is then left
//! exactly as it was (neither cut nor rewritten) and the next start replays
//! it in full. A stop during the rewrite that follows a replay deletes the
//! half-written new file and keeps the old one.

mod settings;

mod aof;
mod blocking;
mod clients;
mod codec;
mod commands;
mod conn;
mod glob;
mod int;
mod reply;
mod session;
mod shared;
mod store;
mod value;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use self::settings::{AppendFsync, DEFAULT_CLIENT_OUTPUT_LIMIT, KIND, RedisSpec};
use aof::{AofError, Loaded};
pub use shared::{ServerInfo, Shared};
use store::Store;
use sundown::component::{BoxFuture, Component, Exit, Lifecycle};

/// The `redis` component.
pub struct Redis {
    spec: RedisSpec,
}

impl Redis {
    /// A component for this spec.
    pub fn new(spec: RedisSpec) -> Redis {
        Redis { spec }
    }
}

impl Component for Redis {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(run(self.spec, life))
    }
}

fn killed() -> Exit {
    Exit::Signal("SIGKILL".into())
}

/// Why the data could not be loaded at start.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    /// The append-only file could not be read, replayed or rewritten.
    #[error(transparent)]
    Aof(#[from] AofError),
    /// The thread replaying it failed.
    #[error("loading the append-only file failed: {0}")]
    Thread(tokio::task::JoinError),
}

/// Replays the append-only file off the runtime's threads; gives up soon
/// after `stop` ([`AofError::Stopped`]), leaving the file as it was. The
/// store of a replay given up is freed on a thread of its own.
async fn load(
    spec: &RedisSpec,
    name: &str,
    info: ServerInfo,
    stop: CancellationToken,
) -> Result<(Store, ServerInfo, Option<Loaded>), LoadError> {
    let mut store = Store::new();
    let Some(path) = spec.aof.clone() else {
        return Ok((store, info, None));
    };
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let mut loaded = match aof::load(&path, &mut store, &info, &stop) {
            Ok(l) => l,
            Err(e) => {
                free_later(store);
                return Err(e.into());
            }
        };
        if loaded.truncated > 0 {
            warn!(
                "{name}: append-only file {} ended in an incomplete command (a crash mid-write?): cut off its last {} bytes",
                path.display(),
                loaded.truncated
            );
        }
        info!(
            "{name}: replayed {} commands from {}",
            loaded.commands,
            path.display()
        );
        if loaded.commands > 0 {
            match aof::rewrite(&path, &store, &stop) {
                Ok((file, keys)) => {
                    loaded.file = file;
                    info!("{name}: rewrote {} with its {keys} keys", path.display());
                }
                Err(e) => {
                    free_later(store);
                    return Err(e.into());
                }
            }
        }
        store.enable_aof();
        Ok((store, info, Some(loaded)))
    })
    .await
    .map_err(LoadError::Thread)?
}

/// Frees `value` on a thread of its own. Dropping a store of millions of
/// keys takes a second or more, which must not delay the exit the engine
/// waits for (and times out); if the process ends first, exiting frees the
/// memory anyway. A plain thread, not `spawn_blocking`: the runtime waits
/// for its blocking tasks when it shuts down, not for other threads.
fn free_later<T: Send + 'static>(value: T) {
    // Spawning fails only when threads run out; the value is then dropped
    // right here, with the closure.
    let _ = std::thread::Builder::new()
        .name("redis-free".into())
        .spawn(move || drop(value));
}

async fn run(spec: RedisSpec, life: Lifecycle) -> Exit {
    let name = life.name().to_string();
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let info = ServerInfo {
        name: name.clone(),
        password: spec.password.clone().map(Bytes::from),
        client_output_limit: size(spec.client_output_limit),
        max_memory: spec.max_memory.map(size),
        ..ServerInfo::new(spec.listen.port(), spec.aof.is_some(), spec.appendfsync)
    };
    let stop_loading = CancellationToken::new();
    let loading = load(&spec, &name, info, stop_loading.clone());
    tokio::pin!(loading);
    let loaded = tokio::select! {
        r = &mut loading => r,
        _ = life.stop_requested() => {
            // Wait for the replay to give up (milliseconds), so nothing
            // touches the file once this has ended.
            stop_loading.cancel();
            tokio::select! {
                r = &mut loading => if let Ok((store, ..)) = r { free_later(store) },
                _ = life.kill_requested() => return killed(),
            }
            info!("{name}: stopped while loading; the next start replays the append-only file in full");
            return Exit::Code(0);
        }
        // The file is safe without waiting: a rewrite replaces it by a rename.
        _ = life.kill_requested() => {
            stop_loading.cancel();
            return killed();
        }
    };
    let (store, info, loaded) = match loaded {
        Ok(l) => l,
        Err(e) => return Exit::Error(e.to_string()),
    };
    serve(&spec, &life, store, info, loaded).await
}

/// Serves the loaded `store` until stopped. The store is freed after the
/// exit is returned (see [`free_later`]), the append-only file being
/// already fsynced by then.
async fn serve(
    spec: &RedisSpec,
    life: &Lifecycle,
    store: Store,
    mut info: ServerInfo,
    loaded: Option<Loaded>,
) -> Exit {
    let listener = match TcpListener::bind(spec.listen).await {
        Ok(l) => l,
        Err(e) => {
            free_later(store);
            return Exit::Error(format!("cannot listen on {}: {e}", spec.listen));
        }
    };
    let local = listener.local_addr().unwrap_or(spec.listen);
    info.port = local.port();
    let (writer, link) = match loaded {
        Some(l) => {
            let (w, link) = aof::writer(l.file, spec.appendfsync);
            (Some(w), Some(link))
        }
        None => (None, None),
    };
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        info,
        aof: link,
    });
    let exit = accept(life, listener, shared.clone(), writer).await;
    free_later(shared);
    exit
}

/// Accepts and serves connections until stopped, killed, or the writer
/// fails; returns the exit once the file is fsynced.
async fn accept(
    life: &Lifecycle,
    listener: TcpListener,
    shared: Arc<Shared>,
    writer: Option<aof::Writer>,
) -> Exit {
    let name = life.name().to_string();
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // Cancelled when this future ends or is dropped, so the writer always
    // gets to write and fsync what was logged.
    let writer_done = CancellationToken::new();
    let _writer_guard = writer_done.clone().drop_guard();
    let mut writer = writer.map(|w| tokio::spawn(w.run(shared.clone(), writer_done.clone())));
    info!("{name}: listening on {local}");
    life.ready();
    life.detail(Some("0 clients".into()));

    let conns_stop = CancellationToken::new();
    let mut conns = JoinSet::new();
    let mut next_id = 0u64;
    let clients = |n: usize| life.detail(Some(format!("{n} clients")));
    // After a failed accept (out of file descriptors and the like), wait a
    // little or for a connection to end and free one, instead of spinning.
    let mut backoff: Option<tokio::time::Instant> = None;
    let failed = loop {
        tokio::select! {
            _ = sleep_until(backoff), if backoff.is_some() => backoff = None,
            r = listener.accept(), if backoff.is_none() => match r {
                Ok((sock, _)) => {
                    // Replies are written whole per batch; Nagle would only delay them.
                    let _ = sock.set_nodelay(true);
                    next_id += 1;
                    conns.spawn(conn::serve(sock, shared.clone(), next_id, conns_stop.clone()));
                    clients(conns.len());
                }
                Err(e) => {
                    warn!("{name}: accept failed: {e}");
                    backoff = Some(tokio::time::Instant::now() + ACCEPT_BACKOFF);
                }
            },
            Some(_) = conns.join_next() => {
                backoff = None;
                clients(conns.len());
            }
            r = writer_failed(&mut writer) => break Some(r),
            _ = life.stop_requested() => break None,
            _ = life.kill_requested() => {
                conns.shutdown().await;
                return finish(&name, &mut writer, &writer_done, killed()).await;
            }
        }
    };
    drop(listener);
    if let Some(e) = failed {
        conns.shutdown().await;
        return Exit::Error(format!("append-only file: {e}"));
    }
    info!(
        "{name}: stopping: answering what is in flight, then closing {} connection(s)",
        conns.len()
    );
    conns_stop.cancel();
    loop {
        tokio::select! {
            j = conns.join_next() => match j {
                Some(_) => clients(conns.len()),
                None => break,
            },
            r = writer_failed(&mut writer) => {
                conns.shutdown().await;
                return Exit::Error(format!("append-only file: {r}"));
            }
            _ = life.kill_requested() => {
                conns.shutdown().await;
                return finish(&name, &mut writer, &writer_done, killed()).await;
            }
        }
    }
    finish(&name, &mut writer, &writer_done, Exit::Code(0)).await
}

/// How long to wait after a failed accept when no connection ends first.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

type WriterTask = Option<tokio::task::JoinHandle<std::io::Result<()>>>;

/// Completes when the writer stops before being told to: always a failure.
async fn writer_failed(writer: &mut WriterTask) -> String {
    match writer {
        Some(h) => {
            let r = h.await;
            *writer = None;
            match r {
                Ok(Ok(())) => "the writer stopped".into(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            }
        }
        None => std::future::pending().await,
    }
}

/// Lets the writer write and fsync the rest, then ends with `exit`.
async fn finish(name: &str, writer: &mut WriterTask, done: &CancellationToken, exit: Exit) -> Exit {
    done.cancel();
    if let Some(h) = writer.take() {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Exit::Error(format!("append-only file: {e}")),
            Err(e) => return Exit::Error(format!("append-only file writer: {e}")),
        }
    }
    info!("{name}: stopped");
    exit
}

#[cfg(test)]
mod tests;
