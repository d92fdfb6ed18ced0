//! The I/O loop: one `select!` over the terminal's events, the status
//! (polled by a task, sooner after a change), the selected component's
//! log stream, the changes sent, and SIGTERM/SIGINT/SIGHUP. Each turn
//! updates the [`App`] and draws it again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt as _;
use sundown::control::LogQuery;
use sundown::control::client::{self, ChangeError, ClientError};
use sundown::status::StatusView;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::app::{App, LOG_LINES};
use super::keys::Effect;
use super::order::Order;
use super::plan::{self, Verb};
use super::term::Guard;

/// How often the status is read while nothing happens, and during a
/// shutdown (whose countdowns move).
const REFRESH: Duration = Duration::from_secs(1);
const REFRESH_STOPPING: Duration = Duration::from_millis(250);

enum Msg {
    Status(StatusView),
    /// The status could not be read: the supervisor is gone.
    Gone(String),
    /// How the run ended, in the supervisor's word, or why it did not say.
    End(Result<sundown::RunExit, String>),
    Log(String, Vec<u8>),
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
    let wake = Arc::new(Notify::new());
    let poller = tokio::spawn(poll(socket.to_path_buf(), tx.clone(), Arc::clone(&wake)));
    let watcher = tokio::spawn(watch_shutdown(socket.to_path_buf(), Arc::clone(&wake)));
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
    let code = loop {
        if app.ended.is_none() && app.logs.name != app.selected {
            if let Some(f) = follower.take() {
                f.abort();
            }
            app.follow(app.selected.clone());
            follower = app
                .selected
                .clone()
                .map(|n| tokio::spawn(follow(socket.to_path_buf(), n, tx.clone())));
        }
        guard.screen.draw(|f| super::view::render(f, &app))?;
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => match app.key(k) {
                    Effect::Quit => break 0,
                    Effect::Preview(verb, name) => {
                        tokio::spawn(preview(socket.to_path_buf(), verb, name, tx.clone()));
                    }
                    Effect::Send(verb, name) => {
                        tokio::spawn(change(socket.to_path_buf(), verb, name, tx.clone()));
                    }
                    Effect::Nothing => {}
                },
                // A resize is drawn by the next turn.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break 0,
            },
            Some(msg) = rx.recv() => {
                let reloaded = matches!(&msg, Msg::Changed(w, Ok(())) if w == "reload");
                if matches!(msg, Msg::Planned(..) | Msg::Changed(..)) {
                    wake.notify_one();
                }
                apply(&mut app, msg);
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
            }
            _ = term.recv() => break 128 + 15,
            _ = int.recv() => break 128 + 2,
            _ = hup.recv() => break 128 + 1,
        }
    };
    poller.abort();
    watcher.abort();
    end.abort();
    if let Some(f) = follower {
        f.abort();
    }
    Ok(code)
}

fn apply(app: &mut App, msg: Msg) {
    match msg {
        Msg::Status(v) => app.status(v),
        Msg::Gone(why) => app.gone(&why),
        Msg::End(end) => app.heard_end(end),
        Msg::Log(name, bytes) => app.log(&name, &bytes),
        Msg::Previewed(verb, name, answer) => app.previewed(verb, name.as_deref(), answer),
        Msg::Planned(what, lines) => app.say(format!("{what}: {}", lines.join("; "))),
        Msg::Changed(what, Ok(())) => app.say(format!("{what}: done")),
        Msg::Changed(what, Err(why)) => app.say(format!("{what}: {why}")),
    }
}

/// Reads the status until it cannot, then says why once.
async fn poll(socket: PathBuf, tx: mpsc::UnboundedSender<Msg>, wake: Arc<Notify>) {
    loop {
        let every = match client::status(&socket).await {
            Ok(v) => {
                let every = if v.shutdown.is_some() {
                    REFRESH_STOPPING
                } else {
                    REFRESH
                };
                if tx.send(Msg::Status(v)).is_err() {
                    return;
                }
                every
            }
            Err(e) => {
                let why = match e {
                    ClientError::NotRunning { .. } => "its control socket closed".to_string(),
                    e => e.to_string(),
                };
                let _ = tx.send(Msg::Gone(why));
                return;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = wake.notified() => {}
        }
    }
}

/// Wakes the poller the moment a shutdown begins, so even a stop faster
/// than [`REFRESH`] is seen: the control socket's long poll for a
/// component's completion answers as soon as a shutdown makes it moot.
async fn watch_shutdown(socket: PathBuf, wake: Arc<Notify>) {
    use sundown::status::ComponentState as S;
    while let Ok(v) = client::status(&socket).await {
        if v.shutdown.is_some() {
            break;
        }
        // One that can still complete; one that already has would answer at once.
        let Some(c) = v.components.iter().find(|c| {
            !matches!(
                c.state,
                S::Exited | S::Completed | S::Failed | S::NeverStarted
            )
        }) else {
            break;
        };
        let answered = client::wait(&socket, &format!("completed={}", c.name)).await;
        wake.notify_one();
        if answered.is_err() {
            break;
        }
    }
    wake.notify_one();
}

/// Asks the supervisor how its run ends, once it has: it answers before
/// its socket closes. A supervisor killed first cannot.
async fn watch_end(socket: PathBuf, tx: mpsc::UnboundedSender<Msg>) {
    let end = client::end(&socket).await.map_err(said);
    let _ = tx.send(Msg::End(end));
}

/// `sundown logs -f NAME`, into the app.
async fn follow(socket: PathBuf, name: String, tx: mpsc::UnboundedSender<Msg>) {
    let query = LogQuery {
        name: Some(name.clone()),
        last: Some(LOG_LINES),
        since: None,
        follow: true,
    };
    let _ = client::logs(&socket, &query, |chunk| {
        let _ = tx.send(Msg::Log(name.clone(), chunk.to_vec()));
    })
    .await;
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
