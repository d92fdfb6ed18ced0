//! Parsing and validating `supervisor.toml`.
//!
//! Parsing happens in two steps on purpose. serde turns the text into a
//! *raw* tree in which every value that can be wrong keeps its source span
//! (durations and signal names stay strings here). Validation then walks that
//! tree once and collects **every** problem, each with its location, instead
//! of stopping at the first one the way a plain serde error would.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Deserialize;
use toml::Spanned;

use crate::graph;

mod probes;
mod process;
mod restart;
mod services;
pub use probes::{Check, ProbeSpec};
pub use process::ProcessSpec;
pub use restart::{RestartPolicy, RestartSpec};
pub use services::{AppendFsync, HttpSpec, JobTime, PostgresSpec, RedisSpec, WorkerPoolSpec};

/// Stop timeout of a component that does not set one (Docker's default).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Global shutdown budget when `[supervisor] shutdown_timeout` is not set:
/// below Kubernetes' default grace period of 30 s, so the pod's SIGKILL never
/// lands in the middle of an ordered stop.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(25);
/// Anything longer than this is almost certainly a typo (`"30h"` for `"30s"`).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// How the stop plan is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Phase N+1 begins when every member of phase N is down.
    #[default]
    Phased,
    /// Each component is asked to stop as soon as all its dependents are down.
    Eager,
    /// As Kubernetes stops a pod exported with `--mode sidecars`: the
    /// components nothing depends on together, then the others one at a
    /// time, in the reverse of their sidecar order.
    #[serde(rename = "k8s-sidecars")]
    K8sSidecars,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Phased => "phased",
            Strategy::Eager => "eager",
            Strategy::K8sSidecars => "k8s-sidecars",
        })
    }
}

/// A validated configuration: every name resolves, the graph is acyclic,
/// every duration is sane.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Global settings from `[supervisor]`.
    pub supervisor: SupervisorSettings,
    /// Components, sorted by name (the order ties are broken in).
    pub components: Vec<ComponentSpec>,
    /// Caps on phase timeouts from `[phase_timeouts]`, keyed by component.
    pub phase_timeouts: BTreeMap<String, Duration>,
    /// Problems that do not stop a run, already rendered with their location.
    pub warnings: Vec<String>,
}

/// `[supervisor]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorSettings {
    /// Budget for the whole shutdown; whatever is still running then is killed.
    pub shutdown_timeout: Duration,
    /// Budget for the whole start; `None` waits forever.
    pub startup_timeout: Option<Duration>,
    /// Phased or eager stop.
    pub strategy: Strategy,
    /// Where `run` writes the teardown report, resolved against the config's directory.
    pub report: Option<PathBuf>,
    /// Where `run` serves its control socket (`control_socket`), resolved
    /// against the config's directory; `None` means the default place.
    pub control_socket: Option<PathBuf>,
    /// Where `run` serves Prometheus metrics (`[supervisor.metrics] listen`).
    pub metrics: Option<std::net::SocketAddr>,
    /// Lines of output kept per component for `sundown logs` (`log_lines`).
    pub log_lines: usize,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        SupervisorSettings {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            startup_timeout: None,
            strategy: Strategy::Phased,
            report: None,
            control_socket: None,
            metrics: None,
            log_lines: crate::logs::DEFAULT_LINES,
        }
    }
}

/// One `[components.NAME]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// The table's key.
    pub name: String,
    /// Names of the components this one needs running (sorted, no duplicates).
    pub depends_on: Vec<String>,
    /// How long a graceful stop may take before the component is killed.
    pub stop_timeout: Duration,
    /// What happens when it ends without being asked to.
    pub restart: RestartSpec,
    /// What the component is.
    pub kind: KindSpec,
}

/// Kind-specific settings.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per component at load; boxing would only add noise"
)]
pub enum KindSpec {
    /// An external program.
    Process(ProcessSpec),
    /// An in-process simulation, for teaching and tests.
    Sim(SimSpec),
    /// The HTTP front end of the job pipeline.
    Http(HttpSpec),
    /// Workers that take jobs from Redis and write results to PostgreSQL.
    WorkerPool(WorkerPoolSpec),
    /// The Redis stand-in.
    Redis(RedisSpec),
    /// The PostgreSQL stand-in.
    Postgres(PostgresSpec),
}

