//! `GET /logs[/NAME][?n=N&since=MS&follow=1]`: a component's kept lines,
//! or every component's in time order, then (with `follow`) the new ones.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::StreamBody;
use hyper::Response;
use hyper::body::Frame;
use tokio_util::sync::CancellationToken;

use super::reply::Body;
use crate::logs::{Line, LogStore};

/// Which lines `sundown logs` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// One component's (its lines as they were printed), or every
    /// component's (each line with its time and name).
    pub name: Option<String>,
    /// Only the last this many kept lines (`-n`).
    pub last: Option<usize>,
    /// Only lines this recent (`--since`).
    pub since: Option<Duration>,
    /// Then the new lines until the run ends (`-f`).
    pub follow: bool,
}

impl LogQuery {
    /// The request's path and query.
    pub fn uri(&self) -> String {
        let mut q = Vec::new();
        if let Some(n) = self.last {
            q.push(format!("n={n}"));
        }
        if let Some(s) = self.since {
            q.push(format!("since={}", s.as_millis()));
        }
        if self.follow {
            q.push("follow=1".to_string());
        }
        let path = match &self.name {
            Some(name) => format!("/logs/{name}"),
            None => "/logs".to_string(),
        };
        if q.is_empty() {
            path
        } else {
            format!("{path}?{}", q.join("&"))
        }
    }

    /// Reads a request's; unknown or malformed parameters are ignored.
    pub(super) fn parse(name: Option<&str>, query: Option<&str>) -> LogQuery {
        let mut q = LogQuery {
            name: name.map(str::to_string),
            ..LogQuery::default()
        };
        for kv in query.unwrap_or_default().split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "n" => q.last = v.parse().ok(),
                "since" => q.since = v.parse().ok().map(Duration::from_millis),
                "follow" => q.follow = v != "0",
                _ => {}
            }
        }
        q
    }
}

/// A line as `sundown logs NAME` prints it: a program's output as it
/// wrote it, sundown's messages about the component with their level.
/// Without a name, every line with its time and component.
fn format(line: &Line, named: bool) -> Bytes {
    let text = match (named, line.is_message()) {
        (true, false) => format!("{}\n", line.text),
        (true, true) => format!("[{}] {}\n", line.stream, line.text),
        (false, _) => format!(
            "{} {} {} | {}\n",
            humantime::format_rfc3339_micros(line.time),
            line.component,
            line.stream,
            line.text
        ),
    };
    Bytes::from(text)
}

/// The answer to `q`; with `follow`, until the run ends (`ends` is cancelled).
pub(super) fn log_lines(q: LogQuery, logs: &LogStore, ends: &CancellationToken) -> Response<Body> {
    // Subscribe before reading the rings: a line between the two is not
    // lost (it may show twice, which is the better mistake).
    let live = q.follow.then(|| logs.subscribe());
    let mut recent = match &q.name {
        Some(name) => logs.recent(name),
        None => logs.all_recent(),
    };
    if let Some(since) = q.since {
        let from = SystemTime::now()
            .checked_sub(since)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        recent.retain(|l| l.time >= from);
    }
    if let Some(n) = q.last {
        recent.drain(..recent.len().saturating_sub(n));
    }
    let named = q.name.is_some();
    let head = futures::stream::iter(recent.iter().map(|l| format(l, named)).collect::<Vec<_>>());
    let body: Body = match live {
        Some(live) => {
            let ends = ends.clone();
            let name = q.name;
            let tail = futures::stream::unfold((live, ends), move |(mut live, ends)| {
                let name = name.clone();
                async move {
                    loop {
                        let next = tokio::select! {
                            _ = ends.cancelled() => return None,
                            n = live.recv() => n,
                        };
                        match next {
                            Ok(l) if name.as_ref().is_none_or(|n| *n == l.component) => {
                                return Some((format(&l, named), (live, ends)));
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
        None => http_body_util::BodyExt::boxed(StreamBody::new(
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

#[cfg(test)]
mod tests {
    use super::LogQuery;
    use std::time::Duration;

    #[test]
    fn a_query_survives_its_uri() {
        let q = LogQuery {
            name: Some("db".into()),
            last: Some(3),
            since: Some(Duration::from_secs(300)),
            follow: true,
        };
        let uri = q.uri();
        assert_eq!(uri, "/logs/db?n=3&since=300000&follow=1");
        let (path, query) = uri.split_once('?').unwrap_or((&uri, ""));
        assert_eq!(LogQuery::parse(path.strip_prefix("/logs/"), Some(query)), q);
        assert_eq!(LogQuery::default().uri(), "/logs");
    }
}
