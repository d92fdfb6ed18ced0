//! Settings of the built-in service kinds: `http`, `worker_pool`, `redis`
//! and `postgres`. They live apart from the generic settings because each
//! kind has its own, and a reader looking for "what does the Redis stand-in
//! accept" should find it in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of `kind = "http"`: the pipeline's front end.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Redis the jobs are pushed to (`redis://host:port/`).
    pub redis: String,
    /// Name of the Redis list that is the job queue.
    pub queue: String,
    /// How long `/readyz` answers 503 before the listener closes, so a load
    /// balancer notices and stops sending new requests.
    pub drain_delay: Duration,
    /// At most this many connections at once; more wait in the accept queue.
    pub max_connections: Option<usize>,
}

/// Settings of `kind = "worker_pool"`.
#[derive(Debug, Clone)]
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

/// Settings of `kind = "redis"`: the Redis stand-in.
#[derive(Debug, Clone)]
pub struct RedisSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Append-only file, resolved against the config's directory; `None`
    /// keeps data in memory only.
    pub aof: Option<PathBuf>,
    /// When the append-only file is flushed to disk.
    pub appendfsync: AppendFsync,
}

/// `appendfsync`, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendFsync {
    /// fsync before a write is answered: nothing acknowledged is ever lost.
    #[default]
    Always,
    /// fsync once a second: a crash may lose the last second of writes.
    Everysec,
}

/// Settings of `kind = "postgres"`: the PostgreSQL stand-in.
#[derive(Debug, Clone)]
pub struct PostgresSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// SQLite database file, resolved against the config's directory; `None`
    /// keeps data in memory only.
    pub data: Option<PathBuf>,
    /// The user clients must log in as.
    pub user: String,
    /// `None`: trust authentication; `Some`: cleartext password authentication.
    pub password: Option<String>,
}
