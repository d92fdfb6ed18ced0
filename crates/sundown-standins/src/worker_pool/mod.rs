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

mod worker;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

pub use self::settings::{JobTime, KIND, WorkerPoolSpec};
use crate::jobs::{self, Backoff, Keys, LazyRedis, RedisUnavailable, STATUS_FIELD, Status};
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

/// Counters, shown live and logged at the end.
#[derive(Default)]
struct Stats {
    size: usize,
    busy: AtomicUsize,
    done: AtomicU64,
    given_back: AtomicU64,
    /// Given back at start, left by an earlier run.
    recovered: AtomicU64,
    failed: AtomicU64,
    changed: Notify,
}

impl Stats {
    fn bump(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn summary(&self) -> String {
        format!(
            "{} jobs done, {} given back, {} failed attempts, {} recovered at start",
            self.done.load(Ordering::Relaxed),
            self.given_back.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.recovered.load(Ordering::Relaxed)
        )
    }
}

impl jobs::Observed for Stats {
    fn changed(&self) -> &Notify {
        &self.changed
    }

    fn detail(&self) -> String {
        let mut line = format!(
            "{}/{} busy, {} done",
            self.busy.load(Ordering::Relaxed),
            self.size,
            self.done.load(Ordering::Relaxed)
        );
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            line.push_str(&format!(", {failed} failed attempts"));
        }
        line
    }
}

/// What every worker of a pool shares.
struct Pool {
    name: String,
    spec: WorkerPoolSpec,
    keys: Keys,
    /// Short commands of every worker (status updates, `LREM`, give back);
    /// the blocking `BLMOVE`s each get their own connection.
    control: LazyRedis,
    pg: tokio_postgres::Config,
    stop: CancellationToken,
    kill: CancellationToken,
    stats: Arc<Stats>,
    /// The PostgreSQL connection drivers.
    tasks: TaskTracker,
}

/// The error text of a PostgreSQL error with its cause (its `Display` alone
/// says only "db error").
fn pg_error(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl Pool {
    /// Opens a PostgreSQL connection, its driver tracked and ended by a kill.
    async fn pg_connect(&self) -> Result<tokio_postgres::Client, String> {
        let (client, connection) = self.pg.connect(NoTls).await.map_err(|e| pg_error(&e))?;
        let kill = self.kill.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                // Ends when the client is dropped; an error then reaches the client too.
                _ = connection => {}
                _ = kill.cancelled() => {}
            }
        });
        Ok(client)
    }

    /// Moves everything in `list` back to the queue (the end workers take
    /// from, so those jobs go next) and marks them queued, counting them in
    /// `counter`.
    async fn give_back(&self, list: &str, counter: &AtomicU64) -> Result<u64, RedisUnavailable> {
        let mut n = 0;
        loop {
            let job: Option<Vec<u8>> = self
                .control
                .query(
                    ::redis::cmd("LMOVE")
                        .arg(list)
                        .arg(self.keys.queue())
                        .arg("RIGHT")
                        .arg("RIGHT"),
                )
                .await?;
            let Some(job) = job else { return Ok(n) };
            n += 1;
            self.stats.bump(counter, 1);
            if let Some(id) = jobs::job_id(&job) {
                self.control
                    .query::<()>(
                        ::redis::cmd("HSET")
                            .arg(self.keys.job(id))
                            .arg(STATUS_FIELD)
                            .arg(Status::Queued.as_str()),
                    )
                    .await?;
            }
        }
    }

    /// Gives back what an earlier run of this pool left in its processing
    /// lists (of any worker index: the pool may have been larger).
    async fn recover(&self) -> Result<u64, RedisUnavailable> {
        let lists: Vec<String> = self
            .control
            .query(::redis::cmd("KEYS").arg(self.keys.processing_pattern(&self.name)))
            .await?;
        let mut n = 0;
        for list in lists
            .iter()
            .filter(|k| self.keys.is_processing_of(k, &self.name))
        {
            n += self.give_back(list, &self.stats.recovered).await?;
        }
        Ok(n)
    }

    async fn create_table(&self) -> Result<(), String> {
        let client = self.pg_connect().await?;
        client
            .batch_execute(jobs::CREATE_TABLE)
            .await
            .map_err(|e| pg_error(&e))
    }

    /// Waits `backoff`'s next delay; `false` when a stop or kill came first.
    async fn pause(&self, backoff: &mut Backoff) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => true,
            _ = self.stop.cancelled() => false,
        }
    }

    /// Recovery and the table, retried until they succeed; `false` when
    /// stopped first.
    async fn setup(&self) -> bool {
        let name = &self.name;
        let mut backoff = Backoff::default();
        loop {
            let result = tokio::select! {
                r = self.recover() => r,
                _ = self.stop.cancelled() => return false,
            };
            match result {
                Ok(0) => break,
                Ok(n) => {
                    info!(component = %name, "{name}: gave back {n} job(s) an earlier run left in its processing lists");
                    break;
                }
                Err(e) => {
                    warn!(component = %name, "{name}: cannot recover processing lists: {e}; retrying")
                }
            }
            if !self.pause(&mut backoff).await {
                return false;
            }
        }
        backoff.reset();
        loop {
            let result = tokio::select! {
                r = self.create_table() => r,
                _ = self.stop.cancelled() => return false,
            };
            match result {
                Ok(()) => return true,
                Err(e) => {
                    warn!(component = %name, "{name}: cannot create the jobs table in PostgreSQL at {}: {e}; retrying", self.spec.postgres)
                }
            }
            if !self.pause(&mut backoff).await {
                return false;
            }
        }
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
