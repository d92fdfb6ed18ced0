//! The job pipeline end to end, through the built binary and real signals:
//! concurrent clients post jobs, SIGTERM arrives mid-load, and every job that
//! got a 202 must end up as a committed row in PostgreSQL — in the run that
//! accepted it, or (still queued in Redis when the workers stopped) in the
//! next run. The same harness shows that reversing the edges loses jobs.
//!
//! It runs against the built-in stand-ins and, where installed, against real
//! `redis-server` and `postgres` run as `process` components: the same
//! assertions hold for both, which is what "stand-in" means.

mod load;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sundown::ShutdownReport;

use crate::common::{Sandbox, Sundown, toml_array, toml_str};
use crate::shared::{REQUIRE_ENV, TIMEOUT, free_addr, redis_connection, tool};
use load::{Load, Outcome, first_job};

/// Which Redis and PostgreSQL the pipeline uses.
#[derive(Clone, Copy, PartialEq)]
enum Backend {
    StandIns,
    Real,
}

/// The edges as they should be, or all reversed (the lesson).
#[derive(Clone, Copy, PartialEq)]
enum Order {
    Right,
    Reversed,
}

struct Pipeline {
    sandbox: Sandbox,
    http: SocketAddr,
    redis: SocketAddr,
    postgres: SocketAddr,
    backend: Backend,
    /// For the real PostgreSQL: the command prefix that runs it unprivileged.
    pg: Option<RealPostgres>,
}

struct RealPostgres {
    bin: PathBuf,
    /// `setpriv …` when running as root (PostgreSQL refuses root).
    prefix: Vec<String>,
}

impl Pipeline {
    fn new(backend: Backend) -> Option<Pipeline> {
        let sandbox = Sandbox::new();
        let pg = match backend {
            Backend::StandIns => None,
            Backend::Real => {
                tool("redis-server")?;
                Some(RealPostgres::init(&sandbox)?)
            }
        };
        Some(Pipeline {
            sandbox,
            http: free_addr(),
            redis: free_addr(),
            postgres: free_addr(),
            backend,
            pg,
        })
    }

    fn redis_url(&self) -> String {
        format!("redis://{}/", self.redis)
    }

    fn postgres_url(&self) -> String {
        // initdb creates the `postgres` database; the stand-in ignores the name.
        format!("postgres://sundown@{}/postgres", self.postgres)
    }

