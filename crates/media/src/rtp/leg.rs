//! One RTP leg: a phone on a SIP trunk, seen by the bridge as if it were a
//! browser sending Opus.
//!
//! Phone to bridge: G.711 packets go through the jitter buffer; each 20 ms
//! tick plays one (or conceals a missing one), encodes it as Opus and hands
//! the frame to the bridge. A tick that comes late plays every frame due
//! since the last, so the buffer's delay does not grow with the call
//! task's delays. Bridge to phone: Opus frames are decoded at
//! 8 kHz, re-chunked into 20 ms and sent as G.711 of our own stream (our
//! SSRC, sequence numbers and timestamps), as soon as a chunk is full.
//!
//! Whose packets the leg takes is its [`Gate`]'s business (see
//! `rtp::source`): the receive task asks it about every datagram, and the
//! leg asks it where to send (the SDP address, or the latched source when
//! latching: symmetric RTP, as a phone behind NAT is reachable only there).

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use str0m::{
    format::{Codec, CodecExtra, CodecSpec, FormatParams, PayloadParams},
    media::{Frequency, MediaData, MediaTime, Mid, Pt},
    rtp::{ExtensionValues, SeqNo},
};
use tokio::{net::UdpSocket, task::AbortHandle};

use super::{
    G711, RtpError, RtpPeer, count_playout, dtmf, g711,
    jitter::{self, JitterBuffer, Playout},
    packet, rtcp,
    source::{Gate, RtpDrops},
};
use crate::{
    LegId, LegRole, LegStats,
    leg::LegOutput,
    opus::{self, FRAME},
    socket::Inbound,
};

/// One packet's worth of time.
pub(crate) const PTIME: Duration = Duration::from_millis(20);
/// How often we send a sender report.
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Concealed frames (each half as loud as the last) before going silent.
const FADE_FRAMES: u8 = 4;
/// Samples from the bridge held for the phone at most (60 ms): more means
/// the browser sends faster than we drain, and old audio is dropped.
const MAX_BACKLOG: usize = 3 * FRAME;
/// A gap in what we send longer than this starts a new talkspurt, with a
/// timestamp from the clock (so the phone hears the silence as silence).
const TALKSPURT_GAP: Duration = Duration::from_millis(60);
/// The prompt's beeps: frequency and peak level (of 32767).
const PROMPT_HZ: f64 = 1000.0;
const PROMPT_LEVEL: i16 = 8000;
/// The Opus payload type the bridge sees on frames from RTP legs (any:
/// receiving legs match by codec, not by number).
const OPUS_PT: u8 = 111;

/// The Opus parameters of frames handed to the bridge: those str0m
/// negotiates with browsers, so a WebRTC leg's writer matches them exactly.
fn opus_params() -> PayloadParams {
    PayloadParams::new(
        Pt::from(OPUS_PT),
        None,
        CodecSpec {
            codec: Codec::Opus,
            clock_rate: Frequency::FORTY_EIGHT_KHZ,
            channels: Some(2),
            format: FormatParams {
                min_p_time: Some(10),
                use_inband_fec: Some(true),
                ..FormatParams::default()
            },
        },
    )
}

/// The phone's stream as we receive it.
struct Inward {
    ssrc: Option<u32>,
    jitter: JitterBuffer,
    reception: rtcp::Reception,
    dtmf: dtmf::Receiver,
    encoder: opus::Encoder,
    /// The last frame played, for concealment, and how often it was reused.
    last: Vec<i16>,
    concealed: u8,
    pcm: Vec<i16>,
    /// RTP time (48 kHz) of frames to the bridge: one frame per tick.
    media_time: u64,
    frames: u64,
}

/// Our stream to the phone.
struct Outward {
    ssrc: u32,
    seq: u16,
    /// Random offset of our RTP clock.
    clock_base: u32,
    /// Timestamp of the last packet sent.
    timestamp: u32,
    last_sent: Option<Instant>,
    packets: u32,
    octets: u32,
    decoder: opus::Decoder,
    backlog: VecDeque<i16>,
    pcm: Vec<i16>,
    dtmf: dtmf::Sender,
    dtmf_timestamp: u32,
    buf: Vec<u8>,
    /// A prompt's samples still to play, ahead of anything else.
    prompt: VecDeque<i16>,
}

