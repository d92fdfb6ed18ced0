//! A client connection as the startup and the session see it: the framed
//! socket, what every connection of one component shares, how a connection
//! ends, and how a statement's results go out.
//!
//! Both the startup (startup.rs) and the session after it (session.rs) end a
//! connection the same way; this vocabulary lives here so that neither has
//! to borrow it from the other.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::results::FieldInfo;
use pgwire::messages::PgWireBackendMessage as Msg;
use pgwire::messages::data::{FieldDescription, RowDescription};
use pgwire::messages::response::EmptyQueryResponse;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::db::{Db, Reply};
use super::db_thread::DbThread;
use super::error::PgError;
use super::gate::Gate;
use super::interrupt::Reason;
use super::protocol::Codec;
use super::scram::Verifier;
use super::store::Store;

/// A client connection: frontend messages in, backend messages out.
pub(super) type Conn = Framed<TcpStream, Codec>;

/// What every connection of one component shares.
pub(super) struct Shared {
    pub(super) name: String,
    pub(super) user: String,
    /// `Some`: SCRAM-SHA-256 authentication against this.
    pub(super) password: Option<Verifier>,
    /// Each session's initial `statement_timeout`.
    pub(super) statement_timeout: Option<Duration>,
    pub(super) store: Arc<Store>,
    pub(super) gate: Arc<Gate>,
}

/// Why a connection's loop ended early.
pub(super) enum End {
    /// The client was told why (a FATAL error) or is gone.
    Closed,
    Io(io::Error),
}

impl From<io::Error> for End {
    fn from(e: io::Error) -> End {
        End::Io(e)
    }
}

/// Sends a FATAL error and ends the connection.
pub(super) async fn fatal(conn: &mut Conn, e: PgError) -> End {
    match conn.send(Msg::ErrorResponse(e.info().into())).await {
        Ok(()) => End::Closed,
        Err(e) => End::Io(e),
    }
}

/// A step of a connection's loop: `Err` ends the connection.
pub(super) type Step = Result<(), End>;

fn internal() -> PgError {
    PgError::fatal("XX000", "the session's database thread ended unexpectedly")
}

/// Runs `f` on the session's database thread; if the thread is gone, the
/// session ends with a FATAL error.
///
/// Meanwhile the connection is read ahead (messages are kept for later, in
/// order): if the client closes it, nobody is waiting for the result, and
/// the statement is interrupted rather than left to run, perhaps forever
/// (PostgreSQL does this with `client_connection_check_interval` set).
pub(super) async fn call<R: Send + 'static>(
    conn: &mut Conn,
    db: &DbThread,
    f: impl FnOnce(&mut Db) -> R + Send + 'static,
) -> Result<R, End> {
    let result = db.call(f);
    tokio::pin!(result);
    let mut watching = conn.codec().may_read_ahead();
    let result = loop {
        tokio::select! {
            r = &mut result => break r,
            read = conn.next(), if watching => {
                if !matches!(read, Some(Ok(_))) {
                    db.control().interrupt(Reason::Gone);
                }
                watching = conn.codec_mut().read_ahead(read);
            }
        }
    };
    match result {
        Some(r) => Ok(r),
        None => Err(fatal(conn, internal()).await),
    }
}

/// The `RowDescription` of result columns.
pub(super) fn row_description(fields: &[FieldInfo]) -> Msg {
    Msg::RowDescription(RowDescription::new(
        fields.iter().map(FieldDescription::from).collect(),
    ))
}

/// Sends what a statement produced; `describe`: with its `RowDescription`
/// first (the simple protocol; the extended one describes on request).
pub(super) async fn send_reply(conn: &mut Conn, reply: Reply, describe: bool) -> Step {
    match reply {
        Reply::Rows { fields, rows, tag } => {
            if describe {
                conn.feed(row_description(&fields)).await?;
            }
            for row in rows {
                conn.feed(Msg::DataRow(row)).await?;
            }
            conn.feed(Msg::CommandComplete(tag.into())).await?;
        }
        Reply::Command(tag) => conn.feed(Msg::CommandComplete(tag.into())).await?,
        Reply::Empty => {
            conn.feed(Msg::EmptyQueryResponse(EmptyQueryResponse::new()))
                .await?
        }
        Reply::Notice(e) => conn.feed(Msg::NoticeResponse(e.info().into())).await?,
        Reply::Error(e) => conn.feed(Msg::ErrorResponse(e.info().into())).await?,
    }
    Ok(())
}
