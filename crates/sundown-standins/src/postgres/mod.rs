//! `kind = "postgres"`: a PostgreSQL stand-in. It speaks the PostgreSQL
//! wire protocol (protocol 3.0, with pgwire's message types) so `psql`,
//! `tokio-postgres` and other clients connect to it, and stores the data in
//! SQLite, which parses and runs the SQL.
//!
//! # Differences from PostgreSQL
//!
//! **SQL dialect.** Statements are SQLite's. What the job pipeline uses reads
//! the same in both: `CREATE TABLE IF NOT EXISTS`, `INSERT … ON CONFLICT
//! (…) DO NOTHING`/`DO UPDATE`, `RETURNING`, `SELECT … WHERE … ORDER BY …
//! LIMIT`, `UPDATE`, `DELETE`, `count(*)`, transactions and savepoints.
//! Not available: `::` casts (except on parameters, see below), `SERIAL`
//! and identity columns (use `INTEGER PRIMARY KEY`, which SQLite fills in;
//! it reads as int4; `BIGINT PRIMARY KEY` is not filled in), sequences, schemas other than `main`, arrays,
//! PostgreSQL's functions and operators (`now()`, `~`, `->>` differs, …),
//! `E''` strings, dollar quoting, `COPY`, `LISTEN`/`NOTIFY`, cursors,
//! SQL-level `PREPARE`/`EXECUTE`. Where both accept a statement, SQLite's
//! semantics apply: `1/0` is NULL rather than an error, `LIKE` ignores ASCII
//! case, columns are dynamically typed (see below). Foreign keys are
//! enforced, as in PostgreSQL (SQLite's default is not to).
//!
//! **Result types** come from a column's declared type: `SMALLINT` →
//! int2; `INT`, `INTEGER`, `INT4` → int4 (as in PostgreSQL: read `BIGINT`
//! columns as `i64`, `INTEGER` ones as `i32`); `BIGINT`, `INT8` → int8;
//! `REAL`, `FLOAT4` → float4; `DOUBLE PRECISION`, `FLOAT`, `NUMERIC`,
//! `DECIMAL` → float8 (there is no numeric type); `BOOLEAN` → bool;
//! `BYTEA`, `BLOB` → bytea; anything else (`TEXT`, `VARCHAR(n)`,
//! `TIMESTAMP`, `DATE`, `UUID`, `JSON`, …) → text. An expression column
//! (`count(*)`, `a + 1`) takes its type from its values (integer → int8,
//! real → float8, text → text, blob → bytea); in a prepared statement's
//! description, which comes before any row, from running the statement once
//! if it is a read-only query (so `count(*)` is int8), else (or if that
//! yields NULL) from its name: a table column's, or `max`/`min`/`sum`/
//! `count`/`avg`/… of one; else text. SQLite does not enforce declared types: a
//! stored value that does not fit its column's type fails when read
//! (`22P02`, `22003`). Booleans are stored as 0/1, timestamps as text,
//! `VARCHAR(n)` lengths are not enforced.
//!
//! **Parameter types**: the types a client sends in `Parse` are honoured
//! (tokio-postgres' `prepare_typed`). Unspecified ones are inferred from
//! token patterns around them: the column an `INSERT … VALUES` puts them
//! in, the column they are compared with (`col = $1`, `IN (…)`, `BETWEEN`,
//! `LIKE`), `LIMIT`/`OFFSET` (int8), or a `$1::type` cast (SQLite reads
//! `$1::int8` as one parameter token, so the cast names the type); anything
//! else is text, which SQLite's type affinity converts on the way into an
//! `INTEGER` column. So `client.query("… WHERE id = $1", &[&5i64])` works
//! against a `BIGINT` id as it does against PostgreSQL; where no pattern
//! applies, pass a string or use `prepare_typed`. Text and binary formats
//! are accepted for int2/4/8, float4/8, bool, text, varchar, name, json,
//! jsonb and bytea; other types only in text format.
//!
//! **Transactions.** SQLite has one writer at a time: once a transaction
//! has written, other writers wait for its end (up to 5 s, then `55P03`),
//! where PostgreSQL would only block on the same rows. Readers never wait
//! (WAL) and see committed data only; a transaction keeps the snapshot of
//! its first read, and if another session commits a write in between, its
//! own first write fails with `40001` (retry the transaction), roughly
//! PostgreSQL's `REPEATABLE READ`. `BEGIN`'s isolation options are
//! ignored. As in PostgreSQL: an error inside a transaction block aborts it
//! (`25P02` until `ROLLBACK`; `COMMIT` then rolls back), the transaction
//! status in `ReadyForQuery` is exact, and a simple query holding several
//! statements runs as one implicit transaction. Unlike PostgreSQL, extended
//! protocol statements outside a transaction block commit one by one, not
//! at `Sync`.
//!
//! **No catalog.** There is no `pg_catalog` or `information_schema`:
//! psql's `\d` and `\dt` fail (ask SQLite: `SELECT name FROM sqlite_schema`),
//! as do drivers that introspect types when they connect. `SHOW` answers
//! for a few settings (`server_version`, `transaction_isolation`,
//! `statement_timeout`, …); `SET`, `RESET` and `DISCARD` are accepted and
//! ignored, except for `statement_timeout` (below).
//!
//! **Errors** carry SQLSTATEs mapped from SQLite's errors (`42601` syntax,
//! `42P01` undefined table, `42703` undefined column, `42P07` duplicate
//! table, `23505` unique, `23502` not null, `23503` foreign key, `23514`
//! check, `55P03` lock wait timed out, `40001` serialization failure,
//! `57014` cancelled), with SQLite's message text (`UNIQUE constraint
//! failed: jobs.id`, not `duplicate key value violates unique constraint`).
//!
//! **Connections.** No TLS (an `SSLRequest` is answered `N`, so clients
//! with `sslmode=prefer`, the default, go on in plain text); trust
//! authentication when no password is set, else SCRAM-SHA-256 (no MD5, no
//! cleartext, no channel binding, which needs TLS; scram.rs says why not
//! pgwire's); a wrong password or user is `28P01`; the database name is
//! ignored; `client_encoding` is always UTF8; at most 100 sessions
//! (`53300`); a `Query`, `Parse` or `Bind` message may be up to 256 MiB
//! (PostgreSQL: 1 GiB).
//!
//! **What a client may do.** Any SQL on the database, nothing outside it
//! (guard.rs): `ATTACH`, `DETACH`, `VACUUM INTO`, `load_extension` and
//! the pragmas that change how or where the database is stored
//! (`journal_mode`, `synchronous`, `wal_checkpoint`, `writable_schema`,
//! `mmap_size`, …) are refused with `42501`, through SQLite's authorizer,
//! defensive mode and attached-database limit rather than by reading the
//! SQL; pragmas that read the schema (`table_info`, …) work, and plain
//! `VACUUM` does.
//!
//! **Runaway statements** end (interrupt.rs), with `57014`:
//! - `statement_timeout`: the component's (default 30 s; `"0s"`: no limit,
//!   PostgreSQL's default) or the session's: `SET statement_timeout =
//!   '5s'`, `TO 5000` (milliseconds), `SET LOCAL` for the transaction,
//!   `RESET`. It covers each statement of a simple query, and a `Parse`
//!   (which may run a query once to type its columns); not the wait for
//!   another session's write lock, which gives up after 5 s anyway;
//! - a cancel request (psql's Ctrl-C, tokio-postgres' `cancel_query`),
//!   which must carry the session's random secret from `BackendKeyData`;
//!   as in PostgreSQL, one arriving between two requests does nothing;
//! - the client closing its connection: while a statement runs, the
//!   session reads ahead (up to 64 messages, 1 MiB) to see it, like
//!   PostgreSQL with `client_connection_check_interval` set;
//! - the component stopping or being killed.
//!
//! An interrupted statement inside a transaction block aborts it
//! (`25P02` until `ROLLBACK`); if it was writing, SQLite has already
//! rolled the transaction back.
//!
//! **Storage.** `data = "file"`: SQLite in WAL mode, durable at commit
//! like PostgreSQL with `fsync=on` and `synchronous_commit=on`: a commit
//! is acknowledged only after the WAL is fsynced. Sessions committing at
//! the same moment share one fsync (group commit, as PostgreSQL's WAL flush
//! does), which gave 2–4× the throughput of SQLite's `synchronous=FULL`
//! (one fsync per commit, under the write lock) with 8 clients, without
//! weakening it; see `store.rs`. Unlike PostgreSQL, other sessions may see
//! a commit a moment before its fsync has finished. Without `data` the
//! database lives in a private directory on tmpfs (`/dev/shm`, else the
//! temp directory), is never synced, and is removed when the component
//! ends; SQLite's own in-memory databases lock too coarsely for concurrent
//! sessions (with `memdb` a writer blocks every reader, with a shared cache
//! writers fail at once instead of waiting). Clients cannot change
//! `synchronous`, `journal_mode` or checkpoint settings with `PRAGMA`.
//!
//! **Stopping** is PostgreSQL's "fast" shutdown, except that open
//! transactions may finish: new connections get `57P03 the database system
//! is shutting down`; statements running at that moment are interrupted
//! (`57014`); idle sessions get `57P01 terminating connection due
//! to administrator command` at their next `ReadyForQuery` point; a session
//! inside a transaction block may `COMMIT` or `ROLLBACK` and is closed right
//! after (what it runs meanwhile is bounded by its statement timeout). A session that never gets back to rest (a transaction left open,
//! an extended-protocol batch without `Sync`) holds the stop until the
//! engine's `stop_timeout` kills. When the last session is gone the WAL is
//! checkpointed into the database file and the component exits 0. A kill
//! interrupts running statements and closes every connection; uncommitted
//! transactions roll back.