pub(crate) struct RtpLeg {
    pub(crate) id: LegId,
    pub(crate) role: LegRole,
    pub(crate) connected: bool,
    pub(crate) failed: bool,
    /// Set by [`RtpLeg::set_peer`] until the first packet arrives.
    pub(crate) connect_by: Option<Instant>,
    pub(crate) last_rx: Instant,
    /// The next 20 ms tick (jitter buffer, DTMF, RTCP), once a peer is set.
    pub(crate) timeout: Instant,
    pub(crate) frames_in: u64,
    frames_out: u64,
    /// Call progress detection on what the phone sends (`cpd`), when asked.
    pub(crate) progress: Option<crate::cpd::ProgressDetector>,
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    receiver: AbortHandle,
    connect_timeout: Duration,
    peer: Option<RtpPeer>,
    gate: Gate,
    malformed_logged: bool,
    next_rtcp: Instant,
    /// Our clock's origin (arrival times, timestamps).
    origin: Instant,
    drops: Arc<RtpDrops>,
    inward: Inward,
    outward: Outward,
}

/// Far enough in the future to never come (a leg without a peer has no
/// timer).
fn never(now: Instant) -> Instant {
    now + Duration::from_hours(24 * 365)
}

/// `d` in 8 kHz clock units, wrapping like an RTP timestamp.
fn ticks(d: Duration) -> u32 {
    (d.as_micros() * 8 / 1000) as u32
}

/// A phone leg's port pair and the task that reads it (aborted with the leg).
pub(crate) struct PortPair {
    pub(crate) rtp: Arc<UdpSocket>,
    pub(crate) rtcp: Arc<UdpSocket>,
    pub(crate) receiver: AbortHandle,
    /// The gate the receive task asks about each datagram.
    pub(crate) gate: Gate,
}

impl RtpLeg {
    pub(crate) fn new(
        id: LegId,
        role: LegRole,
        ports: PortPair,
        connect_timeout: Duration,
        drops: Arc<RtpDrops>,
        now: Instant,
    ) -> Result<Self, RtpError> {
        let PortPair {
            rtp,
            rtcp,
            receiver,
            gate,
        } = ports;
        Ok(Self {
            id,
            role,
            connected: false,
            failed: false,
            connect_by: None,
            last_rx: now,
            timeout: never(now),
            frames_in: 0,
            frames_out: 0,
            progress: None,
            rtp,
            rtcp,
            receiver,
            connect_timeout,
            peer: None,
            gate,
            malformed_logged: false,
            next_rtcp: now + RTCP_INTERVAL,
            origin: now,
            drops,
            inward: Inward {
                ssrc: None,
                jitter: JitterBuffer::default(),
                reception: rtcp::Reception::default(),
                dtmf: dtmf::Receiver::default(),
                encoder: opus::Encoder::new()?,
                last: Vec::with_capacity(FRAME),
                concealed: FADE_FRAMES,
                pcm: Vec::with_capacity(FRAME),
                media_time: 0,
                frames: 0,
            },
            outward: Outward {
                ssrc: rand::random(),
                seq: rand::random(),
                clock_base: rand::random(),
                timestamp: 0,
                last_sent: None,
                packets: 0,
                octets: 0,
                decoder: opus::Decoder::new()?,
                backlog: VecDeque::with_capacity(MAX_BACKLOG + 6 * FRAME),
                pcm: Vec::with_capacity(6 * FRAME),
                dtmf: dtmf::Sender::default(),
                dtmf_timestamp: 0,
                buf: Vec::with_capacity(packet::HEADER + FRAME),
                prompt: VecDeque::new(),
            },
        })
    }

    /// Where the phone's media goes (again, on a re-INVITE). A new address
    /// starts the gate's learning again, if it learns (the phone may have
    /// moved).
    pub(crate) fn set_peer(&mut self, peer: RtpPeer, now: Instant) {
        self.gate.set_peer(&peer);
        if self.peer.is_none() {
            self.timeout = now + PTIME;
        }
        if !self.connected {
            self.connect_by = Some(now + self.connect_timeout);
        }
        self.peer = Some(peer);
    }

