//! The media engine with real sockets on 127.0.0.1. In-process str0m peers
//! (`media::testclient`) play the browsers; every wait is on a condition
//! with a deadline.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use media::{
    Call, LegId, LegRole, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaEventKind,
    testclient::{ClientEvent, Shape, TestClient},
};
use tokio::{sync::mpsc, time::timeout};

/// Longest any condition may take to come true.
const WAIT: Duration = Duration::from_secs(10);

async fn engine(connect_timeout: Duration) -> MediaEngine {
    MediaEngine::start(MediaConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        announce: "127.0.0.1".parse().unwrap(),
        connect_timeout,
        rtp_ports: (0, 0),
        rtp_source: media::RtpSourcePolicy::default(),
    })
    .await
    .expect("engine starts")
}

/// An engine, one call on it, and the call's event channel.
async fn call() -> (MediaEngine, Call, mpsc::Receiver<MediaEvent>) {
    let engine = engine(Duration::from_secs(10)).await;
    let (tx, rx) = mpsc::channel(64);
    let call = engine.call(media::CallTag(42), tx);
    (engine, call, rx)
}

/// A browser played by a test client.
struct Peer {
    client: TestClient,
    events: mpsc::Receiver<ClientEvent>,
    leg: LegId,
}

/// Offers, gets answered, and waits until the peer is connected.
async fn join(call: &Call, role: LegRole, shape: Shape) -> Peer {
    let (client, offer, events) = TestClient::with_channel(shape).await.unwrap();
    let (leg, answer) = call.add_webrtc(role, &offer).await.expect("offer accepted");
    client
        .accept_answer(&answer)
        .await
        .expect("answer accepted");
    let mut peer = Peer {
        client,
        events,
        leg,
    };
    peer.expect(|e| matches!(e, ClientEvent::Connected)).await;
    peer
}

impl Peer {
    /// Waits for the first event `want` accepts; earlier ones are skipped.
    async fn expect(&mut self, want: impl Fn(&ClientEvent) -> bool) -> ClientEvent {
        timeout(WAIT, async {
            loop {
                let event = self.events.recv().await.expect("peer alive");
                if want(&event) {
                    return event;
                }
            }
        })
        .await
        .expect("event in time")
    }

    /// Audio frames on `line`, up to and including the first one equal to
    /// `last`.
    async fn audio_until(&mut self, line: usize, last: &[u8]) -> Vec<Vec<u8>> {
        self.audio_lines_until(&[(line, last)]).await.remove(0)
    }

    /// Audio frames per wanted line, each up to and including its `last`.
    async fn audio_lines_until(&mut self, want: &[(usize, &[u8])]) -> Vec<Vec<Vec<u8>>> {
        let mut lines = vec![Vec::new(); want.len()];
        let mut done = vec![false; want.len()];
        timeout(WAIT, async {
            while done.contains(&false) {
                let event = self.events.recv().await.expect("peer alive");
                if let ClientEvent::Audio { line, data } = event
                    && let Some(i) = want.iter().position(|(l, _)| *l == line)
                    && !done[i]
                {
                    done[i] = &data[..] == want[i].1;
                    lines[i].push(data.to_vec());
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("not every line's last frame in time: {done:?}"));
        lines
    }

    /// Audio frames already received (nothing is waited for).
    fn audio_so_far(&mut self) -> Vec<(usize, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            if let ClientEvent::Audio { line, data } = event {
                frames.push((line, data.to_vec()));
            }
        }
        frames
    }

    /// Sends frames 20 ms of media time apart, paced 2 ms apart on the wire.
    async fn send_audio(&self, frames: &[Vec<u8>]) {
        for frame in frames {
            self.client.send_audio(frame.clone()).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Opus-looking frames: a CELT 20 ms TOC byte, then `tag`, the index, filler.
fn frames(tag: u8, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut f = vec![0xf8, tag, (i >> 8) as u8, i as u8];
            f.resize(80, tag ^ i as u8);
            f
        })
        .collect()
}

async fn media_event(
    events: &mut mpsc::Receiver<MediaEvent>,
    want: impl Fn(&MediaEventKind) -> bool,
) -> MediaEventKind {
    timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("call alive");
            assert_eq!(event.tag, media::CallTag(42));
            if want(&event.kind) {
                return event.kind;
            }
        }
    })
    .await
    .expect("media event in time")
}

