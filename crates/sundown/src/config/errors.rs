//! What is wrong with a config, and reading its file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::raw;
use crate::diagnostic::{Located, render};

/// A component name the config does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no component `{name}`{}", .did_you_mean.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct NoSuchComponent {
    /// The name asked for.
    pub name: String,
    /// The closest name the config has, when it is close enough to be a typo.
    pub did_you_mean: Option<String>,
}

/// Everything wrong with a config file, each problem with its location.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file, as given.
    pub file: String,
    /// One entry per problem, in file order.
    pub diagnostics: Vec<Located>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            render(f, &self.file, d, "error")?;
        }
        if n > 1 {
            write!(f, "\n{n} errors in {}", self.file)?;
        }
        Ok(())
    }
}

/// A config file's text and the directory its relative paths are
/// resolved against: absolute, so that the same file read again (a reload,
/// from another working directory or by its absolute name) resolves to the
/// same paths.
pub(super) fn read(path: &Path) -> Result<(String, PathBuf), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        diagnostics: vec![Located {
            file: None,
            line: 0,
            column: 0,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    let base = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    Ok((text, base))
}

/// A serde error of the first pass, naming the component and key it is in.
pub(super) fn first_pass_message(text: &str, e: &toml::de::Error) -> String {
    let message = &crate::diagnostic::lenient::message(e);
    match e.span().and_then(|s| raw::component_at(text, s.start)) {
        Some(raw::Place {
            component,
            key: Some((key, string)),
        }) => {
            // The one list a newcomer writes as a string.
            let fix = match (key.as_str(), string) {
                ("depends_on", Some(s)) => {
                    format!("; it is a list: depends_on = [{}]", toml_string(&s))
                }
                _ => String::new(),
            };
            format!("component `{component}`: {key}: {message}{fix}")
        }
        Some(place) => format!("component `{}`: {message}", place.component),
        None => match e.span().and_then(|s| raw::table_at(text, s.start)) {
            Some(table) => format!("[{table}] {message}"),
            None => message.to_string(),
        },
    }
}

/// `s` as a TOML basic string, for a suggestion the user can paste.
pub(super) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
