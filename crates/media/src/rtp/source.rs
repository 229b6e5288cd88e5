//! Which source an RTP leg takes packets from.
//!
//! A phone's media port is open to the whole internet, and anyone who
//! guesses it can send packets with the right payload type. What a leg
//! accepts is decided here, in the leg's receive task, before a datagram
//! reaches the call task's queue: a refused datagram costs one lock and
//! one comparison, and takes no room another packet (or another call)
//! needs.
//!
//! [`RtpSourcePolicy::Strict`] (the default) is rtpengine's strict source
//! with the SDP as the only authority: RTP only from the exact address
//! (IP and port) in the peer's SDP, RTCP only from that IP at that port or
//! the next one. Nothing is learnt from packets, so a packet can change
//! nothing. A phone whose SDP does not name where it sends from (behind a
//! NAT that does not rewrite SDP) is never heard in this mode: such trunks
//! need [`RtpSourcePolicy::Latch`].
//!
//! [`RtpSourcePolicy::Latch`] learns the source from packets, safely:
//! * the SDP names a public address: the first valid packet (parsable RTP
//!   with a negotiated payload type) from the SDP's IP, any port, latches
//!   (a NAT keeps the IP of a public host but may change its port);
//! * the SDP names a private, shared (CGNAT), link-local or unspecified
//!   address (the phone is behind NAT and does not know its public one):
//!   a source latches after [`LATCH_AFTER`] valid packets in a row from it,
//!   with one SSRC and consecutive sequence numbers. Until then the leg
//!   takes nothing (the first 40 ms are lost). A few sources are followed
//!   at once, so a stranger's odd packets do not reset the phone's run;
//!   someone who sends a well-formed stream first still wins, as in any
//!   latching (that is what strict mode is for).
//!
//! Once latched, only that exact address is taken, for RTP; RTCP latches to
//! its first source on the latched IP, then only that. Packets never move a
//! latch. New SDP with another address (a re-INVITE) starts learning again,
//! and if the new address is not a public one, only the IP already latched
//! may latch again: the IP never changes mid-call unless signalling names
//! a new public one.
//!
//! Each refusal is counted (`media_packets_dropped_total`, by `reason`) and
//! logged once per leg and reason: at info without addresses, at debug with
//! the source.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use metrics::Counter;

use super::{RtpPeer, packet};
use crate::LegId;

/// How an RTP leg chooses whose packets it takes (see the module docs of
/// `rtp::source` for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RtpSourcePolicy {
    /// Only the exact address in the peer's SDP (rtpengine's strict
    /// source without learning). Packets change nothing.
    #[default]
    Strict,
    /// For phones behind NAT: learn the source from the first valid packet
    /// on the SDP's IP or, when the SDP names a private address, from
    /// [`LATCH_AFTER`] consecutive valid packets; then strict to it.
    Latch,
}

/// Consecutive valid packets (one SSRC, sequence numbers in a row) that
/// latch a source when the SDP's address says nothing about it.
pub const LATCH_AFTER: u16 = 3;
/// Sources followed at once while learning.
const CANDIDATES: usize = 4;

/// Why a datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No SDP yet: we do not know who the peer is.
    NoPeer,
    /// From an address other than the peer's (or the latched one).
    Foreign,
    /// Latching: not (yet) a source that may latch.
    Unlatched,
}

impl Refusal {
    fn bit(self) -> u8 {
        match self {
            Self::NoPeer => 1,
            Self::Foreign => 2,
            Self::Unlatched => 4,
        }
    }
}

/// Why a datagram was dropped (the `reason` label of
/// `media_packets_dropped_total`), for RTP legs.
pub(crate) struct RtpDrops {
    pub(crate) total: Arc<AtomicU64>,
    foreign: Counter,
    unlatched: Counter,
    no_peer: Counter,
    pub(crate) malformed: Counter,
    pub(crate) call_busy: Counter,
}

impl RtpDrops {
    pub(crate) fn new(total: Arc<AtomicU64>) -> Self {
        let counter = |reason: &'static str| metrics::counter!("media_packets_dropped_total", "reason" => reason);
        Self {
            total,
            foreign: counter("rtp_foreign_source"),
            unlatched: counter("rtp_unlatched"),
            no_peer: counter("rtp_no_peer"),
            malformed: counter("rtp_malformed"),
            call_busy: counter("call_busy"),
        }
    }

