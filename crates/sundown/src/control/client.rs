//! Talking to a running supervisor's control socket.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::status::StatusView;

/// A supervisor that answers slower than this is stuck; say so.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Why a request to the control socket failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens there.
    #[error(
        "no sundown is running with the control socket {path} ({source}); is `sundown run` running with this config?"
    )]
    NotRunning {
        /// The socket's path.
        path: PathBuf,
        /// What connecting said.
        source: io::Error,
    },
    /// The supervisor refused or failed the request. Shown as the
    /// supervisor's own words: the HTTP status only picks the exit code,
    /// and the socket was reached, so its path says nothing new.
    #[error("{message}")]
    Refused {
        /// The socket's path.
        path: PathBuf,
        /// The HTTP status.
        status: StatusCode,
        /// The supervisor's `error` text (or, without one, what it answered).
        message: String,
    },
    /// The exchange itself broke.
    #[error("{path}: {message}")]
    Broken {
        /// The socket's path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn broken(socket: &Path, message: String) -> ClientError {
    ClientError::Broken {
        path: socket.to_path_buf(),
        message,
    }
}

/// Connects and sends `method path`; the answer's head, its body to read.
async fn send(
    socket: &Path,
    method: Method,
    path: &str,
) -> Result<Response<Incoming>, ClientError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|source| ClientError::NotRunning {
            path: socket.to_path_buf(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| broken(socket, format!("handshake: {e}")))?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "sundown")
        .body(Empty::<Bytes>::new())
        .map_err(|e| broken(socket, e.to_string()))?;
    let resp = tokio::time::timeout(ANSWER_WITHIN, sender.send_request(req))
        .await
        .map_err(|_| broken(socket, format!("no answer within {ANSWER_WITHIN:?}")))?
        .map_err(|e| broken(socket, format!("request: {e}")))?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    // The server's `{"error": …}` says why.
    let status = resp.status();
    let text = read_all(socket, resp).await?;
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            // Not sundown's word: say what came back, status included.
            let text = text.trim();
            if text.is_empty() {
                format!("the supervisor answered {status}")
            } else {
                format!("the supervisor answered {status}: {text}")
            }
        });
    Err(ClientError::Refused {
        path: socket.to_path_buf(),
        status,
        message,
    })
}

async fn read_all(socket: &Path, resp: Response<Incoming>) -> Result<String, ClientError> {
    let body = tokio::time::timeout(ANSWER_WITHIN, resp.into_body().collect())
        .await
        .map_err(|_| broken(socket, format!("no answer within {ANSWER_WITHIN:?}")))?
        .map_err(|e| broken(socket, format!("reading the answer: {e}")))?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Sends `method path` and returns the JSON body of a 2xx answer.
pub async fn request(socket: &Path, method: Method, path: &str) -> Result<String, ClientError> {
    let resp = send(socket, method, path).await?;
    read_all(socket, resp).await
}

/// `GET /status`, parsed.
pub async fn status(socket: &Path) -> Result<StatusView, ClientError> {
    let body = request(socket, Method::GET, "/status").await?;
    serde_json::from_str(&body).map_err(|e| ClientError::Broken {
        path: socket.to_path_buf(),
        message: format!("the status does not parse: {e}"),
    })
}

/// `GET /logs[/NAME]` (with `follow`, until the run ends), each chunk of
/// the answer handed to `out` as it arrives.
pub async fn logs(
    socket: &Path,
    query: &super::LogQuery,
    mut out: impl FnMut(&[u8]),
) -> Result<(), ClientError> {
    let mut chunks = log_chunks(socket, query).await?;
    while let Some(chunk) = chunks.next().await {
        out(&chunk?);
    }
    Ok(())
}

/// `GET /logs[/NAME]`, its answer read a chunk at a time by the caller,
/// so that one slow to take the next also slows the supervisor's sending
/// (which then says, in the log, how many lines this client missed).
pub async fn log_chunks(socket: &Path, query: &super::LogQuery) -> Result<LogChunks, ClientError> {
    // Names are identifiers; anything else is answered 404 by the server.
    let body = send(socket, Method::GET, &query.uri()).await?.into_body();
    Ok(LogChunks {
        socket: socket.to_path_buf(),
        body,
    })
}

/// The answer to [`log_chunks`], being read.
#[derive(Debug)]
pub struct LogChunks {
    socket: PathBuf,
    body: Incoming,
}

impl LogChunks {
    /// The next chunk of the log as it arrives; `None` once the answer ended.
    pub async fn next(&mut self) -> Option<Result<Bytes, ClientError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => {
                    return Some(Err(broken(&self.socket, format!("reading the log: {e}"))));
                }
            }
        }
    }
}

/// What an accepted change will do: the first line of its answer, and
/// the whole answer to a dry run ([`preview`]).
pub type Planned = crate::Preview;

#[derive(serde::Deserialize)]
struct Ended {
    done: bool,
    error: Option<String>,
    /// Only in the answer to `GET /wait?end`.
    #[serde(default)]
    exit: Option<crate::RunExit>,
}

/// Why a change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The supervisor could not be asked, or refused (unknown name, invalid config, …).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The supervisor accepted it, but it did not complete (a shutdown took over).
    #[error("{0}")]
    Interrupted(String),
}

