//! What the control socket answers: one function per request, from the
//! status snapshot, the log store and the engine's handle.

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::SocketTarget;
use super::log_lines::{LogQuery, log_lines};
use super::reply::{Body, error, json, unknown_component};
use crate::event::Trigger;
use crate::logs::LogStore;
use crate::status::{Status, StatusView};
use crate::supervisor::Handle;

/// What every request is answered from.
pub(super) struct Ctx {
    pub(super) status: watch::Receiver<Status>,
    pub(super) handle: Handle,
    pub(super) logs: LogStore,
    /// Where `POST /reload` reads the config; `None` for a run that cannot reload.
    pub(super) reload: Option<SocketTarget>,
    /// Rung after a reload began, so the socket follows `control_socket`.
    pub(super) moves: Arc<Notify>,
    /// Cancelled when the run ends.
    pub(super) ends: CancellationToken,
}

/// One response. `who` is `Err((peer uid, our uid))` for a refused client.
pub(super) async fn answer(
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
            let usage = crate::usage::sample(&snapshot).await;
            let view: StatusView = snapshot.view(snapshot.now_ms()).with_usage(usage);
            json(StatusCode::OK, &view)
        }
        (&Method::GET, "/wait") => match super::wait::Condition::parse(req.uri().query()) {
            Ok(condition) => super::wait::answer(condition, status.clone(), ends.clone()),
            Err(e) => json(StatusCode::BAD_REQUEST, &error(&e)),
        },
        (&Method::POST, "/shutdown") => {
            handle.shutdown(Trigger::Requested);
            json(StatusCode::ACCEPTED, &serde_json::json!({"ok": true}))
        }
        // A dry run of a change is its own path, not a flag on the change:
        // a supervisor that does not know it answers 404 rather than
        // making the change.
        (&Method::POST, p) if req.uri().query().is_some() && is_change(p) => json(
            StatusCode::BAD_REQUEST,
            &error(&format!(
                "POST {p} takes no query; GET /plan{p} says what it would do without doing it"
            )),
        ),
        (&Method::GET, p) if p.starts_with("/plan/") => previewed(&p["/plan".len()..], ctx).await,
        (&Method::POST, "/reload") => {
            let Some(target) = &ctx.reload else {
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &error(
                        "this run cannot reload: it runs one component (`run --only`); restart it instead",
                    ),
                );
            };
            reloaded(handle.reload(&target.config_path).await, ctx)
        }
        (&Method::POST, p) if p.starts_with("/scale/") => {
            let Some(target) = &ctx.reload else {
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &error("this run cannot scale: it runs one component (`run --only`)"),
                );
            };
            let Some((name, n)) = p["/scale/".len()..].split_once('/') else {
                return json(
                    StatusCode::BAD_REQUEST,
                    &error("use POST /scale/NAME/COUNT"),
                );
            };
            let Ok(n) = n.parse::<u32>() else {
                return json(
                    StatusCode::BAD_REQUEST,
                    &error(&format!("`{n}` is not a count of instances")),
                );
            };
            reloaded(handle.scale(&target.config_path, name, n).await, ctx)
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
            if let Some(missing) = unknown_component(&status.borrow(), name) {
                return missing;
            }
            let q = LogQuery::parse(Some(name), req.uri().query());
            log_lines(q, logs, ends)
        }
        (&Method::GET, "/logs" | "/logs/") => {
            log_lines(LogQuery::parse(None, req.uri().query()), logs, ends)
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

const ENDPOINTS: &str = "there are GET /status, GET /wait?ready, GET /wait?completed=NAME, GET /wait?end, GET /logs[/NAME], POST /shutdown, POST /stop/NAME, POST /start/NAME, POST /restart/NAME, POST /reload, POST /scale/NAME/COUNT, and GET /plan/stop/NAME (start, restart, reload) for what a change would do";

/// The answer to a reload or a scale, which reads the config again.
fn reloaded(result: Result<crate::Accepted, crate::ReloadError>, ctx: &Ctx) -> Response<Body> {
    match result {
        Ok(accepted) => {
            ctx.moves.notify_one();
            changing(accepted)
        }
        Err(crate::ReloadError::Config(e)) => {
            tracing::error!("reload refused, still running the old config: {e}");
            json(StatusCode::BAD_REQUEST, &error(&e.to_string()))
        }
        Err(e) => reload_failed(&e),
    }
}

fn reload_failed(e: &crate::ReloadError) -> Response<Body> {
    match e {
        crate::ReloadError::Refused(r) => refused(r),
        e => json(StatusCode::BAD_REQUEST, &error(&e.to_string())),
    }
}

/// `GET /plan/stop/NAME` (`start`, `restart`, `reload`): what the change at
/// `path` would do now, as the engine works it out for the change itself
/// (one JSON object, the first line of the change's answer), or the
/// refusal the change would get. Nothing is changed.
async fn previewed(path: &str, ctx: &Ctx) -> Response<Body> {
    let answer = if path == "/reload" {
        let Some(target) = &ctx.reload else {
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                &error("this run cannot reload: it runs one component (`run --only`)"),
            );
        };
        ctx.handle.preview_reload(&target.config_path).await
    } else if let Some(change) = change_of(path) {
        ctx.handle.preview(change).await.map_err(Into::into)
    } else {
        return json(
            StatusCode::NOT_FOUND,
            &error(&format!(
                "no endpoint GET /plan{path}; there are GET /plan/stop/NAME, /plan/start/NAME, /plan/restart/NAME and /plan/reload"
            )),
        );
    };
    match answer {
        Ok(preview) => json(StatusCode::OK, &preview),
        Err(e) => reload_failed(&e),
    }
}

/// Whether `path` is one of the changes (`/stop/NAME`, …, `/reload`, `/scale/…`).
fn is_change(path: &str) -> bool {
    path == "/reload" || path.starts_with("/scale/") || change_of(path).is_some()
}

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
