//! What every worker of a pool shares: the spec and the queue's keys, the
//! control connection to Redis, PostgreSQL's connection settings, the stop
//! and kill tokens, the counters; and the pool's own start (giving back
//! what an earlier run left, creating the table).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::settings::WorkerPoolSpec;
use crate::jobs::{self, Backoff, Keys, LazyRedis, RedisUnavailable, STATUS_FIELD, Status};

/// Counters, shown live and logged at the end.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) size: usize,
    pub(super) busy: AtomicUsize,
    pub(super) done: AtomicU64,
    pub(super) given_back: AtomicU64,
    /// Given back at start, left by an earlier run.
    pub(super) recovered: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) changed: Notify,
}

impl Stats {
    /// Adds `n` to `counter` and tells the live detail.
    pub(super) fn bump(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// The counters, for the log at the end.
    pub(super) fn summary(&self) -> String {
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
pub(super) struct Pool {
    pub(super) name: String,
    pub(super) spec: WorkerPoolSpec,
    pub(super) keys: Keys,
    /// Short commands of every worker (status updates, `LREM`, give back);
    /// the blocking `BLMOVE`s each get their own connection.
    pub(super) control: LazyRedis,
    pub(super) pg: tokio_postgres::Config,
    pub(super) stop: CancellationToken,
    pub(super) kill: CancellationToken,
    pub(super) stats: Arc<Stats>,
    /// The PostgreSQL connection drivers.
    pub(super) tasks: TaskTracker,
}

/// The error text of a PostgreSQL error with its cause (its `Display` alone
/// says only "db error").
pub(super) fn pg_error(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// PostgreSQL failed; shown with its cause ([`pg_error`]).
#[derive(Debug, thiserror::Error)]
#[error("{}", pg_error(.0))]
pub(super) struct PgFailed(#[from] pub(super) tokio_postgres::Error);

impl Pool {
    /// Opens a PostgreSQL connection, its driver tracked and ended by a kill.
    pub(super) async fn pg_connect(&self) -> Result<tokio_postgres::Client, PgFailed> {
        let (client, connection) = self.pg.connect(NoTls).await?;
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
    pub(super) async fn give_back(
        &self,
        list: &str,
        counter: &AtomicU64,
    ) -> Result<u64, RedisUnavailable> {
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

    async fn create_table(&self) -> Result<(), PgFailed> {
        let client = self.pg_connect().await?;
        Ok(client.batch_execute(jobs::CREATE_TABLE).await?)
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
    pub(super) async fn setup(&self) -> bool {
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
