//! The client commands (`status`, `shutdown`, `logs`; the changes are in
//! `change`): they find the control socket of a running supervisor and
//! print what it says.

use std::path::PathBuf;

use anyhow::Context as _;
use sundown::control::SocketTarget;
use sundown::control::client;
use sundown::status::{ComponentState, StatusView, Usage};
use sundown::{Config, ExitCode};

/// Which running supervisor a client command talks to.
#[derive(clap::Args, Debug)]
pub(crate) struct Target {
    /// The config the supervisor runs (its control socket is found from it).
    #[arg(long, short, default_value = "supervisor.toml")]
    pub(crate) config: PathBuf,
    /// The control socket itself (overrides --config).
    #[arg(long)]
    pub(crate) socket: Option<PathBuf>,
    /// The run of one component of the config (`sundown run --only NAME`).
    #[arg(long, value_name = "NAME")]
    pub(crate) only: Option<String>,
}

/// The socket `target` names, by the rule `run` binds it with.
pub(crate) fn socket(target: &Target) -> Result<PathBuf, i32> {
    let at = SocketTarget {
        config_path: target.config.clone(),
        explicit: target.socket.clone(),
        only: target.only.clone(),
    };
    if let Some(s) = &target.socket {
        return Ok(s.clone());
    }
    match Config::load_with(&target.config, &crate::config_file::kinds()) {
        Ok(config) => Ok(at.path(&config)),
        // Broken since the run began (being edited, say): its run is still
        // reachable, and a reload is answered with the problems.
        Err(_) if target.config.is_file() => Ok(at.path_from_file()),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("(pass --socket PATH to reach the supervisor without reading its config)");
            Err(ExitCode::Usage.code())
        }
    }
}

pub(crate) fn block_on<T>(f: impl Future<Output = T>) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

fn up(s: ComponentState) -> bool {
    s.is_up()
}

