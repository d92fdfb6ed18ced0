//! The job pipeline's `http` front end and `worker_pool` against a real
//! `redis-server` and a real PostgreSQL, each component driven through the
//! Supervisor so stops and kills come from the engine with real timeouts.
//!
//! Tests needing a server skip (or, under `SUNDOWN_REQUIRE_TOOLS`, fail)
//! when it is not installed. PostgreSQL refuses to run as root, so as root
//! it runs as `nobody` through `setpriv`.

use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sundown::report::ComponentReport;
use sundown::{Component, Outcome, Running, ShutdownReport, StartFailed, Supervisor};
use sundown_standins::http::{Http, HttpSpec, MAX_BODY};
use sundown_standins::jobs::{self, Keys};
use sundown_standins::worker_pool::{JobTime, WorkerPool, WorkerPoolSpec};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::shared::{TIMEOUT, free_addr, pg_bin, tool};

const QUEUE: &str = "jobs";

/// Shows the components' logs in a failing test's output.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sundown=info".into()),
        )
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

// ---------------------------------------------------------------- servers

/// A server process, ended (by `stop_signal`) and reaped on drop.
struct Server {
    child: Child,
    stop_signal: Signal,
}

impl Server {
    /// Spawns `cmd` and waits (bounded) for an output line containing `ready`.
    fn spawn(cmd: &mut Command, ready: &str, stop_signal: Signal) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped"));
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped"));
        for pipe in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(ready) => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{cmd:?} never said `{ready}`; output:\n{}", seen.join("\n"));
                }
            }
        }
        // Keep draining so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in rx {});
        Server { child, stop_signal }
    }

    fn stop(&mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"));
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(pid, self.stop_signal);
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A throwaway `redis-server` without persistence.
struct Redis {
    addr: SocketAddr,
    /// Where the append-only file lives, when the data must survive a restart.
    aof_dir: Option<tempfile::TempDir>,
    server: Option<Server>,
}

impl Redis {
    /// Starts one on a free port; `None` (test skipped) when not installed.
    fn start() -> Option<Redis> {
        Redis::start_at(free_addr())
    }

    fn start_at(addr: SocketAddr) -> Option<Redis> {
        Redis::launch(addr, None)
    }

    /// One whose data survives a restart (`appendfsync always`).
    fn start_persistent() -> Option<Redis> {
        let dir = tempfile::Builder::new()
            .prefix("sundown-redis-")
            .tempdir()
            .expect("temp dir");
        Redis::launch(free_addr(), Some(dir))
    }

    fn launch(addr: SocketAddr, aof_dir: Option<tempfile::TempDir>) -> Option<Redis> {
        let bin = tool("redis-server")?;
        let mut r = Redis {
            addr,
            aof_dir,
            server: None,
        };
        r.server = Some(r.spawn(&bin));
        Some(r)
    }

    fn spawn(&self, bin: &Path) -> Server {
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &self.addr.port().to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        match &self.aof_dir {
            None => cmd.args(["--appendonly", "no"]),
            Some(dir) => cmd
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir.path()),
        };
        Server::spawn(&mut cmd, "Ready to accept connections", Signal::SIGKILL)
    }

    fn url(&self) -> String {
        redis_url(self.addr)
    }

    fn stop(&mut self) {
        self.server = None;
    }

    fn restart(&mut self) {
        self.stop();
        let bin = tool("redis-server").expect("was installed a moment ago");
        self.server = Some(self.spawn(&bin));
    }

    async fn con(&self) -> redis::aio::MultiplexedConnection {
        crate::shared::redis_connection(&self.url()).await
    }
}

fn redis_url(addr: SocketAddr) -> String {
    format!("redis://{addr}/")
}

/// `nobody`'s uid and gid, from `/etc/passwd`.
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a `nobody` user");
    let f: Vec<&str> = line.split(':').collect();
    (f[2].parse().expect("uid"), f[3].parse().expect("gid"))
}

/// A throwaway PostgreSQL cluster (trust authentication, user `sundown`).
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    postgres: PathBuf,
    setpriv: Option<PathBuf>,
    server: Option<Server>,
}

