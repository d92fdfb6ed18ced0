//! What a downstream crate writes to assert its teardown order: load the
//! config, start, shut down, assert. (The README shows the same lines for a
//! stack of processes; the default pipeline needs the stand-ins' kinds.)

use std::path::Path;

#[tokio::test]
async fn the_default_graph_stops_http_before_postgres() -> Result<(), Box<dyn std::error::Error>> {
    // The repository's default config, two levels above this crate. Loaded
    // from its file, its relative paths (`./data/…`) are the repository's,
    // whatever directory the test runs in.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../supervisor.toml");
    let running = sundown::Supervisor::load_with(&config, &sundown_standins::kinds())?
        .start()
        .await?;
    let report = running.shutdown().await;
    report.assert_stopped_before("http", "postgres");
    report.assert_respects_graph();
    let order = report.stop_order();
    assert_eq!(order[..2], ["http", "workers"]);
    // Redis and PostgreSQL stop in the same, last phase: in whichever order they finish.
    let mut last = order[2..].to_vec();
    last.sort_unstable();
    assert_eq!(last, ["postgres", "redis"]);
    Ok(())
}
