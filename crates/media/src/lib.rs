//! The media engine: WebRTC terminated on the server (str0m), every call's legs
//! joined by a bridge (DESIGN.md principle 3).
//!
//! One UDP socket carries every session. A receive task demultiplexes packets
//! to the call that owns the leg (by STUN username before ICE completes, by
//! source address after); packets from unknown sources are dropped. One task
//! owns each call: its legs, its bridge and its recorders.
//!
//! API contract (the desk uses only this):
//! * [`MediaEngine::start`] binds the socket; [`MediaEngine::call`] starts a
//!   call task whose [`MediaEvent`]s go to the given channel, tagged.
//! * [`Call::add_webrtc`] takes a browser's SDP offer and returns the answer.
//!   A leg that does not connect (ICE + DTLS) within `connect_timeout` fails
//!   with [`MediaEventKind::LegFailed`] and is freed.
//! * [`Call::add_rtp`] opens a phone's leg (a SIP trunk's media) on a port
//!   pair from `rtp_ports` and returns the address for the SDP;
//!   [`Call::set_rtp_peer`] says where the phone's media goes (the SIP side
//!   parsed it from the SDP); by default only packets from that exact
//!   address are taken ([`RtpSourcePolicy`]). The leg is connected when
//!   the phone's first packet arrives, and fails if none comes within
//!   `connect_timeout`, or nothing for `SILENCE_LIMIT` after. Digits go both ways as RFC 4733
//!   events ([`Call::send_dtmf`], [`MediaEventKind::Dtmf`]).
//! * [`Call::add_rtp_screened`] opens a phone's leg outside the bridge (a
//!   caller asked for a PIN): it plays a prompt and reports digits only,
//!   until [`Call::admit`] makes it the visitor.
//! * Bridge: the visitor leg and the current agent leg hear each other unless
//!   the call is on hold; listener legs receive both parties' audio and send
//!   nothing anyone hears; recording writes each party's audio to its own
//!   Ogg/Opus file.
//!
//! # Layout
//!
//! * `socket`: the receive task. It owns the routing maps (local ICE ufrag →
//!   leg, source address → leg) and hands each datagram to its call's bounded
//!   channel; whatever it cannot route is counted and dropped.
//! * `call`: the per-call task (the companion IO of STYLE.md 2): commands from
//!   [`Call`] handles, datagrams from the socket task, the legs' timers. It
//!   owns the bridge: which leg's media goes where.
//! * `legs`: the kinds of leg (browser or phone) as the bridge sees them.
//! * `leg`: one browser's `str0m::Rtc` (ICE-lite, DTLS-SRTP) and the media
//!   lines negotiated in its offer.
//! * `rtp`: one phone's leg: its own UDP port pair, G.711, jitter buffer,
//!   RFC 4733 and RTCP; it transcodes so the bridge sees Opus (`opus`).
//! * `recorder` and `ogg`: Ogg/Opus files written without a library.
//! * `ivf`: a visitor's VP8 video in an IVF file (voice and video mail).
//! * `fuzzing` (hidden): the browser-offer fuzz target's entry point
//!   (`fuzz/`, docs/fuzzing.md).
//! * `testclient` (hidden): an in-process str0m peer that plays the browser in
//!   tests and in the `media_load` benchmark.
//!
//! # Media
//!
//! Opus (audio) and VP8, then H.264 (video, with RTX, NACK, PLI and FIR) are
//! accepted, and frames are forwarded without transcoding. A browser offering
//! VP8 gets VP8 (the widget and console offer only VP8, so their calls always
//! match); one offering only H.264 gets H.264, and its video reaches the other
//! party when that party has H.264 too. When the two parties share no video
//! codec, their video is dropped and the call goes on with audio.
//!
//! The bridge works at the frame level (str0m's sample API, as in its
//! `chat.rs`), not in RTP mode: each leg is its own RTP session with its own
//! SSRCs, sequence numbers, NACK/RTX buffers and keyframe-request plumbing.
//! That makes replacing the agent leg (a transfer), hold and listeners plain
//! routing decisions (no sequence-number or SSRC rewriting, no NACKs relayed
//! across legs), and the recorder gets whole Opus packets. The price is
//! depacketizing and packetizing every frame, which for 20 ms audio frames is
//! one packet in, one packet out (see docs/benchmarks.md, "Media relay").
//!
//! Legs whose offer has no video line are answered without transport-wide
//! congestion control (`transport-cc`): its per-packet bookkeeping and
//! feedback cost about 40% of a relayed audio frame's CPU, and a voice
//! stream gains little from it. Video legs keep it for the browser's
//! bandwidth estimation.
//!
//! All legs share one DTLS certificate, made when the engine starts: a
//! certificate per leg would cost an ECDSA key generation per call.
//!
//! A phone's leg speaks Opus towards the bridge: it decodes G.711 and
//! encodes Opus at 8 kHz, and decodes the browser's Opus at 8 kHz for
//! G.711. So hold, listeners, transfers and the Ogg/Opus recorder work the
//! same whichever kind of leg a party is, at the price of one Opus encode
//! and one decode per 20 ms per phone (about 2% of a core; see
//! docs/benchmarks.md, "Bridged calls"). Browser-to-browser calls still
//! forward without transcoding.
//!
//! Datagrams are sent with `try_send_to` from the call task: a full socket
//! buffer drops the datagram (counted as `media_packets_unsent_total`), as
//! the network itself might, rather than stalling the call.

