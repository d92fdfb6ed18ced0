//! The control socket: while `sundown run` runs, a Unix socket answers
//! HTTP/1.1 with JSON (`curl --unix-socket S http://x/status`), so a
//! running supervisor can be inspected and told to stop from the shell.
//!
//! Only the same user (or root) is served. The socket is created mode 0600
//! in a directory that others cannot write to, and every connection's peer
//! credentials (`SO_PEERCRED`) are checked as well, so a loosened file mode
//! does not open it up. A stale socket left by a dead run is replaced; a
//! live one means another sundown owns it, which is an error.
//!
//! Endpoints: `GET /status` ([`StatusView`], schema 1), `POST /shutdown`
//! (the same as SIGTERM), `GET /logs/NAME[?follow=1]` (a component's
//! recent output, then its new lines until the run ends), and the changes
//! `POST /stop/NAME`, `/start/NAME`, `/restart/NAME` and `/reload`, each
//! answered with two JSON lines: what it will do at once, then how it
//! ended once it has. The client side is [`client`].

pub mod client;

use std::convert::Infallible;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _,
    PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::event::Trigger;
use crate::logs::LogStore;
use crate::status::{Status, StatusView};
use crate::supervisor::Handle;

/// A client that sends nothing gets cut off after this.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients served at once (the control socket and the metrics port each).
pub(crate) const MAX_CLIENTS: usize = 32;
/// After a failed accept (out of descriptors), wait this long.
pub(crate) const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Why the control socket cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A live supervisor answers on it.
    #[error("another sundown is running with the control socket {0}")]
    InUse(PathBuf),
    /// Others could replace the socket there.
    #[error(
        "{0} is writable by every user, so the control socket is not served there; set `[supervisor] control_socket` to a path in a private directory"
    )]
    UnsafeDir(PathBuf),
    /// Something else is in the socket's place.
    #[error("{0} exists and is not a socket; not replacing it")]
    NotASocket(PathBuf),
    /// The file system said no.
    #[error("control socket: cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// To what.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// Where the control socket of the run of `config_path` is: the config's
/// `control_socket`, else `$XDG_RUNTIME_DIR/sundown/<name>-<hash>.sock`
/// (the hash of the config's absolute path, so two `supervisor.toml`s in
/// different directories do not collide), else `.sundown.<name>.sock` next
/// to the config file (`.sundown.supervisor.sock`).
pub fn socket_path(config: &Config, config_path: &Path) -> PathBuf {
    if let Some(p) = &config.supervisor.control_socket {
        return p.clone();
    }
    default_socket_path(config_path)
}

/// [`socket_path`] of a config file that may no longer be valid: only its
/// `[supervisor] control_socket` is read. A run must stay reachable (to
/// be told to reload, say) while its file is being edited.
pub fn socket_path_unchecked(config_path: &Path) -> PathBuf {
    let named = std::fs::read_to_string(config_path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| {
            let s = t
                .get("supervisor")?
                .get("control_socket")?
                .as_str()?
                .to_string();
            Some(s)
        });
    match named {
        Some(p) => config_path.parent().unwrap_or(Path::new(".")).join(p),
        None => default_socket_path(config_path),
    }
}

/// [`socket_path`] for a config that sets no `control_socket`.
pub fn default_socket_path(config_path: &Path) -> PathBuf {
    // Canonical, so `a/../supervisor.toml` and a symlink find the same run.
    let absolute = std::fs::canonicalize(config_path)
        .or_else(|_| std::path::absolute(config_path))
        .unwrap_or_else(|_| config_path.to_path_buf());
    let stem = config_path
        .file_stem()
        .map_or_else(|| "supervisor".into(), |s| s.to_string_lossy());
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            // FNV-1a: stable across runs and builds, unlike std's hasher.
            let hash = absolute
                .as_os_str()
                .as_encoded_bytes()
                .iter()
                .fold(0x811c_9dc5_u32, |h, b| {
                    (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
                });
            Path::new(&dir)
                .join("sundown")
                .join(format!("{stem}-{hash:08x}.sock"))
        }
        // Named after the config, so the configs of one directory
        // (`examples/`) can run side by side.
        None => absolute
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!(".sundown.{stem}.sock")),
    }
}

