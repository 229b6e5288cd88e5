//! Rate limits: a keyed token bucket with a bounded key table, for login
//! attempts and visitor connections. In memory, per node.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Keys beyond this many are pruned (oldest refill first), so a flood of
/// distinct addresses cannot grow the table without bound.
const MAX_KEYS: usize = 10_000;

pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `burst` requests at once, refilled at `burst` per `period`.
    pub fn new(burst: u32, period: Duration) -> Self {
        Self {
            capacity: f64::from(burst),
            per_second: f64::from(burst) / period.as_secs_f64(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; false when the bucket is empty.
    pub fn check(&self, key: &str, now: Instant) -> bool {
        // A poisoned lock only means another thread panicked mid-update of a
        // counter; the counters are still usable.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let capacity = self.capacity;
            let per_second = self.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second < capacity
            });
            if buckets.len() >= MAX_KEYS {
                return false;
            }
        }
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((self.capacity, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second)
            .min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn check_ip(&self, ip: IpAddr, now: Instant) -> bool {
        self.check(&ip.to_string(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let limiter = RateLimiter::new(3, Duration::from_secs(3));
        let t = Instant::now();
        assert!(limiter.check("a", t));
        assert!(limiter.check("a", t));
        assert!(limiter.check("a", t));
        assert!(!limiter.check("a", t));
        assert!(limiter.check("b", t), "keys are independent");
        assert!(limiter.check("a", t + Duration::from_secs(1)));
        assert!(!limiter.check("a", t + Duration::from_secs(1)));
    }

    #[test]
    fn key_table_is_bounded() {
        let limiter = RateLimiter::new(1, Duration::from_hours(1));
        let t = Instant::now();
        for i in 0..MAX_KEYS + 50 {
            limiter.check(&format!("k{i}"), t);
        }
        assert!(limiter.buckets.lock().unwrap().len() <= MAX_KEYS);
    }
}
