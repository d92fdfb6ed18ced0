//! Staying connected: one shared Redis connection that is made on first use
//! and made again after it broke, the error a caller gets meanwhile, and
//! the backoff between reconnection attempts.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ErrorKind, FromRedisValue, RedisError};

/// Bound on connecting to Redis; a refused connection fails at once anyway.
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Bound on one Redis reply for the non-blocking commands. The client's
/// default (500 ms) is short enough to fail requests during a Redis fsync
/// stall; 2 s still turns a hung Redis into an error, not a hung request.
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Capped exponential backoff for reconnecting: 100 ms, doubling, at most 5 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(5));
        d
    }

    /// Back to the shortest delay, after a success.
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// Redis could not be used: connecting or the command failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Redis at {url}: {reason}")]
pub struct RedisUnavailable {
    /// The Redis URL.
    pub url: String,
    /// What went wrong.
    pub reason: String,
}

/// The connection attempt state, behind the async mutex that makes one
/// caller connect while the others wait for its result.
struct Attempts {
    /// Bumped after every failed attempt.
    generation: u64,
    last_error: String,
}

/// One shared multiplexed Redis connection, made on first use and made again
/// after it broke, so a component can start before Redis is up and a Redis
/// outage is an error per request rather than a crash.
pub struct LazyRedis {
    url: String,
    client: Client,
    config: AsyncConnectionConfig,
    current: Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<Attempts>,
    failures: AtomicU64,
}

impl LazyRedis {
    /// A lazy connection to `url`; fails only on a malformed URL.
    pub fn new(url: &str) -> Result<LazyRedis, RedisUnavailable> {
        let client = Client::open(url).map_err(|e| RedisUnavailable {
            url: url.to_string(),
            reason: format!("invalid URL: {e}"),
        })?;
        Ok(LazyRedis {
            url: url.to_string(),
            client,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
                .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT)),
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(Attempts {
                generation: 0,
                last_error: String::new(),
            }),
            failures: AtomicU64::new(0),
        })
    }

    /// The URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client, for dedicated connections.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn unavailable(&self, reason: impl ToString) -> RedisUnavailable {
        RedisUnavailable {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    /// The shared connection, connecting when there is none.
    pub async fn get(&self) -> Result<MultiplexedConnection, RedisUnavailable> {
        if let Some(con) = self.cached() {
            return Ok(con);
        }
        // Callers that queued behind a failed attempt share its error rather
        // than each waiting out its own connect timeout in turn.
        let seen = self.failures.load(Ordering::Acquire);
        let mut attempts = self.connecting.lock().await;
        if let Some(con) = self.cached() {
            return Ok(con);
        }
        if attempts.generation != seen {
            return Err(self.unavailable(&attempts.last_error));
        }
        match self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
        {
            Ok(con) => {
                *self
                    .current
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(con.clone());
                Ok(con)
            }
            Err(e) => {
                attempts.generation += 1;
                attempts.last_error = e.to_string();
                self.failures.store(attempts.generation, Ordering::Release);
                Err(self.unavailable(e))
            }
        }
    }

    /// Turns a command's error into [`RedisUnavailable`], dropping the shared
    /// connection when the error says it is broken (the next call reconnects).
    pub fn failed(&self, e: RedisError) -> RedisUnavailable {
        if is_connection_error(&e) {
            *self
                .current
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        }
        self.unavailable(e)
    }

    /// Runs one command on the shared connection.
    pub async fn query<T: FromRedisValue>(
        &self,
        cmd: &::redis::Cmd,
    ) -> Result<T, RedisUnavailable> {
        let mut con = self.get().await?;
        cmd.query_async(&mut con).await.map_err(|e| self.failed(e))
    }

    /// Runs a pipeline (or a `MULTI`/`EXEC` transaction) on the shared connection.
    pub async fn query_pipe<T: FromRedisValue>(
        &self,
        pipe: &::redis::Pipeline,
    ) -> Result<T, RedisUnavailable> {
        let mut con = self.get().await?;
        pipe.query_async(&mut con).await.map_err(|e| self.failed(e))
    }
}

/// Whether an error leaves the connection unusable. A server's error reply
/// does not; anything else (I/O, timeout, a garbled reply) might, and a
/// needless reconnect is cheap.
pub fn is_connection_error(e: &RedisError) -> bool {
    !matches!(
        e.kind(),
        ErrorKind::Server(_) | ErrorKind::Extension | ErrorKind::UnexpectedReturnType
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