mod call;
pub mod cpd;
#[doc(hidden)]
pub mod fuzzing;
mod ivf;
mod leg;
mod legs;
mod ogg;
mod opus;
mod recorder;
mod rtp;
mod socket;
#[doc(hidden)]
pub mod testclient;

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::{mpsc, oneshot};

use self::{
    call::{CallTask, Command},
    leg::LegSetup,
    rtp::{PortPool, RtpDrops},
    socket::RouteCommand,
};
pub use self::{
    opus::OpusError,
    rtp::{G711, LATCH_AFTER, RtpError, RtpPeer, RtpSourcePolicy},
};

/// Settings of the media engine.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// UDP address every session shares (port 0 picks one).
    pub bind: SocketAddr,
    /// Address announced in ICE candidates.
    pub announce: IpAddr,
    /// How long a leg may take to connect (ICE and DTLS; a phone's first
    /// packet) before it is dropped.
    pub connect_timeout: Duration,
    /// Ports for RTP legs, inclusive (RTP on an even port, RTCP on the next
    /// odd one). (0, 0): let the OS pick (tests). RTP sockets bind on
    /// `bind`'s IP; the address returned for SDP uses `announce`.
    pub rtp_ports: (u16, u16),
    /// Whose packets an RTP leg takes: only the SDP's address
    /// ([`RtpSourcePolicy::Strict`], the default), or a source learnt
    /// safely for phones behind NAT ([`RtpSourcePolicy::Latch`]).
    pub rtp_source: RtpSourcePolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad SDP offer: {0}")]
    BadOffer(String),
    #[error("the call has ended")]
    CallEnded,
    #[error("the media engine is not available")]
    Unavailable,
    #[error("rtp leg: {0}")]
    Rtp(#[from] RtpError),
}

/// What a leg is for in its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegRole {
    Visitor,
    Agent,
    /// A supervisor listening in: receives both parties, heard by no one.
    Listener,
}

/// One leg of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegId(pub u64);

/// The caller's name for a call, carried on each of its [`MediaEvent`]s so
/// the events of many calls can share one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallTag(pub i64);

#[derive(Debug, Clone)]
pub struct MediaEvent {
    /// The tag given to [`MediaEngine::call`].
    pub tag: CallTag,
    pub kind: MediaEventKind,
}

#[derive(Debug, Clone)]
pub enum MediaEventKind {
    /// ICE and DTLS completed; media flows.
    Connected { leg: LegId, role: LegRole },
    /// The leg is gone: it never connected in time, the peer closed it, or its
    /// transport failed. `reason` is for logs.
    ///
    /// Legs the desk removes itself ([`Call::remove_leg`], an agent leg
    /// replaced by a new one, [`Call::hangup`]) are not reported.
    LegFailed {
        leg: LegId,
        role: LegRole,
        reason: String,
    },
    /// A DTMF digit from a phone (one per RFC 4733 event).
    Dtmf {
        leg: LegId,
        role: LegRole,
        digit: char,
    },
    /// Call progress detection's verdict on a phone's leg
    /// ([`Call::detect_progress`]).
    Progress { leg: LegId, progress: cpd::Progress },
}

/// Cheap, cloneable handle to the media engine.
#[derive(Clone)]
pub struct MediaEngine {
    local: SocketAddr,
    shared: Arc<Shared>,
}

