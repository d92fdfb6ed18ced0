//! Lesson: keep `main` tiny. It calls `run()`, which returns
//! `Result<(), Error>`, and turns the outcome into the exit code in exactly
//! one place: 0 for a clean shutdown after a signal, 1 for any error,
//! including a listener that fails and a shutdown that overruns its deadline.
//! Every failure is then a `?` away from the exit code, never a log line
//! followed by a cheerful exit 0.
//!
//! `cargo run --example run_pattern -- --demo` runs this program as a child
//! server three ways and prints the exit code of each: Ctrl-C after serving
//! a client (0), a second copy on an address already taken (1, naming the
//! address), and a shutdown held up by a task that ignores cancellation (1,
//! once the deadline passes). `docs/guide.md` gives the same steps by hand.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[path = "support/child.rs"]
mod child;

/// An echo server whose every way of ending has an exit code.
#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7002")]
    addr: SocketAddr,
    /// Start a background task that ignores cancellation, so the shutdown deadline is exceeded.
    #[arg(long)]
    slow_shutdown: bool,
    /// How long the shutdown may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    shutdown_timeout: u64,
    /// Run the server three ways against a scripted client, and print each exit code.
    #[arg(long)]
    demo: bool,
}

/// Every way `run` can fail. Each message says what failed and where, since
/// it is the last thing the process says.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: SocketAddr, error: io::Error },
    #[error("the listener failed: {0}")]
    Accept(io::Error),
    #[error("shutdown did not finish within {0} ms")]
    ShutdownTimeout(u64),
    #[error(transparent)]
    Io(#[from] io::Error),
}

#[tokio::main]
async fn main() -> ExitCode {
    // A bad flag never reaches `run`: clap prints the usage and exits 2.
    let args = Args::parse();
    if args.demo {
        return match demo().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("run_pattern --demo: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `fn main() -> Result` would also exit 1, but print `{:?}`.
            eprintln!("run_pattern: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let shutdown = CancellationToken::new();
    // The handlers are installed here, synchronously, before we announce
    // readiness: a SIGTERM sent the moment `listening on` appears must reach
    // us, not the default action (which kills the process).
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = sigint.recv() => {}
            }
            shutdown.cancel();
        }
    });

    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|error| Error::Bind {
            addr: args.addr,
            error,
        })?;
    println!("listening on {}", listener.local_addr()?);

    let tasks = TaskTracker::new();
    if args.slow_shutdown {
        // Stands in for a job that never looks at the token: stuck on a lock,
        // or waiting on a peer that will not answer.
        tasks.spawn(std::future::pending::<()>());
    }

    let served = accept_loop(listener, &shutdown, &tasks).await;
    println!("shutting down");
    // Whatever ended the loop, a signal or an error, the rest stops too.
    shutdown.cancel();
    tasks.close();
    let deadline = Duration::from_millis(args.shutdown_timeout);
    let drained = tokio::time::timeout(deadline, tasks.wait()).await;
    // The listener error is the root cause, so it wins over a slow drain.
    served?;
    // On a timeout we return anyway: returning from `main` drops the runtime,
    // which cancels the stragglers at their next `.await`. (A task blocked
    // in synchronous code would stall that; then `std::process::exit`.)
    drained.map_err(|_| Error::ShutdownTimeout(args.shutdown_timeout))
}

/// Accepts until the shutdown, which is `Ok`, or until the listener fails,
/// which is returned rather than logged and retried forever: a process that
/// runs but no longer accepts is the worst kind of failure, because nothing
/// restarts it. (Some accept errors, e.g. a peer aborting before `accept`,
/// are per-connection; axum retries those. The point is to decide.)
async fn accept_loop(
    listener: TcpListener,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), Error> {
    loop {
        let (stream, _peer) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted.map_err(Error::Accept)?,
        };
        tasks.spawn(echo(stream, shutdown.clone()));
    }
}

async fn echo(mut stream: TcpStream, shutdown: CancellationToken) {
    let (mut reader, mut writer) = stream.split();
    tokio::select! {
        _ = tokio::io::copy(&mut reader, &mut writer) => {}
        // An idle echo client would otherwise hold the shutdown until the deadline.
        () = shutdown.cancelled() => {}
    }
}

// ------------------------------------------------------------------ the demo

/// Each way of ending, with the exit code it must give; fails if one differs.
async fn demo() -> io::Result<()> {
    let mut summary = Vec::new();

    println!("--- 1. serve a client, then Ctrl-C ---");
    let mut server = child::Server::start(&["--addr", "127.0.0.1:0"])?;
    let addr = server.wait_for("listening on ").await?;
    let mut client = TcpStream::connect(&addr).await?;
    client.write_all(b"hello\n").await?;
    let mut echoed = [0; 6];
    client.read_exact(&mut echoed).await?;
    println!(
        "demo: the server echoed {:?}",
        String::from_utf8_lossy(&echoed)
    );

    // While it runs, a second copy wants the same address.
    println!("--- 2. a second copy on {addr}, which is taken ---");
    let second = child::Server::start(&["--addr", &addr])?;
    let (status, _) = second.exit().await?;
    summary.push(expect("address in use", status.code(), 1, None)?);

    println!("--- back to the first server: Ctrl-C ---");
    server.signal(Signal::SIGINT)?;
    let (status, after) = server.exit().await?;
    summary.push(expect("Ctrl-C after serving", status.code(), 0, after)?);

    println!("--- 3. a task that ignores the shutdown, deadline 200 ms ---");
    let mut server = child::Server::start(&[
        "--addr",
        "127.0.0.1:0",
        "--slow-shutdown",
        "--shutdown-timeout",
        "200",
    ])?;
    server.wait_for("listening on ").await?;
    server.signal(Signal::SIGTERM)?;
    let (status, after) = server.exit().await?;
    summary.push(expect(
        "shutdown over its deadline",
        status.code(),
        1,
        after,
    )?);

    println!();
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// One summary line, or an error when the exit code is not the one the lesson promises.
fn expect(case: &str, code: Option<i32>, want: i32, after_ms: Option<u128>) -> io::Result<String> {
    let after = after_ms.map_or_else(String::new, |ms| format!(", {ms} ms after the signal"));
    match code {
        Some(code) if code == want => Ok(format!("{case}: exit {code}{after}")),
        _ => Err(io::Error::other(format!(
            "{case}: exit {code:?}, expected {want}"
        ))),
    }
}
