//! The client commands, `status` and `shutdown`: they find the control
//! socket of a running supervisor and print what it says.

use std::path::PathBuf;

use anyhow::Context as _;
use sundown::control::client;
use sundown::status::StatusView;
use sundown::{Config, ExitCode};

use crate::cli::Target;

/// The socket `target` names: `--socket`, else the one its config's run serves.
fn socket(target: &Target) -> Result<PathBuf, i32> {
    if let Some(s) = &target.socket {
        return Ok(s.clone());
    }
    match Config::load(&target.config) {
        Ok(config) => Ok(sundown::control::socket_path(&config, &target.config)),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("(pass --socket PATH to reach the supervisor without reading its config)");
            Err(ExitCode::Usage.code())
        }
    }
}

fn block_on<T>(f: impl Future<Output = T>) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

pub(crate) fn status(target: &Target, json: bool) -> anyhow::Result<i32> {
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    if json {
        match block_on(client::request(&socket, hyper::Method::GET, "/status"))? {
            Ok(body) => println!("{body}"),
            Err(e) => return Ok(failed(&e)),
        }
        return Ok(0);
    }
    match block_on(client::status(&socket))? {
        Ok(view) => {
            print!("{}", render(&view));
            Ok(0)
        }
        Err(e) => Ok(failed(&e)),
    }
}

pub(crate) fn shutdown(target: &Target) -> anyhow::Result<i32> {
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    match block_on(client::request(&socket, hyper::Method::POST, "/shutdown"))? {
        Ok(_) => {
            println!("shutdown requested from {}", socket.display());
            Ok(0)
        }
        Err(e) => Ok(failed(&e)),
    }
}

pub(crate) fn logs(target: &Target, name: &str, follow: bool) -> anyhow::Result<i32> {
    use std::io::Write as _;
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let mut stdout = std::io::stdout();
    let printed = block_on(client::logs(&socket, name, follow, |chunk| {
        // A closed pipe (`| head`) ends the command; nothing to report.
        let _ = stdout.write_all(chunk).and_then(|()| stdout.flush());
    }))?;
    match printed {
        Ok(()) => Ok(0),
        // An unknown component is a usage error, like one on the command line.
        Err(e @ client::ClientError::Refused { status, .. })
            if status == hyper::StatusCode::NOT_FOUND =>
        {
            eprintln!("error: {e}");
            Ok(ExitCode::Usage.code())
        }
        Err(e) => Ok(failed(&e)),
    }
}

fn failed(e: &client::ClientError) -> i32 {
    eprintln!("error: {e}");
    1
}

fn secs(ms: f64) -> String {
    format!("{:.1}s", ms / 1000.0)
}

/// A table, one row per component, and what a shutdown waits on.
fn render(v: &StatusView) -> String {
    let mut out = String::new();
    let width = v
        .components
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "{:width$}  {:13}  {:>7}  {:>9}  {:>8}  NOTE\n",
        "NAME", "STATE", "PID", "FOR", "RESTARTS"
    ));
    for c in &v.components {
        let mut note: Vec<String> = c.detail.iter().cloned().collect();
        if let Some(k) = c.kill_in_ms {
            note.push(format!("killed in {}", secs(k)));
        }
        out.push_str(&format!(
            "{:width$}  {:13}  {:>7}  {:>9}  {:>8}  {}\n",
            c.name,
            c.state.as_str(),
            c.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            secs(v.now_ms - c.since_ms),
            c.restarts,
            note.join("; ")
        ));
    }
    if let Some(s) = &v.shutdown {
        let phase = s
            .phase
            .map_or_else(String::new, |p| format!(", phase {p}/{}", s.phases));
        let waiting = if s.waiting_on.is_empty() {
            String::new()
        } else {
            format!(", waiting on {}", s.waiting_on.join(", "))
        };
        let next = s
            .time_left_ms
            .map_or_else(String::new, |t| format!(", next kill in {}", secs(t)));
        out.push_str(&format!(
            "shutting down ({}){phase}{waiting}{next}; budget: {} left\n",
            s.trigger,
            secs(s.budget_left_ms)
        ));
    }
    out
}
