//! INVITE rate limiting per source IP.
//!
//! A fixed 10-second window per source: cheap, and a flood is what we guard against,
//! not a precise rate. Above the limit a source gets 503 with Retry-After; above twice
//! the limit we stop answering at all so a flood costs us no transmissions. The table
//! is capped so a spoofed-source flood cannot grow memory without bound. Time is an
//! argument, so tests need no clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Answer 503 with this Retry-After (seconds).
    Reject {
        retry_after: u64,
    },
    /// Do not answer.
    Drop,
}

pub struct RateLimiter {
    limit: u32,
    cap: usize,
    sources: HashMap<IpAddr, (Instant, u32)>,
}

impl RateLimiter {
    pub fn new(limit: u32, cap: usize) -> Self {
        Self {
            limit,
            cap: cap.max(1),
            sources: HashMap::new(),
        }
    }

    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.cap {
            self.sources
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
            if self.sources.len() >= self.cap {
                // Still full of live windows: evict the oldest one. O(n), but only
                // reached under a many-source flood with a bounded n.
                if let Some(oldest) = self
                    .sources
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(ip, _)| *ip)
                {
                    self.sources.remove(&oldest);
                }
            }
        }
        let entry = self.sources.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let count = entry.1;
        if count <= self.limit {
            Verdict::Allow
        } else if count <= self.limit.saturating_mul(2) {
            let left = WINDOW.saturating_sub(now.saturating_duration_since(entry.0));
            Verdict::Reject {
                retry_after: left.as_secs().max(1),
            }
        } else {
            Verdict::Drop
        }
    }

    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn limits_per_source_and_window() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(3, 100);
        for _ in 0..3 {
            assert_eq!(rl.check(ip(1), t0), Verdict::Allow);
        }
        assert!(matches!(
            rl.check(ip(1), t0),
            Verdict::Reject { retry_after: 10 }
        ));
        assert_eq!(
            rl.check(ip(2), t0),
            Verdict::Allow,
            "other sources unaffected"
        );
        assert!(matches!(rl.check(ip(1), t0), Verdict::Reject { .. }));
        assert!(matches!(rl.check(ip(1), t0), Verdict::Reject { .. }));
        assert_eq!(rl.check(ip(1), t0), Verdict::Drop);
        assert_eq!(rl.check(ip(1), t0 + WINDOW), Verdict::Allow, "new window");
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(1, 16);
        for n in 0..=255u8 {
            rl.check(ip(n), t0);
            assert!(rl.tracked() <= 16);
        }
    }

    #[test]
    fn zero_limit_rejects_everything() {
        let mut rl = RateLimiter::new(0, 4);
        assert_eq!(rl.check(ip(1), Instant::now()), Verdict::Drop);
    }
}
