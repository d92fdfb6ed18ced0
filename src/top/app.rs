//! Everything `top` shows, as plain data: the last two status snapshots,
//! the selection, the filter, the dialog open, the selected component's
//! log lines and how the run ended. The I/O loop changes it; `view`
//! draws it. Nothing here does I/O, so every screen can be tested.

use std::collections::VecDeque;
use std::path::PathBuf;

use sundown::RunExit;
use sundown::control::client::Planned;
use sundown::status::{ComponentView, StatusView};

use super::order::Order;
use super::plan::{Answer, Verb};

/// Log lines kept for the pane (and asked for when following one).
pub(crate) const LOG_LINES: usize = 500;
/// Messages kept for the footer.
const MESSAGES: usize = 3;

/// What the keys do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    Normal,
    /// Typing the filter.
    Filter,
    /// Asking whether to go ahead with a change.
    Confirm(Pending),
    Help,
}

/// A change waiting for the operator's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) verb: Verb,
    /// The component (none for a reload).
    pub(crate) name: Option<String>,
    /// What the supervisor says it would do (asked as a dry run).
    pub(crate) plan: Answer,
}

/// One row of the list.
pub(crate) struct Row<'a> {
    pub(crate) level: usize,
    pub(crate) c: &'a ComponentView,
    /// CPU use between the last two snapshots, in % of one core.
    pub(crate) cpu: Option<f64>,
}

/// The selected component's log, as it streams in.
#[derive(Debug, Default)]
pub(crate) struct Logs {
    /// Whose lines these are.
    pub(crate) name: Option<String>,
    /// Which following of it: chunks of an earlier one (of this name or
    /// another, still queued when it was dropped) are not these.
    generation: u64,
    pub(crate) lines: VecDeque<String>,
    /// A line not ended yet (it may end inside a character).
    partial: Vec<u8>,
}

pub(crate) struct App {
    /// Where the supervisor answers, for the title.
    pub(crate) socket: PathBuf,
    pub(crate) order: Option<Order>,
    pub(crate) view: Option<StatusView>,
    prev: Option<StatusView>,
    pub(crate) selected: Option<String>,
    pub(crate) filter: String,
    pub(crate) mode: Mode,
    pub(crate) logs: Logs,
    pub(crate) messages: VecDeque<String>,
    /// Why the status could not be read last time, until it is again.
    pub(crate) trouble: Option<String>,
    /// Set once the supervisor is gone: what is known of how it ended.
    pub(crate) ended: Option<Vec<String>>,
    /// Why the supervisor's word on how the run ended cannot come (it
    /// was not asked, or the connection broke), until it is gone.
    unsaid: Option<String>,
    /// The status could not be read any more.
    gone: bool,
    /// Budget at the start of the shutdown, when the config did not say.
    pub(crate) budget_seen_ms: f64,
}

impl App {
    pub(crate) fn new(socket: PathBuf, order: Option<Order>) -> App {
        App {
            socket,
            order,
            view: None,
            prev: None,
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            logs: Logs::default(),
            messages: VecDeque::new(),
            trouble: None,
            ended: None,
            unsaid: None,
            gone: false,
            budget_seen_ms: 0.0,
        }
    }

    /// A new snapshot. The one before stays for the CPU deltas.
    pub(crate) fn status(&mut self, view: StatusView) {
        if let Some(s) = &view.shutdown {
            self.budget_seen_ms = self.budget_seen_ms.max(s.budget_left_ms);
        }
        self.prev = self.view.replace(view);
        self.trouble = None;
        self.keep_selection();
    }

