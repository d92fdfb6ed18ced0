//! The `sundown` binary: everything lives in [`cli::run`], which returns the exit code.

mod cli;
mod export;
mod live;
mod remote;
mod run;

fn main() -> std::process::ExitCode {
    let code = cli::run(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
