//! The second pass: the raw tree walked once, every problem collected with
//! its place, into a [`Config`].

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::raw::{RawConfig, RawMetrics, Tables};
use super::{
    ComponentSpec, Config, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_STOP_TIMEOUT, KindSpec, Strategy,
    SupervisorSettings, edges,
};
use crate::diagnostic::{Diagnostics, Zero, hint};
use crate::kind::Kinds;

pub(crate) struct Validator<'a> {
    pub(crate) diagnostics: Diagnostics<'a>,
    pub(crate) base_dir: &'a Path,
    pub(crate) kinds: &'a Kinds,
    /// Each component's variables from env files, for its kind.
    pub(crate) env_files: HashMap<String, BTreeMap<String, String>>,
    /// The enabled profiles (see `profiles.rs`).
    pub(crate) profiles: std::collections::BTreeSet<String>,
    /// The components none of whose profiles is enabled, with their profiles.
    pub(crate) off: BTreeMap<String, Vec<String>>,
}

impl<'a> Validator<'a> {
    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.error(span, message);
    }

    pub(super) fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.warn(span, message);
    }

    pub(super) fn duration(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        self.diagnostics.duration(value, what, zero)
    }

    pub(super) fn opt_duration(
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

    pub(super) fn validate(&mut self, raw: RawConfig, mut tables: Tables<'a>) -> Config {
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
            log_lines: s.log_lines.unwrap_or(super::DEFAULT_LOG_LINES),
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
        // The components that set `exit_with = true`, to refuse a second one.
        let mut exit_withs = Vec::new();
        // `condition = "completed"` entries, checked once every `oneshot` is read.
        let mut completed = Vec::new();
        self.off = self.profiles_off(&raw);

        for (i, (key, c)) in raw.components.iter().enumerate() {
            let name = key.get_ref().as_str();
            self.check_name(key);
            let (depends_on, conditions) =
                self.depends_on(name, c, &index, &names, &mut edges[i], &mut completed);
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
            let exit_with = self.exit_with(name, c, &restart, &mut exit_withs);
            let log = self.log_settings(name, c);
            let oneshot = self.oneshot(name, c, restart.policy);
            if self.off.contains_key(name) {
                // Checked like the others, then left out.
                continue;
            }
            let profiles = c
                .profiles
                .as_ref()
                .map(|l| l.get_ref().iter().map(|p| p.get_ref().clone()).collect())
                .unwrap_or_default();
            components.push(ComponentSpec {
                name: name.to_string(),
                depends_on,
                conditions,
                oneshot,
                stop_timeout,
                restart,
                exit_with,
                profiles,
                log,
                // Never run: a config with an error is not returned.
                kind: kind.unwrap_or_else(|| KindSpec::new("sim", crate::sim::SimSpec::default())),
            });
        }

        let oneshots: std::collections::HashSet<&str> = components
            .iter()
            .filter(|c| c.oneshot)
            .map(|c| c.name.as_str())
            .collect();
        self.check_completed(completed, &|n| oneshots.contains(n));

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
            if let Some(d) = self.duration(value, &what, Zero::Rejected)
                && !self.off.contains_key(name)
            {
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
        let log_file_spans: HashMap<String, Range<usize>> = raw
            .components
            .iter()
            .filter_map(|(k, c)| Some((k.get_ref().clone(), c.log_file.as_ref()?.span())))
            .collect();
        self.shared_log_files(&components, &log_file_spans);
        for (span, warning) in edges::unordered(&components, &tables, &name_spans) {
            self.warn(span, warning);
        }
        Config {
            supervisor,
            components,
            phase_timeouts,
            warnings: Vec::new(),
            skipped: std::mem::take(&mut self.off),
            replicas: BTreeMap::new(),
        }
    }

    fn check_name(&mut self, key: &Spanned<String>) {
        let name = key.get_ref();
        if !super::is_valid_name(name) {
            // A 10 KB name is not worth repeating in full.
            let shown: String = name.chars().take(64).collect();
            let more = if shown.len() < name.len() { "…" } else { "" };
            self.error(
                key.span(),
                format!(
                    "component name `{shown}{more}` is not allowed: a name is {}",
                    super::NAME_RULE
                ),
            );
        }
    }
}
