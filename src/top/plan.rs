//! The changes `top` asks for, and what the supervisor says each would do.
//! The plan shown before the question is the engine's own, asked as a dry
//! run (`GET /plan/…`) when the key is pressed: it alone knows the live
//! state, so `top` repeats none of its rules.

use sundown::control::client::Planned;

/// A change `top` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Stop,
    Start,
    Restart,
    Reload,
}

impl Verb {
    /// As in the command and the control socket's path.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Stop => "stop",
            Verb::Start => "start",
            Verb::Restart => "restart",
            Verb::Reload => "reload",
        }
    }

    /// The change's path on the control socket (`/stop/NAME`, `/reload`).
    pub(crate) fn path(self, name: Option<&str>) -> String {
        match name {
            Some(n) => format!("/{}/{n}", self.as_str()),
            None => format!("/{}", self.as_str()),
        }
    }
}

/// What the supervisor said a change would do, as far as it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Asked; not answered yet.
    Asking,
    /// What it would do, a line per step, as `sundown stop` prints it.
    Plan(Vec<String>),
    /// The change would be refused, in the supervisor's words.
    Refused(String),
}

impl Answer {
    pub(crate) fn of(answer: Result<Planned, String>) -> Answer {
        match answer {
            Ok(p) => Answer::Plan(lines(&p)),
            Err(why) => Answer::Refused(why),
        }
    }

    /// What the dialog shows.
    pub(crate) fn lines(&self) -> Vec<String> {
        match self {
            Answer::Asking => vec!["asking sundown…".into()],
            Answer::Plan(lines) => lines.clone(),
            Answer::Refused(why) => vec![format!("sundown would refuse it: {why}")],
        }
    }
}

/// A plan as `sundown stop` words it, a line per step.
pub(crate) fn lines(p: &Planned) -> Vec<String> {
    crate::change::planned(p)
        .lines()
        .map(str::to_string)
        .collect()
}
