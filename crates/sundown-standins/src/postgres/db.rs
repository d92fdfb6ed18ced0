//! A session's connection with PostgreSQL's transaction behaviour on top of
//! SQLite's: a statement that fails inside a transaction block aborts it
//! (`25P02` until `ROLLBACK`, and `COMMIT` then rolls back), `BEGIN` inside
//! a transaction and `COMMIT` outside one are warnings, and a
//! multi-statement simple query runs as one implicit transaction. Also the
//! statements' command tags; what a statement takes and returns, for the
//! extended protocol, is prepare.rs. And each statement's time limit, the
//! session's `statement_timeout`.

use std::sync::Arc;
use std::time::Duration;

use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo, Tag};
use pgwire::messages::data::DataRow;
use pgwire::messages::response::TransactionStatus;
use rusqlite::Connection;
use rusqlite::types::Value;

use super::error::{PgError, from_sqlite};
use super::guard;
use super::interrupt::Control;
use super::prepare::{self, Origin, Prepared, offset_in};
use super::show::{show, show_column};
use super::sql::{self, Kind};
use super::store::Store;
use super::{timeout, types};

/// What a statement produced, in protocol order.
#[derive(Debug)]
pub(super) enum Reply {
    Rows {
        fields: Arc<Vec<FieldInfo>>,
        rows: Vec<DataRow>,
        tag: Tag,
    },
    Command(Tag),
    Empty,
    Notice(PgError),
    Error(PgError),
}

/// A session's connection and its PostgreSQL transaction state.
pub(super) struct Db {
    conn: Connection,
    store: Arc<Store>,
    /// A statement failed inside a transaction block: PostgreSQL's
    /// "current transaction is aborted" state.
    aborted: bool,
    control: Arc<Control>,
    /// The component's `statement_timeout`, which `RESET` goes back to.
    default_timeout: Option<Duration>,
    /// The session's (`SET statement_timeout`); `None`: no limit.
    timeout: Option<Duration>,
    /// `SET LOCAL statement_timeout`: until the transaction ends.
    local_timeout: Option<Option<Duration>>,
}

impl Db {
    pub(super) fn new(
        conn: Connection,
        store: Arc<Store>,
        control: Arc<Control>,
        timeout: Option<Duration>,
    ) -> Db {
        Db {
            conn,
            store,
            aborted: false,
            control,
            default_timeout: timeout,
            timeout,
            local_timeout: None,
        }
    }

    /// The time limit of the next statement.
    fn statement_timeout(&self) -> Option<Duration> {
        self.local_timeout.unwrap_or(self.timeout)
    }

    /// An error for the client: an interrupted statement says why.
    fn explain(&self, e: PgError) -> PgError {
        match self.control.interrupted() {
            Some(reason) if e.code == "57014" => reason.error(),
            _ => e,
        }
    }

    /// After each client request: `SET LOCAL` ends with its transaction.
    fn request_done(&mut self) {
        if self.conn.is_autocommit() {
            self.local_timeout = None;
        }
    }

    /// The status for `ReadyForQuery`.
    pub(super) fn status(&self) -> TransactionStatus {
        if self.aborted {
            TransactionStatus::Error
        } else if self.conn.is_autocommit() {
            TransactionStatus::Idle
        } else {
            TransactionStatus::Transaction
        }
    }

    fn exec(&self, sql: &str) -> Result<(), PgError> {
        self.conn
            .execute_batch(sql)
            .map_err(|e| from_sqlite(&e, sql, 0))
    }

    /// Whether the open transaction has written to the database.
    fn has_written(&self) -> bool {
        matches!(
            self.conn.transaction_state(Some("main")),
            Ok(rusqlite::TransactionState::Write)
        )
    }

    /// Waits until what was just committed is durable.
    fn durable(&self) -> Result<(), PgError> {
        self.store
            .committed()
            .map_err(|e| PgError::error("58030", e.to_string()))
    }

    /// Commits the open transaction, durably if it wrote; a COMMIT that
    /// fails leaves no transaction behind, as in PostgreSQL.
    fn commit(&self) -> Result<(), PgError> {
        let wrote = self.has_written();
        if let Err(e) = self.exec("COMMIT") {
            let _ = self.exec("ROLLBACK");
            return Err(e);
        }
        if wrote { self.durable() } else { Ok(()) }
    }