/// `POST path` for a change (`/stop/NAME`, `/start/NAME`, `/restart/NAME`,
/// `/reload`). `planned` hears what it will do as soon as the supervisor
/// has accepted it; `Ok` once it has happened.
pub async fn change(
    socket: &Path,
    path: &str,
    planned: impl FnOnce(&Planned),
) -> Result<(), ChangeError> {
    let body = send(socket, Method::POST, path).await?.into_body();
    let mut lines = JsonLines::new(socket, body);
    let ended = "the supervisor ended before the change did";
    planned(&lines.next::<Planned>(ended).await?);
    let ended: Ended = lines.next(ended).await?;
    if ended.done {
        Ok(())
    } else {
        Err(ChangeError::Interrupted(ended.error.unwrap_or_default()))
    }
}

/// The longest line of an answer in `application/x-ndjson` this client
/// reads: a plan or a verdict is a few KiB, so more is a broken answer,
/// not something to buffer.
const LINE_LIMIT: usize = 1 << 20;

/// An `application/x-ndjson` answer, read a JSON line at a time.
struct JsonLines<'a> {
    socket: &'a Path,
    body: Incoming,
    buf: Vec<u8>,
}

impl<'a> JsonLines<'a> {
    fn new(socket: &'a Path, body: Incoming) -> JsonLines<'a> {
        JsonLines {
            socket,
            body,
            buf: Vec::new(),
        }
    }

    /// The next line, parsed; `early` says what it means when the answer
    /// ends before it.
    async fn next<T: serde::de::DeserializeOwned>(
        &mut self,
        early: &str,
    ) -> Result<T, ClientError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return serde_json::from_slice(&line)
                    .map_err(|e| broken(self.socket, format!("the answer does not parse: {e}")));
            }
            if self.buf.len() > LINE_LIMIT {
                return Err(broken(
                    self.socket,
                    format!("an answer line is longer than {LINE_LIMIT} bytes"),
                ));
            }
            let Some(frame) = self.body.frame().await else {
                return Err(broken(self.socket, early.to_string()));
            };
            let frame =
                frame.map_err(|e| broken(self.socket, format!("reading the answer: {e}")))?;
            if let Some(data) = frame.data_ref() {
                self.buf.extend_from_slice(data);
            }
        }
    }
}

/// `GET /plan/…`: what the change at `path` (`/stop/NAME`, `/start/NAME`,
/// `/restart/NAME`, `/reload`) would do now, as the supervisor works it
/// out for the change itself, or the refusal the change would get.
/// Nothing is changed.
pub async fn preview(socket: &Path, path: &str) -> Result<Planned, ClientError> {
    let body = request(socket, Method::GET, &format!("/plan{path}")).await?;
    serde_json::from_str(&body)
        .map_err(|e| broken(socket, format!("the answer does not parse: {e}")))
}

/// `GET /wait?QUERY` (`ready`, `completed=NAME`): `Ok(Ok(()))` once the
/// condition holds, `Ok(Err(why))` once it no longer can. Unbounded: the
/// caller decides how long to wait.
pub async fn wait(socket: &Path, query: &str) -> Result<Result<(), String>, ClientError> {
    let ended = wait_line(socket, query).await?;
    Ok(if ended.done {
        Ok(())
    } else {
        Err(ended.error.unwrap_or_default())
    })
}

/// `GET /wait?end`: how the run ended, in the supervisor's own word,
/// once it has (the exit code its process exits with). An error when the
/// socket closed first (the supervisor was killed) or did not say.
pub async fn end(socket: &Path) -> Result<crate::RunExit, ClientError> {
    let ended = wait_line(socket, "end").await?;
    match ended.exit {
        Some(exit) if ended.done => Ok(exit),
        _ => Err(broken(
            socket,
            ended
                .error
                .unwrap_or_else(|| "the supervisor did not say how the run ended".into()),
        )),
    }
}

/// The one line a `GET /wait?QUERY` is answered with.
async fn wait_line(socket: &Path, query: &str) -> Result<Ended, ClientError> {
    let body = send(socket, Method::GET, &format!("/wait?{query}"))
        .await?
        .into_body();
    JsonLines::new(socket, body)
        .next("the supervisor ended before answering")
        .await
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::UnixListener;

    use super::*;

    /// A socket answering one request with `body`, then closing.
    async fn answering(body: Vec<u8>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("s");
        let listener = UnixListener::bind(&path).expect("bind");
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut request = [0; 1024];
            let _ = conn.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\nconnection: close\r\n\r\n";
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(&body).await;
        });
        (dir, path)
    }

    #[tokio::test]
    async fn a_change_hears_its_plan_then_its_end() {
        let body = b"{\"stop\":[\"web\"],\"start\":[],\"diff\":null}\n{\"done\":true}\n".to_vec();
        let (_dir, path) = answering(body).await;
        let mut heard = Vec::new();
        change(&path, "/stop/web", |p| heard = p.stop.clone())
            .await
            .expect("done");
        assert_eq!(heard, ["web"]);
    }

    #[tokio::test]
    async fn an_answer_line_past_the_limit_is_broken_not_buffered() {
        let (_dir, path) = answering(vec![b'x'; LINE_LIMIT + 100_000]).await;
        let e = wait(&path, "ready").await.expect_err("no line ends");
        assert!(e.to_string().contains("longer than"), "{e}");
    }

    #[tokio::test]
    async fn an_answer_that_ends_early_says_so() {
        let (_dir, path) = answering(b"{\"done\":".to_vec()).await;
        let e = wait(&path, "ready").await.expect_err("no line");
        assert!(e.to_string().contains("ended before answering"), "{e}");
    }
}
