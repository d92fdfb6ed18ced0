//! Settings of the service kinds: defaults, every accepted spelling, and an
//! error at the exact place for each way to get one wrong.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::path::Path;

use sundown::config::{Config, ConfigError, KindSpec, Located};

use crate::http::HttpSpec;
use crate::postgres::PostgresSpec;
use crate::redis::{AppendFsync, RedisSpec};
use crate::worker_pool::{JobTime, WorkerPoolSpec};

const FILE: &str = "supervisor.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse_with(text, FILE, Path::new("/base"), &crate::kinds())
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(config) => panic!("expected an error, got {config:#?}"),
        Err(e) => e,
    }
}

/// Exactly one problem, at `line:column`, reading exactly `message`.
#[track_caller]
fn assert_one_error(text: &str, line: usize, column: usize, message: &str) {
    let e = err(text);
    assert_eq!(
        e.diagnostics,
        vec![Located {
            file: None,
            line,
            column,
            message: message.to_string()
        }],
        "rendered:\n{e}"
    );
    assert_eq!(
        e.to_string(),
        format!("{FILE}:{line}:{column}: error: {message}")
    );
}

/// Exactly one problem at `line:column` whose message starts with `prefix`.
#[track_caller]
fn assert_one_error_starting(text: &str, line: usize, column: usize, prefix: &str) {
    let e = err(text);
    assert_eq!(e.diagnostics.len(), 1, "rendered:\n{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (line, column), "rendered:\n{e}");
    assert!(
        d.message.starts_with(prefix),
        "message {:?} does not start with {prefix:?}",
        d.message
    );
}

fn kind<'a>(config: &'a Config, name: &str) -> &'a KindSpec {
    let i = config.index_of(name).expect("the component exists");
    &config.components[i].kind
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

