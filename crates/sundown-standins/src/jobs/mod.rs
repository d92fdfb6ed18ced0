//! The job pipeline's wire contract, shared by `kind = "http"` (which accepts
//! jobs) and `kind = "worker_pool"` (which runs them), and the small client
//! plumbing both need: staying connected to Redis (reconnect.rs) and the
//! live detail line (detail.rs), re-exported here.
//!
//! Given a queue name `Q` and a pool name `P` (the worker pool's component
//! name), the contract is:
//!
//! - id: `INCRBY Q:next_id 100` reserves a block of ids for the front end;
//! - accept: `MULTI; HSET Q:job:<id> status queued; LPUSH Q <job>; EXEC`,
//!   where `<job>` is `{"id":<id>,"payload":<the posted JSON>}`;
//! - take (worker `i`): `BLMOVE Q Q:processing:P:<i> RIGHT LEFT 0`, then
//!   `HSET Q:job:<id> status running`;
//! - finish: `INSERT INTO jobs … ON CONFLICT (id) DO NOTHING`, then
//!   `MULTI; HSET Q:job:<id> status done; LREM Q:processing:P:<i> 1 <job>; EXEC`;
//! - give back: `LMOVE Q:processing:P:<i> Q RIGHT RIGHT` until empty, status
//!   back to `queued`; at start for every `KEYS Q:processing:P:*`.
//!
//! One extension: a job whose JSON cannot be read (only possible when
//! something other than `http` pushed it) is moved to `Q:dead` instead of
//! being retried forever.

mod detail;
mod reconnect;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use detail::{DetailTask, Observed, spawn_detail};
pub use reconnect::{
    Backoff, LazyRedis, REDIS_CONNECT_TIMEOUT, REDIS_RESPONSE_TIMEOUT, RedisUnavailable,
    is_connection_error,
};

/// The hash field holding a job's status.
pub const STATUS_FIELD: &str = "status";

/// The table the workers write results to.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS jobs (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, result TEXT NOT NULL, worker TEXT NOT NULL)";

/// One finished job; idempotent, so a job delivered twice (given back after
/// its row was written) is harmless.
pub const INSERT: &str = "INSERT INTO jobs (id, payload, result, worker) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";

/// The stored payload of a job, to tell a re-delivered job from an id collision.
pub const PAYLOAD_OF: &str = "SELECT payload FROM jobs WHERE id = $1";

/// Bound on giving jobs back at a kill, so the pool ends well within the
/// engine's 5 s grace after `kill_requested`.
pub const GIVE_BACK_BOUND: Duration = Duration::from_secs(2);

/// Where a job is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// In the queue, waiting for a worker.
    Queued,
    /// A worker has it.
    Running,
    /// Its result is in PostgreSQL.
    Done,
}

impl Status {
    /// The value stored in the `status` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
        }
    }
}

/// The Redis key names of one queue.
#[derive(Debug, Clone)]
pub struct Keys {
    queue: String,
    next_id: String,
}

impl Keys {
    /// The keys of queue `queue`.
    pub fn new(queue: &str) -> Keys {
        Keys {
            queue: queue.to_string(),
            next_id: format!("{queue}:next_id"),
        }
    }

    /// The list holding queued jobs (`Q`).
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The id counter (`Q:next_id`).
    pub fn next_id(&self) -> &str {
        &self.next_id
    }

    /// A job's status hash (`Q:job:<id>`).
    pub fn job(&self, id: i64) -> String {
        format!("{}:job:{id}", self.queue)
    }

    /// Worker `i` of pool `pool`'s processing list (`Q:processing:P:<i>`).
    pub fn processing(&self, pool: &str, i: usize) -> String {
        format!("{}:processing:{pool}:{i}", self.queue)
    }

    /// The `KEYS` pattern matching every processing list of a pool.
    pub fn processing_pattern(&self, pool: &str) -> String {
        format!("{}:processing:{pool}:*", self.queue)
    }

