//! `ready = { ... }` and `liveness = { ... }` on a process: how sundown
//! learns that a program can serve its dependents, and that it still can.
//! Staying alive for `ready_after` is a guess; a probe asks the program.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::argv::{RawCommand, split_command};
use crate::diagnostic::Zero;
use crate::kind::Context;

/// How often a readiness probe runs when `interval` is not set: short,
/// because every dependent waits for it.
pub const DEFAULT_READY_INTERVAL: Duration = Duration::from_millis(250);
/// How often a liveness probe runs when `interval` is not set.
pub const DEFAULT_LIVENESS_INTERVAL: Duration = Duration::from_secs(5);
/// How long one check may take when `timeout` is not set.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a component may take to become ready when `ready_timeout` is not set.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Consecutive liveness failures that fail the component when `failure_threshold` is not set.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

/// One probe: what to check, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// The check itself.
    pub check: Check,
    /// Time between the start of one check and the next.
    pub interval: Duration,
    /// One check that takes longer than this has failed.
    pub timeout: Duration,
    /// Time after the start (readiness) or after ready (liveness) before the first check.
    pub start_period: Duration,
    /// Readiness only: not ready this long after the start is a start failure.
    pub ready_timeout: Duration,
    /// Liveness only: this many failures in a row fail the component.
    pub failure_threshold: u32,
}

/// What a probe checks.
#[derive(Debug, Clone)]
pub enum Check {
    /// A TCP connection to `host:port` succeeds.
    Tcp(String),
    /// An HTTP GET answers with this status.
    Http {
        /// `http://host:port/path`.
        url: String,
        /// The status that counts as success.
        status: u16,
    },
    /// A program exits 0 (run with the component's environment, directory and user).
    Exec(Vec<String>),
    /// A line of the component's output matches (readiness only).
    Log(regex::Regex),
}

