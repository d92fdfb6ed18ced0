//! `replicas = N`: a process component run as N instances `NAME.1` …
//! `NAME.N`, as Docker Compose's `deploy.replicas` / `--scale` do.
//!
//! The expansion happens in the document, before interpolation, so that
//! everything after it (kinds, edges, the engine, plan, report, status,
//! logs, reload, the Kubernetes export) sees N ordinary components and
//! needs no notion of a replica. Each copy gets `SUNDOWN_REPLICA = "i"`
//! in its `env`, and `${SUNDOWN_REPLICA}` resolves per copy. Once
//! interpolated, edges are rewritten: an entry naming `NAME` in a
//! `depends_on` (or `[phase_timeouts]`) names every `NAME.i`, and every
//! copy keeps `NAME`'s own `depends_on`.
//!
//! A count is 1 to [`MAX_REPLICAS`]; `exit_with` cannot go with it (which
//! instance's exit code would the run exit with?). `oneshot` can: N shards
//! of a task, each a one-shot, and a dependent waits for every one.

use std::borrow::Cow;
use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::RawConfig;
use crate::diagnostic::Diagnostics;

/// The most instances one component may have: more is almost certainly a
/// typo, and each is a process with its own pipes and log.
pub const MAX_REPLICAS: u32 = 1000;

/// The variable each instance finds its number in (1-based).
pub const REPLICA_ENV: &str = "SUNDOWN_REPLICA";

/// The components to expand: each group's name and count.
#[derive(Default)]
pub(crate) struct Groups {
    counts: BTreeMap<String, u32>,
}

impl Groups {
    /// The counts the file asks for, checked, with `scale` overriding the
    /// file's count of a component (or giving one to a component without
    /// `replicas`). `scale` is assumed checked already.
    pub(super) fn read(
        raw: &RawConfig,
        scale: &BTreeMap<String, u32>,
        diagnostics: &mut Diagnostics<'_>,
    ) -> Groups {
        let mut counts = BTreeMap::new();
        for (key, c) in &raw.components {
            let name = key.get_ref();
            let scaled = scale.get(name).copied();
            // Where a problem with the count is shown: `replicas`, or the
            // component's name when only `scale` gives it one.
            let (span, count) = match (&c.replicas, scaled) {
                (Some(n), _) => (n.span(), *n.get_ref()),
                (None, Some(n)) => (key.span(), i64::from(n)),
                (None, None) => continue,
            };
            let what = format!("component `{name}`: replicas");
            let mut good = true;
            if !(1..=i64::from(MAX_REPLICAS)).contains(&count) {
                diagnostics.error(
                    span.clone(),
                    format!("{what} = {count}: a count is 1 to {MAX_REPLICAS}; to leave a component out, use profiles"),
                );
                good = false;
            }
            if let Some(kind) = c.kind.as_ref().filter(|k| k.get_ref() != "process") {
                diagnostics.error(
                    span.clone(),
                    format!(
                        "{what}: only a process can have replicas, and this component is kind `{}`",
                        kind.get_ref()
                    ),
                );
                good = false;
            }
            if let Some(flag) = c.exit_with.as_ref().filter(|f| *f.get_ref()) {
                diagnostics.error(
                    flag.span(),
                    format!("component `{name}`: exit_with = true cannot go with replicas: the run would have several exit codes to choose from"),
                );
                good = false;
            }
            let clash = (1..=count.clamp(0, i64::from(MAX_REPLICAS)))
                .map(|i| format!("{name}.{i}"))
                .find(|copy| raw.components.keys().any(|k| k.get_ref() == copy));
            if let Some(copy) = clash {
                diagnostics.error(
                    span,
                    format!("{what}: instance `{copy}` would have the name of another component"),
                );
                good = false;
            }
            if good && let Ok(n) = u32::try_from(scaled.map_or(count, i64::from)) {
                counts.insert(name.clone(), n);
            }
        }
        Groups { counts }
    }

    /// The instance `name` is, with its number.
    pub(super) fn replica(&self, name: &str) -> Option<u32> {
        let (group, i) = name.rsplit_once('.')?;
        let i: u32 = i.parse().ok()?;
        let n = *self.counts.get(group)?;
        (1..=n).contains(&i).then_some(i)
    }

    /// Each group's count.
    pub(super) fn counts(&self) -> &BTreeMap<String, u32> {
        &self.counts
    }

