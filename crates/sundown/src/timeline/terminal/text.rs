//! Styled text for the terminal timeline: a [`Line`] is spans of text in a
//! [`Style`], measured in characters (not bytes, not escapes) so a line can
//! be cut to the terminal's width before any colour is added; and the
//! helpers that wrap and pad such lines.

use std::fmt::Write as _;

use crate::timeline::cut;

/// A colour or weight; `Plain` is never wrapped in escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    RedBold,
    Yellow,
    Green,
    Blue,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::RedBold => "1;31",
            Style::Yellow => "33",
            Style::Green => "32",
            Style::Blue => "34",
        }
    }
}

/// A line of styled text, measured in characters.
#[derive(Debug, Clone, Default)]
pub(super) struct Line {
    spans: Vec<(Style, String)>,
}

impl Line {
    pub(super) fn new() -> Line {
        Line::default()
    }

    pub(super) fn plain(text: impl Into<String>) -> Line {
        Line::new().with(Style::Plain, text)
    }

    pub(super) fn with(mut self, style: Style, text: impl Into<String>) -> Line {
        self.push(style, text);
        self
    }

    /// Appends `text`; a control character in it (an escape, a newline: a
    /// report may name anything) is shown as `�`, so that it can neither
    /// drive the terminal nor break the line.
    pub(super) fn push(&mut self, style: Style, text: impl Into<String>) {
        let mut text = text.into();
        if text.is_empty() {
            return;
        }
        if text.contains(char::is_control) {
            text = text
                .chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .collect();
        }
        match self.spans.last_mut() {
            Some((s, t)) if *s == style => t.push_str(&text),
            _ => self.spans.push((style, text)),
        }
    }

    pub(super) fn append(&mut self, other: Line) {
        for (style, text) in other.spans {
            self.push(style, text);
        }
    }

    pub(super) fn width(&self) -> usize {
        self.spans.iter().map(|(_, t)| t.chars().count()).sum()
    }

    /// At most `width` characters (the last one `…` when cut), trailing
    /// blanks removed, with ANSI colours when `color`.
    pub(super) fn render(&self, width: usize, color: bool) -> String {
        let total = self.width();
        let budget = if total > width {
            width.saturating_sub(1)
        } else {
            width
        };
        let mut spans: Vec<(Style, String)> = Vec::new();
        let mut used = 0;
        for (style, text) in &self.spans {
            let take: String = text.chars().take(budget - used).collect();
            used += take.chars().count();
            spans.push((*style, take));
            if used == budget {
                break;
            }
        }
        if total > width && width > 0 {
            spans.push((Style::Plain, "…".to_string()));
        }
        // Trailing blanks.
        while let Some((_, t)) = spans.last_mut() {
            let trimmed = t.trim_end_matches(' ').len();
            t.truncate(trimmed);
            if t.is_empty() {
                spans.pop();
            } else {
                break;
            }
        }
        let mut out = String::new();
        for (style, text) in spans {
            if color && style != Style::Plain {
                let _ = write!(out, "\x1b[{}m{text}\x1b[0m", style.sgr());
            } else {
                out.push_str(&text);
            }
        }
        out
    }
}

/// Packs items into lines of at most `width` characters, `sep` between
/// items on one line.
pub(super) fn wrap_items(items: Vec<Line>, sep: &str, width: usize) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut cur = Line::new();
    for item in items {
        if cur.width() > 0 && cur.width() + sep.chars().count() + item.width() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if cur.width() > 0 {
            cur.push(Style::Plain, sep);
        }
        cur.append(item);
    }
    if cur.width() > 0 {
        lines.push(cur);
    }
    lines
}

/// Word-wraps `text` into lines of at most `width` characters, the first
/// starting with `first`, the others indented as wide (at most `width`:
/// a longer indent would be cut off anyway, and a name of a megabyte must
/// not cost a megabyte a line).
pub(super) fn wrap_words(first: Line, text: &str, style: Style, width: usize) -> Vec<Line> {
    let indent = " ".repeat(first.width().min(width));
    let mut lines = Vec::new();
    let mut cur = first;
    let mut fresh = true;
    let mut words: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        // Keep `501 ms` together.
        match words.last_mut() {
            Some(prev) if word.starts_with("ms") => {
                prev.push(' ');
                prev.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
    }
    for word in &words {
        if !fresh && cur.width() + 1 + word.chars().count() > width {
            lines.push(std::mem::replace(&mut cur, Line::plain(indent.clone())));
            fresh = true;
        }
        if !fresh {
            cur.push(style, " ");
        }
        cur.push(style, word);
        fresh = false;
    }
    lines.push(cur);
    lines
}

/// Pads or cuts `s` to exactly `w` characters (`…` marks a cut).
pub(super) fn fit(s: &str, w: usize) -> String {
    if w == 0 {
        return String::new();
    }
    let s = cut(s, w);
    let pad = w - s.chars().count();
    format!("{s}{}", " ".repeat(pad))
}