/// Waits until the call task has received `count` frames on `leg`.
async fn frames_in(call: &Call, leg: LegId, count: u64) {
    timeout(WAIT, async {
        loop {
            let stats = call.stats().await.unwrap();
            if stats.iter().any(|s| s.leg == leg && s.frames_in >= count) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("frames reached the engine");
}

#[tokio::test]
async fn audio_flows_both_ways_byte_identical_and_in_order() {
    let (_engine, call, mut events) = call().await;
    let mut visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let mut connected = Vec::new();
    for _ in 0..2 {
        if let MediaEventKind::Connected { leg, role } = media_event(&mut events, |k| {
            matches!(k, MediaEventKind::Connected { .. })
        })
        .await
        {
            connected.push((leg, role));
        }
    }
    connected.sort_by_key(|(leg, _)| leg.0);
    assert_eq!(
        connected,
        vec![(visitor.leg, LegRole::Visitor), (agent.leg, LegRole::Agent)]
    );

    let sent = frames(1, 50);
    visitor.send_audio(&sent).await;
    assert_eq!(agent.audio_until(0, sent.last().unwrap()).await, sent);

    let back = frames(2, 50);
    agent.send_audio(&back).await;
    assert_eq!(visitor.audio_until(0, back.last().unwrap()).await, back);
}

#[tokio::test]
async fn hold_stops_media_both_ways_until_resumed() {
    let (_engine, call, _events) = call().await;
    let mut visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: false }).await;

    let before = frames(1, 5);
    visitor.send_audio(&before).await;
    assert_eq!(agent.audio_until(0, before.last().unwrap()).await, before);

    call.set_hold(true).await;
    let held = frames(2, 10);
    visitor.send_audio(&held).await;
    agent.send_audio(&frames(3, 10)).await;
    // Proof the held frames reached the engine before the call resumes.
    frames_in(&call, visitor.leg, 15).await;
    frames_in(&call, agent.leg, 10).await;
    call.set_hold(false).await;

    let after = frames(4, 5);
    visitor.send_audio(&after).await;
    assert_eq!(
        agent.audio_until(0, after.last().unwrap()).await,
        after,
        "held frames never arrive"
    );
    let back = frames(5, 5);
    agent.send_audio(&back).await;
    assert_eq!(
        visitor.audio_until(0, back.last().unwrap()).await,
        back,
        "held frames never arrive"
    );
}

/// A VP8 keyframe as the packetizer sees it: frame tag with the key bit
/// clear, the start code, then `size` bytes in all (several RTP packets).
fn vp8_frame(index: usize, size: usize) -> Vec<u8> {
    let mut frame = vec![
        0x50,
        0x01,
        0x00,
        0x9d,
        0x01,
        0x2a,
        0x80,
        0x02,
        0xe0,
        0x01,
        index as u8,
    ];
    frame.resize(size, index as u8);
    frame
}

#[tokio::test]
async fn video_is_forwarded_and_keyframe_requests_reach_the_sender() {
    let (_engine, call, _events) = call().await;
    let mut visitor = join(&call, LegRole::Visitor, Shape::Party { video: true }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: true }).await;

    let sent: Vec<Vec<u8>> = (0..10).map(|i| vp8_frame(i, 3000)).collect();
    for frame in &sent {
        visitor.client.send_video(frame.clone()).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut got = Vec::new();
    timeout(WAIT, async {
        while got.len() < sent.len() {
            if let Some(ClientEvent::Video { data }) = agent.events.recv().await {
                got.push(data.to_vec());
            }
        }
    })
    .await
    .expect("video frames in time");
    assert_eq!(got, sent);

    // Requests made when the agent joined are behind us; a new one from the
    // agent must reach the visitor.
    frames_in(&call, visitor.leg, 10).await;
    while visitor.events.try_recv().is_ok() {}
    agent.client.request_keyframe().await;
    visitor
        .expect(|e| matches!(e, ClientEvent::KeyframeRequested))
        .await;
}

/// An H.264 access unit in Annex B form: a start code and one IDR slice NAL.
fn h264_frame(index: usize, size: usize) -> Vec<u8> {
    let mut frame = vec![0, 0, 0, 1, 0x65, 0x88, 0x84, index as u8];
    frame.resize(size, 0x40 | (index as u8 & 0x3f));
    frame
}

/// Sends `sent` from one peer and collects as many video frames at the other.
async fn relay_video(from: &Peer, to: &mut Peer, sent: &[Vec<u8>]) -> Vec<Vec<u8>> {
    for frame in sent {
        from.client.send_video(frame.clone()).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut got = Vec::new();
    timeout(WAIT, async {
        while got.len() < sent.len() {
            if let Some(ClientEvent::Video { data }) = to.events.recv().await {
                got.push(data.to_vec());
            }
        }
    })
    .await
    .expect("video frames in time");
    got
}

#[tokio::test]
async fn h264_is_forwarded_when_both_parties_offer_only_h264() {
    let (_engine, call, _events) = call().await;
    let visitor = join(&call, LegRole::Visitor, Shape::H264Party).await;
    let mut agent = join(&call, LegRole::Agent, Shape::H264Party).await;
    let sent: Vec<Vec<u8>> = (0..5).map(|i| h264_frame(i, 3000)).collect();
    let got = relay_video(&visitor, &mut agent, &sent).await;
    assert_eq!(got, sent);
}

#[tokio::test]
async fn without_a_shared_video_codec_video_is_dropped_and_audio_goes_on() {
    let (_engine, call, _events) = call().await;
    let visitor = join(&call, LegRole::Visitor, Shape::H264Party).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: true }).await;
    for i in 0..5 {
        visitor.client.send_video(h264_frame(i, 1000)).await;
    }
    frames_in(&call, visitor.leg, 5).await;
    // The video reached the engine first; the audio sent after it arrives,
    // and nothing of the video does on the way.
    let spoken = frames(3, 5);
    visitor.send_audio(&spoken).await;
    let last = spoken.last().unwrap().clone();
    let mut heard = Vec::new();
    timeout(WAIT, async {
        loop {
            match agent.events.recv().await.expect("peer alive") {
                ClientEvent::Audio { data, .. } => {
                    heard.push(data.to_vec());
                    if *data == *last {
                        return;
                    }
                }
                ClientEvent::Video { .. } => panic!("H.264 video reached a VP8-only party"),
                _ => {}
            }
        }
    })
    .await
    .expect("the audio in time");
    assert_eq!(heard, spoken);
}

