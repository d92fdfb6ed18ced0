//! Lesson: an accept loop can stop the instant it is asked to, with no
//! timeouts: `select!` on `listener.accept()` against `token.cancelled()`.
//! Go servers often poll instead (an accept deadline of 1 s, then a look at a
//! stop flag), so their stop takes up to a second and they wake up every
//! second for nothing.
//!
//! `cargo run --example stoppable_listener -- --demo` runs both loops, serves
//! one connection with each, cancels, and waits for each loop's task to
//! return. Watch the two times it prints: a fraction of a millisecond for
//! `select!`, nearly a second for the polling loop. Without `--demo` it
//! greets connections on `--addr` until Ctrl-C.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The accept deadline of the polling loop: also the worst-case stop time.
const POLL: Duration = Duration::from_secs(1);

/// An accept loop that stops on cancellation.
#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: SocketAddr,
    /// Measure how fast both accept loops stop, and exit.
    #[arg(long)]
    demo: bool,
}

/// The loop this example teaches.
async fn serve(listener: TcpListener, stop: CancellationToken) -> io::Result<()> {
    loop {
        tokio::select! {
            // `cancelled()` is an ordinary future: this task is woken by the
            // `cancel()` call itself. Nothing to poll, no wakeups while idle.
            () = stop.cancelled() => return Ok(()),
            // `accept()` is cancel-safe: when the other branch wins, no
            // connection is half-accepted and lost.
            accepted = listener.accept() => {
                let (stream, _peer) = accepted?;
                // The connection outlives the loop; draining connections is
                // what the tcp_graceful example is about.
                tokio::spawn(greet(stream));
            }
        }
    }
}

/// The Go idiom, for contrast only; don't copy it:
///
/// ```go
/// for {
///     l.SetDeadline(time.Now().Add(time.Second))
///     conn, err := l.Accept()
///     if stopping.Load() { return nil }
///     if isTimeout(err) { continue }
///     ...
/// }
/// ```
async fn serve_polling(listener: TcpListener, stop: CancellationToken) -> io::Result<()> {
    loop {
        if let Ok(accepted) = tokio::time::timeout(POLL, listener.accept()).await {
            tokio::spawn(greet(accepted?.0));
        }
        // The only place a stop request is noticed: after a connection, or
        // when the deadline runs out, whichever comes first.
        if stop.is_cancelled() {
            return Ok(());
        }
    }
}

async fn greet(mut stream: TcpStream) {
    // The peer may already be gone; that is its business, not the server's.
    let _ = stream.write_all(b"hello\n").await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.demo {
        demo().await
    } else {
        serve_until_ctrl_c(args.addr).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stoppable_listener: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> io::Result<()> {
    let took = time_the_stop(serve).await?;
    println!("accept loop stopped {:.1} ms after cancel", millis(took));
    let took = time_the_stop(serve_polling).await?;
    println!(
        "polling loop ({} s accept deadline) stopped {:.1} ms after cancel",
        POLL.as_secs(),
        millis(took)
    );
    Ok(())
}

/// Starts an accept loop, proves it serves, cancels it, and measures until
/// its task has returned.
async fn time_the_stop<F, Fut>(accept_loop: F) -> io::Result<Duration>
where
    F: FnOnce(TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(accept_loop(listener, stop.clone()));

    // A greeting proves the loop is up, and now blocked in `accept()` again.
    let mut greeting = String::new();
    TcpStream::connect(addr)
        .await?
        .read_to_string(&mut greeting)
        .await?;

    let cancelled_at = Instant::now();
    stop.cancel();
    stopped(task).await?;
    Ok(cancelled_at.elapsed())
}

/// Waits for the serve task itself to return: "cancelled" is a request, the
/// `JoinHandle` is the proof. Surfaces its error, or its panic.
async fn stopped(task: JoinHandle<io::Result<()>>) -> io::Result<()> {
    task.await.map_err(io::Error::other)?
}

async fn serve_until_ctrl_c(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {} (Ctrl-C to stop)", listener.local_addr()?);
    let stop = CancellationToken::new();
    let mut task = tokio::spawn(serve(listener, stop.clone()));
    tokio::select! {
        // The loop ending before we asked means it failed: say why.
        ended = &mut task => return ended.map_err(io::Error::other)?,
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c?,
    }
    let cancelled_at = Instant::now();
    stop.cancel();
    stopped(task).await?;
    println!(
        "accept loop stopped {:.1} ms after cancel",
        millis(cancelled_at.elapsed())
    );
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
