//! Helpers shared by the tests of the binary (`tests/cli`) and of the
//! stand-ins (`crates/sundown-standins/tests/standins`), each of which
//! includes this file as its module `shared`: the upper bound on waiting,
//! free ports, the external programs a test needs (skipped without them,
//! failed under `SUNDOWN_REQUIRE_TOOLS`), a Redis connection for checking
//! state, and a seeded generator for fuzz loops.
//!
//! Everything here is used by both binaries; what only one of them needs
//! lives in that binary's own helpers.

use std::path::PathBuf;
use std::time::Duration;

/// Upper bound for anything a test waits for; only reached when something is broken.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// A loopback address with a port that was free a moment ago, for a
/// stand-in or service to listen on. (Binding port 0 in the config would be
/// race-free, but clients read the address from the same config.)
///
/// The port comes from below the kernel's ephemeral range, never from it:
/// a port handed out by `bind(0)` and released is soon the local end of
/// some test's outgoing connection, and a server started on it a moment
/// later fails with "address in use" (seen in CI). Below the range only
/// listeners take ports, and each call in this process gets a different one.
/// Nor from below 20 000, where the shipped configs have fixed ports
/// (`examples/wrong-order.toml`: 15433, 16380, 18080) that
/// `example_configs` runs while the other tests of its binary run.
pub(crate) fn free_addr() -> std::net::SocketAddr {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LOW: u16 = 20_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let span = ephemeral.saturating_sub(LOW).max(1000);
    // Test binaries run one after another: start each at a different place
    // so a port in TIME_WAIT from the last binary is not the first tried.
    static NEXT: AtomicU16 = AtomicU16::new(u16::MAX);
    let _ = NEXT.compare_exchange(
        u16::MAX,
        (std::process::id() % u32::from(span)) as u16,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let port = LOW + NEXT.fetch_add(1, Ordering::Relaxed) % span;
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr().expect("local_addr");
        }
    }
    panic!("no free port in {LOW}..{}", LOW + span);
}

/// The newest PostgreSQL server program of that name (Debian keeps them in
/// `/usr/lib/postgresql/N/bin`, off `PATH`), else the one on `PATH`; like
/// [`tool`], a failure under [`REQUIRE_ENV`].
pub(crate) fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().or_else(|| tool(name))
}

/// A Redis connection for checking state from a test. The crate's default
/// 500 ms response timeout is a flake on a loaded 2-core machine (seen in a
/// full `cargo test`); a broken server is still caught, at [`TIMEOUT`].
pub(crate) async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(TIMEOUT));
    redis::Client::open(url)
        .expect("a redis URL")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect to redis")
}

/// Set by `.ci/run`: a test that needs an external program (`redis-cli`,
/// `psql`, `redis-server`, `postgres`) fails when it is missing instead of
/// skipping.
pub(crate) const REQUIRE_ENV: &str = "SUNDOWN_REQUIRE_TOOLS";

/// The path of an external program the test needs, or `None` after printing
/// that the test is skipped. Under [`REQUIRE_ENV`] a missing program panics.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os(REQUIRE_ENV).is_some() {
            panic!("`{name}` is not installed, and {REQUIRE_ENV} makes that a failure");
        }
        eprintln!("skipped: `{name}` is not installed (CI sets {REQUIRE_ENV} to require it)");
    }
    found
}

/// A small deterministic generator (xorshift) for the fuzz loops: a seed
/// gives the same inputs on every run, so a failure can be replayed.
pub(crate) struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` random bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Up to `max` - 1 random bytes.
    pub(crate) fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}