#[tokio::test]
async fn listeners_hear_both_parties_and_are_heard_by_no_one() {
    let (_engine, call, _events) = call().await;
    let mut visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let mut both = join(&call, LegRole::Listener, Shape::Listener { lines: 2 }).await;
    // A listener whose browser offers sendrecv: it hears the visitor on its
    // one line, and what it sends goes nowhere.
    let mut talker = join(&call, LegRole::Listener, Shape::Party { video: false }).await;

    let spoken = frames(9, 10);
    talker.send_audio(&spoken).await;
    frames_in(&call, talker.leg, 10).await;

    let from_visitor = frames(1, 10);
    let from_agent = frames(2, 10);
    visitor.send_audio(&from_visitor).await;
    agent.send_audio(&from_agent).await;
    let heard = both
        .audio_lines_until(&[
            (0, from_visitor.last().unwrap()),
            (1, from_agent.last().unwrap()),
        ])
        .await;
    assert_eq!(heard, vec![from_visitor.clone(), from_agent.clone()]);
    assert_eq!(
        talker.audio_until(0, from_visitor.last().unwrap()).await,
        from_visitor
    );
    assert_eq!(
        agent.audio_until(0, from_visitor.last().unwrap()).await,
        from_visitor
    );
    assert_eq!(
        visitor.audio_until(0, from_agent.last().unwrap()).await,
        from_agent
    );
    let stats = call.stats().await.unwrap();
    let talker_stats = stats.iter().find(|s| s.leg == talker.leg).unwrap();
    assert_eq!(talker_stats.frames_in, 10);
    for s in &stats {
        if s.role != LegRole::Listener {
            assert_eq!(
                s.frames_out, 10,
                "{:?} got exactly the other party's frames",
                s.role
            );
        }
    }
}

#[tokio::test]
async fn a_new_agent_leg_replaces_the_old_one() {
    let (_engine, call, _events) = call().await;
    let visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut first = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let before = frames(1, 5);
    visitor.send_audio(&before).await;
    assert_eq!(first.audio_until(0, before.last().unwrap()).await, before);

    let mut second = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let stats = call.stats().await.unwrap();
    assert!(
        stats.iter().all(|s| s.leg != first.leg),
        "the first agent leg is gone"
    );
    let after = frames(2, 10);
    visitor.send_audio(&after).await;
    assert_eq!(second.audio_until(0, after.last().unwrap()).await, after);
    assert!(
        first.audio_so_far().is_empty(),
        "nothing reaches the replaced agent"
    );
}