mod settings;

mod bind;
mod conn;
mod db;
mod db_thread;
mod error;
mod extended;
mod gate;
mod group_commit;
mod guard;
mod interrupt;
mod prepare;
mod protocol;
mod scram;
mod session;
mod show;
mod sql;
mod startup;
mod store;
mod timeout;
mod types;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use self::settings::{DEFAULT_STATEMENT_TIMEOUT, KIND, PostgresSpec};
use conn::Shared;
use gate::Gate;
use store::Store;
use sundown::component::{BoxFuture, Component, Exit, Lifecycle};

/// The `postgres` component.
pub struct Postgres {
    spec: PostgresSpec,
}

impl Postgres {
    /// A component for this spec.
    pub fn new(spec: PostgresSpec) -> Postgres {
        Postgres { spec }
    }
}

impl Component for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(run(self.spec, life))
    }
}

/// How long a kill waits for the session threads, then for the checkpoint
/// (the engine allows 5 s in all).
const KILL_WAIT: Duration = Duration::from_secs(1);

/// How long to wait after a failed accept when no connection ends first.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn killed() -> Exit {
    Exit::Signal("SIGKILL".into())
}

async fn run(spec: PostgresSpec, life: Lifecycle) -> Exit {
    let name = life.name().to_string();
    let listener = match TcpListener::bind(spec.listen).await {
        Ok(l) => l,
        Err(e) => return Exit::Error(format!("{name}: cannot listen on {}: {e}", spec.listen)),
    };
    let data = spec.data.clone();
    let store = match tokio::task::spawn_blocking(move || Store::open(data.as_deref())).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return Exit::Error(format!("{name}: {e}")),
        Err(e) => return Exit::Error(format!("{name}: opening the database: {e}")),
    };
    // Hashing the password takes thousands of HMAC rounds: done once, here.
    let password = match spec.password.clone() {
        None => None,
        Some(p) => match tokio::task::spawn_blocking(move || scram::Verifier::new(&p)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => return Exit::Error(format!("{name}: password: {e}")),
            Err(e) => return Exit::Error(format!("{name}: password: {e}")),
        },
    };
    let store = Arc::new(store);
    let shared = Arc::new(Shared {
        name: name.clone(),
        user: spec.user.clone(),
        password,
        statement_timeout: spec.statement_timeout,
        store: Arc::clone(&store),
        gate: Gate::new(),
    });
    info!(
        "{name}: listening on {} (PostgreSQL protocol), data {}",
        spec.listen,
        store.describe()
    );
    life.ready();
    life.detail(Some("0 sessions".into()));

    // Connections run as tasks of their own; the sessions among them
    // (authenticated) are counted by the gate, which the stop waits on.
    // Why not pgwire's `process_socket`: it owns the connection until the
    // client leaves, with no point between messages where a stop could
    // close an idle session but let one inside a transaction finish. The
    // session loop (session.rs) reads message by message and checks the
    // gate whenever the client is at rest.
    let mut conns = JoinSet::new();
    let mut gate = shared.gate.subscribe();
    let mut sessions = shared.gate.subscribe();
    let mut stopping = false;
    let mut backoff: Option<tokio::time::Instant> = None;
    let ended_by_kill = loop {
        tokio::select! {
            biased;
            _ = life.kill_requested() => break true,
            _ = life.stop_requested(), if !stopping => {
                stopping = true;
                shared.gate.begin_stop();
                // A runaway query would hold its session, and the stop, until the kill.
                store.interrupt_all();
                let n = shared.gate.subscribe().borrow().active;
                info!("{name}: stopping: refusing new connections; {n} session(s) close when idle, after any open transaction");
            }
            _ = gate.wait_for(|g| g.stopping && g.active == 0) => break false,
            Ok(()) = sessions.changed() => {
                let g = *sessions.borrow_and_update();
                let left = if g.stopping { " left" } else { "" };
                life.detail(Some(format!("{} sessions{left}", g.active)));
            }
            Some(_) = conns.join_next() => backoff = None,
            _ = sleep_until(backoff), if backoff.is_some() => backoff = None,
            accepted = listener.accept(), if backoff.is_none() => match accepted {
                // During a stop too: the session refuses it with 57P03, which
                // tells a client more than a refused connection would.
                Ok((stream, _)) => {
                    conns.spawn(session::serve(stream, Arc::clone(&shared)));
                }
                Err(e) => {
                    warn!("{name}: accept failed: {e}");
                    backoff = Some(tokio::time::Instant::now() + ACCEPT_BACKOFF);
                }
            },
        }
    };
    drop(listener);
    if ended_by_kill {
        info!(
            "{name}: killed: interrupting statements and closing {} connection(s)",
            conns.len()
        );
        store.interrupt_all();
        conns.abort_all();
        // Uncommitted transactions roll back as the session threads close
        // their connections, which they do once their current call returns
        // (interrupted, or a lock wait giving up). The WAL keeps every
        // commit; the checkpoint only tidies.
        let _ = tokio::time::timeout(KILL_WAIT, store.threads_done()).await;
        let quick = tokio::task::spawn_blocking(move || store.checkpoint(true));
        let _ = tokio::time::timeout(KILL_WAIT, quick).await;
        return killed();
    }
    // Every session is gone; what is left had not logged in.
    conns.shutdown().await;
    drop(shared);
    // The last connection closes when the store goes: SQLite then removes
    // the (empty) WAL, and an in-memory database's directory goes too.
    let done = tokio::task::spawn_blocking(move || {
        let result = store.checkpoint(false);
        drop(store);
        result
    });
    tokio::select! {
        joined = done => match joined {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => warn!("{name}: the final checkpoint could not complete; the WAL keeps the data"),
            Ok(Err(e)) => warn!("{name}: final checkpoint: {e}"),
            Err(e) => warn!("{name}: final checkpoint: {e}"),
        },
        _ = life.kill_requested() => return killed(),
    }
    info!("{name}: stopped");
    Exit::Code(0)
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
