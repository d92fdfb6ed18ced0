//! Env files and `${VAR}` with the built binary and real processes: a
//! variable from an env file in a child's environment and in its command,
//! one port defined once and used by the command, the probe, the stop
//! command and `env`, a reload after an env file changed, `sundown config`.

use nix::sys::signal::Signal;
use sundown::status::ComponentState;

use crate::common::{BIN, Sandbox, cli, text, toml_array};
use crate::shared::free_addr;

/// Waits (bounded) for a file written by a component and returns it.
fn wait_file(sb: &Sandbox, name: &str) -> String {
    let path = sb.path(name);
    let deadline = std::time::Instant::now() + crate::shared::TIMEOUT;
    loop {
        if let Ok(s) = std::fs::read_to_string(&path)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "{name} never written");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_variable_from_an_env_file_reaches_the_child_and_its_command() {
    let sb = Sandbox::new();
    sb.write(
        ".env",
        "# the greeting\nexport GREETING=\"hello world\" # a comment\nWHO='$USER'\n",
    );
    sb.write("local.env", "GREETING=overridden\n");
    let out = sb.path("out.txt").display().to_string();
    // `$GREETING` is the shell's (the child's environment), `${GREETING}`
    // sundown's; `$$$$` is the shell's `$$`, the pid.
    let script = format!(
        "echo \"$GREETING|${{GREETING}}|$WHO|$$$$\" > {out}.tmp; mv {out}.tmp {out}; exec sleep 1000"
    );
    sb.config(&format!(
        "[supervisor]\nenv_file = [\".env\", {{ path = \"missing.env\", required = false }}]\n{}",
        sb.shell("echo", &script, "ready_after = \"50ms\"")
    ));
    let mut sd = sb.run();
    sd.wait_ready(1);
    let line = wait_file(&sb, "out.txt");
    let pid = sb.status().components[0].pid.expect("a pid");
    assert_eq!(line, format!("hello world|hello world|$USER|{pid}\n"));
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn one_port_in_command_probe_stop_command_and_env() {
    let sb = Sandbox::new();
    let addr = free_addr();
    sb.write(".env", &format!("PORT={}\n", addr.port()));
    // The listener is sundown itself, on a config that takes the port from
    // the environment its parent gave it.
    let inner = sb.write(
        "inner.toml",
        "[components.cache]\nkind = \"redis\"\nlisten = \"127.0.0.1:${PORT}\"\n",
    );
    let stopped = sb.path("stopped").display().to_string();
    let command = toml_array(&[
        BIN.to_string(),
        "run".into(),
        "--config".into(),
        inner.display().to_string(),
    ]);
    sb.config(&format!(
        r#"[components.cache]
command = {command}
env_file = [".env"]
env = {{ CACHE_ADDR = "127.0.0.1:${{PORT}}" }}
ready = {{ tcp = "127.0.0.1:${{PORT}}", interval = "20ms" }}
stop_command = ["/bin/sh", "-c", "echo ${{PORT}} $CACHE_ADDR > {stopped}"]
stop_command_timeout = "100ms"

[components.web]
command = ["/bin/sh", "-c", "echo web sees ${{CACHE_ADDR:-nothing}}; exec sleep 1000"]
depends_on = ["cache"]
"#
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    std::net::TcpStream::connect(addr).expect("the inner sundown listens on the port");
    // web has no env file: `${CACHE_ADDR}` is cache's alone.
    sd.wait_for("web | web sees nothing");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let port = addr.port();
    assert_eq!(
        std::fs::read_to_string(&stopped).expect("the stop command ran"),
        format!("{port} 127.0.0.1:{port}\n")
    );
}

#[test]
fn a_changed_env_file_restarts_the_components_that_use_it_and_only_them() {
    let sb = Sandbox::new();
    sb.write("a.env", "VALUE=one\n");
    let out = sb.path("a.txt").display().to_string();
    let script = format!("echo $VALUE >> {out}; exec sleep 1000");
    sb.config(&format!(
        "{}{}",
        sb.shell(
            "a",
            &script,
            "env_file = [\"a.env\"]\nready_after = \"50ms\""
        ),
        sb.shell("b", "exec sleep 1000", "ready_after = \"50ms\"")
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    let pid = |name: &str| {
        let v = sb.status();
        let c = v.components.iter().find(|c| c.name == name).expect(name);
        assert_eq!(c.state, ComponentState::Ready, "{v:?}");
        c.pid.expect("a pid")
    };
    let (a, b) = (pid("a"), pid("b"));

    // The same contents: nothing to do.
    let same = sb.client(&["reload"]);
    assert!(same.status.success(), "{}", text(&same.stderr));
    assert!(
        text(&same.stdout).contains("no component changed"),
        "{}",
        text(&same.stdout)
    );

    sb.write("a.env", "VALUE=two\n");
    sd.signal(Signal::SIGHUP);
    sd.wait_for_nth("reload: done", 2);
    assert!(
        sd.stderr()
            .contains("reload: changed: a; unchanged, left running: b"),
        "{}",
        sd.stderr()
    );
    assert_ne!(pid("a"), a);
    assert_eq!(pid("b"), b);
    let deadline = std::time::Instant::now() + crate::shared::TIMEOUT;
    while std::fs::read_to_string(&out).unwrap_or_default() != "one\ntwo\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "a.txt: {:?}",
            std::fs::read_to_string(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    // An env file that no longer parses: refused, everything keeps running.
    sb.write("a.env", "VALUE=three\nnot a line\n");
    let refused = sb.client(&["reload"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr).contains(
            "component `a`: env_file: env file `a.env`, line 2: cannot parse `not a line`"
        ),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(pid("b"), b);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn config_prints_the_resolved_config_and_check_and_plan_read_it_too() {
    let sb = Sandbox::new();
    sb.write(".env", "STOP=3s\nPORT=7411\n");
    let path = sb.config(
        "[supervisor]\nenv_file = [\".env\"]\n\n[components.web]\ncommand = \"serve --port ${PORT} --pid $$$$\"\nstop_timeout = \"${STOP}\"\n\n[components.db]\nkind = \"sim\"\nstop_delay = \"${DELAY:-100ms}\"\n",
    );
    let config = path.display().to_string();
    let out = cli(&["config", "--config", &config]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let resolved = text(&out.stdout);
    for line in [
        "[supervisor]\nshutdown_timeout = \"25s\"\nstrategy = \"phased\"\n",
        "command = \"serve --port 7411 --pid $$$$\"\n",
        "stop_timeout = \"3s\"\n",
        "stop_delay = \"100ms\"\n",
        "PORT = \"7411\"\n",
    ] {
        assert!(resolved.contains(line), "no {line:?} in:\n{resolved}");
    }
    assert!(!resolved.contains("env_file"), "{resolved}");
    let again = sb.write("resolved.toml", &resolved);
    let again = again.display().to_string();
    let back = cli(&["config", "--config", &again]);
    assert_eq!(
        text(&back.stdout).lines().skip(1).collect::<Vec<_>>(),
        resolved.lines().skip(1).collect::<Vec<_>>(),
        "the resolved config resolves to itself"
    );

    let plan = cli(&["plan", "--config", &config]);
    assert!(text(&plan.stdout).contains("3s"), "{}", text(&plan.stdout));
    let check = cli(&["check", "--config", &config]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    sb.config("[components.web]\ncommand = \"serve\"\nready = { tcp = \"127.0.0.1:${NOPE}\" }\n");
    for command in ["config", "check", "plan"] {
        let out = cli(&[command, "--config", &config]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "{config}:3:28: error: component `web`: ready: variable `NOPE` is not set; set it in an env_file or sundown's environment, or give a default: ${{NOPE:-default}}\n"
            ),
            "{command}"
        );
    }
}

#[test]
fn the_kubernetes_export_ships_the_resolved_config() {
    let sb = Sandbox::new();
    sb.write(".env", "PORT=7412\n");
    let path = sb.config(
        "[supervisor]\nenv_file = [\".env\"]\n\n[components.web]\ncommand = \"serve --port ${PORT}\"\n",
    );
    let out = cli(&["export", "k8s", "--config", &path.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(yaml.contains("serve --port 7412"), "{yaml}");
    assert!(!yaml.contains("env_file"), "{yaml}");
}