/// One Ogg page, checked.
struct Page {
    flags: u8,
    granule: u64,
    packets: Vec<Vec<u8>>,
}

/// The Ogg CRC (polynomial 0x04c11db7, MSB first, no reflection or XOR),
/// written here independently of the engine's.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn read_ogg(path: &Path) -> Vec<Page> {
    let bytes = std::fs::read(path).unwrap();
    let mut pages = Vec::new();
    let mut at = 0;
    let mut partial = Vec::new();
    while at < bytes.len() {
        let page = &bytes[at..];
        assert_eq!(&page[..4], b"OggS", "page at {at}");
        let segments = usize::from(page[26]);
        let lacing = &page[27..27 + segments];
        let body: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let len = 27 + segments + body;
        let mut zeroed = page[..len].to_vec();
        zeroed[22..26].fill(0);
        let stored = u32::from_le_bytes(page[22..26].try_into().unwrap());
        assert_eq!(ogg_crc(&zeroed), stored, "CRC of page at {at}");
        let mut packets = Vec::new();
        let mut data = &page[27 + segments..len];
        for &l in lacing {
            partial.extend_from_slice(&data[..usize::from(l)]);
            data = &data[usize::from(l)..];
            if l < 255 {
                packets.push(std::mem::take(&mut partial));
            }
        }
        pages.push(Page {
            flags: page[5],
            granule: u64::from_le_bytes(page[6..14].try_into().unwrap()),
            packets,
        });
        at += len;
    }
    pages
}

fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "switchboard-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ))
}

