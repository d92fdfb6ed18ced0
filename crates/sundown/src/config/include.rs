//! `include = ["base.toml", …]`: a config made of several files. The
//! included files hold components (and `[phase_timeouts]`); the config that
//! includes them holds everything else. They are read once, appended to the
//! config's text, and validated as one, so a component in one file can
//! depend on a component in another and `${VAR}` and env files work the
//! same everywhere; every problem is still told at its own file's
//! `line:col` (see [`Segment`]). A reload reads them all again.
//!
//! Paths are relative to the including config's directory, and so are the
//! relative paths inside an included file (as if it were written in the
//! config), which keeps a component's meaning the same wherever its table
//! lives. An included file cannot include others: one list, in one place.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::{ConfigError, Located};
use crate::diagnostic::{Segment, Source};

/// The tables an included file may hold.
const ALLOWED: [&str; 2] = ["components", "phase_timeouts"];
/// Files a config may include, and the bytes of each (a config is text a
/// person writes; anything bigger is a mistake).
const MAX_FILES: usize = 64;
const MAX_BYTES: u64 = 4 << 20;

/// A config and the files it includes, as one text.
pub(crate) struct Combined {
    pub(crate) text: String,
    pub(crate) segments: Vec<Segment>,
}

#[derive(Deserialize)]
struct IncludeOnly {
    include: Option<Spanned<Vec<Spanned<String>>>>,
}

/// The config `text` (named `file`) followed by the files it includes.
/// A config whose text does not parse is returned as it is: the first
/// pass reports that better.
pub(crate) fn combine(text: &str, file: &str, base_dir: &Path) -> Result<Combined, ConfigError> {
    let alone = || Combined {
        text: text.to_string(),
        segments: Vec::new(),
    };
    let Ok(IncludeOnly {
        include: Some(list),
    }) = toml::from_str::<IncludeOnly>(text)
    else {
        return Ok(alone());
    };
    let main = Source {
        text,
        file,
        segments: &[],
    };
    let fail = |located: Vec<Located>| ConfigError {
        file: file.to_string(),
        diagnostics: located,
    };
    if list.get_ref().len() > MAX_FILES {
        return Err(fail(vec![main.locate(
            list.span(),
            format!("include: at most {MAX_FILES} files"),
        )]));
    }
    // Where each component is defined first, to name both places of a second.
    let mut defined: HashMap<String, (String, usize, usize)> = HashMap::new();
    names_in(text, &main, &mut defined)?;
    let mut combined = text.to_string();
    let mut segments = Vec::new();
    let mut problems = Vec::new();
    for entry in list.get_ref() {
        let path = base_dir.join(entry.get_ref());
        let name = path.display().to_string();
        let included = match read(&path) {
            Ok(t) => t,
            Err(e) => {
                problems
                    .push(main.locate(entry.span(), format!("include: cannot read {name}: {e}")));
                continue;
            }
        };
        let source = Source {
            text: &included,
            file: &name,
            segments: &[],
        };
        if let Err(e) = check_tables(&included, &source) {
            problems.extend(e.into_iter().map(|mut l| {
                l.file = Some(name.clone());
                l
            }));
            continue;
        }
        if let Err(e) = names_in(&included, &source, &mut defined) {
            problems.extend(e.diagnostics);
            continue;
        }
        if !combined.ends_with('\n') {
            combined.push('\n');
        }
        segments.push(Segment {
            start: combined.len(),
            first_line: combined.matches('\n').count() + 1,
            file: name,
        });
        combined += &included;
    }
    if problems.is_empty() {
        Ok(Combined {
            text: combined,
            segments,
        })
    } else {
        Err(fail(problems))
    }
}

fn read(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {} MiB",
            MAX_BYTES >> 20
        )));
    }
    Ok(text)
}

/// An included file holds components and phase timeouts, nothing else.
fn check_tables(text: &str, source: &Source<'_>) -> Result<(), Vec<Located>> {
    let doc = DeTable::parse(text).map_err(|e| {
        vec![source.locate(e.span().unwrap_or(0..0), e.message().trim_end().to_string())]
    })?;
    let mut problems = Vec::new();
    // Appended after the config's last table, a key before the first
    // header would land in that table: every line of the file must be in
    // a table of its own.
    if let Some((at, line)) = text
        .lines()
        .scan(0, |at, l| {
            let start = *at;
            *at += l.len() + 1;
            Some((start, l))
        })
        .find(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
        && !line.trim_start().starts_with('[')
    {
        problems.push(source.locate(
            at..at,
            "an included file begins with a table header ([components.NAME] or [phase_timeouts]), not with a key",
        ));
    }
    for (key, _) in doc.get_ref() {
        let k = key.get_ref().as_ref();
        if k == "include" {
            problems.push(source.locate(
                key.span(),
                "an included file cannot include others: list every file in the config's own `include`",
            ));
        } else if !ALLOWED.contains(&k) {
            problems.push(source.locate(
                key.span(),
                format!("`{k}` cannot be in an included file, only [components.*] and [phase_timeouts]: put it in the config that includes this one"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Records the components `text` defines; one defined before is an error
/// at its second place, naming the first.
fn names_in(
    text: &str,
    source: &Source<'_>,
    defined: &mut HashMap<String, (String, usize, usize)>,
) -> Result<(), ConfigError> {
    let Ok(doc) = DeTable::parse(text) else {
        // The first pass names the syntax error.
        return Ok(());
    };
    let Some(components) = doc.get_ref().get("components") else {
        return Ok(());
    };
    let toml::de::DeValue::Table(table) = components.get_ref() else {
        return Ok(());
    };
    let mut problems = Vec::new();
    for (key, _) in table {
        let name = key.get_ref().to_string();
        let span: Range<usize> = key.span();
        let here = source.locate(span.clone(), "");
        let file = here.file.clone().unwrap_or_else(|| source.file.to_string());
        match defined.get(&name) {
            Some((f, line, column)) => {
                let mut l = source.locate(
                    span,
                    format!("component `{name}` is defined twice: here and at {f}:{line}:{column}"),
                );
                l.file = Some(source.file.to_string());
                problems.push(l);
            }
            None => {
                defined.insert(name, (file, here.line, here.column));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError {
            file: source.file.to_string(),
            diagnostics: problems,
        })
    }
}
