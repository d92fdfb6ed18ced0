//! Between the first pass and the kinds: env files read, and every string
//! of the document interpolated in place, each keeping its span, so that
//! the common keys and each kind's own keys are read from the resolved
//! values and their errors still point into the file.
//!
//! Where a component's values come from, first match wins: its `env`, its
//! env files (a later file over an earlier one), the `[supervisor]` env
//! files, sundown's own environment. `env` values themselves see only the
//! layers below `env`, so no order among them matters and none can refer
//! to itself.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::env_file;
use super::interpolate::{Scope, interpolate, place_in_file};
use crate::diagnostic::Diagnostics;

/// The document with every string interpolated, and each component's
/// variables from env files (the supervisor's and its own, merged).
pub(super) struct Resolved<'a> {
    pub(super) doc: Spanned<DeTable<'a>>,
    pub(super) env_files: HashMap<String, BTreeMap<String, String>>,
}

pub(super) struct Resolver<'r, 'd, 't> {
    pub(super) text: &'t str,
    pub(super) base_dir: &'r Path,
    pub(super) host: &'r dyn Fn(&str) -> Option<String>,
    /// The components to run as several instances (see `replicas.rs`).
    pub(super) groups: &'r super::replicas::Groups,
    pub(super) diagnostics: &'r mut Diagnostics<'d>,
}

impl<'t> Resolver<'_, '_, 't> {
    pub(super) fn resolve(&mut self) -> Resolved<'t> {
        let (mut doc, _) = DeTable::parse_recoverable(self.text);
        self.groups.expand(&mut doc);
        let list = |t: &DeTable<'_>| t.get("env_file").map(env_file::entries).unwrap_or_default();
        let supervisor = match doc.get_ref().get("supervisor").map(Spanned::get_ref) {
            Some(DeValue::Table(t)) => self.env_files(&list(t), &[], "[supervisor]"),
            _ => BTreeMap::new(),
        };
        let mut env_files = HashMap::new();
        for (key, value) in doc.get_mut().iter_mut() {
            let DeValue::Table(table) = value.get_mut() else {
                continue;
            };
            match key.get_ref().as_ref() {
                "supervisor" => self.table(table, &[&supervisor], &|k| format!("[supervisor] {k}")),
                "phase_timeouts" => {
                    self.table(table, &[&supervisor], &|k| format!("[phase_timeouts] {k}"))
                }
                "components" => {
                    for (name, component) in table.iter_mut() {
                        let name = name.get_ref().to_string();
                        let DeValue::Table(component) = component.get_mut() else {
                            continue;
                        };
                        let files = self.env_files(
                            &list(component),
                            &[&supervisor],
                            &format!("component `{name}`:"),
                        );
                        self.component(&name, component, &files, &supervisor);
                        let mut merged = supervisor.clone();
                        merged.extend(files);
                        env_files.insert(name, merged);
                    }
                }
                _ => {}
            }
        }
        // Once interpolated: an entry may name a group through a variable.
        self.groups.rewrite_edges(&mut doc);
        Resolved { doc, env_files }
    }

    /// One component's table: `env` first, then everything else with it.
    fn component(
        &mut self,
        name: &str,
        table: &mut DeTable<'t>,
        files: &BTreeMap<String, String>,
        supervisor: &BTreeMap<String, String>,
    ) {
        let what = |k: &str| format!("component `{name}`: {k}");
        // An instance's number, for its `env` values: they see only the
        // layers below `env`, and it is one.
        let replica: BTreeMap<String, String> = self
            .groups
            .replica(name)
            .map(|i| (super::replicas::REPLICA_ENV.to_string(), i.to_string()))
            .into_iter()
            .collect();
        let mut env = BTreeMap::new();
        if let Some(value) = table.get_mut("env") {
            self.value(value, &[&replica, files, supervisor], &what("env"));
            if let DeValue::Table(t) = value.get_ref() {
                for (k, v) in t {
                    if let DeValue::String(s) = v.get_ref() {
                        env.insert(k.get_ref().to_string(), s.to_string());
                    }
                }
            }
        }
        for (key, value) in table.iter_mut() {
            if !matches!(key.get_ref().as_ref(), "env" | "env_file") {
                self.value(value, &[&env, files, supervisor], &what(key.get_ref()));
            }
        }
    }

    fn table(
        &mut self,
        table: &mut DeTable<'t>,
        layers: &[&BTreeMap<String, String>],
        what: &dyn Fn(&str) -> String,
    ) {
        for (key, value) in table.iter_mut() {
            if key.get_ref() != "env_file" {
                self.value(value, layers, &what(key.get_ref()));
            }
        }
    }

    /// Every string in `value`, however deep (probes are tables, commands arrays).
    fn value(
        &mut self,
        value: &mut Spanned<DeValue<'t>>,
        layers: &[&BTreeMap<String, String>],
        what: &str,
    ) {
        let span = value.span();
        match value.get_mut() {
            DeValue::String(s) => {
                if let Some(new) = self.string(s, span, layers, what) {
                    *s = Cow::Owned(new);
                }
            }
            DeValue::Array(items) => {
                for item in items.iter_mut() {
                    self.value(item, layers, what);
                }
            }
            DeValue::Table(t) => {
                for (_, v) in t.iter_mut() {
                    self.value(v, layers, what);
                }
            }
            _ => {}
        }
    }

    /// The interpolated string, when it differs; a problem is reported at
    /// the `$` of its `${`.
    fn string(
        &mut self,
        s: &str,
        span: std::ops::Range<usize>,
        layers: &[&BTreeMap<String, String>],
        what: &str,
    ) -> Option<String> {
        let scope = Scope {
            layers: layers.to_vec(),
            host: self.host,
        };
        match interpolate(s, &scope) {
            Ok(Cow::Borrowed(_)) => None,
            Ok(Cow::Owned(new)) => Some(new),
            Err(p) => {
                let at = place_in_file(self.text, span, s, p.at);
                self.diagnostics
                    .error(at..at, format!("{what}: {}", p.message));
                None
            }
        }
    }

    /// The variables of a list of env files, a later file winning; each
    /// path interpolated with `layers` and read relative to the config.
    fn env_files(
        &mut self,
        list: &[(Spanned<String>, bool)],
        layers: &[&BTreeMap<String, String>],
        owner: &str,
    ) -> BTreeMap<String, String> {
        let mut files = Vec::new();
        for (path, required) in list {
            let what = format!("{owner} env_file");
            let errors = self.diagnostics.errors.len();
            let interpolated = self.string(path.get_ref(), path.span(), layers, &what);
            if self.diagnostics.errors.len() > errors {
                continue;
            }
            let written = interpolated.unwrap_or_else(|| path.get_ref().clone());
            if written.trim().is_empty() {
                self.diagnostics
                    .error(path.span(), format!("{what}: the path is empty"));
                continue;
            }
            match env_file::read(&self.base_dir.join(&written), &written, *required) {
                Ok(Some(vars)) => files.push(vars),
                Ok(None) => {}
                Err(message) => self
                    .diagnostics
                    .error(path.span(), format!("{what}: {message}")),
            }
        }
        env_file::merge(files)
    }
}
