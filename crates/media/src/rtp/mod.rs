//! RTP legs: phones on SIP trunks (the SIP signalling is elsewhere; this is
//! their media).
//!
//! Each leg has its own pair of UDP sockets (RTP on an even port from the
//! configured range, RTCP on the next) and a small receive task that hands
//! their datagrams to the call task's bounded queue, like the shared WebRTC
//! socket's task does. Everything else happens in the call task: the leg
//! speaks Opus towards the bridge (see [`leg`]), so routing, hold,
//! listeners and recording do not care which kind of leg a party is.
//!
//! # Layout
//!
//! * `leg`: the leg itself (jitter buffer playout, transcoding, timers).
//! * `source`: whose packets a leg takes (strict source by default, or
//!   safe latching for phones behind NAT), asked by the receive task before
//!   a datagram reaches the call task.
//! * `packet`, `rtcp`, `dtmf`: parsing and writing RTP headers, RTCP
//!   reports and RFC 4733 events; each parser of network bytes is tested on
//!   malformed input.
//! * `g711`: µ-law and A-law. `jitter`: the jitter buffer.

mod dtmf;
mod g711;
mod jitter;
mod leg;
mod packet;
mod rtcp;
mod source;

use std::{
    io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Instant,
};

use bytes::BytesMut;
use tokio::{
    net::UdpSocket,
    sync::mpsc::{self, error::TrySendError},
};

pub use self::source::{LATCH_AFTER, RtpSourcePolicy};
pub(crate) use self::{
    g711::{decode as g711_decode, encode as g711_encode},
    leg::{PortPair, RtpLeg},
    source::{Gate, RtpDrops},
};
use super::{LegId, opus::OpusError, socket::Inbound};

/// The G.711 variant a phone negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711 {
    /// µ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

/// Where a phone's media goes, from the SDP offer/answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPeer {
    pub addr: SocketAddr,
    pub codec: G711,
    pub payload_type: u8,
    /// The `telephone-event/8000` payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RtpError {
    #[error("no such leg in this call")]
    NoSuchLeg,
    #[error("the leg is not an RTP leg")]
    NotRtp,
    #[error("the phone negotiated no telephone-event")]
    NoTelephoneEvent,
    #[error("not a DTMF digit: {0:?}")]
    BadDigit(char),
    #[error("too many digits queued")]
    TooManyDigits,
    #[error("no free RTP port pair in the range")]
    NoFreePorts,
    #[error(transparent)]
    Codec(#[from] OpusError),
}

/// Counts `n` events of a phone stream's playout
/// (`media_rtp_playout_total`, by `event`): `concealed` (a frame made up
/// for a missing packet), `late` and `overflow` (packets the jitter buffer
/// discarded: too late to play, or beyond its delay bound), `caught_up`
/// (frames a late tick played late rather than skip) and `skipped` (ticks
/// of a call task later than catching up can mend). Rare in a healthy call,
/// so counted where they happen.
pub(crate) fn count_playout(event: &'static str, n: u64) {
    metrics::counter!("media_rtp_playout_total", "event" => event).increment(n);
}

/// Attempts at an OS-picked even port whose successor is free too.
const OS_PICK_ATTEMPTS: usize = 32;

/// Random picks of a port pair before a search of the whole range.
const RANDOM_PICKS: u32 = 64;

/// Binds RTP/RTCP port pairs from the configured range, at random: ports
/// handed out in order tell anyone who sees one call's port where the
/// next call's media will be (and a port just freed is seldom reused at
/// once, so late packets of an old call rarely reach a new one).
pub(crate) struct PortPool {
    ip: IpAddr,
    range: (u16, u16),
}

impl PortPool {
    pub(crate) fn new(ip: IpAddr, range: (u16, u16)) -> Self {
        Self { ip, range }
    }

    /// A bound pair: RTP on a random even port, RTCP on the next odd one.
    /// Random picks first (a busy port is picked again with another
    /// number); if they all miss, the whole range from a random start, so
    /// a nearly full range still finds its last free pair.
    pub(crate) fn bind(&self) -> Result<(UdpSocket, UdpSocket), RtpError> {
        if self.range == (0, 0) {
            return self.bind_os_picked();
        }
        let first = u32::from(self.range.0).div_ceil(2) * 2;
        let last = u32::from(self.range.1);
        if first >= last {
            return Err(RtpError::NoFreePorts);
        }
        // Pairs (p, p + 1) with p even and p + 1 <= last.
        let pairs = (last - first).div_ceil(2);
        let port = |i: u32| first + 2 * (i % pairs);
        let random = (0..RANDOM_PICKS.min(pairs)).map(|_| rand::random_range(0..pairs));
        let start = rand::random_range(0..pairs);
        let sweep = (0..pairs).map(|i| start.wrapping_add(i));
        for i in random.chain(sweep) {
            let p = port(i);
            if p + 1 > last {
                continue;
            }
            // `p + 1 <= last <= u16::MAX`: both fit.
            if let Ok(pair) = self.bind_pair(p as u16) {
                return Ok(pair);
            }
        }
        Err(RtpError::NoFreePorts)
    }

