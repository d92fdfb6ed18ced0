//! Settings of the built-in service kinds: `http`, `worker_pool`, `redis`
//! and `postgres`. They live apart from the generic settings because each
//! kind has its own, and a reader looking for "what does the Redis stand-in
//! accept" should find it in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of `kind = "http"`: the pipeline's front end.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Redis the jobs are pushed to (`redis://host:port/`).
    pub redis: String,
    /// Name of the Redis list that is the job queue.
    pub queue: String,
    /// How long `/readyz` answers 503 before the listener closes, so a load
    /// balancer notices and stops sending new requests.
    pub drain_delay: Duration,
    /// At most this many connections at once; more wait in the accept queue.
    pub max_connections: Option<usize>,
}

/// Settings of `kind = "worker_pool"`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPoolSpec {
    /// Number of workers.
    pub size: usize,
    /// Name of the Redis list the jobs come from.
    pub queue: String,
    /// Redis holding the queue (`redis://host:port/`).
    pub redis: String,
    /// PostgreSQL the results are written to (`postgres://user[:password]@host:port/db`).
    pub postgres: String,
    /// Simulated work per job.
    pub job_time: JobTime,
}

/// How long one job takes: a fixed time, or uniformly random in a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobTime {
    /// Shortest.
    pub min: Duration,
    /// Longest (equal to `min` for a fixed time).
    pub max: Duration,
}

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

/// Settings of `kind = "postgres"`: the PostgreSQL stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// SQLite database file, resolved against the config's directory; `None`
    /// keeps data in memory only.
    pub data: Option<PathBuf>,
    /// The user clients must log in as.
    pub user: String,
    /// `None`: trust authentication; `Some`: cleartext password authentication.
    pub password: Option<String>,
}

// ---------------------------------------------------------------- validation

use std::str::FromStr;

use toml::Spanned;

use super::{RawComponent, Validator, Zero, hint};

/// Defaults that match the real services' well-known ports, so the pipeline
/// works against a real Redis and PostgreSQL by only changing kinds.
const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_REDIS_LISTEN: &str = "127.0.0.1:6379";
const DEFAULT_POSTGRES_LISTEN: &str = "127.0.0.1:5432";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379/";
const DEFAULT_POSTGRES_URL: &str = "postgres://sundown@127.0.0.1:5432/sundown";
const DEFAULT_QUEUE: &str = "jobs";
const DEFAULT_POOL_SIZE: usize = 4;
const MAX_POOL_SIZE: i64 = 1024;
const DEFAULT_JOB_TIME: Duration = Duration::from_millis(10);
const DEFAULT_USER: &str = "sundown";