#[test]
fn defaults_match_the_real_services_ports() {
    let c = ok(r#"
[components.http]
kind = "http"
[components.workers]
kind = "worker_pool"
[components.redis]
kind = "redis"
[components.postgres]
kind = "postgres"
"#);
    let Some(h) = kind(&c, "http").get::<HttpSpec>() else {
        panic!("http")
    };
    assert_eq!(h.listen, addr("127.0.0.1:8080"));
    assert_eq!(h.redis, "redis://127.0.0.1:6379/");
    assert_eq!(h.queue, "jobs");
    assert_eq!(h.drain_delay, Duration::ZERO);
    assert_eq!(h.max_connections, None);
    let Some(w) = kind(&c, "workers").get::<WorkerPoolSpec>() else {
        panic!("workers")
    };
    assert_eq!(w.size, 4);
    assert_eq!(w.postgres, "postgres://sundown@127.0.0.1:5432/sundown");
    assert_eq!(w.job_time.min, Duration::from_millis(10));
    let Some(r) = kind(&c, "redis").get::<RedisSpec>() else {
        panic!("redis")
    };
    assert_eq!(r.listen, addr("127.0.0.1:6379"));
    assert_eq!(r.aof, None);
    assert_eq!(r.appendfsync, AppendFsync::Always);
    assert_eq!(
        (&r.password, r.client_output_limit, r.max_memory),
        (&None, 64 * 1024 * 1024, None)
    );
    let Some(p) = kind(&c, "postgres").get::<PostgresSpec>() else {
        panic!("postgres")
    };
    assert_eq!(p.listen, addr("127.0.0.1:5432"));
    assert_eq!(
        (p.user.as_str(), p.password.as_deref(), p.data.as_deref()),
        ("sundown", None, None)
    );
    assert_eq!(p.statement_timeout, Some(Duration::from_secs(30)));
}

#[test]
fn every_setting_is_read_and_paths_resolve_against_the_config_dir() {
    let c = ok(r#"
[components.http]
kind = "http"
listen = "localhost:9000"
redis = "127.0.0.1:6390"
queue = "q1"
drain_delay = "2s"
max_connections = 64
[components.workers]
kind = "worker_pool"
size = 8
queue = "q1"
redis = "redis://127.0.0.1:6390/"
postgres = "postgres://app:secret@127.0.0.1:5440/app"
job_time = "10ms..30ms"
[components.redis]
kind = "redis"
listen = "127.0.0.1:6390"
aof = "data/redis.aof"
appendfsync = "everysec"
password = "s3cret"
client_output_limit = "8mb"
max_memory = "2G"
[components.postgres]
kind = "postgres"
listen = "[::1]:5440"
data = "data/pg.sqlite"
user = "app"
password = "secret"
statement_timeout = "5s"
"#);
    let Some(h) = kind(&c, "http").get::<HttpSpec>() else {
        panic!("http")
    };
    assert_eq!(h.listen, addr("127.0.0.1:9000"));
    assert_eq!(h.redis, "redis://127.0.0.1:6390/");
    assert_eq!(
        (h.queue.as_str(), h.drain_delay, h.max_connections),
        ("q1", Duration::from_secs(2), Some(64))
    );
    let Some(w) = kind(&c, "workers").get::<WorkerPoolSpec>() else {
        panic!("workers")
    };
    assert_eq!(w.size, 8);
    assert_eq!(w.postgres, "postgres://app:secret@127.0.0.1:5440/app");
    assert_eq!(
        w.job_time,
        JobTime {
            min: Duration::from_millis(10),
            max: Duration::from_millis(30)
        }
    );
    let Some(r) = kind(&c, "redis").get::<RedisSpec>() else {
        panic!("redis")
    };
    assert_eq!(r.aof, Some(PathBuf::from("/base/data/redis.aof")));
    assert_eq!(r.appendfsync, AppendFsync::Everysec);
    assert_eq!(
        (r.password.as_deref(), r.client_output_limit, r.max_memory),
        (Some("s3cret"), 8 << 20, Some(2_000_000_000))
    );
    let Some(p) = kind(&c, "postgres").get::<PostgresSpec>() else {
        panic!("postgres")
    };
    assert_eq!(p.listen, addr("[::1]:5440"));
    assert_eq!(p.data, Some(PathBuf::from("/base/data/pg.sqlite")));
    assert_eq!(
        (p.user.as_str(), p.password.as_deref()),
        ("app", Some("secret"))
    );
    assert_eq!(p.statement_timeout, Some(Duration::from_secs(5)));
}

#[test]
fn a_zero_statement_timeout_is_no_limit() {
    for zero in ["0", "0s", "0ms"] {
        let c = ok(&format!(
            "[components.p]\nkind = \"postgres\"\nstatement_timeout = \"{zero}\"\n"
        ));
        let Some(p) = kind(&c, "p").get::<PostgresSpec>() else {
            panic!("postgres")
        };
        assert_eq!(p.statement_timeout, None, "{zero}");
    }
}

#[test]
fn bad_statement_timeout() {
    assert_one_error_starting(
        "[components.p]\nkind = \"postgres\"\nstatement_timeout = \"soon\"\n",
        3,
        21,
        "component `p`: statement_timeout: `soon` is not a duration",
    );
    assert_one_error(
        "[components.p]\nkind = \"postgres\"\nstatement_timeout = \"-5s\"\n",
        3,
        21,
        "component `p`: statement_timeout: `-5s` is negative",
    );
}

#[test]
fn fixed_job_time() {
    let c = ok("[components.w]\nkind = \"worker_pool\"\njob_time = \"50ms\"\n");
    let Some(w) = kind(&c, "w").get::<WorkerPoolSpec>() else {
        panic!("w")
    };
    assert_eq!(w.job_time.min, w.job_time.max);
    assert_eq!(w.job_time.max, Duration::from_millis(50));
}

#[test]
fn bad_listen_address() {
    assert_one_error(
        "[components.r]\nkind = \"redis\"\nlisten = \"redis-host\"\n",
        3,
        10,
        "component `r`: listen: `redis-host` is not an IP address with a port; write e.g. \"127.0.0.1:6379\"",
    );
}

#[test]
fn bad_appendfsync_with_a_suggestion() {
    assert_one_error(
        "[components.r]\nkind = \"redis\"\nappendfsync = \"alway\"\n",
        3,
        15,
        "component `r`: appendfsync: `alway` is not one of \"always\", \"everysec\" (did you mean `always`?)",
    );
}

#[test]
fn byte_sizes_are_read_as_redis_conf_reads_them() {
    use crate::settings::parse_byte_size;
    for (text, bytes) in [
        ("1", 1),
        ("10B", 10),
        ("1k", 1000),
        ("1kb", 1024),
        ("1KiB", 1024),
        ("64MB", 64 << 20),
        ("64 mb", 64 << 20),
        ("3m", 3_000_000),
        ("1gb", 1 << 30),
    ] {
        assert_eq!(parse_byte_size(text), Some(bytes), "{text}");
    }
    for text in ["", "MB", "1.5MB", "-1", "1tb", "1 2", "99999999999999GB"] {
        assert_eq!(parse_byte_size(text), None, "{text}");
    }
}

#[test]
fn bad_byte_sizes_and_an_empty_password() {
    assert_one_error(
        "[components.r]\nkind = \"redis\"\nmax_memory = \"12XB\"\n",
        3,
        14,
        "component `r`: max_memory: `12XB` is not a byte size; write e.g. \"256MB\" (units B, KB, MB, GB, powers of 1024 as in redis.conf)",
    );
    assert_one_error(
        "[components.r]\nkind = \"redis\"\nclient_output_limit = \"0\"\n",
        3,
        23,
        "component `r`: client_output_limit: must be at least 1 byte, not `0`",
    );
    assert_one_error(
        "[components.r]\nkind = \"redis\"\npassword = \"\"\n",
        3,
        12,
        "component `r`: password: must not be empty; leave it out for no password",
    );
    assert_one_error_starting(
        "[components.r]\nkind = \"redis\"\nmax_memory = 1024\n",
        3,
        14,
        "component `r`: max_memory: invalid type: integer `1024`, expected a string",
    );
}

#[test]
fn pool_size_out_of_range() {
    assert_one_error(
        "[components.w]\nkind = \"worker_pool\"\nsize = 0\n",
        3,
        8,
        "component `w`: size: 0 is not between 1 and 1024",
    );
}

#[test]
fn job_time_range_backwards() {
    assert_one_error(
        "[components.w]\nkind = \"worker_pool\"\njob_time = \"1s..10ms\"\n",
        3,
        12,
        "component `w`: job_time: the range `1s..10ms` ends before it starts",
    );
}

#[test]
fn job_time_not_a_duration() {
    assert_one_error_starting(
        "[components.w]\nkind = \"worker_pool\"\njob_time = \"10ms..soon\"\n",
        3,
        12,
        "component `w`: job_time: `soon` is not a duration",
    );
}

#[test]
fn bad_postgres_url() {
    assert_one_error_starting(
        "[components.w]\nkind = \"worker_pool\"\npostgres = \"postgres://x@host:notaport/db\"\n",
        3,
        12,
        "component `w`: postgres: `postgres://x@host:notaport/db` is not a PostgreSQL connection string",
    );
}

#[test]
fn bad_redis_url() {
    assert_one_error_starting(
        "[components.h]\nkind = \"http\"\nredis = \"http://127.0.0.1:6379\"\n",
        3,
        9,
        "component `h`: redis: `http://127.0.0.1:6379` is not a Redis address",
    );
}

#[test]
fn zero_max_connections() {
    assert_one_error(
        "[components.h]\nkind = \"http\"\nmax_connections = 0\n",
        3,
        19,
        "component `h`: max_connections must be at least 1",
    );
}

#[test]
fn queue_with_spaces() {
    assert_one_error(
        "[components.h]\nkind = \"http\"\nqueue = \"my jobs\"\n",
        3,
        9,
        "component `h`: queue: `my jobs` must be a non-empty name without spaces or any of * ? [ ] \\",
    );
}

#[test]
fn shared_key_on_the_wrong_kind_lists_its_owners() {
    assert_one_error(
        "[components.p]\nkind = \"postgres\"\nqueue = \"jobs\"\n",
        3,
        9,
        "component `p`: `queue` is a setting of kind `http` or `worker_pool`, but this component is kind `postgres`",
    );
}

#[test]
fn empty_user() {
    assert_one_error(
        "[components.p]\nkind = \"postgres\"\nuser = \" \"\n",
        3,
        8,
        "component `p`: user is empty",
    );
}

#[test]
fn using_a_stand_in_without_depending_on_it_is_a_warning_at_the_setting() {
    let c = ok(r#"
[components.redis]
kind = "redis"
listen = "127.0.0.1:6390"
[components.postgres]
kind = "postgres"
listen = "127.0.0.1:5440"
[components.workers]
kind = "worker_pool"
redis = "localhost:6390"
postgres = "postgres://sundown@127.0.0.1:5440/db"
depends_on = ["postgres"]
[components.http]
kind = "http"
redis = "127.0.0.1:6390"
depends_on = ["workers"]
"#);
    // http reaches redis through workers? No: workers do not depend on
    // redis either, so both are warned about (in name order); postgres is fine.
    assert_eq!(
        c.warnings,
        vec![
            "supervisor.toml:15:9: warning: component `http` uses `redis` (127.0.0.1:6390) but does not depend on it, so their start and stop are not ordered; add it to depends_on".to_string(),
            "supervisor.toml:10:9: warning: component `workers` uses `redis` (localhost:6390) but does not depend on it, so their start and stop are not ordered; add it to depends_on".to_string(),
        ]
    );
}

#[test]
fn a_transitive_dependency_on_the_stand_in_is_enough() {
    let c = ok(r#"
[components.redis]
kind = "redis"
[components.workers]
kind = "worker_pool"
depends_on = ["redis"]
postgres = "postgres://sundown@10.0.0.1:5432/db"
[components.http]
kind = "http"
depends_on = ["workers"]
"#);
    assert_eq!(c.warnings, Vec::<String>::new());
}

#[test]
fn queue_with_glob_characters() {
    // The workers find leftover processing lists with `KEYS`; a `[` in the
    // name would hide them and strand their jobs.
    assert_one_error(
        "[components.h]\nkind = \"http\"\nqueue = \"jobs[1]\"\n",
        3,
        9,
        "component `h`: queue: `jobs[1]` must be a non-empty name without spaces or any of * ? [ ] \\",
    );
}

#[test]
fn an_unknown_kind_lists_the_stand_ins_too() {
    assert_one_error(
        "[components.web]\nkind = \"prosess\"\n",
        2,
        8,
        "component `web`: unknown kind `prosess` (did you mean `process`?); known kinds: process, sim, http, worker_pool, redis, postgres",
    );
}