impl Postgres {
    fn start() -> Option<Postgres> {
        let initdb = pg_bin("initdb")?;
        let postgres = pg_bin("postgres")?;
        let dir = tempfile::Builder::new()
            .prefix("sundown-pg-")
            .tempdir()
            .expect("temp dir");
        // PostgreSQL refuses to run as root: run it as `nobody`.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let setpriv = if root {
            let setpriv = tool("setpriv")?;
            let (uid, gid) = nobody();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
            Some(setpriv)
        } else {
            None
        };
        let mut pg = Postgres {
            port: free_addr().port(),
            dir,
            postgres,
            setpriv,
            server: None,
        };
        let data = pg.dir.path().join("data");
        let out = pg
            .command(&initdb)
            .arg("-D")
            .arg(&data)
            .args(["-U", "sundown", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.restart();
        Some(pg)
    }

    fn command(&self, bin: &Path) -> Command {
        let mut cmd = match &self.setpriv {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        // `nobody` may not enter the test's working directory.
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn stop(&mut self) {
        self.server = None;
    }

    fn restart(&mut self) {
        self.stop();
        let mut cmd = self.command(&self.postgres);
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
        // SIGINT is PostgreSQL's fast shutdown: backends end too.
        self.server = Some(Server::spawn(
            &mut cmd,
            "database system is ready to accept connections",
            Signal::SIGINT,
        ));
    }

    fn url(&self) -> String {
        format!("postgres://sundown@127.0.0.1:{}/postgres", self.port)
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL");
        tokio::spawn(connection);
        client
    }

    async fn rows(&self) -> i64 {
        let client = self.client().await;
        // Before the pool created it, there is no table: zero rows.
        match client.query_one("SELECT count(*) FROM jobs", &[]).await {
            Ok(row) => row.get(0),
            Err(_) => 0,
        }
    }
}

// ---------------------------------------------------------------- HTTP

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("reply body is not JSON ({e}): {self:?}"))
    }
}

fn parse_head(head: &str) -> (u16, usize) {
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    (status, length)
}

/// Reads one response (head, then `Content-Length` bytes) off a connection.
async fn read_reply(s: &mut TcpStream) -> std::io::Result<Reply> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let (status, length) = parse_head(&head);
            if buf.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                return Ok(Reply { status, head, body });
            }
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn request_head(method: &str, path: &str, body_len: usize, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n{extra}\r\n"
    )
}

/// One request on a fresh connection (`Connection: close`).
async fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(request_head(method, path, body.len(), "Connection: close\r\n").as_bytes())
        .await?;
    s.write_all(body).await?;
    read_reply(&mut s).await
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, b"")
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

async fn post(addr: SocketAddr, body: &[u8]) -> Reply {
    send(addr, "POST", "/jobs", body)
        .await
        .unwrap_or_else(|e| panic!("POST /jobs: {e}"))
}

/// Whether the peer closed the connection (EOF or reset) within [`TIMEOUT`].
async fn closed(s: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(TIMEOUT, s.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Retries `f` until it returns `Some`, at most [`TIMEOUT`].
async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- specs

fn http_spec(listen: SocketAddr, redis: &str) -> HttpSpec {
    HttpSpec {
        listen,
        redis: redis.to_string(),
        queue: QUEUE.into(),
        drain_delay: Duration::ZERO,
        max_connections: None,
    }
}

fn pool_spec(size: usize, redis: &str, postgres: &str, job_time: Duration) -> WorkerPoolSpec {
    WorkerPoolSpec {
        size,
        queue: QUEUE.into(),
        redis: redis.to_string(),
        postgres: postgres.to_string(),
        job_time: JobTime {
            min: job_time,
            max: job_time,
        },
    }
}

/// A supervisor whose components are sim placeholders (with `extra` TOML,
/// e.g. a `stop_timeout`) replaced by the given implementations.
fn supervisor(components: Vec<(&str, &str, Box<dyn Component>)>) -> Supervisor {
    let toml: String = components
        .iter()
        .map(|(name, extra, _)| format!("[components.{name}]\nkind = \"sim\"\n{extra}\n"))
        .collect();
    let mut sup = Supervisor::from_toml_str(&toml).expect("valid TOML");
    for (name, _, c) in components {
        sup = sup.replace(name, c).expect("component exists");
    }
    sup
}

async fn start(sup: Supervisor) -> Running {
    match sup.start().await {
        Ok(r) => r,
        Err(StartFailed(report)) => panic!("start failed: {report:#?}"),
    }
}

fn component<'a>(report: &'a ShutdownReport, name: &str) -> &'a ComponentReport {
    report
        .component(name)
        .unwrap_or_else(|| panic!("no `{name}` in {report:#?}"))
}

