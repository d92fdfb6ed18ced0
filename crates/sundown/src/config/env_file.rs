//! `env_file = [...]`: dotenv files read with `dotenvy`, relative to the
//! config's directory, a later file overriding an earlier one (as Docker
//! Compose does).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// An env file larger than this is refused: it is read whole into memory,
/// and at every config load (reloads included).
pub(crate) const MAX_ENV_FILE: u64 = 1024 * 1024;

/// One entry of `env_file`: a path, or `{ path = "...", required = false }`
/// for a file that may be missing (Compose's spelling).
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "an env_file entry is a path (\".env\") or a table { path = \".env.local\", required = false }"
)]
pub(crate) enum RawEnvFile {
    Path(Spanned<String>),
    Entry(RawEnvFileEntry),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvFileEntry {
    path: Spanned<String>,
    #[serde(default = "yes")]
    required: bool,
}

fn yes() -> bool {
    true
}

impl RawEnvFile {
    /// The path as written, with its place.
    pub(crate) fn path(&self) -> &Spanned<String> {
        match self {
            RawEnvFile::Path(p) => p,
            RawEnvFile::Entry(e) => &e.path,
        }
    }

    pub(crate) fn required(&self) -> bool {
        match self {
            RawEnvFile::Path(_) => true,
            RawEnvFile::Entry(e) => e.required,
        }
    }
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
    parse(&text)
        .map(Some)
        .map_err(|(line, why)| format!("env file `{shown}`, line {line}: {why}"))
}

/// The variables of a dotenv text, in order; an error is `(line, why)`.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok(pair) => vars.push(pair),
            Err(dotenvy::Error::LineParse(line, index)) => {
                // dotenvy says which line by its text; the first line of the
                // file that begins it is that line, since an identical
                // earlier one would have failed first.
                let first = line.lines().next().unwrap_or("");
                let at = text.lines().position(|l| l == first).map_or(0, |n| n + 1);
                let shown: String = first.chars().take(60).collect();
                return Err((
                    at,
                    format!(
                        "cannot parse `{shown}` (at character {}); a line is NAME=value, `export NAME=value` or a # comment",
                        index + 1
                    ),
                ));
            }
            Err(e) => return Err((0, e.to_string())),
        }
    }
    Ok(vars)
}

/// The variables of several files merged, a later one winning.
pub(crate) fn merge(
    files: impl IntoIterator<Item = Vec<(String, String)>>,
) -> BTreeMap<String, String> {
    files.into_iter().flatten().collect()
}
