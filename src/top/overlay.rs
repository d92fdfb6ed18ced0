//! What is drawn over the screen: the help, and the question before a change.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::Pending;
use super::keys::HELP;
use super::plan::Answer;

/// A box of `width` × `height` in the middle of the screen, cleared.
fn boxed(frame: &mut Frame<'_>, width: u16, height: u16) -> Rect {
    let [area] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(frame.area());
    let [area] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(Clear, area);
    area
}

pub(crate) fn help(frame: &mut Frame<'_>) {
    let lines: Vec<Line<'_>> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::from(format!(" {k:14}")).bold(),
                Span::from(*what),
            ])
        })
        .chain([Line::from(""), Line::from(" any key closes this").dim()])
        .collect();
    let height = u16::try_from(lines.len()).unwrap_or(20) + 2;
    let area = boxed(frame, 72, height);
    let block = Block::bordered().title(" keys ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

pub(crate) fn confirm(frame: &mut Frame<'_>, p: &Pending) {
    let question = match &p.name {
        Some(n) => format!(" {} {n}? ", p.verb.as_str()),
        None => format!(" {}? ", p.verb.as_str()),
    };
    let mut lines: Vec<Line<'_>> = p
        .plan
        .lines()
        .iter()
        .flat_map(|l| wrap(l, usize::from(CONFIRM_WIDTH - 2)))
        .map(Line::from)
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(match &p.plan {
        Answer::Plan(_) => vec![
            Span::from("y").bold(),
            Span::from(" go ahead · "),
            Span::from("n").bold(),
            Span::from(" cancel"),
        ],
        Answer::Asking => vec![Span::from("n").bold(), Span::from(" cancel")],
        Answer::Refused(_) => vec![Span::from("n").bold(), Span::from(" close")],
    }));
    let height = u16::try_from(lines.len()).unwrap_or(20) + 2;
    let area = boxed(frame, CONFIRM_WIDTH, height);
    let block = Block::bordered()
        .title(question)
        .border_style(Style::new().fg(Color::Yellow));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

const CONFIRM_WIDTH: u16 = 64;

/// `text` in lines of at most `width` characters, broken between words
/// (a word longer than that is cut), so that the box can be as high as
/// its text.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let used = line.chars().count();
        if used > 0 && used + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let rest: String = line.chars().skip(width).collect();
            out.push(line.chars().take(width).collect());
            line = rest;
        }
    }
    out.push(line);
    out
}