/// A bound control socket; removed when dropped.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// To remove only our own socket, not a successor's.
    ino: u64,
    /// Held (flock) while the socket lives.
    _lock: std::fs::File,
}

impl ControlSocket {
    /// Binds the socket at `path` (creating its directory, mode 0700, when
    /// missing). Must run inside a tokio runtime.
    ///
    /// `<path>.lock` is locked (`flock`) for as long as the socket lives,
    /// so two runs starting together cannot both decide the socket is stale.
    pub fn bind(path: &Path) -> Result<ControlSocket, ControlError> {
        let io = |what: &str, at: &Path| {
            let (what, at) = (what.to_string(), at.to_path_buf());
            move |source| ControlError::Io {
                what,
                path: at,
                source,
            }
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io("create the directory", dir))?;
        }
        let meta = std::fs::metadata(dir).map_err(io("look at the directory", dir))?;
        let me = nix::unistd::Uid::effective().as_raw();
        // Whoever can write there (or owns it) could replace the socket.
        if meta.permissions().mode() & 0o022 != 0 || (meta.uid() != me && meta.uid() != 0) {
            return Err(ControlError::UnsafeDir(dir.to_path_buf()));
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io("open the lock file", &lock_path))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(ControlError::InUse(path.to_path_buf()));
            }
            return Err(io("lock", &lock_path)(e));
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_socket() => {
                return Err(ControlError::NotASocket(path.to_path_buf()));
            }
            Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(ControlError::InUse(path.to_path_buf())),
                // Nobody listens: a dead run's socket.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(io("remove the stale socket", path))?
                }
                Err(e) => return Err(io("probe the existing socket", path)(e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("look at", path)(e)),
        }
        // Created 0600 from the start: no window with a looser mode.
        // SAFETY: umask only swaps the process's file-creation mask.
        let old = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above, restoring it.
        unsafe { libc::umask(old) };
        let listener = bound.map_err(io("bind", path))?;
        let ino = std::fs::metadata(path).map_err(io("look at", path))?.ino();
        Ok(ControlSocket {
            listener,
            path: path.to_path_buf(),
            ino,
            _lock: lock,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers requests until `stop` is cancelled, then removes the socket.
    /// `config` is the file `POST /reload` reads again.
    pub async fn serve(
        self,
        status: watch::Receiver<Status>,
        handle: Handle,
        logs: LogStore,
        config: Option<PathBuf>,
        stop: CancellationToken,
    ) {
        let ctx = Arc::new(Ctx {
            status,
            handle,
            logs,
            config,
            ends: stop.clone(),
        });
        let connections = TaskTracker::new();
        let clients = Clients::new(format!("control socket {}", self.path.display()));
        let me = nix::unistd::Uid::effective().as_raw();
        let accept = || async { self.listener.accept().await.map(|(s, _)| s) };
        while let Some((permit, stream)) = clients.next(&stop, accept).await {
            let peer = stream.peer_cred().map(|c| c.uid()).ok();
            let allowed = peer.is_some_and(|uid| uid == me || uid == 0);
            if !allowed {
                tracing::warn!(
                    "control socket: refused a client running as uid {}",
                    peer.map_or_else(|| "unknown".to_string(), |u| u.to_string())
                );
            }
            let ctx = Arc::clone(&ctx);
            let stop = stop.clone();
            connections.spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |req| {
                    let who = allowed.then_some(()).ok_or((peer, me));
                    let ctx = Arc::clone(&ctx);
                    async move { Ok::<_, Infallible>(answer(req, who, &ctx).await) }
                });
                serve_one(stream, service, &stop).await;
            });
        }
        connections.close();
        connections.wait().await;
    }
}

/// How long answers under way may take to finish once the run has ended
/// (a followed log ends its stream at once, then the connection closes).
const LAST_ANSWERS: Duration = Duration::from_millis(200);

