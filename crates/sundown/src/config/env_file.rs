//! `env_file = [...]`: dotenv files read with `dotenvy`, relative to the
//! config's directory, a later file overriding an earlier one (as Docker
//! Compose does).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

/// An env file larger than this is refused: it is read whole into memory,
/// and at every config load (reloads included).
pub(crate) const MAX_ENV_FILE: u64 = 1024 * 1024;

/// One entry of `env_file`: a path, or `{ path = "...", required = false }`
/// for a file that may be missing (Compose's spelling). The first pass
/// checks the shape with it; the entries are read from the document, where
/// their places are (an untagged enum cannot keep spans).
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "an env_file entry is a path (\".env\") or a table { path = \".env.local\", required = false }"
)]
pub(crate) enum RawEnvFile {
    #[allow(dead_code, reason = "only the shape is checked")]
    Path(String),
    #[allow(dead_code, reason = "only the shape is checked")]
    Entry(RawEnvFileEntry),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvFileEntry {
    #[allow(dead_code, reason = "only the shape is checked")]
    path: String,
    #[allow(dead_code, reason = "only the shape is checked")]
    required: Option<bool>,
}

/// The entries of an `env_file` value whose shape the first pass checked:
/// each path with its place, and whether the file must exist.
pub(crate) fn entries(value: &Spanned<DeValue<'_>>) -> Vec<(Spanned<String>, bool)> {
    let DeValue::Array(items) = value.get_ref() else {
        return Vec::new();
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        match item.get_ref() {
            DeValue::String(s) => entries.push((Spanned::new(item.span(), s.to_string()), true)),
            DeValue::Table(t) => {
                let Some(path) = t.get("path") else { continue };
                let DeValue::String(s) = path.get_ref() else {
                    continue;
                };
                let required = !matches!(
                    t.get("required").map(Spanned::get_ref),
                    Some(DeValue::Boolean(false))
                );
                entries.push((Spanned::new(path.span(), s.to_string()), required));
            }
            _ => {}
        }
    }
    entries
}

/// Reads one env file (`shown` names it in messages as the config wrote
/// it). `Ok(None)`: an optional file that does not exist.
pub(crate) fn read(
    path: &Path,
    shown: &str,
    required: bool,
) -> Result<Option<Vec<(String, String)>>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "env file `{shown}` does not exist ({}); create it, or mark it optional: {{ path = {}, required = false }}",
                path.display(),
                super::toml_string(shown)
            ));
        }
        Err(e) => return Err(format!("cannot read env file `{shown}`: {e}")),
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_ENV_FILE + 1).read_to_end(&mut bytes) {
        return Err(format!("cannot read env file `{shown}`: {e}"));
    }
    if bytes.len() as u64 > MAX_ENV_FILE {
        return Err(format!(
            "env file `{shown}` is larger than {} KiB; an env file holds variables, not data",
            MAX_ENV_FILE / 1024
        ));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(format!("env file `{shown}` is not UTF-8"));
    };
    // Some editors begin a file with a BOM; it is not part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    parse(text)
        .map(Some)
        .map_err(|(line, why)| format!("env file `{shown}`, line {line}: {why}"))
}

/// The variables of a dotenv text, in order; an error is `(line, why)`.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok(pair) => vars.push(pair),
            Err(dotenvy::Error::LineParse(part, index)) => {
                let first = part.lines().next().unwrap_or("");
                let shown: String = first.chars().take(60).collect();
                return Err((
                    line_of(text, first),
                    format!(
                        "cannot parse `{shown}` (at its character {}); a line is NAME=value, `export NAME=value` or a # comment",
                        index + 1
                    ),
                ));
            }
            Err(e) => return Err((0, e.to_string())),
        }
    }
    Ok(vars)
}

/// The line dotenvy failed on: it says only which text (the line, or the
/// value on it), so the line is the first that holds that text and up to
/// which the file fails to parse.
fn line_of(text: &str, part: &str) -> usize {
    let mut end = 0;
    let mut first = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        end += line.len();
        if !line.contains(part) {
            continue;
        }
        first.get_or_insert(n + 1);
        if dotenvy::from_read_iter(&text.as_bytes()[..end]).any(|r| r.is_err()) {
            return n + 1;
        }
    }
    first.unwrap_or(0)
}

/// The variables of several files merged, a later one winning.
pub(crate) fn merge(
    files: impl IntoIterator<Item = Vec<(String, String)>>,
) -> BTreeMap<String, String> {
    files.into_iter().flatten().collect()
}
