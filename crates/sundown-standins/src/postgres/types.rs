//! Between SQLite's values and PostgreSQL's types: the type a declared
//! column type maps to, and how a SQLite value is encoded as that type
//! (text or binary), cast the way PostgreSQL would cast it. Parameters go
//! the other way in bind.rs.

use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use rusqlite::types::Value;

use super::error::PgError;

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

/// `22P02`: `shown` cannot be read as a `ty`.
pub(super) fn invalid(ty: &Type, shown: &str) -> PgError {
    PgError::error(
        "22P02",
        format!("invalid input syntax for type {}: \"{shown}\"", ty.name()),
    )
}

/// `22003`: a value does not fit a `ty`.
pub(super) fn out_of_range(ty: &Type) -> PgError {
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

/// A float as PostgreSQL reads one, `Infinity` and `NaN` included.
pub(super) fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => t.parse().ok(),
    }
}

/// A boolean in any spelling PostgreSQL accepts.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
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
}
