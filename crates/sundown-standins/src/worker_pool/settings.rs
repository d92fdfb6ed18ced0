//! Settings of `kind = "worker_pool"`.

use std::time::Duration;

use serde::Deserialize;
use sundown::component::Component;
use sundown::diagnostic::Zero;
use sundown::kind::{Context, Dial, Kind, SerdeKind, Settings};
use toml::Spanned;

use crate::settings::{dial, postgres_target, postgres_url, queue, redis_target, redis_url};

/// Workers when `size` is not given.
const DEFAULT_POOL_SIZE: usize = 4;
/// The most workers one pool may have.
const MAX_POOL_SIZE: i64 = 1024;
/// A job's time when `job_time` is not given.
const DEFAULT_JOB_TIME: Duration = Duration::from_millis(10);

/// `kind = "worker_pool"`.
pub const KIND: &dyn Kind = &SerdeKind::new("worker_pool", validate);

/// Settings of `kind = "worker_pool"`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPoolSpec {
    /// Number of workers.
    pub size: usize,
    /// Name of the Redis list the jobs come from.
    pub queue: String,
    /// Redis holding the queue (`redis://host:port/`).
    pub redis: String,
    /// PostgreSQL the results are written to (`postgres://user[:password]@host:port/db`).
    pub postgres: String,
    /// Simulated work per job.
    pub job_time: JobTime,
}

/// How long one job takes: a fixed time, or uniformly random in a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobTime {
    /// Shortest.
    pub min: Duration,
    /// Longest (equal to `min` for a fixed time).
    pub max: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkerPool {
    redis: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
    size: Option<Spanned<i64>>,
    postgres: Option<Spanned<String>>,
    job_time: Option<Spanned<String>>,
}

impl Settings for WorkerPoolSpec {
    fn build(&self) -> Box<dyn Component> {
        Box::new(super::WorkerPool::new(self.clone()))
    }

    fn dials(&self) -> Vec<Dial> {
        [
            dial("redis", redis_target(&self.redis)),
            dial("postgres", postgres_target(&self.postgres)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn works_in_process(&self) -> bool {
        true
    }
}

fn validate(cx: &mut Context<'_, '_>, c: RawWorkerPool) -> Option<WorkerPoolSpec> {
    let name = cx.name().to_string();
    let what = &|key: &str| format!("component `{name}`: {key}");
    let size = match &c.size {
        None => Some(DEFAULT_POOL_SIZE),
        Some(n) if (1..=MAX_POOL_SIZE).contains(n.get_ref()) => usize::try_from(*n.get_ref()).ok(),
        Some(n) => {
            cx.error(
                n.span(),
                format!(
                    "{}: {} is not between 1 and {MAX_POOL_SIZE}",
                    what("size"),
                    n.get_ref()
                ),
            );
            None
        }
    };
    let queue = queue(cx, &c.queue, what);
    let redis = redis_url(cx, &c.redis, what);
    let postgres = postgres_url(cx, &c.postgres, what);
    let job_time = match &c.job_time {
        None => Some(JobTime {
            min: DEFAULT_JOB_TIME,
            max: DEFAULT_JOB_TIME,
        }),
        Some(v) => job_time(cx, v, what),
    };
    Some(WorkerPoolSpec {
        size: size?,
        queue: queue?,
        redis: redis?,
        postgres: postgres?,
        job_time: job_time?,
    })
}

/// `"50ms"` or a range `"10ms..100ms"`.
fn job_time(
    cx: &mut Context<'_, '_>,
    v: &Spanned<String>,
    what: &dyn Fn(&str) -> String,
) -> Option<JobTime> {
    let text = v.get_ref();
    let label = what("job_time");
    let part = |s: &str| Spanned::new(v.span(), s.trim().to_string());
    match text.split_once("..") {
        None => {
            let d = cx.duration(&part(text), &label, Zero::Allowed)?;
            Some(JobTime { min: d, max: d })
        }
        Some((lo, hi)) => {
            let min = cx.duration(&part(lo), &label, Zero::Allowed);
            let max = cx.duration(&part(hi), &label, Zero::Allowed);
            let (min, max) = (min?, max?);
            if min > max {
                cx.error(
                    v.span(),
                    format!("{label}: the range `{text}` ends before it starts"),
                );
                return None;
            }
            Some(JobTime { min, max })
        }
    }
}
