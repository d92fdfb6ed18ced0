//! The requests: `POST /jobs` (checked, then queued in Redis), `GET
//! /jobs/{id}`, `/healthz`, `/readyz`, and the state they share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::LengthLimitError;

use crate::jobs::{self, Keys, LazyRedis, RedisUnavailable, STATUS_FIELD, Status};

/// Largest accepted job body; larger ones get 413.
pub const MAX_BODY: usize = 1 << 20;
/// Longest a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many ids one `INCRBY` reserves. One Redis round trip per job
/// instead of two: each write waits for an fsync with `appendfsync =
/// "always"`, so this nearly doubles the jobs accepted per second. A
/// restart leaves a gap of at most this many ids, never a repeat (the
/// counter itself is durable).
const ID_BLOCK: i64 = 100;

/// What the request handlers share.
pub(super) struct App {
    pub(super) keys: Keys,
    pub(super) redis: LazyRedis,
    /// The reserved ids not handed out yet: `next..=last`.
    pub(super) ids: tokio::sync::Mutex<(i64, i64)>,
    /// False from the stop request on: `/readyz` answers 503.
    pub(super) ready: AtomicBool,
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

/// The routes, serving `app`.
pub(super) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/jobs", post(submit))
        .route("/jobs/{id}", get(job_status))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(app)
}
