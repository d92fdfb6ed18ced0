//! Exit codes, and which one wins when several apply.
//!
//! Precedence, most important first: **2 > 4 > 1 > 3 > 0**. A config error
//! means nothing ran. A second signal is an operator overriding everything.
//! Then the root cause beats its consequence: when a component failed and
//! the shutdown that followed also had to kill something, the run exits 1,
//! because the failure is what an alert or a restart policy must see; the
//! kills are in the report. (`../shared/DESIGN.md` proposed 3 > 1; a forced stop after a
//! crash is usually *caused* by the crash, so reporting 3 would hide it.)

/// The documented exit codes of `sundown run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: stopped cleanly after a signal, or every component finished.
    Clean,
    /// 3: the shutdown finished only by force: a timeout expired and something was killed.
    TimedOut,
    /// 1: a component failed (crashed, failed to start, never became ready).
    ComponentFailed,
    /// 4: a second signal forced the exit.
    Forced,
    /// 2: usage or configuration error; nothing was started.
    Usage,
}

impl ExitCode {
    /// The numeric process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Clean => 0,
            ExitCode::ComponentFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::TimedOut => 3,
            ExitCode::Forced => 4,
        }
    }

    /// The exit code with this number, if it is one of ours.
    pub fn from_code(code: i32) -> Option<ExitCode> {
        [
            ExitCode::Clean,
            ExitCode::ComponentFailed,
            ExitCode::Usage,
            ExitCode::TimedOut,
            ExitCode::Forced,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    /// A few words for people: `"stopped by force"`.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Clean => "clean",
            ExitCode::ComponentFailed => "a component failed",
            ExitCode::Usage => "usage error",
            ExitCode::TimedOut => "stopped by force",
            ExitCode::Forced => "second signal",
        }
    }
}

/// How a run ended, as the supervisor tells its clients before it goes:
/// the code its process exits with and what that means. The final status
/// (`state: done`) carries it, and `GET /wait?end` answers with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunExit {
    /// The process exit code (`sundown run`'s): one of [`ExitCode`]'s, or
    /// the `exit_with` component's own.
    pub code: i32,
    /// A few words for people: `"stopped by force"`, `` "`tests`'s exit status (exit_with)" ``.
    pub meaning: String,
}

#[cfg(test)]
mod tests {
    use super::ExitCode::*;

    #[test]
    fn precedence_is_usage_forced_failed_timeout_clean() {
        let mut all = [Clean, TimedOut, Usage, ComponentFailed, Forced];
        all.sort();
        let codes: Vec<i32> = all.iter().rev().map(|c| c.code()).collect();
        assert_eq!(codes, vec![2, 4, 1, 3, 0]);
    }

    #[test]
    fn codes_round_trip() {
        for c in [Clean, TimedOut, Usage, ComponentFailed, Forced] {
            assert_eq!(super::ExitCode::from_code(c.code()), Some(c));
        }
        assert_eq!(super::ExitCode::from_code(7), None);
    }
}
