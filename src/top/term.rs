//! The terminal in full-screen mode, given back as it was: on a normal
//! exit and on an error (the guard's `Drop`), on a panic (a hook that
//! restores before the message is printed, so it is readable), and on
//! SIGTERM, SIGINT and SIGHUP (the I/O loop ends on them, and the guard drops).

use std::io::{self, Stdout, Write as _};

use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub(crate) type Screen = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode and the alternate screen while it lives.
pub(crate) struct Guard {
    pub(crate) screen: Screen,
}

impl Guard {
    pub(crate) fn enter() -> io::Result<Guard> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let setup = execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(screen) => Ok(Guard { screen }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode. Harmless when repeated.
pub(crate) fn restore() {
    let mut out = io::stdout();
    let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_hook() {
    let before = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        before(info);
    }));
}
