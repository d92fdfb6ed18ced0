//! The changes (`stop`, `start`, `restart`, `reload`, `scale`): each
//! prints what the supervisor will do, then waits until it has; with
//! `--dry-run`, only what it would do, in the supervisor's own words.

use sundown::ExitCode;
use sundown::control::client;

use crate::client::{Target, block_on, failed, invalid_name, say, socket};

/// `stop`, `start` and `restart`'s arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct OfOne {
    /// The component.
    name: String,
    /// Only print what it would stop and start, as the supervisor plans it now; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    target: Target,
}

/// `verb` (`stop`, `start`, `restart`) of one component.
pub(crate) fn one(c: &OfOne, verb: &str) -> anyhow::Result<i32> {
    change(&c.target, verb, Some(&c.name), c.dry_run)
}

/// `stop`, `start`, `restart` (of `name`) or `reload`: prints what the
/// supervisor will do, then waits until it has. A refusal (unknown name,
/// invalid config, a graph that cannot take it now) is exit 2. With
/// `dry_run`, only prints what it would do now (or the same refusal).
pub(crate) fn change(
    target: &Target,
    verb: &str,
    name: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<i32> {
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let path = match name {
        // The config allows no other name, so a valid one goes into the path as it is.
        Some(n) if let Some(why) = invalid_name(n) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::Usage.code());
        }
        Some(n) => format!("/{verb}/{n}"),
        None => format!("/{verb}"),
    };
    if dry_run {
        return preview(&socket, &path);
    }
    send_change(&socket, verb, &path)
}

/// `--dry-run`: the supervisor's own plan for the change at `path`, asked
/// without making it.
fn preview(socket: &std::path::Path, path: &str) -> anyhow::Result<i32> {
    match block_on(client::preview(socket, path))? {
        Ok(p) => {
            print!("{}", planned(&p));
            println!("(dry run: nothing was changed)");
            Ok(0)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// The exit code of a refused change, said: 2 when the supervisor said no
/// (unknown name, invalid config, a graph that cannot take it now), else 1.
fn refused(e: &client::ClientError) -> i32 {
    match e {
        client::ClientError::Refused { status, .. }
            if matches!(status.as_u16(), 400 | 404 | 409) =>
        {
            say(e);
            ExitCode::Usage.code()
        }
        e => failed(e),
    }
}

/// `scale NAME N`: a reload with `name` run as `n` instances.
pub(crate) fn scale(target: &Target, name: &str, n: u32) -> anyhow::Result<i32> {
    if let Some(why) = invalid_name(name) {
        eprintln!("error: {why}");
        return Ok(ExitCode::Usage.code());
    }
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    send_change(&socket, "scale", &format!("/scale/{name}/{n}"))
}

fn send_change(socket: &std::path::Path, verb: &str, path: &str) -> anyhow::Result<i32> {
    let ended = block_on(client::change(socket, path, |p| print!("{}", planned(p))))?;
    match ended {
        Ok(()) => {
            println!("done");
            Ok(0)
        }
        Err(client::ChangeError::Interrupted(why)) => {
            eprintln!("error: {verb} did not complete: {why}");
            Ok(1)
        }
        Err(client::ChangeError::Client(e)) => Ok(refused(&e)),
    }
}

/// What a change will do, a line per step (`sundown top` shows the same).
pub(crate) fn planned(p: &client::Planned) -> String {
    let mut out = String::new();
    if let Some(d) = &p.diff {
        for (what, names) in d.parts() {
            if !names.is_empty() {
                out.push_str(&format!("{what}: {}\n", names.join(", ")));
            }
        }
        if d.is_empty() {
            out.push_str("no component changed\n");
        }
    }
    if !p.stop.is_empty() {
        out.push_str(&format!(
            "stopping (dependents first): {}\n",
            p.stop.join(", ")
        ));
    }
    if !p.start.is_empty() {
        out.push_str(&format!("starting (in order): {}\n", p.start.join(", ")));
    }
    if p.stop.is_empty() && p.start.is_empty() && p.diff.is_none() {
        out.push_str("nothing to do: it is already so\n");
    }
    out
}