/// Serves one connection: one request (no keep-alive), a bounded wait for
/// it, and at most [`LAST_ANSWERS`] more once `stop` is cancelled.
pub(crate) async fn serve_one<I, S, B>(io: I, service: S, stop: &CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    let cut = async {
        stop.cancelled().await;
        tokio::time::sleep(LAST_ANSWERS).await;
    };
    tokio::select! {
        // A garbage request gets hyper's 400 and ends here.
        r = conn => if let Err(e) = r {
            tracing::debug!("connection ended: {e}");
        },
        _ = cut => {}
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Accepts clients, at most [`MAX_CLIENTS`] at once: one that never reads
/// its answer holds a slot, never the daemon's file descriptors.
pub(crate) struct Clients {
    slots: Arc<tokio::sync::Semaphore>,
    what: String,
}

impl Clients {
    /// For the server named `what` in logs.
    pub(crate) fn new(what: String) -> Clients {
        Clients {
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS)),
            what,
        }
    }

    /// The next client and its slot (the slot is free again when the
    /// permit is dropped); `None` once `stop` is cancelled.
    pub(crate) async fn next<S, Fut>(
        &self,
        stop: &CancellationToken,
        accept: impl Fn() -> Fut,
    ) -> Option<(tokio::sync::OwnedSemaphorePermit, S)>
    where
        Fut: Future<Output = io::Result<S>>,
    {
        let permit = tokio::select! {
            _ = stop.cancelled() => return None,
            p = Arc::clone(&self.slots).acquire_owned() => p.ok()?,
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return None,
                accepted = accept() => match accepted {
                    Ok(stream) => return Some((permit, stream)),
                    Err(e) => {
                        // Out of descriptors, say: wait rather than spin.
                        tracing::warn!("{}: accept failed: {e}", self.what);
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                },
            }
        }
    }
}

/// What every request is answered from.
struct Ctx {
    status: watch::Receiver<Status>,
    handle: Handle,
    logs: LogStore,
    config: Option<PathBuf>,
    /// Cancelled when the run ends.
    ends: CancellationToken,
}

/// One response. `who` is `Err((peer uid, our uid))` for a refused client.
async fn answer(
    req: Request<Incoming>,
    who: Result<(), (Option<u32>, u32)>,
    ctx: &Ctx,
) -> Response<Body> {
    let Ctx {
        status,
        handle,
        logs,
        ends,
        ..
    } = ctx;
    if let Err((peer, me)) = who {
        let peer = peer.map_or_else(|| "an unknown user".to_string(), |u| format!("uid {u}"));
        return json(
            StatusCode::FORBIDDEN,
            &error(&format!(
                "{peer} may not use this socket; it belongs to uid {me}"
            )),
        );
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/status") => {
            // Copied out first: the engine waits for the lock while it is held.
            let snapshot = status.borrow().clone();
            let view: StatusView = snapshot.view(snapshot.now_ms());
            json(StatusCode::OK, &view)
        }
        (&Method::POST, "/shutdown") => {
            handle.shutdown(Trigger::Requested);
            json(StatusCode::ACCEPTED, &serde_json::json!({"ok": true}))
        }
        (&Method::POST, "/reload") => {
            let Some(path) = &ctx.config else {
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &error(
                        "this run cannot reload: it runs one component (`run --only`); restart it instead",
                    ),
                );
            };
            match handle.reload(path).await {
                Ok(accepted) => changing(accepted),
                Err(crate::ReloadError::Config(e)) => {
                    tracing::error!("reload refused, still running the old config: {e}");
                    json(StatusCode::BAD_REQUEST, &error(&e.to_string()))
                }
                Err(crate::ReloadError::Refused(r)) => refused(&r),
            }
        }
        (&Method::POST, p) if change_of(p).is_some() => {
            let Some(change) = change_of(p) else {
                unreachable!("matched by the guard")
            };
            match handle.change(change).await {
                Ok(accepted) => changing(accepted),
                Err(r) => refused(&r),
            }
        }
        (&Method::GET, p) if p.starts_with("/logs/") => {
            let name = &p["/logs/".len()..];
            let names: Vec<String> = status
                .borrow()
                .components
                .iter()
                .map(|c| c.name.clone())
                .collect();
            if !names.iter().any(|n| n == name) {
                let known: Vec<&str> = names.iter().map(String::as_str).collect();
                let hint = crate::config::did_you_mean(name, &known)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return json(
                    StatusCode::NOT_FOUND,
                    &error(&format!("there is no component `{name}`{hint}")),
                );
            }
            let follow = req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "follow=1" || kv == "follow"));
            log_lines(name, logs, follow.then(|| ends.clone()))
        }
        (_, "/status" | "/shutdown" | "/reload") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            &error(&format!(
                "{} {} is not allowed; use GET /status, POST /shutdown or POST /reload",
                req.method(),
                req.uri().path()
            )),
        ),
        (m, p) => json(
            StatusCode::NOT_FOUND,
            &error(&format!("no endpoint {m} {p}; {ENDPOINTS}")),
        ),
    }
}