    pub(crate) fn count(&self, counter: &Counter) {
        self.total.fetch_add(1, Ordering::Relaxed);
        counter.increment(1);
    }

    pub(crate) fn refused(&self, refusal: Refusal) {
        self.count(match refusal {
            Refusal::NoPeer => &self.no_peer,
            Refusal::Foreign => &self.foreign,
            Refusal::Unlatched => &self.unlatched,
        });
    }
}

/// The leg's gate, shared by its receive task (which asks it about every
/// datagram) and the call task (which sets the peer and asks where to
/// send).
#[derive(Clone)]
pub(crate) struct Gate(Arc<Mutex<SourceGate>>);

impl Gate {
    pub(crate) fn new(leg: LegId, policy: RtpSourcePolicy) -> Self {
        Self(Arc::new(Mutex::new(SourceGate::new(leg, policy))))
    }

    fn with<T>(&self, f: impl FnOnce(&mut SourceGate) -> T) -> T {
        // The gate's state is consistent after every method: a panic
        // elsewhere while holding the lock leaves nothing half done.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set_peer(&self, peer: &RtpPeer) {
        self.with(|g| g.set_peer(peer));
    }

    pub(crate) fn admit(&self, source: SocketAddr, rtcp: bool, data: &[u8]) -> Result<(), Refusal> {
        self.with(|g| g.admit(source, rtcp, data))
    }

    /// Where our RTP goes and where our RTCP goes.
    pub(crate) fn destinations(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.with(|g| Some((g.rtp_destination()?, g.rtcp_destination()?)))
    }
}

/// The peer as its SDP describes it.
#[derive(Debug, Clone, Copy)]
struct Expected {
    addr: SocketAddr,
    payload_type: u8,
    dtmf_payload_type: Option<u8>,
}

/// A source followed while learning.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    source: SocketAddr,
    ssrc: u32,
    seq: u16,
    run: u16,
    /// When it last sent (in packets seen by the gate), to replace the
    /// stalest.
    seen: u64,
}

/// The rules of the module docs, without IO (the receive task and the
/// call task reach it through [`Gate`]).
pub(crate) struct SourceGate {
    leg: LegId,
    policy: RtpSourcePolicy,
    peer: Option<Expected>,
    latched: Option<SocketAddr>,
    rtcp_latched: Option<SocketAddr>,
    /// Learning may latch only this IP (the SDP's public one, or the one
    /// latched before a re-INVITE named a private address).
    pinned_ip: Option<IpAddr>,
    candidates: Vec<Candidate>,
    packets: u64,
    /// Refusals logged already (one bit per [`Refusal`]).
    logged: u8,
}

impl SourceGate {
    pub(crate) fn new(leg: LegId, policy: RtpSourcePolicy) -> Self {
        Self {
            leg,
            policy,
            peer: None,
            latched: None,
            rtcp_latched: None,
            pinned_ip: None,
            candidates: Vec::with_capacity(CANDIDATES),
            packets: 0,
            logged: 0,
        }
    }

    /// The peer's SDP (again, on a re-INVITE). A new address starts
    /// learning again (see the module docs for which IP may latch).
    pub(crate) fn set_peer(&mut self, peer: &RtpPeer) {
        let first = self.peer.is_none();
        let moved = self.peer.is_some_and(|p| p.addr != peer.addr);
        self.peer = Some(Expected {
            addr: peer.addr,
            payload_type: peer.payload_type,
            dtmf_payload_type: peer.dtmf_payload_type,
        });
        if !first && !moved {
            return;
        }
        let before = self.latched.map(|a| a.ip()).or(self.pinned_ip);
        self.latched = None;
        self.rtcp_latched = None;
        self.candidates.clear();
        self.pinned_ip = if names_its_host(peer.addr.ip()) {
            Some(peer.addr.ip())
        } else {
            before
        };
    }

    pub(crate) fn admit(
        &mut self,
        source: SocketAddr,
        rtcp: bool,
        data: &[u8],
    ) -> Result<(), Refusal> {
        let verdict = self.verdict(source, rtcp, data);
        if let Err(refusal) = verdict
            && self.logged & refusal.bit() == 0
        {
            self.logged |= refusal.bit();
            let reason = match refusal {
                Refusal::NoPeer => "no_peer",
                Refusal::Foreign => "foreign_source",
                Refusal::Unlatched => "unlatched",
            };
            tracing::info!(
                leg = self.leg.0,
                reason,
                "rtp leg dropped a datagram (logged once per leg and reason)"
            );
            tracing::debug!(leg = self.leg.0, reason, %source, rtcp, "rtp datagram refused");
        }
        verdict
    }

