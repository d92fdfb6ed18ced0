//! A connection's first steps: SSL and GSS encryption refused (clients go
//! on in plain text), a cancel request (which is all such a connection
//! does), the startup packet, trust or SCRAM-SHA-256 authentication,
//! admission (not while stopping, not beyond [`MAX_SESSIONS`]), the
//! session's database thread, and the parameters a client expects before
//! its first `ReadyForQuery`, with the key that cancels its queries.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use pgwire::messages::PgWireBackendMessage as Msg;
use pgwire::messages::response::{GssEncResponse, ReadyForQuery, SslResponse, TransactionStatus};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey,
};

use super::conn::{Conn, End, Shared, fatal};
use super::db_thread::DbThread;
use super::error::PgError;
use super::gate::{Refused, SessionGuard};
use super::protocol::{Frontend, ProtocolError};
use super::scram::{self, ScramError, Verifier};
use super::show::server_version;

/// PostgreSQL's default `max_connections`; each session is a thread here.
const MAX_SESSIONS: usize = 100;

/// An authenticated, admitted session.
pub(super) struct Login {
    pub(super) guard: SessionGuard,
    pub(super) db: DbThread,
    pub(super) user: String,
    pub(super) id: u64,
}

pub(super) async fn startup(conn: &mut Conn, shared: &Shared) -> Result<Login, End> {
    let params = loop {
        let msg = match conn.next().await {
            None => return Err(End::Closed),
            Some(Ok(m)) => m,
            Some(Err(ProtocolError::Io(e))) => return Err(End::Io(e)),
            Some(Err(e)) => return Err(fatal(conn, PgError::fatal("08P01", e.to_string())).await),
        };
        match msg {
            // No TLS here: clients fall back to a plain connection.
            Frontend::SslRequest => conn.send(Msg::SslResponse(SslResponse::Refuse)).await?,
            Frontend::GssEncRequest => {
                conn.send(Msg::GssEncResponse(GssEncResponse::Refuse))
                    .await?
            }
            // As PostgreSQL: no answer either way, so a wrong key tells nothing.
            Frontend::CancelRequest { pid, secret } => {
                if shared.store.cancel(pid, &secret) {
                    tracing::debug!("{}: cancel request for session {pid}", shared.name);
                }
                return Err(End::Closed);
            }
            Frontend::Startup {
                major: 3,
                minor,
                params,
            } => {
                conn.codec_mut().started();
                let unknown: Vec<String> = params
                    .iter()
                    .filter(|(k, _)| k.starts_with("_pq_."))
                    .map(|(k, _)| k.clone())
                    .collect();
                if minor > 0 || !unknown.is_empty() {
                    conn.feed(Msg::NegotiateProtocolVersion(
                        NegotiateProtocolVersion::new(0, unknown),
                    ))
                    .await?;
                }
                break params;
            }
            Frontend::Startup { major, minor, .. } => {
                let e = PgError::fatal(
                    "0A000",
                    format!(
                        "unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
                    ),
                );
                return Err(fatal(conn, e).await);
            }
            _ => return Err(fatal(conn, PgError::fatal("08P01", "invalid startup packet")).await),
        }
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(user) = param("user").filter(|u| !u.is_empty()) else {
        let e = PgError::fatal(
            "28000",
            "no PostgreSQL user name specified in startup packet",
        );
        return Err(fatal(conn, e).await);
    };
    let shutting_down = || PgError::fatal("57P03", "the database system is shutting down");
    if shared.gate.is_stopping() {
        return Err(fatal(conn, shutting_down()).await);
    }
    match &shared.password {
        None if user != shared.user => {
            let e = PgError::fatal("28000", format!("role \"{user}\" does not exist"));
            return Err(fatal(conn, e).await);
        }
        None => {}
        Some(verifier) => scram_login(conn, verifier, &user, &shared.user).await?,
    }
    let guard = match shared.gate.enter(MAX_SESSIONS) {
        Ok(g) => g,
        Err(Refused::Stopping) => return Err(fatal(conn, shutting_down()).await),
        Err(Refused::Full) => {
            return Err(fatal(
                conn,
                PgError::fatal("53300", "sorry, too many clients already"),
            )
            .await);
        }
    };
    let id = guard.id();
    let db = match DbThread::start(Arc::clone(&shared.store), id, shared.statement_timeout).await {
        Ok(w) => w,
        Err(e) => return Err(fatal(conn, e).await),
    };
    conn.feed(Msg::Authentication(Authentication::Ok)).await?;
    let app = param("application_name").unwrap_or_default();
    for (k, v) in [
        ("application_name", app.as_str()),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "on"),
        ("server_encoding", "UTF8"),
        ("server_version", &server_version()),
        ("session_authorization", &user),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "UTC"),
    ] {
        conn.feed(Msg::ParameterStatus(ParameterStatus::new(
            k.to_string(),
            v.to_string(),
        )))
        .await?;
    }
    let control = db.control();
    conn.feed(Msg::BackendKeyData(BackendKeyData::new(
        control.pid,
        SecretKey::I32(control.secret()),
    )))
    .await?;
    conn.send(Msg::ReadyForQuery(ReadyForQuery::new(
        TransactionStatus::Idle,
    )))
    .await?;
    Ok(Login {
        guard,
        db,
        user,
        id,
    })
}