const ENDPOINTS: &str = "there are GET /status, GET /logs/NAME, POST /shutdown, POST /stop/NAME, POST /start/NAME, POST /restart/NAME and POST /reload";

/// The change a `POST /stop/NAME` (`start`, `restart`) path asks for.
fn change_of(path: &str) -> Option<crate::Change> {
    let (verb, name) = path.strip_prefix('/')?.split_once('/')?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let name = name.to_string();
    Some(match verb {
        "stop" => crate::Change::Stop(name),
        "start" => crate::Change::Start(name),
        "restart" => crate::Change::Restart(name),
        _ => return None,
    })
}

/// A refused change: 404 for an unknown name, 409 for a graph that cannot take it now.
fn refused(r: &crate::Refused) -> Response<Body> {
    let code = match r {
        crate::Refused::Unknown { .. } => StatusCode::NOT_FOUND,
        crate::Refused::Gone => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::CONFLICT,
    };
    json(code, &error(&r.to_string()))
}

/// An accepted change, answered as it happens: a line saying what it
/// will do, then one saying how it ended (`{"done":true}`, or
/// `{"done":false,"error":…}`).
fn changing(accepted: crate::Accepted) -> Response<Body> {
    let head = serde_json::to_string(&accepted).unwrap_or_else(|_| "{}".into());
    let first = futures::stream::once(async move { Bytes::from(head + "\n") });
    let last = futures::stream::once(async move {
        let end = match accepted.finished().await {
            Ok(()) => serde_json::json!({ "done": true }),
            Err(e) => serde_json::json!({ "done": false, "error": e.to_string() }),
        };
        Bytes::from(end.to_string() + "\n")
    });
    let body = StreamBody::new(
        first
            .chain(last)
            .map(|b| Ok::<_, Infallible>(Frame::data(b))),
    );
    let mut resp = Response::new(http_body_util::BodyExt::boxed(body));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-ndjson"),
    );
    resp
}

fn error(message: &str) -> serde_json::Value {
    serde_json::json!({ "error": message })
}

type Body = BoxBody<Bytes, Infallible>;

/// `name`'s kept lines as text, one per line; with `follow`, then its new
/// lines until the run ends (`follow` is cancelled).
fn log_lines(name: &str, logs: &LogStore, follow: Option<CancellationToken>) -> Response<Body> {
    // Subscribe before reading the ring: a line between the two is not lost
    // (it may show twice, which is the better mistake).
    let live = follow.as_ref().map(|_| logs.subscribe());
    let recent: Vec<Bytes> = logs
        .recent(name)
        .into_iter()
        .map(|l| Bytes::from(format!("{}\n", l.text)))
        .collect();
    let head = futures::stream::iter(recent);
    let body: Body = match (live, follow) {
        (Some(live), Some(ends)) => {
            let name = name.to_string();
            let tail = futures::stream::unfold((live, ends), move |(mut live, ends)| {
                let name = name.clone();
                async move {
                    loop {
                        let next = tokio::select! {
                            _ = ends.cancelled() => return None,
                            n = live.recv() => n,
                        };
                        match next {
                            Ok(l) if l.component == name => {
                                return Some((Bytes::from(format!("{}\n", l.text)), (live, ends)));
                            }
                            Ok(_) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                                let note = format!(
                                    "[sundown: {n} line(s) of output missed here; this client read too slowly]\n"
                                );
                                return Some((Bytes::from(note), (live, ends)));
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                }
            });
            http_body_util::BodyExt::boxed(StreamBody::new(
                head.chain(tail)
                    .map(|b| Ok::<_, Infallible>(Frame::data(b))),
            ))
        }
        _ => http_body_util::BodyExt::boxed(StreamBody::new(
            head.map(|b| Ok::<_, Infallible>(Frame::data(b))),
        )),
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(code: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(body)
        .or_else(|e| serde_json::to_vec(&error(&e.to_string())))
        .unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}
