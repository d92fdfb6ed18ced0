//! `kind = "http"`: the job pipeline's front end. `POST /jobs` queues a job
//! in Redis (see [`super::jobs`] for the contract), `GET /jobs/{id}` tells
//! where it is, `/healthz` and `/readyz` are for a load balancer.
//!
//! The accept loop is written by hand (rather than `axum::serve`) because a
//! stop has three steps a load balancer needs in this order: `/readyz`
//! turns 503 while everything else still works (`drain_delay`), then the
//! listener closes, then in-flight requests finish and idle keep-alive
//! connections close. A kill closes every connection at once.

mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::LengthLimitError;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub use self::settings::{HttpSpec, KIND};
use crate::jobs::{self, Keys, LazyRedis, RedisUnavailable, STATUS_FIELD, Status};
use sundown::component::{BoxFuture, Component, Exit, Lifecycle};

/// Largest accepted job body; larger ones get 413.
pub const MAX_BODY: usize = 1 << 20;
/// Longest a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (out of file descriptors, say) so the loop
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The `http` component.
pub struct Http {
    spec: HttpSpec,
}

impl Http {
    /// A component for this spec.
    pub fn new(spec: HttpSpec) -> Http {
        Http { spec }
    }
}

impl Component for Http {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(serve(self.spec, life))
    }
}

/// How many ids one `INCRBY` reserves. One Redis round trip per job
/// instead of two: each write waits for an fsync with `appendfsync =
/// "always"`, so this nearly doubles the jobs accepted per second. A
/// restart leaves a gap of at most this many ids, never a repeat (the
/// counter itself is durable).
const ID_BLOCK: i64 = 100;

/// What the request handlers share.
struct App {
    keys: Keys,
    redis: LazyRedis,
    /// The reserved ids not handed out yet: `next..=last`.
    ids: tokio::sync::Mutex<(i64, i64)>,
    /// False from the stop request on: `/readyz` answers 503.
    ready: AtomicBool,
}

impl App {
    /// Queues a job (the payload is one valid JSON value) and returns its id
    /// once Redis has acknowledged it.
    async fn enqueue(&self, payload: &[u8]) -> Result<i64, RedisUnavailable> {
        let id = self.next_id().await?;
        let mut tx = ::redis::pipe();
        tx.atomic()
            .cmd("HSET")
            .arg(self.keys.job(id))
            .arg(STATUS_FIELD)
            .arg(Status::Queued.as_str())
            .ignore()
            .cmd("LPUSH")
            .arg(self.keys.queue())
            .arg(jobs::job_json(id, payload))
            .ignore();
        self.redis.query_pipe::<()>(&tx).await?;
        Ok(id)
    }

    /// The next id, reserving a new block from Redis when this one is used
    /// up. The lock is held across the refill so one `INCRBY` serves everyone
    /// waiting.
    async fn next_id(&self) -> Result<i64, RedisUnavailable> {
        let mut ids = self.ids.lock().await;
        if ids.0 > ids.1 {
            let last: i64 = self
                .redis
                .query(
                    ::redis::cmd("INCRBY")
                        .arg(self.keys.next_id())
                        .arg(ID_BLOCK),
                )
                .await?;
            *ids = (last - ID_BLOCK + 1, last);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    async fn status(&self, id: i64) -> Result<Option<String>, RedisUnavailable> {
        self.redis
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.job(id))
                    .arg(STATUS_FIELD),
            )
            .await
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    json(status, serde_json::json!({ "error": message.to_string() }))
}

async fn submit(State(app): State<Arc<App>>, request: Request) -> Response {
    // A body announced too large is refused before it is read; one that
    // grows too large unannounced (chunked) when it passes the limit.
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    };
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    // A client trickling its body would otherwise hold a connection (and a
    // `max_connections` slot) forever, and keep a graceful stop waiting.
    let read = tokio::time::timeout(
        BODY_TIMEOUT,
        axum::body::to_bytes(request.into_body(), MAX_BODY),
    );
    let body = match read.await {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {BODY_TIMEOUT:?}"),
            );
        }
        Ok(Ok(b)) => b,
        Ok(Err(e)) if source_is::<LengthLimitError>(&e) => return too_large(),
        Ok(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            );
        }
    };
    let payload = body.trim_ascii();
    if let Err(e) = std::str::from_utf8(payload) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: not UTF-8 ({e})"),
        );
    }
    if let Err(e) = jobs::check_payload(payload) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        );
    }
    match app.enqueue(payload).await {
        Ok(id) => json(
            StatusCode::ACCEPTED,
            serde_json::json!({ "id": id, "status": Status::Queued.as_str() }),
        ),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("job not accepted: {e}"),
        ),
    }
}

async fn job_status(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    match app.status(id).await {
        Ok(Some(status)) => json(
            StatusCode::OK,
            serde_json::json!({ "id": id, "status": status }),
        ),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no job {id}")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    }
}

/// Whether `e` or one of its causes is a `T`.
fn source_is<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<T>() {
            return true;
        }
        cause = c.source();
    }
    false
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/jobs", post(submit))
        .route("/jobs/{id}", get(job_status))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(app)
}

/// The open connections, counted for the live status.
struct Connections {
    open: AtomicUsize,
    changed: Notify,
}

impl jobs::Observed for Connections {
    fn changed(&self) -> &Notify {
        &self.changed
    }

    fn detail(&self) -> String {
        format!("{} connections", self.open.load(Ordering::Relaxed))
    }
}

