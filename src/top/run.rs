//! The I/O loop: one `select!` over the terminal's events, the status
//! (polled by a task, sooner after a change), the selected component's
//! log stream, the changes sent, and SIGTERM/SIGINT/SIGHUP. Each turn
//! updates the [`App`] with all that is queued, and draws it again, at
//! most [`FRAMES_PER_SECOND`] times a second.
//!
//! It holds at most two of the control socket's long connections (the
//! log followed, and `/wait?end`), so that many `top`s leave room.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt as _;
use sundown::control::client::{self, ChangeError, ClientError};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::app::App;
use super::follow::{self, Chunk};
use super::keys::Effect;
use super::order::Order;
use super::plan::{self, Verb};
use super::poll::{Polled, poll};
use super::term::Guard;

/// Draws at most this often; what comes in between is drawn together.
const FRAMES_PER_SECOND: u64 = 30;
const FRAME: Duration = Duration::from_millis(1000 / FRAMES_PER_SECOND);

enum Msg {
    Polled(Polled),
    /// How the run ended, in the supervisor's word, or why it did not say.
    End(Result<sundown::RunExit, String>),
    /// The supervisor's dry run of a change: what it would do, or why not.
    Previewed(Verb, Option<String>, Result<client::Planned, String>),
    /// A change was accepted: what it does.
    Planned(String, Vec<String>),
    /// A change ended: done, or why not.
    Changed(String, Result<(), String>),
}

/// Runs until the operator quits (exit 0) or a signal ends it (128 + its number).
pub(crate) async fn run(
    guard: &mut Guard,
    mut app: App,
    socket: &Path,
    config: Option<&Path>,
) -> anyhow::Result<i32> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (log_tx, mut log_rx) = mpsc::channel::<Chunk>(follow::QUEUE);
    let wake = Arc::new(Notify::new());
    let poller = {
        let (socket, tx) = (socket.to_path_buf(), tx.clone());
        let fetch = move || {
            let socket = socket.clone();
            async move { client::status(&socket).await }
        };
        tokio::spawn(poll(
            fetch,
            move |p| tx.send(Msg::Polled(p)).is_ok(),
            Arc::clone(&wake),
        ))
    };
    let end = tokio::spawn(watch_end(socket.to_path_buf(), tx.clone()));
    let mut follower: Option<JoinHandle<()>> = None;
    let mut events = EventStream::new();
    let (mut term, mut int, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
        signal(SignalKind::hangup())?,
    );
    // The names a graph was last read for, so a stale one is read once.
    let mut read_for: Vec<String> = Vec::new();
    // Something changed since the last draw; the next may not come before `next_draw`.
    let (mut dirty, mut next_draw) = (true, Instant::now());
    let code = loop {
        if app.ended.is_none() && app.logs.name != app.selected {
            if let Some(f) = follower.take() {
                f.abort();
            }
            let generation = app.follow(app.selected.clone());
            follower = app.selected.clone().map(|n| {
                tokio::spawn(follow::follow(
                    socket.to_path_buf(),
                    n,
                    generation,
                    log_tx.clone(),
                ))
            });
            dirty = true;
        }
        if dirty && Instant::now() >= next_draw {
            guard.screen.draw(|f| super::view::render(f, &app))?;
            dirty = false;
            next_draw = Instant::now() + FRAME;
        }
        tokio::select! {
            () = tokio::time::sleep_until(next_draw), if dirty => {}
            event = events.next() => match event {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => {
                    dirty = true;
                    match app.key(k) {
                        Effect::Quit => break 0,
                        Effect::Preview(verb, name) => {
                            tokio::spawn(preview(socket.to_path_buf(), verb, name, tx.clone()));
                        }
                        Effect::Send(verb, name) => {
                            tokio::spawn(change(socket.to_path_buf(), verb, name, tx.clone()));
                        }
                        Effect::Nothing => {}
                    }
                }
                // A resize is drawn by the next turn.
                Some(Ok(_)) => dirty = true,
                Some(Err(e)) => return Err(e.into()),
                None => break 0,
            },
            Some(msg) = rx.recv() => {
                let mut reloaded = false;
                let mut next = Some(msg);
                while let Some(msg) = next {
                    reloaded |= matches!(&msg, Msg::Changed(w, Ok(())) if w == "reload");
                    if matches!(msg, Msg::Planned(..) | Msg::Changed(..)) {
                        wake.notify_one();
                    }
                    apply(&mut app, msg);
                    next = rx.try_recv().ok();
                }
                // After a reload or a scale (ours, or SIGHUP's), the graph is read again.
                let names: Vec<String> = app
                    .view
                    .iter()
                    .flat_map(|v| v.components.iter().map(|c| c.name.clone()))
                    .collect();
                if let Some(c) = config
                    && (reloaded || (app.graph().is_none() && names != read_for))
                {
                    app.order = Order::load(c);
                    read_for = names;
                }
                dirty = true;
            }
            Some(chunk) = log_rx.recv() => {
                follow::drain(&mut log_rx, chunk, |(generation, bytes)| app.log(generation, &bytes));
                dirty = true;
            }
            _ = term.recv() => break 128 + 15,
            _ = int.recv() => break 128 + 2,
            _ = hup.recv() => break 128 + 1,
        }
    };
    poller.abort();
    end.abort();
    if let Some(f) = follower {
        f.abort();
    }
    Ok(code)
}

