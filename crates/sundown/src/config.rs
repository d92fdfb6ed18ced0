//! Parsing and validating `supervisor.toml`.
//!
//! Parsing happens in two steps on purpose. serde turns the text into a
//! *raw* tree in which every value that can be wrong keeps its source span
//! (durations and signal names stay strings here). Validation then walks that
//! tree once and collects **every** problem, each with its location, instead
//! of stopping at the first one the way a plain serde error would.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::{Diagnostics, Source};
pub use crate::diagnostic::{Located, MAX_DURATION, Zero, did_you_mean, hint};
pub use crate::kind::KindSpec;
use crate::kind::Kinds;
pub use profiles::PROFILES_ENV;
pub use replicas::{MAX_REPLICAS, REPLICA_ENV};

mod check;
mod depends;
mod edges;
mod env_file;
mod errors;
mod exit_with;
mod include;
mod interpolate;
mod kinds;
mod log_settings;
mod profiles;
mod raw;
mod replicas;
mod resolve;
mod resolved;
mod restart;
mod shape;
mod validate;
pub use depends::Condition;
pub use errors::{ConfigError, NoSuchComponent};
use errors::{read, toml_string};
pub use exit_with::ExitWithError;
pub use log_settings::{
    DEFAULT_LOG_BACKUPS, DEFAULT_LOG_MAX_SIZE, LogFileSpec, LogSettings, MAX_LOG_BACKUPS,
    parse_size,
};
pub use restart::{RestartPolicy, RestartSpec};

/// Stop timeout of a component that does not set one (Docker's default).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Global shutdown budget when `[supervisor] shutdown_timeout` is not set:
/// below Kubernetes' default grace period of 30 s, so the pod's SIGKILL never
/// lands in the middle of an ordered stop.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(25);

/// What a component's name may be. Names end up in paths (control
/// sockets, log files), Prometheus labels and Kubernetes container names,
/// so they follow the strictest of those: Kubernetes' DNS label, with `_`
/// and `.` allowed (the export maps them to `-`).
pub const NAME_RULE: &str = "1 to 63 lowercase letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit";

/// Whether `name` follows [`NAME_RULE`].
pub fn is_valid_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && edge(name.chars().next())
        && edge(name.chars().last())
}

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
    /// The components left out because none of their `profiles` is
    /// enabled, with those profiles.
    pub skipped: BTreeMap<String, Vec<String>>,
    /// The components run as several instances (`replicas`), with their
    /// count: `NAME` is in [`Config::components`] as `NAME.1` … `NAME.N`.
    pub replicas: BTreeMap<String, u32>,
}