/// Equal when they check the same thing: a reload compares definitions.
impl PartialEq for Check {
    fn eq(&self, other: &Check) -> bool {
        match (self, other) {
            (Check::Tcp(a), Check::Tcp(b)) => a == b,
            (Check::Http { url, status }, Check::Http { url: u, status: s }) => {
                url == u && status == s
            }
            (Check::Exec(a), Check::Exec(b)) => a == b,
            (Check::Log(a), Check::Log(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Tcp(addr) => write!(f, "tcp {addr}"),
            Check::Http { url, status } => write!(f, "http {url} (want {status})"),
            Check::Exec(argv) => write!(f, "exec `{}`", shell_words::join(argv)),
            Check::Log(re) => write!(f, "log /{}/", re.as_str()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    tcp: Option<Spanned<String>>,
    http: Option<Spanned<String>>,
    status: Option<Spanned<i64>>,
    exec: Option<Spanned<RawCommand>>,
    log: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    start_period: Option<Spanned<String>>,
    ready_timeout: Option<Spanned<String>>,
    failure_threshold: Option<Spanned<i64>>,
}

/// Which of the two probes is being read: they differ in what they accept.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Role {
    Ready,
    Liveness,
}

impl Role {
    fn key(self) -> &'static str {
        match self {
            Role::Ready => "ready",
            Role::Liveness => "liveness",
        }
    }
}

impl Context<'_, '_> {
    pub(super) fn probe(
        &mut self,
        name: &str,
        raw: &Spanned<RawProbe>,
        role: Role,
    ) -> Option<ProbeSpec> {
        let p = raw.get_ref();
        let what = |key: &str| format!("component `{name}`: {}.{key}", role.key());
        let set = [
            p.tcp.is_some(),
            p.http.is_some(),
            p.exec.is_some(),
            p.log.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            self.error(
                raw.span(),
                format!(
                    "component `{name}`: `{}` needs exactly one of `tcp`, `http`, `exec` or `log`",
                    role.key()
                ),
            );
            return None;
        }
        if let (Some(status), None) = (&p.status, &p.http) {
            self.error(
                status.span(),
                format!("{}: only an `http` probe has a status", what("status")),
            );
        }
        if let (Role::Liveness, Some(t)) = (role, &p.ready_timeout) {
            self.error(
                t.span(),
                format!("{}: a liveness probe runs for as long as the component does; `ready_timeout` belongs in `ready`", what("ready_timeout")),
            );
        }
        if let (Role::Ready, Some(t)) = (role, &p.failure_threshold) {
            self.error(
                t.span(),
                format!("{}: a readiness probe keeps trying until `ready_timeout`; `failure_threshold` belongs in `liveness`", what("failure_threshold")),
            );
        }
        let check = if let Some(addr) = &p.tcp {
            let text = addr.get_ref().trim();
            let port_ok = text.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !port_ok {
                self.error(
                    addr.span(),
                    format!(
                        "{}: `{text}` is not host:port (e.g. \"127.0.0.1:6379\")",
                        what("tcp")
                    ),
                );
                return None;
            }
            Check::Tcp(text.to_string())
        } else if let Some(url) = &p.http {
            let text = url.get_ref().trim();
            match text.parse::<hyper::Uri>() {
                Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {}
                Ok(uri) if uri.scheme_str() == Some("https") => {
                    self.error(url.span(), format!("{}: https is not supported; probe the plain-HTTP health port, or use an `exec` probe with curl", what("http")));
                    return None;
                }
                _ => {
                    self.error(url.span(), format!("{}: `{text}` is not an http:// URL (e.g. \"http://127.0.0.1:8080/healthz\")", what("http")));
                    return None;
                }
            }
            let status = match &p.status {
                None => 200,
                Some(s) => match u16::try_from(*s.get_ref()) {
                    Ok(code @ 100..=599) => code,
                    _ => {
                        self.error(
                            s.span(),
                            format!(
                                "{}: {} is not an HTTP status (100-599)",
                                what("status"),
                                s.get_ref()
                            ),
                        );
                        200
                    }
                },
            };
            Check::Http {
                url: text.to_string(),
                status,
            }
        } else if let Some(exec) = &p.exec {
            Check::Exec(split_command(self, exec, &what("exec"))?)
        } else {
            let re = p.log.as_ref()?;
            if role == Role::Liveness {
                self.error(re.span(), format!("{}: a line that appeared once says nothing about now; use `tcp`, `http` or `exec` for liveness", what("log")));
                return None;
            }
            match regex::Regex::new(re.get_ref()) {
                Ok(r) => Check::Log(r),
                Err(e) => {
                    self.error(
                        re.span(),
                        format!("{}: not a regular expression: {e}", what("log")),
                    );
                    return None;
                }
            }
        };
        let interval_default = match role {
            Role::Ready => DEFAULT_READY_INTERVAL,
            Role::Liveness => DEFAULT_LIVENESS_INTERVAL,
        };
        let failure_threshold = match &p.failure_threshold {
            None => DEFAULT_FAILURE_THRESHOLD,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if n > 0 => n,
                _ => {
                    self.error(
                        n.span(),
                        format!("{}: must be at least 1", what("failure_threshold")),
                    );
                    DEFAULT_FAILURE_THRESHOLD
                }
            },
        };
        Some(ProbeSpec {
            check,
            interval: self
                .opt_duration(&p.interval, &what("interval"), Zero::Rejected)
                .unwrap_or(interval_default),
            timeout: self
                .opt_duration(&p.timeout, &what("timeout"), Zero::Rejected)
                .unwrap_or(DEFAULT_PROBE_TIMEOUT),
            start_period: self
                .opt_duration(&p.start_period, &what("start_period"), Zero::Allowed)
                .unwrap_or_default(),
            ready_timeout: self
                .opt_duration(&p.ready_timeout, &what("ready_timeout"), Zero::Rejected)
                .unwrap_or(DEFAULT_READY_TIMEOUT),
            failure_threshold,
        })
    }
}
