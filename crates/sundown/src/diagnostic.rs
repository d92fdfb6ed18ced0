//! Where a config problem is and how it reads: the vocabulary shared by the
//! config validator and every kind's settings, so that a kind written outside
//! this crate reports `file:line:col` exactly like a built-in one.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

pub(crate) mod lenient;

/// Anything longer than this is almost certainly a typo (`"30h"` for `"30s"`).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// A problem at a line and column (1-based; 0 when the problem has no place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, naming the component where there is one.
    pub message: String,
    /// The file it is in when that is not the config itself but a file it
    /// includes (`include = [...]`); `line` and `column` are then that file's.
    pub file: Option<String>,
}

/// `file:line:col: severity: message`, or `file: severity: message` without a place.
pub(crate) fn render(
    f: &mut impl fmt::Write,
    file: &str,
    d: &Located,
    severity: &str,
) -> fmt::Result {
    let file = d.file.as_deref().unwrap_or(file);
    if d.line == 0 {
        write!(f, "{file}: {severity}: {}", d.message)
    } else {
        write!(
            f,
            "{file}:{}:{}: {severity}: {}",
            d.line, d.column, d.message
        )
    }
}

/// Where an included file's text begins in the text being validated (the
/// config followed by the files it includes), so that a place in it is
/// told in that file's own lines.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// Its first byte in the combined text.
    pub(crate) start: usize,
    /// The combined text's line (1-based) on which it begins.
    pub(crate) first_line: usize,
    /// The file, as it is named in messages.
    pub(crate) file: String,
}

/// The text being validated, to turn byte spans into lines and columns.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: &'a str,
    /// The included files' parts of `text`, in order; empty without includes.
    pub(crate) segments: &'a [Segment],
}

impl Source<'_> {
    pub(crate) fn locate(&self, span: Range<usize>, message: impl Into<String>) -> Located {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        match self.segments.iter().rev().find(|s| s.start <= start) {
            Some(s) => Located {
                line: line + 1 - s.first_line,
                column,
                message: message.into(),
                file: Some(s.file.clone()),
            },
            None => Located {
                line,
                column,
                message: message.into(),
                file: None,
            },
        }
    }
}

/// Whether a duration setting may be zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Zero {
    /// `"0s"` is a meaningful value (no delay).
    Allowed,
    /// `"0s"` is an error (a timeout of zero would fire at once).
    Rejected,
}

/// Every problem found in one pass, errors and warnings apart.
pub(crate) struct Diagnostics<'a> {
    pub(crate) source: Source<'a>,
    pub(crate) errors: Vec<Located>,
    pub(crate) warnings: Vec<String>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(source: Source<'a>) -> Diagnostics<'a> {
        Diagnostics {
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let located = self.source.locate(span, message);
        self.errors.push(located);
    }

    pub(crate) fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        let located = self.source.locate(span, message);
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = render(&mut s, self.source.file, &located, "warning");
        self.warnings.push(s);
    }

    /// A duration setting; `what` names it in messages ("component `web`: stop_timeout").
    pub(crate) fn duration(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        let text = value.get_ref().trim();
        if text.starts_with('-') {
            self.error(value.span(), format!("{what}: `{text}` is negative"));
            return None;
        }
        match humantime::parse_duration(text) {
            Err(e) => {
                self.error(
                    value.span(),
                    format!("{what}: `{text}` is not a duration ({e}); write e.g. \"250ms\", \"30s\", \"1m30s\""),
                );
                None
            }
            Ok(d) if d.is_zero() && zero == Zero::Rejected => {
                self.error(value.span(), format!("{what} must be greater than zero"));
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.error(
                    value.span(),
                    format!(
                        "{what}: `{text}` is longer than {}; is the unit right?",
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
        }
    }

    pub(crate) fn opt_duration(
        &mut self,
        value: &Option<Spanned<String>>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        value.as_ref().and_then(|v| self.duration(v, what, zero))
    }
}

/// ` (did you mean `x`?)` when a candidate is close enough, else nothing.
pub fn hint(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// The closest known name, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}