impl KindSpec {
    /// The `kind = "..."` name.
    pub fn name(&self) -> &'static str {
        match self {
            KindSpec::Process(_) => "process",
            KindSpec::Sim(_) => "sim",
            KindSpec::Http(_) => "http",
            KindSpec::WorkerPool(_) => "worker_pool",
            KindSpec::Redis(_) => "redis",
            KindSpec::Postgres(_) => "postgres",
        }
    }
}

/// Settings of `kind = "sim"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimSpec {
    /// Time from start to ready.
    pub start_delay: Duration,
    /// Time from a stop request to having stopped.
    pub stop_delay: Duration,
    /// Exit with an error this long after becoming ready.
    pub fail_after: Option<Duration>,
    /// Exit successfully this long after becoming ready.
    pub exit_after: Option<Duration>,
    /// Never stop gracefully: only a kill ends it.
    pub ignore_stop: bool,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            diagnostics: vec![Located {
                line: 0,
                column: 0,
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &path.display().to_string(), &base)
    }

    /// Validates TOML text. `file` names it in messages; relative paths in it
    /// are resolved against `base_dir`.
    pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let source = Source { text, file };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end();
            let message = match e.span().and_then(|s| component_at(text, s.start)) {
                Some(name) => format!("component `{name}`: {message}"),
                None => message.to_string(),
            };
            source.error(vec![source.locate(span, message)])
        })?;
        let mut v = Validator {
            source,
            base_dir,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let config = v.validate(raw);
        if v.errors.is_empty() {
            let mut config = config;
            config.warnings = v.warnings;
            Ok(config)
        } else {
            v.errors.sort_by_key(|l| (l.line, l.column));
            Err(v.source.error(v.errors))
        }
    }

    /// Re-checks the invariants the rest of the crate relies on, for a
    /// `Config` built or edited in code rather than parsed: names sorted and
    /// unique, every dependency resolves and is not the component itself, no
    /// cycle, no empty command, no zero timeout.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |message: String| {
            problems.push(Located {
                line: 0,
                column: 0,
                message,
            })
        };
        for pair in self.components.windows(2) {
            if pair[0].name >= pair[1].name {
                problem(format!(
                    "components must be sorted by name without duplicates: `{}` comes before `{}`",
                    pair[0].name, pair[1].name
                ));
            }
        }
        if self.supervisor.shutdown_timeout.is_zero() {
            problem("shutdown_timeout must be greater than zero".into());
        }
        let mut deps = Vec::with_capacity(self.components.len());
        for c in &self.components {
            if c.stop_timeout.is_zero() {
                problem(format!(
                    "component `{}`: stop_timeout must be greater than zero",
                    c.name
                ));
            }
            if let KindSpec::Process(p) = &c.kind
                && p.argv.first().is_none_or(|a| a.trim().is_empty())
            {
                problem(format!("component `{}`: command is empty", c.name));
            }
            let mut resolved = Vec::with_capacity(c.depends_on.len());
            for d in &c.depends_on {
                match self.index_of(d) {
                    Some(_) if *d == c.name => {
                        problem(format!("component `{}` depends on itself", c.name))
                    }
                    Some(j) => resolved.push(j),
                    None => problem(format!(
                        "component `{}` depends on `{d}`, which is not a component",
                        c.name
                    )),
                }
            }
            deps.push(resolved);
        }
        for cycle in graph::find_cycles(&deps) {
            let path: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| self.components[i].name.as_str())
                .collect();
            problem(format!("dependency cycle: {}", path.join(" → ")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                file: "<config>".into(),
                diagnostics: problems,
            })
        }
    }

    /// The config of one component alone, its dependencies left out (what
    /// `run --only NAME` runs: in a Kubernetes pod, each container runs one
    /// component, and its dependencies run in other containers). The error
    /// names the component that does not exist, with a suggestion.
    pub fn only(mut self, name: &str) -> Result<Config, String> {
        let Some(i) = self.index_of(name) else {
            let names: Vec<&str> = self.components.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "there is no component `{name}`{}",
                hint(name, &names)
            ));
        };
        let mut one = self.components.swap_remove(i);
        one.depends_on.clear();
        self.phase_timeouts.retain(|n, _| n == name);
        self.components = vec![one];
        Ok(self)
    }

    /// Index of a component by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.components
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
    }
}

