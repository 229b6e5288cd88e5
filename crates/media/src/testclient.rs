//! An in-process WebRTC peer (str0m, full ICE, its own UDP socket on
//! 127.0.0.1) that plays the browser in the media engine's tests and in the
//! `media_load` benchmark. Not used by the server itself.
//!
//! It offers like a browser: a visitor or agent offers `sendrecv` audio (and
//! video), a supervisor one or two `recvonly` audio lines. Everything it
//! receives goes to a callback, so a test can put it on a channel and a
//! benchmark can count it in place.

use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use str0m::{
    Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig,
    change::{SdpAnswer, SdpPendingOffer},
    config::{CryptoProvider, DtlsCert},
    media::{Direction, Frequency, KeyframeRequestKind, MediaKind, MediaTime, Mid},
    net::{DatagramRecv, Protocol, Receive},
};
use tokio::{
    net::UdpSocket,
    sync::{mpsc, oneshot},
};

/// What the peer offers.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// A visitor or an agent: `sendrecv` audio, and `sendrecv` video if asked.
    Party { video: bool },
    /// A party whose only video codec is H.264 (as some browsers offer).
    H264Party,
    /// A supervisor: `lines` `recvonly` audio lines.
    Listener { lines: usize },
}

/// What the peer saw.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    Connected,
    /// An audio frame on the peer's `line`-th audio line.
    Audio {
        line: usize,
        data: Arc<[u8]>,
    },
    Video {
        data: Arc<[u8]>,
    },
    /// The server asked for a keyframe of the video this peer sends.
    KeyframeRequested,
    Disconnected,
}

/// Makes one payload per tick of [`TestClient::stream_audio`].
pub type PayloadSource = Box<dyn FnMut() -> Vec<u8> + Send>;

/// Opus packets (48 kHz mono, 20 ms each, as a browser sends) of a sine
/// tone at `hz`, `frames` of them: a whole second loops without a click for
/// any whole-number frequency. Encoding is done once, so streaming them
/// costs a peer nothing.
pub fn opus_tone(hz: f32, frames: usize) -> Vec<Vec<u8>> {
    let mut encoder = opus_rs::OpusEncoder::new(48_000, 1, opus_rs::Application::Voip)
        .expect("48 kHz mono is a valid encoder");
    encoder.bitrate_bps = 32_000;
    let mut out = vec![0u8; 1500];
    (0..frames)
        .map(|f| {
            let pcm: Vec<i16> = (f * 960..(f + 1) * 960)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    ((2.0 * std::f32::consts::PI * hz * t).sin() * 8000.0) as i16
                })
                .collect();
            let n = encoder
                .encode_i16(&pcm, 960, &mut out)
                .expect("20 ms at 48 kHz is a valid frame");
            out[..n].to_vec()
        })
        .collect()
}

/// A [`PayloadSource`] looping over `packets`.
pub fn looping(packets: Vec<Vec<u8>>) -> PayloadSource {
    let mut i = 0;
    Box::new(move || {
        let packet = packets[i % packets.len()].clone();
        i += 1;
        packet
    })
}

/// Decodes what a peer receives to 8 kHz mono, for tone detection.
pub struct AudioProbe {
    decoder: opus_rs::OpusDecoder,
    pcm: Vec<f32>,
}

impl Default for AudioProbe {
    fn default() -> Self {
        Self {
            decoder: opus_rs::OpusDecoder::new(8000, 1).expect("8 kHz mono is a valid decoder"),
            pcm: vec![0.0; 960],
        }
    }
}

