//! Lesson: axum's `with_graceful_shutdown` closes the listener and lets the
//! in-flight requests finish, but it waits for them forever. Put a
//! `timeout` around the drain, and let a second Ctrl-C/SIGTERM end the
//! process at once (exit 4, as sundown does): someone pressing Ctrl-C twice
//! means "now", and a server that ignores it gets `kill -9`ed with no report.
//!
//! `cargo run --example http_shutdown -- --demo` runs this program as a child
//! server three times, each with a `GET /slow` (2 s) in flight when the
//! signal comes, and prints what the client got and the exit code: one
//! signal (the reply arrives, exit 0), two signals (exit 4 at once, no
//! reply), one signal with `--grace 500` (exit 1 after 500 ms, no reply).
//! `docs/guide.md` gives the same steps by hand, with curl and Ctrl-C.

use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use nix::sys::signal::Signal as Sig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

#[path = "support/child.rs"]
mod child;

/// How long `GET /slow` takes: long enough to watch the drain wait for it.
const SLOW: Duration = Duration::from_secs(2);

/// An HTTP server with a bounded, forceable graceful shutdown.
#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7003")]
    addr: SocketAddr,
    /// How long in-flight requests get to finish after the first signal, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    grace: u64,
    /// Run the server three times against a scripted client, and print what each gave.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: SocketAddr, error: io::Error },
    #[error("server failed: {0}")]
    Serve(io::Error),
    #[error("requests still running after the {0} ms grace period; dropping them")]
    GraceExpired(u64),
    #[error("second signal: exiting without waiting for in-flight requests")]
    Forced,
    #[error(transparent)]
    Io(#[from] io::Error),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.demo {
        return match demo().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("http_shutdown --demo: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_shutdown: {e}");
            ExitCode::from(if matches!(e, Error::Forced) { 4 } else { 1 })
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    // Before readiness, so no SIGTERM can hit the default action (death).
    let mut signals = Signals::install()?;
    // Binding ourselves, rather than inside some helper that logs and
    // carries on, is what makes "address in use" an exit code.
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|error| Error::Bind {
            addr: args.addr,
            error,
        })?;
    println!("listening on {}", listener.local_addr()?);

    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/slow", get(slow));
    let drain = CancellationToken::new();
    let server = axum::serve(listener, app).with_graceful_shutdown(drain.clone().cancelled_owned());
    // Pinned here, not spawned: both `select!`s below poll the same server.
    let mut server = pin!(server.into_future());

    tokio::select! {
        // Before the first signal, only a failure ends `serve`. (axum 0.8
        // never returns one: it retries accept errors itself, pausing a
        // second on e.g. "too many open files". Bind errors, above, are the
        // ones you can surface.)
        served = &mut server => return served.map_err(Error::Serve),
        () = signals.recv() => {}
    }

    println!(
        "shutting down: waiting up to {} ms for in-flight requests (signal again to force)",
        args.grace
    );
    drain.cancel();
    let grace = Duration::from_millis(args.grace);
    tokio::select! {
        drained = tokio::time::timeout(grace, &mut server) => match drained {
            Ok(served) => served.map_err(Error::Serve),
            Err(_elapsed) => Err(Error::GraceExpired(args.grace)),
        },
        // Returning drops the server and, from `main`, the runtime: open
        // connections are closed mid-request, which is what "force" means.
        () = signals.recv() => Err(Error::Forced),
    }
}

async fn slow() -> &'static str {
    println!("GET /slow: started, replying in {} ms", SLOW.as_millis());
    tokio::time::sleep(SLOW).await;
    println!("GET /slow: done");
    "slow reply\n"
}

/// SIGINT (Ctrl-C) and SIGTERM (`kill`, Kubernetes, systemd) as one stream.
struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    /// Registers both now: a signal that arrives before the first `recv` is
    /// kept, not lost, and does not kill the process.
    fn install() -> io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal of either kind. Cancel-safe, so it can sit in a
    /// `select!` and be called again for the second signal.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

// ------------------------------------------------------------------ the demo

/// The three endings, each checked against what the lesson promises.
async fn demo() -> io::Result<()> {
    let mut summary = Vec::new();
    for (case, grace, signals, want) in [
        ("one signal", "10000", 1, 0),
        ("two signals", "10000", 2, 4),
        ("one signal, 500 ms grace", "500", 1, 1),
    ] {
        println!("--- {case} while GET /slow runs ---");
        let mut server = child::Server::start(&["--addr", "127.0.0.1:0", "--grace", grace])?;
        let addr = server.wait_for("listening on ").await?;
        let reply = tokio::spawn(http_get(addr, "/slow"));
        server.wait_for("GET /slow: started").await?;
        server.signal(Sig::SIGTERM)?;
        if signals == 2 {
            // Only once the first is handled: two signals sent back to back can arrive as one.
            server.wait_for("shutting down").await?;
            server.signal(Sig::SIGTERM)?;
        }
        let (status, after) = server.exit().await?;
        let reply = reply.await.map_err(io::Error::other)?;
        let got = match reply {
            Ok(response) if response.ends_with("slow reply\n") => {
                "the client got its reply".to_owned()
            }
            Ok(_) | Err(_) => "the client got no reply".to_owned(),
        };
        let code = status
            .code()
            .map_or_else(|| status.to_string(), |c| c.to_string());
        let line = format!(
            "{case}: {got}; exit {code}, {} ms after {}",
            after.unwrap_or(0),
            if signals == 2 {
                "the second signal"
            } else {
                "the signal"
            }
        );
        if status.code() != Some(want) {
            return Err(io::Error::other(format!("{line}; expected exit {want}")));
        }
        summary.push(line);
    }
    println!();
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// A bare HTTP/1.1 GET: the whole response, or the error that ended it.
async fn http_get(addr: String, path: &'static str) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}