impl Validator<'_> {
    pub(super) fn http(
        &mut self,
        c: &RawComponent,
        what: &dyn Fn(&str) -> String,
    ) -> Option<HttpSpec> {
        let listen = self.listen(&c.listen, DEFAULT_HTTP_LISTEN, what);
        let redis = self.redis_url(&c.redis, what);
        let queue = self.queue(&c.queue, what);
        let drain_delay = self
            .opt_duration(&c.drain_delay, &what("drain_delay"), Zero::Allowed)
            .unwrap_or_default();
        let max_connections = match &c.max_connections {
            None => None,
            Some(n) if *n.get_ref() >= 1 => usize::try_from(*n.get_ref()).ok(),
            Some(n) => {
                self.error(
                    n.span(),
                    format!("{} must be at least 1", what("max_connections")),
                );
                None
            }
        };
        Some(HttpSpec {
            listen: listen?,
            redis: redis?,
            queue: queue?,
            drain_delay,
            max_connections,
        })
    }

    pub(super) fn worker_pool(
        &mut self,
        c: &RawComponent,
        what: &dyn Fn(&str) -> String,
    ) -> Option<WorkerPoolSpec> {
        let size = match &c.size {
            None => Some(DEFAULT_POOL_SIZE),
            Some(n) if (1..=MAX_POOL_SIZE).contains(n.get_ref()) => {
                usize::try_from(*n.get_ref()).ok()
            }
            Some(n) => {
                self.error(
                    n.span(),
                    format!(
                        "{}: {} is not between 1 and {MAX_POOL_SIZE}",
                        what("size"),
                        n.get_ref()
                    ),
                );
                None
            }
        };
        let queue = self.queue(&c.queue, what);
        let redis = self.redis_url(&c.redis, what);
        let postgres = self.postgres_url(&c.postgres, what);
        let job_time = match &c.job_time {
            None => Some(JobTime {
                min: DEFAULT_JOB_TIME,
                max: DEFAULT_JOB_TIME,
            }),
            Some(v) => self.job_time(v, what),
        };
        Some(WorkerPoolSpec {
            size: size?,
            queue: queue?,
            redis: redis?,
            postgres: postgres?,
            job_time: job_time?,
        })
    }

    pub(super) fn redis(
        &mut self,
        c: &RawComponent,
        what: &dyn Fn(&str) -> String,
    ) -> Option<RedisSpec> {
        let listen = self.listen(&c.listen, DEFAULT_REDIS_LISTEN, what);
        let appendfsync = match &c.appendfsync {
            None => Some(AppendFsync::default()),
            Some(v) => match v.get_ref().as_str() {
                "always" => Some(AppendFsync::Always),
                "everysec" => Some(AppendFsync::Everysec),
                other => {
                    let hint = hint(other, &["always", "everysec"]);
                    self.error(
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
        Some(RedisSpec {
            listen: listen?,
            aof: c.aof.as_ref().map(|p| self.base_dir.join(p.get_ref())),
            appendfsync: appendfsync?,
        })
    }

    pub(super) fn postgres(
        &mut self,
        c: &RawComponent,
        what: &dyn Fn(&str) -> String,
    ) -> Option<PostgresSpec> {
        let listen = self.listen(&c.listen, DEFAULT_POSTGRES_LISTEN, what);
        let user = match &c.user {
            None => Some(DEFAULT_USER.to_string()),
            Some(u) if !u.get_ref().trim().is_empty() => Some(u.get_ref().clone()),
            Some(u) => {
                self.error(u.span(), format!("{} is empty", what("user")));
                None
            }
        };
        Some(PostgresSpec {
            listen: listen?,
            data: c.data.as_ref().map(|p| self.base_dir.join(p.get_ref())),
            user: user?,
            password: c.password.as_ref().map(|p| p.get_ref().clone()),
        })
    }

    fn listen(
        &mut self,
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
                self.error(
                    v.span(),
                    format!("{}: `{text}` is not an IP address with a port; write e.g. \"127.0.0.1:6379\"", what("listen")),
                );
                None
            }
        }
    }

    fn redis_url(
        &mut self,
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
                self.error(
                    v.span(),
                    format!("{}: `{text}` is not a Redis address ({e}); write e.g. \"127.0.0.1:6379\" or \"redis://127.0.0.1:6379/\"", what("redis")),
                );
                None
            }
        }
    }

    fn postgres_url(
        &mut self,
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
                self.error(
                    v.span(),
                    format!("{}: `{text}` is not a PostgreSQL connection string ({e}); write e.g. \"postgres://sundown@127.0.0.1:5432/sundown\"", what("postgres")),
                );
                None
            }
        }
    }

    fn queue(
        &mut self,
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
            self.error(
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

    /// `"50ms"` or a range `"10ms..100ms"`.
    fn job_time(&mut self, v: &Spanned<String>, what: &dyn Fn(&str) -> String) -> Option<JobTime> {
        let text = v.get_ref();
        let label = what("job_time");
        let part = |s: &str| Spanned::new(v.span(), s.trim().to_string());
        match text.split_once("..") {
            None => {
                let d = self.duration(&part(text), &label, Zero::Allowed)?;
                Some(JobTime { min: d, max: d })
            }
            Some((lo, hi)) => {
                let min = self.duration(&part(lo), &label, Zero::Allowed);
                let max = self.duration(&part(hi), &label, Zero::Allowed);
                let (min, max) = (min?, max?);
                if min > max {
                    self.error(
                        v.span(),
                        format!("{label}: the range `{text}` ends before it starts"),
                    );
                    return None;
                }
                Some(JobTime { min, max })
            }
        }
    }
}

/// A setting of a client component (`"redis"` or `"postgres"`), where it
/// points, and the setting's place in the file.
type Target<'a> = (
    &'static str,
    Option<(String, u16)>,
    &'a Option<Spanned<String>>,
);

