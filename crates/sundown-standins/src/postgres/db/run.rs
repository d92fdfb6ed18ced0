//! Running one statement SQLite executes: binding its parameters, taking
//! the writers' lock for an autocommit write, collecting and encoding its
//! rows, and its command tag.

use std::sync::Arc;

use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo, Tag};
use rusqlite::types::Value;

use super::super::error::{PgError, from_sqlite};
use super::super::prepare::{Origin, param_number, prepare_error};
use super::super::sql::Command;
use super::super::types;
use super::{Db, Reply};

impl Db {
    pub(super) fn run_sql(
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
