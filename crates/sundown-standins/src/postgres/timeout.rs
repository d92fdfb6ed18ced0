//! `statement_timeout` as PostgreSQL reads and shows it: an integer of
//! milliseconds, or a number with a unit (`us`, `ms`, `s`, `min`, `h`,
//! `d`), `0` for no limit, at most `2147483647` ms.

use std::time::Duration;

use super::error::PgError;

/// PostgreSQL's largest `statement_timeout`, in milliseconds.
const MAX_MS: f64 = 2_147_483_647.0;

/// Reads a `SET statement_timeout` value as written after `=` or `TO`:
/// `5000`, `'5s'`, `"1min"`. `None`: no limit.
pub(super) fn parse(written: &str) -> Result<Option<Duration>, PgError> {
    let text = unquote(written.trim());
    let invalid = || {
        PgError::error(
            "22023",
            format!("invalid value for parameter \"statement_timeout\": \"{text}\""),
        )
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let ms_per = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid()),
    };
    // PostgreSQL rounds to its unit, the millisecond.
    let ms = (number * ms_per).round();
    if !(0.0..=MAX_MS).contains(&ms) {
        return Err(PgError::error(
            "22023",
            format!(
                "{ms} ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)"
            ),
        ));
    }
    // In range, so the cast is exact.
    let ms = ms as u64;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// The value without its quotes: `'5s'` (with `''` for a quote inside),
/// `"5s"`, or as written.
fn unquote(v: &str) -> String {
    for q in ['\'', '"'] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            let twice: String = [q, q].iter().collect();
            return inner.replace(&twice, &q.to_string());
        }
    }
    v.to_string()
}

/// The value `SHOW statement_timeout` answers, as PostgreSQL writes it: in
/// the largest unit that divides it, `0` for no limit.
pub(super) fn show(limit: Option<Duration>) -> String {
    let Some(limit) = limit else {
        return "0".into();
    };
    let ms = limit.as_millis().max(1);
    for (per, unit) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ] {
        if ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn values_read_as_postgresql_reads_them() {
        for (written, want) in [
            ("5000", ms(5000)),
            ("'5000'", ms(5000)),
            ("'5s'", ms(5000)),
            ("'5 s'", ms(5000)),
            ("\"200ms\"", ms(200)),
            ("'1min'", ms(60_000)),
            ("'1.5s'", ms(1500)),
            ("'2h'", ms(7_200_000)),
            ("'1d'", ms(86_400_000)),
            ("'1500us'", ms(2)),
            ("0", None),
            ("'0s'", None),
        ] {
            assert_eq!(parse(written).map_err(|e| e.message), Ok(want), "{written}");
        }
    }

    #[test]
    fn bad_values_are_22023() {
        for (written, message) in [
            (
                "'soon'",
                "invalid value for parameter \"statement_timeout\": \"soon\"",
            ),
            (
                "'5m'",
                "invalid value for parameter \"statement_timeout\": \"5m\"",
            ),
            (
                "''",
                "invalid value for parameter \"statement_timeout\": \"\"",
            ),
            (
                "-1",
                "-1 ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)",
            ),
            (
                "'30d'",
                "2592000000 ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)",
            ),
        ] {
            let e = parse(written).expect_err(written);
            assert_eq!(
                (e.code, e.message.as_str()),
                ("22023", message),
                "{written}"
            );
        }
    }

    #[test]
    fn shown_in_the_largest_whole_unit() {
        assert_eq!(show(None), "0");
        assert_eq!(show(ms(200)), "200ms");
        assert_eq!(show(ms(30_000)), "30s");
        assert_eq!(show(ms(1500)), "1500ms");
        assert_eq!(show(ms(120_000)), "2min");
        assert_eq!(show(Some(Duration::from_micros(10))), "1ms");
    }
}