/// Where a client component connects: `(host, port)` of its Redis or PostgreSQL.
fn redis_target(url: &str) -> Option<(String, u16)> {
    match redis::Client::open(url).ok()?.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => Some((host.clone(), *port)),
        _ => None,
    }
}

fn postgres_target(url: &str) -> Option<(String, u16)> {
    let config = tokio_postgres::Config::from_str(url).ok()?;
    let host = match config.get_hosts().first()? {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        _ => return None,
    };
    Some((host, config.get_ports().first().copied().unwrap_or(5432)))
}

fn serves(listen: SocketAddr, (host, port): &(String, u16)) -> bool {
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host.as_str()
    };
    listen.port() == *port
        && (listen.ip().to_string() == host
            || (listen.ip().is_unspecified() && host == "127.0.0.1"))
}

impl Validator<'_> {
    /// Warns when a component talks to a Redis or PostgreSQL stand-in of the
    /// same graph without depending on it: nothing then orders their start
    /// and stop, which is the bug this tool exists to prevent.
    pub(super) fn check_service_edges(
        &mut self,
        components: &[super::ComponentSpec],
        raw: &super::RawConfig,
    ) {
        use super::KindSpec;
        let index = |name: &str| {
            components
                .binary_search_by(|c| c.name.as_str().cmp(name))
                .ok()
        };
        for (key, raw_c) in &raw.components {
            let Some(i) = index(key.get_ref()) else {
                continue;
            };
            let c = &components[i];
            let targets: Vec<Target<'_>> = match &c.kind {
                KindSpec::Http(h) => vec![("redis", redis_target(&h.redis), &raw_c.redis)],
                KindSpec::WorkerPool(w) => vec![
                    ("redis", redis_target(&w.redis), &raw_c.redis),
                    ("postgres", postgres_target(&w.postgres), &raw_c.postgres),
                ],
                _ => continue,
            };
            for (setting, target, span) in targets {
                let Some(target) = target else { continue };
                let server = components.iter().find(|s| match &s.kind {
                    KindSpec::Redis(r) => setting == "redis" && serves(r.listen, &target),
                    KindSpec::Postgres(p) => setting == "postgres" && serves(p.listen, &target),
                    _ => false,
                });
                let Some(server) = server else { continue };
                if !depends_transitively(components, i, &server.name) {
                    let span = span.as_ref().map_or(key.span(), Spanned::span);
                    self.warn(
                        span,
                        format!(
                            "component `{}` uses `{}` ({}:{}) but does not depend on it, so their start and stop are not ordered; add it to depends_on",
                            c.name, server.name, target.0, target.1
                        ),
                    );
                }
            }
        }
    }
}

/// Whether component `from` depends on `target`, directly or through others.
fn depends_transitively(components: &[super::ComponentSpec], from: usize, target: &str) -> bool {
    let mut seen = vec![false; components.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        for d in &components[i].depends_on {
            if d == target {
                return true;
            }
            if let Ok(j) = components.binary_search_by(|c| c.name.as_str().cmp(d))
                && !std::mem::replace(&mut seen[j], true)
            {
                stack.push(j);
            }
        }
    }
    false
}
