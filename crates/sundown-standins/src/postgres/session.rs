//! One client connection: after its startup (startup.rs), the simple and
//! extended query protocols until the client leaves or the component stops.
//!
//! The loop here reads one frontend message at a time, so it knows where
//! the client is: at rest after a `ReadyForQuery`, inside an extended-query
//! batch, inside a transaction. That is what a PostgreSQL-style stop needs
//! (pgwire's `process_socket` would hide it): an idle session is told
//! `57P01` and closed at its next rest point, a session inside a
//! transaction may finish it first, a session that connects during the stop
//! is refused with `57P03` once its startup packet arrives.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo, Tag};
use pgwire::messages::PgWireBackendMessage as Msg;
use pgwire::messages::data::{
    DataRow, FieldDescription, NoData, ParameterDescription, RowDescription,
};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery, TransactionStatus};
use rusqlite::types::Value;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::conn::{Conn, End, Shared, fatal};
use super::db::{self, Prepared, Reply};
use super::db_thread::DbThread;
use super::protocol::{Codec, Frontend, ProtocolError};
use super::startup::startup;
use super::types::{self, PgError};

/// How long a client has to get through startup and authentication
/// (PostgreSQL's `authentication_timeout` is a minute; a stand-in's clients
/// are local).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

type Step = Result<(), End>;

fn internal() -> PgError {
    PgError::fatal("XX000", "the session's database thread ended unexpectedly")
}

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
        statements: HashMap::new(),
        portals: HashMap::new(),
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

/// A bound statement.
struct Portal {
    stmt: Arc<Prepared>,
    params: Arc<Vec<Value>>,
    formats: Vec<FieldFormat>,
    state: PortalState,
}

enum PortalState {
    New,
    /// Rows not yet sent (an `Execute` with a row limit stopped early).
    Suspended(VecDeque<DataRow>, Tag),
    Done(Tag),
    Empty,
}

struct Session {
    db: DbThread,
    statements: HashMap<String, Arc<Prepared>>,
    portals: HashMap<String, Portal>,
    status: TransactionStatus,
    /// An extended-protocol message failed: ignore everything until `Sync`.
    skipping: bool,
}

fn row_description(fields: &[FieldInfo]) -> Msg {
    Msg::RowDescription(RowDescription::new(
        fields.iter().map(FieldDescription::from).collect(),
    ))
}

fn format_code(code: i16) -> Result<FieldFormat, PgError> {
    match code {
        0 => Ok(FieldFormat::Text),
        1 => Ok(FieldFormat::Binary),
        other => Err(PgError::error(
            "08P01",
            format!("unsupported format code: {other}"),
        )),
    }
}

