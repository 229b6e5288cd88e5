//! Every refusal of a peer's input: counted in `switchboard_sip_refused_total`
//! by reason, and logged at most once a minute per reason with how many there
//! were (a flood must not become a flood of log lines). No addresses here:
//! those go to `debug!` where the refusal is made.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::info;

const LOG_EVERY: Duration = Duration::from_mins(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A request failed the RFC 3261 checks (`validate`).
    Invalid,
    /// An INVITE from a source that is no trunk: 403.
    NotTrunk,
    /// A trunk source above its INVITE rate: 503 or silence.
    TrunkRate,
    /// A source that is no trunk above the public request rate: 503 or silence.
    PublicRate,
    /// An out-of-dialog request other than INVITE or OPTIONS from a source
    /// that is no trunk: 481, statelessly.
    NoDialog,
    /// A TCP connection above the per-IP cap: closed at once.
    TcpPerIp,
    /// A TCP connection that sent nothing for the idle time: closed.
    TcpIdle,
    /// A TCP peer that did not read what we wrote: closed.
    TcpSlowReader,
    /// A TCP stream that is no SIP (framing or size): closed.
    TcpBadStream,
}

const ALL: usize = 9;

impl Refusal {
    fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid",
            Refusal::NotTrunk => "not_trunk",
            Refusal::TrunkRate => "trunk_rate",
            Refusal::PublicRate => "public_rate",
            Refusal::NoDialog => "no_dialog",
            Refusal::TcpPerIp => "tcp_per_ip",
            Refusal::TcpIdle => "tcp_idle",
            Refusal::TcpSlowReader => "tcp_slow_reader",
            Refusal::TcpBadStream => "tcp_bad_stream",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Refusal::Invalid => "SIP requests refused by validation",
            Refusal::NotTrunk => "SIP INVITEs from sources that are no trunk refused (403)",
            Refusal::TrunkRate => {
                "SIP INVITEs above a trunk source's rate refused (503 or dropped)"
            }
            Refusal::PublicRate => "SIP requests above the public rate refused (503 or dropped)",
            Refusal::NoDialog => "SIP requests for no dialog from sources that are no trunk (481)",
            Refusal::TcpPerIp => "SIP TCP connections above the per-IP cap closed",
            Refusal::TcpIdle => "idle SIP TCP connections closed",
            Refusal::TcpSlowReader => "SIP TCP peers that did not read closed",
            Refusal::TcpBadStream => "SIP TCP connections with unparseable streams closed",
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
pub(crate) fn refused(reason: Refusal) {
    metrics::counter!("switchboard_sip_refused_total", "reason" => reason.label()).increment(1);
    let log = log();
    let i = reason.index();
    log.pending[i].fetch_add(1, Ordering::Relaxed);
    let now = u64::try_from(log.start.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let last = log.last[i].load(Ordering::Relaxed);
    let due = last == 0 || now.saturating_sub(last) >= LOG_EVERY.as_millis() as u64;
    // One thread wins the right to log this minute's line.
    if due
        && log.last[i]
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let count = log.pending[i].swap(0, Ordering::Relaxed);
        info!(reason = reason.label(), count, "{}", reason.what());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct() {
        let all = [
            Refusal::Invalid,
            Refusal::NotTrunk,
            Refusal::TrunkRate,
            Refusal::PublicRate,
            Refusal::NoDialog,
            Refusal::TcpPerIp,
            Refusal::TcpIdle,
            Refusal::TcpSlowReader,
            Refusal::TcpBadStream,
        ];
        assert_eq!(all.len(), ALL);
        let mut labels: Vec<_> = all.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ALL);
        assert!(all.iter().enumerate().all(|(i, r)| r.index() == i));
    }
}
