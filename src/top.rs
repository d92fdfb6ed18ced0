//! `sundown top`: a live, full-screen view of a running supervisor through
//! its control socket — the components in graph order with their state,
//! pid, restarts, last exit, CPU and memory, the selected one's log, keys
//! to stop, start, restart and reload (each shown and confirmed first),
//! and during a shutdown what each phase waits on with countdown bars.
//!
//! `app` holds the state and `view` (with `panes`, `overlay`) draws it,
//! with no I/O, so the screens are tested on ratatui's test backend; `run`
//! is the I/O loop (`poll` reads the status, `follow` the log), `term` the terminal's setup and its restoring.

mod app;
mod ended;
mod follow;
mod keys;
mod order;
mod overlay;
mod panes;
mod plan;
mod poll;
mod run;
mod term;
mod usage;
mod view;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_feed;

use std::io::IsTerminal as _;

use sundown::control::client;

use crate::client::{Target, block_on, failed, socket};

/// `sundown top`'s exit code without a terminal to draw on.
pub(crate) const NO_TERMINAL: sundown::ExitCode = sundown::ExitCode::Usage;

pub(crate) fn top(target: &Target) -> anyhow::Result<i32> {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        eprintln!(
            "error: sundown top needs a terminal (its stdin and stdout are not one); use `sundown status` or `sundown logs -f` from scripts"
        );
        return Ok(NO_TERMINAL.code());
    }
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    block_on(async {
        // Nothing running: said on the normal screen, like every client.
        let first = match client::status(&socket).await {
            Ok(v) => v,
            Err(e) => return Ok(failed(&e)),
        };
        // The graph is the config's; with only `--socket` it may not be readable.
        let config = (target.socket.is_none() || target.config.is_file()).then_some(&target.config);
        let order = config.and_then(|c| order::Order::load(c));
        let mut app = app::App::new(socket.clone(), order);
        app.status(first);
        let mut guard = term::Guard::enter()?;
        let code = run::run(&mut guard, app, &socket, config.map(|c| c.as_path())).await;
        drop(guard);
        code
    })?
}
