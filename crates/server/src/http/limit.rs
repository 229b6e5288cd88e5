//! Rate limits: a keyed token bucket with a bounded key table, for login
//! attempts and visitor connections, and the login throttle built on it. In
//! memory, per node.
//!
//! # Logins
//!
//! A login takes a token from its address's bucket and from its (user,
//! address) bucket before the password is checked, and gives both back when
//! the password was right: only failures use them up, and concurrent guesses
//! cannot overrun them. So a real user is never refused because someone else
//! guessed her password from another address. Across all addresses, failures
//! for one user name raise a delay (not a refusal) that every attempt for that
//! name waits before its password is checked: slow guessing from many
//! addresses gets slower, while the real user at worst waits
//! [`LoginSettings::max_delay_ms`]. Every figure is a setting (`[logins]`).

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
                // A flood of distinct keys: forget the one touched longest ago
                // rather than refuse a newcomer who has done nothing.
                if let Some(oldest) = buckets
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                {
                    buckets.remove(&oldest);
                }
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

    /// Gives back a token taken by [`RateLimiter::check`]; a bucket that is
    /// full again is forgotten (it is what a new key would get).
    pub fn refund(&self, key: &str) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((tokens, _)) = buckets.get_mut(key) {
            *tokens += 1.0;
            if *tokens >= self.capacity {
                buckets.remove(key);
            }
        }
    }
}

/// The address a limit counts: IPv4 as is, IPv6 by its /64 (one host usually
/// has a whole /64 to pick from).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.to_string();
            }
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Why a login was refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Too many failures from this address (any user).
    Address,
    /// Too many failures for this user from this address.
    UserAddress,
}

/// Failed logins per address, per (user, address), and the per-user delay
/// (see the module doc).
pub struct LoginThrottle {
    address: RateLimiter,
    user_address: RateLimiter,
    /// Per user key: failures (decaying) and when last updated.
    user_failures: Mutex<HashMap<String, (f64, Instant)>>,
    /// Failures per user that cost no delay (and decay per ten minutes).
    free: f64,
    /// Delay per failure above the free ones, and the most.
    step: Duration,
    max_delay: Duration,
}

/// One login attempt that passed the throttle; report how it ended.
#[must_use = "report the attempt's outcome with succeeded or failed"]
pub struct LoginAttempt {
    address: String,
    user_address: String,
    user: String,
    /// How long to wait before checking the password.
    pub delay: Duration,
}

/// The `[logins]` table of the server's config: how many wrong passwords are
/// let through, and how slow guessing a user's password gets.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginSettings {
    /// Failures from one address, any user: a burst of this many, then this
    /// many per minute.
    pub failures_per_address_per_minute: u32,
    /// Failures for one user from one address: this many per five minutes.
    pub failures_per_user_and_address_per_5_minutes: u32,
    /// Failures for one user (from all addresses) that cost no delay; the
    /// count decays by this many every ten minutes.
    pub free_failures_per_user: u32,
    /// Delay added per failure above the free ones.
    pub delay_step_ms: u64,
    /// The most any attempt for a user waits.
    pub max_delay_ms: u64,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            failures_per_address_per_minute: 10,
            failures_per_user_and_address_per_5_minutes: 5,
            free_failures_per_user: 20,
            delay_step_ms: 200,
            max_delay_ms: 2_000,
        }
    }
}

