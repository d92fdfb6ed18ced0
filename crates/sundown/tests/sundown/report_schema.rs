//! The report's JSON schema (`docs/report.schema.json`) is the contract for
//! CI users in any language: the stored example must match it, reports the
//! engine writes today must match it, and the Rust type must read the stored
//! example back unchanged.

use std::path::Path;

use sundown::{ShutdownReport, Supervisor, Trigger};

/// A JSON file of the repository (`path` relative to its root, two levels
/// above this crate).
fn json(path: &str) -> serde_json::Value {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn assert_valid(instance: &serde_json::Value) {
    assert_matches("docs/report.schema.json", instance);
}

/// Checks `instance` against the JSON schema at `schema` (relative to the
/// repository's root); the status tests use it for `docs/status.schema.json`.
pub(crate) fn assert_matches(schema: &str, instance: &serde_json::Value) {
    let validator = jsonschema::validator_for(&json(schema)).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match {schema}:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

#[test]
fn the_stored_example_matches_the_schema_and_round_trips() {
    let example = json("tests/data/report-example.json");
    assert_valid(&example);
    let report: ShutdownReport =
        serde_json::from_value(example.clone()).expect("the Rust type reads it");
    let back = serde_json::to_value(&report).expect("serialize");
    assert_eq!(
        back, example,
        "a field was renamed, added or dropped without a schema change"
    );
    report.assert_respects_graph();
}

#[test]
fn the_stored_report_with_restarts_and_earlier_runs_matches_the_schema() {
    // Written by the timeline's tests from a run with restarts, a stop on
    // request and a reload; `sundown report` tests draw it.
    let stored = json("tests/data/report-restarts.json");
    assert_valid(&stored);
    let report: ShutdownReport = serde_json::from_value(stored.clone()).expect("reads");
    assert_eq!(serde_json::to_value(&report).expect("serialize"), stored);
    let api = report.component("api").expect("api");
    assert_eq!(api.earlier_runs.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn reports_written_today_match_the_schema_for_every_outcome() {
    // stopped, timed_out_killed, failed, exited_early, completed,
    // never_started in one run…
    let running = Supervisor::from_toml_str(
        r#"
[components.db]
kind = "sim"
[components.stuck]
kind = "sim"
depends_on = ["db"]
ignore_stop = true
stop_timeout = "1s"
[components.oneshot]
kind = "sim"
exit_after = "10ms"
[components.migrate]
kind = "sim"
oneshot = true
exit_after = "10ms"
[components.crash]
kind = "sim"
depends_on = ["db", "migrate"]
fail_after = "100ms"
[components.slow]
kind = "sim"
start_delay = "1s"
[components.late]
kind = "sim"
depends_on = ["slow"]
"#,
    )
    .expect("valid")
    .spawn();
    let report = running.wait().await;
    let v = serde_json::to_value(&report).expect("serialize");
    assert_valid(&v);
    let outcomes: std::collections::BTreeSet<String> = report
        .components
        .iter()
        .map(|c| {
            serde_json::to_value(c.outcome)
                .expect("outcome")
                .to_string()
        })
        .collect();
    for o in [
        "stopped",
        "timed_out_killed",
        "failed",
        "exited_early",
        "completed",
        "never_started",
    ] {
        assert!(
            outcomes.contains(&format!("\"{o}\"")),
            "no {o} in {outcomes:?}"
        );
    }

    // …and forced plus the string triggers in another.
    let running = Supervisor::from_toml_str("[components.a]\nkind = \"sim\"\nignore_stop = true\n")
        .expect("valid")
        .spawn();
    let handle = running.handle();
    handle.shutdown(Trigger::Requested);
    handle.force(Trigger::Requested);
    let report = running.wait().await;
    assert_eq!(report.exit_code, 4);
    assert_valid(&serde_json::to_value(&report).expect("serialize"));
}

#[test]
fn a_report_of_another_schema_version_is_refused() {
    let mut example = json("tests/data/report-example.json");
    example["schema"] = serde_json::json!(2);
    let err = ShutdownReport::from_json(&example.to_string()).expect_err("schema 2 is refused");
    assert!(
        err.to_string().contains("report schema 2 is not supported"),
        "{err}"
    );
}
