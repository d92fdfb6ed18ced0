//! What the examples' `--demo` modes share: run this same program again as
//! a child server, echo what it prints, wait for a line it prints, signal it
//! and see how it ended. (Not part of any lesson; the lessons are in the
//! servers themselves.)

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// The child server: this example's own binary with other arguments.
pub(crate) struct Server {
    process: tokio::process::Child,
    /// Its stdout and stderr lines, in the order they arrived.
    lines: mpsc::UnboundedReceiver<String>,
    signalled: Option<Instant>,
}

impl Server {
    /// Starts `current_exe ARGS`; every line it prints is echoed as `  server | …`.
    pub(crate) fn start(args: &[&str]) -> io::Result<Server> {
        let mut process = tokio::process::Command::new(std::env::current_exe()?)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (tx, lines) = mpsc::unbounded_channel();
        forward(process.stdout.take(), tx.clone());
        forward(process.stderr.take(), tx);
        Ok(Server {
            process,
            lines,
            signalled: None,
        })
    }

    /// Waits for the line starting with `prefix` and returns the rest of it.
    pub(crate) async fn wait_for(&mut self, prefix: &str) -> io::Result<String> {
        while let Some(line) = self.lines.recv().await {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.to_owned());
            }
        }
        Err(io::Error::other(format!(
            "server exited before printing {prefix:?}"
        )))
    }

    /// Sends `signal`; [`Server::exit`] measures from the last one sent.
    pub(crate) fn signal(&mut self, signal: Signal) -> io::Result<()> {
        let pid = self
            .process
            .id()
            .ok_or_else(|| io::Error::other("server already exited"))?;
        kill(Pid::from_raw(pid as i32), signal)?;
        println!("demo: sent {signal}");
        self.signalled = Some(Instant::now());
        Ok(())
    }

    /// Waits for the server to end (having echoed all it printed) and returns
    /// its exit status, and the ms since the last signal if one was sent.
    pub(crate) async fn exit(mut self) -> io::Result<(ExitStatus, Option<u128>)> {
        let status = self.process.wait().await?;
        let after = self.signalled.map(|at| at.elapsed().as_millis());
        while self.lines.recv().await.is_some() {}
        Ok((status, after))
    }
}

/// Echoes one of the child's outputs and hands each line to `Server::wait_for`.
fn forward(
    output: Option<impl AsyncRead + Unpin + Send + 'static>,
    tx: mpsc::UnboundedSender<String>,
) {
    let Some(output) = output else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("  server | {line}");
            // Nobody may be waiting any more; the line is printed anyway.
            let _ = tx.send(line);
        }
    });
}
