//! A worker's own connections: a dedicated Redis connection for `BLMOVE`
//! (which blocks, so it cannot share the pool's), and PostgreSQL with the
//! worker's prepared `INSERT`.

use std::time::Duration;

use ::redis::AsyncConnectionConfig;
use ::redis::aio::MultiplexedConnection;
use ::redis::io::tcp::TcpSettings;
use ::redis::io::tcp::socket2::TcpKeepalive;
use tokio_postgres::Statement;
use tokio_postgres::types::Type;

use super::pool::{PgFailed, Pool};
use crate::jobs::{self, LazyRedis};

/// Keepalive probes on the blocking connection start after this much
/// silence, and repeat at [`KEEPALIVE_INTERVAL`]: a dead Redis is noticed
/// within about a minute instead of never.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// A worker could not connect.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnectFailed {
    /// To Redis, for its blocking connection.
    #[error("cannot connect to Redis at {url}: {source}")]
    Redis {
        url: String,
        source: ::redis::RedisError,
    },
    /// To PostgreSQL.
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Postgres { url: String, source: PgFailed },
}

/// The worker's dedicated Redis connection for `BLMOVE`.
pub(super) struct Blocking {
    pub(super) con: MultiplexedConnection,
    /// Its `CLIENT ID`, when the server has that command: killing it by id
    /// after cancelling guarantees the server no longer moves a job for us.
    pub(super) id: Option<i64>,
}

/// The worker's PostgreSQL connection and its prepared `INSERT`.
pub(super) struct Pg {
    pub(super) client: tokio_postgres::Client,
    pub(super) insert: Statement,
}

/// A worker's blocking connection to the Redis `control` reaches.
pub(super) async fn blocking_redis(control: &LazyRedis) -> Result<Blocking, ::redis::RedisError> {
    // No response timeout: BLMOVE blocks until a job comes.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(jobs::REDIS_CONNECT_TIMEOUT))
        .set_response_timeout(None);
    // An idle BLMOVE sends nothing, so a peer that vanished (a partition,
    // a host gone) would leave this worker waiting forever without
    // keepalive probes; with them the call fails and the worker reconnects.
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    let info = control
        .client()
        .get_connection_info()
        .clone()
        .set_tcp_settings(
            TcpSettings::default()
                .set_nodelay(true)
                .set_keepalive(keepalive),
        );
    let mut con = ::redis::Client::open(info)?
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let id = ::redis::cmd("CLIENT")
        .arg("ID")
        .query_async::<i64>(&mut con)
        .await
        .ok();
    Ok(Blocking { con, id })
}

/// A worker's PostgreSQL connection, the table made sure of and the
/// `INSERT` prepared.
pub(super) async fn postgres(pool: &Pool) -> Result<Pg, PgFailed> {
    let client = pool.pg_connect().await?;
    // Again on every reconnect: the database may have been recreated.
    client.batch_execute(jobs::CREATE_TABLE).await?;
    // Explicit types, so the statement means the same to PostgreSQL and
    // to the stand-in, whatever each would infer.
    let insert = client
        .prepare_typed(
            jobs::INSERT,
            &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT],
        )
        .await?;
    Ok(Pg { client, insert })
}
