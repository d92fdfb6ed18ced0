//! `restart = ...` and its companions: what the engine does when a component
//! ends without being asked to. They apply to every kind, so they live apart
//! from the kind-specific settings.

use std::time::Duration;

use toml::Spanned;

use super::Zero;
use super::raw::RawComponent;
use super::validate::Validator;

/// Restarts allowed within [`RestartSpec::window`] when `max_restarts` is not set.
pub(super) const DEFAULT_MAX_RESTARTS: u32 = 5;
/// The window `max_restarts` counts in when `restart_window` is not set.
pub(super) const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(60);
/// The first restart's delay when `restart_backoff` is not set.
pub(super) const DEFAULT_RESTART_BACKOFF: Duration = Duration::from_millis(200);
/// The longest delay when `restart_backoff_max` is not set.
pub(super) const DEFAULT_RESTART_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// When a component that ended by itself is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// Never: a failure shuts the whole graph down (fail fast).
    #[default]
    Never,
    /// After a failure (an error, a non-zero exit, a signal, a failed probe).
    OnFailure,
    /// After any end, a successful exit included.
    Always,
}

impl RestartPolicy {
    /// The config spelling (`"on-failure"`).
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Never => "never",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        }
    }
}

/// A component's restart settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartSpec {
    /// When to restart.
    pub policy: RestartPolicy,
    /// At most this many restarts within `window`; one more is a failure.
    pub max_restarts: u32,
    /// The sliding window `max_restarts` counts in.
    pub window: Duration,
    /// Delay before the first restart; doubled for each further restart in
    /// the window, up to `backoff_max`, minus up to 20% jitter.
    pub backoff: Duration,
    /// The longest delay.
    pub backoff_max: Duration,
    /// Stop the component's dependents (in reverse order) before restarting
    /// it, and start them again once it is ready (Erlang's `rest_for_one`).
    pub dependents: bool,
}

impl Default for RestartSpec {
    fn default() -> Self {
        RestartSpec {
            policy: RestartPolicy::Never,
            max_restarts: DEFAULT_MAX_RESTARTS,
            window: DEFAULT_RESTART_WINDOW,
            backoff: DEFAULT_RESTART_BACKOFF,
            backoff_max: DEFAULT_RESTART_BACKOFF_MAX,
            dependents: false,
        }
    }
}

impl RestartSpec {
    /// The delay before restart number `n` (0-based) within the window,
    /// before jitter: `backoff * 2^n`, capped.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.checked_pow(n.min(31)).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .map_or(self.backoff_max, |d| d.min(self.backoff_max))
    }
}

impl Validator<'_> {
    pub(super) fn restart(&mut self, name: &str, c: &RawComponent) -> RestartSpec {
        let what = |key: &str| format!("component `{name}`: {key}");
        let mut spec = RestartSpec::default();
        if let Some(p) = &c.restart {
            spec.policy = match p.get_ref().as_str() {
                "never" => RestartPolicy::Never,
                "on-failure" => RestartPolicy::OnFailure,
                "always" => RestartPolicy::Always,
                other => {
                    let hint = super::hint(other, &["never", "on-failure", "always"]);
                    self.error(
                        p.span(),
                        format!(
                            "{}: `{other}` is not a policy{hint}; use \"never\", \"on-failure\" or \"always\"",
                            what("restart")
                        ),
                    );
                    RestartPolicy::Never
                }
            };
        }
        if let Some(m) = &c.max_restarts {
            match u32::try_from(*m.get_ref()) {
                Ok(m) => spec.max_restarts = m,
                Err(_) => self.error(
                    m.span(),
                    format!(
                        "{} must be between 0 and {}",
                        what("max_restarts"),
                        u32::MAX
                    ),
                ),
            }
        }
        let mut duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| {
            self.opt_duration(v, &what(key), Zero::Rejected)
                .unwrap_or(default)
        };
        spec.window = duration(&c.restart_window, "restart_window", spec.window);
        spec.backoff = duration(&c.restart_backoff, "restart_backoff", spec.backoff);
        spec.backoff_max = duration(
            &c.restart_backoff_max,
            "restart_backoff_max",
            spec.backoff_max,
        );
        if let Some(max) = c.restart_backoff_max.as_ref()
            && spec.backoff_max < spec.backoff
        {
            self.error(
                max.span(),
                format!(
                    "{} ({}) is shorter than restart_backoff ({})",
                    what("restart_backoff_max"),
                    humantime::format_duration(spec.backoff_max),
                    humantime::format_duration(spec.backoff)
                ),
            );
        }
        spec.dependents = c.restart_dependents.as_ref().is_some_and(|b| *b.get_ref());
        if spec.policy == RestartPolicy::Never {
            // Companions of a policy that never restarts do nothing: say so
            // at the first one rather than let the user believe they work.
            let companions = [
                ("max_restarts", c.max_restarts.as_ref().map(Spanned::span)),
                (
                    "restart_window",
                    c.restart_window.as_ref().map(Spanned::span),
                ),
                (
                    "restart_backoff",
                    c.restart_backoff.as_ref().map(Spanned::span),
                ),
                (
                    "restart_backoff_max",
                    c.restart_backoff_max.as_ref().map(Spanned::span),
                ),
                (
                    "restart_dependents",
                    c.restart_dependents.as_ref().map(Spanned::span),
                ),
            ];
            let first = companions
                .into_iter()
                .filter_map(|(key, span)| Some((key, span?)))
                .min_by_key(|(_, span)| span.start);
            if let Some((key, span)) = first {
                self.warn(
                    span,
                    format!(
                        "{}: has no effect without `restart = \"on-failure\"` or `\"always\"`",
                        what(key)
                    ),
                );
            }
        }
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_up_to_the_cap() {
        let spec = RestartSpec {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(700),
            ..RestartSpec::default()
        };
        let delays: Vec<u128> = (0..6).map(|n| spec.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 700, 700, 700]);
        assert_eq!(spec.delay(u32::MAX), Duration::from_millis(700));
    }
}