fn assert_stopped(report: &ShutdownReport, name: &str) {
    let c = component(report, name);
    assert_eq!(c.outcome, Outcome::Stopped, "{c:#?}");
    assert_eq!(c.exit_status, Some(0), "{c:#?}");
}

fn assert_killed(report: &ShutdownReport, name: &str) {
    let c = component(report, name);
    assert_eq!(c.outcome, Outcome::TimedOutKilled, "{c:#?}");
    assert_eq!(c.signal.as_deref(), Some("SIGKILL"), "{c:#?}");
}

// ---------------------------------------------------------------- redis helpers

async fn status_of(con: &mut redis::aio::MultiplexedConnection, id: i64) -> Option<String> {
    redis::cmd("HGET")
        .arg(Keys::new(QUEUE).job(id))
        .arg(jobs::STATUS_FIELD)
        .query_async(con)
        .await
        .expect("HGET")
}

async fn llen(con: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("LLEN")
        .arg(key)
        .query_async(con)
        .await
        .expect("LLEN")
}

async fn processing_lists(con: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{QUEUE}:processing:*"))
        .query_async(con)
        .await
        .expect("KEYS")
}

/// Queues a job the way `http` does, returning its id.
async fn enqueue(con: &mut redis::aio::MultiplexedConnection, payload: &str) -> i64 {
    let keys = Keys::new(QUEUE);
    let id: i64 = redis::cmd("INCR")
        .arg(keys.next_id())
        .query_async(con)
        .await
        .expect("INCR");
    redis::pipe()
        .atomic()
        .cmd("HSET")
        .arg(keys.job(id))
        .arg(jobs::STATUS_FIELD)
        .arg("queued")
        .ignore()
        .cmd("LPUSH")
        .arg(QUEUE)
        .arg(jobs::job_json(id, payload.as_bytes()))
        .ignore()
        .query_async::<()>(con)
        .await
        .expect("MULTI/EXEC");
    id
}

