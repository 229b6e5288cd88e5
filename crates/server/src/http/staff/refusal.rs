//! Every refusal of a staff request (login, API credentials, permissions):
//! counted in `switchboard_staff_refused_total{reason}`, and logged at most
//! once a minute per reason with how many there were, so a guessing flood does
//! not become a flood of log lines. No addresses or user names here.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_mins(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failed logins from one address (429).
    LoginAddress,
    /// Too many failed logins for one user from one address (429).
    LoginUserAddress,
    /// Wrong tenant, name or password (401).
    BadCredentials,
    /// The right password of a disabled user (403).
    Disabled,
    /// A login from another origin (403).
    CrossOrigin,
    /// A login field over its length (400).
    BadInput,
    /// No session, an ended session or an unknown API key (401).
    Unauthorized,
    /// An API key past its expiry (401).
    KeyExpired,
    /// A cookie request without the right CSRF token or Origin (403).
    Csrf,
    /// A role or API key scope short of what the request needs (403).
    Forbidden,
}

const ALL: usize = 10;

impl Refusal {
    fn index(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Refusal::LoginAddress => "login_address",
            Refusal::LoginUserAddress => "login_user_address",
            Refusal::BadCredentials => "bad_credentials",
            Refusal::Disabled => "disabled",
            Refusal::CrossOrigin => "cross_origin",
            Refusal::BadInput => "bad_input",
            Refusal::Unauthorized => "unauthorized",
            Refusal::KeyExpired => "key_expired",
            Refusal::Csrf => "csrf",
            Refusal::Forbidden => "forbidden",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Refusal::LoginAddress => "logins refused: too many failures from one address",
            Refusal::LoginUserAddress => {
                "logins refused: too many failures for one user from one address"
            }
            Refusal::BadCredentials => "logins refused: wrong tenant, name or password",
            Refusal::Disabled => "logins refused: user disabled",
            Refusal::CrossOrigin => "logins refused: cross-origin",
            Refusal::BadInput => "logins refused: field too long",
            Refusal::Unauthorized => "API requests refused: no live session or known API key",
            Refusal::KeyExpired => "API requests refused: API key expired",
            Refusal::Csrf => "API requests refused: missing or wrong CSRF token or Origin",
            Refusal::Forbidden => "API requests refused: role or scope too low",
        }
    }
}

struct Log {
    start: Instant,
    /// Per reason: refusals since the last log line, and when that was
    /// (milliseconds since `start`, plus one; 0 = never).
    pending: [AtomicU64; ALL],
    last: [AtomicU64; ALL],
}

fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| Log {
        start: Instant::now(),
        pending: std::array::from_fn(|_| AtomicU64::new(0)),
        last: std::array::from_fn(|_| AtomicU64::new(0)),
    })
}

/// Counts one refusal; logs it if this reason was not logged in the last minute.
pub fn refused(reason: Refusal) {
    metrics::counter!("switchboard_staff_refused_total", "reason" => reason.label()).increment(1);
    let log = log();
    let i = reason.index();
    log.pending[i].fetch_add(1, Ordering::Relaxed);
    let now = u64::try_from(log.start.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let last = log.last[i].load(Ordering::Relaxed);
    let every = u64::try_from(LOG_EVERY.as_millis()).unwrap_or(u64::MAX);
    let due = last == 0 || now.saturating_sub(last) >= every;
    // One thread wins the right to log this minute's line.
    if due
        && log.last[i]
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let count = log.pending[i].swap(0, Ordering::Relaxed);
        tracing::info!(reason = reason.label(), count, "{}", reason.what());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct() {
        let all = [
            Refusal::LoginAddress,
            Refusal::LoginUserAddress,
            Refusal::BadCredentials,
            Refusal::Disabled,
            Refusal::CrossOrigin,
            Refusal::BadInput,
            Refusal::Unauthorized,
            Refusal::KeyExpired,
            Refusal::Csrf,
            Refusal::Forbidden,
        ];
        assert_eq!(all.len(), ALL);
        let mut labels: Vec<_> = all.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ALL);
        assert!(all.iter().enumerate().all(|(i, r)| r.index() == i));
    }
}