    fn verdict(&mut self, source: SocketAddr, rtcp: bool, data: &[u8]) -> Result<(), Refusal> {
        let peer = self.peer.ok_or(Refusal::NoPeer)?;
        match (self.policy, rtcp) {
            (RtpSourcePolicy::Strict, false) => {
                (source == peer.addr).then_some(()).ok_or(Refusal::Foreign)
            }
            (RtpSourcePolicy::Strict, true) => (source == peer.addr
                || source == rtcp_of(peer.addr))
            .then_some(())
            .ok_or(Refusal::Foreign),
            (RtpSourcePolicy::Latch, false) => self.latch_rtp(peer, source, data),
            (RtpSourcePolicy::Latch, true) => self.latch_rtcp(source, data),
        }
    }

    fn latch_rtp(
        &mut self,
        peer: Expected,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), Refusal> {
        if let Some(latched) = self.latched {
            return (source == latched).then_some(()).ok_or(Refusal::Foreign);
        }
        if self.pinned_ip.is_some_and(|ip| ip != source.ip()) {
            return Err(Refusal::Foreign);
        }
        let Some(p) = packet::parse(data) else {
            return Err(Refusal::Unlatched);
        };
        if p.payload_type != peer.payload_type && peer.dtmf_payload_type != Some(p.payload_type) {
            return Err(Refusal::Unlatched);
        }
        let latch = if names_its_host(peer.addr.ip()) {
            // The SDP's IP (pinned above): its word is enough.
            true
        } else {
            self.follow(source, p.ssrc, p.seq) >= LATCH_AFTER
        };
        if !latch {
            return Err(Refusal::Unlatched);
        }
        self.latched = Some(source);
        self.candidates.clear();
        tracing::debug!(leg = self.leg.0, %source, "rtp source latched");
        Ok(())
    }

    /// Counts a valid packet from `source`; returns its run so far.
    fn follow(&mut self, source: SocketAddr, ssrc: u32, seq: u16) -> u16 {
        self.packets += 1;
        let now = self.packets;
        if let Some(c) = self.candidates.iter_mut().find(|c| c.source == source) {
            c.run = if c.ssrc == ssrc && seq == c.seq.wrapping_add(1) {
                c.run + 1
            } else {
                1
            };
            c.ssrc = ssrc;
            c.seq = seq;
            c.seen = now;
            return c.run;
        }
        let fresh = Candidate {
            source,
            ssrc,
            seq,
            run: 1,
            seen: now,
        };
        if self.candidates.len() < CANDIDATES {
            self.candidates.push(fresh);
        } else if let Some(stalest) = self.candidates.iter_mut().min_by_key(|c| c.seen) {
            *stalest = fresh;
        }
        1
    }

    fn latch_rtcp(&mut self, source: SocketAddr, data: &[u8]) -> Result<(), Refusal> {
        if let Some(latched) = self.rtcp_latched {
            return (source == latched).then_some(()).ok_or(Refusal::Foreign);
        }
        let Some(rtp) = self.latched else {
            return Err(Refusal::Unlatched);
        };
        if source.ip() != rtp.ip() {
            return Err(Refusal::Foreign);
        }
        // RTCP (RFC 3550 6.4): version 2, packet types 200 to 206.
        let looks_rtcp = data.len() >= 8 && data[0] >> 6 == 2 && (200..=206).contains(&data[1]);
        if !looks_rtcp {
            return Err(Refusal::Unlatched);
        }
        self.rtcp_latched = Some(source);
        Ok(())
    }

    /// Where our RTP goes: the latched source (symmetric RTP), else the SDP
    /// address.
    pub(crate) fn rtp_destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.peer.map(|p| p.addr))
    }

    /// Where our RTCP goes: its latched source, else the port after the
    /// RTP destination's.
    pub(crate) fn rtcp_destination(&self) -> Option<SocketAddr> {
        self.rtcp_latched.or(self.rtp_destination().map(rtcp_of))
    }
}

/// The RTCP address that goes with an RTP address (RFC 3550 11).
fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
}

