//! Random job times: a tiny xorshift64* generator, one per worker, which
//! needs no statistical quality, only a different sequence per worker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::settings::JobTime;

/// A tiny xorshift64* generator: random job times need no statistical
/// quality, only a different sequence per worker.
pub(super) struct XorShift(u64);

impl XorShift {
    /// A generator for worker `i` of `pool`, seeded from the clock.
    pub(super) fn seeded(pool: &str, i: usize) -> XorShift {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut seed = nanos ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in pool.bytes() {
            seed = (seed ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        XorShift(seed | 1)
    }

    /// The next number.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[min, max]` (to the nanosecond; the modulo bias is irrelevant here).
    pub(super) fn job_time(&mut self, t: JobTime) -> Duration {
        if t.max <= t.min {
            return t.min;
        }
        let span = u64::try_from((t.max - t.min).as_nanos()).unwrap_or(u64::MAX);
        t.min + Duration::from_nanos(self.next() % span.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_time_is_fixed_or_within_the_range() {
        let mut rng = XorShift::seeded("pool", 0);
        let fixed = Duration::from_millis(30);
        let t = JobTime {
            min: fixed,
            max: fixed,
        };
        assert_eq!(rng.job_time(t), fixed);
        let range = JobTime {
            min: Duration::from_millis(10),
            max: Duration::from_millis(20),
        };
        let samples: Vec<_> = (0..1000).map(|_| rng.job_time(range)).collect();
        assert!(samples.iter().all(|d| (range.min..=range.max).contains(d)));
        // Not stuck on one value.
        assert!(samples.iter().any(|d| *d != samples[0]));
    }

    #[test]
    fn workers_get_different_sequences() {
        let a: Vec<_> = {
            let mut r = XorShift::seeded("pool", 0);
            (0..4).map(|_| r.next()).collect()
        };
        let b: Vec<_> = {
            let mut r = XorShift::seeded("pool", 1);
            (0..4).map(|_| r.next()).collect()
        };
        assert_ne!(a, b);
    }
}
