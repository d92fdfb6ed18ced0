//! A client connection as the startup and the session see it: the framed
//! socket, what every connection of one component shares, and how a
//! connection ends.
//!
//! Both the startup (startup.rs) and the session after it (session.rs) end a
//! connection the same way; this vocabulary lives here so that neither has
//! to borrow it from the other.

use std::io;
use std::sync::Arc;

use futures::SinkExt;
use pgwire::messages::PgWireBackendMessage as Msg;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::gate::Gate;
use super::protocol::Codec;
use super::store::Store;
use super::types::PgError;

/// A client connection: frontend messages in, backend messages out.
pub(super) type Conn = Framed<TcpStream, Codec>;

/// What every connection of one component shares.
pub(super) struct Shared {
    pub(super) name: String,
    pub(super) user: String,
    pub(super) password: Option<String>,
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