#[tokio::test]
async fn recording_writes_one_ogg_opus_file_per_party() {
    let (_engine, call, _events) = call().await;
    let mut visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let dir = scratch_dir("rec").join("nested");
    let files = call.record(dir.clone(), "call-7".into()).await.unwrap();
    assert_eq!(files.visitor, dir.join("call-7-visitor.ogg"));
    assert_eq!(files.agent, dir.join("call-7-agent.ogg"));

    // 60 visitor frames over about 1.2 s, so a page is written by time too.
    let from_visitor = frames(1, 60);
    for frame in &from_visitor {
        visitor.client.send_audio(frame.clone()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let from_agent = frames(2, 40);
    agent.send_audio(&from_agent).await;
    assert_eq!(
        agent
            .audio_until(0, from_visitor.last().unwrap())
            .await
            .len(),
        60
    );
    assert_eq!(
        visitor
            .audio_until(0, from_agent.last().unwrap())
            .await
            .len(),
        40
    );
    call.hangup().await;

    for (path, sent) in [(&files.visitor, &from_visitor), (&files.agent, &from_agent)] {
        let pages = read_ogg(path);
        assert!(pages.len() >= 3);
        assert_eq!(pages[0].flags, 0x02, "first page begins the stream");
        assert!(pages[0].packets[0].starts_with(b"OpusHead"));
        assert!(pages[1].packets[0].starts_with(b"OpusTags"));
        assert_eq!(
            pages.last().unwrap().flags & 0x04,
            0x04,
            "last page ends the stream"
        );
        let audio: Vec<Vec<u8>> = pages[2..].iter().flat_map(|p| p.packets.clone()).collect();
        assert_eq!(
            &audio,
            sent,
            "{} holds every packet in order",
            path.display()
        );
        let granules: Vec<u64> = pages[2..].iter().map(|p| p.granule).collect();
        assert!(
            granules.windows(2).all(|w| w[0] < w[1]),
            "granules increase: {granules:?}"
        );
        assert_eq!(*granules.last().unwrap(), 960 * sent.len() as u64);
    }
    assert!(
        read_ogg(&files.visitor).len() >= 4,
        "a 1.2 s recording spans pages"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());

    assert!(matches!(
        call.add_webrtc(LegRole::Visitor, "v=0").await,
        Err(MediaError::BadOffer(_) | MediaError::CallEnded)
    ));
    let (_client, offer, _rx) = TestClient::with_channel(Shape::Party { video: false })
        .await
        .unwrap();
    assert!(matches!(
        call.add_webrtc(LegRole::Visitor, &offer).await,
        Err(MediaError::CallEnded)
    ));
}

#[tokio::test]
async fn bad_offers_are_refused_and_the_call_goes_on() {
    let (_engine, call, _events) = call().await;
    let no_media = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    for bad in ["", "   ", "garbage", "v=0\r\nthis is not sdp", no_media] {
        match call.add_webrtc(LegRole::Visitor, bad).await {
            Err(MediaError::BadOffer(why)) => assert!(why.len() <= 100, "short message: {why}"),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
    // Every truncation of a real offer: refused or accepted, never a panic.
    let (_client, offer, _rx) = TestClient::with_channel(Shape::Party { video: true })
        .await
        .unwrap();
    for end in (0..offer.len()).step_by(13) {
        match call.add_webrtc(LegRole::Visitor, &offer[..end]).await {
            Ok(_) | Err(MediaError::BadOffer(_)) => {}
            Err(e) => panic!("truncated at {end}: {e}"),
        }
    }
    let visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let sent = frames(1, 5);
    visitor.send_audio(&sent).await;
    assert_eq!(agent.audio_until(0, sent.last().unwrap()).await, sent);
}

#[tokio::test]
async fn a_leg_that_never_connects_fails_after_the_connect_timeout() {
    let engine = engine(Duration::from_secs(1)).await;
    let (tx, mut events) = mpsc::channel(8);
    let call = engine.call(media::CallTag(42), tx);
    // The client never gets the answer, so it never starts ICE.
    let (_client, offer, _rx) = TestClient::with_channel(Shape::Party { video: false })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (leg, _answer) = call.add_webrtc(LegRole::Agent, &offer).await.unwrap();
    let failed = media_event(&mut events, |k| {
        matches!(k, MediaEventKind::LegFailed { .. })
    })
    .await;
    let MediaEventKind::LegFailed {
        leg: failed_leg,
        role,
        ..
    } = failed
    else {
        unreachable!()
    };
    assert_eq!((failed_leg, role), (leg, LegRole::Agent));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(call.stats().await.unwrap().is_empty(), "the leg is freed");
}

/// A STUN binding request naming `ufrag` with a made-up integrity.
fn forged_stun(ufrag: &str) -> Vec<u8> {
    let username = format!("{ufrag}:evil");
    let padded = username.len().div_ceil(4) * 4;
    let mut attrs = vec![0x00, 0x06];
    attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attrs.extend_from_slice(username.as_bytes());
    attrs.resize(4 + padded, 0);
    attrs.extend_from_slice(&[0x00, 0x08, 0x00, 20]);
    attrs.extend_from_slice(&[0xab; 20]);
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    msg.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    msg.extend_from_slice(&[7; 12]);
    msg.extend_from_slice(&attrs);
    msg
}

#[tokio::test]
async fn garbage_and_strangers_are_dropped_and_the_engine_goes_on() {
    let (engine, call, _events) = call().await;
    // A leg whose ufrag the forger knows (from the answer), never connected.
    let (_client, offer, _rx) = TestClient::with_channel(Shape::Party { video: false })
        .await
        .unwrap();
    let (_, answer) = call.add_webrtc(LegRole::Listener, &offer).await.unwrap();
    let ufrag = answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .trim()
        .to_owned();

    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to: SocketAddr = engine.local_addr();
    let datagrams: Vec<Vec<u8>> = vec![
        vec![],
        b"hello there".to_vec(),
        vec![0xff; 300],
        [&[0x80, 0x6f, 0, 1][..], &[0; 40]].concat(), // RTP from nobody
        [&[0x16, 0xfe, 0xfd][..], &[0; 40]].concat(), // DTLS from nobody
        forged_stun("nosuchufrag"),
        forged_stun(&ufrag),
    ];
    let before = engine.dropped_packets();
    for d in &datagrams {
        stranger.send_to(d, to).await.unwrap();
    }
    let expected = before + datagrams.len() as u64;
    timeout(WAIT, async {
        while engine.dropped_packets() < expected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every stray datagram counted as dropped");

    let visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    let mut agent = join(&call, LegRole::Agent, Shape::Party { video: false }).await;
    let sent = frames(1, 5);
    visitor.send_audio(&sent).await;
    assert_eq!(agent.audio_until(0, sent.last().unwrap()).await, sent);
    assert_eq!(
        engine.dropped_packets(),
        expected,
        "the real call lost nothing"
    );
}

#[tokio::test]
async fn dropping_every_handle_ends_the_call() {
    let (engine, call, _events) = call().await;
    let mut visitor = join(&call, LegRole::Visitor, Shape::Party { video: false }).await;
    drop(call);
    // The engine closes the leg: the browser side sees the connection end.
    visitor
        .expect(|e| matches!(e, ClientEvent::Disconnected))
        .await;
    drop(engine);
}
