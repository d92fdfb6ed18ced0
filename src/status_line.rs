//! What `sundown run` shows while a shutdown is under way.
//!
//! On a terminal: one status line at the bottom of the screen, redrawn in
//! place ("phase 2/3: waiting on workers (killed in 41.0s); budget: 50.2s
//! left"), with log lines scrolling above it. Elsewhere (a file, journald, a
//! CI log): a plain log line with the same text every few seconds, so a stuck
//! stop still says what it waits on. Both read the engine's status snapshot.

use std::io::{self, IsTerminal as _, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sundown::{State, Status};
use tokio::sync::watch;
use tracing_appender::non_blocking::NonBlocking;
use tracing_subscriber::fmt::MakeWriter;

/// How often the terminal line's countdown is redrawn.
const TTY_REFRESH: Duration = Duration::from_millis(250);
/// The least time between two redraws caused by status changes.
const REDRAW_MIN: Duration = Duration::from_millis(50);
/// How often a plain "still waiting" line is logged when not on a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The bottom line of the terminal, shared by the log writer and the status
/// task. Everything goes through one non-blocking writer, so the line and the
/// log records reach the terminal in the order they were written.
#[derive(Clone)]
pub(crate) struct StatusLine {
    line: Arc<Mutex<String>>,
    out: NonBlocking,
}

const CLEAR: &[u8] = b"\r\x1b[2K";

impl StatusLine {
    /// A status line writing through `out` when stderr is a terminal, else `None`.
    pub(crate) fn for_stderr(out: NonBlocking) -> Option<StatusLine> {
        io::stderr().is_terminal().then(|| StatusLine {
            line: Arc::default(),
            out,
        })
    }

    fn set(&self, text: &str) {
        let mut line = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        if *line == text {
            return;
        }
        text.clone_into(&mut line);
        let mut bytes = CLEAR.to_vec();
        bytes.extend_from_slice(line.as_bytes());
        let _ = self.out.clone().write_all(&bytes);
    }
}

/// Writes one log record: clears the status line, writes the record, redraws the line.
pub(crate) struct LogRecord {
    line: StatusLine,
    buf: Vec<u8>,
}

impl Write for LogRecord {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LogRecord {
    fn drop(&mut self) {
        // Hold the line's lock so a redraw cannot interleave with the record,
        // and send clear + record + redraw as one message.
        let line = self
            .line
            .line
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut bytes = Vec::with_capacity(self.buf.len() + line.len() + CLEAR.len());
        if !line.is_empty() {
            bytes.extend_from_slice(CLEAR);
        }
        bytes.extend_from_slice(&self.buf);
        bytes.extend_from_slice(line.as_bytes());
        let _ = self.line.out.clone().write_all(&bytes);
    }
}

impl<'a> MakeWriter<'a> for StatusLine {
    type Writer = LogRecord;

    fn make_writer(&'a self) -> LogRecord {
        LogRecord {
            line: self.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

/// Follows the status until the engine is done: redraws `line` on a
/// terminal, or logs the waiting line every few seconds without one.
pub(crate) async fn follow(mut status: watch::Receiver<Status>, line: Option<StatusLine>) {
    // Nothing to show before a shutdown: sleep until one begins.
    if status
        .wait_for(|s| s.shutdown.is_some() || s.state == State::Done)
        .await
        .is_err()
    {
        return;
    }
    let every = if line.is_some() {
        TTY_REFRESH
    } else {
        LOG_EVERY
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut last_render = tokio::time::Instant::now() - REDRAW_MIN;
    // A change seen too soon after the last redraw, to be drawn at `last_render + REDRAW_MIN`.
    let mut pending = false;
    let mut forced = false;
    loop {
        let due = tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    break;
                }
                pending = line.is_some();
                // The kill of everything is drawn at once: the log lines it
                // brings must not carry the countdowns it made void.
                let now_forced = status
                    .borrow()
                    .shutdown
                    .as_ref()
                    .is_some_and(|s| s.forced.is_some());
                let first = now_forced && !forced;
                forced = now_forced;
                // A log already has the engine's line about it.
                first && line.is_some()
            }
            _ = tokio::time::sleep_until(last_render + REDRAW_MIN), if pending => true,
            _ = tick.tick() => true,
        };
        if status.borrow().state == State::Done {
            if let Some(l) = &line {
                l.set("");
            }
            break;
        }
        // The line is O(components) to build and a wide shutdown changes the
        // status thousands of times a second: a terminal follows changes at
        // most every REDRAW_MIN, a log only on its tick.
        if !due && (line.is_none() || last_render.elapsed() < REDRAW_MIN) {
            continue;
        }
        pending = false;
        last_render = tokio::time::Instant::now();
        let text = {
            let s = status.borrow();
            s.waiting_line(s.now_ms())
        };
        match (&line, text) {
            (Some(l), Some(text)) => l.set(&text),
            (None, Some(text)) => tracing::info!("{text}"),
            _ => {}
        }
    }
}
