//! Between SQLite's values and PostgreSQL's types: the type a declared
//! column type maps to, how a SQLite value is encoded as that type (text or
//! binary), how a bound parameter is decoded, and which SQLSTATE a SQLite
//! error becomes.

use bytes::Bytes;
use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::error::ErrorInfo;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use rusqlite::ffi;
use rusqlite::types::Value;

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

/// The PostgreSQL type of a column declared with `decl` (SQLite keeps the
/// declaration text as written). PostgreSQL's own names map to themselves
/// (`INTEGER` is `int4` as in PostgreSQL, `BIGINT` is `int8`, `REAL` is
/// `float4`); other declarations follow SQLite's affinity rules.
pub(super) fn type_for_decl(decl: &str) -> Type {
    let d = decl.trim().to_ascii_uppercase();
    let base = d
        .split(|c: char| c == '(' || c.is_whitespace())
        .next()
        .unwrap_or_default();
    match base {
        "SMALLINT" | "INT2" | "TINYINT" | "SMALLSERIAL" => Type::INT2,
        "INT" | "INTEGER" | "INT4" | "MEDIUMINT" | "SERIAL" => Type::INT4,
        "BIGINT" | "INT8" | "BIGSERIAL" => Type::INT8,
        "REAL" | "FLOAT4" => Type::FLOAT4,
        "DOUBLE" | "FLOAT" | "FLOAT8" | "NUMERIC" | "DECIMAL" => Type::FLOAT8,
        "BOOL" | "BOOLEAN" => Type::BOOL,
        "BYTEA" | "BLOB" => Type::BYTEA,
        _ if d.contains("INT") => Type::INT8,
        _ if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") => Type::TEXT,
        _ if d.contains("BLOB") => Type::BYTEA,
        _ if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") => Type::FLOAT8,
        _ => Type::TEXT,
    }
}

/// The type of an undeclared (expression) column, from a value in it.
pub(super) fn type_for_value(v: &Value) -> Option<Type> {
    match v {
        Value::Null => None,
        Value::Integer(_) => Some(Type::INT8),
        Value::Real(_) => Some(Type::FLOAT8),
        Value::Text(_) => Some(Type::TEXT),
        Value::Blob(_) => Some(Type::BYTEA),
    }
}

/// `pg_type.typlen`, which `RowDescription` carries.
fn type_size(t: &Type) -> i16 {
    match *t {
        Type::BOOL => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::FLOAT4 => 4,
        Type::INT8 | Type::FLOAT8 => 8,
        _ => -1,
    }
}

/// A result column's description.
pub(super) fn field(name: &str, ty: Type, format: FieldFormat) -> FieldInfo {
    let size = type_size(&ty);
    FieldInfo::new(name.to_string(), None, None, ty, format).with_type_size(size)
}

fn invalid(ty: &Type, shown: &str) -> PgError {
    PgError::error(
        "22P02",
        format!("invalid input syntax for type {}: \"{shown}\"", ty.name()),
    )
}

fn out_of_range(ty: &Type) -> PgError {
    PgError::error(
        "22003",
        format!("value out of range for type {}", ty.name()),
    )
}

fn as_i64(ty: &Type, v: &Value) -> Result<i64, PgError> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Real(r) => {
            let r = r.round();
            // i64::MAX is not exactly representable; 2^63 is the first float out of range.
            if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
                Ok(r as i64)
            } else {
                Err(out_of_range(ty))
            }
        }
        Value::Text(s) => s.trim().parse().map_err(|_| invalid(ty, s)),
        Value::Blob(_) | Value::Null => Err(invalid(ty, "<blob>")),
    }
}