/// Everything wrong with a config file, each problem with its location.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file, as given.
    pub file: String,
    /// One entry per problem, in file order.
    pub diagnostics: Vec<Located>,
}

/// A problem at a line and column (1-based; 0 when the problem has no place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, naming the component where there is one.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            render(f, &self.file, d, "error")?;
        }
        if n > 1 {
            write!(f, "\n{n} errors in {}", self.file)?;
        }
        Ok(())
    }
}

fn render(f: &mut impl fmt::Write, file: &str, d: &Located, severity: &str) -> fmt::Result {
    if d.line == 0 {
        write!(f, "{file}: {severity}: {}", d.message)
    } else {
        write!(
            f,
            "{file}:{}:{}: {severity}: {}",
            d.line, d.column, d.message
        )
    }
}

// ---------------------------------------------------------------- raw tree

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    supervisor: RawSupervisor,
    #[serde(default)]
    components: BTreeMap<Spanned<String>, RawComponent>,
    #[serde(default)]
    phase_timeouts: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSupervisor {
    shutdown_timeout: Option<Spanned<String>>,
    startup_timeout: Option<Spanned<String>>,
    strategy: Option<Strategy>,
    report: Option<String>,
    control_socket: Option<String>,
    metrics: Option<RawMetrics>,
    log_lines: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Spanned<String>,
    #[serde(default)]
    allow_remote: bool,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "`command` must be a string (\"prog --flag arg\") or an array of strings"
)]
enum RawCommand {
    Line(String),
    Argv(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    kind: Option<Spanned<String>>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    stop_timeout: Option<Spanned<String>>,
    // any kind (see `restart.rs`)
    restart: Option<Spanned<String>>,
    max_restarts: Option<Spanned<i64>>,
    restart_window: Option<Spanned<String>>,
    restart_backoff: Option<Spanned<String>>,
    restart_backoff_max: Option<Spanned<String>>,
    restart_dependents: Option<Spanned<bool>>,
    // process
    command: Option<Spanned<RawCommand>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    working_dir: Option<Spanned<String>>,
    stop_signal: Option<Spanned<String>>,
    ready_after: Option<Spanned<String>>,
    ready: Option<Spanned<probes::RawProbe>>,
    liveness: Option<Spanned<probes::RawProbe>>,
    stop_command: Option<Spanned<RawCommand>>,
    stop_command_timeout: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    // sim
    start_delay: Option<Spanned<String>>,
    stop_delay: Option<Spanned<String>>,
    fail_after: Option<Spanned<String>>,
    exit_after: Option<Spanned<String>>,
    ignore_stop: Option<Spanned<bool>>,
    // service kinds (see `services.rs`)
    listen: Option<Spanned<String>>,
    redis: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
    drain_delay: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
    size: Option<Spanned<i64>>,
    postgres: Option<Spanned<String>>,
    job_time: Option<Spanned<String>>,
    aof: Option<Spanned<String>>,
    appendfsync: Option<Spanned<String>>,
    data: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
}

/// Which kinds understand each kind-specific key, so that a `stop_delay` on
/// a process is an error at that key rather than silently ignored.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("command", &["process"]),
    ("env", &["process"]),
    ("working_dir", &["process"]),
    ("stop_signal", &["process"]),
    ("ready_after", &["process"]),
    ("ready", &["process"]),
    ("liveness", &["process"]),
    ("stop_command", &["process"]),
    ("stop_command_timeout", &["process"]),
    ("group", &["process"]),
    ("start_delay", &["sim"]),
    ("stop_delay", &["sim"]),
    ("fail_after", &["sim"]),
    ("exit_after", &["sim"]),
    ("ignore_stop", &["sim"]),
    ("listen", &["http", "redis", "postgres"]),
    ("redis", &["http", "worker_pool"]),
    ("queue", &["http", "worker_pool"]),
    ("drain_delay", &["http"]),
    ("max_connections", &["http"]),
    ("size", &["worker_pool"]),
    ("postgres", &["worker_pool"]),
    ("job_time", &["worker_pool"]),
    ("aof", &["redis"]),
    ("appendfsync", &["redis"]),
    ("data", &["postgres"]),
    ("user", &["process", "postgres"]),
    ("password", &["postgres"]),
];