pub(crate) fn status(target: &Target, json: bool, ready: bool) -> anyhow::Result<i32> {
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    if ready {
        // A probe: the answer is the exit code; say why only when it is no.
        return Ok(match block_on(client::status(&socket))? {
            // One that finished its work by itself (a migration) is done, not unready.
            Ok(v) if v.components.iter().all(|c| up(c.state)) => 0,
            Ok(v) => {
                let not: Vec<&str> = v
                    .components
                    .iter()
                    .filter(|c| !up(c.state))
                    .map(|c| c.name.as_str())
                    .collect();
                eprintln!("not ready: {}", not.join(", "));
                1
            }
            Err(e) => failed(&e),
        });
    }
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

pub(crate) fn logs(target: &Target, query: sundown::control::LogQuery) -> anyhow::Result<i32> {
    use std::io::Write as _;
    let socket = match socket(target) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    if let Some(why) = query.name.as_deref().and_then(invalid_name) {
        eprintln!("error: {why}");
        return Ok(ExitCode::Usage.code());
    }
    let mut stdout = std::io::stdout();
    let printed = block_on(client::logs(&socket, &query, |chunk| {
        // A closed pipe (`| head`) ends the command; nothing to report.
        let _ = stdout.write_all(chunk).and_then(|()| stdout.flush());
    }))?;
    match printed {
        Ok(()) => Ok(0),
        // An unknown component is a usage error, like one on the command line.
        Err(e @ client::ClientError::Refused { status, .. })
            if status == hyper::StatusCode::NOT_FOUND =>
        {
            say(&e);
            Ok(ExitCode::Usage.code())
        }
        Err(e) => Ok(failed(&e)),
    }
}

pub(crate) fn failed(e: &client::ClientError) -> i32 {
    say(e);
    1
}

/// Prints what went wrong: the supervisor's own words after `error: `,
/// or as they are when they already say it (a config's problems, each
/// `file:line:col: error: …`).
pub(crate) fn say(e: &client::ClientError) {
    let text = e.to_string();
    if text.lines().next().is_some_and(|l| l.contains(": error: ")) {
        eprintln!("{text}");
    } else {
        eprintln!("error: {text}");
    }
}

fn secs(ms: f64) -> String {
    format!("{:.1}s", ms / 1000.0)
}

/// The CPU and MEM columns (8 and 9 wide, two spaces between).
fn usage(u: Option<&Usage>) -> String {
    match (u, u.and_then(Usage::measured)) {
        (_, Some((cpu, memory))) => format!("{:>8}  {:>9}", cpu_time(cpu), bytes(memory)),
        (Some(Usage::Supervisor), None) => "(in sundown)".into(),
        _ => format!("{:>8}  {:>9}", "-", "-"),
    }
}

/// CPU time as `0.42s`, `1m05s`, `3h07m`.
fn cpu_time(s: f64) -> String {
    let whole = s as u64;
    match whole {
        0..60 => format!("{s:.2}s"),
        60..3600 => format!("{}m{:02}s", whole / 60, whole % 60),
        _ => format!("{}h{:02}m", whole / 3600, whole % 3600 / 60),
    }
}

/// A size as `512 B`, `3.1 KiB`, `12.5 MiB`, `1.2 GiB`.
fn bytes(b: u64) -> String {
    match binary_units(b) {
        Some((v, unit)) => format!("{v:.1} {unit}"),
        None => format!("{b} B"),
    }
}

/// `b` in the largest binary unit (KiB … TiB) it reaches, for people to
/// read; `None` below 1 KiB, which reads best in bytes. `top` rounds it
/// its own way.
pub(crate) fn binary_units(b: u64) -> Option<(f64, &'static str)> {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return None;
    }
    // Precision is lost only above 2^53 bytes, far past any resident size.
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    Some((v, UNITS[unit]))
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
        "{:width$}  {:13}  {:>7}  {:>9}  {:>8}  {:>8}  {:>9}  NOTE\n",
        "NAME", "STATE", "PID", "FOR", "RESTARTS", "CPU", "MEM"
    ));
    for c in &v.components {
        let mut note: Vec<String> = c.detail.iter().cloned().collect();
        if v.exit_with.as_ref() == Some(&c.name) {
            note.push("exit_with: the run exits with its exit code".into());
        }
        if let Some(done) = &c.completed {
            note.push(format!(
                "completed: exit code {} in {}",
                done.exit_code,
                secs(done.duration_ms)
            ));
        }
        if let Some(k) = c.kill_in_ms {
            note.push(format!("killed in {}", secs(k)));
        }
        if let Some(f) = &c.log_file {
            note.push(format!("log: {}", f.display()));
        }
        out.push_str(&format!(
            "{:width$}  {:13}  {:>7}  {:>9}  {:>8}  {:>19}  {}\n",
            c.name,
            c.state.as_str(),
            c.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            secs(v.now_ms - c.since_ms),
            c.restarts,
            usage(c.usage.as_ref()),
            note.join("; ")
        ));
    }
    if let Some(s) = &v.shutdown
        && let Some(reason) = s.forced
    {
        let waiting = if s.waiting_on.is_empty() {
            String::new()
        } else {
            format!(", waiting on {} to end", s.waiting_on.join(", "))
        };
        out.push_str(&format!(
            "shutting down ({}), {}{waiting}\n",
            s.trigger,
            reason.forced_text()
        ));
    } else if let Some(s) = &v.shutdown {
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

/// Why `name` cannot be a component's, when it breaks the name rule: such
/// a name is refused here rather than sent (it could not be in the config,
/// and it goes into a request path as it is).
pub(crate) fn invalid_name(name: &str) -> Option<String> {
    (!sundown::config::is_valid_name(name)).then(|| {
        format!(
            "there is no component `{name}`: a name is {}",
            sundown::config::NAME_RULE
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shutdown: &str) -> StatusView {
        let json = format!(
            r#"{{"schema": 1, "now_ms": 2000.0, "state": "stopping",
                "components": [{{"name": "http", "state": "killing", "pid": 7, "since_ms": 1810.0,
                                 "restarts": 0, "kill_in_ms": null, "detail": null}}],
                "shutdown": {shutdown}}}"#
        );
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    #[test]
    fn the_table_counts_down_until_the_run_is_forced() {
        let counting = view(
            r#"{"trigger": {"signal": "SIGTERM"}, "phase": 1, "phases": 3, "waiting_on": ["http"],
                "time_left_ms": 2700.0, "budget_left_ms": 20000.0}"#,
        );
        assert!(
            render(&counting).ends_with(
                "shutting down (SIGTERM), phase 1/3, waiting on http, next kill in 2.7s; budget: 20.0s left\n"
            ),
            "{}",
            render(&counting)
        );
        let forced = view(
            r#"{"trigger": {"signal": "SIGTERM"}, "phase": 1, "phases": 3, "waiting_on": ["http"],
                "time_left_ms": null, "budget_left_ms": 20000.0, "forced": "second_signal"}"#,
        );
        assert!(
            render(&forced).ends_with(
                "shutting down (SIGTERM), forced: killing everything (the second signal), waiting on http to end\n"
            ),
            "{}",
            render(&forced)
        );
    }

    #[test]
    fn cpu_time_and_sizes_read_at_a_glance() {
        assert_eq!(cpu_time(0.0), "0.00s");
        assert_eq!(cpu_time(59.994), "59.99s");
        assert_eq!(cpu_time(65.2), "1m05s");
        assert_eq!(cpu_time(3.0 * 3600.0 + 7.0 * 60.0 + 59.0), "3h07m");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 + 100), "3.1 KiB");
        assert_eq!(bytes(12 * 1024 * 1024 + 512 * 1024), "12.5 MiB");
        assert_eq!(bytes(5 << 40), "5.0 TiB");
        assert_eq!(bytes(1 << 50), "1024.0 TiB");
    }

    #[test]
    fn the_usage_columns_keep_their_width() {
        let measured = Usage::Processes {
            cpu_seconds: 1.5,
            memory_bytes: 3 << 20,
            count: 2,
        };
        assert_eq!(usage(Some(&measured)), "   1.50s    3.0 MiB");
        assert_eq!(usage(Some(&Usage::Supervisor)).len(), 12);
        assert_eq!(usage(None), format!("{:>8}  {:>9}", "-", "-"));
    }
}
