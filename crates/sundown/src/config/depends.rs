//! `depends_on` entries and `oneshot`. An entry is a name (the dependency
//! must be ready) or a table `{ name = "migrate", condition = "completed" }`,
//! as Docker Compose's long `depends_on` syntax; the conditions follow
//! Compose's `service_started` / `service_healthy` /
//! `service_completed_successfully`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;

use toml::Spanned;

use super::RestartPolicy;
use super::raw::{RawComponent, RawDep};
use super::validate::Validator;
use crate::diagnostic::hint;

/// What a dependent waits for in one of its dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// Its task has been started (it need not be ready).
    Started,
    /// It is ready (the meaning of a plain name).
    #[default]
    Ready,
    /// It is a one-shot and has completed: exited 0.
    Completed,
}

impl Condition {
    /// Every condition, in the order they are reached.
    pub const ALL: [Condition; 3] = [Condition::Started, Condition::Ready, Condition::Completed];

    /// The name the config uses (`"completed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Completed => "completed",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `condition = "completed"` to check once every component's `oneshot` is known.
pub(super) struct NeedsOneshot {
    name: String,
    dep: String,
    span: Range<usize>,
}

impl Validator<'_> {
    /// Reads `depends_on`: the names, sorted, and the conditions other than
    /// `ready` (a table saying `ready` is the same as the plain name).
    /// `edges` gets each edge with the span that made it, for the cycle check.
    pub(super) fn depends_on(
        &mut self,
        name: &str,
        c: &RawComponent,
        index: &HashMap<&str, usize>,
        names: &[&str],
        edges: &mut Vec<(usize, Range<usize>)>,
        completed: &mut Vec<NeedsOneshot>,
    ) -> (Vec<String>, BTreeMap<String, Condition>) {
        let mut depends_on = Vec::with_capacity(c.depends_on.len());
        let mut conditions = BTreeMap::new();
        // A set keeps duplicate detection linear even for a component with thousands of edges.
        let mut seen = HashSet::with_capacity(c.depends_on.len());
        for entry in &c.depends_on {
            let d = entry.get_ref().name();
            let span = match entry.get_ref() {
                RawDep::Name(_) => entry.span(),
                RawDep::Table { name, .. } => name.span(),
            };
            if d == name {
                self.error(span, format!("component `{name}` depends on itself"));
                continue;
            }
            if !self.off.contains_key(name)
                && let Some(profiles) = self.off.get(d).cloned()
            {
                self.error(
                    span,
                    format!(
                        "component `{name}` depends on `{d}`, which runs only with {}",
                        super::profiles::how_to_enable(&profiles)
                    ),
                );
                continue;
            }
            let Some(&j) = index.get(d) else {
                let hint = hint(d, names);
                self.error(
                    span,
                    format!("component `{name}` depends on `{d}`, which is not a component{hint}"),
                );
                continue;
            };
            if !seen.insert(j) {
                self.error(
                    span,
                    format!("component `{name}`: `{d}` is listed twice in depends_on"),
                );
                continue;
            }
            edges.push((j, span));
            depends_on.push(d.to_string());
            let RawDep::Table {
                condition: Some(cond),
                ..
            } = entry.get_ref()
            else {
                continue;
            };
            let Some(condition) = Condition::ALL
                .into_iter()
                .find(|k| k.as_str() == cond.get_ref())
            else {
                let all: Vec<&str> = Condition::ALL.iter().map(|k| k.as_str()).collect();
                self.error(
                    cond.span(),
                    format!(
                        "component `{name}`: depends_on `{d}`: `{}` is not a condition{}; use \"started\", \"ready\" or \"completed\"",
                        cond.get_ref(),
                        hint(cond.get_ref(), &all)
                    ),
                );
                continue;
            };
            if condition == Condition::Completed {
                completed.push(NeedsOneshot {
                    name: name.to_string(),
                    dep: d.to_string(),
                    span: cond.span(),
                });
            }
            if condition != Condition::Ready {
                conditions.insert(d.to_string(), condition);
            }
        }
        depends_on.sort();
        (depends_on, conditions)
    }

    /// `condition = "completed"` waits for an end only a one-shot has.
    pub(super) fn check_completed(
        &mut self,
        checks: Vec<NeedsOneshot>,
        oneshot: &dyn Fn(&str) -> bool,
    ) {
        for c in checks {
            if !oneshot(&c.dep) {
                self.error(
                    c.span,
                    format!(
                        "component `{}`: depends_on `{}` with condition = \"completed\", but `{}` is not a one-shot, so it never completes; set `oneshot = true` on it or use \"ready\"",
                        c.name, c.dep, c.dep
                    ),
                );
            }
        }
    }

    /// Reads `oneshot`; a one-shot restarted whenever it ends would never
    /// stay completed.
    pub(super) fn oneshot(&mut self, name: &str, c: &RawComponent, policy: RestartPolicy) -> bool {
        let Some(flag) = c.oneshot.as_ref().filter(|f| *f.get_ref()) else {
            return false;
        };
        if policy == RestartPolicy::Always {
            let span = c.restart.as_ref().map_or(flag.span(), Spanned::span);
            self.error(
                span,
                format!(
                    "component `{name}`: restart = \"always\" cannot go with oneshot = true: it would run again each time it completes; use \"on-failure\" to retry it when it fails"
                ),
            );
        }
        true
    }
}