/// What the engine's handles and call tasks share. The receive task ends
/// when the last of them is gone (its control channel closes).
struct Shared {
    socket: Arc<tokio::net::UdpSocket>,
    setup: LegSetup,
    connect_timeout: Duration,
    routes: mpsc::Sender<RouteCommand>,
    next_leg: AtomicU64,
    dropped: Arc<AtomicU64>,
    /// Port pairs for RTP legs, and the address announced for them.
    ports: PortPool,
    announce: IpAddr,
    rtp_source: RtpSourcePolicy,
    rtp_drops: Arc<RtpDrops>,
    /// Call tasks run on the runtime the engine was started on, whoever
    /// calls [`MediaEngine::call`].
    runtime: tokio::runtime::Handle,
}

/// Cheap, cloneable handle to one call's task. The task ends on
/// [`Call::hangup`] or when every handle is dropped.
#[derive(Clone)]
pub struct Call {
    commands: mpsc::Sender<Command>,
}

/// One leg as the call task sees it (diagnostics, tests).
#[derive(Debug, Clone)]
pub struct LegStats {
    pub leg: LegId,
    pub role: LegRole,
    pub connected: bool,
    /// Frames (audio packets, whole video frames) received from the browser.
    pub frames_in: u64,
    /// Frames sent to the browser.
    pub frames_out: u64,
}

/// The files one call's recording writes.
#[derive(Debug, Clone)]
pub struct RecordingFiles {
    pub visitor: PathBuf,
    pub agent: PathBuf,
}

/// Commands a call task may have queued before it gets to them.
const CALL_COMMANDS: usize = 16;

