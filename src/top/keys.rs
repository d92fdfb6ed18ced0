//! What each key does, by mode. Keys change the [`App`]; what needs the
//! socket comes back as an [`Effect`] for the I/O loop.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Mode};
use super::plan::{Answer, Verb};

/// What the I/O loop must do after a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Nothing,
    Quit,
    /// Ask the supervisor what this change would do (a dry run).
    Preview(Verb, Option<String>),
    /// Send this change (the operator said yes).
    Send(Verb, Option<String>),
}

/// The help overlay's lines: key, what it does.
pub(crate) const HELP: &[(&str, &str)] = &[
    ("↑ ↓  k j", "select a component (its log follows below)"),
    ("Home End  g G", "first, last component"),
    ("s", "stop it and its dependents (asks first)"),
    ("t", "start it (asks first)"),
    ("r", "restart it and its dependents (asks first)"),
    ("R", "reload the config (asks first)"),
    ("/", "filter by name: type, Enter keeps it, Esc clears it"),
    ("?  h", "this help"),
    ("q  Ctrl-C", "quit (the supervisor runs on)"),
];

impl App {
    pub(crate) fn key(&mut self, key: KeyEvent) -> Effect {
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        if ctrl_c {
            return Effect::Quit;
        }
        if self.ended.is_some() {
            return match key.code {
                KeyCode::Char('q') | KeyCode::Esc | KeyCode::Enter => Effect::Quit,
                _ => Effect::Nothing,
            };
        }
        match &self.mode {
            Mode::Help => self.mode = Mode::Normal,
            Mode::Confirm(p) => match key.code {
                // Only once the supervisor has said what it would do.
                KeyCode::Char('y' | 'Y') | KeyCode::Enter if matches!(p.plan, Answer::Plan(_)) => {
                    let effect = Effect::Send(p.verb, p.name.clone());
                    self.mode = Mode::Normal;
                    return effect;
                }
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => self.mode = Mode::Normal,
                _ => {}
            },
            Mode::Filter => self.filter_key(key.code),
            Mode::Normal => return self.normal_key(key.code),
        }
        Effect::Nothing
    }

    fn filter_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char(c) => self.filter.push(c),
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Esc => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Up => self.step(-1),
            KeyCode::Down => self.step(1),
            _ => {}
        }
        self.keep_selection();
    }

    fn normal_key(&mut self, code: KeyCode) -> Effect {
        match code {
            KeyCode::Char('q') => return Effect::Quit,
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::PageUp => self.step(-10),
            KeyCode::PageDown => self.step(10),
            KeyCode::Home | KeyCode::Char('g') => self.step(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.step(isize::MAX / 2),
            KeyCode::Char(c @ ('s' | 't' | 'r' | 'R')) => {
                let verb = match c {
                    's' => Verb::Stop,
                    't' => Verb::Start,
                    'r' => Verb::Restart,
                    _ => Verb::Reload,
                };
                return self
                    .ask(verb)
                    .map_or(Effect::Nothing, |(v, n)| Effect::Preview(v, n));
            }
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Char('?' | 'h') => self.mode = Mode::Help,
            KeyCode::Esc => {
                self.filter.clear();
                self.keep_selection();
            }
            _ => {}
        }
        Effect::Nothing
    }
}