    /// Queues digits for RFC 4733 events.
    pub(crate) fn send_dtmf(&mut self, digits: &str) -> Result<(), RtpError> {
        if self.peer.and_then(|p| p.dtmf_payload_type).is_none() {
            return Err(RtpError::NoTelephoneEvent);
        }
        let codes = digits
            .chars()
            .map(|d| dtmf::code(d).ok_or(RtpError::BadDigit(d)))
            .collect::<Result<Vec<u8>, _>>()?;
        if self.outward.dtmf.queue(&codes) {
            Ok(())
        } else {
            Err(RtpError::TooManyDigits)
        }
    }

    /// Queues the prompt a screened caller hears once the peer is set: a
    /// moment of silence (the answer is still on its way), then two 1 kHz
    /// beeps of 200 ms, 100 ms apart.
    pub(crate) fn queue_prompt(&mut self) {
        const RATE: f64 = 8000.0;
        let beep = |n: usize| {
            (0..n).map(|i| {
                let t = i as f64 / RATE;
                (f64::from(PROMPT_LEVEL) * (2.0 * std::f64::consts::PI * PROMPT_HZ * t).sin())
                    as i16
            })
        };
        let silence = |n: usize| std::iter::repeat_n(0i16, n);
        let prompt = &mut self.outward.prompt;
        prompt.clear();
        prompt.extend(silence(10 * FRAME));
        prompt.extend(beep(10 * FRAME));
        prompt.extend(silence(5 * FRAME));
        prompt.extend(beep(10 * FRAME));
    }

    /// Media may be sent to the phone (its address is known).
    pub(crate) fn has_peer(&self) -> bool {
        self.peer.is_some()
    }

    /// A datagram the gate let through (from the peer's source).
    pub(crate) fn receive(&mut self, datagram: &Inbound, out: &mut Vec<LegOutput>) {
        let Some(peer) = self.peer else {
            // The gate takes nothing before the peer is known.
            return;
        };
        if datagram.rtcp {
            self.receive_rtcp(datagram);
            return;
        }
        let Some(p) = packet::parse(&datagram.data) else {
            return self.malformed();
        };
        let dtmf = peer.dtmf_payload_type == Some(p.payload_type);
        if p.payload_type != peer.payload_type && !dtmf {
            return self.malformed();
        }
        if !self.connected {
            self.connected = true;
            self.connect_by = None;
            out.push(LegOutput::Connected);
        }
        self.last_rx = datagram.at;
        let inward = &mut self.inward;
        if inward.ssrc != Some(p.ssrc) {
            inward.ssrc = Some(p.ssrc);
            inward.jitter.reset();
        }
        let arrival = ticks(datagram.at.saturating_duration_since(self.origin));
        inward
            .reception
            .on_packet(p.ssrc, p.seq, p.timestamp, arrival);
        let payload = datagram.data.slice(p.payload);
        if dtmf {
            if let Some(event) = dtmf::parse(&payload)
                && let Some(digit) = inward.dtmf.on_packet(p.timestamp, event)
            {
                out.push(LegOutput::Dtmf(digit));
            }
        } else {
            inward.jitter.push(p.seq, payload);
        }
    }

    /// Counts a malformed datagram (or one with a payload type the phone
    /// did not negotiate); logged once per leg.
    fn malformed(&mut self) {
        self.drops.count(&self.drops.malformed);
        if !self.malformed_logged {
            self.malformed_logged = true;
            tracing::info!(
                leg = self.id.0,
                reason = "malformed",
                "rtp leg dropped a datagram (logged once per leg and reason)"
            );
        }
    }

    fn receive_rtcp(&mut self, datagram: &Inbound) {
        let Some(parsed) = rtcp::parse(&datagram.data) else {
            return self.malformed();
        };
        self.last_rx = datagram.at;
        if let Some(ntp) = parsed.sender_report {
            self.inward.reception.on_sender_report(ntp, datagram.at);
        }
    }