    /// The rows shown: graph order when the graph is the running one, else
    /// by name; only those matching the filter.
    pub(crate) fn rows(&self) -> Vec<Row<'_>> {
        let Some(view) = &self.view else {
            return Vec::new();
        };
        let find = |name: &str| view.components.iter().find(|c| c.name == name);
        let listed: Vec<(&ComponentView, usize)> = match self.graph() {
            Some(o) => o
                .listed()
                .into_iter()
                .filter_map(|(n, level)| Some((find(n)?, level)))
                .collect(),
            _ => view.components.iter().map(|c| (c, 0)).collect(),
        };
        let filter = self.filter.to_lowercase();
        listed
            .into_iter()
            .filter(|(c, _)| c.name.to_lowercase().contains(&filter))
            .map(|(c, level)| Row {
                level,
                c,
                cpu: self.cpu(c),
            })
            .collect()
    }

    /// The graph, when it is the running one (a reload or a scale since
    /// may have changed the names).
    pub(crate) fn graph(&self) -> Option<&Order> {
        let view = self.view.as_ref()?;
        self.order
            .as_ref()
            .filter(|o| o.matches(view.components.iter().map(|c| c.name.as_str())))
    }

    fn cpu(&self, c: &ComponentView) -> Option<f64> {
        let (view, prev) = (self.view.as_ref()?, self.prev.as_ref()?);
        let before = prev.components.iter().find(|p| p.name == c.name)?;
        super::usage::cpu_percent(before.usage, prev.now_ms, c.usage, view.now_ms)
    }

    /// Keeps a visible component selected: the same one while it is
    /// listed, else the first.
    pub(crate) fn keep_selection(&mut self) {
        let rows = self.rows();
        if rows
            .iter()
            .any(|r| Some(&r.c.name) == self.selected.as_ref())
        {
            return;
        }
        self.selected = rows.first().map(|r| r.c.name.clone());
    }

    /// Moves the selection `by` rows (clamped).
    pub(crate) fn step(&mut self, by: isize) {
        let names: Vec<String> = self.rows().iter().map(|r| r.c.name.clone()).collect();
        if names.is_empty() {
            return;
        }
        let at = names
            .iter()
            .position(|n| Some(n) == self.selected.as_ref())
            .unwrap_or(0);
        let to = at.saturating_add_signed(by).min(names.len() - 1);
        self.selected = Some(names[to].clone());
    }

    /// Asks before `verb` of the selected component (or a reload): the
    /// question waits for the supervisor's plan, which the I/O loop asks
    /// for with what this returns.
    pub(crate) fn ask(&mut self, verb: Verb) -> Option<(Verb, Option<String>)> {
        let name = match verb {
            Verb::Reload => None,
            _ => Some(self.selected.clone()?),
        };
        self.mode = Mode::Confirm(Pending {
            verb,
            name: name.clone(),
            plan: Answer::Asking,
        });
        Some((verb, name))
    }

    /// The supervisor's answer to the dry run of `verb` of `name`: shown if
    /// that question is still open (not one closed or asked since).
    pub(crate) fn previewed(
        &mut self,
        verb: Verb,
        name: Option<&str>,
        answer: Result<Planned, String>,
    ) {
        if let Mode::Confirm(p) = &mut self.mode
            && p.verb == verb
            && p.name.as_deref() == name
            && p.plan == Answer::Asking
        {
            p.plan = Answer::of(answer);
        }
    }

    /// The supervisor's word on how the run ended (`GET /wait?end`), or
    /// why it cannot come. The word ends the view at once; without it,
    /// the view ends once the status cannot be read either.
    pub(crate) fn heard_end(&mut self, end: Result<RunExit, String>) {
        match end {
            Ok(exit) => self.end(Ok(&exit)),
            Err(why) if self.gone => self.end(Err(&why)),
            Err(why) => self.unsaid = Some(why),
        }
    }

    /// The status could not be read (`why`): the supervisor is gone, or
    /// stuck. Its word on the end may still be on its way.
    pub(crate) fn gone(&mut self, why: &str) {
        self.gone = true;
        match self.unsaid.take() {
            Some(unsaid) => self.end(Err(&unsaid)),
            None if self.ended.is_none() => self.say(format!("status: {why}")),
            None => {}
        }
    }

    fn end(&mut self, exit: Result<&RunExit, &str>) {
        if self.ended.is_none() {
            self.ended = Some(super::ended::ended(exit, self.view.as_ref()));
            self.mode = Mode::Normal;
        }
    }

    /// A line for the footer, the oldest dropped.
    pub(crate) fn say(&mut self, text: impl Into<String>) {
        if self.messages.len() == MESSAGES {
            self.messages.pop_front();
        }
        self.messages.push_back(text.into());
    }

    /// The status could not be read this time (`why`); it is read again.
    pub(crate) fn trouble(&mut self, why: &str) {
        self.trouble = Some(format!("status: {why} (trying again)"));
    }

    /// Bytes of the log followed as `generation`; ignored unless it is
    /// still the one followed.
    pub(crate) fn log(&mut self, generation: u64, bytes: &[u8]) {
        if self.logs.generation != generation || self.logs.name.is_none() {
            return;
        }
        self.logs.partial.extend_from_slice(bytes);
        while let Some(end) = self.logs.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.logs.partial.drain(..=end).collect();
            if self.logs.lines.len() == LOG_LINES {
                self.logs.lines.pop_front();
            }
            let line = String::from_utf8_lossy(&line);
            self.logs.lines.push_back(line.trim_end().to_string());
        }
    }

    /// Starts over on `name`'s log: the generation its chunks come with.
    pub(crate) fn follow(&mut self, name: Option<String>) -> u64 {
        self.logs = Logs {
            name,
            generation: self.logs.generation + 1,
            ..Logs::default()
        };
        self.logs.generation
    }
}
