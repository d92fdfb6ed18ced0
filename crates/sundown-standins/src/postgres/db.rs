//! A session's connection with PostgreSQL's transaction behaviour on top of
//! SQLite's: a statement that fails inside a transaction block aborts it
//! (`25P02` until `ROLLBACK`, and `COMMIT` then rolls back), `BEGIN` inside
//! a transaction and `COMMIT` outside one are warnings, and a
//! multi-statement simple query runs as one implicit transaction. Also the
//! statements' description for the extended protocol, and their command
//! tags.

use std::sync::Arc;

use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo, Tag};
use pgwire::messages::data::DataRow;
use pgwire::messages::response::TransactionStatus;
use rusqlite::types::Value;
use rusqlite::{CachedStatement, Connection};

use super::error::{PgError, from_sqlite};
use super::sql::{self, Command, Kind, Param};
use super::store::Store;
use super::types;

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

/// Result columns: name and type.
type Columns = Vec<(String, Type)>;

/// A statement after `Parse`: its text, kind, parameter types and result
/// columns.
#[derive(Debug)]
pub(super) struct Prepared {
    /// The whole query string as sent (error positions count from its start).
    query: String,
    /// Where the one statement is in `query`.
    at: std::ops::Range<usize>,
    pub(super) kind: Option<Kind>,
    pub(super) params: Vec<Type>,
    pub(super) columns: Columns,
}

impl Prepared {
    fn sql(&self) -> &str {
        &self.query[self.at.clone()]
    }
}

/// Where the statement being run came from, for error positions.
#[derive(Clone, Copy)]
struct Origin<'a> {
    query: &'a str,
    offset: usize,
}

/// The server version reported to clients.
pub(super) fn server_version() -> String {
    format!("15.0 (sundown stand-in on SQLite {})", rusqlite::version())
}

/// A session's connection and its PostgreSQL transaction state.
pub(super) struct Db {
    conn: Connection,
    store: Arc<Store>,
    /// A statement failed inside a transaction block: PostgreSQL's
    /// "current transaction is aborted" state.
    aborted: bool,
}

fn offset_in(query: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(query.as_ptr() as usize)
}

