//! A tiny in-process job pipeline for the ordering lessons (`ordered_shutdown`
//! and `wrong_order`): an HTTP-like front end accepts jobs into a Redis-like
//! queue, workers take them, work, and commit the result into a Postgres-like
//! table. Each part is a `sundown::Component`, so the supervisor decides when
//! each one stops; the parts only decide *how* they stop.
//!
//! Accounting is what makes the lesson measurable: every accepted job must end
//! up either committed or still in the queue (which survives a stop, like an
//! append-only file). Anything else is a **lost** job.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sundown::component::BoxFuture;
use sundown::{Component, Exit, Lifecycle, ShutdownReport};
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

/// The state the pipeline's parts share, standing in for network and disk.
#[derive(Default)]
pub(crate) struct Shared {
    queue: Mutex<VecDeque<u64>>,
    queued: Notify,
    queue_open: AtomicBool,
    db_open: AtomicBool,
    next_id: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    committed: AtomicU64,
    lost: AtomicU64,
    in_flight: AtomicU64,
}

impl Shared {
    fn push(&self, job: u64) -> bool {
        if !self.queue_open.load(SeqCst) {
            return false;
        }
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(job);
        self.queued.notify_one();
        true
    }

    async fn pop(&self) -> u64 {
        loop {
            let notified = self.queued.notified();
            if self.queue_open.load(SeqCst)
                && let Some(job) = self
                    .queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front()
            {
                return job;
            }
            notified.await;
        }
    }

    /// A one-line account of every job, e.g. `accepted 120, committed 112, still queued 8, lost 0, refused 0`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "accepted {}, committed {}, still queued {}, lost {}, refused {}",
            self.accepted.load(SeqCst),
            self.committed.load(SeqCst),
            self.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            self.lost.load(SeqCst),
            self.refused.load(SeqCst)
        )
    }

    /// Jobs that were accepted but are neither committed nor queued.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(SeqCst)
    }
}

/// Accepts one job every `every` until asked to stop: stopping means "close
/// the listener", so it is immediate.
pub(crate) struct Http {
    pub shared: Arc<Shared>,
    pub every: Duration,
}

impl Component for Http {
    fn kind(&self) -> &'static str {
        "http"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            life.ready();
            let mut tick = tokio::time::interval(self.every);
            loop {
                tokio::select! {
                    _ = life.stop_requested() => return Exit::Code(0),
                    _ = tick.tick() => {
                        let id = self.shared.next_id.fetch_add(1, SeqCst);
                        // A job is accepted (202) only once the queue has it.
                        if self.shared.push(id) {
                            self.shared.accepted.fetch_add(1, SeqCst);
                        } else {
                            self.shared.refused.fetch_add(1, SeqCst);
                        }
                    }
                }
            }
        })
    }
}

/// `size` workers; each job takes `job_time`. On stop a worker takes no new
/// job but finishes the one it holds, so nothing it took is dropped.
pub(crate) struct Workers {
    pub shared: Arc<Shared>,
    pub size: usize,
    pub job_time: Duration,
}

impl Component for Workers {
    fn kind(&self) -> &'static str {
        "worker_pool"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            let life = Arc::new(life);
            let tracker = TaskTracker::new();
            for _ in 0..self.size {
                let (shared, life) = (Arc::clone(&self.shared), Arc::clone(&life));
                let job_time = self.job_time;
                tracker.spawn(async move {
                    loop {
                        let _job = tokio::select! {
                            _ = life.stop_requested() => return,
                            job = shared.pop() => job,
                        };
                        shared.in_flight.fetch_add(1, SeqCst);
                        tokio::time::sleep(job_time).await;
                        // Committing needs the database: if it already stopped, the job is gone.
                        if shared.db_open.load(SeqCst) {
                            shared.committed.fetch_add(1, SeqCst);
                        } else {
                            shared.lost.fetch_add(1, SeqCst);
                        }
                        shared.in_flight.fetch_sub(1, SeqCst);
                    }
                });
            }
            tracker.close();
            life.ready();
            life.stop_requested().await;
            let n = self.shared.in_flight.load(SeqCst);
            life.detail(Some(format!("{n} job(s) in flight")));
            tracker.wait().await;
            Exit::Code(0)
        })
    }
}

/// The queue: open while running; on stop it refuses pushes and pops, and what
/// it holds stays (it is "persisted").
pub(crate) struct Queue(pub Arc<Shared>);

/// The database: open while running; on stop it refuses commits.
pub(crate) struct Db(pub Arc<Shared>);

fn store(
    flag: fn(&Shared) -> &AtomicBool,
    shared: Arc<Shared>,
    life: Lifecycle,
) -> BoxFuture<Exit> {
    Box::pin(async move {
        flag(&shared).store(true, SeqCst);
        life.ready();
        life.stop_requested().await;
        flag(&shared).store(false, SeqCst);
        shared.queued.notify_waiters();
        Exit::Code(0)
    })
}

impl Component for Queue {
    fn kind(&self) -> &'static str {
        "redis"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        store(|s| &s.queue_open, self.0, life)
    }
}

impl Component for Db {
    fn kind(&self) -> &'static str {
        "postgres"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        store(|s| &s.db_open, self.0, life)
    }
}

/// Builds the pipeline on `graph` (its four components are `sim` placeholders
/// replaced here), serves traffic for `--run-for MS` (default 1 s) or until
/// Ctrl-C, shuts down in the graph's order, and prints what happened.
pub(crate) async fn serve(
    graph: &str,
) -> Result<(ShutdownReport, Arc<Shared>), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip_while(|a| a != "--run-for");
    let run_for = Duration::from_millis(
        args.next()
            .and(args.next())
            .map_or(Ok(1000), |v| v.parse())?,
    );
    let shared = Arc::new(Shared::default());
    let workers = Workers {
        shared: shared.clone(),
        size: 8,
        job_time: Duration::from_millis(60),
    };
    let http = Http {
        shared: shared.clone(),
        every: Duration::from_millis(10),
    };
    let supervisor = sundown::Supervisor::from_toml_str(graph)?
        .replace("http", Box::new(http))?
        .replace("workers", Box::new(workers))?
        .replace("redis", Box::new(Queue(shared.clone())))?
        .replace("postgres", Box::new(Db(shared.clone())))?;

    let running = supervisor.start().await?;
    println!("pipeline ready; serving for {run_for:?} (Ctrl-C to stop sooner)");
    tokio::select! {
        _ = tokio::time::sleep(run_for) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let report = running.shutdown().await;

    print_teardown(&report);
    println!("jobs: {}", shared.summary());
    if std::env::args().any(|a| a == "--json") {
        println!("{}", report.to_json());
    }
    Ok((report, shared))
}

/// Prints the teardown, one row per component in the order they went down.
pub(crate) fn print_teardown(report: &ShutdownReport) {
    println!(
        "teardown ({} strategy, exit code {}):",
        report.strategy, report.exit_code
    );
    for name in report.stop_order() {
        if let Some(c) = report.component(name) {
            println!(
                "  phase {}  {:<9} {:<8} {:>6.1} ms into the shutdown, its stop took {:>6.1} ms",
                c.phase,
                c.name,
                c.outcome.as_str(),
                c.stopped_at.unwrap_or_default() - report.shutdown_started_at.unwrap_or_default(),
                c.stop_ms.unwrap_or_default()
            );
        }
    }
}
