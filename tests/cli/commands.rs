//! The built `sundown` binary's command line: config errors with their
//! locations and exit code 2, `verify` on real and hand-edited reports,
//! `check`, `plan`, `graph`, `--version`, `--help` and usage errors.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::common::{Sandbox, cli};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("supervisor.toml")
}

/// 1-based line and column (in characters) of the first `needle` in `text`.
fn line_col(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).expect("needle in text");
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Runs `sundown run` on a broken config and checks nothing started.
fn run_broken(sb: &Sandbox) -> std::process::Output {
    let out = cli(&[
        "run".as_ref(),
        "--config".as_ref(),
        sb.path("supervisor.toml").as_os_str(),
        "--report".as_ref(),
        sb.report_path().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{}", stderr(&out));
    assert!(
        !sb.log().exists(),
        "no component may start: {:?}",
        sb.log_lines()
    );
    assert!(
        !sb.report_path().exists(),
        "no report for a run that never began"
    );
    out
}

#[test]
fn unknown_dependency_is_located_with_a_suggestion() {
    let sb = Sandbox::new();
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.service("postgres", "");
    toml += &sb.service("redis", "");
    toml += &sb.service("workers", "depends_on = [\"redis\", \"postgress\"]");
    let config = sb.config(&toml);
    let (line, col) = line_col(&toml, "\"postgress\"");
    assert!(line > 5, "the typo is deep in the file (line {line})");

    let out = run_broken(&sb);
    let err = stderr(&out);
    let location = format!("{}:{line}:{col}:", config.display());
    assert!(err.contains(&location), "expected `{location}` in:\n{err}");
    assert!(err.contains("`postgress`"), "{err}");
    assert!(err.contains("did you mean `postgres`?"), "{err}");

    // `check` reports the same, also with exit 2.
    let out = cli(&["check".as_ref(), "-c".as_ref(), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&location), "{}", stderr(&out));
}

#[test]
fn a_cycle_is_named_in_full_and_located() {
    let sb = Sandbox::new();
    let mut toml = String::from("# a cycle\n\n");
    toml += &sb.service("a", "depends_on = [\"b\"]");
    toml += &sb.service("b", "depends_on = [\"c\"]");
    toml += &sb.service("c", "depends_on = [\"a\"]");
    let config = sb.config(&toml);
    let out = run_broken(&sb);
    let err = stderr(&out);
    assert!(err.contains("dependency cycle: a → b → c → a"), "{err}");
    // Located at the edge a → b.
    let (line, col) = line_col(&toml, "\"b\"");
    let location = format!("{}:{line}:{col}:", config.display());
    assert!(err.contains(&location), "expected `{location}` in:\n{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let sb = Sandbox::new();
    let mut toml = String::new();
    toml += &sb.service("db", "stop_timeout = \"ten seconds\"");
    toml += &sb.service("web", "depends_on = [\"dbb\"]");
    let config = sb.config(&toml);
    let out = run_broken(&sb);
    let err = stderr(&out);
    let (l1, c1) = line_col(&toml, "\"ten seconds\"");
    let (l2, c2) = line_col(&toml, "\"dbb\"");
    let file = config.display();
    assert!(err.contains(&format!("{file}:{l1}:{c1}:")), "{err}");
    assert!(err.contains(&format!("{file}:{l2}:{c2}:")), "{err}");
    assert!(err.contains("2 errors in"), "{err}");
}

/// A misspelled key used to stop validation with the list of every key,
/// hiding the rest of the file; a value of the wrong type did the same.
/// Now each is one line with the closest key of the component's own kind.
#[test]
fn a_misspelled_key_is_reported_with_the_four_other_errors_of_the_file() {
    let sb = Sandbox::new();
    let mut toml = String::from("[supervisor]\nshutdown_timout = \"20s\"\n\n");
    toml += &sb.service("db", "oneshot = \"yes\"");
    toml += &sb.service("web", "stop_timout = \"3s\"\ndepends_on = [\"dbb\"]");
    toml += "[components.cache]\nkind = \"redis\"\nappendfsyn = \"always\"\n";
    let config = sb.config(&toml);
    let out = cli(&["check".as_ref(), "-c".as_ref(), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let file = config.display();
    let expected = [
        (
            "shutdown_timout",
            "[supervisor] unknown key `shutdown_timout` (did you mean `shutdown_timeout`?)",
        ),
        (
            "\"yes\"",
            "component `db`: oneshot: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "stop_timout",
            "component `web`: unknown key `stop_timout` (did you mean `stop_timeout`?)",
        ),
        (
            "\"dbb\"",
            "component `web` depends on `dbb`, which is not a component (did you mean `db`?)",
        ),
        (
            "appendfsyn",
            "component `cache`: unknown key `appendfsyn` (did you mean `appendfsync`?)",
        ),
    ];
    let lines: Vec<&str> = err.lines().collect();
    for (i, (needle, message)) in expected.iter().enumerate() {
        let (line, col) = line_col(&toml, needle);
        assert_eq!(
            lines[i],
            format!("{file}:{line}:{col}: error: {message}"),
            "{err}"
        );
    }
    assert_eq!(lines[5], format!("5 errors in {file}"), "{err}");
    assert_eq!(lines.len(), 6, "{err}");
    assert!(
        !err.contains("expected one of"),
        "no list of every key: {err}"
    );
}

/// http → workers → postgres, run for real, stopped with SIGTERM.
fn real_report(sb: &Sandbox) -> PathBuf {
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.service_with_delay("postgres", "0.05", "ready_after = \"50ms\"");
    toml += &sb.service_with_delay(
        "workers",
        "0.05",
        "ready_after = \"50ms\"\ndepends_on = [\"postgres\"]",
    );
    toml += &sb.service_with_delay(
        "http",
        "0.05",
        "ready_after = \"50ms\"\ndepends_on = [\"workers\"]",
    );
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(3);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "stderr:\n{}", sd.stderr());
    sb.report_path()
}

#[test]
fn verify_accepts_a_real_report_and_rejects_a_wrong_order() {
    let sb = Sandbox::new();
    let report = real_report(&sb);

    let out = cli(&["verify".as_ref(), report.as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.starts_with("ok:"), "{text}");
    assert!(text.contains("2 edge(s)"), "{text}");
    assert!(
        text.contains("stop order: http, workers, postgres"),
        "{text}"
    );

    // The edges can come from the config instead; a satisfied extra pair is fine.
    let config = sb.path("supervisor.toml");
    let out = cli(&[
        "verify".as_ref(),
        report.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "--before".as_ref(),
        "http:postgres".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("ok:"));

    // postgres stopped last, so "postgres before http" is violated.
    let out = cli(&[
        "verify".as_ref(),
        report.as_os_str(),
        "--before".as_ref(),
        "postgres:http".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.starts_with("violation:")
            && l.contains("`postgres`")
            && l.contains("`http`")),
        "{text}"
    );
    assert!(text.contains("1 violation(s)"), "{text}");

    // A malformed pair is a usage error.
    let out = cli(&[
        "verify".as_ref(),
        report.as_os_str(),
        "--before".as_ref(),
        "postgres".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("A:B"), "{}", stderr(&out));
}

#[test]
fn verify_names_the_edge_of_a_hand_edited_report() {
    let sb = Sandbox::new();
    let report = real_report(&sb);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("read the report"))
            .expect("the report is JSON");
    // Swap http's and workers' stop times: workers is now asked before http is down.
    let components = json["components"].as_array_mut().expect("components");
    let find = |cs: &Vec<serde_json::Value>, name: &str| {
        cs.iter()
            .position(|c| c["name"] == name)
            .expect("component in the report")
    };
    let (h, w) = (find(components, "http"), find(components, "workers"));
    for key in ["stop_requested", "stopped_at"] {
        let hv = components[h][key].clone();
        components[h][key] = components[w][key].clone();
        components[w][key] = hv;
    }
    let edited = sb.write(
        "edited.json",
        &serde_json::to_string_pretty(&json).expect("serialize"),
    );
    let out = cli(&["verify".as_ref(), edited.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let violations: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("violation:"))
        .collect();
    assert_eq!(violations.len(), 1, "{text}");
    assert!(
        violations[0].contains("`http` should have stopped before `workers`"),
        "{text}"
    );
    assert!(text.contains("1 violation(s)"), "{text}");

    // Not a report at all: a usage error naming the file.
    let junk = sb.write("junk.json", "{\"hello\": 1}");
    let out = cli(&["verify".as_ref(), junk.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a sundown report"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_plan_and_graph_on_the_repo_config() {
    let config = repo_config();

    let out = cli(&["check".as_ref(), "-c".as_ref(), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok: 4 component(s), 4 dependency edge(s), 0 warning(s)"),
        "{}",
        stdout(&out)
    );

    let out = cli(&["plan".as_ref(), "-c".as_ref(), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = stdout(&out);
    let expected = [
        "start: 3 level(s)",
        "  level 0: postgres, redis",
        "  level 1: workers",
        "  level 2: http",
        "stop: strategy phased, 3 phase(s), dependents first",
        "  phase 1: timeout 3s (set in [phase_timeouts]): http (5s)",
        "  phase 2: timeout 10s (largest member): workers (10s)",
        "  phase 3: timeout 5s (largest member): postgres (5s), redis (5s)",
        "worst case: 18s (sum of phase timeouts); shutdown_timeout: 25s",
    ];
    let mut from = 0;
    for line in expected {
        let at = plan[from..]
            .find(line)
            .unwrap_or_else(|| panic!("`{line}` (in order) not in:\n{plan}"));
        from += at + line.len();
    }
    assert!(!plan.contains("warning:"), "{plan}");

    let out = cli(&[
        "graph".as_ref(),
        "-c".as_ref(),
        config.as_os_str(),
        "--format".as_ref(),
        "mermaid".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mermaid = stdout(&out);
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    // Nodes are numbered by name: http 0, postgres 1, redis 2, workers 3.
    for line in [
        "n0[\"http\"]",
        "n1[\"postgres\"]",
        "n2[\"redis\"]",
        "n3[\"workers\"]",
        "n0 --> n2",
        "n0 --> n3",
        "n3 --> n1",
        "n3 --> n2",
    ] {
        assert!(
            mermaid.lines().any(|l| l.trim() == line),
            "`{line}` not in:\n{mermaid}"
        );
    }
    assert_eq!(mermaid.matches("-->").count(), 4, "{mermaid}");

    let out = cli(&[
        "graph".as_ref(),
        "-c".as_ref(),
        config.as_os_str(),
        "--format".as_ref(),
        "dot".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph sundown {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for line in [
        "\"http\" -> \"redis\";",
        "\"http\" -> \"workers\";",
        "\"workers\" -> \"postgres\";",
        "\"workers\" -> \"redis\";",
    ] {
        assert!(
            dot.lines().any(|l| l.trim() == line),
            "`{line}` not in:\n{dot}"
        );
    }
    assert_eq!(dot.matches("->").count(), 4, "{dot}");
}

#[test]
fn plan_warns_when_the_phases_exceed_the_budget() {
    let sb = Sandbox::new();
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"5s\"\n\n");
    toml += &sb.service("db", "stop_timeout = \"4s\"");
    toml += &sb.service("web", "stop_timeout = \"3s\"\ndepends_on = [\"db\"]");
    let config = sb.config(&toml);
    let out = cli(&["plan".as_ref(), "-c".as_ref(), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("worst case: 7s (sum of phase timeouts); shutdown_timeout: 5s"),
        "{plan}"
    );
    let warning = plan
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_else(|| panic!("no warning in:\n{plan}"));
    assert!(
        warning.contains("exceeds shutdown_timeout by 2s"),
        "{warning}"
    );
    assert!(!sb.log().exists(), "plan starts nothing");
}

#[test]
fn version_help_and_usage_errors() {
    let out = cli(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim(),
        format!("sundown {}", env!("CARGO_PKG_VERSION"))
    );

    let out = cli(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(help.contains("--config"), "{help}");
    assert!(help.contains("--report"), "{help}");

    let out = cli(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let out = cli(&["run", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));

    let out = cli(&["graph", "--format", "png", "-c", "x.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("png"), "{}", stderr(&out));

    // A missing config file is a config error: exit 2, the file named.
    let sb = Sandbox::new();
    let missing = sb.path("nope.toml");
    let out = cli(&["check".as_ref(), "-c".as_ref(), missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );
}

/// A reader of stdout that goes away (`sundown plan | head -c 10`) ends the
/// command quietly, killed by SIGPIPE as Unix tools are, instead of a panic
/// and exit 101. The plan is larger than a pipe's buffer, so the write that
/// meets the closed pipe is certain to happen.
#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    let sb = Sandbox::new();
    let config: String = (0..4000)
        .map(|i| format!("[components.c{i:04}]\nkind = \"sim\"\n"))
        .collect();
    let path = sb.config(&config);
    let mut child = crate::common::command()
        .args(["plan", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sundown plan");
    let mut out = child.stdout.take().expect("stdout");
    let mut first = [0u8; 10];
    out.read_exact(&mut first).expect("the plan begins");
    drop(out);
    let done = child.wait_with_output().expect("wait");
    let err = stderr(&done);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(done.status.signal(), Some(Signal::SIGPIPE as i32), "{err}");
}

/// A config without components is a mistake (an empty or wrong file), not
/// a run that ends at once: every command that reads it says so, exit 2.
#[test]
fn a_config_without_components_is_refused() {
    let sb = Sandbox::new();
    let path = sb.config("[supervisor]\nshutdown_timeout = \"5s\"\n");
    for command in ["check", "plan", "run"] {
        let out = cli(&[command.as_ref(), "--config".as_ref(), path.as_os_str()]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out)
                .contains("error: there is nothing to supervise: the config has no components"),
            "{command}: {}",
            stderr(&out)
        );
    }
}
