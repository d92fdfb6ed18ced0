//! Validation of `supervisor.toml`: every error class with its exact place,
//! the rendered message, warnings, and the defaults.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::process::{Check, ProcessSpec};
use crate::sim::SimSpec;

const FILE: &str = "supervisor.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, FILE, Path::new("/base"))
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(config) => panic!("expected an error, got {config:#?}"),
        Err(e) => e,
    }
}

/// Asserts that `text` has exactly one problem, at `line:column`, whose
/// message is exactly `message`, and that it renders as
/// `supervisor.toml:LINE:COLUMN: error: MESSAGE`.
#[track_caller]
fn assert_one_error(text: &str, line: usize, column: usize, message: &str) {
    let e = err(text);
    assert_eq!(
        e.diagnostics,
        vec![Located {
            file: None,
            line,
            column,
            message: message.to_string()
        }],
        "rendered:\n{e}"
    );
    assert_eq!(e.file, FILE);
    assert_eq!(
        e.to_string(),
        format!("{FILE}:{line}:{column}: error: {message}")
    );
}

/// Asserts exactly one problem at `line:column` whose message starts with
/// `prefix` (for messages that quote a library's wording after it).
#[track_caller]
fn assert_one_error_starting(text: &str, line: usize, column: usize, prefix: &str) -> String {
    let e = err(text);
    assert_eq!(e.diagnostics.len(), 1, "rendered:\n{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (line, column), "rendered:\n{e}");
    assert!(
        d.message.starts_with(prefix),
        "message {:?} does not start with {prefix:?}",
        d.message
    );
    let rendered = e.to_string();
    assert!(
        rendered.starts_with(&format!("{FILE}:{line}:{column}: error: {prefix}")),
        "rendered: {rendered}"
    );
    d.message.clone()
}

fn process(config: &Config, name: &str) -> ProcessSpec {
    let i = config.index_of(name).expect("the component exists");
    let kind = &config.components[i].kind;
    match kind.get::<ProcessSpec>() {
        Some(p) => p.clone(),
        None => panic!("`{name}` is kind {}, not process", kind.name()),
    }
}

fn sim(config: &Config, name: &str) -> SimSpec {
    let i = config.index_of(name).expect("the component exists");
    let kind = &config.components[i].kind;
    match kind.get::<SimSpec>() {
        Some(s) => s.clone(),
        None => panic!("`{name}` is kind {}, not sim", kind.name()),
    }
}

mod checks;
mod defaults;
mod dependencies;
mod env_files;
mod exit_with;
mod include;
mod interpolation;
mod log_files;
mod one_pass;
mod oneshot;
mod process;
mod profiles;
mod replicas;
mod restart;
mod syntax;
mod values;