impl MediaEngine {
    /// Binds the media socket and starts the receive task on the current
    /// tokio runtime (call tasks will run there too).
    #[allow(
        clippy::unused_async,
        reason = "async in the API contract; binding may become async (e.g. a port range)"
    )]
    pub async fn start(config: MediaConfig) -> Result<Self, MediaError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MediaError::Unavailable)?;
        let socket = Arc::new(socket::bind(config.bind)?);
        let local = socket.local_addr()?;
        let candidate = SocketAddr::new(config.announce, local.port());
        if str0m::Candidate::host(candidate, "udp").is_err() {
            return Err(MediaError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the announced media address cannot be an ICE candidate",
            )));
        }
        let setup = LegSetup::new(candidate).ok_or(MediaError::Unavailable)?;
        let dropped = Arc::new(AtomicU64::new(0));
        let (routes, control) = mpsc::channel(socket::CONTROL_QUEUE);
        runtime.spawn(socket::run(
            Arc::clone(&socket),
            control,
            setup.hmac(),
            Arc::clone(&dropped),
        ));
        tracing::info!(port = local.port(), "media engine listening");
        tracing::debug!(%local, %candidate, "media socket bound");
        Ok(Self {
            local,
            shared: Arc::new(Shared {
                socket,
                setup,
                connect_timeout: config.connect_timeout,
                routes,
                next_leg: AtomicU64::new(1),
                rtp_drops: Arc::new(RtpDrops::new(Arc::clone(&dropped))),
                dropped,
                ports: PortPool::new(config.bind.ip(), config.rtp_ports),
                announce: config.announce,
                rtp_source: config.rtp_source,
                runtime,
            }),
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Datagrams the receive task dropped so far: unknown sources, garbage,
    /// STUN that failed its integrity check, or a call too busy to take them;
    /// and what RTP legs dropped: garbage, packets before the peer's SDP, or
    /// from a source other than the peer's (`reason="rtp_foreign_source"`).
    /// The same figure is exported as `media_packets_dropped_total`.
    pub fn dropped_packets(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Starts a call; its events go to `events` with `tag`.
    pub fn call(&self, tag: CallTag, events: mpsc::Sender<MediaEvent>) -> Call {
        let (commands, rx) = mpsc::channel(CALL_COMMANDS);
        let task = CallTask::new(Arc::clone(&self.shared), tag, events, rx);
        self.shared.runtime.spawn(task.run());
        Call { commands }
    }
}

impl Shared {
    fn next_leg_id(&self) -> LegId {
        LegId(self.next_leg.fetch_add(1, Ordering::Relaxed))
    }
}

impl Call {
    /// Adds a WebRTC leg from a browser's SDP offer; returns the SDP answer.
    pub async fn add_webrtc(
        &self,
        role: LegRole,
        offer: &str,
    ) -> Result<(LegId, String), MediaError> {
        let offer = leg::parse_offer(offer)?;
        self.ask(|reply| Command::AddWebrtc { role, offer, reply })
            .await?
    }

    /// Opens an RTP leg (a phone on a SIP trunk) on a free port pair from the
    /// range; returns the leg and the address to announce in SDP.
    pub async fn add_rtp(&self, role: LegRole) -> Result<(LegId, SocketAddr), MediaError> {
        self.ask(|reply| Command::AddRtp {
            role,
            screened: false,
            reply,
        })
        .await?
    }

    /// Opens a visitor's RTP leg that is not a party yet (a caller who must
    /// key a PIN first): nobody hears it and it hears nobody, it replaces
    /// no leg, and only its digits are reported ([`MediaEventKind::Dtmf`]);
    /// its connecting and failing are not. Once its peer is set it plays a
    /// short prompt (two 1 kHz beeps). [`Call::admit`] makes it the visitor.
    pub async fn add_rtp_screened(&self) -> Result<(LegId, SocketAddr), MediaError> {
        self.ask(|reply| Command::AddRtp {
            role: LegRole::Visitor,
            screened: true,
            reply,
        })
        .await?
    }

    /// Makes a screened leg the call's visitor, replacing any other: bridged
    /// from now on, and reported `Connected` at once if its media flows.
    /// Error if the leg is gone (it failed while screened).
    pub async fn admit(&self, leg: LegId) -> Result<(), MediaError> {
        self.ask(|reply| Command::Admit { leg, reply }).await?
    }

    /// Where the phone's media goes (from the SDP offer/answer). May be
    /// called again (re-INVITE, early media then answer). Media flows after
    /// this.
    pub async fn set_rtp_peer(&self, leg: LegId, peer: RtpPeer) -> Result<(), MediaError> {
        self.ask(|reply| Command::SetRtpPeer { leg, peer, reply })
            .await?
    }

    /// Sends digits (0-9 * # A-D) to an RTP leg as RFC 4733 events, one
    /// after another (100 ms tone, 60 ms gap). Error if the peer negotiated
    /// no telephone-event.
    pub async fn send_dtmf(&self, leg: LegId, digits: String) -> Result<(), MediaError> {
        self.ask(|reply| Command::SendDtmf { leg, digits, reply })
            .await?
    }

    /// Starts call progress detection on an RTP leg's incoming audio
    /// (`Stage::Early`), or tells it the call was answered
    /// (`Stage::Answered`); what it hears comes as
    /// [`MediaEventKind::Progress`], once.
    pub async fn detect_progress(&self, leg: LegId, stage: cpd::Stage) -> Result<(), MediaError> {
        self.ask(|reply| Command::DetectProgress { leg, stage, reply })
            .await?
    }

    /// Closes one leg (an agent transferring away, a supervisor leaving).
    pub async fn remove_leg(&self, leg: LegId) {
        let _ = self.ask(|reply| Command::RemoveLeg { leg, reply }).await;
    }

    /// On hold neither party hears the other (recording pauses too).
    pub async fn set_hold(&self, on: bool) {
        let _ = self.ask(|reply| Command::SetHold { on, reply }).await;
    }

    /// Starts writing each party's audio to its own Ogg/Opus file in `dir`,
    /// named from `stem` (`{stem}-visitor.ogg`, `{stem}-agent.ogg`).
    pub async fn record(&self, dir: PathBuf, stem: String) -> Result<RecordingFiles, MediaError> {
        self.ask(|reply| Command::Record { dir, stem, reply })
            .await?
    }

    /// Starts writing the visitor's VP8 video to an IVF file at `path`
    /// (voice and video mail), from its next keyframe; finished at hangup.
    /// Video in another codec is not written.
    pub async fn record_video(&self, path: PathBuf) -> Result<(), MediaError> {
        self.ask(|reply| Command::RecordVideo { path, reply })
            .await?
    }

    /// The call's legs as its task sees them now.
    pub async fn stats(&self) -> Result<Vec<LegStats>, MediaError> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Ends the call: closes every leg and finishes the recordings.
    pub async fn hangup(&self) {
        let _ = self.ask(|reply| Command::Hangup { reply }).await;
    }

    /// Sends a command and waits for the task's answer.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, MediaError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| MediaError::CallEnded)?;
        answer.await.map_err(|_| MediaError::CallEnded)
    }
}