    /// The 20 ms tick: one frame to the bridge and one DTMF packet for each
    /// 20 ms that has passed, and the periodic report.
    ///
    /// A call task that ran late plays the frames it owes (their packets
    /// waited in the jitter buffer) rather than skip them: a skipped frame
    /// leaves its packet in the buffer as 20 ms more delay, for good, and
    /// once the buffer is at its bound every later skip costs a packet.
    /// Only a task later than [`jitter::CATCH_UP`] frames resumes from now.
    pub(crate) fn tick(&mut self, now: Instant, out: &mut Vec<LegOutput>) {
        let Some(peer) = self.peer else {
            self.timeout = never(now);
            return;
        };
        if now < self.timeout {
            return;
        }
        let mut played = 0;
        while self.timeout <= now && played < jitter::CATCH_UP {
            if self.connected {
                self.play(peer.codec, now, out);
            }
            self.send_dtmf_packet(peer, now);
            self.send_prompt(peer, now);
            self.timeout += PTIME;
            played += 1;
        }
        if played > 1 {
            count_playout("caught_up", played as u64 - 1);
        }
        if self.timeout <= now {
            let behind = now.saturating_duration_since(self.timeout);
            let skipped = behind.as_nanos() / PTIME.as_nanos() + 1;
            count_playout("skipped", skipped as u64);
            self.timeout = now + PTIME;
        }
        self.inward
            .jitter
            .trim(|payload| g711::is_quiet(peer.codec, payload));
        if now >= self.next_rtcp {
            self.next_rtcp = now + RTCP_INTERVAL;
            self.send_report(now);
        }
    }

    fn play(&mut self, codec: G711, now: Instant, out: &mut Vec<LegOutput>) {
        let inward = &mut self.inward;
        inward.media_time += 960;
        let contiguous = match inward.jitter.pop() {
            Playout::Frame(payload) => {
                g711::decode(codec, &payload, &mut inward.pcm);
                if let Some(found) = self.progress.as_mut().and_then(|d| d.push(&inward.pcm)) {
                    out.push(LegOutput::Progress(found));
                }
                // A phone may send other packet sizes; the bridge gets 20 ms.
                inward.pcm.resize(FRAME, 0);
                inward.last.clone_from(&inward.pcm);
                inward.concealed = 0;
                true
            }
            Playout::Lost | Playout::Empty => {
                if inward.concealed >= FADE_FRAMES || inward.last.is_empty() {
                    return;
                }
                count_playout("concealed", 1);
                inward.concealed += 1;
                for s in &mut inward.last {
                    *s /= 2;
                }
                inward.pcm.clone_from(&inward.last);
                false
            }
        };
        let Some(encoded) = inward.encoder.encode(&inward.pcm) else {
            return;
        };
        let seq = SeqNo::from(inward.frames);
        inward.frames += 1;
        out.push(LegOutput::Media(MediaData {
            mid: Mid::from("rtp"),
            pt: Pt::from(OPUS_PT),
            rid: None,
            params: opus_params(),
            time: MediaTime::new(inward.media_time, Frequency::FORTY_EIGHT_KHZ),
            network_time: now,
            seq_range: seq..=seq,
            contiguous,
            data: Arc::from(encoded),
            ext_vals: ExtensionValues::default(),
            codec_extra: CodecExtra::None,
            last_sender_info: None,
            audio_start_of_talk_spurt: false,
        }));
    }

    /// A frame from the bridge: decoded, re-chunked, sent as G.711.
    pub(crate) fn write(&mut self, data: &MediaData) {
        let Some(peer) = self.peer else { return };
        if data.params.spec().codec != Codec::Opus || data.data.is_empty() {
            return;
        }
        let now = Instant::now();
        let outward = &mut self.outward;
        outward.pcm.clear();
        if !data.contiguous {
            // A frame went missing before this one: let the decoder
            // conceal it rather than cut.
            outward.decoder.decode(&[], &mut outward.pcm);
        }
        outward.decoder.decode(&data.data, &mut outward.pcm);
        if outward.dtmf.busy() {
            // RFC 4733 2.5.1.1: no audio while an event plays.
            return;
        }
        outward.backlog.extend(&outward.pcm);
        let excess = outward.backlog.len().saturating_sub(MAX_BACKLOG);
        outward.backlog.drain(..excess);
        let mut chunk = [0i16; FRAME];
        while self.outward.backlog.len() >= FRAME {
            for (d, s) in chunk.iter_mut().zip(self.outward.backlog.drain(..FRAME)) {
                *d = s;
            }
            self.send_audio(peer, &chunk, now);
        }
    }

