//! The first pass: serde reads the file into a raw tree in which every value
//! that can be wrong keeps its source span (durations and signal names stay
//! strings here). Each component's own keys are left for its kind.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Strategy;
use super::env_file::RawEnvFile;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) supervisor: RawSupervisor,
    #[serde(default)]
    pub(super) components: BTreeMap<Spanned<String>, RawComponent>,
    #[serde(default)]
    pub(super) phase_timeouts: BTreeMap<Spanned<String>, Spanned<String>>,
    #[allow(dead_code, reason = "include.rs reads it, before this pass")]
    pub(super) include: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupervisor {
    pub(super) shutdown_timeout: Option<Spanned<String>>,
    pub(super) startup_timeout: Option<Spanned<String>>,
    pub(super) strategy: Option<Strategy>,
    pub(super) report: Option<String>,
    pub(super) control_socket: Option<String>,
    pub(super) metrics: Option<RawMetrics>,
    pub(super) log_lines: Option<usize>,
    #[allow(
        dead_code,
        reason = "only the shape is checked here; resolve.rs reads the entries with their places"
    )]
    pub(super) env_file: Option<Vec<RawEnvFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Spanned<String>,
    #[serde(default)]
    pub(super) allow_remote: bool,
}

/// The keys every component has, whatever its kind. Unknown keys are left
/// to the second pass, where the component's kind says which are its own.
#[derive(Deserialize)]
pub(crate) struct RawComponent {
    pub(crate) kind: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) depends_on: Vec<Spanned<RawDep>>,
    // see `depends.rs`
    pub(super) oneshot: Option<Spanned<bool>>,
    pub(super) stop_timeout: Option<Spanned<String>>,
    // see `restart.rs`
    pub(super) restart: Option<Spanned<String>>,
    pub(super) max_restarts: Option<Spanned<i64>>,
    pub(super) restart_window: Option<Spanned<String>>,
    pub(super) restart_backoff: Option<Spanned<String>>,
    pub(super) restart_backoff_max: Option<Spanned<String>>,
    pub(super) restart_dependents: Option<Spanned<bool>>,
    // see `replicas.rs`
    pub(super) replicas: Option<Spanned<i64>>,
    // see `exit_with.rs`
    pub(super) exit_with: Option<Spanned<bool>>,
    // see `profiles.rs`
    pub(super) profiles: Option<Spanned<Vec<Spanned<String>>>>,
    // see `log_settings.rs`
    pub(super) log_file: Option<Spanned<String>>,
    pub(super) log_max_size: Option<Spanned<String>>,
    pub(super) log_backups: Option<Spanned<i64>>,
    pub(super) log_stderr: Option<Spanned<bool>>,
    #[allow(
        dead_code,
        reason = "only the shape is checked here; resolve.rs reads the entries with their places"
    )]
    pub(super) env_file: Option<Vec<RawEnvFile>>,
}

/// The component whose `[components.NAME]` table holds byte `at`, so that a
/// serde error there (an unknown key, a value of the wrong type) can name it.
/// Only called on the error path: it parses the text a second time.
pub(super) fn component_at(text: &str, at: usize) -> Option<Place> {
    use toml::de::DeValue;
    fn holds(value: &Spanned<DeValue<'_>>, at: usize) -> bool {
        value.span().contains(&at)
            || match value.get_ref() {
                DeValue::Table(t) => t
                    .iter()
                    .any(|(k, v)| k.span().contains(&at) || holds(v, at)),
                DeValue::Array(a) => a.iter().any(|v| holds(v, at)),
                _ => false,
            }
    }
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    let components = doc.get_ref().get("components")?.get_ref().as_table()?;
    let (name, table) = components
        .iter()
        .find(|(name, table)| name.span().contains(&at) || holds(table, at))?;
    let key = table.get_ref().as_table().and_then(|t| {
        t.iter()
            .find(|(k, v)| k.span().contains(&at) || holds(v, at))
            .map(|(k, v)| {
                let string = match v.get_ref() {
                    DeValue::String(s) => Some(s.to_string()),
                    _ => None,
                };
                (k.get_ref().to_string(), string)
            })
    });
    Some(Place {
        component: name.get_ref().to_string(),
        key,
    })
}

