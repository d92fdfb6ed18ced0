//! The shapes every answer of the control socket takes: its body type and
//! the JSON replies, shared by the endpoints (`answer`, `wait`, `log_lines`).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::{Response, StatusCode};

use crate::status::Status;

pub(super) fn error(message: &str) -> serde_json::Value {
    serde_json::json!({ "error": message })
}

pub(super) type Body = BoxBody<Bytes, Infallible>;

pub(super) fn json(code: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
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

/// A 404 naming the closest component when `name` is none of `status`'s;
/// `None` when it is one. Worded as the engine's own refusal.
pub(super) fn unknown_component(status: &Status, name: &str) -> Option<Response<Body>> {
    let known: Vec<&str> = status.components.iter().map(|c| c.name.as_str()).collect();
    if known.contains(&name) {
        return None;
    }
    let refused = crate::Refused::Unknown {
        name: name.to_string(),
        hint: crate::config::did_you_mean(name, &known).map(str::to_string),
    };
    Some(json(StatusCode::NOT_FOUND, &error(&refused.to_string())))
}