fn apply(app: &mut App, msg: Msg) {
    match msg {
        Msg::Polled(Polled::Status(v)) => app.status(v),
        Msg::Polled(Polled::Trouble(why)) => app.trouble(&why),
        Msg::Polled(Polled::Gone(why)) => app.gone(&why),
        Msg::End(end) => app.heard_end(end),
        Msg::Previewed(verb, name, answer) => app.previewed(verb, name.as_deref(), answer),
        Msg::Planned(what, lines) => app.say(format!("{what}: {}", lines.join("; "))),
        Msg::Changed(what, Ok(())) => app.say(format!("{what}: done")),
        Msg::Changed(what, Err(why)) => app.say(format!("{what}: {why}")),
    }
}

/// Asks the supervisor how its run ends, once it has: it answers before
/// its socket closes. A supervisor killed first cannot.
async fn watch_end(socket: PathBuf, tx: mpsc::UnboundedSender<Msg>) {
    let end = client::end(&socket).await.map_err(said);
    let _ = tx.send(Msg::End(end));
}

/// Asks the supervisor what a change would do, for the question.
async fn preview(
    socket: PathBuf,
    verb: Verb,
    name: Option<String>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let answer = client::preview(&socket, &verb.path(name.as_deref()))
        .await
        .map_err(said);
    let _ = tx.send(Msg::Previewed(verb, name, answer));
}

/// Sends a change, and says what it does and how it ended.
async fn change(socket: PathBuf, verb: Verb, name: Option<String>, tx: mpsc::UnboundedSender<Msg>) {
    let what = match &name {
        Some(n) => format!("{} {n}", verb.as_str()),
        None => verb.as_str().to_string(),
    };
    let said_plan = tx.clone();
    let heard = what.clone();
    let ended = client::change(&socket, &verb.path(name.as_deref()), move |p| {
        let _ = said_plan.send(Msg::Planned(heard, plan::lines(p)));
    })
    .await;
    let ended = ended.map_err(|e| match e {
        ChangeError::Client(e) => said(e),
        e => e.to_string(),
    });
    let _ = tx.send(Msg::Changed(what, ended));
}

/// The supervisor's own words for a refusal; what went wrong otherwise.
fn said(e: ClientError) -> String {
    match e {
        ClientError::Refused { message, .. } => message,
        e => e.to_string(),
    }
}
