//! What the stand-ins share in their settings: addresses to listen on and
//! to dial, queue names, and the defaults that match the real services'
//! well-known ports, so the pipeline works against a real Redis and
//! PostgreSQL by only changing kinds.

use std::net::SocketAddr;
use std::str::FromStr;

use sundown::kind::{Context, Dial};
use toml::Spanned;

pub(crate) const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
pub(crate) const DEFAULT_REDIS_LISTEN: &str = "127.0.0.1:6379";
pub(crate) const DEFAULT_POSTGRES_LISTEN: &str = "127.0.0.1:5432";
pub(crate) const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379/";
pub(crate) const DEFAULT_POSTGRES_URL: &str = "postgres://sundown@127.0.0.1:5432/sundown";
pub(crate) const DEFAULT_QUEUE: &str = "jobs";
pub(crate) const DEFAULT_USER: &str = "sundown";

pub(crate) fn listen(
    cx: &mut Context<'_, '_>,
    v: &Option<Spanned<String>>,
    default: &str,
    what: &dyn Fn(&str) -> String,
) -> Option<SocketAddr> {
    let Some(v) = v else {
        return default.parse().ok();
    };
    let text = v.get_ref().trim();
    // `localhost` is the one name worth accepting: resolving others here
    // would make validation depend on DNS.
    let literal = match text.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_string(),
    };
    match literal.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            cx.error(
                v.span(),
                format!(
                    "{}: `{text}` is not an IP address with a port; write e.g. \"127.0.0.1:6379\"",
                    what("listen")
                ),
            );
            None
        }
    }
}

pub(crate) fn redis_url(
    cx: &mut Context<'_, '_>,
    v: &Option<Spanned<String>>,
    what: &dyn Fn(&str) -> String,
) -> Option<String> {
    let Some(v) = v else {
        return Some(DEFAULT_REDIS_URL.to_string());
    };
    let text = v.get_ref().trim();
    let url = if text.contains("://") {
        text.to_string()
    } else {
        format!("redis://{text}/")
    };
    match redis::Client::open(url.as_str()) {
        Ok(_) => Some(url),
        Err(e) => {
            cx.error(
                v.span(),
                format!("{}: `{text}` is not a Redis address ({e}); write e.g. \"127.0.0.1:6379\" or \"redis://127.0.0.1:6379/\"", what("redis")),
            );
            None
        }
    }
}

pub(crate) fn postgres_url(
    cx: &mut Context<'_, '_>,
    v: &Option<Spanned<String>>,
    what: &dyn Fn(&str) -> String,
) -> Option<String> {
    let Some(v) = v else {
        return Some(DEFAULT_POSTGRES_URL.to_string());
    };
    let text = v.get_ref().trim();
    match tokio_postgres::Config::from_str(text) {
        Ok(_) => Some(text.to_string()),
        Err(e) => {
            cx.error(
                v.span(),
                format!("{}: `{text}` is not a PostgreSQL connection string ({e}); write e.g. \"postgres://sundown@127.0.0.1:5432/sundown\"", what("postgres")),
            );
            None
        }
    }
}

pub(crate) fn queue(
    cx: &mut Context<'_, '_>,
    v: &Option<Spanned<String>>,
    what: &dyn Fn(&str) -> String,
) -> Option<String> {
    let Some(v) = v else {
        return Some(DEFAULT_QUEUE.to_string());
    };
    let q = v.get_ref();
    // Glob characters would make the workers' `KEYS` scan for leftover
    // processing lists miss them, and those jobs would never be recovered.
    if q.is_empty() || q.chars().any(|c| c.is_whitespace() || "*?[]\\".contains(c)) {
        cx.error(
            v.span(),
            format!(
                "{}: `{q}` must be a non-empty name without spaces or any of * ? [ ] \\",
                what("queue")
            ),
        );
        return None;
    }
    Some(q.clone())
}

/// Where a client component connects: `(host, port)` of its Redis or PostgreSQL.
pub(crate) fn redis_target(url: &str) -> Option<(String, u16)> {
    match redis::Client::open(url).ok()?.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => Some((host.clone(), *port)),
        _ => None,
    }
}

pub(crate) fn postgres_target(url: &str) -> Option<(String, u16)> {
    let config = tokio_postgres::Config::from_str(url).ok()?;
    let host = match config.get_hosts().first()? {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        _ => return None,
    };
    Some((host, config.get_ports().first().copied().unwrap_or(5432)))
}

/// A dial of `key`'s address, for the config's check that a client depends
/// on the server it uses.
pub(crate) fn dial(key: &'static str, target: Option<(String, u16)>) -> Option<Dial> {
    target.map(|(host, port)| Dial { key, host, port })
}

/// A byte size as `redis.conf` writes one: a whole number and an optional
/// unit, `k`, `m`, `g` for powers of 1000 and `kb`, `mb`, `gb` for powers
/// of 1024, in any case (`"64MB"` is 64 MiB, as in Redis). `KiB`, `MiB`,
/// `GiB` and `B` are accepted too.
pub(crate) fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" | "kib" => 1 << 10,
        "m" => 1000 * 1000,
        "mb" | "mib" => 1 << 20,
        "g" => 1000 * 1000 * 1000,
        "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// An optional byte size setting (see [`parse_byte_size`]) of at least one
/// byte: `Some(None)` when absent, `None` after reporting an error at it.
pub(crate) fn byte_size(
    cx: &mut Context<'_, '_>,
    v: &Option<Spanned<String>>,
    key: &str,
    what: &dyn Fn(&str) -> String,
) -> Option<Option<u64>> {
    let Some(v) = v else {
        return Some(None);
    };
    let text = v.get_ref().trim();
    match parse_byte_size(text) {
        Some(0) => {
            cx.error(
                v.span(),
                format!("{}: must be at least 1 byte, not `{text}`", what(key)),
            );
            None
        }
        Some(n) => Some(Some(n)),
        None => {
            cx.error(
                v.span(),
                format!(
                    "{}: `{text}` is not a byte size; write e.g. \"256MB\" (units B, KB, MB, GB, powers of 1024 as in redis.conf)",
                    what(key)
                ),
            );
            None
        }
    }
}