/// Whether an SDP address can be where the packets come from: not one
/// only meaningful behind a NAT (private, shared, link-local) nor a
/// placeholder (unspecified, broadcast).
pub(crate) fn names_its_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let shared = v4.octets()[0] == 100 && v4.octets()[1] & 0xc0 == 64;
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || shared)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            match v6.to_ipv4_mapped() {
                Some(v4) => names_its_host(IpAddr::V4(v4)),
                None => !(v6.is_unspecified() || unique_local || link_local),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::G711;

    const PHONE: &str = "203.0.113.7:40000";
    const NATTED: &str = "192.168.1.10:40000";

    fn peer(addr: &str) -> RtpPeer {
        RtpPeer {
            addr: addr.parse().unwrap(),
            codec: G711::Pcmu,
            payload_type: 0,
            dtmf_payload_type: Some(101),
        }
    }

    fn rtp(pt: u8, seq: u16, ssrc: u32) -> Vec<u8> {
        let mut data = Vec::new();
        packet::write_header(&mut data, false, pt, seq, u32::from(seq) * 160, ssrc);
        data.resize(packet::HEADER + 160, 0xff);
        data
    }

    fn rtcp() -> Vec<u8> {
        vec![0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    }

    fn at(addr: &str) -> SocketAddr {
        addr.parse().unwrap()
    }

    fn gate(policy: RtpSourcePolicy, sdp: &str) -> SourceGate {
        let mut gate = SourceGate::new(LegId(1), policy);
        gate.set_peer(&peer(sdp));
        gate
    }

    #[test]
    fn nothing_is_taken_before_the_sdp() {
        let mut gate = SourceGate::new(LegId(1), RtpSourcePolicy::Strict);
        assert_eq!(
            gate.admit(at(PHONE), false, &rtp(0, 1, 7)),
            Err(Refusal::NoPeer)
        );
        assert_eq!(gate.rtp_destination(), None);
    }

    #[test]
    fn strict_takes_only_the_sdp_address_and_learns_nothing() {
        let mut gate = gate(RtpSourcePolicy::Strict, PHONE);
        for stranger in [
            "203.0.113.7:40002",
            "198.51.100.1:40000",
            "[2001:db8::1]:40000",
        ] {
            for n in 0..10 {
                assert_eq!(
                    gate.admit(at(stranger), false, &rtp(0, n, 9)),
                    Err(Refusal::Foreign)
                );
            }
            assert_eq!(
                gate.admit(at(stranger), true, &rtcp()),
                Err(Refusal::Foreign)
            );
        }
        assert_eq!(gate.admit(at(PHONE), false, &rtp(0, 1, 7)), Ok(()));
        assert_eq!(gate.admit(at("203.0.113.7:40001"), true, &rtcp()), Ok(()));
        assert_eq!(gate.rtp_destination(), Some(at(PHONE)));
        assert_eq!(gate.rtcp_destination(), Some(at("203.0.113.7:40001")));
    }

    #[test]
    fn latching_on_a_public_sdp_takes_only_its_ip_and_then_one_port() {
        let mut gate = gate(RtpSourcePolicy::Latch, PHONE);
        // Another host never latches, however well-formed its stream.
        for n in 0..10 {
            assert_eq!(
                gate.admit(at("198.51.100.1:40000"), false, &rtp(0, n, 9)),
                Err(Refusal::Foreign)
            );
        }
        // Garbage or a wrong payload type from the right IP does not latch.
        assert_eq!(
            gate.admit(at("203.0.113.7:5000"), false, &[0x80; 5]),
            Err(Refusal::Unlatched)
        );
        assert_eq!(
            gate.admit(at("203.0.113.7:5000"), false, &rtp(96, 1, 7)),
            Err(Refusal::Unlatched)
        );
        // The NAT changed the port: the first valid packet latches it.
        let natted = at("203.0.113.7:61000");
        assert_eq!(gate.admit(natted, false, &rtp(0, 1, 7)), Ok(()));
        assert_eq!(gate.rtp_destination(), Some(natted));
        assert_eq!(
            gate.admit(at(PHONE), false, &rtp(0, 2, 7)),
            Err(Refusal::Foreign),
            "no re-latching, not even to the SDP's port"
        );
        // RTCP: from the latched IP, then only that source.
        assert_eq!(
            gate.admit(at("198.51.100.1:61001"), true, &rtcp()),
            Err(Refusal::Foreign)
        );
        assert_eq!(gate.admit(at("203.0.113.7:61001"), true, &rtcp()), Ok(()));
        assert_eq!(
            gate.admit(at("203.0.113.7:61003"), true, &rtcp()),
            Err(Refusal::Foreign)
        );
        assert_eq!(gate.rtcp_destination(), Some(at("203.0.113.7:61001")));
    }

    #[test]
    fn latching_on_a_private_sdp_needs_a_run_of_valid_packets() {
        let mut gate = gate(RtpSourcePolicy::Latch, NATTED);
        let phone = at("198.51.100.20:3478");
        let stranger = at("192.0.2.66:9999");
        // The stranger's odd packets (wrong payload type, jumping sequence
        // numbers) interleave with the phone's run and latch nothing.
        for n in 0..LATCH_AFTER - 1 {
            assert_eq!(
                gate.admit(phone, false, &rtp(0, 100 + n, 7)),
                Err(Refusal::Unlatched)
            );
            assert_eq!(
                gate.admit(stranger, false, &rtp(0, 1000 * n, 9)),
                Err(Refusal::Unlatched)
            );
            assert_eq!(
                gate.admit(stranger, false, &rtp(8, n, 9)),
                Err(Refusal::Unlatched)
            );
        }
        assert_eq!(
            gate.admit(phone, false, &rtp(0, 100 + LATCH_AFTER - 1, 7)),
            Ok(())
        );
        assert_eq!(gate.rtp_destination(), Some(phone));
        for n in 0..10 {
            assert_eq!(
                gate.admit(stranger, false, &rtp(0, n, 9)),
                Err(Refusal::Foreign)
            );
        }
        // A re-INVITE with another private address: only the latched IP
        // may latch again.
        gate.set_peer(&peer("10.0.0.5:4000"));
        for n in 0..10 {
            assert_eq!(
                gate.admit(stranger, false, &rtp(0, n, 9)),
                Err(Refusal::Foreign)
            );
        }
        let moved = at("198.51.100.20:3500");
        for n in 0..LATCH_AFTER {
            let _ = gate.admit(moved, false, &rtp(0, n, 7));
        }
        assert_eq!(gate.rtp_destination(), Some(moved));
    }

    #[test]
    fn a_changed_ssrc_or_sequence_gap_restarts_the_run() {
        let mut gate = gate(RtpSourcePolicy::Latch, "0.0.0.0:0");
        let source = at("192.0.2.1:5004");
        assert!(gate.admit(source, false, &rtp(0, 1, 7)).is_err());
        assert!(gate.admit(source, false, &rtp(0, 2, 8)).is_err());
        assert!(gate.admit(source, false, &rtp(0, 4, 8)).is_err());
        assert!(gate.admit(source, false, &rtp(0, 5, 8)).is_err());
        assert_eq!(gate.admit(source, false, &rtp(0, 6, 8)), Ok(()));
    }

    #[test]
    fn the_same_sdp_again_keeps_the_latch() {
        let mut gate = gate(RtpSourcePolicy::Latch, PHONE);
        let natted = at("203.0.113.7:61000");
        assert_eq!(gate.admit(natted, false, &rtp(0, 1, 7)), Ok(()));
        gate.set_peer(&peer(PHONE));
        assert_eq!(gate.rtp_destination(), Some(natted));
        assert_eq!(
            gate.admit(at("203.0.113.7:61002"), false, &rtp(0, 2, 7)),
            Err(Refusal::Foreign)
        );
    }

    #[test]
    fn refusals_are_counted_by_reason() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let total = Arc::new(AtomicU64::new(0));
            let drops = RtpDrops::new(Arc::clone(&total));
            let mut gate = gate(RtpSourcePolicy::Strict, PHONE);
            for n in 0..5 {
                if let Err(refusal) = gate.admit(at("198.51.100.1:1"), false, &rtp(0, n, 9)) {
                    drops.refused(refusal);
                }
            }
            assert_eq!(total.load(Ordering::Relaxed), 5);
        });
        let text = handle.render();
        assert!(
            text.contains(r#"media_packets_dropped_total{reason="rtp_foreign_source"} 5"#),
            "{text}"
        );
    }

    #[test]
    fn which_sdp_addresses_name_their_host() {
        for ip in ["203.0.113.7", "127.0.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(names_its_host(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(!names_its_host(ip.parse().unwrap()), "{ip}");
        }
    }
}
