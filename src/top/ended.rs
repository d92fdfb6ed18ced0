//! What `top` says once the supervisor is gone: the exit code and its
//! meaning as the supervisor itself told them (`GET /wait?end`, answered
//! before its socket closes), or, when it went without saying (killed),
//! that the end is unknown, with the last status seen.

use sundown::RunExit;
use sundown::status::{State, StatusView};

/// Lines saying how the run ended: `exit` as the supervisor said it, else
/// `why` it could not, beside the last status seen.
pub(crate) fn ended(exit: Result<&RunExit, &str>, last: Option<&StatusView>) -> Vec<String> {
    let mut out = match exit {
        Ok(e) => vec![format!(
            "sundown exited with code {} ({})",
            e.code, e.meaning
        )],
        Err(why) => vec![
            "how sundown ended is unknown: it did not say before its control socket closed (killed?)"
                .into(),
            format!("({why})"),
        ],
    };
    let Some(v) = last else {
        out.push("no status was read before it ended".into());
        return out;
    };
    let seen = match (&v.shutdown, v.state) {
        (Some(s), State::Done) => format!("everything was down (shutdown: {})", s.trigger),
        (None, State::Done) => "everything was down".to_string(),
        (Some(s), _) => format!("it was shutting down ({})", s.trigger),
        (None, _) => "no shutdown had begun".to_string(),
    };
    out.push(format!("last status, at {:.1}s: {seen}", v.now_ms / 1000.0));
    out
}
