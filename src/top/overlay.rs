//! What is drawn over the screen: the help, and the question before a change.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::Pending;
use super::keys::HELP;

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
    let mut lines: Vec<Line<'_>> = p.plan.iter().map(|l| Line::from(l.as_str())).collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::from("y").bold(),
        Span::from(" go ahead · "),
        Span::from("n").bold(),
        Span::from(" cancel"),
    ]));
    let height = u16::try_from(lines.len()).unwrap_or(20) + 2;
    let area = boxed(frame, 64, height);
    let block = Block::bordered()
        .title(question)
        .border_style(Style::new().fg(Color::Yellow));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
