//! The stand-ins as `sundown run` runs them, with the built binary: what a
//! torn Redis append-only file says in the log, and a committed PostgreSQL
//! row that survives the supervisor being killed. (The stand-ins as a
//! library, against real clients, are tested in `sundown-standins`.)

use std::net::SocketAddr;

use nix::sys::signal::Signal;
use sundown::Supervisor;
use sundown_standins::postgres::{Postgres, PostgresSpec};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

use crate::common::{Sandbox, Sundown, toml_str};
use crate::shared::{TIMEOUT, free_addr, redis_connection};

/// A torn last command in the append-only file (the stand-in's own tests
/// check that it is cut off and the rest replayed): `sundown run` warns
/// about it in its log, and stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sundown_run_warns_about_a_torn_tail_and_stops_cleanly() {
    let sandbox = Sandbox::new();
    let path = sandbox.path("redis.aof");
    let mut data = b"*3\r\n$5\r\nRPUSH\r\n$4\r\njobs\r\n$2\r\nj1\r\n".to_vec();
    data.extend(&b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n"[..10]);
    std::fs::write(&path, &data).unwrap();
    let addr = free_addr();
    sandbox.config(&format!(
        "[components.redis]\nkind = \"redis\"\nlisten = \"{addr}\"\naof = {}\nappendfsync = \"always\"\n",
        toml_str(&path.display().to_string())
    ));
    let mut sundown = sandbox.run();
    let warning = sundown.wait_for("incomplete command");
    assert!(
        warning.contains("WARN") && warning.contains("redis.aof"),
        "{warning}"
    );
    sundown.wait_ready(1);
    let mut con = redis_connection(&format!("redis://{addr}/")).await;
    let jobs: Vec<String> = redis::cmd("LRANGE")
        .arg("jobs")
        .arg("0")
        .arg("-1")
        .query_async(&mut con)
        .await
        .expect("LRANGE");
    assert_eq!(jobs, ["j1"]);
    let x: Option<String> = redis::cmd("GET")
        .arg("x")
        .query_async(&mut con)
        .await
        .expect("GET");
    assert_eq!(x, None);
    sundown.signal(Signal::SIGTERM);
    assert_eq!(sundown.exit_code(), 0, "{}", sundown.stderr());
    assert_eq!(
        sandbox
            .report()
            .component("redis")
            .unwrap()
            .outcome
            .as_str(),
        "stopped"
    );
}

type Driver = JoinHandle<Result<(), tokio_postgres::Error>>;

/// A tokio-postgres client of the stand-in at `addr`, and its connection's task.
async fn connect(addr: SocketAddr) -> (Client, Driver) {
    let (client, conn) = tokio_postgres::Config::new()
        .host(addr.ip().to_string())
        .port(addr.port())
        .user("sundown")
        .dbname("sundown")
        .connect_timeout(TIMEOUT)
        .connect(NoTls)
        .await
        .expect("connect");
    (client, tokio::spawn(conn))
}

/// The supervisor process dies (SIGKILL) with a committed row in the WAL
/// only: it is there when the database is opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_row_survives_the_supervisor_being_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let config = dir.path().join("supervisor.toml");
    std::fs::write(
        &config,
        format!(
            "[components.db]\nkind = \"postgres\"\nlisten = \"{addr}\"\ndata = \"pg.sqlite\"\nuser = \"sundown\"\n"
        ),
    )
    .expect("write config");
    let mut sd = Sundown::spawn(&["run".as_ref(), "--config".as_ref(), config.as_os_str()]);
    sd.wait_ready(1);
    let (c, driver) = connect(addr).await;
    c.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        .await
        .expect("create");
    c.execute("INSERT INTO t VALUES ($1, $2)", &[&7i64, &"seven"])
        .await
        .expect("insert");
    sd.signal(Signal::SIGKILL);
    let _ = sd.wait_exit(TIMEOUT);
    // However the client's connection ended, it did end.
    let _ = tokio::time::timeout(TIMEOUT, driver)
        .await
        .expect("the connection ends")
        .expect("the driver task");

    // The same data file, opened by the stand-in in-process.
    let addr = free_addr();
    let running = Supervisor::from_toml_str("[components.db]\nkind = \"sim\"\n")
        .expect("config")
        .replace(
            "db",
            Box::new(Postgres::new(PostgresSpec {
                listen: addr,
                data: Some(dir.path().join("pg.sqlite")),
                user: "sundown".into(),
                password: None,
                statement_timeout: None,
            })),
        )
        .expect("replace")
        .start()
        .await
        .expect("the stand-in starts");
    let (c, _driver) = connect(addr).await;
    let v: String = c
        .query_one("SELECT v FROM t WHERE id = $1", &[&7i64])
        .await
        .expect("the row")
        .get(0);
    assert_eq!(v, "seven");
    running.shutdown().await;
}

