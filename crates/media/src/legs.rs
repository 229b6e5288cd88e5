//! The kinds of leg a call joins: a browser (WebRTC) or a phone (RTP). The
//! call task and its bridge see them through this enum only; both hand the
//! bridge Opus frames and take Opus frames from it.

use std::{net::SocketAddr, time::Instant};

use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use tokio::net::UdpSocket;

use super::{
    LegId, LegRole, LegStats,
    leg::{LegOutput, WebrtcLeg},
    rtp::RtpLeg,
    socket::Inbound,
};

pub(crate) enum Leg {
    Webrtc(WebrtcLeg),
    /// Boxed: codec state makes it larger than a WebRTC leg's handle.
    Rtp(Box<RtpLeg>),
}

/// The media line name the bridge uses for an RTP leg (it has one line).
fn rtp_line() -> Mid {
    Mid::from("rtp")
}

impl Leg {
    pub(crate) fn id(&self) -> LegId {
        match self {
            Self::Webrtc(l) => l.id,
            Self::Rtp(l) => l.id,
        }
    }

    pub(crate) fn role(&self) -> LegRole {
        match self {
            Self::Webrtc(l) => l.role,
            Self::Rtp(l) => l.role,
        }
    }

    pub(crate) fn connected(&self) -> bool {
        match self {
            Self::Webrtc(l) => l.connected,
            Self::Rtp(l) => l.connected,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        match self {
            Self::Webrtc(l) => l.failed,
            Self::Rtp(l) => l.failed,
        }
    }

    /// Frames may be written to it: a browser once connected; a phone once
    /// its address is known (early media goes out before it sends).
    pub(crate) fn takes_media(&self) -> bool {
        match self {
            Self::Webrtc(l) => l.connected && !l.failed,
            Self::Rtp(l) => l.has_peer() && !l.failed,
        }
    }

    /// When its own timer (str0m's, or the RTP tick) is due.
    pub(crate) fn timeout(&self) -> Instant {
        match self {
            Self::Webrtc(l) => l.timeout,
            Self::Rtp(l) => l.timeout,
        }
    }

    /// When it fails unless connected by then.
    pub(crate) fn connect_by(&self) -> Option<Instant> {
        match self {
            Self::Webrtc(l) => (!l.connected).then_some(l.connect_by),
            Self::Rtp(l) => l.connect_by.filter(|_| !l.connected),
        }
    }

    pub(crate) fn last_rx(&self) -> Instant {
        match self {
            Self::Webrtc(l) => l.last_rx,
            Self::Rtp(l) => l.last_rx,
        }
    }

    pub(crate) fn count_frame_in(&mut self) {
        match self {
            Self::Webrtc(l) => l.frames_in += 1,
            Self::Rtp(l) => l.frames_in += 1,
        }
    }

    pub(crate) fn receive(
        &mut self,
        datagram: &Inbound,
        destination: SocketAddr,
        socket: &UdpSocket,
        out: &mut Vec<LegOutput>,
    ) {
        match self {
            Self::Webrtc(l) => l.receive(
                datagram.at,
                datagram.source,
                destination,
                &datagram.data,
                socket,
                out,
            ),
            Self::Rtp(l) => l.receive(datagram, out),
        }
    }

    pub(crate) fn tick(&mut self, now: Instant, socket: &UdpSocket, out: &mut Vec<LegOutput>) {
        match self {
            Self::Webrtc(l) => l.tick(now, socket, out),
            Self::Rtp(l) => l.tick(now, out),
        }
    }

    pub(crate) fn write(
        &mut self,
        mid: Mid,
        data: &MediaData,
        socket: &UdpSocket,
        out: &mut Vec<LegOutput>,
    ) {
        match self {
            Self::Webrtc(l) => l.write(mid, data, socket, out),
            Self::Rtp(l) => l.write(data),
        }
    }

    /// Phones send no video: nothing to ask them for.
    pub(crate) fn request_keyframe(
        &mut self,
        kind: KeyframeRequestKind,
        force: bool,
        now: Instant,
        socket: &UdpSocket,
        out: &mut Vec<LegOutput>,
    ) {
        if let Self::Webrtc(l) = self {
            l.request_keyframe(kind, force, now, socket, out);
        }
    }

    pub(crate) fn fail(&mut self, reason: String, out: &mut Vec<LegOutput>) {
        match self {
            Self::Webrtc(l) => l.fail(reason, out),
            Self::Rtp(l) => l.fail(reason, out),
        }
    }

    pub(crate) fn stats(&self) -> LegStats {
        match self {
            Self::Webrtc(l) => l.stats(),
            Self::Rtp(l) => l.stats(),
        }
    }

    /// The audio line the bridge writes a party's audio to (a listener's
    /// second line carries the agent).
    pub(crate) fn audio_line(&self, index: usize) -> Option<Mid> {
        match self {
            Self::Webrtc(l) => l.audio_line(index),
            Self::Rtp(_) => (index == 0).then(rtp_line),
        }
    }

    pub(crate) fn video_send(&self) -> Option<Mid> {
        match self {
            Self::Webrtc(l) => l.video_send,
            Self::Rtp(_) => None,
        }
    }

    pub(crate) fn close(&mut self, socket: &UdpSocket) {
        match self {
            Self::Webrtc(l) => l.close(socket),
            Self::Rtp(l) => l.close(),
        }
    }
}