impl LoginSettings {
    /// Refuses settings that would lock everyone out or never slow anyone.
    pub fn check(&self) -> Result<(), String> {
        if self.failures_per_address_per_minute == 0
            || self.failures_per_user_and_address_per_5_minutes == 0
        {
            return Err("logins: failures_per_address_per_minute and \
                 failures_per_user_and_address_per_5_minutes must be above 0"
                .to_owned());
        }
        if self.delay_step_ms == 0 || self.max_delay_ms < self.delay_step_ms {
            return Err(
                "logins: delay_step_ms must be above 0 and max_delay_ms at least delay_step_ms"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(LoginSettings::default())
    }
}

impl LoginThrottle {
    pub fn new(settings: LoginSettings) -> Self {
        Self {
            address: RateLimiter::new(
                settings.failures_per_address_per_minute,
                Duration::from_mins(1),
            ),
            user_address: RateLimiter::new(
                settings.failures_per_user_and_address_per_5_minutes,
                Duration::from_mins(5),
            ),
            user_failures: Mutex::new(HashMap::new()),
            free: f64::from(settings.free_failures_per_user),
            step: Duration::from_millis(settings.delay_step_ms.max(1)),
            max_delay: Duration::from_millis(settings.max_delay_ms),
        }
    }

    /// Takes the attempt's tokens, or says which bucket is empty (then
    /// nothing is taken).
    pub fn begin(
        &self,
        tenant: &str,
        name: &str,
        ip: IpAddr,
        now: Instant,
    ) -> Result<LoginAttempt, LoginRefusal> {
        let address = address_key(ip);
        let user = format!("{tenant}\n{name}");
        let user_address = format!("{user}\n{address}");
        if !self.address.check(&address, now) {
            return Err(LoginRefusal::Address);
        }
        if !self.user_address.check(&user_address, now) {
            self.address.refund(&address);
            return Err(LoginRefusal::UserAddress);
        }
        let delay = self.delay(&user, now);
        Ok(LoginAttempt {
            address,
            user_address,
            user,
            delay,
        })
    }

    /// The right password: the attempt's tokens go back.
    pub fn succeeded(&self, attempt: LoginAttempt) {
        let LoginAttempt {
            address,
            user_address,
            ..
        } = attempt;
        self.address.refund(&address);
        self.user_address.refund(&user_address);
    }

    /// A wrong password (or unknown user): the tokens stay used, and the
    /// user's failure count rises.
    pub fn failed(&self, attempt: LoginAttempt, now: Instant) {
        let mut failures = self
            .user_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() >= MAX_KEYS && !failures.contains_key(&attempt.user) {
            failures.retain(|_, (count, at)| self.decayed(*count, *at, now) > 0.0);
            if failures.len() >= MAX_KEYS
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
            {
                failures.remove(&oldest);
            }
        }
        // No more than what the longest delay takes, so the delay fades
        // within minutes once the guessing stops.
        let most = self.free + (self.max_delay.as_secs_f64() / self.step.as_secs_f64()).ceil();
        let (count, at) = failures.entry(attempt.user).or_insert((0.0, now));
        *count = (self.decayed(*count, *at, now) + 1.0).min(most);
        *at = now;
    }

    fn decayed(&self, count: f64, at: Instant, now: Instant) -> f64 {
        let per_second = self.free.max(1.0) / 600.0;
        (count - now.saturating_duration_since(at).as_secs_f64() * per_second).max(0.0)
    }

    fn delay(&self, user: &str, now: Instant) -> Duration {
        let failures = self
            .user_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((count, at)) = failures.get(user) else {
            return Duration::ZERO;
        };
        let over = self.decayed(*count, *at, now) - self.free;
        if over <= 0.0 {
            return Duration::ZERO;
        }
        self.step.mul_f64(over.ceil()).min(self.max_delay)
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
    fn a_refunded_token_is_not_used_up() {
        let limiter = RateLimiter::new(1, Duration::from_hours(1));
        let t = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check("a", t));
            limiter.refund("a");
        }
        assert!(limiter.check("a", t));
        assert!(!limiter.check("a", t));
    }

    #[test]
    fn failures_elsewhere_do_not_lock_a_user_out() {
        let throttle = LoginThrottle::default();
        let t = Instant::now();
        let attacker: IpAddr = "192.0.2.66".parse().unwrap();
        let home: IpAddr = "192.0.2.1".parse().unwrap();
        let mut refused = 0;
        for _ in 0..50 {
            match throttle.begin("acme", "alice", attacker, t) {
                Ok(attempt) => throttle.failed(attempt, t),
                Err(_) => refused += 1,
            }
        }
        assert_eq!(refused, 45, "five failures per user and address");
        let attempt = throttle
            .begin("acme", "alice", home, t)
            .expect("alice from her own address");
        assert_eq!(attempt.delay, Duration::ZERO);
        throttle.succeeded(attempt);
        // The right password does not use up her own buckets either.
        for _ in 0..20 {
            let attempt = throttle.begin("acme", "alice", home, t).unwrap();
            throttle.succeeded(attempt);
        }
    }

    #[test]
    fn failures_from_many_addresses_delay_but_never_refuse() {
        let throttle = LoginThrottle::default();
        let t = Instant::now();
        for i in 0..200u8 {
            let ip = IpAddr::from([198, 51, 100, i]);
            for _ in 0..5 {
                let attempt = throttle.begin("acme", "alice", ip, t).unwrap();
                throttle.failed(attempt, t);
            }
        }
        let home: IpAddr = "192.0.2.1".parse().unwrap();
        let attempt = throttle.begin("acme", "alice", home, t).unwrap();
        assert_eq!(attempt.delay, Duration::from_secs(2), "the default most");
        throttle.succeeded(attempt);
        let bob = throttle.begin("acme", "bob", home, t).unwrap();
        assert_eq!(bob.delay, Duration::ZERO, "other users are not slowed");
        throttle.succeeded(bob);
        let later = t + Duration::from_mins(10);
        let attempt = throttle.begin("acme", "alice", home, later).unwrap();
        assert_eq!(attempt.delay, Duration::ZERO, "the count decays");
        throttle.succeeded(attempt);
    }

    #[test]
    fn ipv6_counts_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.1");
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
