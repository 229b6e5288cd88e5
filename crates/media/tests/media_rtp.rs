//! RTP legs (phones on SIP trunks) bridged to browsers, with real UDP
//! sockets on 127.0.0.1. A test client (str0m) plays the browser and sends
//! a real Opus tone; an in-test "phone" sends a G.711 tone paced by a tokio
//! interval. Each side must hear the other's tone (Goertzel over 20 ms
//! windows) and never its own. Every wait is on a condition with a deadline.

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use media::{
    Call, G711, LegId, LegRole, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaEventKind,
    RtpError, RtpPeer, RtpSourcePolicy,
    testclient::{self, AudioProbe, ClientEvent, Shape, TestClient},
};
use support::tone::{self, Detector};
use tokio::{net::UdpSocket, sync::mpsc, task::JoinHandle, time::timeout};

/// Longest any condition may take to come true.
const WAIT: Duration = Duration::from_secs(10);
const BROWSER_HZ: f32 = 440.0;
const PHONE_HZ: f32 = 1000.0;
const STRANGER_HZ: f32 = 2000.0;
const DTMF_PT: u8 = 101;
/// Consecutive 20 ms windows that make a tone heard.
const WINDOWS: usize = 5;
/// The most any window may have of a tone that must not be heard.
const NOT_HEARD: f32 = 0.2;

fn config(connect_timeout: Duration) -> MediaConfig {
    MediaConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        announce: "127.0.0.1".parse().unwrap(),
        connect_timeout,
        rtp_ports: (0, 0),
        rtp_source: RtpSourcePolicy::default(),
    }
}

async fn call(connect_timeout: Duration) -> (MediaEngine, Call, mpsc::Receiver<MediaEvent>) {
    call_with(config(connect_timeout)).await
}

async fn call_with(config: MediaConfig) -> (MediaEngine, Call, mpsc::Receiver<MediaEvent>) {
    let engine = MediaEngine::start(config).await.expect("engine starts");
    let (tx, rx) = mpsc::channel(64);
    let call = engine.call(media::CallTag(7), tx);
    (engine, call, rx)
}

async fn media_event(
    events: &mut mpsc::Receiver<MediaEvent>,
    want: impl Fn(&MediaEventKind) -> bool,
) -> MediaEventKind {
    timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("call alive");
            if want(&event.kind) {
                return event.kind;
            }
        }
    })
    .await
    .expect("media event in time")
}

/// A browser sending a 440 Hz Opus tone.
struct Browser {
    /// Kept: dropping it ends the peer.
    _client: TestClient,
    events: mpsc::Receiver<ClientEvent>,
    probe: AudioProbe,
}

impl Browser {
    async fn join(call: &Call, role: LegRole) -> Self {
        let (client, offer, mut events) = TestClient::with_channel(Shape::Party { video: false })
            .await
            .unwrap();
        let (_, answer) = call.add_webrtc(role, &offer).await.expect("offer accepted");
        client.accept_answer(&answer).await.unwrap();
        timeout(WAIT, async {
            while !matches!(events.recv().await, Some(ClientEvent::Connected)) {}
        })
        .await
        .expect("browser connects");
        client
            .stream_audio(
                Duration::from_millis(20),
                testclient::looping(testclient::opus_tone(BROWSER_HZ, 50)),
            )
            .await;
        Self {
            _client: client,
            events,
            probe: AudioProbe::default(),
        }
    }

