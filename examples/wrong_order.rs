//! Lesson 6: the same pipeline, stopped in the wrong order, loses jobs.
//!
//! Here the graph is written backwards, as if the datastores depended on the
//! services that use them, so the database and the queue are stopped first
//! while the workers are still busy. A worker that finishes a job after the
//! database has gone cannot commit it: the job was accepted, left the queue,
//! and is now nowhere. Watch the summary's `lost` count (and `refused`: the
//! front end kept taking requests it could no longer queue), then compare
//! with `ordered_shutdown`.
//!
//! `cargo run --example wrong_order` (same flags as `ordered_shutdown`).

#[path = "support/pipeline.rs"]
mod pipeline;

/// Every edge reversed: sundown faithfully stops "dependents" first, which
/// here means the datastores.
const BACKWARDS: &str = r#"
[components.http]
kind = "sim"
[components.workers]
kind = "sim"
depends_on = ["http"]
stop_timeout = "600ms"
[components.redis]
kind = "sim"
depends_on = ["http", "workers"]
[components.postgres]
kind = "sim"
depends_on = ["workers"]
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (report, shared) = pipeline::serve(BACKWARDS).await?;
    // sundown did exactly what the (wrong) graph said.
    report.assert_stopped_before("postgres", "workers");
    if shared.lost() > 0 {
        println!(
            "{} accepted job(s) lost: the database stopped before the workers that needed it",
            shared.lost()
        );
    }
    Ok(())
}
