//! `env_file`: dotenv syntax, where a file is looked for, a missing or
//! malformed one, precedence, and `sundown config`'s resolved text.

use std::path::PathBuf;

use super::*;
use crate::config::env_file;

fn no_host(_: &str) -> Option<String> {
    None
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("a temporary directory"))
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, contents).expect("write a file");
        path
    }

    fn parse(&self, text: &str) -> Result<Config, ConfigError> {
        Config::parse_in(
            text,
            FILE,
            self.0.path(),
            &crate::kinds::builtin(),
            &no_host,
            &[],
        )
        .map(|(config, _)| config)
    }

    fn ok(&self, text: &str) -> Config {
        self.parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(&self, text: &str) -> ConfigError {
        match self.parse(text) {
            Ok(c) => panic!("expected an error, got {c:#?}"),
            Err(e) => e,
        }
    }
}

#[test]
fn dotenv_syntax() {
    let vars = env_file::parse(
        "# a comment\n\nPLAIN=value # not part of it\nexport EXPORTED=yes\nDOUBLE=\"two words\"\nSINGLE='$NOT_EXPANDED'\nEMPTY=\nSPACED = around\nMULTI=\"a\nb\"\nDERIVED=$PLAIN/x\nQUOTED=\"${PLAIN}y\"\n",
    )
    .expect("a valid env file");
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("PLAIN"), Some("value"));
    assert_eq!(get("EXPORTED"), Some("yes"));
    assert_eq!(get("DOUBLE"), Some("two words"));
    assert_eq!(get("SINGLE"), Some("$NOT_EXPANDED"));
    assert_eq!(get("EMPTY"), Some(""));
    assert_eq!(get("SPACED"), Some("around"));
    assert_eq!(get("MULTI"), Some("a\nb"));
    // dotenvy's own expansion, from earlier lines.
    assert_eq!(get("DERIVED"), Some("value/x"));
    assert_eq!(get("QUOTED"), Some("valuey"));
}

#[test]
fn a_malformed_env_file_names_its_line() {
    let (line, why) =
        env_file::parse("A=1\n# fine\nnot a line\nB=2\n").expect_err("line 3 is not NAME=value");
    assert_eq!(line, 3);
    assert!(why.starts_with("cannot parse `not a line`"), "{why}");
    // dotenvy names a bad value by its text only; the line is still found.
    let (line, why) =
        env_file::parse("A=1\nB=\"$$\"\nC=\"5$$\"\n").expect_err("dotenvy has no `$$`");
    assert_eq!(line, 2);
    assert!(why.starts_with("cannot parse `\"$$\"`"), "{why}");

    let dir = Dir::new();
    dir.write(".env", "A=1\n\n1BAD=x\n");
    let e = dir.err("[supervisor]\nenv_file = [\".env\"]\n[components.a]\nkind = \"sim\"\n");
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (2, 13), "{e}");
    assert!(
        d.message
            .starts_with("[supervisor] env_file: env file `.env`, line 3: cannot parse `1BAD=x`"),
        "{e}"
    );
}

#[test]
fn a_missing_file_is_an_error_at_its_entry_unless_optional() {
    let dir = Dir::new();
    let e =
        dir.err("[components.web]\ncommand = \"serve\"\nenv_file = [\"base.env\", \"gone.env\"]\n");
    assert_eq!(e.diagnostics.len(), 2, "{e}");
    assert_eq!((e.diagnostics[0].line, e.diagnostics[0].column), (3, 13));
    assert_eq!((e.diagnostics[1].line, e.diagnostics[1].column), (3, 25));
    let m = &e.diagnostics[1].message;
    assert!(
        m.starts_with("component `web`: env_file: env file `gone.env` does not exist ("),
        "{m}"
    );
    assert!(
        m.ends_with("); create it, or mark it optional: { path = \"gone.env\", required = false }"),
        "{m}"
    );

    dir.write("base.env", "A=1\n");
    let config = dir.ok(
        "[components.web]\ncommand = \"serve\"\nenv_file = [\"base.env\", { path = \"gone.env\", required = false }]\n",
    );
    assert_eq!(process(&config, "web").env["A"], "1");
}

#[test]
fn an_env_file_entry_of_the_wrong_shape_is_located() {
    let dir = Dir::new();
    let e = dir.err("[components.web]\ncommand = \"serve\"\nenv_file = [42]\n");
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert_eq!(
        e.diagnostics[0].message,
        "component `web`: env_file: an env_file entry is a path (\".env\") or a table { path = \".env.local\", required = false }"
    );
    let e = dir.err("[components.web]\ncommand = \"serve\"\nenv_file = [{ path = \"\" }]\n");
    assert_eq!(
        e.diagnostics[0].message,
        "component `web`: env_file: the path is empty"
    );
}