/// The table (`supervisor`, `supervisor.metrics`) whose entry holds byte
/// `at`, for a serde error outside the components; `None` at the top level.
/// Only called on the error path: it parses the text a second time.
pub(super) fn table_at(text: &str, at: usize) -> Option<String> {
    fn path(table: &DeTable<'_>, at: usize, into: &mut Vec<String>) {
        for (key, value) in table.iter() {
            if let DeValue::Table(t) = value.get_ref()
                && t.iter().any(|(k, v)| holds(k.span(), v, at))
            {
                into.push(key.get_ref().to_string());
                return path(t, at, into);
            }
        }
    }
    fn holds(key: Range<usize>, value: &Spanned<DeValue<'_>>, at: usize) -> bool {
        key.contains(&at)
            || value.span().contains(&at)
            || matches!(value.get_ref(), DeValue::Table(t) if t.iter().any(|(k, v)| holds(k.span(), v, at)))
    }
    let (doc, _) = DeTable::parse_recoverable(text);
    let mut names = Vec::new();
    path(doc.get_ref(), at, &mut names);
    (!names.is_empty()).then(|| names.join("."))
}

/// Where a serde error is: the component, and the key with its value when
/// that value is a string.
pub(super) struct Place {
    pub(super) component: String,
    pub(super) key: Option<(String, Option<String>)>,
}

/// Each component's table as parsed, every value with its place.
pub(crate) struct Tables<'a> {
    tables: HashMap<String, Spanned<DeTable<'a>>>,
    /// Where each key of each component is, kept after the tables are handed to the kinds.
    keys: HashMap<String, Vec<(String, Range<usize>)>>,
}

impl<'a> Tables<'a> {
    pub(super) fn take(&mut self, name: &str) -> Option<Spanned<DeTable<'a>>> {
        self.tables.remove(name)
    }

    /// Where `key` is set in component `name`'s table.
    pub(crate) fn key_span(&self, name: &str, key: &str) -> Option<Range<usize>> {
        self.keys
            .get(name)?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, span)| span.clone())
    }
}

/// The `[components.*]` tables of a document.
pub(super) fn component_tables(doc: Spanned<DeTable<'_>>) -> Tables<'_> {
    let mut tables = HashMap::new();
    let mut keys = HashMap::new();
    let components = doc
        .into_inner()
        .into_iter()
        .find(|(k, _)| k.get_ref() == "components");
    if let Some((_, components)) = components
        && let DeValue::Table(components) = components.into_inner()
    {
        for (name, table) in components {
            let table_span = table.span();
            if let DeValue::Table(t) = table.into_inner() {
                let name = name.get_ref().to_string();
                let spans = t
                    .iter()
                    .map(|(k, v)| (k.get_ref().to_string(), v.span()))
                    .collect();
                keys.insert(name.clone(), spans);
                tables.insert(name, Spanned::new(table_span, t));
            }
        }
    }
    Tables { tables, keys }
}

/// One `depends_on` entry as written.
pub(crate) enum RawDep {
    Name(String),
    Table {
        name: Spanned<String>,
        condition: Option<Spanned<String>>,
    },
}

impl RawDep {
    pub(super) fn name(&self) -> &str {
        match self {
            RawDep::Name(n) => n,
            RawDep::Table { name, .. } => name.get_ref(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for RawDep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawDep;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a component name or a table like { name = \"migrate\", condition = \"completed\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawDep, E> {
                Ok(RawDep::Name(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawDep, A::Error> {
                let (mut name, mut condition) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = Some(map.next_value::<Spanned<String>>()?),
                        "condition" => condition = Some(map.next_value::<Spanned<String>>()?),
                        other => {
                            return Err(serde::de::Error::unknown_field(
                                other,
                                &["name", "condition"],
                            ));
                        }
                    }
                }
                let name = name.ok_or_else(|| serde::de::Error::missing_field("name"))?;
                Ok(RawDep::Table { name, condition })
            }
        }
        d.deserialize_any(V)
    }
}
