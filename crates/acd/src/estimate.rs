//! Wait estimates, and the handle-time average they rest on.
//!
//! # The formula
//!
//! For a contact at `position` p (1 = next) in a queue whose skill is held by online
//! (not `Offline`) agents whose capacities add up to n:
//!
//! ```text
//! wait(p) = ceil(p / max(1, n)) * average_handle_time
//! ```
//!
//! Why this shape: the n slots work in parallel, so the line moves by about n
//! contacts per handle time, and the contact at position p is served in round
//! `ceil(p / n)`. It ignores how far agents are into their current contacts, so the
//! first contact in line is told one full handle time even if an agent is about to
//! finish: it errs towards promising too little rather than too much.
//!
//! With nobody qualified online, n counts as 1. The estimate then still grows with
//! the position and moves as the line moves; it is never zero (a visitor told "0 s"
//! while nobody is there would wait forever) and never frozen.
//!
//! The average is per queue (sales chats and support chats differ) and is an
//! exponential moving average of handle times (assigned until finished, wrap-up
//! included), seeded with `Config::initial_handle_time`.

use std::time::Duration;

/// Exponential moving average of handle times.
#[derive(Debug, Clone)]
pub(crate) struct HandleTime {
    average: Duration,
    /// Weight of the newest sample, already forced into 0..=1.
    smoothing: f64,
}

impl HandleTime {
    /// `smoothing` outside 0..=1 is clamped and NaN falls back to the default, so a
    /// bad configuration gives a poor estimate rather than a panic.
    pub(crate) fn new(initial: Duration, smoothing: f64) -> Self {
        let smoothing = if smoothing.is_nan() {
            crate::Config::default().handle_time_smoothing
        } else {
            smoothing.clamp(0.0, 1.0)
        };
        Self {
            average: initial,
            smoothing,
        }
    }

    pub(crate) fn average(&self) -> Duration {
        self.average
    }

    /// Blends one finished contact's handle time into the average.
    pub(crate) fn record(&mut self, sample: Duration) {
        let blended = self.average.as_secs_f64() * (1.0 - self.smoothing)
            + sample.as_secs_f64() * self.smoothing;
        // A weighted mean of two valid durations is a valid duration; the fallback
        // only guards against float rounding at the very top of the range.
        if let Ok(average) = Duration::try_from_secs_f64(blended) {
            self.average = average;
        }
    }
}

/// `ceil(position / max(1, capacity)) * average`; see the module doc.
pub(crate) fn wait_estimate(position: u32, capacity: u64, average: Duration) -> Duration {
    let rounds = u64::from(position).div_ceil(capacity.max(1));
    // rounds <= position, so it always fits back into a u32.
    let rounds = u32::try_from(rounds).unwrap_or(u32::MAX);
    average.saturating_mul(rounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_mins(1);

    #[test]
    fn rounds_by_capacity() {
        assert_eq!(wait_estimate(1, 1, MINUTE), MINUTE);
        assert_eq!(wait_estimate(3, 1, MINUTE), 3 * MINUTE);
        assert_eq!(wait_estimate(1, 3, MINUTE), MINUTE);
        assert_eq!(wait_estimate(3, 3, MINUTE), MINUTE);
        assert_eq!(wait_estimate(4, 3, MINUTE), 2 * MINUTE);
    }

    #[test]
    fn nobody_online_still_counts_the_line() {
        assert_eq!(wait_estimate(2, 0, MINUTE), 2 * MINUTE);
        assert_eq!(wait_estimate(0, 0, MINUTE), Duration::ZERO);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert_eq!(wait_estimate(u32::MAX, 1, Duration::MAX), Duration::MAX);
    }

    #[test]
    fn moving_average_moves_by_the_smoothing() {
        let mut handle = HandleTime::new(Duration::from_secs(100), 0.5);
        handle.record(Duration::from_secs(200));
        assert_eq!(handle.average(), Duration::from_secs(150));
        handle.record(Duration::from_secs(150));
        assert_eq!(handle.average(), Duration::from_secs(150));
    }

    #[test]
    fn bad_smoothing_does_not_panic() {
        for smoothing in [f64::NAN, f64::INFINITY, -1.0, 7.0] {
            let mut handle = HandleTime::new(MINUTE, smoothing);
            handle.record(Duration::MAX);
            handle.record(Duration::ZERO);
        }
        let mut ignore_samples = HandleTime::new(MINUTE, -3.0);
        ignore_samples.record(Duration::from_secs(1));
        assert_eq!(ignore_samples.average(), MINUTE);
        let mut last_sample_only = HandleTime::new(MINUTE, 3.0);
        last_sample_only.record(Duration::from_secs(1));
        assert_eq!(last_sample_only.average(), Duration::from_secs(1));
    }
}