/// Every `kind = "..."` there is.
const KINDS: &[&str] = &["process", "sim", "http", "worker_pool", "redis", "postgres"];

impl RawComponent {
    /// The span of each kind-specific key that is set.
    fn kind_settings(&self) -> Vec<(&'static str, Range<usize>)> {
        fn span<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        let set = [
            span(&self.command),
            span(&self.env),
            span(&self.working_dir),
            span(&self.stop_signal),
            span(&self.ready_after),
            span(&self.ready),
            span(&self.liveness),
            span(&self.stop_command),
            span(&self.stop_command_timeout),
            span(&self.group),
            span(&self.start_delay),
            span(&self.stop_delay),
            span(&self.fail_after),
            span(&self.exit_after),
            span(&self.ignore_stop),
            span(&self.listen),
            span(&self.redis),
            span(&self.queue),
            span(&self.drain_delay),
            span(&self.max_connections),
            span(&self.size),
            span(&self.postgres),
            span(&self.job_time),
            span(&self.aof),
            span(&self.appendfsync),
            span(&self.data),
            span(&self.user),
            span(&self.password),
        ];
        KIND_KEYS
            .iter()
            .zip(set)
            .filter_map(|((key, _), span)| Some((*key, span?)))
            .collect()
    }
}

/// The component whose `[components.NAME]` table holds byte `at`, so that a
/// serde error there (an unknown key, a value of the wrong type) can name it.
/// Only called on the error path: it parses the text a second time.
fn component_at(text: &str, at: usize) -> Option<String> {
    use toml::de::DeValue;
    fn holds(value: &Spanned<DeValue<'_>>, at: usize) -> bool {
        value.span().contains(&at)
            || match value.get_ref() {
                DeValue::Table(t) => t
                    .iter()
                    .any(|(k, v)| k.span().contains(&at) || holds(v, at)),
                DeValue::Array(a) => a.iter().any(|v| holds(v, at)),
                _ => false,
            }
    }
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    let components = doc.get_ref().get("components")?.get_ref().as_table()?;
    components
        .iter()
        .find(|(name, table)| name.span().contains(&at) || holds(table, at))
        .map(|(name, _)| name.get_ref().to_string())
}

// ---------------------------------------------------------------- validation

#[derive(Clone, Copy)]
struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    fn locate(&self, span: Range<usize>, message: impl Into<String>) -> Located {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Located {
            line,
            column,
            message: message.into(),
        }
    }

    fn error(&self, diagnostics: Vec<Located>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            diagnostics,
        }
    }
}

struct Validator<'a> {
    source: Source<'a>,
    base_dir: &'a Path,
    errors: Vec<Located>,
    warnings: Vec<String>,
}