/// Each stand-in makes the directory of its own file (here each in a
/// directory of its own, so neither can rely on the other), so a config
/// copied into a fresh directory starts whichever opens first. The default
/// pipeline, copied without its `data/`, starts and stops cleanly too.
#[test]
fn stand_ins_make_the_directories_of_their_files() {
    let sb = Sandbox::new();
    let (redis, postgres) = (free_addr(), free_addr());
    sb.config(&format!(
        "[components.redis]\nkind = \"redis\"\nlisten = \"{redis}\"\naof = \"r/redis.aof\"\n[components.postgres]\nkind = \"postgres\"\nlisten = \"{postgres}\"\ndata = \"p/q/postgres.sqlite\"\n"
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    assert!(sb.path("r/redis.aof").is_file(), "{}", sd.stderr());
    assert!(sb.path("p/q/postgres.sqlite").is_file(), "{}", sd.stderr());
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(repo.join("supervisor.toml")).expect("supervisor.toml");
    let (redis, postgres, http) = (free_addr(), free_addr(), free_addr());
    let config = shipped
        .replace("127.0.0.1:6380", &redis.to_string())
        .replace("127.0.0.1:5433", &postgres.to_string())
        .replace("127.0.0.1:8080", &http.to_string())
        .replace("drain_delay = \"1s\"", "drain_delay = \"0s\"");
    let sb = Sandbox::new();
    sb.config(&config);
    assert!(!sb.path("data").exists());
    let mut sd = sb.run();
    sd.wait_ready(4);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert!(sb.path("data/postgres.sqlite").is_file());
}

/// POSTs `body` to `/jobs` on `addr`; the status code and the body.
fn post_job(addr: SocketAddr, body: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    write!(
        s,
        "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read");
    let code = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, reply)
}

/// Past the Redis stand-in's `max_memory`, the front end answers 503 and
/// the supervisor keeps running, instead of the data set growing until an
/// out-of-memory kill takes the whole graph down.
#[test]
fn past_max_memory_the_front_end_answers_503_and_the_graph_keeps_running() {
    let sb = Sandbox::new();
    let (redis, http) = (free_addr(), free_addr());
    sb.config(&format!(
        "[components.redis]\nkind = \"redis\"\nlisten = \"{redis}\"\nmax_memory = \"64KB\"\n\
         [components.http]\nkind = \"http\"\nlisten = \"{http}\"\nredis = \"{redis}\"\n\
         drain_delay = \"0s\"\ndepends_on = [\"redis\"]\n"
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    let payload = format!("{{\"pad\":\"{}\"}}", "x".repeat(1000));
    let mut accepted = 0;
    let refused = loop {
        let (code, reply) = post_job(http, &payload);
        match code {
            202 => accepted += 1,
            503 => break reply,
            other => panic!("unexpected {other}: {reply}"),
        }
        assert!(accepted < 1000, "64 KB should hold far fewer 1 KB jobs");
    };
    assert!(accepted > 10, "only {accepted} accepted");
    assert!(
        refused.contains("OOM") || refused.contains("EXECABORT"),
        "{refused}"
    );
    // Nothing failed: both still ready, the front end still answering
    // (reads work past the limit), and a clean stop.
    let status = sb.status();
    assert_eq!(status.state, sundown::State::Running, "{status:?}");
    for c in &status.components {
        assert_eq!(c.state, sundown::status::ComponentState::Ready, "{c:?}");
    }
    let (code, reply) = post_job(http, "{}");
    assert_eq!(code, 503, "{reply}");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}
