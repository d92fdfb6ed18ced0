//! The `sundown` binary: everything lives in [`cli::main`], which returns the exit code.
//!
//! `cli` parses the arguments and hands each command to its module:
//! `supervise` (`sundown run`: the supervisor process), `client`, `change` and `wait`
//! (the commands that talk to a running one), `top` (the live terminal view of one), `inspect` (the ones that only
//! read files), `export` (Kubernetes), `completions` (shell completions and
//! the man page), with `logging`, `status_line` (the live
//! line on a terminal), `startup` (SIGPIPE, `--profile`) and `config_file` (reading the config with this
//! build's kinds) beside them.

mod change;
mod cli;
mod client;
mod completions;
mod config_file;
mod export;
mod inspect;
mod logging;
mod startup;
mod status_line;
mod supervise;
mod top;
mod wait;

fn main() -> std::process::ExitCode {
    let code = cli::main(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
