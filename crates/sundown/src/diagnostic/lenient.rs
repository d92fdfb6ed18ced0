//! serde stops at the first value of the wrong type or the first unknown
//! key, which would hide every other problem of the file behind it. Here a
//! document is deserialized again and again, each time without the entry
//! the last error was about, so that every such error is found in one pass
//! and the rest of the file can still be validated.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::hint;

/// More than this many type errors in one table is no longer a list anyone
/// reads; the rest is left for the next run of `sundown check`.
const MAX_ERRORS: usize = 50;

/// What [`deserialize`] found.
pub(crate) struct Lenient<'t, T> {
    /// The value, read from the document without the entries that were in
    /// error; `None` when no such document deserializes.
    pub(crate) value: Option<T>,
    /// The document without those entries.
    pub(crate) doc: Spanned<DeTable<'t>>,
    /// Every error, in the order found.
    pub(crate) errors: Vec<toml::de::Error>,
}

/// `doc` as a `T`, every error of it collected: after each one the entry it
/// is about is removed (the innermost table entry holding the error's
/// place, or the one around it when that did not help) and the rest read
/// again.
pub(crate) fn deserialize<'t, T: DeserializeOwned>(
    mut doc: Spanned<DeTable<'t>>,
) -> Lenient<'t, T> {
    let mut errors: Vec<toml::de::Error> = Vec::new();
    // How many levels above the innermost entry the next removal is.
    let mut up = 0;
    let mut removed: Vec<String> = Vec::new();
    loop {
        let error = match T::deserialize(toml::de::Deserializer::from(doc.clone())) {
            Ok(value) => {
                return Lenient {
                    value: Some(value),
                    doc,
                    errors,
                };
            }
            Err(e) => e,
        };
        let fail = |doc, errors| Lenient {
            value: None,
            doc,
            errors,
        };
        // A required entry that was removed for its type is missing now:
        // that is the same mistake again.
        if let Some(key) = missing_field(error.message())
            && removed.iter().any(|r| r == key)
        {
            return fail(doc, errors);
        }
        let Some(span) = error.span() else {
            errors.push(error);
            return fail(doc, errors);
        };
        let repeated = errors.last().is_some_and(|last| {
            last.span() == Some(span.clone()) && last.message() == error.message()
        });
        if repeated {
            up += 1;
        } else {
            up = 0;
            errors.push(error);
        }
        if errors.len() >= MAX_ERRORS {
            return fail(doc, errors);
        }
        match remove(doc.get_mut(), span.start, up) {
            Some(key) => removed.push(key),
            None => return fail(doc, errors),
        }
    }
}

/// Removes the entry `up` levels above the innermost table entry that
/// holds byte `at`; its key, or `None` when there is none.
fn remove(table: &mut DeTable<'_>, at: usize, up: usize) -> Option<String> {
    let (key, depth) = table
        .iter()
        .find_map(|(k, v)| holds(k, v, at).map(|d| (k.get_ref().to_string(), d)))?;
    if up >= depth {
        table.remove(key.as_str());
        return Some(key);
    }
    match table.get_mut(key.as_str()).map(Spanned::get_mut) {
        Some(DeValue::Table(inner)) => remove(inner, at, up),
        _ => None,
    }
}

/// Whether an entry holds byte `at`, in its key, its value, or an entry of
/// its value however deep (a `[table]`'s span is its header only): how many
/// tables below it the innermost entry that does is.
fn holds(key: &Spanned<impl Sized>, value: &Spanned<DeValue<'_>>, at: usize) -> Option<usize> {
    if let DeValue::Table(t) = value.get_ref()
        && let Some(d) = t.iter().find_map(|(k, v)| holds(k, v, at))
    {
        return Some(d + 1);
    }
    (key.span().contains(&at) || value.span().contains(&at)).then_some(0)
}

/// The key of serde's "missing field `key`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde's "unknown field `x`, expected one of `a`, `b`, …" as "unknown key
/// `x`", with the closest known key when it is close enough: a list of
/// thirty keys helps nobody find the typo. A short list is kept.
pub(crate) fn unknown_key(message: &str) -> Option<String> {
    /// Up to this many known keys are worth listing.
    const SHORT: usize = 6;
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let hint = hint(key, &known);
    let expected = expected.trim_start_matches(", ");
    Some(
        if hint.is_empty() && known.len() <= SHORT && !expected.is_empty() {
            format!("unknown key `{key}`; {expected}")
        } else {
            format!("unknown key `{key}`{hint}")
        },
    )
}

/// An error's message, reworded when it is an unknown key.
pub(crate) fn message(e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    unknown_key(message).unwrap_or_else(|| message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only which fields deserialize matters")]
    struct Raw {
        name: Option<String>,
        count: Option<i64>,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only which fields deserialize matters")]
    struct Inner {
        listen: String,
        flag: Option<bool>,
    }

    fn run(text: &str) -> (Option<Raw>, Vec<String>) {
        let doc = DeTable::parse(text).unwrap();
        let found = deserialize::<Raw>(doc);
        (found.value, found.errors.iter().map(message).collect())
    }

    #[test]
    fn every_error_of_a_table_is_found_and_the_rest_read() {
        let (value, errors) =
            run("name = 5\ncount = \"x\"\nnme = \"a\"\n[inner]\nlisten = \"a\"\nflag = 1\n");
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.contains(&"unknown key `nme` (did you mean `name`?)".to_string()));
        let value = value.unwrap();
        assert!(value.name.is_none() && value.count.is_none());
        assert_eq!(value.inner.unwrap().listen, "a");
    }

    #[test]
    fn a_required_key_removed_for_its_type_is_not_reported_again() {
        let (value, errors) = run("[inner]\nlisten = 5\n");
        assert!(value.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("invalid type"), "{errors:?}");
    }

    #[test]
    fn a_missing_key_removes_its_table() {
        let (value, errors) = run("name = \"a\"\n[inner]\nflag = true\n");
        assert_eq!(errors, ["missing field `listen`"]);
        let value = value.unwrap();
        assert!(value.inner.is_none());
        assert_eq!(value.name.as_deref(), Some("a"));
    }

    #[test]
    fn an_unknown_key_far_from_any_known_one_gets_the_short_list() {
        let (_, errors) = run("frobnicate = 1\n");
        assert_eq!(
            errors,
            ["unknown key `frobnicate`; expected one of `name`, `count`, `inner`"]
        );
        let long: Vec<String> = (0..7).map(|i| format!("`key{i}`")).collect();
        let message = format!("unknown field `zzz`, expected one of {}", long.join(", "));
        assert_eq!(unknown_key(&message).unwrap(), "unknown key `zzz`");
    }
}
