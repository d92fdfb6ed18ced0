//! Random reports: random counts of phases and components, random times
//! (negative, huge, NaN and infinite included, as a report built in code may
//! hold them), random optional fields and random names. No renderer may
//! panic, hang or produce unbounded output on any of them.

use proptest::prelude::{Just, ProptestConfig, Strategy, any, prop, prop_oneof, proptest};

use super::robustness::renders_bounded;
use super::*;
use crate::config::Strategy as Order;

/// Names a few components share, so that phase members and dependencies
/// sometimes name real components.
const POOL: [&str; 6] = ["db", "cache", "web", WEB, "workers", ""];

fn time() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.0..10_000.0f64,
        2 => -10_000.0..0.0f64,
        2 => -1e30..1e30f64,
        2 => prop::sample::select(vec![
            0.0, -0.0, 1e30, -1e30, 1e300, f64::MAX, f64::MIN, f64::MIN_POSITIVE
        ]),
        1 => prop::num::f64::ANY,
    ]
}

fn opt_time() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(time())
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(POOL.to_vec()).prop_map(String::from),
        3 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        1 => (0..400usize).prop_map(|n| "long-".repeat(n)),
    ]
}

fn names(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(name(), 0..max)
}

fn index() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..6usize, 1 => any::<usize>()]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop::sample::select(vec![
        Outcome::Stopped,
        Outcome::TimedOutKilled,
        Outcome::Forced,
        Outcome::ExitedEarly,
        Outcome::Completed,
        Outcome::Failed,
        Outcome::NeverStarted,
    ])
}

fn kill_reason() -> impl Strategy<Value = KillReason> {
    prop::sample::select(vec![
        KillReason::StopTimeout,
        KillReason::PhaseTimeout,
        KillReason::ShutdownTimeout,
        KillReason::SecondSignal,
    ])
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        name().prop_map(Trigger::Signal),
        name().prop_map(Trigger::ComponentFailed),
        names(4).prop_map(Trigger::StartupTimeout),
        Just(Trigger::Requested),
        Just(Trigger::AllExited),
    ]
}

fn phase_report() -> impl Strategy<Value = PhaseReport> {
    (
        index(),
        names(5),
        time(),
        opt_time(),
        opt_time(),
        any::<bool>(),
    )
        .prop_map(
            |(index, members, timeout_ms, started_at, ended_at, timed_out)| PhaseReport {
                index,
                members,
                timeout_ms,
                started_at,
                ended_at,
                timed_out,
            },
        )
}

fn component_report() -> impl Strategy<Value = ComponentReport> {
    (
        (name(), name(), names(4), index(), any::<Option<u32>>()),
        (opt_time(), opt_time(), opt_time(), opt_time(), opt_time()),
        (
            prop::option::of(kill_reason()),
            opt_time(),
            outcome(),
            any::<Option<i32>>(),
            prop::option::of(name()),
            prop::option::of(name()),
        ),
    )
        .prop_map(
            |(
                (name, kind, depends_on, phase, pid),
                (start_requested, ready_at, stop_requested, killed_at, stopped_at),
                (killed_by, stop_ms, outcome, exit_status, signal, error),
            )| ComponentReport {
                name,
                kind,
                depends_on,
                phase,
                pid,
                start_requested,
                ready_at,
                stop_requested,
                killed_at,
                killed_by,
                stopped_at,
                stop_ms,
                outcome,
                exit_status,
                signal,
                error,
                reason: None,
                restart_count: 0,
                restarts: Vec::new(),
                stop_steps: Vec::new(),
                stop_timeout_ms: None,
                earlier_runs: Vec::new(),
            },
        )
}

fn shutdown_report() -> impl Strategy<Value = ShutdownReport> {
    (
        (any::<u32>(), name(), name(), prop::option::of(trigger())),
        (
            prop::sample::select(vec![Order::Phased, Order::Eager]),
            any::<i32>(),
            time(),
        ),
        (opt_time(), opt_time(), opt_time(), time()),
        prop::collection::vec(phase_report(), 0..7),
        prop::collection::vec(component_report(), 0..12),
    )
        .prop_map(
            |(
                (schema, sundown_version, started_wall, trigger),
                (strategy, exit_code, shutdown_timeout_ms),
                (all_ready_at, shutdown_started_at, forced_at, ended_at),
                phases,
                components,
            )| ShutdownReport {
                schema,
                sundown_version,
                started_wall,
                trigger,
                strategy,
                exit_code,
                shutdown_timeout_ms,
                all_ready_at,
                shutdown_started_at,
                forced_at,
                ended_at,
                totals: Default::default(),
                phases,
                components,
            },
        )
}

fn width() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0..240usize,
        1 => Just(300_000_000usize),
        1 => Just(usize::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every renderer finishes, within bounds, on any report at any width
    /// (see [`renders_bounded`] for what is checked).
    #[test]
    fn random_reports_render_within_bounds(r in shutdown_report(), width in width()) {
        renders_bounded(&r, width);
    }
}
