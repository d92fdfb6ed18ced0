//! `sundown logs`: the stand-ins' own messages, `-n`, `--since`, every
//! component interleaved, and following them all.

use nix::sys::signal::Signal;

use crate::common::{Sandbox, text};

#[test]
fn logs_shows_a_standins_messages_the_last_lines_recent_ones_and_everything_interleaved() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "[components.web]\nkind = \"http\"\nlisten = \"127.0.0.1:0\"\nlog_file = \"{{name}}.log\"\n\n{}{}",
        sb.shell(
            "a",
            "for i in 1 2 3 4 5; do echo \"a$$i\"; done; while :; do sleep 1000 & wait $$!; done",
            "ready_after = \"50ms\"",
        ),
        sb.shell(
            "b",
            "echo b1; while :; do sleep 1000 & wait $$!; done",
            "ready_after = \"50ms\"",
        ),
    ));
    let mut sd = sb.run();
    sd.wait_ready(3);
    sd.wait_for("a | a5");
    sd.wait_for("b | b1");
    // The stand-in's own messages, with their level.
    let out = sb.client(&["logs", "web"]);
    assert!(out.status.success(), "{out:?}");
    let web = text(&out.stdout);
    assert!(web.contains("[info] listening on 127.0.0.1:"), "{web}");
    let file = std::fs::read_to_string(sb.path("web.log")).expect("web.log");
    assert!(file.contains("info | listening on 127.0.0.1:"), "{file}");
    // The last three of `a`'s output lines (sundown's "ready" comes after them).
    let out = sb.client(&["logs", "a", "-n", "3"]);
    assert_eq!(text(&out.stdout), "a4\na5\n[info] ready\n");
    // Everything is more recent than an hour, nothing than a microsecond.
    let out = sb.client(&["logs", "a", "--since", "1h"]);
    assert!(text(&out.stdout).contains("a1\n"), "{out:?}");
    let out = sb.client(&["logs", "a", "--since", "1us"]);
    assert_eq!(text(&out.stdout), "");
    // Every component, in time order, with time and name.
    let out = sb.client(&["logs"]);
    assert!(out.status.success(), "{out:?}");
    let all = text(&out.stdout);
    let mut times = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for line in all.lines() {
        let (time, rest) = line.split_once(' ').expect("time");
        let (name, _) = rest.split_once(' ').expect("name");
        assert!(humantime::parse_rfc3339(time).is_ok(), "{line}");
        times.push(time.to_string());
        names.insert(name.to_string());
    }
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{all}");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["a", "b", "web"],
        "{all}"
    );
    assert!(
        all.contains(" a stdout | a5\n") && all.contains(" b stdout | b1\n"),
        "{all}"
    );
    assert!(all.contains(" web info | listening on"), "{all}");
    let out = sb.client(&["logs", "-n", "1"]);
    assert_eq!(text(&out.stdout).lines().count(), 1, "{out:?}");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn logs_follows_every_component_without_a_name() {
    let sb = Sandbox::new();
    sb.config(&sb.shell(
        "a",
        "echo a1; trap 'echo pinged' USR1; while :; do sleep 1000 & wait $$!; done",
        "ready_after = \"50ms\"",
    ));
    let mut sd = sb.run();
    sd.wait_ready(1);
    let mut follow = crate::common::command()
        .args(["logs", "-f", "--config"])
        .arg(sb.path("supervisor.toml"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("follow");
    let mut stdout = std::io::BufReader::new(follow.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut next = |line: &mut String| {
        line.clear();
        std::io::BufRead::read_line(&mut stdout, line).expect("read")
    };
    while !line.contains(" a stdout | a1") {
        assert!(next(&mut line) > 0, "ended early");
    }
    sd.signal(Signal::SIGUSR1);
    while !line.contains(" a stdout | pinged") {
        assert!(next(&mut line) > 0, "ended before the new line");
    }
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert!(follow.wait().expect("ends with the run").success());
}