async fn wait_status(con: &mut redis::aio::MultiplexedConnection, id: i64, status: &str) {
    eventually(&format!("job {id} to be {status}"), async || {
        (status_of(con, id).await.as_deref() == Some(status)).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------- http tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_rejects_bad_json_and_oversized_bodies_without_redis() {
    logs();
    // Nothing listens at this Redis address: validation must not need it.
    let addr = free_addr();
    let running = start(supervisor(vec![(
        "web",
        "",
        Box::new(Http::new(http_spec(addr, &redis_url(free_addr())))),
    )]))
    .await;

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    for bad in [
        &b"{"[..],
        b"",
        b"not json",
        b"{\"a\":1} trailing",
        b"1,\"id\":2",
        b"\xff\xfe",
        deep.as_bytes(),
    ] {
        let r = post(addr, bad).await;
        assert_eq!(r.status, 400, "{bad:?} → {r:?}");
        let msg = r.json()["error"]
            .as_str()
            .expect("an error message")
            .to_string();
        assert!(msg.contains("not JSON"), "{msg}");
    }

    // Too large, announced by Content-Length: refused before the body is read.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request_head("POST", "/jobs", MAX_BODY + 1, "").as_bytes())
        .await
        .expect("write");
    let r = read_reply(&mut s).await.expect("a reply");
    assert_eq!(r.status, 413, "{r:?}");

    assert_eq!(get(addr, "/healthz").await.status, 200);
    assert_eq!(get(addr, "/readyz").await.status, 200);
    assert_eq!(get(addr, "/nope").await.status, 404);

    let report = running.shutdown().await;
    assert_stopped(&report, "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bind_error_names_the_address_and_the_os_error() {
    logs();
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = blocker.local_addr().expect("addr");
    let sup = supervisor(vec![(
        "web",
        "",
        Box::new(Http::new(http_spec(addr, "redis://127.0.0.1:1/"))),
    )]);
    let Err(StartFailed(report)) = sup.start().await else {
        panic!("http started on a port already taken");
    };
    let c = component(&report, "web");
    assert_eq!(c.outcome, Outcome::Failed, "{c:#?}");
    let error = c.error.as_deref().expect("an error");
    assert!(error.contains(&addr.to_string()), "{error}");
    assert!(error.contains("in use"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_answers_503_while_redis_is_down_and_recovers() {
    logs();
    // Redis's port is known before Redis runs: http starts first.
    let redis_addr = free_addr();
    let addr = free_addr();
    let running = start(supervisor(vec![(
        "web",
        "",
        Box::new(Http::new(http_spec(addr, &redis_url(redis_addr)))),
    )]))
    .await;

    let r = post(addr, b"{\"n\":1}").await;
    assert_eq!(r.status, 503, "{r:?}");
    let msg = r.json()["error"].as_str().expect("message").to_string();
    assert!(msg.contains(&redis_addr.to_string()), "{msg}");
    assert_eq!(get(addr, "/jobs/1").await.status, 503);
    // Still alive and ready: an outage of a dependency is not ours.
    assert_eq!(get(addr, "/readyz").await.status, 200);

    let Some(mut redis) = Redis::start_at(redis_addr) else {
        running.shutdown().await;
        return;
    };
    let r = post(addr, b"{\"n\":1}").await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.json(), serde_json::json!({"id": 1, "status": "queued"}));
    let s = get(addr, "/jobs/1").await;
    assert_eq!(s.status, 200, "{s:?}");
    assert_eq!(s.json(), serde_json::json!({"id": 1, "status": "queued"}));
    assert_eq!(get(addr, "/jobs/2").await.status, 404);
    let mut con = redis.con().await;
    assert_eq!(llen(&mut con, QUEUE).await, 1);

    // Redis dies: the job is refused (not silently accepted)…
    redis.stop();
    let r = post(addr, b"{\"n\":2}").await;
    assert_eq!(r.status, 503, "{r:?}");
    // …and once it is back, jobs are accepted again on a new connection.
    redis.restart();
    let r = eventually("a 202 after Redis came back", async || {
        let r = post(addr, b"{\"n\":3}").await;
        (r.status == 202).then_some(r)
    })
    .await;
    assert!(r.json()["id"].as_i64().is_some(), "{r:?}");

    let report = running.shutdown().await;
    assert_stopped(&report, "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_stop_drains_then_closes_and_lets_in_flight_requests_finish() {
    logs();
    let Some(redis) = Redis::start() else { return };
    let addr = free_addr();
    let drain = Duration::from_millis(1500);
    let running = start(supervisor(vec![(
        "web",
        "stop_timeout = \"20s\"",
        Box::new(Http::new(HttpSpec {
            drain_delay: drain,
            ..http_spec(addr, &redis.url())
        })),
    )]))
    .await;

    // An idle keep-alive connection…
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(request_head("GET", "/healthz", 0, "").as_bytes())
        .await
        .expect("write");
    assert_eq!(read_reply(&mut idle).await.expect("reply").status, 200);
    // …and a request in flight: hyper sends `100 Continue` once the handler
    // reads the body, so the request is provably being served.
    let body = br#"{"n":420}"#;
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(
        request_head("POST", "/jobs", body.len(), "Expect: 100-continue\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let cont = read_reply(&mut slow).await.expect("100 Continue");
    assert_eq!(cont.status, 100, "{cont:?}");

    let shutdown = tokio::spawn(running.shutdown());
    eventually("/readyz to turn 503", async || {
        (get(addr, "/readyz").await.status == 503).then_some(())
    })
    .await;
    // Draining: not ready, but still serving new connections normally.
    assert_eq!(get(addr, "/healthz").await.status, 200);

    eventually("the listener to close", async || {
        TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
    assert!(
        closed(&mut idle).await,
        "the idle keep-alive connection stays open"
    );
    assert!(
        !shutdown.is_finished(),
        "the stop ended with a request still in flight"
    );

    slow.write_all(body).await.expect("write the body");
    let r = read_reply(&mut slow)
        .await
        .expect("the in-flight request's reply");
    assert_eq!(r.status, 202, "{r:?}");
    assert!(
        r.head.to_ascii_lowercase().contains("connection: close"),
        "{r:?}"
    );
    assert!(closed(&mut slow).await, "closed after its last reply");

    let report = shutdown.await.expect("shutdown task");
    assert_stopped(&report, "web");
    let stop_ms = component(&report, "web").stop_ms.expect("stop_ms");
    assert!(stop_ms >= drain.as_millis() as f64, "{stop_ms} ms");
    let mut con = redis.con().await;
    assert_eq!(
        llen(&mut con, QUEUE).await,
        1,
        "the in-flight job was queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_kill_closes_connections_at_once() {
    logs();
    let addr = free_addr();
    let running = start(supervisor(vec![(
        "web",
        "stop_timeout = \"300ms\"",
        Box::new(Http::new(http_spec(addr, "redis://127.0.0.1:1/"))),
    )]))
    .await;
    // A request that never sends its body holds the graceful stop forever.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(request_head("POST", "/jobs", 10, "Expect: 100-continue\r\n").as_bytes())
        .await
        .expect("write");
    assert_eq!(read_reply(&mut slow).await.expect("100").status, 100);

    let report = running.shutdown().await;
    assert_killed(&report, "web");
    assert!(closed(&mut slow).await, "the connection survived the kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_max_connections_makes_extra_connections_wait() {
    logs();
    let addr = free_addr();
    let running = start(supervisor(vec![(
        "web",
        "",
        Box::new(Http::new(HttpSpec {
            max_connections: Some(1),
            ..http_spec(addr, "redis://127.0.0.1:1/")
        })),
    )]))
    .await;
    let mut first = TcpStream::connect(addr).await.expect("connect");
    first
        .write_all(request_head("GET", "/healthz", 0, "").as_bytes())
        .await
        .expect("write");
    assert_eq!(read_reply(&mut first).await.expect("reply").status, 200);

    // The kernel completes the handshake, but nobody serves it…
    let mut second = TcpStream::connect(addr).await.expect("connect");
    second
        .write_all(request_head("GET", "/healthz", 0, "").as_bytes())
        .await
        .expect("write");
    let waited = tokio::time::timeout(Duration::from_millis(300), read_reply(&mut second)).await;
    assert!(waited.is_err(), "served past max_connections: {waited:?}");
    // …until the first connection closes.
    drop(first);
    let r = tokio::time::timeout(TIMEOUT, read_reply(&mut second))
        .await
        .expect("served once a slot freed")
        .expect("reply");
    assert_eq!(r.status, 200);
    drop(second);

    let report = running.shutdown().await;
    assert_stopped(&report, "web");
}

// ---------------------------------------------------------------- pipeline

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_flow_from_http_through_workers_into_postgres() {
    logs();
    let Some(redis) = Redis::start() else { return };
    let Some(pg) = Postgres::start() else { return };
    let addr = free_addr();
    let running = start(supervisor(vec![
        (
            "web",
            "",
            Box::new(Http::new(http_spec(addr, &redis.url()))),
        ),
        (
            "workers",
            "",
            Box::new(WorkerPool::new(pool_spec(
                2,
                &redis.url(),
                &pg.url(),
                Duration::from_millis(10),
            ))),
        ),
    ]))
    .await;

    let payload = r#"{"n": 1, "s": "héllo"}"#;
    let r = post(addr, payload.as_bytes()).await;
    assert_eq!(r.status, 202, "{r:?}");
    let id = r.json()["id"].as_i64().expect("an id");
    assert_eq!(r.json()["status"], "queued");
    eventually("the job to be done", async || {
        let s = get(addr, &format!("/jobs/{id}")).await;
        (s.json()["status"] == "done").then_some(())
    })
    .await;

    // The largest body accepted is exactly MAX_BODY.
    let big = format!("\"{}\"", "x".repeat(MAX_BODY - 2));
    let r = post(addr, big.as_bytes()).await;
    assert_eq!(r.status, 202, "{}", r.body);

    let client = pg.client().await;
    let row = client
        .query_one(
            "SELECT payload, result, worker FROM jobs WHERE id = $1",
            &[&id],
        )
        .await
        .expect("the job's row");
    let stored: String = row.get(0);
    let compact = serde_json::from_str::<serde_json::Value>(payload)
        .expect("JSON")
        .to_string();
    assert_eq!(stored, compact);
    assert_eq!(row.get::<_, String>(1), jobs::result_of(&compact));
    let worker: String = row.get(2);
    assert!(worker.starts_with("workers/"), "{worker}");

    let report = running.shutdown().await;
    assert_stopped(&report, "web");
    assert_stopped(&report, "workers");
    let mut con = redis.con().await;
    assert!(processing_lists(&mut con).await.is_empty());
    // Nothing outlives the components: their connections close (the
    // servers notice a moment later), leaving only the test's own.
    eventually("Redis clients to be only the test's", async || {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut con)
            .await
            .expect("CLIENT LIST");
        (list.lines().count() == 1).then_some(())
    })
    .await;
    eventually("PostgreSQL sessions to be only the test's", async || {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        (row.get::<_, i64>(0) == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_stop_finishes_jobs_in_flight_and_takes_no_new_ones() {
    logs();
    let Some(redis) = Redis::start() else { return };
    let Some(pg) = Postgres::start() else { return };
    let mut con = redis.con().await;
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(enqueue(&mut con, &format!("{{\"n\":{n}}}")).await);
        }
        ids
    };
    let running = start(supervisor(vec![(
        "workers",
        "stop_timeout = \"20s\"",
        Box::new(WorkerPool::new(pool_spec(
            3,
            &redis.url(),
            &pg.url(),
            Duration::from_millis(1500),
        ))),
    )]))
    .await;
    // The queue is FIFO: the first three are taken.
    for &id in &ids[..3] {
        wait_status(&mut con, id, "running").await;
    }
    assert_eq!(pg.rows().await, 0, "nothing finished before the stop");

    let report = running.shutdown().await;
    assert_stopped(&report, "workers");
    assert_eq!(pg.rows().await, 3, "the jobs in flight were committed");
    for &id in &ids[..3] {
        assert_eq!(status_of(&mut con, id).await.as_deref(), Some("done"));
    }
    for &id in &ids[3..] {
        assert_eq!(status_of(&mut con, id).await.as_deref(), Some("queued"));
    }
    assert_eq!(llen(&mut con, QUEUE).await, 2, "no new job was taken");
    assert!(processing_lists(&mut con).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_kill_gives_jobs_back_and_a_new_pool_finishes_them() {
    logs();
    let Some(redis) = Redis::start() else { return };
    let Some(pg) = Postgres::start() else { return };
    let mut con = redis.con().await;
    let a = enqueue(&mut con, "{\"n\":1}").await;
    let b = enqueue(&mut con, "{\"n\":2}").await;
    let running = start(supervisor(vec![(
        "workers",
        "stop_timeout = \"500ms\"",
        Box::new(WorkerPool::new(pool_spec(
            2,
            &redis.url(),
            &pg.url(),
            Duration::from_secs(600),
        ))),
    )]))
    .await;
    wait_status(&mut con, a, "running").await;
    wait_status(&mut con, b, "running").await;

    let report = running.shutdown().await;
    assert_killed(&report, "workers");
    assert_eq!(
        llen(&mut con, QUEUE).await,
        2,
        "both jobs are back in the queue"
    );
    assert!(processing_lists(&mut con).await.is_empty());
    assert_eq!(status_of(&mut con, a).await.as_deref(), Some("queued"));
    assert_eq!(status_of(&mut con, b).await.as_deref(), Some("queued"));
    assert_eq!(pg.rows().await, 0);

    let running = start(supervisor(vec![(
        "workers",
        "",
        Box::new(WorkerPool::new(pool_spec(
            2,
            &redis.url(),
            &pg.url(),
            Duration::from_millis(10),
        ))),
    )]))
    .await;
    wait_status(&mut con, a, "done").await;
    wait_status(&mut con, b, "done").await;
    let report = running.shutdown().await;
    assert_stopped(&report, "workers");
    assert_eq!(pg.rows().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_recovers_leftover_processing_lists_at_start() {
    logs();
    let Some(redis) = Redis::start() else { return };
    let Some(pg) = Postgres::start() else { return };
    let mut con = redis.con().await;
    let keys = Keys::new(QUEUE);
    // A crashed earlier run of a larger pool left jobs in workers 0 and 5…
    let mut leftovers = Vec::new();
    for (worker, n) in [(0, 1), (5, 2), (5, 3)] {
        let id = enqueue(&mut con, &format!("{{\"n\":{n}}}")).await;
        let _: () = redis::cmd("LMOVE")
            .arg(QUEUE)
            .arg(keys.processing("workers", worker))
            .arg("RIGHT")
            .arg("LEFT")
            .query_async(&mut con)
            .await
            .expect("LMOVE");
        leftovers.push(id);
    }
    // …and another pool's list is not ours to take.
    let foreign = enqueue(&mut con, "{\"n\":4}").await;
    let foreign_list = keys.processing("other", 0);
    let _: () = redis::cmd("LMOVE")
        .arg(QUEUE)
        .arg(&foreign_list)
        .arg("RIGHT")
        .arg("LEFT")
        .query_async(&mut con)
        .await
        .expect("LMOVE");
    assert_eq!(llen(&mut con, QUEUE).await, 0);

    let running = start(supervisor(vec![(
        "workers",
        "",
        Box::new(WorkerPool::new(pool_spec(
            1,
            &redis.url(),
            &pg.url(),
            Duration::from_millis(5),
        ))),
    )]))
    .await;
    for &id in &leftovers {
        wait_status(&mut con, id, "done").await;
    }
    let report = running.shutdown().await;
    assert_stopped(&report, "workers");
    assert_eq!(pg.rows().await, 3);
    assert_eq!(processing_lists(&mut con).await, vec![foreign_list]);
    assert_eq!(
        status_of(&mut con, foreign).await.as_deref(),
        Some("queued")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_rides_out_redis_missing_at_start_and_a_postgres_outage() {
    logs();
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    if tool("redis-server").is_none() {
        return;
    }
    let redis_addr = free_addr();
    let mut running = supervisor(vec![(
        "workers",
        "",
        Box::new(WorkerPool::new(pool_spec(
            1,
            &redis_url(redis_addr),
            &pg.url(),
            Duration::from_secs(2),
        ))),
    )])
    .spawn();
    // Ready at once: a pool's readiness does not wait for its connections
    // (see the module docs); it keeps dialing Redis in the background.
    assert!(
        running.ready().await,
        "the pool is ready while Redis is down"
    );
    let redis = Redis::start_at(redis_addr).expect("installed");

    // PostgreSQL goes away while a job is being worked on: the commit
    // fails, the job stays ours, and it is committed once PostgreSQL is back.
    let mut con = redis.con().await;
    let id = enqueue(&mut con, "{\"n\":1}").await;
    wait_status(&mut con, id, "running").await;
    pg.stop();
    let mut status = running.status();
    eventually("a failed commit", async || {
        let s = status.borrow_and_update();
        let detail = s
            .components
            .iter()
            .find(|c| c.name == "workers")
            .and_then(|c| c.detail.clone())
            .unwrap_or_default();
        detail.contains("failed").then_some(())
    })
    .await;
    assert_eq!(
        llen(&mut con, &Keys::new(QUEUE).processing("workers", 0)).await,
        1,
        "the job whose commit failed is still in the processing list"
    );
    pg.restart();
    wait_status(&mut con, id, "done").await;
    assert_eq!(pg.rows().await, 1);
    let report = running.shutdown().await;
    assert_stopped(&report, "workers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_rides_out_a_redis_outage_mid_job() {
    logs();
    let Some(mut redis) = Redis::start_persistent() else {
        return;
    };
    let Some(pg) = Postgres::start() else { return };
    let mut con = redis.con().await;
    let first = enqueue(&mut con, "{\"n\":1}").await;
    let running = start(supervisor(vec![(
        "workers",
        "",
        Box::new(WorkerPool::new(pool_spec(
            1,
            &redis.url(),
            &pg.url(),
            Duration::from_secs(1),
        ))),
    )]))
    .await;
    wait_status(&mut con, first, "running").await;
    // Redis dies with the job in the worker's hands, and comes back with it
    // still in the processing list (append-only file, fsync always).
    redis.restart();
    let mut con = redis.con().await;
    wait_status(&mut con, first, "done").await;
    assert!(processing_lists(&mut con).await.is_empty());
    // The worker's blocking connection was replaced: new jobs still flow.
    let second = enqueue(&mut con, "{\"n\":2}").await;
    wait_status(&mut con, second, "done").await;
    let report = running.shutdown().await;
    assert_stopped(&report, "workers");
    assert_eq!(pg.rows().await, 2);
}