    /// The config: the four components with `order`'s edges.
    fn config(&self, order: Order, workers_stop_timeout: &str) -> PathBuf {
        let edges = |right: &[&str], reversed: &[&str]| {
            let deps = if order == Order::Right {
                right
            } else {
                reversed
            };
            toml_array(&deps.iter().map(|d| d.to_string()).collect::<Vec<_>>())
        };
        let datastores = match self.backend {
            Backend::StandIns => format!(
                r#"
[components.redis]
kind = "redis"
listen = "{redis}"
aof = "redis.aof"
depends_on = {redis_deps}
stop_timeout = "5s"

[components.postgres]
kind = "postgres"
listen = "{postgres}"
data = "postgres.sqlite"
depends_on = {pg_deps}
stop_timeout = "5s"
"#,
                redis = self.redis,
                postgres = self.postgres,
                redis_deps = edges(&[], &["http", "workers"]),
                pg_deps = edges(&[], &["workers"]),
            ),
            Backend::Real => {
                let pg = self.pg.as_ref().expect("real postgres");
                let data = self.sandbox.path("pgdata");
                let mut argv = pg.prefix.clone();
                argv.extend([
                    pg.bin.join("postgres").display().to_string(),
                    "-D".into(),
                    data.display().to_string(),
                    "-p".into(),
                    self.postgres.port().to_string(),
                    "-k".into(),
                    data.display().to_string(),
                    "-c".into(),
                    "listen_addresses=127.0.0.1".into(),
                ]);
                format!(
                    r#"
[components.redis]
command = ["redis-server", "--port", "{redis_port}", "--bind", "127.0.0.1", "--dir", {dir}, "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
depends_on = {redis_deps}
stop_timeout = "5s"

[components.postgres]
command = {pg_argv}
stop_signal = "SIGINT"   # PostgreSQL's fast shutdown
depends_on = {pg_deps}
stop_timeout = "10s"
"#,
                    redis_port = self.redis.port(),
                    dir = toml_str(&self.sandbox.dir().display().to_string()),
                    pg_argv = toml_array(&argv),
                    redis_deps = edges(&[], &["http", "workers"]),
                    pg_deps = edges(&[], &["workers"]),
                )
            }
        };
        let text = format!(
            r#"
[supervisor]
shutdown_timeout = "30s"

[components.http]
kind = "http"
listen = "{http}"
redis = "{redis_url}"
depends_on = {http_deps}
drain_delay = "200ms"
stop_timeout = "5s"

[components.workers]
kind = "worker_pool"
size = 4
job_time = "1ms..5ms"
redis = "{redis_url}"
postgres = "{postgres_url}"
depends_on = {worker_deps}
stop_timeout = "{workers_stop_timeout}"
{datastores}"#,
            http = self.http,
            redis_url = self.redis_url(),
            postgres_url = self.postgres_url(),
            http_deps = edges(&["redis", "workers"], &[]),
            worker_deps = edges(&["postgres", "redis"], &["http"]),
        );
        self.sandbox.config(&text)
    }

    fn start(&self, config: &Path) -> Sundown {
        let sd = Sundown::spawn(&[
            "run",
            "--config",
            config.to_str().expect("utf-8"),
            "--report",
            self.sandbox.report_path().to_str().expect("utf-8"),
        ]);
        sd.wait_ready(4);
        sd
    }

    /// One run: load, SIGTERM once `min_jobs` were accepted, wait for the exit.
    fn loaded_run(&self, order: Order, min_jobs: usize) -> (i32, Outcome, ShutdownReport) {
        let config = self.config(order, "10s");
        let mut sd = self.start(&config);
        let first = first_job(self.http);
        let load = Load::start(self.http, 16);
        load.wait_accepted(min_jobs);
        sd.signal(Signal::SIGTERM);
        let code = sd.exit_code();
        let mut outcome = load.finish();
        outcome.accepted.insert(first);
        let report = ShutdownReport::from_json(
            &std::fs::read_to_string(self.sandbox.report_path()).expect("report written"),
        )
        .expect("report parses");
        if code != 0 && order == Order::Right {
            panic!("exit {code}; stderr:\n{}", sd.stderr());
        }
        (code, outcome, report)
    }

    /// A run without load that lets the workers finish what is queued, then
    /// returns the committed job ids and what is left in Redis.
    fn drain_and_collect(&self, expected: &BTreeSet<u64>) -> (BTreeSet<u64>, usize) {
        let config = self.config(Order::Right, "10s");
        let mut sd = self.start(&config);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let result = rt.block_on(async {
            // A real PostgreSQL counts as started before it accepts connections.
            let deadline = Instant::now() + TIMEOUT;
            let (pg, conn) = loop {
                match tokio_postgres::connect(&self.postgres_url(), tokio_postgres::NoTls).await {
                    Ok(c) => break c,
                    Err(e) if Instant::now() > deadline => panic!("connect to postgres: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            tokio::spawn(conn);
            let mut redis = redis_connection(&self.redis_url()).await;
            let deadline = Instant::now() + TIMEOUT;
            loop {
                let rows = pg.query("SELECT id FROM jobs", &[]).await.expect("select");
                let done: BTreeSet<u64> = rows
                    .iter()
                    .map(|r| u64::try_from(r.get::<_, i64>(0)).expect("positive id"))
                    .collect();
                let queued: usize = redis::cmd("LLEN")
                    .arg("jobs")
                    .query_async(&mut redis)
                    .await
                    .expect("LLEN");
                let processing: Vec<String> = redis::cmd("KEYS")
                    .arg("jobs:processing:*")
                    .query_async(&mut redis)
                    .await
                    .expect("KEYS");
                let left = queued + processing.len();
                if (left == 0 && expected.is_subset(&done)) || Instant::now() > deadline {
                    return (done, left);
                }
                // Polling an observable end state (not a fixed sleep): the
                // workers have no "queue drained" event to wait on.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        sd.signal(Signal::SIGTERM);
        assert_eq!(sd.exit_code(), 0, "stderr:\n{}", sd.stderr());
        result
    }
}

impl RealPostgres {
    /// Finds PostgreSQL's binaries and runs `initdb` into `pgdata`.
    fn init(sandbox: &Sandbox) -> Option<RealPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").is_file());
        let Some(bin) = bin else {
            if std::env::var_os(REQUIRE_ENV).is_some() {
                panic!(
                    "PostgreSQL is not installed, and {} makes that a failure",
                    REQUIRE_ENV
                );
            }
            eprintln!("skipped: PostgreSQL is not installed");
            return None;
        };
        let data = sandbox.path("pgdata");
        std::fs::create_dir(&data).expect("create pgdata");
        let prefix = if nix::unistd::Uid::effective().is_root() {
            // PostgreSQL refuses to run as root: run it as `nobody`, which
            // must own the data directory and reach it.
            let status = std::process::Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(sandbox.dir())
                .status()
                .expect("chown");
            assert!(status.success());
            vec![
                "setpriv".to_string(),
                "--reuid=nobody".into(),
                "--regid=nogroup".into(),
                "--clear-groups".into(),
                "--".into(),
            ]
        } else {
            Vec::new()
        };
        let mut initdb =
            std::process::Command::new(prefix.first().map_or(bin.join("initdb"), PathBuf::from));
        initdb
            .args(prefix.iter().skip(1))
            .args(if prefix.is_empty() {
                vec![]
            } else {
                vec![bin.join("initdb").display().to_string()]
            })
            .args(["-D"])
            .arg(&data)
            .args(["-U", "sundown", "--auth=trust", "--no-sync"]);
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(RealPostgres { bin, prefix })
    }
}

/// Three loaded runs, each stopped by SIGTERM mid-load, then a run that
/// drains the queue: every accepted job is committed, none twice.
fn zero_jobs_lost(backend: Backend) {
    let Some(p) = Pipeline::new(backend) else {
        return;
    };
    let mut accepted = BTreeSet::new();
    for _ in 0..3 {
        let (_, outcome, report) = p.loaded_run(Order::Right, 300);
        assert!(outcome.accepted.len() >= 300);
        report.assert_stopped_before("http", "workers");
        report.assert_stopped_before("workers", "redis");
        report.assert_stopped_before("workers", "postgres");
        report.assert_respects_graph();
        assert!(
            outcome.rejected.iter().all(|s| *s != 503),
            "the front end stops before Redis, so it never answers 503: {:?}",
            outcome.rejected
        );
        for id in &outcome.accepted {
            assert!(accepted.insert(*id), "job id {id} was handed out twice");
        }
    }
    let (done, left) = p.drain_and_collect(&accepted);
    let lost: Vec<_> = accepted.difference(&done).collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted jobs were lost, e.g. {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(10)]
    );
    assert_eq!(left, 0, "jobs left in Redis after the drain");
}

#[test]
fn stand_ins_lose_no_accepted_job_across_sigterms() {
    zero_jobs_lost(Backend::StandIns);
}

#[test]
fn real_redis_and_postgres_lose_no_accepted_job_across_sigterms() {
    zero_jobs_lost(Backend::Real);
}

/// The lesson: with every edge reversed, Redis and PostgreSQL stop first
/// while the front end still takes jobs (here during its drain delay, as it
/// would behind a load balancer) and the workers still work: clients get
/// 503s for jobs the right order would have accepted, and jobs in flight
/// when PostgreSQL went away are stranded until the next start.
#[test]
fn reversed_edges_fail_jobs() {
    let Some(p) = Pipeline::new(Backend::StandIns) else {
        return;
    };
    let (_, outcome, report) = p.loaded_run(Order::Reversed, 300);
    report.assert_stopped_before("redis", "http");
    report.assert_stopped_before("postgres", "workers");
    let unavailable = outcome.rejected.iter().filter(|s| **s == 503).count();
    eprintln!(
        "reversed order: {} accepted, {unavailable} answered 503, {} other failures",
        outcome.accepted.len(),
        outcome.rejected.len() - unavailable + outcome.errors
    );
    assert!(
        unavailable > 0,
        "with Redis stopped first, the front end must have failed some jobs; it answered {:?} and had {} errors",
        outcome.rejected,
        outcome.errors
    );
}

/// A job whose id another job already holds in PostgreSQL (Redis lost its
/// id counter: no AOF, a FLUSHALL) must not pass as done: it goes to the
/// dead-letter list, visible, and the stored row is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_collision_is_dead_lettered_not_dropped() {
    let (redis_addr, pg_addr) = (free_addr(), free_addr());
    let sup = sundown::Supervisor::from_toml_str_with(
        &format!(
            r#"
[components.redis]
kind = "redis"
listen = "{redis_addr}"
[components.postgres]
kind = "postgres"
listen = "{pg_addr}"
[components.workers]
kind = "worker_pool"
size = 1
job_time = "0ms"
redis = "{redis_addr}"
postgres = "postgres://sundown@{pg_addr}/postgres"
depends_on = ["redis", "postgres"]
"#
        ),
        &sundown_standins::kinds(),
    )
    .expect("valid config");
    let running = sup.start().await.expect("started");
    let (pg, conn) = tokio_postgres::connect(
        &format!("postgres://sundown@{pg_addr}/postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to postgres");
    tokio::spawn(conn);
    pg.batch_execute(sundown_standins::jobs::CREATE_TABLE)
        .await
        .expect("create table");
    pg.execute(
        "INSERT INTO jobs (id, payload, result, worker) VALUES (1, '{\"earlier\":true}', 'r', 'w')",
        &[],
    )
    .await
    .expect("insert the earlier job");
    let mut redis = redis_connection(&format!("redis://{redis_addr}/")).await;
    let job = r#"{"id":1,"payload":{"later":true}}"#;
    let _: () = redis::cmd("LPUSH")
        .arg("jobs")
        .arg(job)
        .query_async(&mut redis)
        .await
        .expect("LPUSH");
    let deadline = Instant::now() + TIMEOUT;
    let dead: Vec<String> = loop {
        let dead: Vec<String> = redis::cmd("LRANGE")
            .arg("jobs:dead")
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await
            .expect("LRANGE");
        if !dead.is_empty() || Instant::now() > deadline {
            break dead;
        }
        // Polling an observable end state: the pool has no event for it.
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dead, vec![job.to_string()]);
    let stored: String = pg
        .query_one("SELECT payload FROM jobs WHERE id = 1", &[])
        .await
        .expect("select")
        .get(0);
    assert_eq!(stored, r#"{"earlier":true}"#);
    let report = running.shutdown().await;
    assert_eq!(report.exit_code, 0);
}
