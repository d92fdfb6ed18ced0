//! Lesson: a graceful TCP shutdown is three steps, in this order. When the
//! signal arrives, (1) close the listener, so new connections are refused
//! instead of accepted and then dropped; (2) wait for the in-flight requests
//! with a `TaskTracker`, never a guessed sleep; (3) hang up on connections
//! that stay idle for `IDLE_GRACE`, so one quiet keep-alive client cannot
//! hold the shutdown open. A hard `DRAIN_LIMIT` bounds the whole drain.
//!
//! `cargo run --example tcp_graceful -- --demo` runs this program as a child
//! server twice, first graceful, then `--naive` (which just returns from
//! `main` on the signal, as most first versions do). Each time it connects
//! the same clients (three mid-request, one idle), sends SIGTERM and prints
//! what every client got. Watch the two summary lines at the end: the graceful
//! server delivers all three in-flight replies, the naive one none.
//!
//! Without `--demo` it is a line echo server (`nc 127.0.0.1 7000`; a line
//! starting with `slow` takes a second). Press Ctrl-C during a slow request.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[path = "support/child.rs"]
mod child;

/// How long a request starting with `slow` takes: long enough to be caught mid-request.
const SLOW_WORK: Duration = Duration::from_secs(1);
/// During shutdown, how long a connection may go without a request before we hang up.
const IDLE_GRACE: Duration = Duration::from_millis(500);
/// The limit on the whole drain: a client that keeps sending forever must not keep us alive.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// A line echo server that shuts down gracefully.
#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// On a signal, exit at once, like a first version does (drops in-flight requests).
    #[arg(long)]
    naive: bool,
    /// Run the server twice, graceful and naive, against scripted clients.
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.demo {
        demo().await
    } else {
        serve(args.addr, args.naive).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcp_graceful: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: SocketAddr, naive: bool) -> io::Result<()> {
    // Install the handlers before announcing readiness: until then SIGTERM
    // still has its default action and would kill us without any shutdown.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);

    let shutdown = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut next_id = 0;
    let accepting = loop {
        tokio::select! {
            _ = sigterm.recv() => break Ok(()),
            _ = sigint.recv() => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    next_id += 1;
                    connections.spawn(handle(next_id, stream, shutdown.clone()));
                }
                // A broken listener is an error to report, not a reason to spin.
                Err(e) => break Err(e),
            },
        }
    };

    if naive {
        println!(
            "naive: exiting with {} connection(s) open",
            connections.len()
        );
        // Returning (from here, then from `main`) drops the runtime, and
        // with it every task wherever it is: mid-request clients get a
        // closed socket and no reply.
        return accepting;
    }

    // 1. Close the listener first. From here on a connect is refused, so a
    //    client (or load balancer) retries elsewhere at once; had we kept it
    //    open, connections would queue in the backlog and be reset later.
    drop(listener);
    println!(
        "shutdown: listener closed, waiting for {} connection(s)",
        connections.len()
    );
    // 2. and 3. Tell the connections (an idle one starts its IDLE_GRACE
    //    countdown), then wait for every one of them to end.
    shutdown.cancel();
    // `close` means "no more tasks are coming"; without it `wait` never returns.
    connections.close();
    let started = Instant::now();
    if tokio::time::timeout(DRAIN_LIMIT, connections.wait())
        .await
        .is_err()
    {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connections still open after {DRAIN_LIMIT:?}; giving up on them"),
        ));
    }
    println!(
        "shutdown: all connections finished in {} ms",
        started.elapsed().as_millis()
    );
    accepting
}

