//! What a kind's validation sees: the component's keys with their places,
//! and where to report problems.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeTable;

use crate::diagnostic::{Diagnostics, Zero, lenient};

/// What a kind sees of the component it validates: its keys, its name and
/// common settings, and where to report problems (with `line:col`).
pub struct Context<'a, 'd> {
    pub(crate) diagnostics: &'a mut Diagnostics<'d>,
    pub(crate) name: &'a str,
    pub(crate) name_span: Range<usize>,
    pub(crate) base_dir: &'a Path,
    pub(crate) stop_timeout: Duration,
    pub(crate) table: Option<Spanned<DeTable<'d>>>,
    pub(crate) env_files: BTreeMap<String, String>,
}

impl Context<'_, '_> {
    /// The component's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Its `stop_timeout`, validated.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }

    /// The variables of the env files of `[supervisor]` and of the
    /// component, merged (the component's over the supervisor's, a later
    /// file over an earlier one). A kind that starts programs puts them in
    /// their environment under its own `env`; every string setting has
    /// already been interpolated with them.
    pub fn env_files(&self) -> &BTreeMap<String, String> {
        &self.env_files
    }

    /// A path as written in the config, resolved against the config's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The component's kind-specific keys as `T` (a serde struct with
    /// [`Spanned`] fields keeps each value's place). Every type error is
    /// reported at its place, naming its key, and `None` returned then:
    /// the kind's own checks would take a key left out for its type for a
    /// missing one. The keys can be parsed once.
    pub fn parse<T: DeserializeOwned>(&mut self) -> Option<T> {
        let table = self.table.take()?;
        let keys: Vec<(String, Range<usize>)> = table
            .get_ref()
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), k.span().start..v.span().end))
            .collect();
        let found = lenient::deserialize::<T>(table);
        for e in &found.errors {
            let span = e.span().unwrap_or(self.name_span.clone());
            let message = lenient::message(e);
            let key = keys
                .iter()
                .find(|(k, place)| {
                    place.contains(&span.start) && !message.contains(&format!("`{k}`"))
                })
                .map(|(k, _)| format!("{k}: "))
                .unwrap_or_default();
            let message = format!("component `{}`: {key}{message}", self.name);
            self.diagnostics.error(span, message);
        }
        found.value.filter(|_| found.errors.is_empty())
    }

    /// `component `NAME`: KEY`, the way every message names a setting.
    pub fn what(&self, key: &str) -> String {
        format!("component `{}`: {key}", self.name)
    }

    /// An error at a place in the file.
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.error(span, message);
    }

    /// An error at the component's name (for a key that is missing).
    pub fn error_at_name(&mut self, message: impl Into<String>) {
        self.diagnostics.error(self.name_span.clone(), message);
    }

    /// A warning at a place in the file: the config still runs.
    pub fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.warn(span, message);
    }

    /// A duration setting; `what` names it in messages.
    pub fn duration(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        self.diagnostics.duration(value, what, zero)
    }

    /// An optional duration setting; `what` names it in messages.
    pub fn opt_duration(
        &mut self,
        value: &Option<Spanned<String>>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        self.diagnostics.opt_duration(value, what, zero)
    }
}

/// The field names of a serde struct, read from its `Deserialize` impl: a
/// kind's [`Kind::keys`] without a second list to keep in step.
pub fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Stop {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(None);
    // The deserializer stops every type at once; only the field list matters.
    let _ = T::deserialize(&mut fields);
    fields.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only the field names are read")]
    struct Raw {
        listen: Option<String>,
        #[serde(default)]
        size: i64,
    }

    #[test]
    fn keys_come_from_the_serde_struct() {
        assert_eq!(keys_of::<Raw>(), ["listen", "size"]);
    }
}
