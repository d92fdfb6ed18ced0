//! `sundown stop|start|restart|reload --dry-run` against a running
//! `sundown run`: the supervisor's own plan, printed, and nothing changed
//! (same pids, states and restarts); refusals as the change would get
//! them; and the control socket's `GET /plan/…` beside a POST with a query,
//! which is refused rather than taken as the change.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;

use nix::sys::signal::Signal;
use sundown::status::{ComponentState, StatusView};

use crate::common::{Sandbox, Sundown, text};

/// db (a process) ← api ← web, and `other` beside them.
fn graph(sb: &Sandbox) -> String {
    format!(
        "{}{}",
        sb.service("db", "ready_after = \"50ms\""),
        "[components.api]\nkind = \"sim\"\ndepends_on = [\"db\"]\n\
         [components.web]\nkind = \"sim\"\ndepends_on = [\"api\"]\n\
         [components.other]\nkind = \"sim\"\n"
    )
}

fn start(sb: &Sandbox) -> Sundown {
    sb.config(&graph(sb));
    let sd = sb.run();
    sd.wait_ready(4);
    sd
}

/// What a dry run must leave as it was.
fn snapshot(v: &StatusView) -> Vec<(String, ComponentState, Option<u32>, u32)> {
    v.components
        .iter()
        .map(|c| (c.name.clone(), c.state, c.pid, c.restarts))
        .collect()
}

fn dry(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.push("--dry-run");
    let out = sb.client(&all);
    (
        out.status.code().expect("exited"),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// One raw request on the control socket; the whole answer.
fn raw(sb: &Sandbox, request: &str) -> String {
    let socket = sb.path(".sundown.supervisor.sock");
    let mut s = UnixStream::connect(socket).expect("connect");
    s.write_all(format!("{request} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("write");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read");
    reply
}

#[test]
fn dry_runs_print_the_supervisors_plan_and_change_nothing() {
    let sb = Sandbox::new();
    let mut sd = start(&sb);
    let before = snapshot(&sb.status());

    let (code, out, err) = dry(&sb, &["stop", "db"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "stopping (dependents first): web, api, db\n(dry run: nothing was changed)\n"
    );
    let (code, out, err) = dry(&sb, &["restart", "api"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "stopping (dependents first): web, api\nstarting (in order): api, web\n(dry run: nothing was changed)\n"
    );
    // Nothing is stopped, so there is nothing to start: the live state says so.
    let (code, out, _) = dry(&sb, &["start", "other"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "nothing to do: it is already so\n(dry run: nothing was changed)\n"
    );
    // A reload's dry run reads the edited file and says how it differs.
    sb.config(&format!(
        "{}[components.cache]\nkind = \"sim\"\ndepends_on = [\"db\"]\n",
        graph(&sb)
    ));
    let (code, out, err) = dry(&sb, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("added: cache\n"), "{out}");
    assert!(out.contains("starting (in order): cache\n"), "{out}");

    // An unknown name is refused as the change would be: exit 2.
    let (code, out, err) = dry(&sb, &["stop", "apj"]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        err,
        "error: there is no component `apj` (did you mean `api`?)\n"
    );

    assert_eq!(snapshot(&sb.status()), before, "nothing changed");
    assert!(
        !sb.log_lines().iter().any(|l| l.starts_with("stop-begin")),
        "db was never asked to stop: {:?}",
        sb.log_lines()
    );
    assert!(!sd.stderr().contains("stopping web"), "{}", sd.stderr());

    // Then the change itself does what its dry run said.
    let out = sb.client(&["stop", "db"]);
    assert_eq!(
        text(&out.stdout),
        "stopping (dependents first): web, api, db\ndone\n"
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn the_socket_answers_a_plan_on_its_own_path_and_refuses_a_change_with_a_query() {
    let sb = Sandbox::new();
    let mut sd = start(&sb);
    let reply = raw(&sb, "GET /plan/stop/api");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        reply.ends_with(r#"{"stop":["web","api"],"start":[],"diff":null}"#),
        "{reply}"
    );
    let reply = raw(&sb, "GET /plan/stop/nope");
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    // `?dry_run=1` on the change itself would be ignored by a supervisor
    // that predates dry runs; this one refuses it rather than stop api.
    let reply = raw(&sb, "POST /stop/api?dry_run=1");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(
        reply.contains("GET /plan/stop/api says what it would do"),
        "{reply}"
    );
    let api = sb
        .status()
        .components
        .into_iter()
        .find(|c| c.name == "api")
        .expect("api");
    assert_eq!(api.state, ComponentState::Ready);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}
