//! [`Config::check`]: the invariants the rest of the crate relies on, for
//! a `Config` built or edited in code rather than parsed (parsing checks
//! the same, with places).

use super::{Condition, Config, ConfigError, Located, RestartPolicy};
use crate::process::ProcessSpec;

impl Config {
    /// Re-checks the invariants the rest of the crate relies on, for a
    /// `Config` built or edited in code rather than parsed: names sorted and
    /// unique, every dependency resolves and is not the component itself, no
    /// cycle, no empty command, no zero timeout.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |message: String| {
            problems.push(Located {
                file: None,
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
            for (d, condition) in &c.conditions {
                if !c.depends_on.contains(d) {
                    problem(format!(
                        "component `{}`: a condition for `{d}`, which it does not depend on",
                        c.name
                    ));
                } else if *condition == Condition::Completed
                    && !self.index_of(d).is_some_and(|j| self.components[j].oneshot)
                {
                    problem(format!(
                        "component `{}`: condition \"completed\" on `{d}`, which is not a one-shot",
                        c.name
                    ));
                }
            }
            if c.oneshot && c.restart.policy == RestartPolicy::Always {
                problem(format!(
                    "component `{}`: a one-shot cannot have restart = \"always\"",
                    c.name
                ));
            }
        }
        for cycle in crate::cycles::find_cycles(&deps) {
            let path: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| self.components[i].name.as_str())
                .collect();
            problem(format!("dependency cycle: {}", path.join(" → ")));
        }
        for p in self.exit_with_problems() {
            problem(p);
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
}
