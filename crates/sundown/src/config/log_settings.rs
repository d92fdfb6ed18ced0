//! `log_file`, `log_max_size`, `log_backups` and `log_stderr`: where a
//! component's lines are kept beyond the terminal. They are common keys
//! (any kind): an in-process stand-in's own messages are its output, and
//! belong in its file as much as a program's stdout does.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::ComponentSpec;
use super::raw::RawComponent;
use super::validate::Validator;

/// `log_max_size` when not set.
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 * 1000 * 1000;
/// `log_backups` when not set.
pub const DEFAULT_LOG_BACKUPS: u32 = 5;
/// The most backups a file may keep: more is a typo, and each one is a
/// rename at every rotation.
pub const MAX_LOG_BACKUPS: i64 = 100;

/// A component's log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The file its lines are written to (`log_file`), if any.
    pub file: Option<LogFileSpec>,
    /// Whether a process's output is also forwarded to sundown's stderr
    /// (`log_stderr`, default true).
    pub stderr: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            file: None,
            stderr: true,
        }
    }
}

/// Where and how big: `x.log`, rotated to `x.log.1` … `x.log.{backups}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogFileSpec {
    /// The file, `{name}` replaced, resolved against the config's directory.
    pub path: PathBuf,
    /// Bytes after which the file is rotated (`log_max_size`).
    pub max_size: u64,
    /// Rotated files kept (`log_backups`); 0 truncates instead.
    pub backups: u32,
}

/// `"10MB"`, `"512KiB"`, `"1000"` (bytes): decimal units are powers of
/// 1000 and binary ones of 1024, as the IEC defines them.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1 << 10,
        "mb" | "m" => 1000 * 1000,
        "mib" => 1 << 20,
        "gb" | "g" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl Validator<'_> {
    /// Reads a component's log keys.
    pub(super) fn log_settings(&mut self, name: &str, c: &RawComponent) -> LogSettings {
        let max_size = match &c.log_max_size {
            None => DEFAULT_LOG_MAX_SIZE,
            Some(s) => match parse_size(s.get_ref()) {
                Some(0) | None => {
                    self.error(
                        s.span(),
                        format!(
                            "component `{name}`: log_max_size: `{}` is not a size like \"10MB\", \"512KiB\" or \"1000\" (bytes), above zero",
                            s.get_ref()
                        ),
                    );
                    DEFAULT_LOG_MAX_SIZE
                }
                Some(n) => n,
            },
        };
        let backups = match &c.log_backups {
            None => DEFAULT_LOG_BACKUPS,
            Some(b) => match u32::try_from(*b.get_ref()) {
                Ok(n) if i64::from(n) <= MAX_LOG_BACKUPS => n,
                _ => {
                    self.error(
                        b.span(),
                        format!(
                            "component `{name}`: log_backups: {} is not between 0 and {MAX_LOG_BACKUPS}",
                            b.get_ref()
                        ),
                    );
                    DEFAULT_LOG_BACKUPS
                }
            },
        };
        let file = match &c.log_file {
            Some(f) if f.get_ref().trim().is_empty() => {
                self.error(
                    f.span(),
                    format!("component `{name}`: log_file is empty; remove it to keep no file"),
                );
                None
            }
            Some(f) => Some(LogFileSpec {
                path: self.base_dir.join(f.get_ref().replace("{name}", name)),
                max_size,
                backups,
            }),
            None => {
                for (key, span) in [
                    ("log_max_size", c.log_max_size.as_ref().map(Spanned::span)),
                    ("log_backups", c.log_backups.as_ref().map(Spanned::span)),
                ] {
                    if let Some(span) = span {
                        self.warn(
                            span,
                            format!("component `{name}`: {key} has no effect without log_file"),
                        );
                    }
                }
                None
            }
        };
        LogSettings {
            file,
            stderr: c.log_stderr.as_ref().is_none_or(|s| *s.get_ref()),
        }
    }

    /// Two components writing one file would interleave and rotate it
    /// under each other: an error at the second one's `log_file`.
    pub(super) fn shared_log_files(
        &mut self,
        components: &[ComponentSpec],
        spans: &HashMap<String, Range<usize>>,
    ) {
        let mut owners: HashMap<&PathBuf, &str> = HashMap::new();
        for c in components {
            let Some(file) = &c.log.file else { continue };
            if let Some(first) = owners.insert(&file.path, &c.name) {
                owners.insert(&file.path, first);
                let span = spans.get(&c.name).cloned().unwrap_or(0..0);
                self.error(
                    span,
                    format!(
                        "component `{}`: log_file {} is also `{first}`'s; two writers on one file would rotate it under each other (put `{{name}}` in the path)",
                        c.name,
                        file.path.display()
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("512KiB"), Some(512 * 1024));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("2 gib"), Some(2 << 30));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("10XB"), None);
        assert_eq!(parse_size("99999999999999999999GB"), None);
    }
}
