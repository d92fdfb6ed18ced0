//! CPU and memory as `top` shows them: CPU in % of one core between two
//! snapshots, memory in binary units.

use sundown::status::Usage;

fn cpu_seconds(u: Option<Usage>) -> Option<f64> {
    u?.measured().map(|(cpu, _)| cpu)
}

/// CPU used between a snapshot at `t0_ms` and one at `t1_ms`, in % of one
/// core; `None` without two samples, or when the counter went back (a new
/// process: the last one's time is gone with it).
pub(crate) fn cpu_percent(
    before: Option<Usage>,
    t0_ms: f64,
    after: Option<Usage>,
    t1_ms: f64,
) -> Option<f64> {
    let (a, b) = (cpu_seconds(before)?, cpu_seconds(after)?);
    let dt = (t1_ms - t0_ms) / 1000.0;
    (dt > 0.0 && b >= a).then(|| (b - a) / dt * 100.0)
}

/// The CPU column: `12.5%`, `in sundown` for an in-process kind, `–`
/// when nothing of it runs or one sample is all there is.
pub(crate) fn cpu_text(usage: Option<Usage>, percent: Option<f64>) -> String {
    match (usage, percent) {
        (Some(Usage::Supervisor), _) => "in sundown".into(),
        (_, Some(p)) => format!("{p:.1}%"),
        _ => "–".into(),
    }
}

/// The memory column: `12.3 MiB`; `–` when there is none of its own.
pub(crate) fn memory_text(usage: Option<Usage>) -> String {
    usage
        .and_then(|u| u.measured())
        .map_or_else(|| "–".into(), |(_, memory)| bytes(memory))
}

/// Narrower than the status table's: a decimal only below 10 (`1.5 MiB`, `250 MiB`).
fn bytes(n: u64) -> String {
    match crate::client::binary_units(n) {
        Some((v, unit)) if v < 10.0 => format!("{v:.1} {unit}"),
        Some((v, unit)) => format!("{v:.0} {unit}"),
        None => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(cpu_seconds: f64) -> Option<Usage> {
        Some(Usage::Processes {
            cpu_seconds,
            memory_bytes: 0,
            count: 1,
        })
    }

    #[test]
    fn cpu_is_the_delta_over_the_elapsed_time() {
        assert_eq!(
            cpu_percent(tree(1.0), 1000.0, tree(1.5), 3000.0),
            Some(25.0)
        );
        // A restarted process starts its counter again.
        assert_eq!(cpu_percent(tree(9.0), 1000.0, tree(0.1), 2000.0), None);
        assert_eq!(cpu_percent(None, 1000.0, tree(0.1), 2000.0), None);
        assert_eq!(cpu_text(Some(Usage::Supervisor), None), "in sundown");
        assert_eq!(cpu_text(tree(1.0), None), "–");
    }

    #[test]
    fn memory_is_in_binary_units() {
        let mem = |memory_bytes| {
            memory_text(Some(Usage::Cgroup {
                cpu_seconds: 0.0,
                memory_bytes,
            }))
        };
        assert_eq!(mem(512), "512 B");
        assert_eq!(mem(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(mem(250 * 1024 * 1024), "250 MiB");
        assert_eq!(memory_text(Some(Usage::Supervisor)), "–");
        assert_eq!(memory_text(None), "–");
    }
}
