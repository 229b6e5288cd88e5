//! One WebRTC leg: a browser's `str0m::Rtc` (ICE-lite, DTLS-SRTP) and the
//! media lines its offer negotiated.
//!
//! str0m is sans-IO: every mutation (a datagram, a timeout, a frame written)
//! is followed by [`WebrtcLeg::drain`], which sends what str0m wants sent and turns
//! its events into [`LegOutput`]s for the bridge, until str0m returns its next
//! timeout.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use str0m::{
    Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig,
    change::SdpOffer,
    config::{CryptoProvider, DtlsCert},
    crypto::Sha1HmacProvider,
    ice::IceCreds,
    media::{KeyframeRequestKind, MediaData, MediaKind, Mid},
    net::{DatagramRecv, Protocol, Receive},
    rtp::Extension,
};
use tokio::net::UdpSocket;

use super::{LegId, LegRole, LegStats, MediaError};

/// Longest error text a bad offer is answered with (str0m's parser errors
/// can quote the whole input).
const MAX_ERROR_TEXT: usize = 100;

/// A connected leg with no datagram for this long is taken as gone. Browsers
/// send ICE consent checks every few seconds even when muted.
pub(crate) const SILENCE_LIMIT: Duration = Duration::from_secs(15);

/// Due timeouts handled in one drain before the timer takes over (a guard
/// against a timeout that never moves forward).
const MAX_DUE_ROUNDS: usize = 8;

/// What every leg is built with: made once when the engine starts.
pub(crate) struct LegSetup {
    crypto: Arc<CryptoProvider>,
    cert: DtlsCert,
    /// The one host candidate: `announce:port`.
    pub(crate) candidate: SocketAddr,
}

impl LegSetup {
    /// `None` if the crypto backend cannot make a DTLS certificate.
    pub(crate) fn new(candidate: SocketAddr) -> Option<Self> {
        let crypto = str0m::crypto::from_feature_flags();
        let cert = crypto.dtls_provider.generate_certificate()?;
        Some(Self {
            crypto: Arc::new(crypto),
            cert,
            candidate,
        })
    }

    /// The HMAC-SHA1 the receive task checks STUN integrity with.
    pub(crate) fn hmac(&self) -> &'static dyn Sha1HmacProvider {
        self.crypto.sha1_hmac_provider
    }

    fn config(&self, creds: IceCreds, video: bool) -> RtcConfig {
        let config = RtcConfig::new()
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_crypto_provider(Arc::clone(&self.crypto))
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            // After VP8, so a browser offering both keeps VP8; one offering
            // only H.264 gets it (forwarded when the other party has it too).
            .enable_h264(true)
            // A relay should not hold audio back waiting for a lost packet:
            // the browser's jitter buffer conceals it better than a delay.
            .set_reordering_size_audio(0);
        if video {
            return config;
        }
        // Audio only: no transport-wide congestion control. Its per-packet
        // sequence numbers and feedback (sent and processed every 100 ms
        // both ways) cost about 40% of a relayed audio frame's CPU
        // (docs/benchmarks.md), and a voice stream of a few dozen kbit/s
        // gains little from send-side bandwidth estimation. Video legs keep
        // it: it drives the browser's video bitrate.
        config
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(2, Extension::AbsoluteSendTime)
            .set_extension(4, Extension::RtpMid)
    }
}

/// A parsed offer, and whether it has a video line to negotiate.
pub(crate) struct Offer {
    sdp: SdpOffer,
    video: bool,
}

/// Parses a browser's offer. Runs in the caller's task, so garbage never
/// reaches the call task.
pub(crate) fn parse_offer(sdp: &str) -> Result<Offer, MediaError> {
    if sdp.trim().is_empty() {
        return Err(MediaError::BadOffer("empty offer".into()));
    }
    let parsed = SdpOffer::from_sdp_string(sdp).map_err(|e| bad_offer(&e.to_string()))?;
    // A video line offered with port 0 is rejected already.
    let video = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("m=video "))
        .any(|rest| !rest.starts_with("0 "));
    Ok(Offer { sdp: parsed, video })
}

fn bad_offer(text: &str) -> MediaError {
    let mut end = text.len().min(MAX_ERROR_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    MediaError::BadOffer(text[..end].to_owned())
}

/// What draining a leg produced for the bridge.
#[allow(
    clippy::large_enum_variant,
    reason = "frames are the common case; boxing them would cost an allocation each"
)]
pub(crate) enum LegOutput {
    /// A frame from the browser.
    Media(MediaData),
    /// The browser wants a keyframe of the video we send it.
    KeyframeRequest(KeyframeRequestKind),
    /// ICE and DTLS are up.
    Connected,
    /// The leg is dead; `reason` is for logs.
    Failed(String),
    /// A DTMF digit from a phone (RTP legs only).
    Dtmf(char),
    /// What call progress detection heard (RTP legs only).
    Progress(crate::cpd::Progress),
}

