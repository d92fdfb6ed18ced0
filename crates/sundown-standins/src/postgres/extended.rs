//! The extended query protocol: `Parse` prepares a named (or the unnamed)
//! statement, `Bind` makes a portal of it with parameter values and result
//! formats, `Describe` tells what either takes and returns, `Execute` runs a
//! portal (all its rows, or a few at a time), `Close` forgets either.
//!
//! The statements and portals live here, apart from the session's message
//! loop (session.rs): a failure is the client's ([`Failure::Client`], the
//! session skips to `Sync`) or the connection's end.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures::SinkExt;
use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo, Tag};
use pgwire::messages::PgWireBackendMessage as Msg;
use pgwire::messages::data::{DataRow, NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::TransactionStatus;
use rusqlite::types::Value;

use super::bind::decode_param;
use super::conn::{Conn, End, call, row_description, send_reply};
use super::db::Reply;
use super::db_thread::DbThread;
use super::error::PgError;
use super::prepare::Prepared;
use super::types;

/// Why an extended-protocol message failed.
pub(super) enum Failure {
    /// The client's error: report it, skip to `Sync`.
    Client(PgError),
    /// The connection ends.
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

/// A bound statement.
struct Portal {
    stmt: Arc<Prepared>,
    params: Arc<Vec<Value>>,
    formats: Vec<FieldFormat>,
    state: PortalState,
}

/// How far a portal has run.
enum PortalState {
    New,
    /// Rows not yet sent (an `Execute` with a row limit stopped early).
    Suspended(VecDeque<DataRow>, Tag),
    Done(Tag),
    Empty,
}

/// A session's prepared statements and portals, by name (`""` is the
/// unnamed one).
#[derive(Default)]
pub(super) struct Extended {
    statements: HashMap<String, Arc<Prepared>>,
    portals: HashMap<String, Portal>,
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

impl Extended {
    /// At a `Sync` outside a transaction: PostgreSQL drops portals when
    /// their transaction ends.
    pub(super) fn transaction_ended(&mut self) {
        self.portals.clear();
    }

    /// `Parse`: prepares `query` as statement `name`.
    pub(super) async fn parse(
        &mut self,
        conn: &mut Conn,
        db: &DbThread,
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
        let prepared = call(conn, db, move |db| db.prepare(&query, &types)).await??;
        self.statements.insert(name, Arc::new(prepared));
        conn.feed(Msg::ParseComplete(ParseComplete::new()))
            .await
            .map_err(End::Io)?;
        Ok(())
    }

    /// `Bind`: makes portal `portal` of a statement with these values.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn bind(
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
            .map(|((raw, ty), f)| decode_param(ty, *f, raw.as_ref()))
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

    /// `Describe`: a statement's parameter types and result columns, or a
    /// portal's result columns.
    pub(super) async fn describe(
        &mut self,
        conn: &mut Conn,
        target: u8,
        name: &str,
    ) -> Result<(), Failure> {
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

    /// `Close`: forgets a statement or a portal.
    pub(super) async fn close(
        &mut self,
        conn: &mut Conn,
        target: u8,
        name: &str,
    ) -> Result<(), Failure> {
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

    /// Runs a portal, or sends `max_rows` more of its rows; `status` is
    /// the session's transaction status, which running it may change.
    pub(super) async fn execute(
        &mut self,
        conn: &mut Conn,
        db: &DbThread,
        name: &str,
        max_rows: i32,
        status: &mut TransactionStatus,
    ) -> Result<(), Failure> {
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
            let (replies, now) = call(conn, db, move |db| {
                let r = db.execute(&stmt, &params, &formats);
                (r, db.status())
            })
            .await?;
            *status = now;
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
