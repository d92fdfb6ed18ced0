//! One worker: take a job, work, commit, mark it done; reconnect with
//! backoff when Redis or PostgreSQL fails; give back what it holds when it
//! stops.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::connections::{Blocking, ConnectFailed, Pg, blocking_redis, postgres};
use super::pool::{PgFailed, Pool};
use super::rng::XorShift;
use crate::jobs::{self, Backoff, Job, RedisUnavailable, STATUS_FIELD, Status};

/// Why a job could not be finished; it stays in the processing list.
#[derive(Debug, thiserror::Error)]
enum NotFinished {
    /// No PostgreSQL connection.
    #[error(transparent)]
    Connect(#[from] ConnectFailed),
    /// Writing or checking its row failed.
    #[error("PostgreSQL: {0}")]
    Postgres(PgFailed),
    /// Marking it done (or setting it aside) in Redis failed.
    #[error(transparent)]
    Redis(#[from] RedisUnavailable),
}

/// How handling one job ended.
enum Handled {
    /// Committed and marked done, or set aside as unreadable.
    Finished,
    /// Stopped or killed with the job unfinished; it is in the processing list.
    Interrupted,
}

struct Worker {
    pool: Arc<Pool>,
    /// `P/<i>`, the `worker` column and the log prefix.
    name: String,
    /// `Q:processing:P:<i>`.
    list: String,
    rng: XorShift,
    blocking: Option<Blocking>,
    pg: Option<Pg>,
}

/// Runs worker `i` until the pool stops; sends on `connected` once it has
/// connected to both Redis and PostgreSQL.
pub(super) async fn run(pool: Arc<Pool>, i: usize, connected: mpsc::Sender<()>) {
    let mut w = Worker {
        name: format!("{}/{i}", pool.name),
        list: pool.keys.processing(&pool.name, i),
        rng: XorShift::seeded(&pool.name, i),
        pool,
        blocking: None,
        pg: None,
    };
    if !w.connect().await {
        return;
    }
    let _ = connected.send(()).await;
    drop(connected);
    let take = ::redis::cmd("BLMOVE")
        .arg(w.pool.keys.queue())
        .arg(&w.list)
        .arg("RIGHT")
        .arg("LEFT")
        .arg(0)
        .to_owned();
    let mut failures = Backoff::default();
    loop {
        let Some(blocking) = w.blocking.as_mut() else {
            if !w.connect().await {
                break;
            }
            // A BLMOVE whose reply was lost with the connection may have
            // moved a job into our list: work it before taking another, or
            // it would wait there until the pool stops.
            match w.own_leftover().await {
                Some(job) => {
                    if let Handled::Interrupted = w.handle(job).await {
                        break;
                    }
                }
                None => continue,
            }
            continue;
        };
        let taken = tokio::select! {
            biased;
            _ = w.pool.stop.cancelled() => break,
            r = take.query_async::<Option<Vec<u8>>>(&mut blocking.con) => r,
        };
        match taken {
            Ok(Some(job)) => {
                if let Handled::Interrupted = w.handle(job).await {
                    break;
                }
            }
            // Only a finite timeout returns nil; nothing to do.
            Ok(None) => {}
            Err(e) => {
                // A server's error reply repeats at once: back off for any error.
                let delay = failures.next_delay();
                let name = &w.name;
                warn!(component = %w.pool.name, "{name}: BLMOVE on Redis at {} failed: {e}; retrying in {delay:?}", w.pool.spec.redis);
                if jobs::is_connection_error(&e) {
                    w.blocking = None;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = w.pool.stop.cancelled() => break,
                }
            }
        }
        failures.reset();
    }
    w.exit().await;
}

impl Worker {
    /// Connects what is missing, retrying with backoff; `false` when the
    /// pool stopped first.
    async fn connect(&mut self) -> bool {
        let pool = Arc::clone(&self.pool);
        let mut backoff = Backoff::default();
        loop {
            let attempt = async {
                if self.blocking.is_none() {
                    self.blocking =
                        Some(blocking_redis(&self.pool.control).await.map_err(|source| {
                            ConnectFailed::Redis {
                                url: self.pool.spec.redis.clone(),
                                source,
                            }
                        })?);
                }
                if self.pg.is_none() {
                    self.pg = Some(postgres(&self.pool).await.map_err(|source| {
                        ConnectFailed::Postgres {
                            url: self.pool.spec.postgres.clone(),
                            source,
                        }
                    })?);
                }
                Ok::<(), ConnectFailed>(())
            };
            let result = tokio::select! {
                r = attempt => r,
                _ = pool.stop.cancelled() => return false,
            };
            let Err(e) = result else { return true };
            let delay = backoff.next_delay();
            let name = &self.name;
            warn!(component = %pool.name, "{name}: {e}; retrying in {delay:?}");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = pool.stop.cancelled() => return false,
            }
        }
    }

    /// The oldest job in this worker's own processing list, if any (and if
    /// Redis answers).
    async fn own_leftover(&self) -> Option<Vec<u8>> {
        let cmd = ::redis::cmd("LINDEX").arg(&self.list).arg(-1).to_owned();
        self.pool
            .control
            .query::<Option<Vec<u8>>>(&cmd)
            .await
            .ok()
            .flatten()
    }

    /// Works one job taken into the processing list.
    async fn handle(&mut self, raw: Vec<u8>) -> Handled {
        let pool = Arc::clone(&self.pool);
        let (name, component) = (&self.name, &pool.name);
        let job: Job = match serde_json::from_slice(&raw) {
            Ok(job) => job,
            Err(e) => {
                warn!(component = %component, "{name}: unreadable job ({e}); moving it to {}", pool.keys.dead());
                if let Err(e) = self.dead_letter(&raw).await {
                    warn!(component = %component, "{name}: {e}; the unreadable job stays in {}", self.list);
                }
                return Handled::Finished;
            }
        };
        let running = ::redis::cmd("HSET")
            .arg(pool.keys.job(job.id))
            .arg(STATUS_FIELD)
            .arg(Status::Running.as_str())
            .to_owned();
        if let Err(e) = pool.control.query::<()>(&running).await {
            // Only the status is stale; the job itself is safe in our list.
            warn!(component = %component, "{name}: cannot mark job {} running: {e}", job.id);
        }
        pool.stats.busy.fetch_add(1, Ordering::Relaxed);
        pool.stats.changed.notify_one();
        let handled = self.work(&job, &raw).await;
        pool.stats.busy.fetch_sub(1, Ordering::Relaxed);
        pool.stats.changed.notify_one();
        handled
    }

    async fn work(&mut self, job: &Job, raw: &[u8]) -> Handled {
        let pool = Arc::clone(&self.pool);
        let delay = self.rng.job_time(pool.spec.job_time);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = pool.kill.cancelled() => return Handled::Interrupted,
        }
        let payload = job.payload.to_string();
        let result = jobs::result_of(&payload);
        let mut backoff = Backoff::default();
        loop {
            let outcome = tokio::select! {
                r = self.finish(job, &payload, &result, raw) => r,
                // Dropping the INSERT closes nothing by itself; the kill also
                // ends the connection's driver, so the server aborts it.
                _ = pool.kill.cancelled() => return Handled::Interrupted,
            };
            let e = match outcome {
                Ok(()) => {
                    pool.stats.bump(&pool.stats.done, 1);
                    return Handled::Finished;
                }
                Err(e) => e,
            };
            pool.stats.bump(&pool.stats.failed, 1);
            let delay = backoff.next_delay();
            let name = &self.name;
            warn!(component = %pool.name, "{name}: job {} not finished: {e}; it stays in {}, retrying in {delay:?}", job.id, self.list);
            // A stop ends the retries: the job is given back on the way out.
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = pool.stop.cancelled() => return Handled::Interrupted,
            }
        }
    }

    /// Commits the row, then marks the job done and drops it from the
    /// processing list in one transaction.
    async fn finish(
        &mut self,
        job: &Job,
        payload: &str,
        result: &str,
        raw: &[u8],
    ) -> Result<(), NotFinished> {
        let pool = Arc::clone(&self.pool);
        if self.pg.is_none() {
            self.pg =
                Some(
                    postgres(&self.pool)
                        .await
                        .map_err(|source| ConnectFailed::Postgres {
                            url: pool.spec.postgres.clone(),
                            source,
                        })?,
                );
        }
        if let Some(pg) = &self.pg {
            let inserted = pg
                .client
                .execute(&pg.insert, &[&job.id, &payload, &result, &self.name])
                .await;
            match inserted {
                Err(e) => {
                    // Reconnect next time: the connection or the prepared
                    // statement (a dropped table) may be what broke.
                    self.pg = None;
                    return Err(NotFinished::Postgres(e.into()));
                }
                // Nothing inserted: this job was done before (harmless), or
                // another job holds its id because Redis lost its id counter
                // (no AOF, a FLUSHALL). The second case must not pass as done.
                Ok(0) => {
                    let stored = pg
                        .client
                        .query_opt(jobs::PAYLOAD_OF, &[&job.id])
                        .await
                        .map_err(|e| NotFinished::Postgres(e.into()))?;
                    let stored: Option<String> = stored.map(|row| row.get(0));
                    if stored.as_deref() != Some(payload) {
                        let name = &self.name;
                        error!(component = %pool.name, "{name}: job {} has the id of a different job already in PostgreSQL (did Redis lose `{}:next_id`?); moving it to {}", job.id, pool.spec.queue, pool.keys.dead());
                        return Ok(self.dead_letter(raw).await?);
                    }
                }
                Ok(_) => {}
            }
        }
        let mut tx = ::redis::pipe();
        tx.atomic()
            .cmd("HSET")
            .arg(pool.keys.job(job.id))
            .arg(STATUS_FIELD)
            .arg(Status::Done.as_str())
            .ignore()
            .cmd("LREM")
            .arg(&self.list)
            .arg(1)
            .arg(raw)
            .ignore();
        Ok(pool.control.query_pipe::<()>(&tx).await?)
    }

    /// Moves a job that cannot be done (unreadable, or its id taken by
    /// another job) from this worker's list to the dead-letter list, where
    /// it stays visible instead of being dropped or retried forever.
    async fn dead_letter(&self, raw: &[u8]) -> Result<(), RedisUnavailable> {
        let pool = &self.pool;
        let mut tx = ::redis::pipe();
        tx.atomic()
            .cmd("LREM")
            .arg(&self.list)
            .arg(1)
            .arg(raw)
            .ignore()
            .cmd("LPUSH")
            .arg(pool.keys.dead())
            .arg(raw)
            .ignore();
        pool.stats.bump(&pool.stats.failed, 1);
        pool.control.query_pipe::<()>(&tx).await
    }

    /// Cancels the blocking connection and gives back whatever is in the
    /// processing list: a job the server moved just as `BLMOVE` was
    /// cancelled, or the job in hand at a kill.
    async fn exit(mut self) {
        self.pg = None;
        let id = self.blocking.take().and_then(|b| b.id);
        let pool = Arc::clone(&self.pool);
        let (name, component) = (&self.name, &pool.name);
        let release = async {
            if let Some(id) = id {
                // Errors are fine: the connection is closed anyway, this only
                // makes sure the server has noticed before we empty the list.
                let _ = pool
                    .control
                    .query::<()>(::redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id))
                    .await;
            }
            pool.give_back(&self.list, &pool.stats.given_back).await
        };
        // Bounded once a kill has come, even if it comes while a stop's
        // give-back is under way: the engine waits only so long after a kill.
        tokio::pin!(release);
        let given = tokio::select! {
            r = &mut release => r.map_err(|e| e.to_string()),
            _ = pool.kill.cancelled() => {
                match tokio::time::timeout(jobs::GIVE_BACK_BOUND, release).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {:?}", jobs::GIVE_BACK_BOUND)),
                }
            }
        };
        match given {
            Ok(0) => {}
            Ok(n) => info!(component = %component, "{name}: gave back {n} job(s)"),
            Err(e) => {
                warn!(component = %component, "{name}: cannot give back jobs: {e}; whatever is in {} is recovered at the next start", self.list)
            }
        }
    }
}
