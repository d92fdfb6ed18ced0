//! What `top` says once the supervisor is gone. The control socket does
//! not send the exit code (the run computes it after the socket closes),
//! so it is read from what was last seen, and said to be that.

use std::collections::BTreeSet;

use sundown::ExitCode;
use sundown::event::Trigger;
use sundown::status::{ComponentState, State, StatusView};

/// Lines saying how the run ended: `why` the connection ended, the last
/// status seen, and the exit code that follows from it by `exit.rs`'s rules.
pub(crate) fn ended(
    last: Option<&StatusView>,
    killed: &BTreeSet<String>,
    why: &str,
) -> Vec<String> {
    let mut out = vec![format!("sundown exited ({why})")];
    let Some(v) = last else {
        out.push("no status was read before it ended".into());
        return out;
    };
    let failed: Vec<&str> = v
        .components
        .iter()
        .filter(|c| c.state == ComponentState::Failed)
        .map(|c| c.name.as_str())
        .collect();
    let seen = match (&v.shutdown, v.state) {
        (_, State::Done) => "everything was down".to_string(),
        (Some(s), _) => format!("it was shutting down ({})", s.trigger),
        (None, _) => "no shutdown had begun".to_string(),
    };
    out.push(format!("last status, at {:.1}s: {seen}", v.now_ms / 1000.0));
    let killed: Vec<&str> = killed.iter().map(String::as_str).collect();
    let (code, because) = match v.shutdown.as_ref().map(|s| &s.trigger) {
        None => {
            out.push(
                "exit code unknown: it ended without a shutdown this client saw (killed, or between two reads)"
                    .into(),
            );
            return out;
        }
        Some(Trigger::ExitWith(c)) => {
            out.push(format!(
                "exit code: `{c}`'s own (exit_with), which the socket does not send"
            ));
            return out;
        }
        Some(Trigger::ComponentFailed(c)) => (ExitCode::ComponentFailed, format!("{c} failed")),
        Some(Trigger::StartupTimeout(c)) => (
            ExitCode::ComponentFailed,
            format!("{} not ready in time", c.join(", ")),
        ),
        Some(_) if !failed.is_empty() => (
            ExitCode::ComponentFailed,
            format!("{} failed", failed.join(", ")),
        ),
        Some(_) if !killed.is_empty() => (
            ExitCode::TimedOut,
            format!("{} killed at the timeout", killed.join(", ")),
        ),
        Some(_) => (ExitCode::Clean, "everything stopped in time".to_string()),
    };
    out.push(format!(
        "exit code {} ({}): {because}",
        code.code(),
        code.meaning()
    ));
    out.push(format!(
        "(read from the last status; the socket does not send it; {} if a second signal forced it)",
        ExitCode::Forced.code()
    ));
    out
}
