//! A connection's first steps: SSL and GSS encryption refused (clients go
//! on in plain text), the startup packet, trust or cleartext password
//! authentication, admission (not while stopping, not beyond
//! [`MAX_SESSIONS`]), the session's database thread, and the parameters a
//! client expects before its first `ReadyForQuery`.

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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
            // Cancelling is not supported; PostgreSQL never answers a cancel request anyway.
            Frontend::CancelRequest => return Err(End::Closed),
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
        Some(password) => {
            conn.send(Msg::Authentication(Authentication::CleartextPassword))
                .await?;
            let given = match conn.next().await {
                // psql hangs up here to prompt for the password, then reconnects.
                None => return Err(End::Closed),
                Some(Ok(Frontend::Password(body))) => body,
                Some(Err(ProtocolError::Io(e))) => return Err(End::Io(e)),
                Some(Ok(_) | Err(_)) => {
                    let e = PgError::fatal("08P01", "expected password response");
                    return Err(fatal(conn, e).await);
                }
            };
            let given = given.strip_suffix(b"\0").unwrap_or(&given);
            if user != shared.user || !constant_time_eq(given, password.as_bytes()) {
                let e = PgError::fatal(
                    "28P01",
                    format!("password authentication failed for user \"{user}\""),
                );
                return Err(fatal(conn, e).await);
            }
        }
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
    let db = match DbThread::start(Arc::clone(&shared.store), id).await {
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
    let pid = i32::try_from(id % 0x7fff_ffff).unwrap_or(0);
    conn.feed(Msg::BackendKeyData(BackendKeyData::new(
        pid,
        SecretKey::I32(pid.rotate_left(13)),
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
