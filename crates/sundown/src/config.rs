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

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Diagnostics, Source, render};
pub use crate::diagnostic::{Located, MAX_DURATION, Zero, did_you_mean, hint};
pub use crate::kind::KindSpec;
use crate::kind::Kinds;
use crate::process::ProcessSpec;

mod edges;
mod kinds;
mod restart;
pub use restart::{RestartPolicy, RestartSpec};

/// Stop timeout of a component that does not set one (Docker's default).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Global shutdown budget when `[supervisor] shutdown_timeout` is not set:
/// below Kubernetes' default grace period of 30 s, so the pod's SIGKILL never
/// lands in the middle of an ordered stop.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(25);

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

impl Config {
    /// Reads and validates a config file that uses the built-in kinds only.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, &crate::kinds::builtin())
    }

    /// Reads and validates a config file whose components may be of any of `kinds`.
    pub fn load_with(path: &Path, kinds: &Kinds) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            diagnostics: vec![Located {
                line: 0,
                column: 0,
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse_with(&text, &path.display().to_string(), &base, kinds)
    }

    /// Validates TOML text that uses the built-in kinds only. `file` names
    /// it in messages; relative paths in it are resolved against `base_dir`.
    pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        Config::parse_with(text, file, base_dir, &crate::kinds::builtin())
    }

    /// Validates TOML text whose components may be of any of `kinds`.
    pub fn parse_with(
        text: &str,
        file: &str,
        base_dir: &Path,
        kinds: &Kinds,
    ) -> Result<Config, ConfigError> {
        let source = Source { text, file };
        let error = |diagnostics| ConfigError {
            file: file.to_string(),
            diagnostics,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end();
            let message = match e.span().and_then(|s| component_at(text, s.start)) {
                Some(name) => format!("component `{name}`: {message}"),
                None => message.to_string(),
            };
            error(vec![source.locate(span, message)])
        })?;
        // The first pass read the common keys; each kind reads its own from the
        // same text, with every value's place kept.
        let tables = kinds::component_tables(text);
        let mut v = Validator {
            diagnostics: Diagnostics::new(source),
            base_dir,
            kinds,
        };
        let config = v.validate(raw, tables);
        let Diagnostics {
            mut errors,
            warnings,
            ..
        } = v.diagnostics;
        if errors.is_empty() {
            let mut config = config;
            config.warnings = warnings;
            Ok(config)
        } else {
            errors.sort_by_key(|l| (l.line, l.column));
            Err(error(errors))
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
            if let Some(p) = c.kind.get::<ProcessSpec>()
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
        for cycle in crate::cycles::find_cycles(&deps) {
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
    pub fn only(mut self, name: &str) -> Result<Config, NoSuchComponent> {
        let Some(i) = self.index_of(name) else {
            let names: Vec<&str> = self.components.iter().map(|c| c.name.as_str()).collect();
            return Err(NoSuchComponent {
                name: name.to_string(),
                did_you_mean: did_you_mean(name, &names).map(str::to_string),
            });
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

/// A component name the config does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no component `{name}`{}", .did_you_mean.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct NoSuchComponent {
    /// The name asked for.
    pub name: String,
    /// The closest name the config has, when it is close enough to be a typo.
    pub did_you_mean: Option<String>,
}

/// Everything wrong with a config file, each problem with its location.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file, as given.
    pub file: String,
    /// One entry per problem, in file order.
    pub diagnostics: Vec<Located>,
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

/// The keys every component has, whatever its kind. Unknown keys are left
/// to the second pass, where the component's kind says which are its own.
#[derive(Deserialize)]
pub(crate) struct RawComponent {
    pub(crate) kind: Option<Spanned<String>>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    stop_timeout: Option<Spanned<String>>,
    // see `restart.rs`
    restart: Option<Spanned<String>>,
    max_restarts: Option<Spanned<i64>>,
    restart_window: Option<Spanned<String>>,
    restart_backoff: Option<Spanned<String>>,
    restart_backoff_max: Option<Spanned<String>>,
    restart_dependents: Option<Spanned<bool>>,
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

pub(crate) struct Validator<'a> {
    pub(crate) diagnostics: Diagnostics<'a>,
    pub(crate) base_dir: &'a Path,
    pub(crate) kinds: &'a Kinds,
}

impl<'a> Validator<'a> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.error(span, message);
    }

    fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.warn(span, message);
    }

    fn duration(&mut self, value: &Spanned<String>, what: &str, zero: Zero) -> Option<Duration> {
        self.diagnostics.duration(value, what, zero)
    }

    fn opt_duration(
        &mut self,
        value: &Option<Spanned<String>>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        self.diagnostics.opt_duration(value, what, zero)
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

    fn validate(&mut self, raw: RawConfig, mut tables: kinds::Tables<'a>) -> Config {
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
            let kind = self.kind(name, key.span(), c, &mut tables, stop_timeout);
            let restart = self.restart(name, c);
            components.push(ComponentSpec {
                name: name.to_string(),
                depends_on,
                stop_timeout,
                restart,
                // Never run: a config with an error is not returned.
                kind: kind.unwrap_or_else(|| KindSpec::new("sim", crate::sim::SimSpec::default())),
            });
        }

        let adjacency: Vec<Vec<usize>> = edges
            .iter()
            .map(|e| e.iter().map(|(j, _)| *j).collect())
            .collect();
        for cycle in crate::cycles::find_cycles(&adjacency) {
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

        let name_spans: HashMap<&str, Range<usize>> = raw
            .components
            .keys()
            .map(|k| (k.get_ref().as_str(), k.span()))
            .collect();
        edges::check(self, &components, &tables, &name_spans);
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
}

#[cfg(test)]
mod tests;
