//! Serving a bounded number of clients, one request each: shared by the
//! control socket and the metrics port.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

use super::{ACCEPT_RETRY, HEADER_TIMEOUT, MAX_CLIENTS};

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
