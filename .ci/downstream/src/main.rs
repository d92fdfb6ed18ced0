//! The README's "Asserting teardown order" snippet, as a downstream crate runs it.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Your stack, as in its supervisor.toml (`Supervisor::load(path)` reads the file).
    let running = sundown::Supervisor::from_toml_str(
        r#"
        [components.db]
        command = "sleep 30"
        [components.web]
        command = "sleep 30"
        depends_on = ["db"]
        "#,
    )?
    .start()
    .await?;
    let report = running.shutdown().await;
    report.assert_stopped_before("web", "db");
    report.assert_respects_graph();
    println!("stop order: {:?}", report.stop_order());
    Ok(())
}