impl AudioProbe {
    /// The samples of one Opus packet (none if it does not decode).
    pub fn decode(&mut self, packet: &[u8]) -> Vec<i16> {
        match self.decoder.decode(packet, 960, &mut self.pcm) {
            Ok(n) => self.pcm[..n]
                .iter()
                .map(|&s| (s * 32_768.0).clamp(-32_768.0, 32_767.0) as i16)
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

enum ClientCommand {
    Answer(String, oneshot::Sender<Result<(), String>>),
    Audio(Vec<u8>),
    Video(Vec<u8>),
    RequestKeyframe,
    Stream(Duration, PayloadSource),
}

/// Handle to one peer; dropping it ends the peer.
pub struct TestClient {
    commands: mpsc::Sender<ClientCommand>,
    local: SocketAddr,
}

/// One DTLS certificate for every peer of the process: key generation is
/// the slowest part of making a peer.
fn crypto() -> &'static (Arc<CryptoProvider>, DtlsCert) {
    static CRYPTO: OnceLock<(Arc<CryptoProvider>, DtlsCert)> = OnceLock::new();
    CRYPTO.get_or_init(|| {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .expect("the rust-crypto backend generates certificates");
        (Arc::new(provider), cert)
    })
}

impl TestClient {
    /// Binds a socket on 127.0.0.1 and makes an offer; returns the handle
    /// and the offer's SDP. Events go to `on_event`, in the peer's task.
    pub async fn offer(
        shape: Shape,
        on_event: impl FnMut(ClientEvent) + Send + 'static,
    ) -> io::Result<(Self, String)> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let local = socket.local_addr()?;
        let (provider, cert) = crypto();
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::clone(provider))
            .set_dtls_cert(cert.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(!matches!(shape, Shape::H264Party))
            .enable_h264(matches!(shape, Shape::H264Party))
            .build(Instant::now());
        let candidate =
            Candidate::host(local, "udp").map_err(|e| io::Error::other(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut sdp = rtc.sdp_api();
        let mut audio = Vec::new();
        let mut video = None;
        match shape {
            Shape::Party { .. } | Shape::H264Party => {
                let with_video = matches!(shape, Shape::Party { video: true } | Shape::H264Party);
                audio.push(sdp.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None));
                if with_video {
                    video = Some(sdp.add_media(
                        MediaKind::Video,
                        Direction::SendRecv,
                        None,
                        None,
                        None,
                    ));
                }
            }
            Shape::Listener { lines } => {
                for _ in 0..lines {
                    audio.push(sdp.add_media(
                        MediaKind::Audio,
                        Direction::RecvOnly,
                        None,
                        None,
                        None,
                    ));
                }
            }
        }
        let (offer, pending) = sdp
            .apply()
            .ok_or_else(|| io::Error::other("nothing to offer"))?;
        let (commands, rx) = mpsc::channel(256);
        let peer = Peer {
            rtc,
            socket,
            local,
            pending: Some(pending),
            audio,
            video,
            audio_time: 0,
            video_time: 0,
            stream: None,
            on_event: Box::new(on_event),
        };
        tokio::spawn(peer.run(rx));
        Ok((Self { commands, local }, offer.to_sdp_string()))
    }

    /// [`TestClient::offer`] with events on a bounded channel (events past
    /// its 4,096 places are dropped).
    pub async fn with_channel(
        shape: Shape,
    ) -> io::Result<(Self, String, mpsc::Receiver<ClientEvent>)> {
        let (tx, rx) = mpsc::channel(4096);
        let (client, offer) = Self::offer(shape, move |e| {
            let _ = tx.try_send(e);
        })
        .await?;
        Ok((client, offer, rx))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Applies the server's answer; ICE and DTLS start.
    pub async fn accept_answer(&self, answer: &str) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.send(ClientCommand::Answer(answer.to_owned(), tx))
            .await;
        rx.await.map_err(|_| "peer ended".to_owned())?
    }

    /// Sends one Opus frame (20 ms of RTP time) on the first audio line.
    pub async fn send_audio(&self, payload: Vec<u8>) {
        self.send(ClientCommand::Audio(payload)).await;
    }

    /// Sends one VP8 frame (1/30 s of RTP time).
    pub async fn send_video(&self, payload: Vec<u8>) {
        self.send(ClientCommand::Video(payload)).await;
    }

    /// Asks the server for a keyframe of the video this peer receives (PLI).
    pub async fn request_keyframe(&self) {
        self.send(ClientCommand::RequestKeyframe).await;
    }

    /// From now on sends `make()` as an audio frame every `every`.
    pub async fn stream_audio(&self, every: Duration, make: PayloadSource) {
        self.send(ClientCommand::Stream(every, make)).await;
    }

    async fn send(&self, command: ClientCommand) {
        // The peer only ends when this handle is dropped.
        let _ = self.commands.send(command).await;
    }
}

/// The next tick of the audio stream, if one runs.
async fn next_tick(stream: &mut Option<(tokio::time::Interval, PayloadSource)>) {
    match stream {
        Some((interval, _)) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    pending: Option<SdpPendingOffer>,
    audio: Vec<Mid>,
    video: Option<Mid>,
    audio_time: u64,
    video_time: u64,
    stream: Option<(tokio::time::Interval, PayloadSource)>,
    on_event: Box<dyn FnMut(ClientEvent) + Send>,
}

impl Peer {
    async fn run(mut self, mut commands: mpsc::Receiver<ClientCommand>) {
        let mut buf = vec![0u8; 2048];
        loop {
            let Some(timeout) = self.drain() else { return };
            let wait = tokio::time::sleep_until(timeout.into());
            let input = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => { self.on_command(command); continue; }
                    None => return,
                },
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => Some((n, source)),
                    Err(_) => None,
                },
                () = next_tick(&mut self.stream) => {
                    if let Some((_, make)) = &mut self.stream {
                        let payload = make();
                        self.write_audio(payload);
                    }
                    continue;
                }
                () = wait => None,
            };
            let now = Instant::now();
            let result = match input {
                Some((n, source)) => match DatagramRecv::try_from(&buf[..n]) {
                    Ok(contents) => self.rtc.handle_input(Input::Receive(
                        now,
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: self.local,
                            contents,
                        },
                    )),
                    Err(_) => continue,
                },
                None => self.rtc.handle_input(Input::Timeout(now)),
            };
            if result.is_err() {
                (self.on_event)(ClientEvent::Disconnected);
                return;
            }
        }
    }

    /// Sends and reports until str0m wants time; `None` once it is dead.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(event)) => self.on_event(event),
                Err(_) => {
                    (self.on_event)(ClientEvent::Disconnected);
                    return None;
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        let out = match event {
            Event::Connected => ClientEvent::Connected,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                ClientEvent::Disconnected
            }
            Event::MediaData(data) => {
                if Some(data.mid) == self.video {
                    ClientEvent::Video { data: data.data }
                } else if let Some(line) = self.audio.iter().position(|m| *m == data.mid) {
                    ClientEvent::Audio {
                        line,
                        data: data.data,
                    }
                } else {
                    return;
                }
            }
            Event::KeyframeRequest(_) => ClientEvent::KeyframeRequested,
            _ => return,
        };
        (self.on_event)(out);
    }

    fn on_command(&mut self, command: ClientCommand) {
        match command {
            ClientCommand::Answer(sdp, reply) => {
                let result = match (SdpAnswer::from_sdp_string(&sdp), self.pending.take()) {
                    (Ok(answer), Some(pending)) => self
                        .rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| e.to_string()),
                    (Err(e), _) => Err(e.to_string()),
                    (_, None) => Err("answer already applied".into()),
                };
                let _ = reply.send(result);
            }
            ClientCommand::Audio(payload) => self.write_audio(payload),
            ClientCommand::Video(payload) => {
                let Some(mid) = self.video else { return };
                self.video_time += 3000;
                let time = MediaTime::new(self.video_time, Frequency::NINETY_KHZ);
                self.write(mid, time, payload);
            }
            ClientCommand::RequestKeyframe => {
                if let Some(mut writer) = self.video.and_then(|mid| self.rtc.writer(mid)) {
                    let _ = writer.request_keyframe(None, KeyframeRequestKind::Pli);
                }
            }
            ClientCommand::Stream(every, make) => {
                let mut interval = tokio::time::interval(every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                self.stream = Some((interval, make));
            }
        }
    }

    fn write_audio(&mut self, payload: Vec<u8>) {
        let Some(&mid) = self.audio.first() else {
            return;
        };
        self.audio_time += 960;
        let time = MediaTime::new(self.audio_time, Frequency::FORTY_EIGHT_KHZ);
        self.write(mid, time, payload);
    }

    fn write(&mut self, mid: Mid, time: MediaTime, payload: Vec<u8>) {
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .next()
            .map(str0m::format::PayloadParams::pt)
        else {
            return;
        };
        let _ = writer.write(pt, Instant::now(), time, payload);
    }
}

/// G.711 encoding of `pcm`, for tests that play a phone.
pub fn g711_encode(codec: super::G711, pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pcm.len());
    super::rtp::g711_encode(codec, pcm, &mut out);
    out
}

/// G.711 decoding of `payload`, for tests that play a phone.
pub fn g711_decode(codec: super::G711, payload: &[u8]) -> Vec<i16> {
    let mut pcm = Vec::with_capacity(payload.len());
    super::rtp::g711_decode(codec, payload, &mut pcm);
    pcm
}
