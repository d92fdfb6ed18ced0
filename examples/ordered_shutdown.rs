//! Lesson 5: shut down in dependency order, each phase with its own timeout.
//!
//! The HTTP front end stops first (no new jobs), then the workers finish the
//! jobs they hold, then the queue and the database go down, with nothing left
//! that needs them. Production systems give each phase its own budget (say
//! 30 s for HTTP, 60 s for workers); here they are scaled down to 300 ms and
//! 600 ms. Watch the summary: every accepted job is committed or still
//! queued, `lost 0`, and the teardown rows go http → workers → postgres/redis.
//!
//! `cargo run --example ordered_shutdown` (runs 1 s of traffic, or until
//! Ctrl-C; `--run-for MS` changes that, `--json` prints the whole report).

#[path = "support/pipeline.rs"]
mod pipeline;

/// The graph: an edge means "needs". sundown starts the needed first and
/// stops the needy first.
const GRAPH: &str = r#"
[phase_timeouts]
http = "300ms"       # 30 s in production
workers = "600ms"    # 60 s in production

[components.redis]
kind = "sim"
[components.postgres]
kind = "sim"
[components.workers]
kind = "sim"
depends_on = ["redis", "postgres"]
stop_timeout = "600ms"
[components.http]
kind = "sim"
depends_on = ["redis", "workers"]
stop_timeout = "300ms"
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (report, shared) = pipeline::serve(GRAPH).await?;
    // The promises this lesson is about, checked rather than hoped for.
    report.assert_respects_graph();
    report.assert_stopped_before("http", "workers");
    report.assert_stopped_before("workers", "postgres");
    assert_eq!(shared.lost(), 0, "the right order loses nothing");
    Ok(())
}