    /// Runs a simple-protocol query string: every statement in it, in one
    /// implicit transaction when there are several (as PostgreSQL does),
    /// stopping at the first error.
    pub(super) fn simple_query(&mut self, query: &str) -> Vec<Reply> {
        let _ = guard::take_refusal();
        let out = self.simple_query_statements(query);
        self.request_done();
        out
    }

    fn simple_query_statements(&mut self, query: &str) -> Vec<Reply> {
        let stmts = sql::split(query);
        if stmts.is_empty() {
            return vec![Reply::Empty];
        }
        let multi = stmts.len() > 1;
        let mut implicit = false;
        let mut out = Vec::new();
        for stmt in stmts {
            let kind = sql::classify(stmt);
            let origin = Origin {
                query,
                offset: offset_in(query, stmt),
            };
            if implicit {
                // Transaction control inside the implicit block: BEGIN makes
                // it explicit, COMMIT/ROLLBACK end it.
                match kind {
                    Kind::Begin(_) => {
                        implicit = false;
                        out.push(Reply::Command(Tag::new("BEGIN")));
                        continue;
                    }
                    Kind::Commit | Kind::Rollback => {
                        implicit = false;
                        let (ended, end) = if kind == Kind::Commit {
                            (self.commit(), "COMMIT")
                        } else {
                            (self.exec("ROLLBACK"), "ROLLBACK")
                        };
                        if let Err(e) = ended {
                            out.push(Reply::Error(e));
                            return out;
                        }
                        out.push(Reply::Command(Tag::new(end)));
                        continue;
                    }
                    _ => {}
                }
            } else if multi
                && !self.aborted
                && self.conn.is_autocommit()
                && matches!(
                    kind,
                    Kind::Sql(_) | Kind::Show(_) | Kind::Ignored(_) | Kind::StatementTimeout { .. }
                )
            {
                if let Err(e) = self.exec("BEGIN") {
                    out.push(Reply::Error(e));
                    return out;
                }
                implicit = true;
            }
            let in_block = !self.conn.is_autocommit() && !implicit;
            match self.statement(&kind, stmt, &[], None, &[], origin, implicit, &mut out) {
                Ok(()) => {}
                Err(e) => {
                    if implicit {
                        let _ = self.exec("ROLLBACK");
                    } else if in_block && !matches!(kind, Kind::Commit | Kind::Rollback) {
                        self.aborted = true;
                    }
                    out.push(Reply::Error(self.explain(e)));
                    return out;
                }
            }
        }
        if implicit && let Err(e) = self.commit() {
            out.push(Reply::Error(e));
        }
        out
    }

    /// Parses one statement for the extended protocol: its parameter types
    /// (the client's where given, else inferred, else `text`) and result
    /// columns.
    /// It may run the statement once (to type its columns), so under the
    /// same time limit and interrupts as running it.
    pub(super) fn prepare(&mut self, query: &str, type_oids: &[u32]) -> Result<Prepared, PgError> {
        let _ = guard::take_refusal();
        if let Some(reason) = self.control.interrupted() {
            return Err(reason.error());
        }
        let _armed = self.control.armed(self.statement_timeout());
        prepare::prepare(&self.conn, self.aborted, query, type_oids).map_err(|e| self.explain(e))
    }

    /// Runs a prepared statement with its bound parameters; results are
    /// encoded in `formats` (one per column, or one for all, or none for text).
    pub(super) fn execute(
        &mut self,
        p: &Prepared,
        params: &[Value],
        formats: &[FieldFormat],
    ) -> Vec<Reply> {
        let _ = guard::take_refusal();
        let mut out = Vec::new();
        let Some(kind) = &p.kind else {
            out.push(Reply::Empty);
            return out;
        };
        let origin = p.origin();
        let in_block = !self.conn.is_autocommit();
        let described: Vec<Type> = p.columns.iter().map(|c| c.1.clone()).collect();
        if let Err(e) = self.statement(
            kind,
            p.sql(),
            params,
            Some(&described),
            formats,
            origin,
            false,
            &mut out,
        ) {
            if in_block && !matches!(kind, Kind::Commit | Kind::Rollback) {
                self.aborted = true;
            }
            out.push(Reply::Error(self.explain(e)));
        }
        self.request_done();
        out
    }

