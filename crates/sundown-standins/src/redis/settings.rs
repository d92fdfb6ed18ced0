//! Settings of `kind = "redis"`: the Redis stand-in.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use sundown::component::Component;
use sundown::diagnostic::hint;
use sundown::kind::{Context, K8sHints, K8sProbe, Kind, SerdeKind, Settings};
use toml::Spanned;

use crate::settings::{DEFAULT_REDIS_LISTEN, byte_size, listen};

/// `kind = "redis"`.
pub const KIND: &dyn Kind = &SerdeKind::new("redis", validate);

/// Settings of `kind = "redis"`: the Redis stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Append-only file, resolved against the config's directory; `None`
    /// keeps data in memory only.
    pub aof: Option<PathBuf>,
    /// When the append-only file is flushed to disk.
    pub appendfsync: AppendFsync,
    /// `AUTH` is required first when set (`requirepass`); `None`: every
    /// client may run every command.
    pub password: Option<String>,
    /// Most bytes of replies a connection may have produced and not yet
    /// written before it is disconnected (Redis's
    /// `client-output-buffer-limit` hard limit).
    pub client_output_limit: u64,
    /// Past this approximate size of the data, commands that would add to
    /// it are refused with `-OOM` (`maxmemory` with the `noeviction`
    /// policy); `None`: no limit, as in Redis.
    pub max_memory: Option<u64>,
}

/// The default `client_output_limit`: far above what a job queue's replies
/// add up to, low enough that a handful of clients that stop reading cannot
/// exhaust the machine.
pub const DEFAULT_CLIENT_OUTPUT_LIMIT: u64 = 64 << 20;

impl RedisSpec {
    /// The defaults for everything but the address: no file, no password.
    pub fn new(listen: SocketAddr) -> RedisSpec {
        RedisSpec {
            listen,
            aof: None,
            appendfsync: AppendFsync::default(),
            password: None,
            client_output_limit: DEFAULT_CLIENT_OUTPUT_LIMIT,
            max_memory: None,
        }
    }
}

/// `appendfsync`, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendFsync {
    /// fsync before a write is answered: nothing acknowledged is ever lost.
    #[default]
    Always,
    /// fsync once a second: a crash may lose the last second of writes.
    Everysec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedis {
    listen: Option<Spanned<String>>,
    aof: Option<Spanned<String>>,
    appendfsync: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    client_output_limit: Option<Spanned<String>>,
    max_memory: Option<Spanned<String>>,
}

impl Settings for RedisSpec {
    fn build(&self) -> Box<dyn Component> {
        Box::new(super::Redis::new(self.clone()))
    }

    fn serves(&self) -> Option<SocketAddr> {
        Some(self.listen)
    }

    fn k8s(&self) -> K8sHints {
        K8sHints {
            ready: Some(K8sProbe::Tcp(self.listen.port())),
            pre_stop_sleep: None,
            data_paths: self.aof.iter().map(|p| ("aof".into(), p.clone())).collect(),
        }
    }

    fn works_in_process(&self) -> bool {
        true
    }
}

fn validate(cx: &mut Context<'_, '_>, c: RawRedis) -> Option<RedisSpec> {
    let name = cx.name().to_string();
    let what = &|key: &str| format!("component `{name}`: {key}");
    let listen = listen(cx, &c.listen, DEFAULT_REDIS_LISTEN, what);
    let appendfsync = match &c.appendfsync {
        None => Some(AppendFsync::default()),
        Some(v) => match v.get_ref().as_str() {
            "always" => Some(AppendFsync::Always),
            "everysec" => Some(AppendFsync::Everysec),
            other => {
                let hint = hint(other, &["always", "everysec"]);
                cx.error(
                    v.span(),
                    format!(
                        "{}: `{other}` is not one of \"always\", \"everysec\"{hint}",
                        what("appendfsync")
                    ),
                );
                None
            }
        },
    };
    let password = match &c.password {
        Some(p) if p.get_ref().is_empty() => {
            cx.error(
                p.span(),
                format!(
                    "{}: must not be empty; leave it out for no password",
                    what("password")
                ),
            );
            None
        }
        p => Some(p.as_ref().map(|p| p.get_ref().clone())),
    };
    let client_output_limit = byte_size(cx, &c.client_output_limit, "client_output_limit", what);
    let max_memory = byte_size(cx, &c.max_memory, "max_memory", what);
    Some(RedisSpec {
        listen: listen?,
        aof: c.aof.as_ref().map(|p| cx.resolve(p.get_ref())),
        appendfsync: appendfsync?,
        password: password?,
        client_output_limit: client_output_limit?.unwrap_or(DEFAULT_CLIENT_OUTPUT_LIMIT),
        max_memory: max_memory?,
    })
}
