//! The connections: the accept loop, each connection on a task of its own
//! (watched for a graceful shutdown, cancellable by a kill), and their
//! count for the live status.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::jobs;

/// Pause after a failed `accept` (out of file descriptors, say) so the loop
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The open connections, counted for the live status.
pub(super) struct Connections {
    pub(super) open: AtomicUsize,
    pub(super) changed: Notify,
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
pub(super) enum Accepting {
    /// The stop request's drain delay is over: close the listener.
    Drained,
    /// Killed: close everything now.
    Killed,
}

/// Everything a connection task needs, so the accept loop stays readable.
pub(super) struct Server {
    pub(super) name: String,
    pub(super) router: Router,
    pub(super) graceful: GracefulShutdown,
    pub(super) tracker: TaskTracker,
    pub(super) force: CancellationToken,
    pub(super) connections: Arc<Connections>,
}

impl Server {
    /// Serves one connection on its own task, counted and tracked.
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
    pub(super) async fn accept_loop(
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