impl Db {
    pub(super) fn new(conn: Connection, store: Arc<Store>) -> Db {
        Db {
            conn,
            store,
            aborted: false,
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
            .map_err(|e| PgError::error("58030", e))
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
                && matches!(kind, Kind::Sql(_) | Kind::Show(_) | Kind::Ignored(_))
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
                    out.push(Reply::Error(e));
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
    pub(super) fn prepare(&mut self, query: &str, type_oids: &[u32]) -> Result<Prepared, PgError> {
        let stmts = sql::split(query);
        if stmts.len() > 1 {
            return Err(PgError::error(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let client: Vec<Option<Type>> = type_oids
            .iter()
            .map(|&oid| match oid {
                0 => Ok(None),
                _ => Type::from_oid(oid).map(Some).ok_or_else(|| {
                    PgError::error("42704", format!("type with OID {oid} does not exist"))
                }),
            })
            .collect::<Result<_, _>>()?;
        let defaulted = |client: &[Option<Type>]| {
            client
                .iter()
                .map(|t| t.clone().unwrap_or(Type::TEXT))
                .collect()
        };
        let Some(stmt) = stmts.first() else {
            return Ok(Prepared {
                query: query.to_string(),
                at: 0..0,
                kind: None,
                params: defaulted(&client),
                columns: Vec::new(),
            });
        };
        let offset = offset_in(query, stmt);
        let kind = sql::classify(stmt);
        if self.aborted && !kind.ends_failed_transaction() {
            return Err(PgError::aborted());
        }
        let (params, columns) = match &kind {
            Kind::Sql(command) => {
                let select = *command == Command::Select;
                self.describe(stmt, select, &client, Origin { query, offset })?
            }
            Kind::Show(name) => (defaulted(&client), vec![(show_column(name), Type::TEXT)]),
            _ => (defaulted(&client), Vec::new()),
        };
        Ok(Prepared {
            query: query.to_string(),
            at: offset..offset + stmt.len(),
            kind: Some(kind),
            params,
            columns,
        })
    }

    /// Parameter types and result columns of a statement SQLite runs.
    /// `select`: a query, which may be run once to type its expressions.
    fn describe(
        &self,
        stmt_sql: &str,
        select: bool,
        client: &[Option<Type>],
        origin: Origin<'_>,
    ) -> Result<(Vec<Type>, Columns), PgError> {
        let mut stmt = self
            .conn
            .prepare_cached(stmt_sql)
            .map_err(|e| prepare_error(&e, stmt_sql, origin))?;
        let mut count = client.len();
        for i in 1..=stmt.parameter_count() {
            count = count.max(param_number(&stmt, i)? as usize);
        }
        let mut params: Vec<Option<Type>> = client.to_vec();
        params.resize(count, None);
        if params.iter().any(Option::is_none) {
            let inferred = sql::infer_params(stmt_sql, |t| table_columns(&self.conn, t));
            for (n, decl) in inferred {
                if let Some(p @ None) = params.get_mut((n as usize).wrapping_sub(1)) {
                    *p = Some(types::type_for_decl(&decl));
                }
            }
        }
        let params: Vec<Type> = params
            .into_iter()
            .map(|t| t.unwrap_or(Type::TEXT))
            .collect();

        let mut columns: Vec<(String, Option<Type>)> = stmt
            .columns()
            .map(|c| {
                let decl = c.decl_type().filter(|d| !d.trim().is_empty());
                (c.name().to_string(), decl.map(types::type_for_decl))
            })
            .collect();
        if columns.iter().any(|c| c.1.is_none()) {
            // Expression columns (count(*), …) have no declared type. A
            // read-only query can be run to see what it yields (with a
            // sample value for each parameter; nothing changes); what that
            // leaves untyped (a NULL, no row) is typed by its name.
            if select && stmt.readonly() {
                for i in 1..=stmt.parameter_count() {
                    let ty = param_number(&stmt, i)
                        .ok()
                        .and_then(|n| params.get((n as usize).wrapping_sub(1)));
                    let _ = stmt.raw_bind_parameter(i, sample(ty));
                }
                let mut rows = stmt.raw_query();
                if let Ok(Some(row)) = rows.next() {
                    for (i, c) in columns.iter_mut().enumerate() {
                        if c.1.is_none() {
                            c.1 = row
                                .get::<_, Value>(i)
                                .ok()
                                .as_ref()
                                .and_then(types::type_for_value);
                        }
                    }
                }
            }
            let known: Vec<(String, String)> = sql::tables(stmt_sql)
                .iter()
                .flat_map(|t| table_columns(&self.conn, t))
                .collect();
            for c in columns.iter_mut().filter(|c| c.1.is_none()) {
                c.1 = expression_type(&c.0, &known);
            }
        }
        let columns = columns
            .into_iter()
            .map(|(n, t)| (n, t.unwrap_or(Type::TEXT)))
            .collect();
        Ok((params, columns))
    }

    /// Runs a prepared statement with its bound parameters; results are
    /// encoded in `formats` (one per column, or one for all, or none for text).
    pub(super) fn execute(
        &mut self,
        p: &Prepared,
        params: &[Value],
        formats: &[FieldFormat],
    ) -> Vec<Reply> {
        let mut out = Vec::new();
        let Some(kind) = &p.kind else {
            out.push(Reply::Empty);
            return out;
        };
        let origin = Origin {
            query: &p.query,
            offset: p.at.start,
        };
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
            out.push(Reply::Error(e));
        }
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
            Kind::Show(name) => {
                let value = show(name).ok_or_else(|| {
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

    fn run_sql(
        &self,
        command: &Command,
        sql: &str,
        params: &[Value],
        described: Option<&[Type]>,
        formats: &[FieldFormat],
        origin: Origin<'_>,
    ) -> Result<Reply, PgError> {
        let fail = |e: rusqlite::Error| from_sqlite(&e, origin.query, origin.offset);
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| prepare_error(&e, sql, origin))?;
        for i in 1..=stmt.parameter_count() {
            let n = param_number(&stmt, i)?;
            let v = params
                .get((n as usize).wrapping_sub(1))
                .ok_or_else(|| PgError::error("42P02", format!("there is no parameter ${n}")))?;
            stmt.raw_bind_parameter(i, v).map_err(fail)?;
        }
        let ncols = stmt.column_count();
        let autocommit_write = !stmt.readonly() && self.conn.is_autocommit();
        let mut values: Vec<Vec<Value>> = Vec::new();
        {
            let _writer = autocommit_write.then(|| self.store.write_lock());
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next().map_err(fail)? {
                let mut r = Vec::with_capacity(ncols);
                for i in 0..ncols {
                    r.push(row.get::<_, Value>(i).map_err(fail)?);
                }
                values.push(r);
            }
        }
        if autocommit_write {
            // After the writers' lock is released, so commits share fsyncs.
            self.durable()?;
        }
        let changes = usize::try_from(self.conn.changes()).unwrap_or(usize::MAX);
        let count = if ncols > 0 { values.len() } else { changes };
        let tag = match command {
            Command::Insert => Tag::new("INSERT").with_oid(0).with_rows(count),
            Command::Update => Tag::new("UPDATE").with_rows(count),
            Command::Delete => Tag::new("DELETE").with_rows(count),
            Command::Select => Tag::new("SELECT").with_rows(values.len()),
            Command::Other(_) if ncols > 0 => Tag::new("SELECT").with_rows(values.len()),
            Command::Other(t) if t.is_empty() => Tag::new("OK"),
            Command::Other(t) => Tag::new(t),
        };
        if ncols == 0 {
            return Ok(Reply::Command(tag));
        }
        let fields: Vec<FieldInfo> = stmt
            .columns()
            .enumerate()
            .map(|(i, c)| {
                let ty = match described.and_then(|d| d.get(i)) {
                    Some(t) => t.clone(),
                    None => match c.decl_type().filter(|d| !d.trim().is_empty()) {
                        Some(d) => types::type_for_decl(d),
                        None => values
                            .iter()
                            .find_map(|r| types::type_for_value(&r[i]))
                            .unwrap_or(Type::TEXT),
                    },
                };
                let format = match formats {
                    [] => FieldFormat::Text,
                    [one] => *one,
                    many => many.get(i).copied().unwrap_or(FieldFormat::Text),
                };
                types::field(c.name(), ty, format)
            })
            .collect();
        let rows = values
            .iter()
            .map(|r| types::encode_row(&fields, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Reply::Rows {
            fields: Arc::new(fields),
            rows,
            tag,
        })
    }
}

/// A statement SQLite cannot compile. Queries of PostgreSQL's catalog (psql's
/// `\d`, drivers' introspection) get a clear answer instead of SQLite's
/// syntax error.
fn prepare_error(e: &rusqlite::Error, sql: &str, origin: Origin<'_>) -> PgError {
    let lower = sql.to_ascii_lowercase();
    if lower.contains("pg_catalog") || lower.contains("information_schema") {
        return PgError::error(
            "0A000",
            "the PostgreSQL stand-in has no pg_catalog or information_schema (it runs on SQLite: \
             list tables with SELECT name FROM sqlite_schema)",
        );
    }
    from_sqlite(e, origin.query, origin.offset)
}

/// The PostgreSQL parameter number of SQLite's parameter `i`.
fn param_number(stmt: &CachedStatement<'_>, i: usize) -> Result<u32, PgError> {
    match stmt.parameter_name(i) {
        // A bare `?` is SQLite's; count it by position.
        None => Ok(u32::try_from(i).unwrap_or(u32::MAX)),
        Some(name) => match Param::from_name(name) {
            Param::Numbered(n, _) => Ok(n),
            _ => Err(PgError::error(
                "42P02",
                format!("parameter {name} is not supported: use $1, $2, …"),
            )),
        },
    }
}

/// The type of a result column without a declared type, from its name: a
/// table column's name, or a common function of one (`max(id)`, SQLite's
/// name for an unaliased expression is its text).
fn expression_type(name: &str, known: &[(String, String)]) -> Option<Type> {
    let column = |c: &str| {
        let c = c.rsplit('.').next().unwrap_or(c).trim_matches('"');
        known
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(c))
            .map(|(_, d)| types::type_for_decl(d))
    };
    if let Some(t) = column(name) {
        return Some(t);
    }
    let flat: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let (func, rest) = flat.split_once('(')?;
    let inner = rest.strip_suffix(')')?;
    let first = inner.split(',').next().unwrap_or(inner);
    match func {
        "count" | "length" | "octet_length" | "instr" => Some(Type::INT8),
        "avg" | "total" => Some(Type::FLOAT8),
        "lower" | "upper" | "trim" | "ltrim" | "rtrim" | "replace" | "substr" | "substring"
        | "group_concat" | "string_agg" | "typeof" | "hex" => Some(Type::TEXT),
        "max" | "min" | "coalesce" | "ifnull" | "abs" => column(first),
        "sum" => column(first).map(|t| match t {
            Type::INT2 | Type::INT4 | Type::INT8 => Type::INT8,
            _ => Type::FLOAT8,
        }),
        _ => None,
    }
}

/// A value of type `ty` for a trial run.
fn sample(ty: Option<&Type>) -> Value {
    match ty {
        Some(&Type::INT2 | &Type::INT4 | &Type::INT8 | &Type::BOOL | &Type::OID) => {
            Value::Integer(1)
        }
        Some(&Type::FLOAT4 | &Type::FLOAT8) => Value::Real(1.0),
        Some(&Type::BYTEA) => Value::Blob(Vec::new()),
        _ => Value::Text(String::new()),
    }
}

/// A table's `(column, declared type)` in order; empty when there is no
/// such table.
fn table_columns(conn: &Connection, table: &str) -> Vec<(String, String)> {
    let Ok(mut stmt) = conn.prepare_cached("SELECT name, type FROM pragma_table_info(?1)") else {
        return Vec::new();
    };
    stmt.query_map([table], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })
    .map(|rows| rows.filter_map(Result::ok).collect())
    .unwrap_or_default()
}

fn show_column(name: &str) -> String {
    match name {
        "transaction isolation level" => "transaction_isolation".to_string(),
        other => other.to_string(),
    }
}

fn show(name: &str) -> Option<String> {
    Some(
        match name {
            "server_version" => return Some(server_version()),
            "server_version_num" => "150000",
            "server_encoding" | "client_encoding" => "UTF8",
            "timezone" => "UTC",
            "datestyle" => "ISO, MDY",
            "intervalstyle" => "postgres",
            "integer_datetimes" | "standard_conforming_strings" | "is_superuser" => "on",
            "transaction_isolation"
            | "transaction isolation level"
            | "default_transaction_isolation" => "serializable",
            "transaction_read_only" | "default_transaction_read_only" => "off",
            "max_identifier_length" => "63",
            "search_path" => "public",
            "application_name" => "",
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (Db, Arc<Store>, ()) {
        let store = Arc::new(Store::open(None).expect("memory store"));
        let conn = store.connect().expect("connect");
        (
            Db {
                conn,
                store: Arc::clone(&store),
                aborted: false,
            },
            store,
            (),
        )
    }

    fn tags(replies: &[Reply]) -> Vec<String> {
        replies
            .iter()
            .map(|r| match r {
                Reply::Rows { tag, rows, .. } => format!("{tag:?}/{}", rows.len()),
                Reply::Command(tag) => format!("{tag:?}"),
                Reply::Empty => "empty".into(),
                Reply::Notice(e) => format!("notice {}", e.code),
                Reply::Error(e) => format!("error {}", e.code),
            })
            .collect()
    }

    fn tag_text(t: &Tag) -> String {
        pgwire::messages::response::CommandComplete::from(t.clone()).tag
    }

    #[test]
    fn command_tags_match_postgresql() {
        let (mut db, _s, _k) = db();
        let r = db.simple_query(
            "CREATE TABLE IF NOT EXISTS t (id BIGINT PRIMARY KEY, v TEXT); \
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); \
             INSERT INTO t VALUES (1, 'x') ON CONFLICT DO NOTHING; \
             UPDATE t SET v = 'z' WHERE id > 1; DELETE FROM t WHERE id = 3; SELECT * FROM t",
        );
        let texts: Vec<String> = r
            .iter()
            .map(|r| match r {
                Reply::Rows { tag, .. } | Reply::Command(tag) => tag_text(tag),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                "CREATE TABLE",
                "INSERT 0 3",
                "INSERT 0 0",
                "UPDATE 2",
                "DELETE 1",
                "SELECT 2"
            ]
        );
        assert_eq!(db.status(), TransactionStatus::Idle);
    }

    #[test]
    fn failed_transaction_until_rollback() {
        let (mut db, _s, _k) = db();
        db.simple_query("CREATE TABLE t (id INTEGER PRIMARY KEY)");
        db.simple_query("BEGIN");
        assert_eq!(db.status(), TransactionStatus::Transaction);
        db.simple_query("INSERT INTO t VALUES (1)");
        let r = db.simple_query("INSERT INTO t VALUES (1)");
        assert_eq!(tags(&r), ["error 23505"]);
        assert_eq!(db.status(), TransactionStatus::Error);
        assert_eq!(tags(&db.simple_query("SELECT 1")), ["error 25P02"]);
        let r = db.simple_query("COMMIT");
        assert_eq!(r.len(), 1);
        assert!(matches!(&r[0], Reply::Command(t) if tag_text(t) == "ROLLBACK"));
        assert_eq!(db.status(), TransactionStatus::Idle);
        let r = db.simple_query("SELECT count(*) FROM t");
        assert!(matches!(&r[0], Reply::Rows { tag, .. } if tag_text(tag) == "SELECT 1"));
        assert_eq!(tags(&db.simple_query("COMMIT"))[0], "notice 25P01");
        assert_eq!(tags(&db.simple_query("SAVEPOINT a")), ["error 25P01"]);
    }

    #[test]
    fn multi_statement_query_is_one_transaction() {
        let (mut db, _s, _k) = db();
        db.simple_query("CREATE TABLE t (id INTEGER PRIMARY KEY)");
        let r = db.simple_query("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)");
        assert_eq!(tags(&r).last().map(String::as_str), Some("error 23505"));
        assert_eq!(db.status(), TransactionStatus::Idle);
        let r = db.simple_query(
            "INSERT INTO t VALUES (2); COMMIT; INSERT INTO t VALUES (3); SELECT 1/0x",
        );
        assert!(tags(&r).last().is_some_and(|t| t.starts_with("error")));
        let rows = db.simple_query("SELECT id FROM t");
        assert!(
            matches!(&rows[0], Reply::Rows { rows, .. } if rows.len() == 1),
            "only 2 was committed"
        );
        db.simple_query("BEGIN; INSERT INTO t VALUES (4)");
        assert_eq!(db.status(), TransactionStatus::Transaction);
        db.simple_query("ROLLBACK");
    }

    #[test]
    fn prepared_statements_infer_types() {
        let (mut db, _s, _k) = db();
        db.simple_query(
            "CREATE TABLE jobs (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, n INTEGER)",
        );
        let p = db
            .prepare(
                "INSERT INTO jobs (id, payload, n) VALUES ($1, $2, $3) RETURNING id, n + 1",
                &[],
            )
            .expect("prepare");
        assert_eq!(p.params, [Type::INT8, Type::TEXT, Type::INT4]);
        assert_eq!(
            p.columns.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
            [Type::INT8, Type::TEXT]
        );
        let p = db
            .prepare(
                "SELECT count(*) AS n, max(payload) FROM jobs WHERE id > $1",
                &[],
            )
            .expect("prepare");
        assert_eq!(p.params, [Type::INT8]);
        assert_eq!(p.columns[0].1, Type::INT8);
        let p = db
            .prepare("SELECT $2::int4", &[Type::TEXT.oid()])
            .expect("prepare");
        assert_eq!(p.params, [Type::TEXT, Type::INT4]);
        assert_eq!(
            db.prepare("SELECT 1; SELECT 2", &[])
                .map(|_| ())
                .map_err(|e| e.code),
            Err("42601")
        );
        assert_eq!(
            db.prepare("SELECT :x", &[]).map(|_| ()).map_err(|e| e.code),
            Err("42P02")
        );
        let p = db
            .prepare("SELECT * FROM jobs WHERE id = $1", &[])
            .expect("prepare");
        let r = db.execute(&p, &[Value::Integer(5)], &[FieldFormat::Binary]);
        assert!(
            matches!(&r[0], Reply::Rows { rows, fields, .. } if rows.is_empty() && fields.len() == 3)
        );
    }
}
