//! One client connection: after its startup (startup.rs), the simple and
//! extended (extended.rs) query protocols until the client leaves or the
//! component stops.
//!
//! The loop here reads one frontend message at a time, so it knows where
//! the client is: at rest after a `ReadyForQuery`, inside an extended-query
//! batch, inside a transaction. That is what a PostgreSQL-style stop needs
//! (pgwire's `process_socket` would hide it): an idle session is told
//! `57P01` and closed at its next rest point, a session inside a
//! transaction may finish it first, a session that connects during the stop
//! is refused with `57P03` once its startup packet arrives.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::messages::PgWireBackendMessage as Msg;
use pgwire::messages::response::{ReadyForQuery, TransactionStatus};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::conn::{Conn, End, Shared, Step, call, fatal, send_reply};
use super::db_thread::DbThread;
use super::error::PgError;
use super::extended::{Extended, Failure};
use super::protocol::{Codec, Frontend, ProtocolError};
use super::startup::startup;

/// How long a client has to get through startup and authentication
/// (PostgreSQL's `authentication_timeout` is a minute; a stand-in's clients
/// are local).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one accepted connection to its end.
pub(super) async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let _ = stream.set_nodelay(true);
    let mut conn = Framed::new(stream, Codec::new());
    let login = match tokio::time::timeout(STARTUP_TIMEOUT, startup(&mut conn, &shared)).await {
        Ok(Ok(login)) => login,
        Ok(Err(End::Closed)) => return,
        Ok(Err(End::Io(e))) => {
            tracing::debug!("{}: {peer}: during startup: {e}", shared.name);
            return;
        }
        Err(_) => {
            let _ = fatal(
                &mut conn,
                PgError::fatal("08P01", "canceling authentication due to timeout"),
            )
            .await;
            return;
        }
    };
    tracing::debug!(
        "{}: {peer}: session {} for `{}`",
        shared.name,
        login.id,
        login.user
    );
    let mut session = Session {
        db: login.db,
        extended: Extended::default(),
        status: TransactionStatus::Idle,
        skipping: false,
    };
    if let Err(End::Io(e)) = session.run(&mut conn, &shared).await {
        tracing::debug!("{}: {peer}: {e}", shared.name);
    }
    drop(conn);
    // The session counts until its connection is closed: the final
    // checkpoint must not race a connection still open.
    session.db.finish().await;
    drop(login.guard);
}

struct Session {
    db: DbThread,
    extended: Extended,
    status: TransactionStatus,
    /// An extended-protocol message failed: ignore everything until `Sync`.
    skipping: bool,
}

impl Session {
    async fn run(&mut self, conn: &mut Conn, shared: &Shared) -> Step {
        let mut gate = shared.gate.subscribe();
        // Just sent ReadyForQuery: between two client requests.
        let mut at_rest = true;
        loop {
            let idle = at_rest && self.status == TransactionStatus::Idle;
            if idle && gate.borrow().stopping {
                let e = PgError::fatal(
                    "57P01",
                    "terminating connection due to administrator command",
                );
                return Err(fatal(conn, e).await);
            }
            let msg = match conn.codec_mut().next_ahead() {
                Some(read) => read,
                None => tokio::select! {
                    msg = conn.next() => msg,
                    _ = gate.wait_for(|g| g.stopping), if idle => continue,
                },
            };
            let msg = match msg {
                None => return Ok(()),
                Some(Ok(m)) => m,
                Some(Err(ProtocolError::Io(e))) => return Err(End::Io(e)),
                Some(Err(e)) => {
                    return Err(fatal(conn, PgError::fatal("08P01", e.to_string())).await);
                }
            };
            at_rest = false;
            let step = match msg {
                Frontend::Terminate => return Ok(()),
                Frontend::Sync => {
                    self.skipping = false;
                    if self.status == TransactionStatus::Idle {
                        self.extended.transaction_ended();
                    }
                    at_rest = true;
                    conn.send(Msg::ReadyForQuery(ReadyForQuery::new(self.status)))
                        .await?;
                    continue;
                }
                _ if self.skipping => continue,
                Frontend::Flush => {
                    SinkExt::<Msg>::flush(conn).await?;
                    continue;
                }
                Frontend::Copy => continue,
                Frontend::Query(q) => {
                    at_rest = true;
                    self.simple_query(conn, q).await?;
                    continue;
                }
                Frontend::Parse { name, query, types } => {
                    self.extended
                        .parse(conn, &self.db, name, query, types)
                        .await
                }
                Frontend::Bind {
                    portal,
                    statement,
                    param_formats,
                    params,
                    result_formats,
                } => {
                    self.extended
                        .bind(
                            conn,
                            portal,
                            &statement,
                            &param_formats,
                            &params,
                            &result_formats,
                        )
                        .await
                }
                Frontend::Describe { target, name } => {
                    self.extended.describe(conn, target, &name).await
                }
                Frontend::Execute { portal, max_rows } => {
                    self.extended
                        .execute(conn, &self.db, &portal, max_rows, &mut self.status)
                        .await
                }
                Frontend::Close { target, name } => self.extended.close(conn, target, &name).await,
                Frontend::Password(_)
                | Frontend::SslRequest
                | Frontend::GssEncRequest
                | Frontend::CancelRequest { .. }
                | Frontend::Startup { .. } => {
                    return Err(fatal(
                        conn,
                        PgError::fatal("08P01", "unexpected message after startup"),
                    )
                    .await);
                }
            };
            match step {
                Ok(()) => {}
                Err(Failure::Client(e)) => {
                    self.skipping = true;
                    conn.feed(Msg::ErrorResponse(e.info().into())).await?;
                }
                Err(Failure::End(end)) => return Err(end),
            }
        }
    }

    async fn simple_query(&mut self, conn: &mut Conn, query: String) -> Step {
        let (replies, status) = call(conn, &self.db, move |db| {
            let r = db.simple_query(&query);
            (r, db.status())
        })
        .await?;
        self.status = status;
        for r in replies {
            send_reply(conn, r, true).await?;
        }
        conn.send(Msg::ReadyForQuery(ReadyForQuery::new(status)))
            .await?;
        Ok(())
    }
}