    /// Runs one statement, pushing its notices and result.
    #[allow(clippy::too_many_arguments)]
    fn statement(
        &mut self,
        kind: &Kind,
        stmt: &str,
        params: &[Value],
        described: Option<&[Type]>,
        formats: &[FieldFormat],
        origin: Origin<'_>,
        implicit: bool,
        out: &mut Vec<Reply>,
    ) -> Result<(), PgError> {
        if self.aborted && !kind.ends_failed_transaction() {
            return Err(PgError::aborted());
        }
        // Interrupted before this statement of the request began: it does
        // not begin.
        if let Some(reason) = self.control.interrupted() {
            return Err(reason.error());
        }
        let _armed = self.control.armed(self.statement_timeout());
        let autocommit = self.conn.is_autocommit();
        let no_transaction = || PgError::warning("25P01", "there is no transaction in progress");
        let reply = match kind {
            Kind::Begin(mode) => {
                if autocommit {
                    self.exec(&format!("BEGIN {}", mode.unwrap_or("")))?;
                } else {
                    out.push(Reply::Notice(PgError::warning(
                        "25001",
                        "there is already a transaction in progress",
                    )));
                }
                Reply::Command(Tag::new("BEGIN"))
            }
            Kind::Commit if self.aborted => {
                if !autocommit {
                    self.exec("ROLLBACK")?;
                }
                self.aborted = false;
                Reply::Command(Tag::new("ROLLBACK"))
            }
            Kind::Commit => {
                if autocommit {
                    out.push(Reply::Notice(no_transaction()));
                } else {
                    self.commit()?;
                }
                Reply::Command(Tag::new("COMMIT"))
            }
            Kind::Rollback => {
                if !autocommit {
                    self.exec("ROLLBACK")?;
                } else if !self.aborted {
                    out.push(Reply::Notice(no_transaction()));
                }
                self.aborted = false;
                Reply::Command(Tag::new("ROLLBACK"))
            }
            Kind::RollbackTo | Kind::Savepoint | Kind::Release => {
                let (what, tag) = match kind {
                    Kind::RollbackTo => ("ROLLBACK TO SAVEPOINT", "ROLLBACK"),
                    Kind::Savepoint => ("SAVEPOINT", "SAVEPOINT"),
                    _ => ("RELEASE SAVEPOINT", "RELEASE"),
                };
                if autocommit || implicit {
                    return Err(PgError::error(
                        "25P01",
                        format!("{what} can only be used in transaction blocks"),
                    ));
                }
                self.conn
                    .execute_batch(stmt)
                    .map_err(|e| from_sqlite(&e, origin.query, origin.offset))?;
                self.aborted = false;
                Reply::Command(Tag::new(tag))
            }
            Kind::Ignored(tag) => Reply::Command(Tag::new(tag)),
            Kind::StatementTimeout { value, local, tag } => {
                let limit = match value {
                    Some(v) => timeout::parse(v)?,
                    None => self.default_timeout,
                };
                if !*local {
                    self.timeout = limit;
                    self.local_timeout = None;
                } else if autocommit {
                    out.push(Reply::Notice(PgError::warning(
                        "25P01",
                        "SET LOCAL can only be used in transaction blocks",
                    )));
                } else {
                    self.local_timeout = Some(limit);
                }
                Reply::Command(Tag::new(tag))
            }
            Kind::Show(name) => {
                let value = if name == "statement_timeout" {
                    Some(timeout::show(self.statement_timeout()))
                } else {
                    show(name)
                };
                let value = value.ok_or_else(|| {
                    PgError::error(
                        "42704",
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
                let format = formats.first().copied().unwrap_or(FieldFormat::Text);
                let fields = vec![types::field(&show_column(name), Type::TEXT, format)];
                let row = types::encode_row(&fields, &[Value::Text(value)])?;
                Reply::Rows {
                    fields: Arc::new(fields),
                    rows: vec![row],
                    tag: Tag::new("SHOW"),
                }
            }
            Kind::Sql(command) => {
                self.run_sql(command, stmt, params, described, formats, origin)?
            }
        };
        out.push(reply);
        Ok(())
    }
}

mod run;
#[cfg(test)]
mod tests;