/// Lines of output kept per component for `sundown logs` unless
/// `[supervisor] log_lines` says otherwise.
pub const DEFAULT_LOG_LINES: usize = 1000;

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
            log_lines: DEFAULT_LOG_LINES,
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
    /// What it waits for in a dependency, for those where that is not
    /// [`Condition::Ready`] (the meaning of a plain name).
    pub conditions: BTreeMap<String, Condition>,
    /// A task that runs to completion (`oneshot = true`): an exit 0 is its
    /// success, after which it is `completed` and counts as ready; it is not
    /// ready before.
    pub oneshot: bool,
    /// How long a graceful stop may take before the component is killed.
    pub stop_timeout: Duration,
    /// What happens when it ends without being asked to.
    pub restart: RestartSpec,
    /// When it ends by itself, the graph stops and the run exits with its
    /// exit code (`exit_with = true`; at most one component).
    pub exit_with: bool,
    /// The profiles it runs in (`profiles`); empty: always.
    pub profiles: Vec<String>,
    /// Its log file and where its output goes (`log_file`, `log_stderr`, …).
    pub log: LogSettings,
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
        let (text, base) = read(path)?;
        Config::parse_with(&text, &path.display().to_string(), &base, kinds)
    }

    /// Validates TOML text that uses the built-in kinds only. `file` names
    /// it in messages; relative paths in it are resolved against `base_dir`.
    pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        Config::parse_with(text, file, base_dir, &crate::kinds::builtin())
    }

    /// Validates TOML text whose components may be of any of `kinds`.
    /// `${VAR}` falls back to sundown's own environment.
    pub fn parse_with(
        text: &str,
        file: &str,
        base_dir: &Path,
        kinds: &Kinds,
    ) -> Result<Config, ConfigError> {
        let combined = include::combine(text, file, base_dir)?;
        Config::parse_in(
            &combined.text,
            file,
            base_dir,
            kinds,
            &host_env,
            &combined.segments,
        )
        .map(|(config, _)| config)
    }

    /// [`Config::parse_with`] with `host` as sundown's environment, and the
    /// document as interpolated (for `sundown config`).
    pub(crate) fn parse_in<'t>(
        text: &'t str,
        file: &str,
        base_dir: &Path,
        kinds: &Kinds,
        host: &dyn Fn(&str) -> Option<String>,
        segments: &'t [crate::diagnostic::Segment],
    ) -> Result<(Config, toml::Spanned<toml::de::DeTable<'t>>), ConfigError> {
        Config::parse_scaled(
            text,
            file,
            base_dir,
            kinds,
            host,
            segments,
            &BTreeMap::new(),
        )
    }

    /// Reads and validates a config file with the count of each component
    /// in `scale` set as given, whatever its `replicas` says (what `sundown
    /// scale` runs). A name in `scale` that is not a component is an error.
    pub fn load_scaled(
        path: &Path,
        kinds: &Kinds,
        scale: &BTreeMap<String, u32>,
    ) -> Result<Config, ConfigError> {
        let (text, base) = read(path)?;
        let file = path.display().to_string();
        let combined = include::combine(&text, &file, &base)?;
        Config::parse_scaled(
            &combined.text,
            &file,
            &base,
            kinds,
            &host_env,
            &combined.segments,
            scale,
        )
        .map(|(c, _)| c)
    }

    /// [`Config::parse_in`] with `scale` overriding counts.
    fn parse_scaled<'t>(
        text: &'t str,
        file: &str,
        base_dir: &Path,
        kinds: &Kinds,
        host: &dyn Fn(&str) -> Option<String>,
        segments: &'t [crate::diagnostic::Segment],
        scale: &BTreeMap<String, u32>,
    ) -> Result<(Config, toml::Spanned<toml::de::DeTable<'t>>), ConfigError> {
        let source = Source {
            text,
            file,
            segments,
        };
        let error = |mut diagnostics: Vec<Located>| {
            diagnostics.sort_by_key(|l| (l.line, l.column));
            ConfigError {
                file: file.to_string(),
                diagnostics,
            }
        };
        // The first pass checks the shape of the file and reads the env
        // files' names; values are read again once interpolated.
        let first = shape::parse(&source).map_err(|e| error(vec![e]))?;
        let first = shape::read(&source, first);
        let Some(first) = first.raw else {
            return Err(error(first.errors));
        };
        if let Some(name) = scale
            .keys()
            .find(|n| !first.components.keys().any(|k| k.get_ref() == *n))
        {
            let names: Vec<&str> = first
                .components
                .keys()
                .map(|k| k.get_ref().as_str())
                .collect();
            return Err(error(vec![Located {
                file: None,
                line: 0,
                column: 0,
                message: NoSuchComponent {
                    name: name.clone(),
                    did_you_mean: did_you_mean(name, &names).map(str::to_string),
                }
                .to_string(),
            }]));
        }
        let mut diagnostics = Diagnostics::new(source);
        let groups = replicas::Groups::read(&first, scale, &mut diagnostics);
        let resolved = resolve::Resolver {
            text,
            base_dir,
            host,
            groups: &groups,
            diagnostics: &mut diagnostics,
        }
        .resolve();
        // The shape, read again from the interpolated values, has the
        // first pass's problems again: only this pass's are kept.
        let second = shape::read(&source, resolved.doc);
        // A variable that is not set would make its setting fail too: one
        // error for one mistake.
        let raw = match second.raw {
            Some(raw) if diagnostics.errors.is_empty() => raw,
            _ => {
                let mut errors = diagnostics.errors;
                errors.extend(second.errors);
                return Err(error(errors));
            }
        };
        let doc = second.doc;
        diagnostics.errors.extend(second.errors);
        // Each kind reads its own keys from the same document, with every
        // value's place kept.
        let tables = raw::component_tables(doc.clone());
        let mut v = validate::Validator {
            diagnostics,
            base_dir,
            kinds,
            env_files: resolved.env_files,
            profiles: profiles::enabled(host),
            off: BTreeMap::new(),
        };
        let config = v.validate(raw, tables);
        let Diagnostics {
            errors, warnings, ..
        } = v.diagnostics;
        if errors.is_empty() {
            let mut config = config;
            config.warnings = warnings;
            config.replicas = groups.counts().clone();
            Ok((config, doc))
        } else {
            let mut errors: Vec<Located> = errors
                .into_iter()
                .map(|mut e| {
                    e.message = groups.ungroup(&e.message);
                    e
                })
                .collect();
            errors.sort_by_key(|l| (l.line, l.column));
            errors.dedup();
            Err(error(errors))
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
        one.conditions.clear();
        self.phase_timeouts.retain(|n, _| n == name);
        self.components = vec![one];
        Ok(self)
    }

    /// What component `i` waits for in its dependency `dep`.
    pub fn condition(&self, i: usize, dep: &str) -> Condition {
        self.components[i]
            .conditions
            .get(dep)
            .copied()
            .unwrap_or_default()
    }

    /// Index of a component by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.components
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
    }
}

#[cfg(test)]
mod tests;

/// sundown's own environment; a variable that is not UTF-8 counts as unset.
fn host_env(name: &str) -> Option<String> {
    std::env::var_os(name).and_then(|v| v.into_string().ok())
}
