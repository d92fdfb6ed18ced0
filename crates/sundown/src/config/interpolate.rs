//! `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$$` in string
//! settings, as Docker Compose writes them, with one difference: a `$` not
//! followed by `{` or `$` stays as it is. Commands are often shell scripts
//! (`sh -c 'echo $HOME; wait $!'`), and interpolating `$NAME` there would
//! replace at config time what the shell is meant to expand at run time, or
//! refuse the config for a variable only the script defines.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

/// Where a variable's value comes from: maps searched in order, then
/// sundown's own environment.
pub(crate) struct Scope<'a> {
    pub(crate) layers: Vec<&'a BTreeMap<String, String>>,
    pub(crate) host: &'a dyn Fn(&str) -> Option<String>,
}

impl Scope<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.layers
            .iter()
            .find_map(|l| l.get(name).cloned())
            .or_else(|| (self.host)(name))
    }
}

/// What is wrong with a string, at byte `at` of the string as parsed (the
/// `$` of the `${` concerned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) at: usize,
    pub(crate) message: String,
}

/// `s` with every `${…}` replaced and every `$$` made `$`; borrowed when
/// there is nothing to replace.
pub(crate) fn interpolate<'s>(s: &'s str, scope: &Scope<'_>) -> Result<Cow<'s, str>, Problem> {
    if !s.contains('$') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut p = Parser { s, scope };
    let end = p.expand(0, None, Some(&mut out))?;
    debug_assert_eq!(end, s.len());
    Ok(Cow::Owned(out))
}

struct Parser<'s, 'a> {
    s: &'s str,
    scope: &'a Scope<'a>,
}

impl Parser<'_, '_> {
    /// Copies text from byte `i` into `out` (nothing is looked up when
    /// `out` is `None`: a default that is not used must still be well
    /// formed, but its variables need not be set). Inside a `${` opened at
    /// `open`, stops at its `}` and returns where that is; else at the end.
    fn expand(
        &mut self,
        mut i: usize,
        open: Option<usize>,
        mut out: Option<&mut String>,
    ) -> Result<usize, Problem> {
        let bytes = self.s.as_bytes();
        let mut copied = i;
        let flush = |out: &mut Option<&mut String>, from: usize, to: usize, s: &str| {
            if let Some(o) = out.as_deref_mut() {
                o.push_str(&s[from..to]);
            }
        };
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1)) {
                (b'$', Some(b'$')) => {
                    flush(&mut out, copied, i + 1, self.s);
                    i += 2;
                    copied = i;
                }
                (b'$', Some(b'{')) => {
                    flush(&mut out, copied, i, self.s);
                    i = self.braced(i, out.as_deref_mut())?;
                    copied = i;
                }
                (b'}', _) if open.is_some() => {
                    flush(&mut out, copied, i, self.s);
                    return Ok(i);
                }
                _ => i += 1,
            }
        }
        match open {
            Some(at) => Err(Problem {
                at,
                message: "`${` is not closed by a `}`".into(),
            }),
            None => {
                flush(&mut out, copied, i, self.s);
                Ok(i)
            }
        }
    }

    /// The `${…}` beginning at byte `at`; returns the byte after its `}`.
    fn braced(&mut self, at: usize, out: Option<&mut String>) -> Result<usize, Problem> {
        let bytes = self.s.as_bytes();
        let start = at + 2;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end] == b'_'
                || bytes[end].is_ascii_alphabetic()
                || (end > start && bytes[end].is_ascii_digit()))
        {
            end += 1;
        }
        let name = &self.s[start..end];
        let problem = |message: String| Problem { at, message };
        if name.is_empty() {
            let shown = shown(&self.s[at..]);
            return Err(problem(format!(
                "`{shown}`: `${{` must be followed by a variable name (letters, digits and `_`); write `$${{` for a literal `${{`"
            )));
        }
        let value = if out.is_some() {
            self.scope.get(name)
        } else {
            None
        };
        let rest = &bytes[end..];
        if rest.first() == Some(&b'}') {
            if let Some(out) = out {
                let Some(value) = value else {
                    return Err(problem(format!(
                        "variable `{name}` is not set; set it in an env_file or sundown's environment, or give a default: ${{{name}:-default}}"
                    )));
                };
                out.push_str(&value);
            }
            return Ok(end + 1);
        }
        if rest.is_empty() {
            return Err(problem("`${` is not closed by a `}`".into()));
        }
        let unset_or_empty = value.as_deref().is_none_or(str::is_empty);
        match rest.get(..2) {
            Some(b":-") => {
                let mut default = String::new();
                let want = out.is_some() && unset_or_empty;
                let close = self.expand(end + 2, Some(at), want.then_some(&mut default))?;
                if let Some(out) = out {
                    out.push_str(if want {
                        &default
                    } else {
                        value.as_deref().unwrap_or("")
                    });
                }
                Ok(close + 1)
            }
            Some(b":?") => {
                let mut message = String::new();
                let want = out.is_some() && unset_or_empty;
                let close = self.expand(end + 2, Some(at), want.then_some(&mut message))?;
                if want {
                    let message = if message.is_empty() {
                        "it is required".to_string()
                    } else {
                        message
                    };
                    let how = if value.is_none() { "not set" } else { "empty" };
                    return Err(problem(format!("variable `{name}` is {how}: {message}")));
                }
                if let Some(out) = out {
                    out.push_str(value.as_deref().unwrap_or(""));
                }
                Ok(close + 1)
            }
            _ => {
                let shown = shown(&self.s[at..]);
                Err(problem(format!(
                    "`{shown}`: expected `}}`, `:-default` or `:?message` after `${{{name}`"
                )))
            }
        }
    }
}

/// The beginning of a bad `${…}`, short enough for a message.
fn shown(s: &str) -> String {
    let end = s.find('}').map_or(s.len(), |i| i + 1);
    let shown: String = s[..end].chars().take(40).collect();
    if shown.len() < end {
        format!("{shown}…")
    } else {
        shown
    }
}

/// Where in the file the `$` at byte `at` of `value` is, `value` being the
/// string whose TOML source is `text[span]`. Escapes make the two differ in
/// length, but a `$` is only ever written as itself (`\u0024` aside), so
/// the n-th `$` of one is the n-th of the other; when they do not match,
/// the value's own place is the best there is.
pub(crate) fn place_in_file(text: &str, span: Range<usize>, value: &str, at: usize) -> usize {
    let n = value[..at.min(value.len())].matches('$').count();
    let Some(source) = text.get(span.clone()) else {
        return span.start;
    };
    if source.matches('$').count() != value.matches('$').count() {
        return span.start;
    }
    source
        .match_indices('$')
        .nth(n)
        .map_or(span.start, |(i, _)| span.start + i)
}

/// `s` as a string setting that interpolates back to `s`. A lone `$` that
/// stays as written is left alone, so a shell's `$HOME` or `$!` reads as it
/// did; every `$` of a run of them, or before a `{`, is doubled.
pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains("$$") && !s.contains("${") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let run = rest[i..].bytes().take_while(|&b| b == b'$').count();
        let after = &rest[i + run..];
        let dollars = if run == 1 && !after.starts_with('{') {
            1
        } else {
            2 * run
        };
        out.extend(std::iter::repeat_n('$', dollars));
        rest = after;
    }
    out.push_str(rest);
    Cow::Owned(out)
}
