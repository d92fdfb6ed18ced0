//! A `Bind` message's parameter values: each decoded from the format the
//! client sent it in (text, or binary for the types that have one) into the
//! value SQLite gets, refused the way PostgreSQL refuses it.

use bytes::Bytes;
use pgwire::api::Type;
use pgwire::api::results::FieldFormat;
use rusqlite::types::Value;

use super::error::PgError;
use super::types::{invalid, out_of_range, parse_bool, parse_float};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
