//! The extended protocol's `Parse`: what a statement takes and returns,
//! known before it runs. Parameter types are the client's where given, else
//! inferred from the statement's text (sql/infer.rs), else `text`; result
//! columns take their declared types, and expression columns the types
//! a trial run or their names suggest.

use pgwire::api::Type;
use rusqlite::types::Value;
use rusqlite::{CachedStatement, Connection};

use super::error::{PgError, from_sqlite};
use super::show::show_column;
use super::sql::{self, Command, Kind, Param};
use super::types;

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
    /// The statement's text.
    pub(super) fn sql(&self) -> &str {
        &self.query[self.at.clone()]
    }

    /// Where the statement is, for error positions.
    pub(super) fn origin(&self) -> Origin<'_> {
        Origin {
            query: &self.query,
            offset: self.at.start,
        }
    }
}

/// Where the statement being run came from, for error positions.
#[derive(Clone, Copy)]
pub(super) struct Origin<'a> {
    pub(super) query: &'a str,
    pub(super) offset: usize,
}

/// Where `part`, a slice of `query`, starts in it.
pub(super) fn offset_in(query: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(query.as_ptr() as usize)
}

/// Parses one statement for the extended protocol: its parameter types
/// (the client's where given, else inferred, else `text`) and result
/// columns. `aborted`: the session is in a failed transaction, where only
/// a statement that ends it may be prepared.
pub(super) fn prepare(
    conn: &Connection,
    aborted: bool,
    query: &str,
    type_oids: &[u32],
) -> Result<Prepared, PgError> {
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
    if aborted && !kind.ends_failed_transaction() {
        return Err(PgError::aborted());
    }
    let (params, columns) = match &kind {
        Kind::Sql(command) => {
            let select = *command == Command::Select;
            describe(conn, stmt, select, &client, Origin { query, offset })?
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
    conn: &Connection,
    stmt_sql: &str,
    select: bool,
    client: &[Option<Type>],
    origin: Origin<'_>,
) -> Result<(Vec<Type>, Columns), PgError> {
    let mut stmt = conn
        .prepare_cached(stmt_sql)
        .map_err(|e| prepare_error(&e, stmt_sql, origin))?;
    let mut count = client.len();
    for i in 1..=stmt.parameter_count() {
        count = count.max(param_number(&stmt, i)? as usize);
    }
    let mut params: Vec<Option<Type>> = client.to_vec();
    params.resize(count, None);
    if params.iter().any(Option::is_none) {
        let inferred = sql::infer_params(stmt_sql, |t| table_columns(conn, t));
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
            .flat_map(|t| table_columns(conn, t))
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

/// A statement SQLite cannot compile. Queries of PostgreSQL's catalog (psql's
/// `\d`, drivers' introspection) get a clear answer instead of SQLite's
/// syntax error.
pub(super) fn prepare_error(e: &rusqlite::Error, sql: &str, origin: Origin<'_>) -> PgError {
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
pub(super) fn param_number(stmt: &CachedStatement<'_>, i: usize) -> Result<u32, PgError> {
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
