//! What the client is told when something fails: PostgreSQL's severity,
//! SQLSTATE and message, and the SQLSTATE each SQLite error becomes. Every
//! part of the stand-in reports through [`PgError`], so it lives apart from
//! the type conversions (types.rs) that are only one of its sources.

use pgwire::error::ErrorInfo;
use rusqlite::ffi;

/// An error or notice for the client: PostgreSQL's severity, SQLSTATE and
/// message (plus a 1-based character position into the query, if known).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PgError {
    pub(super) severity: &'static str,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) position: Option<usize>,
}

impl PgError {
    pub(super) fn error(code: &'static str, message: impl Into<String>) -> PgError {
        PgError {
            severity: "ERROR",
            code,
            message: message.into(),
            position: None,
        }
    }

    pub(super) fn fatal(code: &'static str, message: impl Into<String>) -> PgError {
        PgError {
            severity: "FATAL",
            ..PgError::error(code, message)
        }
    }

    pub(super) fn warning(code: &'static str, message: impl Into<String>) -> PgError {
        PgError {
            severity: "WARNING",
            ..PgError::error(code, message)
        }
    }

    /// `25P02`, PostgreSQL's answer to anything but the end of a failed
    /// transaction.
    pub(super) fn aborted() -> PgError {
        PgError::error(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    pub(super) fn info(&self) -> ErrorInfo {
        let mut info = ErrorInfo::new(
            self.severity.to_string(),
            self.code.to_string(),
            self.message.clone(),
        );
        info.severity_nonlocalized = Some(self.severity.to_string());
        info.position = self.position.map(|p| p.to_string());
        info
    }
}

/// The PostgreSQL error a SQLite error becomes. `offset` is where the
/// statement starts in the query string, for the position of a syntax error.
pub(super) fn from_sqlite(e: &rusqlite::Error, query: &str, offset: usize) -> PgError {
    let (message, position, extended) = match e {
        rusqlite::Error::SqliteFailure(f, Some(m)) => (m.clone(), None, Some(f.extended_code)),
        rusqlite::Error::SqliteFailure(f, None) => (f.to_string(), None, Some(f.extended_code)),
        rusqlite::Error::SqlInputError {
            error,
            msg,
            offset: o,
            ..
        } => {
            let at = offset + usize::try_from(*o).unwrap_or(0);
            let chars = query.get(..at).map(|p| p.chars().count() + 1);
            (msg.clone(), chars, Some(error.extended_code))
        }
        other => (other.to_string(), None, None),
    };
    let code = match extended {
        Some(x) => sqlstate(x, &message),
        None => match e {
            rusqlite::Error::InvalidParameterCount(..)
            | rusqlite::Error::InvalidParameterName(_) => "08P01",
            _ => "XX000",
        },
    };
    // SQLite says only "not authorized"; the authorizer knows what and why.
    let message = match code {
        "42501" => super::guard::take_refusal().unwrap_or(message),
        _ => message,
    };
    PgError {
        position,
        ..PgError::error(code, message)
    }
}

fn sqlstate(extended: i32, message: &str) -> &'static str {
    match extended {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => return "23505",
        ffi::SQLITE_CONSTRAINT_NOTNULL => return "23502",
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return "23503",
        ffi::SQLITE_CONSTRAINT_CHECK => return "23514",
        ffi::SQLITE_CONSTRAINT_TRIGGER => return "P0001",
        ffi::SQLITE_BUSY_SNAPSHOT => return "40001",
        _ => {}
    }
    match extended & 0xff {
        ffi::SQLITE_CONSTRAINT => "23000",
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => "55P03",
        ffi::SQLITE_INTERRUPT => "57014",
        ffi::SQLITE_READONLY => "25006",
        ffi::SQLITE_NOMEM => "53200",
        ffi::SQLITE_FULL => "53100",
        ffi::SQLITE_IOERR | ffi::SQLITE_CANTOPEN => "58030",
        ffi::SQLITE_CORRUPT | ffi::SQLITE_NOTADB => "XX001",
        ffi::SQLITE_TOOBIG => "54000",
        ffi::SQLITE_MISMATCH => "42804",
        ffi::SQLITE_RANGE => "42P02",
        ffi::SQLITE_AUTH | ffi::SQLITE_PERM => "42501",
        ffi::SQLITE_ERROR => {
            let m = message;
            if m.contains("syntax error")
                || m.contains("incomplete input")
                || m.contains("unrecognized token")
            {
                "42601"
            } else if m.starts_with("not authorized") {
                // A function the authorizer refused (SQLite reports those as plain errors).
                "42501"
            } else if m.starts_with("no such table") {
                "42P01"
            } else if m.starts_with("no such column") {
                "42703"
            } else if m.starts_with("no such function")
                || m.starts_with("wrong number of arguments")
            {
                "42883"
            } else if m.starts_with("no such savepoint") {
                "3B001"
            } else if m.starts_with("no such") {
                "42704"
            } else if m.contains("already exists") {
                if m.starts_with("table") || m.starts_with("index") {
                    "42P07"
                } else {
                    "42710"
                }
            } else if m.starts_with("ambiguous column name") {
                "42702"
            } else if m.contains("values for") && m.contains("columns") {
                "42601"
            } else if m.starts_with("cannot start a transaction within a transaction") {
                "25001"
            } else if m.contains("no transaction is active") {
                "25P01"
            } else {
                "42000"
            }
        }
        _ => "XX000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_errors_become_sqlstates() {
        let c = rusqlite::Connection::open_in_memory().expect("memory db");
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .expect("create");
        let code = |sql: &str| {
            let e = c.execute_batch(sql).expect_err(sql);
            from_sqlite(&e, sql, 0).code
        };
        assert_eq!(code("SELEC 1"), "42601");
        assert_eq!(code("SELECT * FROM nope"), "42P01");
        assert_eq!(code("SELECT nope FROM t"), "42703");
        assert_eq!(code("CREATE TABLE t (a)"), "42P07");
        assert_eq!(code("INSERT INTO t VALUES (1, NULL)"), "23502");
        assert_eq!(
            code("INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (1, 'b')"),
            "23505"
        );
        assert_eq!(code("SELECT nope()"), "42883");
        let sql = "SELECT 1;\nSELEC 2";
        let e = c.prepare(&sql[10..]).expect_err("syntax");
        assert_eq!(from_sqlite(&e, sql, 10).position, Some(11));
    }
}
