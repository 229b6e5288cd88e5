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
//! * `leg`: the leg itself (latching, jitter buffer playout, transcoding,
//!   timers).
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

use std::{
    io,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Instant,
};

use bytes::BytesMut;
use tokio::{
    net::UdpSocket,
    sync::mpsc::{self, error::TrySendError},
};

pub(crate) use self::{
    g711::{decode as g711_decode, encode as g711_encode},
    leg::{PortPair, RtpDrops, RtpLeg},
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

/// Binds RTP/RTCP port pairs from the configured range, starting each
/// search where the last one ended (a port just freed is not reused at
/// once, so late packets of an old call do not reach a new one).
pub(crate) struct PortPool {
    ip: IpAddr,
    range: (u16, u16),
    next: AtomicU32,
}

impl PortPool {
    pub(crate) fn new(ip: IpAddr, range: (u16, u16)) -> Self {
        Self {
            ip,
            range,
            next: AtomicU32::new(0),
        }
    }

    /// A bound pair: RTP on an even port, RTCP on the next odd one.
    pub(crate) fn bind(&self) -> Result<(UdpSocket, UdpSocket), RtpError> {
        if self.range == (0, 0) {
            return self.bind_os_picked();
        }
        let first = u32::from(self.range.0).div_ceil(2) * 2;
        let last = u32::from(self.range.1);
        if first >= last {
            return Err(RtpError::NoFreePorts);
        }
        let pairs = (last - first).div_ceil(2);
        let start = self.next.fetch_add(1, Ordering::Relaxed) % pairs;
        for i in 0..pairs {
            let port = first + 2 * (start.wrapping_add(i) % pairs);
            if port + 1 > last {
                continue;
            }
            if let Ok(pair) = self.bind_pair(port as u16) {
                self.next
                    .store(start.wrapping_add(i + 1), Ordering::Relaxed);
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
pub(crate) async fn receive(
    leg: LegId,
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    to: mpsc::Sender<Inbound>,
) {
    let busy = metrics::counter!("media_packets_dropped_total", "reason" => "call_busy");
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
        let inbound = Inbound {
            leg,
            source,
            at: Instant::now(),
            data: buf.split().freeze(),
            rtcp: is_rtcp,
        };
        match to.try_send(inbound) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => busy.increment(1),
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
}
