//! `exit_with = true` (or `sundown run --exit-with NAME`): the CI mode. When
//! that component ends by itself, the graph stops in order and the run
//! exits with the component's exit code. Only one component can decide the
//! run's exit code, and one that is restarted never ends the run, so both
//! are config errors.

use toml::Spanned;

use super::raw::RawComponent;
use super::validate::Validator;
use super::{Config, NoSuchComponent, RestartPolicy, RestartSpec, did_you_mean};

/// Why `--exit-with NAME` cannot be applied to a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExitWithError {
    /// The config has no component of that name.
    #[error(transparent)]
    NoSuchComponent(#[from] NoSuchComponent),
    /// The component would be restarted instead of ending the run.
    #[error(
        "component `{name}` has restart = \"{}\", so it would be restarted instead of ending the run; it cannot be the one the run exits with",
        .policy.as_str()
    )]
    Restarts {
        /// The component.
        name: String,
        /// Its policy.
        policy: RestartPolicy,
    },
}

impl Validator<'_> {
    /// Reads `exit_with`; `chosen` holds the names of the components that set it so far.
    pub(super) fn exit_with(
        &mut self,
        name: &str,
        c: &RawComponent,
        restart: &RestartSpec,
        chosen: &mut Vec<String>,
    ) -> bool {
        let Some(flag) = c.exit_with.as_ref().filter(|f| *f.get_ref()) else {
            return false;
        };
        if let Some(first) = chosen.first() {
            self.error(
                flag.span(),
                format!(
                    "component `{name}`: exit_with: `{first}` already sets it; only one component can decide the run's exit code"
                ),
            );
        }
        chosen.push(name.to_string());
        if restart.policy != RestartPolicy::Never {
            let span = c
                .restart
                .as_ref()
                .map_or_else(|| flag.span(), Spanned::span);
            self.error(
                span,
                format!(
                    "component `{name}`: restart = \"{}\" cannot go with exit_with = true: the run ends when `{name}` ends, so it is never restarted; remove `restart`",
                    restart.policy.as_str()
                ),
            );
        }
        true
    }
}

impl Config {
    /// The component whose end ends the run (`exit_with = true`), if any.
    pub fn exit_with(&self) -> Option<&str> {
        self.components
            .iter()
            .find(|c| c.exit_with)
            .map(|c| c.name.as_str())
    }

    /// Makes `name` the component the run exits with (`run --exit-with
    /// NAME`), in place of the one the config names, if any.
    pub fn set_exit_with(&mut self, name: &str) -> Result<(), ExitWithError> {
        let Some(i) = self.index_of(name) else {
            let names: Vec<&str> = self.components.iter().map(|c| c.name.as_str()).collect();
            return Err(NoSuchComponent {
                name: name.to_string(),
                did_you_mean: did_you_mean(name, &names).map(str::to_string),
            }
            .into());
        };
        let policy = self.components[i].restart.policy;
        if policy != RestartPolicy::Never {
            return Err(ExitWithError::Restarts {
                name: name.to_string(),
                policy,
            });
        }
        for (j, c) in self.components.iter_mut().enumerate() {
            c.exit_with = j == i;
        }
        Ok(())
    }

    /// What [`Config::check`] says about `exit_with` in a config built in code.
    pub(super) fn exit_with_problems(&self) -> Vec<String> {
        let chosen: Vec<&str> = self
            .components
            .iter()
            .filter(|c| c.exit_with)
            .map(|c| c.name.as_str())
            .collect();
        let mut problems = Vec::new();
        if chosen.len() > 1 {
            problems.push(format!(
                "only one component can set exit_with, and {} do",
                chosen.join(", ")
            ));
        }
        for c in self.components.iter().filter(|c| c.exit_with) {
            if c.restart.policy != RestartPolicy::Never {
                problems.push(format!(
                    "component `{}`: restart = \"{}\" cannot go with exit_with",
                    c.name,
                    c.restart.policy.as_str()
                ));
            }
        }
        problems
    }
}
