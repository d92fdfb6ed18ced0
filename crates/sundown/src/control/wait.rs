//! `GET /wait?ready`, `GET /wait?completed=NAME` and `GET /wait?end`: a
//! long poll that answers once the condition holds, or once it never can
//! (the run is shutting down, NAME failed or a reload removed it). It
//! watches the engine's status channel, so nothing polls; the client
//! bounds the wait (`sundown wait --timeout`).
//!
//! The head is sent at once and the answer is one JSON line,
//! `{"done": true}` or `{"done": false, "error": "…"}`, so a client's
//! timeout for the head never cuts a long wait short. `end` answers once
//! the run has ended, before the socket closes, with how:
//! `{"done": true, "exit": {"code": 4, "meaning": "second signal"}}`.

use std::convert::Infallible;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::StreamBody;
use hyper::Response;
use hyper::body::Frame;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::reply::{Body, unknown_component};
use crate::status::{ComponentState, Status};

/// What a client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Condition {
    /// Every component is up (ready, or finished by itself).
    Ready,
    /// This component ended by itself with exit status 0.
    Completed(String),
    /// The run has ended (its exit code is known).
    End,
}

impl Condition {
    /// `ready` (or nothing) or `completed=NAME`.
    pub(super) fn parse(query: Option<&str>) -> Result<Condition, String> {
        match query.unwrap_or("") {
            "" | "ready" => Ok(Condition::Ready),
            "end" => Ok(Condition::End),
            q => match q.strip_prefix("completed=") {
                Some(name) if !name.is_empty() => Ok(Condition::Completed(name.to_string())),
                _ => Err(format!(
                    "GET /wait?{q}: wait for `ready`, `completed=NAME` or `end`"
                )),
            },
        }
    }

    /// `Some(Ok)` once it holds, `Some(Err(why))` once it cannot any more,
    /// `None` while it may yet.
    fn settled(&self, s: &Status) -> Option<Result<(), String>> {
        let stopping = s.shutdown.as_ref().map(|sh| sh.trigger.to_string());
        match self {
            Condition::End => s.exit.is_some().then_some(Ok(())),
            Condition::Ready => {
                let not: Vec<String> = s
                    .components
                    .iter()
                    .filter(|c| !c.state.is_up())
                    .map(|c| format!("{} ({})", c.name, c.state.as_str()))
                    .collect();
                if not.is_empty() {
                    return Some(Ok(()));
                }
                stopping.map(|t| {
                    Err(format!(
                        "the run is shutting down ({t}); not ready: {}",
                        not.join(", ")
                    ))
                })
            }
            Condition::Completed(name) => {
                // It was there when the wait began (else a 404): a reload
                // removed it, and it can never complete now.
                let Some(c) = s.components.iter().find(|c| &c.name == name) else {
                    return Some(Err(format!("`{name}` was removed by a reload")));
                };
                match (c.state, stopping) {
                    (ComponentState::Exited | ComponentState::Completed, _) => Some(Ok(())),
                    (ComponentState::Failed, _) => Some(Err(format!("`{name}` failed"))),
                    (state, Some(t)) => Some(Err(format!(
                        "the run is shutting down ({t}) and `{name}` has not completed ({})",
                        state.as_str()
                    ))),
                    (_, None) => None,
                }
            }
        }
    }
}

/// The answer to a wait: 404 for an unknown component, else the long poll.
pub(super) fn answer(
    condition: Condition,
    mut status: watch::Receiver<Status>,
    ends: CancellationToken,
) -> Response<Body> {
    if let Condition::Completed(name) = &condition
        && let Some(missing) = unknown_component(&status.borrow(), name)
    {
        return missing;
    }
    let line = futures::stream::once(async move {
        let mut end = None;
        let waited = tokio::select! {
            // The run's end is published before the socket is told to
            // close: when both are there, the end is what is answered.
            biased;
            w = status.wait_for(|s| {
                end = condition.settled(s);
                end.is_some()
            }) => w.is_ok(),
            () = ends.cancelled() => false,
        };
        let exit = status.borrow().exit.clone();
        let end = match end {
            Some(Ok(())) if waited && condition == Condition::End => {
                serde_json::json!({ "done": true, "exit": exit })
            }
            Some(Ok(())) if waited => serde_json::json!({ "done": true }),
            Some(Err(why)) if waited => serde_json::json!({ "done": false, "error": why }),
            _ => serde_json::json!({ "done": false, "error": "the run ended" }),
        };
        Bytes::from(end.to_string() + "\n")
    });
    let body = StreamBody::new(line.map(|b| Ok::<_, Infallible>(Frame::data(b))));
    let mut resp = Response::new(http_body_util::BodyExt::boxed(body));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-ndjson"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::Condition;
    use crate::event::{Event, EventKind, Trigger};
    use crate::status::Status;

    /// The status of a run of `db` (a sim), just started.
    fn status() -> Status {
        let text = "[components.db]\nkind = \"sim\"\n";
        let config = crate::config::Config::parse(text, "s.toml", std::path::Path::new("/"))
            .unwrap_or_else(|e| panic!("{e}"));
        let graph = crate::graph::Graph::new(&config);
        let plan = crate::plan::Plan::new(&config, &graph);
        Status::new(&config, &graph, &plan, tokio::time::Instant::now())
    }

    #[test]
    fn waiting_for_a_component_a_reload_removed_ends_with_why() {
        let mut s = status();
        let gone = Condition::Completed("migrate".into());
        let removed = Some(Err("`migrate` was removed by a reload".to_string()));
        assert_eq!(gone.settled(&s), removed);
        // Shutting down too: still answered, with the same reason.
        let e = Event {
            at: std::time::Duration::ZERO,
            kind: EventKind::ShutdownStarted(Trigger::Signal("SIGTERM".into())),
        };
        s.apply(&e, 1);
        assert_eq!(gone.settled(&s), removed);
        let there = Condition::Completed("db".into());
        assert!(
            matches!(there.settled(&s), Some(Err(why)) if why.starts_with("the run is shutting down")),
            "{:?}",
            there.settled(&s)
        );
    }

    #[test]
    fn conditions_parse() {
        assert_eq!(Condition::parse(None), Ok(Condition::Ready));
        assert_eq!(Condition::parse(Some("ready")), Ok(Condition::Ready));
        assert_eq!(
            Condition::parse(Some("completed=migrate")),
            Ok(Condition::Completed("migrate".into()))
        );
        assert_eq!(Condition::parse(Some("end")), Ok(Condition::End));
        assert!(Condition::parse(Some("completed=")).is_err());
        assert!(Condition::parse(Some("bogus")).is_err());
    }
}