    /// Waits until `hz` is heard; returns the loudest `not_hz` was.
    async fn hears(&mut self, hz: f32, not_hz: f32) -> f32 {
        let mut detector = Detector::new(hz, not_hz, WINDOWS);
        timeout(WAIT, async {
            loop {
                if let Some(ClientEvent::Audio { data, .. }) = self.events.recv().await
                    && detector.push(&self.probe.decode(&data))
                {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("browser did not hear {hz} Hz"));
        detector.other_max
    }

    /// Audio frames received within `span` (an observation window: what
    /// must not arrive cannot be waited for).
    async fn frames_within(&mut self, span: Duration) -> usize {
        let mut frames = 0;
        let _ = timeout(span, async {
            while let Some(e) = self.events.recv().await {
                frames += usize::from(matches!(e, ClientEvent::Audio { .. }));
            }
        })
        .await;
        frames
    }
}

/// Our side of a phone's RTP stream.
struct Stream {
    codec: G711,
    pt: u8,
    ssrc: u32,
}

fn rtp_header(marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, u8::from(marker) << 7 | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

fn pt_of(codec: G711) -> u8 {
    match codec {
        G711::Pcmu => 0,
        G711::Pcma => 8,
    }
}

/// A phone: one UDP socket, a task sending a tone, and the test reading
/// what comes back.
struct Phone {
    socket: Arc<UdpSocket>,
    sender: Option<JoinHandle<()>>,
}

impl Drop for Phone {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.abort();
        }
    }
}

impl Phone {
    async fn new() -> Self {
        Self {
            socket: Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()),
            sender: None,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn peer(&self, codec: G711) -> RtpPeer {
        RtpPeer {
            addr: self.addr(),
            codec,
            payload_type: pt_of(codec),
            dtmf_payload_type: Some(DTMF_PT),
        }
    }

    /// Sends a tone to `to` in 20 ms packets, skipping every `drop_every`th.
    fn play(&mut self, to: SocketAddr, codec: G711, hz: f32, drop_every: Option<u64>) {
        let socket = Arc::clone(&self.socket);
        let stream = Stream {
            codec,
            pt: pt_of(codec),
            ssrc: rand::random(),
        };
        self.sender = Some(tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(20));
            for n in 0u64.. {
                interval.tick().await;
                if drop_every.is_some_and(|d| n % d == d - 1) {
                    continue;
                }
                let start = (n * 160) as usize;
                let mut packet = rtp_header(n == 0, stream.pt, n as u16, start as u32, stream.ssrc);
                packet.extend(testclient::g711_encode(
                    stream.codec,
                    &tone::sine(hz, start, 160),
                ));
                let _ = socket.send_to(&packet, to).await;
            }
        }));
    }