pub(crate) struct WebrtcLeg {
    pub(crate) id: LegId,
    pub(crate) role: LegRole,
    pub(crate) ufrag: String,
    pub(crate) pass: String,
    /// Boxed: an `Rtc` is about 20 KB, and legs move (into the call's list,
    /// through futures).
    rtc: Box<Rtc>,
    /// When the leg must be connected by.
    pub(crate) connect_by: Instant,
    pub(crate) connected: bool,
    pub(crate) failed: bool,
    pub(crate) last_rx: Instant,
    /// str0m's next timeout.
    pub(crate) timeout: Instant,
    /// Audio lines we send on, in offer order (a listener may have two).
    pub(crate) audio_send: Vec<Mid>,
    /// The video line we send on, and the one the browser sends on.
    pub(crate) video_send: Option<Mid>,
    pub(crate) video_recv: Option<Mid>,
    last_keyframe_request: Option<Instant>,
    pub(crate) frames_in: u64,
    frames_out: u64,
}

impl WebrtcLeg {
    /// Accepts `offer`; returns the leg and the SDP answer.
    pub(crate) fn from_offer(
        setup: &LegSetup,
        id: LegId,
        role: LegRole,
        offer: Offer,
        connect_timeout: Duration,
        now: Instant,
    ) -> Result<(Self, String), MediaError> {
        let creds = IceCreds::new();
        let (ufrag, pass) = (creds.ufrag.clone(), creds.pass.clone());
        let mut rtc = Box::new(setup.config(creds, offer.video).build(now));
        let candidate = Candidate::host(setup.candidate, "udp")
            .map_err(|e| MediaError::Io(std::io::Error::other(e.to_string())))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer.sdp)
            .map_err(|e| bad_offer(&e.to_string()))?;
        let mut leg = Self {
            id,
            role,
            ufrag,
            pass,
            rtc,
            connect_by: now + connect_timeout,
            connected: false,
            failed: false,
            last_rx: now,
            timeout: now,
            audio_send: Vec::new(),
            video_send: None,
            video_recv: None,
            last_keyframe_request: None,
            frames_in: 0,
            frames_out: 0,
        };
        let answer = answer.to_sdp_string();
        leg.learn_media_lines(&answer)?;
        Ok((leg, answer))
    }

    /// Notes which media lines of the answer carry what. str0m reports
    /// media lines as events only once DTLS is up, so they are read from
    /// the answer (ours, so its `a=mid` lines are well formed) and checked
    /// against the session.
    fn learn_media_lines(&mut self, answer: &str) -> Result<(), MediaError> {
        let mut audio_recv = false;
        for mid in answer
            .lines()
            .filter_map(|l| l.trim_end().strip_prefix("a=mid:"))
        {
            let mid = Mid::from(mid);
            let Some(media) = self.rtc.media(mid) else {
                continue;
            };
            if media.disabled() {
                continue;
            }
            let dir = media.direction();
            match media.kind() {
                MediaKind::Audio => {
                    if dir.is_sending() {
                        self.audio_send.push(mid);
                    }
                    audio_recv |= dir.is_receiving();
                }
                MediaKind::Video => {
                    if dir.is_sending() && self.video_send.is_none() {
                        self.video_send = Some(mid);
                    }
                    if dir.is_receiving() && self.video_recv.is_none() {
                        self.video_recv = Some(mid);
                    }
                }
            }
        }
        if let Ok(Output::Timeout(t)) = self.rtc.poll_output() {
            self.timeout = t;
        }
        let usable = match self.role {
            LegRole::Listener => !self.audio_send.is_empty(),
            LegRole::Visitor | LegRole::Agent => audio_recv || !self.audio_send.is_empty(),
        };
        if usable {
            Ok(())
        } else {
            Err(MediaError::BadOffer("no usable Opus audio line".into()))
        }
    }

    /// Feeds one datagram from `source`, then drains.
    pub(crate) fn receive(
        &mut self,
        at: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
        socket: &UdpSocket,
        out: &mut Vec<LegOutput>,
    ) {
        // The receive task already sorted by first byte; str0m parses again.
        let Ok(contents) = DatagramRecv::try_from(data) else {
            return;
        };
        self.last_rx = at;
        let input = Input::Receive(
            at,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(leg = self.id.0, error = %e, "input rejected");
            self.fail("input rejected".into(), out);
            return;
        }
        self.drain(socket, out);
    }

    /// Lets time pass, then drains.
    pub(crate) fn tick(&mut self, now: Instant, socket: &UdpSocket, out: &mut Vec<LegOutput>) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(leg = self.id.0, error = %e, "timeout handling failed");
            self.fail("timeout handling failed".into(), out);
            return;
        }
        self.drain(socket, out);
    }

    /// Sends `data` (a frame from another leg) on `mid`, then drains. Frames
    /// of a codec this leg did not negotiate are dropped.
    pub(crate) fn write(
        &mut self,
        mid: Mid,
        data: &MediaData,
        socket: &UdpSocket,
        out: &mut Vec<LegOutput>,
    ) {
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer.match_params(data.params) else {
            return;
        };
        match writer.write(pt, data.network_time, data.time, Arc::clone(&data.data)) {
            Ok(()) => self.frames_out += 1,
            Err(e) => tracing::debug!(leg = self.id.0, error = %e, "frame not written"),
        }
        self.drain(socket, out);
    }

    /// Asks the browser for a video keyframe, at most once a second unless
    /// `force` (a receiving leg asked for it explicitly).
    pub(crate) fn request_keyframe(
        &mut self,
        kind: KeyframeRequestKind,
        force: bool,
        now: Instant,
        socket: &UdpSocket,
        out: &mut Vec<LegOutput>,
    ) {
        let Some(mid) = self.video_recv else {
            return;
        };
        let recent = self
            .last_keyframe_request
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        if recent && !force {
            return;
        }
        let Some(mut writer) = self.rtc.writer(mid) else {
            return;
        };
        let kind = if writer.is_request_keyframe_possible(kind) {
            kind
        } else if writer.is_request_keyframe_possible(KeyframeRequestKind::Pli) {
            KeyframeRequestKind::Pli
        } else {
            return;
        };
        // Fails only if the browser has not sent video yet: nothing to ask.
        if writer.request_keyframe(None, kind).is_ok() {
            self.last_keyframe_request = Some(now);
        }
        self.drain(socket, out);
    }

    /// Sends everything str0m has queued and collects its events, until it
    /// returns its next timeout.
    ///
    /// A timeout already due (str0m packetizes a written frame, then paces
    /// it, each on a zero timeout) is handled here at once: waiting for the
    /// timer would cost two task wake-ups and a millisecond of timer
    /// resolution per frame.
    pub(crate) fn drain(&mut self, socket: &UdpSocket, out: &mut Vec<LegOutput>) {
        let mut due_rounds = 0;
        while !self.failed {
            let output = match self.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(leg = self.id.0, error = %e, "str0m failed");
                    self.fail("transport error".into(), out);
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    let now = Instant::now();
                    if t > now || due_rounds == MAX_DUE_ROUNDS {
                        self.timeout = t;
                        return;
                    }
                    due_rounds += 1;
                    if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                        tracing::debug!(leg = self.id.0, error = %e, "timeout handling failed");
                        self.fail("timeout handling failed".into(), out);
                    }
                }
                Output::Transmit(t) => send(socket, &t.contents, t.destination),
                Output::Event(event) => self.on_event(event, out),
            }
        }
    }

    fn on_event(&mut self, event: Event, out: &mut Vec<LegOutput>) {
        match event {
            // Reported once, even if ICE reconnects.
            Event::Connected if !self.connected => {
                self.connected = true;
                out.push(LegOutput::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) if self.connected => {
                self.fail("ICE disconnected".into(), out);
            }
            Event::Closed => self.fail("closed by the peer".into(), out),
            Event::MediaData(data) => out.push(LegOutput::Media(data)),
            Event::KeyframeRequest(req) if Some(req.mid) == self.video_send => {
                out.push(LegOutput::KeyframeRequest(req.kind));
            }
            _ => {}
        }
        if !self.rtc.is_alive() && !self.failed {
            self.fail("connection ended".into(), out);
        }
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

    /// Whether the leg receives audio on `index` (its `index`-th audio line).
    pub(crate) fn audio_line(&self, index: usize) -> Option<Mid> {
        self.audio_send.get(index).copied()
    }

    /// Closes politely (RTCP BYE, DTLS close_notify), sending what that
    /// produces; events are no longer of interest.
    pub(crate) fn close(&mut self, socket: &UdpSocket) {
        if self.rtc.close().is_ok() {
            // Bounded: str0m drains its close output in a few steps.
            for _ in 0..64 {
                match self.rtc.poll_output() {
                    Ok(Output::Transmit(t)) => send(socket, &t.contents, t.destination),
                    Ok(Output::Event(_)) => {}
                    Ok(Output::Timeout(_)) | Err(_) => break,
                }
            }
        }
        self.rtc.disconnect();
    }
}

/// Sends one datagram without waiting: UDP may drop, and so may we when the
/// socket buffer is full (the peer's NACK or concealment copes).
fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = socket.try_send_to(data, to) {
        tracing::trace!(error = %e, "datagram not sent");
        metrics::counter!("media_packets_unsent_total").increment(1);
    }
}
