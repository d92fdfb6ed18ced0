//! Integration tests of the `sundown` library: the engine, changes to a
//! running graph, restarts, the report and its schema, driven in-process
//! with `sim` and small custom components, mostly on tokio's paused clock.
//! (The built binary is tested by the root package's `tests/cli`, the
//! stand-ins by `sundown-standins`' own tests.)

mod common;

mod change;
mod control;
mod dry_run;
mod engine;
mod forced;
mod oneshot;
mod proptest_order;
mod reload_in_place;
mod report_schema;
mod restart;
mod robustness;
mod run_end;
