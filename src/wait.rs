//! `sundown wait`: blocks until every component of a running supervisor is
//! up (`--ready`, the default) or NAME has completed (`--completed NAME`),
//! for a CI script between `sundown run &` and its tests. The supervisor
//! answers a long poll when the condition holds; this side only bounds it.

use std::time::Duration;

use sundown::control::client::{self, ClientError};
use sundown::{Config, ExitCode};

use crate::client::{Target, block_on, failed, say, socket};

/// While no supervisor answers yet (`sundown run &` has not bound its
/// socket), try again this often until the timeout.
const RECONNECT: Duration = Duration::from_millis(100);

/// Exit codes: 0 the condition holds; 1 it no longer can (the run is
/// shutting down, NAME failed) or the supervisor broke the exchange; 2 a
/// usage error (no component NAME); 3 the timeout passed first.
pub(crate) fn wait(
    target: &Target,
    completed: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<i32> {
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    if let Some(name) = completed
        && let Some(problem) = unknown(target, name)
    {
        eprintln!("error: {problem}");
        return Ok(ExitCode::Usage.code());
    }
    let query = completed.map_or_else(|| "ready".to_string(), |n| format!("completed={n}"));
    let answered = block_on(async {
        tokio::time::timeout(timeout, async {
            loop {
                match client::wait(&socket, &query).await {
                    Err(ClientError::NotRunning { .. }) => tokio::time::sleep(RECONNECT).await,
                    answer => return answer,
                }
            }
        })
        .await
    })?;
    Ok(match answered {
        Ok(Ok(Ok(()))) => 0,
        Ok(Ok(Err(why))) => {
            eprintln!("error: {why}");
            1
        }
        Ok(Err(e @ ClientError::Refused { status, .. }))
            if status == hyper::StatusCode::NOT_FOUND =>
        {
            say(&e);
            ExitCode::Usage.code()
        }
        Ok(Err(e)) => failed(&e),
        Err(_) => {
            let human = humantime::format_duration(timeout);
            eprintln!(
                "error: timed out after {human}: {}",
                what_is_missing(&socket, completed)
            );
            ExitCode::TimedOut.code()
        }
    })
}

/// Why `name` cannot be waited for, from the config, when the config can
/// be read (else the supervisor's answer says so).
fn unknown(target: &Target, name: &str) -> Option<String> {
    if let Some(why) = crate::client::invalid_name(name) {
        return Some(why);
    }
    let mut config = Config::load_with(&target.config, &crate::config_file::kinds()).ok()?;
    if let Some(only) = &target.only {
        config = config.only(only).ok()?;
    }
    config.only(name).err().map(|e| e.to_string())
}

/// At the timeout: what the condition still waits for, from one status.
fn what_is_missing(socket: &std::path::Path, completed: Option<&str>) -> String {
    let view = match block_on(client::status(socket)) {
        Ok(Ok(v)) => v,
        Ok(Err(ClientError::NotRunning { path, .. })) => {
            return format!("no sundown answered on {}", path.display());
        }
        Ok(Err(e)) => return e.to_string(),
        Err(e) => return e.to_string(),
    };
    let state = |c: &sundown::status::ComponentView| format!("{} ({})", c.name, c.state.as_str());
    match completed {
        Some(name) => match view.components.iter().find(|c| c.name == name) {
            Some(c) => format!("`{name}` has not completed: {}", state(c)),
            None => format!("`{name}` has not completed"),
        },
        None => {
            let not: Vec<String> = view
                .components
                .iter()
                .filter(|c| !c.state.is_up())
                .map(state)
                .collect();
            format!("not ready: {}", not.join(", "))
        }
    }
}
