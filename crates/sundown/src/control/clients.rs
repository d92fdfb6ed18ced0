//! Serving a bounded number of clients, one request each: shared by the
//! control socket and the metrics port.
//!
//! At most [`MAX_CLIENTS`] connections are open at once. A connection that
//! has not sent its request yet is the cheapest to lose: when every slot
//! is taken and another client connects, the one that has waited longest
//! without asking anything is closed to make room. So idle connections
//! cannot keep `sundown status` out (200 of them once delayed it by more
//! than 10 s), while a client that did ask keeps its slot until answered.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{ACCEPT_RETRY, HEADER_TIMEOUT, MAX_CLIENTS};

/// Accepts clients, at most [`MAX_CLIENTS`] at once: one that never reads
/// its answer holds a slot, never the daemon's file descriptors.
pub(crate) struct Clients {
    slots: Arc<Slots>,
    what: String,
}

/// Who holds the slots.
#[derive(Default)]
struct Slots {
    held: Mutex<Held>,
    /// Rung whenever a slot is given back.
    freed: Notify,
}

#[derive(Default)]
struct Held {
    next_id: u64,
    /// Connections that have not sent a request yet, oldest first; the
    /// token closes one.
    waiting: VecDeque<(u64, CancellationToken)>,
    /// Connections being answered.
    answering: usize,
}

impl Slots {
    fn held(&self) -> MutexGuard<'_, Held> {
        // Plain counters: a panic elsewhere cannot leave them inconsistent.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One client's slot, given back when dropped.
pub(crate) struct Slot {
    id: u64,
    slots: Arc<Slots>,
    /// Cancelled when the slot is taken for a newer client.
    evicted: CancellationToken,
}

impl Slot {
    /// The client has sent its request: from now on it keeps its slot.
    fn answering(&self) {
        let mut held = self.slots.held();
        if let Some(at) = held.waiting.iter().position(|(id, _)| *id == self.id) {
            held.waiting.remove(at);
            held.answering += 1;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held();
        if let Some(at) = held.waiting.iter().position(|(id, _)| *id == self.id) {
            held.waiting.remove(at);
        } else if !self.evicted.is_cancelled() {
            held.answering -= 1;
        }
        drop(held);
        self.slots.freed.notify_waiters();
    }
}

impl Clients {
    /// For the server named `what` in logs.
    pub(crate) fn new(what: String) -> Clients {
        Clients {
            slots: Arc::default(),
            what,
        }
    }

    /// The next client and its slot; `None` once `stop` is cancelled.
    /// While every slot is being answered, no one is accepted (the
    /// kernel's backlog holds them).
    pub(crate) async fn next<S, Fut>(
        &self,
        stop: &CancellationToken,
        accept: impl Fn() -> Fut,
    ) -> Option<(Slot, S)>
    where
        Fut: Future<Output = io::Result<S>>,
    {
        loop {
            loop {
                let freed = self.slots.freed.notified();
                if self.slots.held().answering < MAX_CLIENTS {
                    break;
                }
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    () = freed => {}
                }
            }
            let stream = loop {
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    accepted = accept() => match accepted {
                        Ok(stream) => break stream,
                        Err(e) => {
                            // Out of descriptors, say: wait rather than spin.
                            tracing::warn!("{}: accept failed: {e}", self.what);
                            tokio::time::sleep(ACCEPT_RETRY).await;
                        }
                    },
                }
            };
            let mut held = self.slots.held();
            if held.waiting.len() + held.answering >= MAX_CLIENTS {
                // The last waiting one may have sent its request while we
                // accepted: then every slot is being answered.
                let Some((_, oldest)) = held.waiting.pop_front() else {
                    continue;
                };
                tracing::debug!(
                    "{}: every slot taken; closing the connection that waited longest without a request",
                    self.what
                );
                oldest.cancel();
            }
            let id = held.next_id;
            held.next_id += 1;
            let evicted = CancellationToken::new();
            held.waiting.push_back((id, evicted.clone()));
            drop(held);
            let slot = Slot {
                id,
                slots: Arc::clone(&self.slots),
                evicted,
            };
            return Some((slot, stream));
        }
    }
}

/// How long answers under way may take to finish once the run has ended
/// (a followed log ends its stream at once, then the connection closes).
const LAST_ANSWERS: Duration = Duration::from_millis(200);

/// Serves one connection: one request (no keep-alive) within
/// [`HEADER_TIMEOUT`], and at most [`LAST_ANSWERS`] more once `stop` is
/// cancelled. Closed at once if its slot is taken before it asks.
pub(crate) async fn serve_one<I, S, B>(io: I, slot: Slot, service: S, stop: &CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let evicted = slot.evicted.clone();
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(
            TokioIo::new(io),
            Asked {
                slot,
                inner: service,
            },
        );
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
        _ = evicted.cancelled() => {}
    }
}

/// A service that marks its slot as answering when the request arrives.
struct Asked<S> {
    slot: Slot,
    inner: S,
}

impl<S: hyper::service::Service<Request<Incoming>>> hyper::service::Service<Request<Incoming>>
    for Asked<S>
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.slot.answering();
        self.inner.call(req)
    }
}