    fn bind_os_picked(&self) -> Result<(UdpSocket, UdpSocket), RtpError> {
        for _ in 0..OS_PICK_ATTEMPTS {
            let Ok(rtp) = bind(SocketAddr::new(self.ip, 0)) else {
                continue;
            };
            let Ok(port) = rtp.local_addr().map(|a| a.port()) else {
                continue;
            };
            if port % 2 != 0 || port == u16::MAX {
                continue;
            }
            if let Ok(rtcp) = bind(SocketAddr::new(self.ip, port + 1)) {
                return Ok((rtp, rtcp));
            }
        }
        Err(RtpError::NoFreePorts)
    }

    fn bind_pair(&self, port: u16) -> io::Result<(UdpSocket, UdpSocket)> {
        let rtp = bind(SocketAddr::new(self.ip, port))?;
        let rtcp = bind(SocketAddr::new(self.ip, port + 1))?;
        Ok((rtp, rtcp))
    }
}

fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Largest datagram read from a phone (G.711 packets are 172 bytes).
const MAX_DATAGRAM: usize = 2048;
/// Receive buffer block, split into datagrams without copying.
const BLOCK: usize = 16 * 1024;

/// A leg's receive task: both sockets' datagrams to the call task, until
/// the leg aborts it or the call task is gone. A full queue drops.
///
/// Only what the leg's [`Gate`] lets through is queued: a refused datagram
/// (a stranger spraying the port) is counted and costs nothing more, in
/// particular no room in the call's queue.
pub(crate) async fn receive(
    leg: LegId,
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    gate: Gate,
    drops: Arc<RtpDrops>,
    to: mpsc::Sender<Inbound>,
) {
    let mut rtp_buf = BytesMut::with_capacity(BLOCK);
    let mut rtcp_buf = BytesMut::with_capacity(BLOCK);
    loop {
        for buf in [&mut rtp_buf, &mut rtcp_buf] {
            if buf.capacity() < MAX_DATAGRAM {
                buf.reserve(BLOCK);
            }
        }
        let (received, is_rtcp) = tokio::select! {
            r = rtp.recv_buf_from(&mut rtp_buf) => (r, false),
            r = rtcp.recv_buf_from(&mut rtcp_buf) => (r, true),
        };
        let buf = if is_rtcp { &mut rtcp_buf } else { &mut rtp_buf };
        let source = match received {
            Ok((_, source)) => source,
            // ICMP errors of earlier sends: they concern the peer only.
            Err(e) => {
                tracing::trace!(error = %e, "rtp socket receive error");
                buf.clear();
                continue;
            }
        };
        if let Err(refusal) = gate.admit(source, is_rtcp, buf) {
            drops.refused(refusal);
            buf.clear();
            continue;
        }
        let inbound = Inbound {
            leg,
            source,
            at: Instant::now(),
            data: buf.split().freeze(),
            rtcp: is_rtcp,
        };
        match to.try_send(inbound) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => drops.count(&drops.call_busy),
            Err(TrySendError::Closed(_)) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pairs_come_from_the_range_even_then_odd_and_busy_ones_are_skipped() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let pool = PortPool::new(ip, (41_001, 41_010));
        let mut held = Vec::new();
        for _ in 0..4 {
            let Ok((rtp, rtcp)) = pool.bind() else {
                continue; // another process holds some of the range
            };
            let (a, b) = (
                rtp.local_addr().unwrap().port(),
                rtcp.local_addr().unwrap().port(),
            );
            assert!(
                a % 2 == 0 && b == a + 1 && (41_002..=41_009).contains(&a),
                "{a} {b}"
            );
            assert!(!held.iter().any(|(p, _, _)| *p == a));
            held.push((a, rtp, rtcp));
        }
        assert!(!held.is_empty());
        // Four pairs fit (41002..41009): with all held, a fifth fails.
        if held.len() == 4 {
            assert!(matches!(pool.bind(), Err(RtpError::NoFreePorts)));
        }
        let empty = PortPool::new(ip, (41_001, 41_001));
        assert!(matches!(empty.bind(), Err(RtpError::NoFreePorts)));
    }

    #[tokio::test]
    async fn pairs_are_handed_out_in_no_order() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let range = (42_000, 42_999);
        let pool = PortPool::new(ip, range);
        let mut held = Vec::new();
        while held.len() < 20 {
            let (rtp, rtcp) = pool.bind().expect("a free pair among 500");
            let (a, b) = (
                rtp.local_addr().unwrap().port(),
                rtcp.local_addr().unwrap().port(),
            );
            assert!(
                a % 2 == 0 && b == a + 1 && (range.0..range.1).contains(&a),
                "{a} {b}"
            );
            assert!(
                !held.iter().any(|(p, _, _)| *p == a),
                "{a} handed out twice"
            );
            held.push((a, rtp, rtcp));
        }
        let ports: Vec<u16> = held.iter().map(|(p, _, _)| *p).collect();
        // In order (even wrapping around once) is a chance of about
        // 20/20!: never.
        let descents = ports.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(descents > 1, "ports handed out in order: {ports:?}");
        // Spread over the range, not bunched at one end.
        let low = ports.iter().filter(|&&p| p < 42_500).count();
        assert!((1..20).contains(&low), "{ports:?}");
    }
}
