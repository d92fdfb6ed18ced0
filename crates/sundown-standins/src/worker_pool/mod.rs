//! `kind = "worker_pool"`: `size` workers taking jobs from a Redis queue and
//! writing their results to PostgreSQL, following the contract in
//! [`super::jobs`]. The pool's name `P` in the processing-list keys is the
//! component's name.
//!
//! Start: the pool is ready as soon as it runs. It then gives back whatever
//! an earlier run left in its processing lists and creates the table,
//! retrying with backoff while Redis or PostgreSQL is unreachable, and each
//! worker connects. Readiness does not wait for the connections on purpose:
//! a pool serves nobody directly (the queue decouples it from producers), so
//! "connected" would only make its dependents wait on the pool's own
//! dependencies, which the graph already orders before it. And in a graph
//! whose edges are wrong (examples/wrong-order.toml), waiting would deadlock
//! the start instead of showing what the wrong order does to a shutdown.
//!
//! Stop: no worker takes a new job; each finishes the one it has (row
//! committed, status `done`) and exits. Kill: jobs in flight are abandoned
//! and given back to the queue, bounded by [`jobs::GIVE_BACK_BOUND`].
//!
//! The `result` column is [`jobs::result_of`] of the payload's compact JSON;
//! the `worker` column is `P/<i>`.

mod settings;

mod connections;
mod pool;
mod rng;
mod worker;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

pub use self::settings::{JobTime, KIND, WorkerPoolSpec};
use crate::jobs::{self, Keys, LazyRedis};
use pool::{Pool, Stats, pg_error};
use sundown::component::{BoxFuture, Component, Exit, Lifecycle};

/// Bound on connecting to PostgreSQL.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The `worker_pool` component.
pub struct WorkerPool {
    spec: WorkerPoolSpec,
}

impl WorkerPool {
    /// A component for this spec.
    pub fn new(spec: WorkerPoolSpec) -> WorkerPool {
        WorkerPool { spec }
    }
}

impl Component for WorkerPool {
    fn kind(&self) -> &'static str {
        "worker_pool"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(run(self.spec, life))
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(spec: WorkerPoolSpec, life: Lifecycle) -> Exit {
    let name = life.name().to_string();
    if spec.size == 0 {
        return Exit::Error("size must be at least 1".into());
    }
    let control = match LazyRedis::new(&spec.redis) {
        Ok(c) => c,
        Err(e) => return Exit::Error(e.to_string()),
    };
    let mut pg = match tokio_postgres::Config::from_str(&spec.postgres) {
        Ok(c) => c,
        Err(e) => {
            return Exit::Error(format!(
                "invalid PostgreSQL URL `{}`: {}",
                spec.postgres,
                pg_error(&e)
            ));
        }
    };
    pg.connect_timeout(PG_CONNECT_TIMEOUT);

    // Workers watch plain tokens; a kill also counts as a stop.
    let life = Arc::new(life);
    let (stop, kill) = (CancellationToken::new(), CancellationToken::new());
    let _bridge = AbortOnDrop(tokio::spawn({
        let (life, stop, kill) = (Arc::clone(&life), stop.clone(), kill.clone());
        async move {
            tokio::select! {
                _ = life.stop_requested() => stop.cancel(),
                _ = life.kill_requested() => {}
            }
            life.kill_requested().await;
            stop.cancel();
            kill.cancel();
        }
    }));
    let stats = Arc::new(Stats {
        size: spec.size,
        ..Stats::default()
    });
    let _detail = jobs::spawn_detail(Arc::clone(&life), Arc::clone(&stats));
    let pool = Arc::new(Pool {
        name: name.clone(),
        keys: Keys::new(&spec.queue),
        spec,
        control,
        pg,
        stop,
        kill,
        stats,
        tasks: TaskTracker::new(),
    });

    life.ready();
    if pool.setup().await {
        let size = pool.spec.size;
        let (connected_tx, mut connected_rx) = mpsc::channel(size);
        let mut workers = JoinSet::new();
        for i in 0..size {
            workers.spawn(worker::run(Arc::clone(&pool), i, connected_tx.clone()));
        }
        drop(connected_tx);
        let mut connected = 0;
        while connected < size {
            tokio::select! {
                r = connected_rx.recv() => match r {
                    Some(()) => connected += 1,
                    None => break,
                },
                _ = pool.stop.cancelled() => break,
            }
        }
        if connected == size {
            info!(component = %name, "{name}: {size} worker(s) taking jobs from `{}` at {}", pool.spec.queue, pool.spec.redis);
        }
        while let Some(r) = workers.join_next().await {
            if let Err(e) = r {
                error!(component = %name, "{name}: a worker task failed: {e}");
            }
        }
    }
    pool.tasks.close();
    pool.tasks.wait().await;
    let summary = pool.stats.summary();
    if pool.kill.is_cancelled() {
        warn!(component = %name, "{name}: killed; {summary}");
        Exit::Signal("SIGKILL".into())
    } else {
        info!(component = %name, "{name}: stopped; {summary}");
        Exit::Code(0)
    }
}