    /// Waits until the phone hears `hz`; returns the loudest `not_hz` was.
    async fn hears(&self, codec: G711, hz: f32, not_hz: f32) -> f32 {
        let mut detector = Detector::new(hz, not_hz, WINDOWS);
        let mut buf = [0u8; 2048];
        timeout(WAIT, async {
            loop {
                let (n, _) = self.socket.recv_from(&mut buf).await.unwrap();
                if n > 12 && buf[1] & 0x7f == pt_of(codec) {
                    let pcm = testclient::g711_decode(codec, &buf[12..n]);
                    if detector.push(&pcm) {
                        return;
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("phone did not hear {hz} Hz"));
        detector.other_max
    }

    /// Audio packets received within `span`.
    async fn packets_within(&self, span: Duration) -> usize {
        let mut packets = 0;
        let mut buf = [0u8; 2048];
        let _ = timeout(span, async {
            loop {
                if self.socket.recv_from(&mut buf).await.is_ok() && buf[1] & 0x7f != DTMF_PT {
                    packets += 1;
                }
            }
        })
        .await;
        packets
    }

    /// Sends one RFC 4733 event (five tone packets, three ends) to `to`.
    async fn dial(&self, to: SocketAddr, code: u8, seq: &mut u16, ts: u32) {
        for i in 1..=8u16 {
            let end = i > 5;
            let duration = i.min(5) * 160;
            let mut packet = rtp_header(i == 1, DTMF_PT, *seq, ts, 0xd7f);
            packet.extend_from_slice(&[code, u8::from(end) << 7 | 0x0a]);
            packet.extend_from_slice(&duration.to_be_bytes());
            self.socket.send_to(&packet, to).await.unwrap();
            *seq = seq.wrapping_add(1);
            tokio::time::sleep(Duration::from_millis(if end { 2 } else { 20 })).await;
        }
    }

    /// RFC 4733 events received (once per event timestamp), until `count`.
    async fn digits(&self, count: usize) -> Vec<u8> {
        let mut digits = Vec::new();
        let mut last_ts = None;
        let mut buf = [0u8; 2048];
        timeout(WAIT, async {
            while digits.len() < count {
                let (n, _) = self.socket.recv_from(&mut buf).await.unwrap();
                if n < 16 || buf[1] & 0x7f != DTMF_PT {
                    continue;
                }
                let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                if buf[13] & 0x80 != 0 && last_ts != Some(ts) {
                    last_ts = Some(ts);
                    digits.push(buf[12]);
                }
            }
        })
        .await
        .expect("digits in time");
        digits
    }
}

/// A call with a browser and a phone sending their tones, both connected.
struct Bridged {
    engine: MediaEngine,
    call: Call,
    events: mpsc::Receiver<MediaEvent>,
    browser: Browser,
    phone: Phone,
    leg: LegId,
    local: SocketAddr,
    codec: G711,
}

async fn bridged(codec: G711, phone_role: LegRole, drop_every: Option<u64>) -> Bridged {
    let phone = Phone::new().await;
    let peer = phone.peer(codec);
    bridged_with(config(WAIT), phone, peer, phone_role, drop_every).await
}

/// A call on an engine set up by `config`: the phone's SDP says `peer`.
async fn bridged_with(
    config: MediaConfig,
    mut phone: Phone,
    peer: RtpPeer,
    phone_role: LegRole,
    drop_every: Option<u64>,
) -> Bridged {
    let codec = peer.codec;
    let (engine, call, mut events) = call_with(config).await;
    let browser_role = if phone_role == LegRole::Agent {
        LegRole::Visitor
    } else {
        LegRole::Agent
    };
    let browser = Browser::join(&call, browser_role).await;
    let (leg, local) = call.add_rtp(phone_role).await.expect("rtp leg");
    call.set_rtp_peer(leg, peer).await.unwrap();
    phone.play(local, codec, PHONE_HZ, drop_every);
    let connected = media_event(
        &mut events,
        |e| matches!(e, MediaEventKind::Connected { leg: l, .. } if *l == leg),
    )
    .await;
    assert!(matches!(connected, MediaEventKind::Connected { role, .. } if role == phone_role));
    Bridged {
        engine,
        call,
        events,
        browser,
        phone,
        leg,
        local,
        codec,
    }
}

async fn both_hear_each_other(b: &mut Bridged) {
    let own = b.browser.hears(PHONE_HZ, BROWSER_HZ).await;
    assert!(own < NOT_HEARD, "browser heard its own tone: {own}");
    let own = b.phone.hears(b.codec, BROWSER_HZ, PHONE_HZ).await;
    assert!(own < NOT_HEARD, "phone heard its own tone: {own}");
}

#[tokio::test]
async fn browser_and_pcmu_phone_hear_each_other() {
    let mut b = bridged(G711::Pcmu, LegRole::Agent, None).await;
    both_hear_each_other(&mut b).await;
    let stats = b.call.stats().await.unwrap();
    let phone = stats.iter().find(|s| s.leg == b.leg).unwrap();
    assert!(
        phone.connected && phone.frames_in > 0 && phone.frames_out > 0,
        "{phone:?}"
    );
}

#[tokio::test]
async fn browser_and_pcma_phone_hear_each_other() {
    // The phone calls in: it is the visitor, the agent is in a browser.
    let mut b = bridged(G711::Pcma, LegRole::Visitor, None).await;
    both_hear_each_other(&mut b).await;
}

#[tokio::test]
async fn a_second_source_is_not_heard() {
    let mut b = bridged(G711::Pcmu, LegRole::Agent, None).await;
    b.browser.hears(PHONE_HZ, BROWSER_HZ).await;
    let before = b.engine.dropped_packets();
    let mut stranger = Phone::new().await;
    stranger.play(b.local, G711::Pcmu, STRANGER_HZ, None);
    dropped_at_least(&b.engine, before, 10).await;
    // A second of the call after that: the phone's tone, never the stranger's.
    browser_hears_only_the_phone(&mut b, STRANGER_HZ).await;
}

#[tokio::test]
async fn dtmf_goes_both_ways_as_rfc_4733_events() {
    let (_engine, call, mut events) = call(Duration::from_secs(10)).await;
    let _browser = Browser::join(&call, LegRole::Visitor).await;
    let (leg, local) = call.add_rtp(LegRole::Agent).await.unwrap();
    let phone = Phone::new().await;
    call.set_rtp_peer(leg, phone.peer(G711::Pcmu))
        .await
        .unwrap();
    let mut seq = 1;
    for (i, code) in [10u8, 7, 6].into_iter().enumerate() {
        phone
            .dial(local, code, &mut seq, 8000 * (i as u32 + 1))
            .await;
    }
    let mut digits = Vec::new();
    while digits.len() < 3 {
        if let MediaEventKind::Dtmf {
            leg: l,
            role,
            digit,
        } = media_event(&mut events, |e| matches!(e, MediaEventKind::Dtmf { .. })).await
        {
            assert_eq!((l, role), (leg, LegRole::Agent));
            digits.push(digit);
        }
    }
    assert_eq!(digits, ['*', '7', '6']);

    call.send_dtmf(leg, "12".into()).await.unwrap();
    assert_eq!(phone.digits(2).await, [1, 2]);
    let bad = call.send_dtmf(leg, "1x".into()).await;
    assert!(
        matches!(bad, Err(MediaError::Rtp(RtpError::BadDigit('x')))),
        "{bad:?}"
    );

    // A phone that negotiated no telephone-event gets no digits.
    let mut peer = phone.peer(G711::Pcmu);
    peer.dtmf_payload_type = None;
    call.set_rtp_peer(leg, peer).await.unwrap();
    let refused = call.send_dtmf(leg, "1".into()).await;
    assert!(
        matches!(refused, Err(MediaError::Rtp(RtpError::NoTelephoneEvent))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn every_fifth_packet_lost_is_concealed() {
    let mut b = bridged(G711::Pcmu, LegRole::Agent, Some(5)).await;
    both_hear_each_other(&mut b).await;
    let stats = b.call.stats().await.unwrap();
    assert!(stats.iter().any(|s| s.leg == b.leg && s.connected));
}

#[tokio::test]
async fn hold_silences_both_ways_until_resumed() {
    let mut b = bridged(G711::Pcma, LegRole::Agent, None).await;
    both_hear_each_other(&mut b).await;
    b.call.set_hold(true).await;
    // Frames already on their way may still land; then nothing.
    b.browser.frames_within(Duration::from_millis(100)).await;
    b.phone.packets_within(Duration::from_millis(100)).await;
    assert_eq!(b.browser.frames_within(Duration::from_millis(500)).await, 0);
    assert_eq!(b.phone.packets_within(Duration::from_millis(500)).await, 0);
    b.call.set_hold(false).await;
    both_hear_each_other(&mut b).await;
}

/// Datagrams no RTP or RTCP parser should take.
fn garbage() -> Vec<Vec<u8>> {
    let mut huge_csrc = vec![0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    huge_csrc.extend_from_slice(&[0; 8]);
    let mut padding = rtp_header(false, 0, 9, 9, 9);
    padding[0] |= 0x20;
    padding.extend_from_slice(&[0xff, 0xff, 250]);
    let mut extension = rtp_header(false, 0, 9, 9, 9);
    extension[0] |= 0x10;
    extension.extend_from_slice(&[0xbe, 0xde, 0xff, 0xff]);
    vec![
        vec![],
        vec![0x80],
        vec![0x80; 11],
        vec![0x40; 40],                    // RTP version 1
        huge_csrc,                         // 15 CSRCs claimed
        padding,                           // padding beyond the packet
        extension,                         // extension beyond the packet
        rtp_header(false, 99, 9, 9, 9),    // unknown payload type
        vec![0x80, 200, 0xff, 0xff, 0, 0], // RTCP longer than sent
        vec![0x81, 201, 0, 7, 1, 2, 3],    // RTCP truncated
        vec![0x00, 200, 0, 1, 0, 0, 0, 0], // RTCP version 0
        (0..=255).collect(),
    ]
}

#[tokio::test]
async fn malformed_datagrams_are_dropped_and_the_leg_goes_on() {
    let mut b = bridged(G711::Pcmu, LegRole::Agent, None).await;
    both_hear_each_other(&mut b).await;
    let rtcp = SocketAddr::new(b.local.ip(), b.local.port() + 1);
    for datagram in garbage() {
        for to in [b.local, rtcp] {
            b.phone.socket.send_to(&datagram, to).await.unwrap();
        }
    }
    both_hear_each_other(&mut b).await;
    let stats = b.call.stats().await.unwrap();
    assert!(stats.iter().any(|s| s.leg == b.leg && s.connected));
    assert!(b.events.try_recv().is_err(), "no leg failed");
}

#[tokio::test]
async fn a_phone_that_never_sends_fails_after_the_connect_timeout() {
    let (_engine, call, mut events) = call(Duration::from_millis(300)).await;
    let (leg, _) = call.add_rtp(LegRole::Visitor).await.unwrap();
    let silent = Phone::new().await;
    call.set_rtp_peer(leg, silent.peer(G711::Pcmu))
        .await
        .unwrap();
    let failed = media_event(&mut events, |e| {
        matches!(e, MediaEventKind::LegFailed { .. })
    })
    .await;
    assert!(
        matches!(failed, MediaEventKind::LegFailed { leg: l, role: LegRole::Visitor, .. } if l == leg)
    );
    // Failed legs are freed.
    timeout(WAIT, async {
        while !call.stats().await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("failed leg removed");
}

#[tokio::test]
async fn rtp_calls_refuse_what_they_cannot_do() {
    let (_engine, call, _events) = call(Duration::from_secs(10)).await;
    let phone = Phone::new().await;
    let unknown = call
        .set_rtp_peer(LegId(999_999), phone.peer(G711::Pcmu))
        .await;
    assert!(
        matches!(unknown, Err(MediaError::Rtp(RtpError::NoSuchLeg))),
        "{unknown:?}"
    );
    let browser = Browser::join(&call, LegRole::Visitor).await;
    let stats = call.stats().await.unwrap();
    let webrtc = stats[0].leg;
    let not_rtp = call.send_dtmf(webrtc, "1".into()).await;
    assert!(
        matches!(not_rtp, Err(MediaError::Rtp(RtpError::NotRtp))),
        "{not_rtp:?}"
    );
    drop(browser);
}

/// The phone's tone is heard for a second on end (50 windows in a row)
/// and `other` never is.
async fn browser_hears_only_the_phone(b: &mut Bridged, other: f32) {
    let mut detector = Detector::new(PHONE_HZ, other, 50);
    timeout(WAIT, async {
        loop {
            if let Some(ClientEvent::Audio { data, .. }) = b.browser.events.recv().await
                && detector.push(&b.browser.probe.decode(&data))
            {
                return;
            }
        }
    })
    .await
    .expect("the phone is heard throughout");
    assert!(
        detector.other_max < NOT_HEARD,
        "another source heard: {}",
        detector.other_max
    );
}

/// Waits until the engine has dropped `n` more datagrams than `before`.
async fn dropped_at_least(engine: &MediaEngine, before: u64, n: u64) {
    timeout(WAIT, async {
        while engine.dropped_packets() < before + n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} datagrams dropped"));
}

/// A stranger on another port of the phone's own IP sending, every 20 ms,
/// a well-formed µ-law stream (its own tone, one SSRC, sequence numbers in
/// a row) to every port in `ports`, and garbage every fifth time.
fn spray(ports: std::ops::RangeInclusive<u16>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let garbage = garbage();
        let mut interval = tokio::time::interval(Duration::from_millis(20));
        for n in 0u32.. {
            interval.tick().await;
            let start = n as usize * 160;
            let mut packet = rtp_header(n == 0, 0, n as u16, start as u32, 0x5eed);
            packet.extend(testclient::g711_encode(
                G711::Pcmu,
                &tone::sine(STRANGER_HZ, start, 160),
            ));
            for port in ports.clone() {
                let to = SocketAddr::from(([127, 0, 0, 1], port));
                let _ = socket.send_to(&packet, to).await;
                if n % 5 == 0 {
                    let junk = &garbage[n as usize / 5 % garbage.len()];
                    let _ = socket.send_to(junk, to).await;
                }
            }
        }
    })
}

/// Aborts a task when dropped (a failed assertion stops the spray too).
struct Abort(JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn packets_sprayed_over_the_port_range_change_nothing_the_agent_hears() {
    // A recorder for this test's process, if no other test has set one
    // (nextest runs each test in its own process).
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let counted = metrics::set_global_recorder(recorder).is_ok();

    let ports = 45_000..=45_039;
    // The spray starts before the leg exists and goes on all call long.
    let _spray = Abort(spray(ports.clone()));
    let mut config = config(WAIT);
    config.rtp_ports = (*ports.start(), *ports.end());
    let phone = Phone::new().await;
    let peer = phone.peer(G711::Pcmu);
    // The phone calls in; the agent is in a browser.
    let mut b = bridged_with(config, phone, peer, LegRole::Visitor, None).await;
    assert!(ports.contains(&b.local.port()), "{}", b.local);
    let before = b.engine.dropped_packets();
    dropped_at_least(&b.engine, before, 100).await;
    browser_hears_only_the_phone(&mut b, STRANGER_HZ).await;
    let own = b.phone.hears(G711::Pcmu, BROWSER_HZ, PHONE_HZ).await;
    assert!(own < NOT_HEARD, "phone heard its own tone: {own}");
    let stats = b.call.stats().await.unwrap();
    assert!(stats.iter().all(|s| s.connected), "{stats:?}");
    assert!(b.events.try_recv().is_err(), "no leg failed");
    if counted {
        let text = metrics.render();
        let foreign = text
            .lines()
            .find(|l| l.starts_with(r#"media_packets_dropped_total{reason="rtp_foreign_source"}"#))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or_default();
        assert!(foreign >= 100.0, "{text}");
    }
}

#[tokio::test]
async fn latching_takes_a_phone_behind_nat_and_no_one_after() {
    let mut config = config(WAIT);
    config.rtp_source = RtpSourcePolicy::Latch;
    // The SDP names the phone's IP but not the port it sends from (a NAT
    // changed it): the first valid packet from that IP latches.
    let phone = Phone::new().await;
    let mut peer = phone.peer(G711::Pcma);
    peer.addr.set_port(9);
    let mut b = bridged_with(config, phone, peer, LegRole::Agent, None).await;
    // Symmetric RTP: the phone hears the browser at its real port.
    both_hear_each_other(&mut b).await;
    let before = b.engine.dropped_packets();
    let _spray = Abort(spray(b.local.port()..=b.local.port() + 1));
    dropped_at_least(&b.engine, before, 50).await;
    browser_hears_only_the_phone(&mut b, STRANGER_HZ).await;
}

#[tokio::test]
async fn latching_on_a_private_sdp_address_takes_the_phone_after_a_run_of_packets() {
    let mut config = config(WAIT);
    config.rtp_source = RtpSourcePolicy::Latch;
    // The phone knows only its address behind the NAT.
    let phone = Phone::new().await;
    let mut peer = phone.peer(G711::Pcmu);
    peer.addr = "192.168.1.10:4000".parse().unwrap();
    let mut b = bridged_with(config, phone, peer, LegRole::Agent, None).await;
    both_hear_each_other(&mut b).await;
    // Latched: a stranger's well-formed stream is never heard.
    let before = b.engine.dropped_packets();
    let _spray = Abort(spray(b.local.port()..=b.local.port() + 1));
    dropped_at_least(&b.engine, before, 50).await;
    browser_hears_only_the_phone(&mut b, STRANGER_HZ).await;
}
