//! `include` with the built binary: a stack split over files runs as one,
//! a reload reads every file again, `sundown config` and the Kubernetes
//! export show the whole, and a mistake in an included file is told at its
//! own place.

use nix::sys::signal::Signal;

use crate::common::{Sandbox, cli, text};

#[test]
fn a_stack_in_several_files_runs_and_reloads_as_one() {
    let sb = Sandbox::new();
    sb.write("data.toml", &sb.service("db", "ready_after = \"50ms\""));
    sb.config(&format!(
        "include = [\"data.toml\"]\n\n{}",
        sb.service("web", "ready_after = \"50ms\"\ndepends_on = [\"db\"]")
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    let pid = |name: &str| {
        let v = sb.status();
        v.components
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.pid)
            .unwrap_or_else(|| panic!("{name} has no pid: {v:?}"))
    };
    let web = pid("web");
    // A change in the included file: a reload sees it, and restarts what
    // depends on it with it.
    sb.write("data.toml", &sb.service("db", "ready_after = \"60ms\""));
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("changed: db") && said.contains("web"),
        "{said}"
    );
    sd.wait_for_nth("reload: done", 1);
    assert_ne!(pid("web"), web, "restarted with what it depends on");
    // A mistake there refuses the reload, at the included file's own place.
    sb.write("data.toml", "[components.db]\nkind = \"nope\"\n");
    let out = sb.client(&["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let data = sb.path("data.toml").display().to_string();
    assert!(
        text(&out.stderr).contains(&format!("{data}:2:8: error: ")),
        "{}",
        text(&out.stderr)
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let r = sb.report();
    assert_eq!(r.components.len(), 2);
    r.assert_stopped_before("web", "db");
}

#[test]
fn config_and_the_kubernetes_export_show_the_whole() {
    let sb = Sandbox::new();
    sb.write("data.toml", "[components.db]\ncommand = \"postgres\"\n");
    let path = sb.config(
        "include = [\"data.toml\"]\n\n[components.web]\ncommand = \"serve\"\ndepends_on = [\"db\"]\n",
    );
    let path = path.display().to_string();
    let out = cli(&["config", "--config", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let resolved = text(&out.stdout);
    assert!(
        resolved.contains("[components.db]") && resolved.contains("[components.web]"),
        "{resolved}"
    );
    assert!(!resolved.contains("include"), "{resolved}");
    let out = cli(&["export", "k8s", "--config", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(
        yaml.contains("[components.db]"),
        "the pod gets the included components: {yaml}"
    );
}