    /// Whether `key` is one of `pool`'s processing lists (the `KEYS` glob
    /// also matches longer pool names that share the prefix).
    pub fn is_processing_of(&self, key: &str, pool: &str) -> bool {
        key.strip_prefix(&self.queue)
            .and_then(|k| k.strip_prefix(":processing:"))
            .and_then(|k| k.strip_prefix(pool))
            .and_then(|k| k.strip_prefix(':'))
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Where unreadable jobs go (`Q:dead`).
    pub fn dead(&self) -> String {
        format!("{}:dead", self.queue)
    }
}

/// A job as it travels through the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// From a block reserved with `INCRBY Q:next_id`.
    pub id: i64,
    /// The JSON value that was posted.
    pub payload: serde_json::Value,
}

/// The queued form of a job, built around the posted bytes without
/// re-encoding them: `payload` must already be one valid JSON value (the
/// front end checks), so the result is valid JSON and cheap to make.
pub fn job_json(id: i64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 32);
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(id.to_string().as_bytes());
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(payload);
    out.push(b'}');
    out
}

/// Checks that `payload` is one JSON value a worker can read back inside
/// its job. Parsing the payload alone is not enough: serde_json's nesting
/// limit (128) applies to the whole job, one level deeper, and an
/// unparseable job would end in `Q:dead` instead of running.
pub fn check_payload(payload: &[u8]) -> Result<(), serde_json::Error> {
    // Exactly one value (the job's parse would accept `1,"x":2`)…
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)?;
    // …that fits the job's nesting limit.
    serde_json::from_slice::<Job>(&job_json(0, payload)).map(drop)
}

/// The job's id, read without parsing the payload (for status updates when
/// giving a job back).
pub fn job_id(job: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    serde_json::from_slice::<Id>(job).ok().map(|j| j.id)
}

/// The `result` column: the payload's compact JSON length and its 64-bit
/// FNV-1a hash, so a result can be checked against the payload row.
pub fn result_of(payload_text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in payload_text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{} bytes, fnv1a {hash:016x}", payload_text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        let k = Keys::new("jobs");
        assert_eq!(k.queue(), "jobs");
        assert_eq!(k.next_id(), "jobs:next_id");
        assert_eq!(k.job(7), "jobs:job:7");
        assert_eq!(k.processing("workers", 3), "jobs:processing:workers:3");
        assert_eq!(k.processing_pattern("workers"), "jobs:processing:workers:*");
        assert!(k.is_processing_of("jobs:processing:workers:12", "workers"));
        assert!(!k.is_processing_of("jobs:processing:workers-b:1", "workers"));
        assert!(!k.is_processing_of("jobs:processing:workers:x", "workers"));
        assert!(!k.is_processing_of("jobs:processing:workers:", "workers"));
    }

    #[test]
    fn job_json_round_trips() {
        let payload = br#" {"a": [1, 2, "x"]} "#;
        let text = job_json(42, payload.trim_ascii());
        let job: Job = serde_json::from_slice(&text).expect("valid JSON");
        assert_eq!(job.id, 42);
        assert_eq!(job.payload, serde_json::json!({"a": [1, 2, "x"]}));
        assert_eq!(job_id(&text), Some(42));
        assert_eq!(job_id(b"not json"), None);
    }

    #[test]
    fn payloads_are_single_values_a_worker_can_read() {
        assert!(check_payload(br#"{"a":[1,{"b":null}]}"#).is_ok());
        assert!(check_payload(b"42").is_ok());
        for bad in [&b""[..], b"{", b"1,\"x\":2", b"1 2", b"{\"a\":1}}"] {
            assert!(
                check_payload(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        // The deepest value serde_json reads on its own is one level too
        // deep inside a job.
        let deepest = (1..1000)
            .take_while(|&d| serde_json::from_str::<serde_json::Value>(&nested(d)).is_ok())
            .last()
            .expect("shallow values parse");
        assert!(check_payload(nested(deepest - 1).as_bytes()).is_ok());
        assert!(check_payload(nested(deepest).as_bytes()).is_err());
    }

    #[test]
    fn result_is_deterministic_and_depends_on_the_payload() {
        assert_eq!(result_of("{}"), result_of("{}"));
        assert_ne!(result_of("{}"), result_of("[]"));
        // FNV-1a of the empty string is its offset basis.
        assert_eq!(result_of(""), "0 bytes, fnv1a cbf29ce484222325");
    }
}