/// One format per item from the 0, 1 or n codes a Bind carries.
fn formats(codes: &[i16], n: usize, what: &str, of: &str) -> Result<Vec<FieldFormat>, PgError> {
    match codes {
        [] => Ok(vec![FieldFormat::Text; n]),
        [one] => Ok(vec![format_code(*one)?; n]),
        many if many.len() == n => many.iter().map(|c| format_code(*c)).collect(),
        many => Err(PgError::error(
            "08P01",
            format!(
                "bind message has {} {what} formats but {n} {of}",
                many.len()
            ),
        )),
    }
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
            let msg = tokio::select! {
                msg = conn.next() => msg,
                _ = gate.wait_for(|g| g.stopping), if idle => continue,
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
                        // PostgreSQL drops portals when their transaction ends.
                        self.portals.clear();
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
                    self.parse(conn, name, query, types).await
                }
                Frontend::Bind {
                    portal,
                    statement,
                    param_formats,
                    params,
                    result_formats,
                } => {
                    self.bind(
                        conn,
                        portal,
                        &statement,
                        &param_formats,
                        &params,
                        &result_formats,
                    )
                    .await
                }
                Frontend::Describe { target, name } => self.describe(conn, target, &name).await,
                Frontend::Execute { portal, max_rows } => {
                    self.execute(conn, &portal, max_rows).await
                }
                Frontend::Close { target, name } => self.close(conn, target, &name).await,
                Frontend::Password(_)
                | Frontend::SslRequest
                | Frontend::GssEncRequest
                | Frontend::CancelRequest
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

    async fn call<R: Send + 'static>(
        &self,
        conn: &mut Conn,
        f: impl FnOnce(&mut db::Db) -> R + Send + 'static,
    ) -> Result<R, End> {
        match self.db.call(f).await {
            Some(r) => Ok(r),
            None => Err(fatal(conn, internal()).await),
        }
    }

    async fn simple_query(&mut self, conn: &mut Conn, query: String) -> Step {
        let (replies, status) = self
            .call(conn, move |db| {
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

    async fn parse(
        &mut self,
        conn: &mut Conn,
        name: String,
        query: String,
        types: Vec<u32>,
    ) -> Result<(), Failure> {
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(Failure::Client(PgError::error(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            )));
        }
        let prepared = self
            .call(conn, move |db| db.prepare(&query, &types))
            .await??;
        self.statements.insert(name, Arc::new(prepared));
        conn.feed(Msg::ParseComplete(ParseComplete::new()))
            .await
            .map_err(End::Io)?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn bind(
        &mut self,
        conn: &mut Conn,
        portal: String,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<bytes::Bytes>],
        result_formats: &[i16],
    ) -> Result<(), Failure> {
        let stmt = self.statements.get(statement).cloned().ok_or_else(|| {
            PgError::error(
                "26000",
                format!("prepared statement \"{statement}\" does not exist"),
            )
        })?;
        if !portal.is_empty() && self.portals.contains_key(&portal) {
            return Err(
                PgError::error("42P03", format!("portal \"{portal}\" already exists")).into(),
            );
        }
        let n = stmt.params.len();
        if params.len() != n {
            return Err(PgError::error(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement}\" requires {n}",
                    params.len()
                ),
            )
            .into());
        }
        let param_formats = formats(param_formats, n, "parameter", "parameters")?;
        let values = params
            .iter()
            .zip(&stmt.params)
            .zip(&param_formats)
            .map(|((raw, ty), f)| types::decode_param(ty, *f, raw.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let ncols = stmt.columns.len();
        let formats = formats(result_formats, ncols, "result", "columns")?;
        self.portals.insert(
            portal,
            Portal {
                stmt,
                params: Arc::new(values),
                formats,
                state: PortalState::New,
            },
        );
        conn.feed(Msg::BindComplete(BindComplete::new()))
            .await
            .map_err(End::Io)?;
        Ok(())
    }

    async fn describe(&mut self, conn: &mut Conn, target: u8, name: &str) -> Result<(), Failure> {
        let (columns, formats): (Vec<(String, Type)>, Vec<FieldFormat>) = match target {
            b'S' => {
                let stmt = self.statements.get(name).ok_or_else(|| {
                    PgError::error(
                        "26000",
                        format!("prepared statement \"{name}\" does not exist"),
                    )
                })?;
                let oids = stmt.params.iter().map(Type::oid).collect();
                conn.feed(Msg::ParameterDescription(ParameterDescription::new(oids)))
                    .await
                    .map_err(End::Io)?;
                (
                    stmt.columns.clone(),
                    vec![FieldFormat::Text; stmt.columns.len()],
                )
            }
            b'P' => {
                let portal = self.portals.get(name).ok_or_else(|| {
                    PgError::error("34000", format!("portal \"{name}\" does not exist"))
                })?;
                (portal.stmt.columns.clone(), portal.formats.clone())
            }
            other => {
                return Err(PgError::error(
                    "08P01",
                    format!("invalid DESCRIBE message subtype {other}"),
                )
                .into());
            }
        };
        let msg = if columns.is_empty() {
            Msg::NoData(NoData::new())
        } else {
            let fields: Vec<FieldInfo> = columns
                .into_iter()
                .zip(formats)
                .map(|((n, t), f)| types::field(&n, t, f))
                .collect();
            row_description(&fields)
        };
        conn.feed(msg).await.map_err(End::Io)?;
        Ok(())
    }

    async fn close(&mut self, conn: &mut Conn, target: u8, name: &str) -> Result<(), Failure> {
        // Closing what does not exist is not an error, as in PostgreSQL.
        match target {
            b'S' => drop(self.statements.remove(name)),
            b'P' => drop(self.portals.remove(name)),
            other => {
                return Err(PgError::error(
                    "08P01",
                    format!("invalid CLOSE message subtype {other}"),
                )
                .into());
            }
        }
        conn.feed(Msg::CloseComplete(CloseComplete::new()))
            .await
            .map_err(End::Io)?;
        Ok(())
    }

    async fn execute(&mut self, conn: &mut Conn, name: &str, max_rows: i32) -> Result<(), Failure> {
        let portal = self
            .portals
            .get(name)
            .ok_or_else(|| PgError::error("34000", format!("portal \"{name}\" does not exist")))?;
        if matches!(portal.state, PortalState::New) {
            let (stmt, params, formats) = (
                Arc::clone(&portal.stmt),
                Arc::clone(&portal.params),
                portal.formats.clone(),
            );
            let (replies, status) = self
                .call(conn, move |db| {
                    let r = db.execute(&stmt, &params, &formats);
                    (r, db.status())
                })
                .await?;
            self.status = status;
            let mut state = PortalState::Empty;
            for r in replies {
                match r {
                    Reply::Rows { rows, tag, .. } => {
                        state = PortalState::Suspended(rows.into(), tag)
                    }
                    Reply::Command(tag) => state = PortalState::Done(tag),
                    Reply::Empty => state = PortalState::Empty,
                    Reply::Error(e) => {
                        self.portals.remove(name);
                        return Err(e.into());
                    }
                    notice @ Reply::Notice(_) => send_reply(conn, notice, false).await?,
                }
            }
            if let Some(p) = self.portals.get_mut(name) {
                p.state = state;
            }
        }
        let Some(portal) = self.portals.get_mut(name) else {
            return Ok(());
        };
        match &mut portal.state {
            PortalState::New => {}
            PortalState::Empty => send_reply(conn, Reply::Empty, false).await?,
            // Executing a finished portal again repeats its completion.
            PortalState::Done(tag) => send_reply(conn, Reply::Command(tag.clone()), false).await?,
            PortalState::Suspended(rows, tag) => {
                let n = usize::try_from(max_rows)
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or(rows.len());
                for row in rows.drain(..n.min(rows.len())) {
                    conn.feed(Msg::DataRow(row)).await.map_err(End::Io)?;
                }
                if rows.is_empty() {
                    let tag = tag.clone();
                    send_reply(conn, Reply::Command(tag.clone()), false).await?;
                    portal.state = PortalState::Done(tag);
                } else {
                    conn.feed(Msg::PortalSuspended(PortalSuspended::new()))
                        .await
                        .map_err(End::Io)?;
                }
            }
        }
        Ok(())
    }
}

/// Why an extended-protocol message failed.
enum Failure {
    /// The client's error: report it, skip to `Sync`.
    Client(PgError),
    End(End),
}

impl From<PgError> for Failure {
    fn from(e: PgError) -> Failure {
        Failure::Client(e)
    }
}

impl From<End> for Failure {
    fn from(e: End) -> Failure {
        Failure::End(e)
    }
}

async fn send_reply(conn: &mut Conn, reply: Reply, describe: bool) -> Step {
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