/// How the accept loop ended.
enum Accepting {
    /// The stop request's drain delay is over: close the listener.
    Drained,
    /// Killed: close everything now.
    Killed,
}

/// Everything a connection task needs, so the accept loop stays readable.
struct Server {
    name: String,
    router: Router,
    graceful: GracefulShutdown,
    tracker: TaskTracker,
    force: CancellationToken,
    connections: Arc<Connections>,
}

impl Server {
    fn spawn_connection(&self, stream: TcpStream, permit: Option<OwnedSemaphorePermit>) {
        // Small request/response pairs: do not let Nagle hold back a reply.
        let _ = stream.set_nodelay(true);
        let conn = http1::Builder::new()
            // The timer enables hyper's header read timeout, so a client
            // that never finishes its headers cannot hold a connection.
            .timer(TokioTimer::new())
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(self.router.clone()),
            );
        // Watch before spawning: a shutdown signalled right after still reaches it.
        let conn = self.graceful.watch(conn);
        let force = self.force.clone();
        let connections = Arc::clone(&self.connections);
        let name = self.name.clone();
        connections.open.fetch_add(1, Ordering::Relaxed);
        connections.changed.notify_one();
        self.tracker.spawn(async move {
            tokio::select! {
                r = conn => if let Err(e) = r {
                    debug!(component = %name, "{name}: connection ended: {e}");
                },
                // Dropping the connection closes the socket mid-request.
                _ = force.cancelled() => {}
            }
            drop(permit);
            connections.open.fetch_sub(1, Ordering::Relaxed);
            connections.changed.notify_one();
        });
    }

    /// Accepts until `until` completes (the stop's drain delay) or a kill.
    async fn accept_loop(
        &self,
        listener: &TcpListener,
        limit: Option<Arc<Semaphore>>,
        until: impl Future<Output = ()>,
        kill: impl Future<Output = ()>,
    ) -> Accepting {
        let name = &self.name;
        tokio::pin!(until, kill);
        loop {
            let permit = match &limit {
                None => None,
                Some(sem) => tokio::select! {
                    p = Arc::clone(sem).acquire_owned() => p.ok(),
                    _ = &mut until => return Accepting::Drained,
                    _ = &mut kill => return Accepting::Killed,
                },
            };
            tokio::select! {
                biased;
                _ = &mut kill => return Accepting::Killed,
                _ = &mut until => return Accepting::Drained,
                r = listener.accept() => match r {
                    Ok((stream, _peer)) => self.spawn_connection(stream, permit),
                    Err(e) => {
                        warn!(component = %name, "{name}: accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                        tokio::select! {
                            _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                            _ = &mut until => return Accepting::Drained,
                            _ = &mut kill => return Accepting::Killed,
                        }
                    }
                },
            }
        }
    }
}

async fn serve(spec: HttpSpec, life: Lifecycle) -> Exit {
    let name = life.name().to_string();
    let redis = match LazyRedis::new(&spec.redis) {
        Ok(r) => r,
        Err(e) => return Exit::Error(e.to_string()),
    };
    let listener = match TcpListener::bind(spec.listen).await {
        Ok(l) => l,
        Err(e) => return Exit::Error(format!("cannot listen on {}: {e}", spec.listen)),
    };
    let addr = listener.local_addr().unwrap_or(spec.listen);
    let app = Arc::new(App {
        keys: Keys::new(&spec.queue),
        redis,
        // Empty (next > last): the first job reserves a block.
        ids: tokio::sync::Mutex::new((1, 0)),
        ready: AtomicBool::new(true),
    });
    let server = Server {
        name: name.clone(),
        router: router(Arc::clone(&app)),
        graceful: GracefulShutdown::new(),
        tracker: TaskTracker::new(),
        force: CancellationToken::new(),
        connections: Arc::new(Connections {
            open: AtomicUsize::new(0),
            changed: Notify::new(),
        }),
    };
    let life = Arc::new(life);
    let _detail = jobs::spawn_detail(Arc::clone(&life), Arc::clone(&server.connections));
    info!(component = %name, "{name}: listening on {addr} (queue `{}` at {})", spec.queue, spec.redis);
    life.ready();

    let drain = async {
        life.stop_requested().await;
        app.ready.store(false, Ordering::Relaxed);
        info!(component = %name, "{name}: stopping: /readyz answers 503, still serving for {:?}", spec.drain_delay);
        tokio::time::sleep(spec.drain_delay).await;
    };
    let limit = spec.max_connections.map(|n| Arc::new(Semaphore::new(n)));
    let ended = server
        .accept_loop(&listener, limit, drain, life.kill_requested())
        .await;
    drop(listener);
    let Server {
        graceful,
        tracker,
        force,
        connections,
        ..
    } = server;
    tracker.close();
    if let Accepting::Drained = ended {
        let open = connections.open.load(Ordering::Relaxed);
        info!(component = %name, "{name}: listener closed; waiting for {open} connection(s) to finish");
        tokio::select! {
            _ = async { graceful.shutdown().await; tracker.wait().await } => {
                info!(component = %name, "{name}: stopped");
                return Exit::Code(0);
            }
            _ = life.kill_requested() => {}
        }
    }
    let open = connections.open.load(Ordering::Relaxed);
    warn!(component = %name, "{name}: killed; closing {open} connection(s)");
    force.cancel();
    tracker.wait().await;
    Exit::Signal("SIGKILL".into())
}