fn as_f64(ty: &Type, v: &Value) -> Result<f64, PgError> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Real(r) => Ok(*r),
        Value::Text(s) => parse_float(s).ok_or_else(|| invalid(ty, s)),
        Value::Blob(_) | Value::Null => Err(invalid(ty, "<blob>")),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => t.parse().ok(),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn as_bool(ty: &Type, v: &Value) -> Result<bool, PgError> {
    match v {
        Value::Integer(i) => Ok(*i != 0),
        Value::Real(r) => Ok(*r != 0.0),
        Value::Text(s) => parse_bool(s).ok_or_else(|| invalid(ty, s)),
        Value::Blob(_) | Value::Null => Err(invalid(ty, "<blob>")),
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Encodes one row, converting each SQLite value to its column's type the
/// way PostgreSQL would cast it; a value that does not fit is an error
/// (SQLite's columns are not strictly typed, PostgreSQL's are).
pub(super) fn encode_row(fields: &[FieldInfo], row: &[Value]) -> Result<DataRow, PgError> {
    let opts = FormatOptions::default();
    let mut enc = DataRowEncoder::new(std::sync::Arc::new(Vec::new()));
    for (f, v) in fields.iter().zip(row) {
        let ty = f.datatype();
        let fmt = f.format();
        let done = match (ty, v) {
            (_, Value::Null) => enc.encode_field_with_type_and_format(&None::<i64>, ty, fmt, &opts),
            (&Type::INT2, v) => {
                let i = i16::try_from(as_i64(ty, v)?).map_err(|_| out_of_range(ty))?;
                enc.encode_field_with_type_and_format(&i, ty, fmt, &opts)
            }
            (&Type::INT4, v) => {
                let i = i32::try_from(as_i64(ty, v)?).map_err(|_| out_of_range(ty))?;
                enc.encode_field_with_type_and_format(&i, ty, fmt, &opts)
            }
            (&Type::INT8, v) => {
                enc.encode_field_with_type_and_format(&as_i64(ty, v)?, ty, fmt, &opts)
            }
            (&Type::FLOAT4, v) => {
                enc.encode_field_with_type_and_format(&(as_f64(ty, v)? as f32), ty, fmt, &opts)
            }
            (&Type::FLOAT8, v) => {
                enc.encode_field_with_type_and_format(&as_f64(ty, v)?, ty, fmt, &opts)
            }
            (&Type::BOOL, v) => {
                enc.encode_field_with_type_and_format(&as_bool(ty, v)?, ty, fmt, &opts)
            }
            (&Type::BYTEA, Value::Blob(b)) => {
                enc.encode_field_with_type_and_format(&b.as_slice(), ty, fmt, &opts)
            }
            (&Type::BYTEA, v) => {
                enc.encode_field_with_type_and_format(&as_text(v).as_bytes(), ty, fmt, &opts)
            }
            (_, v) => enc.encode_field_with_type_and_format(&as_text(v).as_str(), ty, fmt, &opts),
        };
        done.map_err(|e| PgError::error("XX000", format!("cannot encode a {}: {e}", ty.name())))?;
    }
    Ok(enc.take_row())
}

/// Decodes one bound parameter of type `ty` sent in `format` into the value
/// SQLite gets.
pub(super) fn decode_param(
    ty: &Type,
    format: FieldFormat,
    raw: Option<&Bytes>,
) -> Result<Value, PgError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    let bad_binary = || {
        PgError::error(
            "22P03",
            format!(
                "incorrect binary data format for a parameter of type {}",
                ty.name()
            ),
        )
    };
    let utf8 = || {
        std::str::from_utf8(raw)
            .map_err(|_| PgError::error("22021", "invalid byte sequence for encoding \"UTF8\""))
    };
    if format == FieldFormat::Binary {
        let fixed = |n: usize| -> Result<&[u8], PgError> {
            if raw.len() == n {
                Ok(&raw[..])
            } else {
                Err(bad_binary())
            }
        };
        return Ok(match *ty {
            Type::INT2 => {
                let b = fixed(2)?;
                Value::Integer(i16::from_be_bytes([b[0], b[1]]).into())
            }
            Type::INT4 => {
                let b = fixed(4)?;
                Value::Integer(i32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
            }
            Type::OID => {
                let b = fixed(4)?;
                Value::Integer(u32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
            }
            Type::INT8 => {
                let b = fixed(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Integer(i64::from_be_bytes(a))
            }
            Type::FLOAT4 => {
                let b = fixed(4)?;
                Value::Real(f32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
            }
            Type::FLOAT8 => {
                let b = fixed(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Real(f64::from_be_bytes(a))
            }
            Type::BOOL => Value::Integer(i64::from(fixed(1)?[0] != 0)),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::JSONB => match raw.split_first() {
                Some((1, rest)) => Value::Text(
                    std::str::from_utf8(rest)
                        .map_err(|_| bad_binary())?
                        .to_string(),
                ),
                _ => return Err(bad_binary()),
            },
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
                Value::Text(utf8()?.to_string())
            }
            _ => {
                return Err(PgError::error(
                    "0A000",
                    format!(
                        "binary format for parameters of type {} is not supported; send it as text",
                        ty.name()
                    ),
                ));
            }
        });
    }
    let s = utf8()?;
    let int = |lo: i64, hi: i64| -> Result<Value, PgError> {
        let i: i64 = s.trim().parse().map_err(|_| invalid(ty, s))?;
        if (lo..=hi).contains(&i) {
            Ok(Value::Integer(i))
        } else {
            Err(out_of_range(ty))
        }
    };
    Ok(match *ty {
        Type::INT2 => int(i16::MIN.into(), i16::MAX.into())?,
        Type::INT4 => int(i32::MIN.into(), i32::MAX.into())?,
        Type::OID => int(0, u32::MAX.into())?,
        Type::INT8 => int(i64::MIN, i64::MAX)?,
        Type::FLOAT4 | Type::FLOAT8 => Value::Real(parse_float(s).ok_or_else(|| invalid(ty, s))?),
        Type::BOOL => Value::Integer(i64::from(parse_bool(s).ok_or_else(|| invalid(ty, s))?)),
        Type::BYTEA => match s.strip_prefix("\\x") {
            Some(hex) => Value::Blob(decode_hex(hex).ok_or_else(|| invalid(ty, s))?),
            None => Value::Blob(s.as_bytes().to_vec()),
        },
        _ => Value::Text(s.to_string()),
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let h = (p[0] as char).to_digit(16)?;
            let l = (p[1] as char).to_digit(16)?;
            u8::try_from(h * 16 + l).ok()
        })
        .collect()
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
    fn declared_types() {
        assert_eq!(type_for_decl("BIGINT"), Type::INT8);
        assert_eq!(type_for_decl("integer"), Type::INT4);
        assert_eq!(type_for_decl("INT"), Type::INT4);
        assert_eq!(type_for_decl("UNSIGNED BIG INT"), Type::INT8);
        assert_eq!(type_for_decl("varchar(20)"), Type::TEXT);
        assert_eq!(type_for_decl("DOUBLE PRECISION"), Type::FLOAT8);
        assert_eq!(type_for_decl("real"), Type::FLOAT4);
        assert_eq!(type_for_decl("BOOLEAN"), Type::BOOL);
        assert_eq!(type_for_decl("bytea"), Type::BYTEA);
        assert_eq!(type_for_decl("timestamptz"), Type::TEXT);
        assert_eq!(type_for_decl(""), Type::TEXT);
    }

    fn text(fields: &[(Type, FieldFormat)], row: &[Value]) -> Result<Vec<u8>, PgError> {
        let fields: Vec<FieldInfo> = fields
            .iter()
            .map(|(t, f)| field("c", t.clone(), *f))
            .collect();
        encode_row(&fields, row).map(|r| r.data.to_vec())
    }

    #[test]
    fn values_are_cast_to_the_column_type() {
        let t = FieldFormat::Text;
        let b = FieldFormat::Binary;
        // length-prefixed fields
        assert_eq!(
            text(&[(Type::INT8, t)], &[Value::Integer(42)]).ok(),
            Some(b"\0\0\0\x0242".to_vec())
        );
        assert_eq!(
            text(&[(Type::INT4, b)], &[Value::Text(" 7 ".into())]).ok(),
            Some(vec![0, 0, 0, 4, 0, 0, 0, 7])
        );
        assert_eq!(
            text(&[(Type::BOOL, t)], &[Value::Integer(1)]).ok(),
            Some(b"\0\0\0\x01t".to_vec())
        );
        assert_eq!(
            text(&[(Type::TEXT, t)], &[Value::Null]).ok(),
            Some(vec![0xff; 4])
        );
        assert_eq!(
            text(&[(Type::TEXT, b)], &[Value::Integer(5)]).ok(),
            Some(b"\0\0\0\x015".to_vec())
        );
        assert_eq!(
            text(&[(Type::BYTEA, t)], &[Value::Blob(vec![0xde, 0xad])]).ok(),
            Some(b"\0\0\0\x06\\xdead".to_vec())
        );
        assert_eq!(
            text(&[(Type::INT2, t)], &[Value::Integer(70000)]).map_err(|e| e.code),
            Err("22003")
        );
        assert_eq!(
            text(&[(Type::INT8, t)], &[Value::Text("abc".into())]).map_err(|e| e.code),
            Err("22P02")
        );
    }

    #[test]
    fn parameters_in_both_formats() {
        let t = FieldFormat::Text;
        let b = FieldFormat::Binary;
        let raw = |s: &[u8]| Some(Bytes::copy_from_slice(s));
        assert_eq!(
            decode_param(&Type::INT8, t, raw(b"42").as_ref()),
            Ok(Value::Integer(42))
        );
        assert_eq!(
            decode_param(&Type::INT8, b, raw(&42i64.to_be_bytes()).as_ref()),
            Ok(Value::Integer(42))
        );
        assert_eq!(
            decode_param(&Type::INT4, b, raw(&[0, 1]).as_ref()).map_err(|e| e.code),
            Err("22P03")
        );
        assert_eq!(
            decode_param(&Type::INT2, t, raw(b"99999").as_ref()).map_err(|e| e.code),
            Err("22003")
        );
        assert_eq!(
            decode_param(&Type::BOOL, t, raw(b"on").as_ref()),
            Ok(Value::Integer(1))
        );
        assert_eq!(
            decode_param(&Type::TEXT, b, raw(b"hi").as_ref()),
            Ok(Value::Text("hi".into()))
        );
        assert_eq!(
            decode_param(&Type::TEXT, t, raw(&[0xff]).as_ref()).map_err(|e| e.code),
            Err("22021")
        );
        assert_eq!(
            decode_param(&Type::BYTEA, t, raw(b"\\x0aFF").as_ref()),
            Ok(Value::Blob(vec![10, 255]))
        );
        assert_eq!(
            decode_param(&Type::FLOAT8, t, raw(b"-Infinity").as_ref()),
            Ok(Value::Real(f64::NEG_INFINITY))
        );
        assert_eq!(decode_param(&Type::UUID, t, None), Ok(Value::Null));
        assert_eq!(
            decode_param(&Type::UUID, b, raw(&[0; 16]).as_ref()).map_err(|e| e.code),
            Err("0A000")
        );
    }

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