    /// Every component table that is a group becomes its instances, each
    /// with its number in `env`.
    pub(super) fn expand(&self, doc: &mut Spanned<DeTable<'_>>) {
        let Some(components) = components(doc) else {
            return;
        };
        for (group, &n) in &self.counts {
            let Some((key, table)) = components.remove_entry(group.as_str()) else {
                continue;
            };
            let span = key.span();
            for i in 1..=n {
                let mut copy = table.clone();
                if let DeValue::Table(t) = copy.get_mut() {
                    t.remove("replicas");
                    let env = t
                        .entry(Spanned::new(span.clone(), Cow::Borrowed("env")))
                        .or_insert_with(|| {
                            Spanned::new(span.clone(), DeValue::Table(DeTable::new()))
                        });
                    if let DeValue::Table(env) = env.get_mut() {
                        env.insert(
                            Spanned::new(span.clone(), Cow::Borrowed(REPLICA_ENV)),
                            Spanned::new(span.clone(), string(i.to_string())),
                        );
                    }
                }
                components.insert(
                    Spanned::new(span.clone(), Cow::Owned(format!("{group}.{i}"))),
                    copy,
                );
            }
        }
    }

    /// Edges to a group become edges to each of its instances.
    pub(super) fn rewrite_edges<'t>(&self, doc: &mut Spanned<DeTable<'t>>) {
        if self.counts.is_empty() {
            return;
        }
        if let Some(components) = components(doc) {
            for (_, table) in components.iter_mut() {
                let DeValue::Table(t) = table.get_mut() else {
                    continue;
                };
                if let Some(list) = t.get_mut("depends_on")
                    && let DeValue::Array(items) = list.get_mut()
                {
                    let old = std::mem::replace(items, std::iter::empty().collect());
                    for item in old {
                        for entry in self.entries(item) {
                            items.push(entry);
                        }
                    }
                }
            }
        }
        if let Some(timeouts) = doc.get_mut().get_mut("phase_timeouts")
            && let DeValue::Table(t) = timeouts.get_mut()
        {
            for (group, &n) in &self.counts {
                if let Some((key, value)) = t.remove_entry(group.as_str()) {
                    for i in 1..=n {
                        let name = Cow::Owned(format!("{group}.{i}"));
                        t.insert(Spanned::new(key.span(), name), value.clone());
                    }
                }
            }
        }
    }

    /// One `depends_on` entry: itself, or one per instance of the group it names.
    fn entries<'t>(&self, item: Spanned<DeValue<'t>>) -> Vec<Spanned<DeValue<'t>>> {
        let named = match item.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            DeValue::Table(t) => t.get("name").and_then(|v| match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => None,
            }),
            _ => None,
        };
        let Some((group, n)) = named.and_then(|g| Some((g.clone(), *self.counts.get(&g)?))) else {
            return vec![item];
        };
        (1..=n)
            .map(|i| {
                let mut copy = item.clone();
                let name = string(format!("{group}.{i}"));
                match copy.get_mut() {
                    DeValue::Table(t) => {
                        if let Some(v) = t.get_mut("name") {
                            *v.get_mut() = name;
                        }
                    }
                    v => *v = name,
                }
                copy
            })
            .collect()
    }

    /// A message about instance `group.i` as one about its group, so that
    /// one mistake in a replicated table is one error, not N.
    pub(super) fn ungroup(&self, message: &str) -> String {
        let mut out = message.to_string();
        for (group, &n) in &self.counts {
            for i in (1..=n).rev() {
                out = out.replace(&format!("`{group}.{i}`"), &format!("`{group}`"));
            }
        }
        out
    }
}

fn components<'d, 't>(doc: &'d mut Spanned<DeTable<'t>>) -> Option<&'d mut DeTable<'t>> {
    match doc.get_mut().get_mut("components")?.get_mut() {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

fn string<'t>(s: String) -> DeValue<'t> {
    DeValue::String(Cow::Owned(s))
}

impl super::Config {
    /// The component `name` is an instance of, when it is one (`worker`
    /// for `worker.2` of a `replicas = 3`).
    pub fn group_of(&self, name: &str) -> Option<&str> {
        let (group, i) = name.rsplit_once('.')?;
        let i: u32 = i.parse().ok()?;
        let (group, &n) = self.replicas.get_key_value(group)?;
        (1..=n).contains(&i).then_some(group.as_str())
    }
}