    fn clock(&self, now: Instant) -> u32 {
        self.outward
            .clock_base
            .wrapping_add(ticks(now.saturating_duration_since(self.origin)))
    }

    fn send_audio(&mut self, peer: RtpPeer, pcm: &[i16], now: Instant) {
        let resume = self
            .outward
            .last_sent
            .is_none_or(|t| now.saturating_duration_since(t) > TALKSPURT_GAP);
        let timestamp = if resume {
            self.clock(now)
        } else {
            self.outward.timestamp.wrapping_add(FRAME as u32)
        };
        let o = &mut self.outward;
        packet::write_header(
            &mut o.buf,
            resume,
            peer.payload_type,
            o.seq,
            timestamp,
            o.ssrc,
        );
        g711::encode(peer.codec, pcm, &mut o.buf);
        o.timestamp = timestamp;
        o.last_sent = Some(now);
        self.send_rtp();
    }

    /// The next 20 ms of a queued prompt (none while an event plays).
    fn send_prompt(&mut self, peer: RtpPeer, now: Instant) {
        if self.outward.prompt.len() < FRAME || self.outward.dtmf.busy() {
            return;
        }
        let mut chunk = [0i16; FRAME];
        for (d, s) in chunk.iter_mut().zip(self.outward.prompt.drain(..FRAME)) {
            *d = s;
        }
        self.send_audio(peer, &chunk, now);
    }

    fn send_dtmf_packet(&mut self, peer: RtpPeer, now: Instant) {
        let Some(pt) = peer.dtmf_payload_type else {
            return;
        };
        let Some(next) = self.outward.dtmf.tick() else {
            return;
        };
        if next.first {
            let start = self.clock(now);
            self.outward.dtmf_timestamp = start;
        }
        let o = &mut self.outward;
        packet::write_header(&mut o.buf, next.first, pt, o.seq, o.dtmf_timestamp, o.ssrc);
        dtmf::write(next.event, &mut o.buf);
        // Audio after the event continues from the event's end.
        o.timestamp = o
            .dtmf_timestamp
            .wrapping_add(u32::from(next.event.duration));
        o.last_sent = Some(now);
        self.send_rtp();
    }

    fn send_rtp(&mut self) {
        let o = &mut self.outward;
        o.seq = o.seq.wrapping_add(1);
        o.packets = o.packets.wrapping_add(1);
        o.octets = o.octets.wrapping_add((o.buf.len() - packet::HEADER) as u32);
        self.frames_out += 1;
        if let Some((to, _)) = self.gate.destinations() {
            send(&self.rtp, &o.buf, to);
        }
    }

    fn send_report(&mut self, now: Instant) {
        let Some((_, to)) = self.gate.destinations() else {
            return;
        };
        let sending = rtcp::Sending {
            ssrc: self.outward.ssrc,
            rtp_time: self.clock(now),
            packets: self.outward.packets,
            octets: self.outward.octets,
        };
        let mut buf = std::mem::take(&mut self.outward.buf);
        rtcp::write_report(&sending, &mut self.inward.reception, now, &mut buf);
        send(&self.rtcp, &buf, to);
        self.outward.buf = buf;
    }

    pub(crate) fn fail(&mut self, reason: String, out: &mut Vec<LegOutput>) {
        if !self.failed {
            self.failed = true;
            out.push(LegOutput::Failed(reason));
        }
    }

    pub(crate) fn stats(&self) -> LegStats {
        LegStats {
            leg: self.id,
            role: self.role,
            connected: self.connected,
            frames_in: self.frames_in,
            frames_out: self.frames_out,
        }
    }

    /// Stops the receive task; the sockets close with the last reference.
    pub(crate) fn close(&mut self) {
        self.receiver.abort();
    }
}

