//! `sundown completions SHELL` and `sundown man`: every script is made and
//! names the subcommands, bash really completes subcommands and component
//! names, and the man page renders.

use std::process::Command;

use crate::common::{BIN, Sandbox, cli, text};

#[test]
fn every_shell_gets_a_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = cli(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for sub in [
            "run",
            "stop",
            "start",
            "restart",
            "logs",
            "wait",
            "completions",
            "man",
        ] {
            assert!(script.contains(sub), "{shell} does not mention `{sub}`");
        }
    }
    // The names hook went in where clap's script has room for it.
    assert!(text(&cli(&["completions", "bash"]).stdout).contains("complete -F _sundown_names"));
    assert!(
        text(&cli(&["completions", "zsh"]).stdout)
            .contains(":name -- The component:_sundown_names")
    );
    assert!(text(&cli(&["completions", "fish"]).stdout).contains("sundown __names"));
    assert_eq!(cli(&["completions", "tcsh"]).status.code(), Some(2));
}

/// What bash completes for the words of `line` (the last one being
/// completed), with the generated script loaded.
fn bash_completes(sb: &Sandbox, words: &[&str]) -> Vec<String> {
    let script = sb.write("sundown.bash", &text(&cli(&["completions", "bash"]).stdout));
    let quoted: Vec<String> = std::iter::once(BIN)
        .chain(words.iter().copied())
        .map(|w| format!("'{w}'"))
        .collect();
    let program = format!(
        r#"source '{}'
COMP_WORDS=({})
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
_sundown_names "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script.display(),
        quoted.join(" ")
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(program)
        .current_dir(sb.dir())
        .output()
        .expect("run bash");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut got: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    got.sort();
    got
}

#[test]
fn bash_completes_subcommands_and_component_names() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: no bash");
        return;
    }
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.service("web", "")
    ));
    sb.write("other.toml", &sb.service("worker", ""));
    assert_eq!(bash_completes(&sb, &["st"]), ["start", "status", "stop"]);
    assert_eq!(bash_completes(&sb, &["wa"]), ["wait"]);
    assert_eq!(bash_completes(&sb, &["stop", ""]), ["db", "web"]);
    assert_eq!(bash_completes(&sb, &["logs", "w"]), ["web"]);
    assert_eq!(
        bash_completes(&sb, &["restart", "-c", "other.toml", ""]),
        ["worker"]
    );
    assert_eq!(
        bash_completes(&sb, &["run", "--exit-with", ""]),
        ["db", "web"]
    );
    assert_eq!(bash_completes(&sb, &["wait", "--completed", "d"]), ["db"]);
    // One name only; then the options.
    assert!(bash_completes(&sb, &["stop", "db", ""]).contains(&"--socket".to_string()));
}

#[test]
fn the_man_page_renders() {
    let out = cli(&["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    // After the apostrophe string clap_mangen defines, the title.
    let first_macro = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap_or_default();
    assert!(first_macro.starts_with(".TH sundown 1"), "{first_macro}");
    for sub in ["wait", "completions", "stop"] {
        assert!(page.contains(sub), "the man page does not mention `{sub}`");
    }
    if Command::new("groff").arg("--version").output().is_ok() {
        let mut groff = Command::new("groff")
            .args(["-man", "-Tutf8"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run groff");
        use std::io::Write as _;
        groff
            .stdin
            .take()
            .expect("stdin")
            .write_all(page.as_bytes())
            .expect("write to groff");
        let out = groff.wait_with_output().expect("groff ends");
        assert!(out.status.success());
        assert!(
            text(&out.stdout).contains("sundown(1)"),
            "{}",
            text(&out.stdout)
        );
    }
}
