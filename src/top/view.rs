//! Drawing the [`App`]: a title line, the components in graph order, what
//! a shutdown waits on (or how the run ended), the selected component's
//! log, and a footer; the help and the confirmation above them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table, TableState};
use sundown::status::ComponentState as S;

use super::app::{App, Mode};
use super::{overlay, panes, usage};

/// Draws the whole screen.
pub(crate) fn render(frame: &mut Frame<'_>, app: &App) {
    let rows = app.rows();
    let extra = panes::height(app);
    // Two for the border and one for the header.
    let table = u16::try_from(rows.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3);
    let [title, list, pane, logs, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Max(table.max(4)),
        Constraint::Length(extra),
        Constraint::Min(3),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    frame.render_widget(title_line(app), title);
    render_table(frame, list, app, &rows);
    panes::render(frame, pane, app);
    panes::render_logs(frame, logs, app);
    frame.render_widget(footer_lines(app), footer);
    match &app.mode {
        Mode::Help => overlay::help(frame),
        Mode::Confirm(p) => overlay::confirm(frame, p),
        Mode::Normal | Mode::Filter => {}
    }
}

fn title_line(app: &App) -> Paragraph<'static> {
    let state = app.view.as_ref().map_or("connecting", |v| match v.state {
        sundown::State::Starting => "starting",
        sundown::State::Running => "running",
        sundown::State::Stopping => "stopping",
        sundown::State::Done => "done",
    });
    let state = if app.ended.is_some() { "ended" } else { state };
    let up = app
        .view
        .as_ref()
        .map_or_else(String::new, |v| format!(" · up {}", duration(v.now_ms)));
    Paragraph::new(Line::from(vec![
        Span::from(" sundown top ").bold().reversed(),
        Span::from(format!(" {} · {state}{up}", app.socket.display())),
    ]))
}

fn render_table(frame: &mut Frame<'_>, area: Rect, app: &App, rows: &[super::app::Row<'_>]) {
    let now = app.view.as_ref().map_or(0.0, |v| v.now_ms);
    let header = [
        "NAME",
        "STATE",
        "PID",
        "FOR",
        "RESTARTS",
        "LAST EXIT",
        "CPU",
        "MEM",
    ]
    .map(|h| Cell::from(h).bold());
    let body = rows.iter().map(|r| {
        let c = r.c;
        TableRow::new(vec![
            Cell::from(format!("{}{}", "  ".repeat(r.level), c.name)),
            Cell::from(c.state.as_str()).style(state_style(c.state)),
            Cell::from(c.pid.map_or_else(|| "–".into(), |p| p.to_string())),
            Cell::from(duration(now - c.since_ms)),
            Cell::from(c.restarts.to_string()),
            Cell::from(c.last_exit.clone().unwrap_or_else(|| "–".into())),
            Cell::from(usage::cpu_text(c.usage, r.cpu)),
            Cell::from(usage::memory_text(c.usage)),
        ])
    });
    // The highlight symbol's two columns, the indent and the longest name.
    let name = rows
        .iter()
        .map(|r| 2 * r.level + r.c.name.chars().count())
        .max()
        .unwrap_or(4);
    let widths = [
        Constraint::Length(u16::try_from(name).unwrap_or(u16::MAX).max(4)),
        Constraint::Length(13),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Fill(1),
        Constraint::Length(10),
        Constraint::Length(9),
    ];
    let title = if app.filter.is_empty() {
        " components ".to_string()
    } else {
        format!(" components matching `{}` ", app.filter)
    };
    let table = Table::new(body, widths)
        .header(TableRow::new(header))
        .block(Block::bordered().title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let selected = rows
        .iter()
        .position(|r| Some(&r.c.name) == app.selected.as_ref());
    let mut state = TableState::new().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// Each state's colour: green up, yellow on the way, red failing or being
/// killed, grey down.
pub(crate) fn state_style(s: S) -> Style {
    let color = match s {
        S::Ready => Color::Green,
        S::Pending | S::Starting | S::Restarting => Color::Yellow,
        S::Stopping => Color::Magenta,
        S::Killing | S::Failed => Color::Red,
        S::Completed => Color::Blue,
        S::Stopped | S::Exited | S::NeverStarted => Color::DarkGray,
    };
    Style::new().fg(color)
}

fn footer_lines(app: &App) -> Paragraph<'static> {
    let first = match &app.mode {
        Mode::Filter => Line::from(vec![
            Span::from(format!(" filter: {}▏", app.filter)).bold(),
            Span::from("  Enter keeps it · Esc clears it"),
        ]),
        // Until the status is read again, that it is not is what matters most.
        _ => Line::from(format!(
            " {}",
            app.trouble
                .clone()
                .or_else(|| app.messages.back().cloned())
                .unwrap_or_default()
        )),
    };
    let keys = if app.ended.is_some() {
        " q quit"
    } else {
        " s stop · t start · r restart · R reload · / filter · ? help · q quit"
    };
    Paragraph::new(vec![first, Line::from(keys).dim()])
}

/// `4.2s`, `3m04s`, `1h02m`.
pub(crate) fn duration(ms: f64) -> String {
    let s = (ms / 1000.0).max(0.0);
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    // Whole seconds are all a column this narrow shows.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = s as u64;
    if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}