/// Serves one connection: each request line is answered with the same line.
async fn handle(id: u64, mut stream: TcpStream, shutdown: CancellationToken) {
    let (reader, mut writer) = stream.split();
    let mut requests = BufReader::new(reader).lines();
    loop {
        let request = tokio::select! {
            // Shutdown or not, a request that arrives is served: only
            // silence is cut short.
            request = requests.next_line() => request,
            () = idle_deadline(&shutdown) => {
                let idle = IDLE_GRACE.as_millis();
                println!("conn {id}: no request for {idle} ms during shutdown, closing it");
                return;
            }
        };
        // EOF or a broken connection: nobody is waiting for a reply any more.
        let Ok(Some(request)) = request else { return };
        // The work is *not* raced against the shutdown token: an accepted
        // request is a promise, and finishing it is the point of the drain.
        if request.starts_with("slow") {
            tokio::time::sleep(SLOW_WORK).await;
        }
        if writer
            .write_all(format!("{request}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Completes `IDLE_GRACE` after the shutdown began, or after the last reply
/// if that was later (it is created anew for every read). Not zero, because
/// an "idle" client may have a request on the wire right now; closing at once
/// would lose it.
async fn idle_deadline(shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    tokio::time::sleep(IDLE_GRACE).await;
}

// ------------------------------------------------------------------ the demo

/// Runs the child server in both modes and prints one summary line for each.
async fn demo() -> io::Result<()> {
    let graceful = demo_one(false).await?;
    let naive = demo_one(true).await?;
    println!("\n{graceful}\n{naive}");
    Ok(())
}

/// A client connection: `BufReader` reads lines and passes writes through.
type Client = BufReader<TcpStream>;

async fn send(client: &mut Client, request: &str) -> io::Result<()> {
    client.write_all(format!("{request}\n").as_bytes()).await
}

/// One reply line, or `None` when the server closed the connection instead.
async fn reply(client: &mut Client) -> io::Result<Option<String>> {
    let mut line = String::new();
    let n = client.read_line(&mut line).await?;
    Ok((n > 0).then(|| line.trim_end().to_owned()))
}

async fn connect(addr: &str) -> io::Result<Client> {
    let mut client = BufReader::new(TcpStream::connect(addr).await?);
    // A reply proves the server has *accepted* the connection; before that it
    // could still be in the listen backlog, which no shutdown can save.
    send(&mut client, "ping").await?;
    reply(&mut client).await?;
    Ok(client)
}

/// One server run: start it, load it with clients, SIGTERM it, report.
async fn demo_one(naive: bool) -> io::Result<String> {
    let mode = if naive { "naive" } else { "graceful" };
    println!("--- {mode} server ---");
    let mut args = vec!["--addr", "127.0.0.1:0"];
    args.extend(naive.then_some("--naive"));
    let mut server = child::Server::start(&args)?;
    let addr = server.wait_for("listening on ").await?;

    let mut idle = connect(&addr).await?;
    let mut busy = Vec::new();
    for i in 1..=3 {
        let mut client = connect(&addr).await?;
        send(&mut client, &format!("slow request {i}")).await?;
        busy.push(client);
    }

    println!("demo: 3 requests in flight and 1 idle connection");
    server.signal(Signal::SIGTERM)?;

    if !naive {
        server.wait_for("shutdown: listener closed").await?;
        let late = match TcpStream::connect(&addr).await {
            Ok(_) => "accepted".to_owned(),
            Err(e) => format!("{e}"),
        };
        println!("new client during shutdown: {late}");
    }

    // Each client waits on its own, so the lines appear as things happen.
    let waits: Vec<_> = busy
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            tokio::spawn(async move {
                let got = reply(&mut client).await;
                let expected = format!("slow request {}", i + 1);
                println!("client {}: {}", i + 1, describe(&got));
                matches!(got, Ok(Some(r)) if r == expected)
            })
        })
        .collect();
    let idle_got = reply(&mut idle).await;
    println!("idle client: {}", describe(&idle_got));
    let mut delivered = 0;
    for wait in waits {
        delivered += usize::from(wait.await.map_err(io::Error::other)?);
    }

    let (status, exited_after) = server.exit().await?;
    let exited_after = exited_after.unwrap_or_default();
    if !status.success() {
        return Err(io::Error::other(format!("{mode} server: {status}")));
    }
    let mut summary = format!("{mode}: {delivered}/3 in-flight replies delivered");
    if !naive {
        let closed = usize::from(matches!(idle_got, Ok(None)));
        summary += &format!(", {closed} idle connection closed");
    }
    Ok(summary + &format!(" (server exited {exited_after} ms after SIGTERM)"))
}

fn describe(got: &io::Result<Option<String>>) -> String {
    match got {
        Ok(Some(line)) => format!("got reply {line:?}"),
        Ok(None) => "connection closed by the server, no reply".to_owned(),
        Err(e) => format!("no reply: {e}"),
    }
}
