//! `profiles` with the built binary: `--profile` and `SUNDOWN_PROFILES`
//! decide what runs, `check`/`plan`/`config` say what is left out, a
//! component that runs cannot need one that does not, and a reload keeps
//! the profiles the run started with.

use nix::sys::signal::Signal;

use crate::common::{Sandbox, Sundown, command, text};

fn stack(sb: &Sandbox) {
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.service("debugger", "depends_on = [\"db\"]\nprofiles = [\"debug\"]"),
    ));
}

#[test]
fn a_profile_decides_what_runs() {
    let sb = Sandbox::new();
    stack(&sb);
    // Off: only db runs, and the tools say why debugger does not.
    let mut sd = sb.run();
    sd.wait_ready(1);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert_eq!(sb.report().components.len(), 1);
    let config = sb.path("supervisor.toml");
    let config = config.to_str().expect("utf-8");
    for cmd in ["check", "plan"] {
        let out = crate::common::cli(&[cmd, "--config", config]);
        assert!(
            text(&out.stdout).contains("not run: `debugger` (profiles: debug;"),
            "{cmd}: {}",
            text(&out.stdout)
        );
    }
    let out = crate::common::cli(&["config", "--config", config]);
    assert!(
        !text(&out.stdout).contains("debugger"),
        "{}",
        text(&out.stdout)
    );
    let out = crate::common::cli(&["config", "--config", config, "--profile", "debug"]);
    assert!(
        text(&out.stdout).contains("[components.debugger]"),
        "{}",
        text(&out.stdout)
    );

    // --profile, and the variable, turn it on.
    let mut args = sb.run_args();
    args.extend(["--profile".into(), "debug".into()]);
    let mut sd = Sundown::spawn(&args);
    sd.wait_ready(2);
    // A reload reads the file with the same profiles: nothing changes.
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no component changed"),
        "{}",
        text(&out.stdout)
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert_eq!(sb.report().components.len(), 2);
    let mut cmd = command();
    cmd.args(sb.run_args())
        .env("SUNDOWN_PROFILES", "other,debug");
    let mut sd = Sundown::spawn_command(cmd);
    sd.wait_ready(2);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn needing_a_component_whose_profile_is_off_is_a_config_error() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("seed", "profiles = [\"seed\"]"),
        sb.service("app", "depends_on = [\"seed\"]"),
    ));
    let out = crate::common::cli(&[
        "check",
        "--config",
        sb.path("supervisor.toml").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("component `app` depends on `seed`, which runs only with profile `seed`, which is not enabled (--profile seed, or SUNDOWN_PROFILES=seed)"),
        "{err}"
    );
    let out = crate::common::cli(&[
        "check",
        "--profile",
        "seed",
        "--config",
        sb.path("supervisor.toml").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
