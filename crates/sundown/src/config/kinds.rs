//! The second pass over each component: which kind it is, which of its keys
//! belong to that kind, and the kind's own validation of them.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeTable;

use super::raw::{RawComponent, Tables};
use super::validate::Validator;
use crate::diagnostic::{did_you_mean, hint};
use crate::kind::{Context, KindSpec, keys_of};

impl<'a> Validator<'a> {
    /// The component's kind and its validated settings; `None` after an error.
    pub(super) fn kind(
        &mut self,
        name: &str,
        name_span: Range<usize>,
        c: &RawComponent,
        tables: &mut Tables<'a>,
        stop_timeout: Duration,
    ) -> Option<KindSpec> {
        let table = tables.take(name);
        let has_command = table
            .as_ref()
            .is_some_and(|t| t.get_ref().iter().any(|(k, _)| k.get_ref() == "command"));
        let kind_name = match (&c.kind, has_command) {
            (Some(k), _) => k.get_ref().as_str(),
            (None, true) => "process",
            (None, false) => {
                self.error(
                    name_span,
                    format!("component `{name}` has neither `command` nor `kind`; set one of them"),
                );
                return None;
            }
        };
        let Some(kind) = self.kinds.get(kind_name) else {
            let names = self.kinds.names();
            let span = c.kind.as_ref().map_or(name_span, Spanned::span);
            self.error(
                span,
                format!(
                    "component `{name}`: unknown kind `{kind_name}`{}; known kinds: {}",
                    hint(kind_name, &names),
                    names.join(", ")
                ),
            );
            return None;
        };
        let common = keys_of::<RawComponent>();
        let (span, table) = match table {
            Some(t) => (t.span(), t.into_inner()),
            None => (name_span.clone(), DeTable::new()),
        };
        let mut own = DeTable::new();
        for (key, value) in table {
            let k = key.get_ref();
            if common.contains(&k.as_ref()) {
                continue;
            }
            if kind.keys().contains(&k.as_ref()) {
                own.insert(key, value);
                continue;
            }
            let owners = self.kinds.owners(k);
            // An unknown key is pointed at itself; a key of another kind at its value.
            // The closest key this component could have, not the list of
            // them all: a list of thirty keys hides the one that was meant.
            let (at, message) = if owners.is_empty() {
                let known: Vec<&str> = common.iter().chain(kind.keys()).copied().collect();
                let message = match did_you_mean(k, &known) {
                    Some(meant) => {
                        format!("component `{name}`: unknown key `{k}` (did you mean `{meant}`?)")
                    }
                    None => {
                        let elsewhere: Vec<&str> = self
                            .kinds
                            .names()
                            .into_iter()
                            .filter_map(|n| self.kinds.get(n))
                            .flat_map(|other| other.keys().iter().copied())
                            .collect();
                        match did_you_mean(k, &elsewhere) {
                            Some(meant) => format!(
                                "component `{name}`: unknown key `{k}`; `{meant}` is a setting of kind {}, but this component is kind `{kind_name}`",
                                quoted(&self.kinds.owners(meant))
                            ),
                            None => format!(
                                "component `{name}`: unknown key `{k}`: neither a setting of kind `{kind_name}` nor one every component has"
                            ),
                        }
                    }
                };
                (key.span(), message)
            } else {
                let message = format!(
                    "component `{name}`: `{k}` is a setting of kind {}, but this component is kind `{kind_name}`",
                    quoted(&owners)
                );
                (value.span(), message)
            };
            self.error(at, message);
        }
        let errors_before = self.diagnostics.errors.len();
        let mut cx = Context {
            diagnostics: &mut self.diagnostics,
            name,
            name_span: name_span.clone(),
            base_dir: self.base_dir,
            stop_timeout,
            table: Some(Spanned::new(span, own)),
            env_files: self.env_files.remove(name).unwrap_or_default(),
        };
        let spec = kind.settings(&mut cx);
        // A kind that refuses without saying why must not leave a config
        // that validates: the placeholder that stands in would then run.
        if spec.is_none() && self.diagnostics.errors.len() == errors_before {
            self.error(
                name_span,
                format!(
                    "component `{name}`: kind `{kind_name}` refused its settings without saying why"
                ),
            );
        }
        spec
    }
}

/// `` `a` or `b` ``.
fn quoted(kinds: &[&str]) -> String {
    let quoted: Vec<String> = kinds.iter().map(|o| format!("`{o}`")).collect();
    quoted.join(" or ")
}
