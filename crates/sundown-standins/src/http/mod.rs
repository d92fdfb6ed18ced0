//! `kind = "http"`: the job pipeline's front end. `POST /jobs` queues a job
//! in Redis (see [`super::jobs`] for the contract), `GET /jobs/{id}` tells
//! where it is, `/healthz` and `/readyz` are for a load balancer.
//!
//! The accept loop (server.rs; the requests are routes.rs) is written by
//! hand (rather than `axum::serve`) because a stop has three steps a load
//! balancer needs in this order: `/readyz` turns 503 while everything else
//! still works (`drain_delay`), then the listener closes, then in-flight
//! requests finish and idle keep-alive connections close. A kill closes
//! every connection at once.

mod settings;

mod routes;
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use self::settings::{HttpSpec, KIND};
use crate::jobs::{self, Keys, LazyRedis};
pub use routes::MAX_BODY;
use routes::{App, router};
use server::{Accepting, Connections, Server};
use sundown::component::{BoxFuture, Component, Exit, Lifecycle};

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
