//! Settings of `kind = "process"`: the program, how it is judged ready and
//! alive, how it is asked to stop, and whom it runs as.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Deserialize;
use toml::Spanned;

use super::argv::{RawCommand, split_command};
use super::probe_settings::{ProbeSpec, RawProbe, Role};
use crate::diagnostic::Zero;
use crate::kind::Context;

/// Settings of `kind = "process"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    /// Program and arguments (never passed through a shell).
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Working directory, resolved against the config's directory.
    pub working_dir: Option<PathBuf>,
    /// Signal sent to the process group to ask for a graceful stop.
    pub stop_signal: Signal,
    /// Without a readiness probe: the process counts as ready once it has
    /// stayed alive this long.
    pub ready_after: Duration,
    /// The readiness probe (`ready = { ... }`).
    pub ready: Option<ProbeSpec>,
    /// The liveness probe (`liveness = { ... }`).
    pub liveness: Option<ProbeSpec>,
    /// Run first to ask the program to stop (`["redis-cli", "shutdown"]`).
    pub stop_command: Option<Vec<String>>,
    /// How long the stop command, and the exit it asks for, may take before
    /// the stop signal is sent (default: half the `stop_timeout`).
    pub stop_command_timeout: Duration,
    /// The component's `stop_timeout`, which also bounds a stop the process
    /// begins itself (after a failed liveness probe).
    pub stop_timeout: Duration,
    /// Run as this user (name or uid), with its groups.
    pub user: Option<String>,
    /// Run with this primary group (name or gid) instead of the user's.
    pub group: Option<String>,
}

/// The keys of `kind = "process"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProcess {
    command: Option<Spanned<RawCommand>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    working_dir: Option<Spanned<String>>,
    stop_signal: Option<Spanned<String>>,
    ready_after: Option<Spanned<String>>,
    ready: Option<Spanned<RawProbe>>,
    liveness: Option<Spanned<RawProbe>>,
    stop_command: Option<Spanned<RawCommand>>,
    stop_command_timeout: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
}

/// Validates a process component's keys.
pub(super) fn process(cx: &mut Context<'_, '_>, c: RawProcess) -> Option<ProcessSpec> {
    let name = cx.name().to_string();
    let stop_timeout = cx.stop_timeout();
    let what = |key: &str| format!("component `{name}`: {key}");
    cx.process(&name, &c, stop_timeout, &what)
}

impl Context<'_, '_> {
    fn process(
        &mut self,
        name: &str,
        c: &RawProcess,
        stop_timeout: Duration,
        what: &dyn Fn(&str) -> String,
    ) -> Option<ProcessSpec> {
        let Some(command) = &c.command else {
            self.error_at_name(format!(
                "component `{name}` is kind `process` but has no `command`"
            ));
            return None;
        };
        let argv = split_command(self, command, &what("command"))?;
        let stop_signal = match &c.stop_signal {
            None => Signal::SIGTERM,
            Some(s) => self.stop_signal(s, what),
        };
        let ready = c
            .ready
            .as_ref()
            .and_then(|p| self.probe(name, p, Role::Ready));
        if let (Some(after), Some(_)) = (&c.ready_after, &c.ready) {
            self.error(
                after.span(),
                format!(
                    "{}: set either `ready_after` or a `ready` probe, not both",
                    what("ready_after")
                ),
            );
        }
        let liveness = c
            .liveness
            .as_ref()
            .and_then(|p| self.probe(name, p, Role::Liveness));
        let stop_command = match &c.stop_command {
            None => None,
            Some(cmd) => Some(split_command(self, cmd, &what("stop_command"))?),
        };
        if let (Some(t), None) = (&c.stop_command_timeout, &c.stop_command) {
            self.error(
                t.span(),
                format!(
                    "{}: there is no `stop_command` to time",
                    what("stop_command_timeout")
                ),
            );
        }
        let stop_command_timeout = self
            .opt_duration(
                &c.stop_command_timeout,
                &what("stop_command_timeout"),
                Zero::Rejected,
            )
            // Half leaves the stop signal the other half before the kill.
            .unwrap_or(stop_timeout / 2);
        if let Some(cmd) = &c.stop_command
            && stop_command_timeout >= stop_timeout
        {
            let span = c
                .stop_command_timeout
                .as_ref()
                .map_or(cmd.span(), Spanned::span);
            self.warn(
                span,
                format!(
                    "{}: the stop command may take {} but stop_timeout is {}: the process is killed before the stop signal is ever sent",
                    what("stop_command_timeout"),
                    humantime::format_duration(stop_command_timeout),
                    humantime::format_duration(stop_timeout)
                ),
            );
        }
        let identity = |v: &mut Self, value: &Option<Spanned<String>>, key: &str| {
            let value = value.as_ref()?;
            let text = value.get_ref().trim();
            if text.is_empty() {
                v.error(value.span(), format!("{} is empty", what(key)));
                return None;
            }
            Some(text.to_string())
        };
        let user = identity(self, &c.user, "user");
        let group = identity(self, &c.group, "group");
        Some(ProcessSpec {
            argv,
            // A component's own `env` wins over its env files.
            env: {
                let mut env = self.env_files().clone();
                env.extend(c.env.iter().flat_map(|e| e.get_ref().clone()));
                env
            },
            working_dir: c.working_dir.as_ref().map(|d| self.resolve(d.get_ref())),
            stop_signal,
            ready_after: self
                .opt_duration(&c.ready_after, &what("ready_after"), Zero::Allowed)
                .unwrap_or_default(),
            ready,
            liveness,
            stop_command,
            stop_command_timeout,
            stop_timeout,
            user,
            group,
        })
    }

    fn stop_signal(&mut self, s: &Spanned<String>, what: &dyn Fn(&str) -> String) -> Signal {
        match parse_signal(s.get_ref()) {
            Some(
                sig @ (Signal::SIGSTOP
                | Signal::SIGTSTP
                | Signal::SIGTTIN
                | Signal::SIGTTOU
                | Signal::SIGCONT),
            ) => {
                self.error(
                    s.span(),
                    format!(
                        "{}: {sig} pauses or resumes a process, it does not ask it to stop",
                        what("stop_signal")
                    ),
                );
                Signal::SIGTERM
            }
            Some(sig) => sig,
            None => {
                self.error(
                    s.span(),
                    format!(
                        "{}: `{}` is not a signal name (e.g. \"SIGTERM\", \"SIGINT\", \"SIGQUIT\")",
                        what("stop_signal"),
                        s.get_ref()
                    ),
                );
                Signal::SIGTERM
            }
        }
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