#[test]
fn a_huge_env_file_is_refused() {
    let dir = Dir::new();
    let line = "X=0123456789012345678901234567890123456789012345678901234567890123456789\n";
    dir.write("big.env", &line.repeat(1024 * 1024 / line.len() + 1));
    let e = dir.err("[supervisor]\nenv_file = [\"big.env\"]\n[components.a]\nkind = \"sim\"\n");
    assert_eq!(
        e.diagnostics[0].message,
        "[supervisor] env_file: env file `big.env` is larger than 1024 KiB; an env file holds variables, not data"
    );
}

#[test]
fn precedence_env_over_component_files_over_supervisor_files() {
    let dir = Dir::new();
    dir.write("sup.env", "LEVEL=supervisor\nSUP=s\nFILE2=sup\nOWN=sup\n");
    dir.write("one.env", "LEVEL=one\nFILE2=one\nOWN=one\nONE=1\n");
    dir.write("two.env", "FILE2=two\n");
    let config = dir.ok(r#"
[supervisor]
env_file = ["sup.env"]

[components.web]
command = "serve ${LEVEL} ${FILE2} ${OWN}"
env_file = ["one.env", "two.env"]
env = { OWN = "env" }

[components.other]
command = "serve ${LEVEL}"
"#);
    let web = process(&config, "web");
    assert_eq!(web.argv, ["serve", "one", "two", "env"]);
    let env: Vec<(&str, &str)> = web
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("FILE2", "two"),
            ("LEVEL", "one"),
            ("ONE", "1"),
            ("OWN", "env"),
            ("SUP", "s")
        ]
    );
    let other = process(&config, "other");
    assert_eq!(other.argv, ["serve", "supervisor"]);
    assert_eq!(other.env["SUP"], "s");
}

#[test]
fn env_files_feed_every_kind_and_their_own_paths() {
    let dir = Dir::new();
    dir.write("sup.env", "DELAY=2s\nSTAGE=dev\n");
    dir.write("dev.env", "WHO=dev\n");
    let config = dir.ok(
        "[supervisor]\nenv_file = [\"sup.env\"]\n[components.s]\nkind = \"sim\"\nstop_delay = \"${DELAY}\"\n[components.p]\ncommand = \"x\"\nenv_file = [\"${STAGE}.env\"]\n",
    );
    assert_eq!(sim(&config, "s").stop_delay, Duration::from_secs(2));
    assert_eq!(process(&config, "p").env["WHO"], "dev");
}

#[test]
fn the_resolved_text_parses_back_to_the_same_config() {
    let dir = Dir::new();
    dir.write(".env", "PORT=7311\nGREETING='hello $USER'\nPRICE='5$$'\n");
    let path = dir.write(
        "supervisor.toml",
        r#"
[supervisor]
env_file = [".env", { path = ".env.local", required = false }]
report = "report-${PORT}.json"

[components.web]
command = ["sh", "-c", "echo $$$$ ${GREETING}; exec serve --port ${PORT}"]
env = { ADDR = "127.0.0.1:${PORT}" }
ready = { tcp = "127.0.0.1:${PORT}", interval = "50ms" }
stop_command = "ctl --port ${PORT} stop"
restart = "on-failure"

[components.db]
kind = "sim"
stop_delay = "${DELAY:-250ms}"

[phase_timeouts]
web = "5s"
"#,
    );
    let kinds = crate::kinds::builtin();
    let (config, text) = Config::load_resolved(&path, &kinds).unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains("env_file"), "{text}");
    assert!(!text.contains("${"), "{text}");
    assert!(
        text.contains("$$$$"),
        "the shell's `$$` stays escaped:\n{text}"
    );
    let again = dir.write("resolved.toml", &text);
    let back = Config::load_with(&again, &kinds).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back.supervisor, config.supervisor, "{text}");
    assert_eq!(back.components, config.components, "{text}");
    assert_eq!(back.phase_timeouts, config.phase_timeouts, "{text}");
    let web = process(&back, "web");
    assert_eq!(web.argv[2], "echo $$ hello $USER; exec serve --port 7311");
    assert_eq!(web.env["PRICE"], "5$$");
    assert_eq!(web.env["PORT"], "7311");
}