impl Drop for RtpLeg {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

/// Sends one datagram without waiting (see `leg::send`).
fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = socket.try_send_to(data, to) {
        tracing::trace!(error = %e, "rtp datagram not sent");
        metrics::counter!("media_packets_unsent_total").increment(1);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::rtp::RtpSourcePolicy;

    const PHONE: &str = "127.0.0.1:40000";

    async fn leg(now: Instant) -> RtpLeg {
        let rtp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let rtcp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let receiver = tokio::spawn(async {}).abort_handle();
        let drops = Arc::new(RtpDrops::new(Arc::default()));
        let gate = Gate::new(LegId(1), RtpSourcePolicy::Strict);
        let mut leg = RtpLeg::new(
            LegId(1),
            LegRole::Agent,
            PortPair {
                rtp,
                rtcp,
                receiver,
                gate,
            },
            Duration::from_secs(5),
            drops,
            now,
        )
        .unwrap();
        let peer = RtpPeer {
            addr: PHONE.parse().unwrap(),
            codec: G711::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
        };
        leg.set_peer(peer, now);
        leg
    }

    /// The phone's packet `seq` (20 ms of µ-law silence), arriving `at`.
    fn packet(seq: u16, at: Instant) -> Inbound {
        let mut data = Vec::new();
        packet::write_header(&mut data, false, 0, seq, u32::from(seq) * 160, 7);
        data.resize(packet::HEADER + FRAME, 0xff);
        Inbound {
            leg: LegId(1),
            source: PHONE.parse().unwrap(),
            at,
            data: Bytes::from(data),
            rtcp: false,
        }
    }

    /// Frames handed to the bridge: (contiguous, RTP time).
    fn frames(out: &mut Vec<LegOutput>) -> Vec<(bool, u64)> {
        out.drain(..)
            .filter_map(|o| match o {
                LegOutput::Media(m) => Some((m.contiguous, m.time.numer())),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_late_tick_plays_every_frame_due_and_keeps_its_grid() {
        let start = Instant::now();
        let mut leg = leg(start).await;
        let mut out = Vec::new();
        leg.receive(&packet(0, start + Duration::from_millis(5)), &mut out);
        leg.tick(start + PTIME, &mut out);
        assert_eq!(frames(&mut out), vec![(true, 960)]);
        // The call task is 50 ms late: the packets of three ticks queued
        // up meanwhile, and all three ticks are due.
        for seq in 1..4 {
            let at = start + PTIME * u32::from(seq) + Duration::from_millis(5);
            leg.receive(&packet(seq, at), &mut out);
        }
        let late = start + PTIME * 4 + Duration::from_millis(10);
        leg.tick(late, &mut out);
        assert_eq!(
            frames(&mut out),
            vec![(true, 1920), (true, 2880), (true, 3840)],
            "every packet played, none concealed"
        );
        assert_eq!(leg.timeout, start + PTIME * 5, "the 20 ms grid is kept");
        assert_eq!(leg.inward.jitter.overflow, 0);
        // Back on time, the next packet plays at its own tick: no delay
        // was added.
        leg.receive(
            &packet(4, start + PTIME * 4 + Duration::from_millis(15)),
            &mut out,
        );
        leg.tick(start + PTIME * 5, &mut out);
        assert_eq!(frames(&mut out), vec![(true, 4800)]);
        assert_eq!(leg.inward.jitter.pop(), Playout::Empty);
    }

    #[tokio::test]
    async fn a_task_later_than_catching_up_can_mend_resumes_from_now() {
        let start = Instant::now();
        let mut leg = leg(start).await;
        let mut out = Vec::new();
        leg.receive(&packet(0, start), &mut out);
        let late = start + PTIME * 10;
        leg.tick(late, &mut out);
        let played = frames(&mut out);
        // The packet, then concealment of the rest it may catch up on.
        let concealed = usize::from(FADE_FRAMES).min(jitter::CATCH_UP - 1);
        assert_eq!(played.len(), 1 + concealed);
        assert_eq!(played[0], (true, 960));
        assert!(played[1..].iter().all(|(contiguous, _)| !contiguous));
        assert_eq!(leg.timeout, late + PTIME);
    }
}
