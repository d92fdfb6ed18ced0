//! A tree's CPU time counted from `/proc` is the sum over its live
//! processes (and the children they reaped): when a process that left the
//! tree ends, whoever reaps it gets its time, and the sum drops. The CPU
//! time is a counter (`sundown_component_cpu_seconds_total`), so each run
//! answers the most it has been seen at. A run is known by its tree's
//! marker, which is new at every start: a restart counts from 0 again.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// The most CPU ticks seen of each run still measured, by tree marker.
#[derive(Debug, Default)]
pub(super) struct HighWater {
    marks: BTreeMap<Box<[u8]>, u64>,
}

impl HighWater {
    /// The marks every sample shares.
    pub(super) fn shared() -> std::sync::MutexGuard<'static, HighWater> {
        static SHARED: Mutex<HighWater> = Mutex::new(HighWater {
            marks: BTreeMap::new(),
        });
        SHARED.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `ticks` of the run marked `marker` now, or more if it was seen at more.
    pub(super) fn keep(&mut self, marker: &[u8], ticks: u64) -> u64 {
        let mark = self.marks.entry(marker.into()).or_default();
        *mark = (*mark).max(ticks);
        *mark
    }

    /// Forgets the runs not among `live`: they ended (or restarted, under
    /// a new marker), so the map stays as small as what runs.
    pub(super) fn retain<'a>(&mut self, live: impl IntoIterator<Item = &'a [u8]>) {
        let live: std::collections::BTreeSet<&[u8]> = live.into_iter().collect();
        self.marks.retain(|m, _| live.contains(&m[..]));
    }
}

#[cfg(test)]
mod tests {
    use super::HighWater;

    #[test]
    fn a_run_never_goes_down_and_a_new_run_starts_from_its_own() {
        let mut h = HighWater::default();
        assert_eq!(h.keep(b"run.1", 100), 100);
        // A descendant that left the tree was reaped elsewhere: its time is lost to the sum.
        assert_eq!(h.keep(b"run.1", 80), 100);
        assert_eq!(h.keep(b"run.1", 130), 130);
        // The restart, under a new marker, from 0.
        assert_eq!(h.keep(b"run.2", 5), 5);
        h.retain([&b"run.2"[..]]);
        assert_eq!(h.keep(b"run.2", 3), 5);
        // Forgotten: were it measured again, it would count afresh.
        assert_eq!(h.keep(b"run.1", 10), 10);
    }
}
