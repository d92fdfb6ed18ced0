//! The panes under the list: what a shutdown waits on, with a countdown
//! bar to each forced kill and to the end of the budget; how the run
//! ended; the selected component's log.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize as _};
use ratatui::symbols;
use ratatui::text::Line;
use ratatui::widgets::{Block, LineGauge, Paragraph, Wrap};
use sundown::status::{ComponentState, ShutdownView, StatusView};

use super::app::App;

/// Rows the shutdown or ended pane takes (0 when there is none).
pub(crate) fn height(app: &App) -> u16 {
    let lines = match (
        &app.ended,
        app.view.as_ref().and_then(|v| v.shutdown.as_ref()),
    ) {
        (Some(lines), _) => lines.len(),
        // The phase line, a bar per component waited on, the budget's.
        (None, Some(s)) => s.waiting_on.len() + 2,
        (None, None) => return 0,
    };
    u16::try_from(lines).unwrap_or(u16::MAX).saturating_add(2)
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, app: &App) {
    if let Some(lines) = &app.ended {
        let text: Vec<Line<'_>> = lines.iter().map(|l| Line::from(l.as_str())).collect();
        let block = Block::bordered()
            .title(" ended ")
            .border_style(Style::new().fg(Color::Yellow));
        let para = Paragraph::new(text).block(block).wrap(Wrap { trim: false });
        frame.render_widget(para, area);
    } else if let Some(v) = &app.view
        && let Some(s) = &v.shutdown
    {
        shutdown(frame, area, app, v, s);
    }
}

fn shutdown(frame: &mut Frame<'_>, area: Rect, app: &App, v: &StatusView, s: &ShutdownView) {
    let block = Block::bordered()
        .title(" shutdown ")
        .border_style(Style::new().fg(Color::Magenta));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = Layout::vertical(vec![Constraint::Length(1); s.waiting_on.len() + 2]).split(inner);
    // Once forced, no phase runs and no deadline is left: say so, as the
    // status table and the log do, rather than show a stale phase.
    let phase = match (s.forced, s.phase) {
        (Some(reason), _) => format!(" · {}", reason.forced_text()),
        (None, Some(p)) => format!(" · phase {p}/{}", s.phases),
        (None, None) => String::new(),
    };
    let waits = match (s.waiting_on.is_empty(), s.forced.is_some()) {
        (true, _) => "waiting on nothing".to_string(),
        (false, true) => format!("waiting on {} to end", s.waiting_on.join(", ")),
        (false, false) => format!("waiting on {}", s.waiting_on.join(", ")),
    };
    frame.render_widget(
        Paragraph::new(format!("{}{phase} · {waits}", s.trigger)).bold(),
        rows[0],
    );
    let width = s
        .waiting_on
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(6);
    for (k, name) in s.waiting_on.iter().enumerate() {
        let Some(c) = v.components.iter().find(|c| &c.name == name) else {
            continue;
        };
        let (ratio, label) = match (c.state, c.kill_in_ms) {
            (ComponentState::Killing, _) => (0.0, "killed, waiting for it to end".to_string()),
            _ if s.forced.is_some() => (0.0, "being killed".to_string()),
            (_, Some(left)) => {
                // From its stop request (when it entered `stopping`) to its kill.
                let window = v.now_ms + left - c.since_ms;
                (
                    ratio(left, window),
                    format!("killed in {:.1}s", left / 1000.0),
                )
            }
            (_, None) => (1.0, "no forced kill".to_string()),
        };
        let mut note = label;
        if let Some(d) = &c.detail {
            note = format!("{note} ({d})");
        }
        frame.render_widget(
            bar(format!("{name:width$}  {note}"), ratio, Color::Red),
            rows[k + 1],
        );
    }
    let total = app
        .order
        .as_ref()
        .map_or(app.budget_seen_ms, |o| o.budget.as_secs_f64() * 1000.0);
    let (label, left) = if s.forced.is_some() {
        (format!("{:width$}  no longer waited on", "budget"), 0.0)
    } else {
        let label = format!(
            "{:width$}  {:.1}s left",
            "budget",
            s.budget_left_ms / 1000.0
        );
        (label, ratio(s.budget_left_ms, total))
    };
    frame.render_widget(
        bar(label, left, Color::Yellow),
        rows[s.waiting_on.len() + 1],
    );
}

/// What is left of a countdown, between 0 and 1.
fn ratio(left: f64, total: f64) -> f64 {
    if total > 0.0 {
        (left / total).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn bar(label: String, ratio: f64, color: Color) -> LineGauge<'static> {
    LineGauge::default()
        .ratio(ratio)
        .label(label)
        .filled_style(Style::new().fg(color))
        .unfilled_style(Style::new().fg(Color::DarkGray))
        .filled_symbol(symbols::line::THICK_HORIZONTAL)
        .unfilled_symbol(symbols::line::HORIZONTAL)
}

pub(crate) fn render_logs(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let title = match &app.logs.name {
        Some(n) => format!(" log: {n} (follows) "),
        None => " log ".to_string(),
    };
    let block = Block::bordered().title(title);
    let shown = usize::from(block.inner(area).height);
    let skip = app.logs.lines.len().saturating_sub(shown);
    let lines: Vec<Line<'_>> = app
        .logs
        .lines
        .iter()
        .skip(skip)
        .map(|l| Line::from(l.as_str()))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