/// The next message, which must be a password message (a SASL response).
async fn sasl_response(conn: &mut Conn) -> Result<bytes::Bytes, End> {
    match conn.next().await {
        // psql hangs up here to prompt for the password, then reconnects.
        None => Err(End::Closed),
        Some(Ok(Frontend::Password(body))) => Ok(body),
        Some(Err(ProtocolError::Io(e))) => Err(End::Io(e)),
        Some(Ok(_) | Err(_)) => {
            let e = PgError::fatal("08P01", "expected SASL response");
            Err(fatal(conn, e).await)
        }
    }
}

/// SCRAM-SHA-256 authentication of `user`. Someone claiming another user
/// goes through the whole exchange and fails as a wrong password does
/// (as in PostgreSQL), so which user exists is not told.
async fn scram_login(
    conn: &mut Conn,
    verifier: &Verifier,
    user: &str,
    expected: &str,
) -> Result<(), End> {
    let refused = |e: ScramError| match e {
        ScramError::WrongProof => PgError::fatal(
            "28P01",
            format!("password authentication failed for user \"{user}\""),
        ),
        other => PgError::fatal("08P01", other.to_string()),
    };
    conn.send(Msg::Authentication(Authentication::SASL(vec![
        scram::MECHANISM.to_string(),
    ])))
    .await?;
    let body = sasl_response(conn).await?;
    let first = match scram::initial_response(&body) {
        Ok((scram::MECHANISM, data)) => scram::server_first(verifier, data),
        Ok(_) => {
            let e = PgError::fatal(
                "08P01",
                "client selected an invalid SASL authentication mechanism",
            );
            return Err(fatal(conn, e).await);
        }
        Err(e) => Err(e),
    };
    let (exchange, server_first) = match first {
        Ok(f) => f,
        Err(e) => return Err(fatal(conn, refused(e)).await),
    };
    conn.send(Msg::Authentication(Authentication::SASLContinue(
        server_first.into_bytes().into(),
    )))
    .await?;
    let body = sasl_response(conn).await?;
    match exchange.finish(verifier, &body) {
        Ok(_) if user != expected => Err(fatal(conn, refused(ScramError::WrongProof)).await),
        Ok(server_final) => {
            conn.feed(Msg::Authentication(Authentication::SASLFinal(
                server_final.into_bytes().into(),
            )))
            .await?;
            Ok(())
        }
        Err(e) => Err(fatal(conn, refused(e)).await),
    }
}