/// What a duration may be.
#[derive(Clone, Copy, PartialEq)]
enum Zero {
    Allowed,
    Rejected,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let located = self.source.locate(span, message);
        self.errors.push(located);
    }

    fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        let located = self.source.locate(span, message);
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = render(&mut s, self.source.file, &located, "warning");
        self.warnings.push(s);
    }

    fn duration(&mut self, value: &Spanned<String>, what: &str, zero: Zero) -> Option<Duration> {
        let text = value.get_ref().trim();
        if text.starts_with('-') {
            self.error(value.span(), format!("{what}: `{text}` is negative"));
            return None;
        }
        match humantime::parse_duration(text) {
            Err(e) => {
                self.error(
                    value.span(),
                    format!("{what}: `{text}` is not a duration ({e}); write e.g. \"250ms\", \"30s\", \"1m30s\""),
                );
                None
            }
            Ok(d) if d.is_zero() && zero == Zero::Rejected => {
                self.error(value.span(), format!("{what} must be greater than zero"));
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.error(
                    value.span(),
                    format!(
                        "{what}: `{text}` is longer than {}; is the unit right?",
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
        }
    }

    /// `[supervisor.metrics]`: an address to bind; a non-loopback one only
    /// with `allow_remote`, since the metrics name every component.
    fn metrics(&mut self, m: &RawMetrics) -> Option<std::net::SocketAddr> {
        let addr: std::net::SocketAddr = match m.listen.get_ref().parse() {
            Ok(a) => a,
            Err(e) => {
                self.error(
                    m.listen.span(),
                    format!("[supervisor.metrics] listen: `{}` is not an address like 127.0.0.1:9464 ({e})", m.listen.get_ref()),
                );
                return None;
            }
        };
        if !addr.ip().is_loopback() && !m.allow_remote {
            self.error(
                m.listen.span(),
                format!("[supervisor.metrics] listen: {addr} is reachable from other machines; set `allow_remote = true` to serve metrics there"),
            );
            return None;
        }
        Some(addr)
    }

    fn opt_duration(
        &mut self,
        value: &Option<Spanned<String>>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        value.as_ref().and_then(|v| self.duration(v, what, zero))
    }

    fn validate(&mut self, raw: RawConfig) -> Config {
        let s = &raw.supervisor;
        let shutdown_timeout = self
            .opt_duration(
                &s.shutdown_timeout,
                "[supervisor] shutdown_timeout",
                Zero::Rejected,
            )
            .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        let startup_timeout = self.opt_duration(
            &s.startup_timeout,
            "[supervisor] startup_timeout",
            Zero::Rejected,
        );
        let metrics = s.metrics.as_ref().and_then(|m| self.metrics(m));
        let supervisor = SupervisorSettings {
            shutdown_timeout,
            startup_timeout,
            strategy: s.strategy.unwrap_or_default(),
            report: s.report.as_ref().map(|p| self.base_dir.join(p)),
            control_socket: s.control_socket.as_ref().map(|p| self.base_dir.join(p)),
            metrics,
            log_lines: s.log_lines.unwrap_or(crate::logs::DEFAULT_LINES),
        };

        let names: Vec<&str> = raw
            .components
            .keys()
            .map(|k| k.get_ref().as_str())
            .collect();
        let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut components = Vec::with_capacity(names.len());
        // Edges with the span of the `depends_on` entry that made them, for the cycle check.
        let mut edges: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); names.len()];

        for (i, (key, c)) in raw.components.iter().enumerate() {
            let name = key.get_ref().as_str();
            self.check_name(key);
            let mut depends_on = Vec::with_capacity(c.depends_on.len());
            // A set keeps duplicate detection linear even for a component with thousands of edges.
            let mut seen = std::collections::HashSet::with_capacity(c.depends_on.len());
            for dep in &c.depends_on {
                let d = dep.get_ref().as_str();
                if d == name {
                    self.error(dep.span(), format!("component `{name}` depends on itself"));
                } else if let Some(&j) = index.get(d) {
                    if !seen.insert(j) {
                        self.error(
                            dep.span(),
                            format!("component `{name}`: `{d}` is listed twice in depends_on"),
                        );
                    } else {
                        edges[i].push((j, dep.span()));
                        depends_on.push(d.to_string());
                    }
                } else {
                    let hint = hint(d, &names);
                    self.error(
                        dep.span(),
                        format!(
                            "component `{name}` depends on `{d}`, which is not a component{hint}"
                        ),
                    );
                }
            }
            depends_on.sort();
            let stop_timeout = self
                .opt_duration(
                    &c.stop_timeout,
                    &format!("component `{name}`: stop_timeout"),
                    Zero::Rejected,
                )
                .unwrap_or(DEFAULT_STOP_TIMEOUT);
            // Only an explicit setting is worth a warning per component; a
            // default that exceeds the budget shows in `sundown plan` once.
            if let Some(explicit) = c
                .stop_timeout
                .as_ref()
                .filter(|_| stop_timeout > shutdown_timeout)
            {
                let span = explicit.span();
                self.warn(
                    span,
                    format!(
                        "component `{name}`: stop_timeout {} is longer than shutdown_timeout {}; the global budget will cut it short",
                        humantime::format_duration(stop_timeout),
                        humantime::format_duration(shutdown_timeout)
                    ),
                );
            }
            let kind = self.kind(name, key.span(), c, stop_timeout);
            let restart = self.restart(name, c);
            components.push(ComponentSpec {
                name: name.to_string(),
                depends_on,
                stop_timeout,
                restart,
                kind: kind.unwrap_or(KindSpec::Sim(SimSpec::default())),
            });
        }

        let adjacency: Vec<Vec<usize>> = edges
            .iter()
            .map(|e| e.iter().map(|(j, _)| *j).collect())
            .collect();
        for cycle in graph::find_cycles(&adjacency) {
            let path: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| names[i])
                .collect();
            let (a, b) = (cycle[0], cycle[1 % cycle.len()]);
            let span = edges[a]
                .iter()
                .find(|(j, _)| *j == b)
                .map_or(0..0, |(_, s)| s.clone());
            self.error(span, format!("dependency cycle: {}", path.join(" → ")));
        }

        let mut phase_timeouts = BTreeMap::new();
        for (key, value) in &raw.phase_timeouts {
            let name = key.get_ref().as_str();
            if !index.contains_key(name) {
                let hint = hint(name, &names);
                self.error(
                    key.span(),
                    format!("[phase_timeouts] names `{name}`, which is not a component{hint}"),
                );
            }
            let what = format!("[phase_timeouts] {name}");
            if let Some(d) = self.duration(value, &what, Zero::Rejected) {
                phase_timeouts.insert(name.to_string(), d);
            }
        }
        if !raw.phase_timeouts.is_empty()
            && supervisor.strategy == Strategy::Eager
            && let Some((key, _)) = raw.phase_timeouts.iter().next()
        {
            self.warn(
                key.span(),
                "[phase_timeouts] only applies to strategy = \"phased\"; with \"eager\" only stop_timeout and shutdown_timeout bound a stop",
            );
        }

        self.check_service_edges(&components, &raw);
        Config {
            supervisor,
            components,
            phase_timeouts,
            warnings: Vec::new(),
        }
    }

    fn check_name(&mut self, key: &Spanned<String>) {
        let name = key.get_ref();
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.error(
                key.span(),
                format!("component name `{name}` may only use letters, digits, `-`, `_` and `.`"),
            );
        }
    }

    fn kind(
        &mut self,
        name: &str,
        key_span: Range<usize>,
        c: &RawComponent,
        stop_timeout: Duration,
    ) -> Option<KindSpec> {
        let kind = match (&c.kind, &c.command) {
            (Some(k), _) => match KINDS.iter().find(|known| **known == k.get_ref().as_str()) {
                Some(known) => *known,
                None => {
                    let other = k.get_ref();
                    let hint = hint(other, KINDS);
                    self.error(
                        k.span(),
                        format!(
                            "component `{name}`: unknown kind `{other}`{hint}; known kinds: {}",
                            KINDS.join(", ")
                        ),
                    );
                    return None;
                }
            },
            (None, Some(_)) => "process",
            (None, None) => {
                self.error(
                    key_span,
                    format!("component `{name}` has neither `command` nor `kind`; set one of them"),
                );
                return None;
            }
        };
        for (key, span) in c.kind_settings() {
            let owners = KIND_KEYS
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(&[][..], |(_, owners)| *owners);
            if !owners.contains(&kind) {
                let owners = owners
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(" or ");
                self.error(
                    span,
                    format!("component `{name}`: `{key}` is a setting of kind {owners}, but this component is kind `{kind}`"),
                );
            }
        }
        let what = |key: &str| format!("component `{name}`: {key}");
        Some(match kind {
            "process" => KindSpec::Process(self.process(name, key_span, c, stop_timeout, &what)?),
            "http" => KindSpec::Http(self.http(c, &what)?),
            "worker_pool" => KindSpec::WorkerPool(self.worker_pool(c, &what)?),
            "redis" => KindSpec::Redis(self.redis(c, &what)?),
            "postgres" => KindSpec::Postgres(self.postgres(c, &what)?),
            _ => KindSpec::Sim(SimSpec {
                start_delay: self
                    .opt_duration(&c.start_delay, &what("start_delay"), Zero::Allowed)
                    .unwrap_or_default(),
                stop_delay: self
                    .opt_duration(&c.stop_delay, &what("stop_delay"), Zero::Allowed)
                    .unwrap_or_default(),
                fail_after: self.opt_duration(&c.fail_after, &what("fail_after"), Zero::Allowed),
                exit_after: self.opt_duration(&c.exit_after, &what("exit_after"), Zero::Allowed),
                ignore_stop: c.ignore_stop.as_ref().is_some_and(|b| *b.get_ref()),
            }),
        })
    }
}

/// Accepts `SIGTERM`, `TERM` and `sigterm`.
pub fn parse_signal(s: &str) -> Option<Signal> {
    let upper = s.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse().ok()
}

/// ` (did you mean `x`?)` when a candidate is close enough, else nothing.
fn hint(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// The closest known name, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
