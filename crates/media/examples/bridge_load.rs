//! Load tool: bridged calls (browser Opus <-> phone PCMU) per core.
//!
//! Runs the media engine on its own thread (a current-thread tokio runtime)
//! and `N` calls through it. In each, an in-process str0m peer plays the
//! browser (a visitor streaming a real Opus 440 Hz tone, 20 ms frames) and
//! an in-process phone plays the agent on a SIP trunk (a UDP socket sending
//! a PCMU 1000 Hz tone every 20 ms). Every frame crosses the engine's
//! transcoder: G.711 decode + Opus encode one way, Opus decode + G.711
//! encode the other. Peers and phones run on the main thread's runtime.
//!
//! Both tones are loud for 200 ms of every 500 ms and 26 dB quieter the
//! rest (the codecs work on a tone all the time). After a warm-up it
//! measures for `S` seconds:
//!
//! * the engine thread's CPU (`/proc/<pid>/task/<tid>/schedstat`), and the
//!   load generator's (the main thread), with how late the phones' 20 ms
//!   sends were: a starved generator shows there, not in the engine;
//! * frames each side sent and the other received. Phone to browser, the
//!   frames the engine made up for missing packets (concealment) are not
//!   counted as received: they are the engine's losses, not the phone's
//!   audio. The engine's playout counters (`media_rtp_playout_total`) say
//!   where frames went;
//! * latency each way: from a sender putting the first loud frame of a
//!   burst on the wire to the receiver hearing the burst (the first loud
//!   sample of the frame it decodes, counted from that frame's arrival).
//!   That is the engine's part of mouth-to-ear: the sender's 20 ms of
//!   packetization and the receiver's playout buffer come on top.
//!
//! ```text
//! cargo run --release -p switchboard --example bridge_load -- --calls 100 --seconds 10
//! ```

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use media::{
    Call, G711, LegRole, RtpPeer,
    testclient::{self, AudioProbe, ClientEvent, Shape, TestClient},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::{net::UdpSocket, sync::mpsc};

use self::common::{engine_thread, this_thread, thread_cpu_ns};

const FRAME: Duration = Duration::from_millis(20);
const SETUP_BATCH: usize = 25;
/// The loudness pattern both sides play: `BURST` loud frames in every
/// `PERIOD` (500 ms), quiet ones in between.
const PERIOD: u64 = 25;
const BURST: u64 = 10;
const LOUD: f32 = 8000.0;
const QUIET: f32 = 400.0;
/// A sample this loud is in a burst; the quiet tone peaks well below it.
const THRESHOLD: u16 = 2500;
/// Quiet frames heard before a loud one makes it a burst's onset.
const QUIET_BEFORE_ONSET: u32 = 3;
/// Sample rate both listeners decode at.
const RATE: u64 = 8000;

/// One direction of one call: when the sender's last burst began.
#[derive(Default)]
struct Onset {
    /// Nanoseconds since the epoch; 0 before the first burst.
    sent_ns: AtomicU64,
}

/// A listener's view of the pattern: how many quiet frames it has heard in
/// a row.
#[derive(Default)]
struct Ear {
    quiet: u32,
}

impl Ear {
    /// Takes one decoded frame (8 kHz) that arrived at `arrived_ns`;
    /// returns when its burst onset was heard, if it has one.
    fn hear(&mut self, pcm: &[i16], arrived_ns: u64) -> Option<u64> {
        let loud = pcm.iter().position(|s| s.unsigned_abs() >= THRESHOLD);
        let onset = (self.quiet >= QUIET_BEFORE_ONSET)
            .then_some(loud)
            .flatten()
            .map(|i| arrived_ns + i as u64 * 1_000_000_000 / RATE);
        self.quiet = if loud.is_some() { 0 } else { self.quiet + 1 };
        onset
    }
}

#[derive(Default)]
struct Latencies {
    /// Microseconds, onset by onset.
    samples: Mutex<Vec<u32>>,
    /// Onsets heard that no burst in the last period explains.
    unmatched: AtomicU64,
}

struct Tally {
    epoch: Instant,
    measuring: AtomicBool,
    connected: AtomicUsize,
    browser_sent: AtomicU64,
    browser_received: AtomicU64,
    phone_sent: AtomicU64,
    phone_received: AtomicU64,
    /// How late the phones' sends were, µs.
    phone_late_us: Mutex<Vec<u32>>,
    to_browser: Latencies,
    to_phone: Latencies,
}

impl Tally {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            measuring: AtomicBool::new(false),
            connected: AtomicUsize::new(0),
            browser_sent: AtomicU64::new(0),
            browser_received: AtomicU64::new(0),
            phone_sent: AtomicU64::new(0),
            phone_received: AtomicU64::new(0),
            phone_late_us: Mutex::new(Vec::new()),
            to_browser: Latencies::default(),
            to_phone: Latencies::default(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    fn count(&self, counter: &AtomicU64) {
        if self.measuring() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A burst onset heard at `heard_ns`, of the burst `onset` says was sent.
    fn onset(&self, latencies: &Latencies, onset: &Onset, heard_ns: u64) {
        if !self.measuring() {
            return;
        }
        let sent = onset.sent_ns.load(Ordering::Relaxed);
        let latency = heard_ns.saturating_sub(sent);
        if sent == 0 || latency >= PERIOD * FRAME.as_nanos() as u64 {
            latencies.unmatched.fetch_add(1, Ordering::Relaxed);
        } else if let Ok(mut samples) = latencies.samples.lock() {
            samples.push((latency / 1000) as u32);
        }
    }
}

/// Both directions of one call.
#[derive(Default)]
struct CallOnsets {
    /// Bursts the phone sends, heard by the browser.
    to_browser: Onset,
    /// Bursts the browser sends, heard by the phone.
    to_phone: Onset,
}

fn loud(frame: u64) -> bool {
    frame % PERIOD < BURST
}

/// The browser's frames: one period of the pattern as Opus packets (48 kHz,
/// as a browser sends), encoded after a first period so that the encoder's
/// state at the loop's seam is the one it had there.
fn browser_packets() -> Vec<Vec<u8>> {
    let mut encoder = opus_rs::OpusEncoder::new(48_000, 1, opus_rs::Application::Voip)
        .expect("48 kHz mono is a valid encoder");
    encoder.bitrate_bps = 32_000;
    let mut out = vec![0u8; 1500];
    let mut packets: Vec<Vec<u8>> = (0..2 * PERIOD)
        .map(|f| {
            let level = if loud(f) { LOUD } else { QUIET };
            let pcm: Vec<i16> = (f * 960..(f + 1) * 960)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    ((2.0 * std::f32::consts::PI * 440.0 * t).sin() * level) as i16
                })
                .collect();
            let n = encoder
                .encode_i16(&pcm, 960, &mut out)
                .expect("20 ms at 48 kHz is a valid frame");
            out[..n].to_vec()
        })
        .collect();
    packets.split_off(PERIOD as usize)
}

/// The phone's payloads, loud and quiet: a 1000 Hz tone has a period of 8
/// samples, so every 20 ms of it is alike.
fn phone_payloads() -> [Vec<u8>; 2] {
    [LOUD, QUIET].map(|level| {
        let pcm: Vec<i16> = (0..160)
            .map(|i| {
                ((2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin() * level) as i16
            })
            .collect();
        testclient::g711_encode(G711::Pcmu, &pcm)
    })
}

/// A phone's RTP socket on an even port and its RTCP socket on the next, as
/// a phone has them: the engine's reports go to the RTP port + 1, which must
/// not be another phone's (or leg's) RTP socket.
async fn phone_sockets() -> (UdpSocket, UdpSocket) {
    loop {
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("phone socket");
        let port = rtp.local_addr().expect("bound").port();
        if port % 2 == 0
            && let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)).await
        {
            return (rtp, rtcp);
        }
    }
}

/// A phone: sends the pattern every 20 ms, counts what it receives and
/// listens for the browser's bursts. Its RTCP socket takes the engine's
/// reports, unread.
async fn phone(
    (socket, _rtcp): (UdpSocket, UdpSocket),
    to: SocketAddr,
    payloads: Arc<[Vec<u8>; 2]>,
    onsets: Arc<CallOnsets>,
    tally: Arc<Tally>,
) {
    let socket = Arc::new(socket);
    let receiver = {
        let socket = Arc::clone(&socket);
        let tally = Arc::clone(&tally);
        let onsets = Arc::clone(&onsets);
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut ear = Ear::default();
            while let Ok((n, _)) = socket.recv_from(&mut buf).await {
                let arrived = tally.now_ns();
                tally.count(&tally.phone_received);
                // The engine sends plain 12-byte headers.
                let pcm = testclient::g711_decode(G711::Pcmu, buf.get(12..n).unwrap_or(&[]));
                if let Some(heard) = ear.hear(&pcm, arrived) {
                    tally.onset(&tally.to_phone, &onsets.to_phone, heard);
                }
            }
        })
    };
    let ssrc: u32 = rand::random();
    let mut interval = tokio::time::interval(FRAME);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut packet = Vec::with_capacity(12 + payloads[0].len());
    for n in 0u32.. {
        let due = interval.tick().await;
        if tally.measuring() {
            let late = tokio::time::Instant::now().saturating_duration_since(due);
            if let Ok(mut l) = tally.phone_late_us.lock() {
                l.push(late.as_micros() as u32);
            }
        }
        let frame = u64::from(n);
        packet.clear();
        packet.extend_from_slice(&[0x80, 0]);
        packet.extend_from_slice(&(n as u16).to_be_bytes());
        packet.extend_from_slice(&(n.wrapping_mul(160)).to_be_bytes());
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(&payloads[usize::from(!loud(frame))]);
        if frame.is_multiple_of(PERIOD) {
            onsets
                .to_browser
                .sent_ns
                .store(tally.now_ns(), Ordering::Relaxed);
        }
        if socket.send_to(&packet, to).await.is_ok() {
            tally.count(&tally.phone_sent);
        }
    }
    receiver.abort();
}

/// The engine's counters, by series (`name{labels}`), from the text format.
fn counters(handle: &PrometheusHandle) -> HashMap<String, u64> {
    handle
        .render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// Frames the engine's legs counted, summed over `calls`.
#[derive(Default, Clone, Copy)]
struct EngineFrames {
    /// Received from the browsers.
    from_browsers: u64,
    /// Sent to the browsers.
    to_browsers: u64,
    /// Played from the phones' streams (concealment included).
    from_phones: u64,
    /// Sent to the phones.
    to_phones: u64,
}

impl EngineFrames {
    /// Asks every call at once, so the snapshot takes one turn of the
    /// engine's thread however busy it is.
    async fn of(calls: &[Call]) -> Self {
        let asks: Vec<_> = calls
            .iter()
            .map(|call| {
                let call = call.clone();
                tokio::spawn(async move { call.stats().await.unwrap_or_default() })
            })
            .collect();
        let mut sum = Self::default();
        for ask in asks {
            for leg in ask.await.unwrap_or_default() {
                if leg.role == LegRole::Visitor {
                    sum.from_browsers += leg.frames_in;
                    sum.to_browsers += leg.frames_out;
                } else {
                    sum.from_phones += leg.frames_in;
                    sum.to_phones += leg.frames_out;
                }
            }
        }
        sum
    }

    fn since(self, before: Self) -> Self {
        Self {
            from_browsers: self.from_browsers - before.from_browsers,
            to_browsers: self.to_browsers - before.to_browsers,
            from_phones: self.from_phones - before.from_phones,
            to_phones: self.to_phones - before.to_phones,
        }
    }
}

/// Nearest-rank percentile of sorted `v`.
fn percentile(v: &[u32], p: f64) -> u32 {
    let rank = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len().max(1));
    v.get(rank - 1).copied().unwrap_or(0)
}

fn sorted(v: &Mutex<Vec<u32>>) -> Vec<u32> {
    let mut v = v.lock().map(|v| v.clone()).unwrap_or_default();
    v.sort_unstable();
    v
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = common::args("bridge_load", 50);
    // Before the engine starts: it takes its counters' handles from it.
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the first recorder");
    let (engine, task) = engine_thread();
    let main_task = this_thread();
    let tally = Arc::new(Tally::new());
    let browser_packets = browser_packets();
    let payloads = Arc::new(phone_payloads());

    eprintln!("setting up {} calls...", args.calls);
    let setup = Instant::now();
    let (events, mut media_events) = mpsc::channel(1024);
    tokio::spawn(async move { while media_events.recv().await.is_some() {} });
    let mut browsers = Vec::new();
    let mut phones = Vec::new();
    let mut calls = Vec::new();
    for batch in (0..args.calls).collect::<Vec<_>>().chunks(SETUP_BATCH) {
        let mut joins = Vec::new();
        for &i in batch {
            let call = engine.call(media::CallTag(i as i64), events.clone());
            let tally = Arc::clone(&tally);
            let c = call.clone();
            let onsets = Arc::new(CallOnsets::default());
            joins.push(tokio::spawn(async move {
                let t = Arc::clone(&tally);
                let o = Arc::clone(&onsets);
                let mut probe = AudioProbe::default();
                let mut ear = Ear::default();
                let (client, offer) =
                    TestClient::offer(Shape::Party { video: false }, move |e| match e {
                        ClientEvent::Connected => {
                            t.connected.fetch_add(1, Ordering::Relaxed);
                        }
                        ClientEvent::Audio { data, .. } => {
                            let arrived = t.now_ns();
                            t.count(&t.browser_received);
                            if let Some(heard) = ear.hear(&probe.decode(&data), arrived) {
                                t.onset(&t.to_browser, &o.to_browser, heard);
                            }
                        }
                        _ => {}
                    })
                    .await
                    .expect("client socket");
                let (_, answer) = c
                    .add_webrtc(LegRole::Visitor, &offer)
                    .await
                    .expect("offer accepted");
                client
                    .accept_answer(&answer)
                    .await
                    .expect("answer accepted");
                let (leg, local) = c.add_rtp(LegRole::Agent).await.expect("rtp leg");
                let (socket, rtcp) = phone_sockets().await;
                let peer = RtpPeer {
                    addr: socket.local_addr().expect("bound"),
                    codec: G711::Pcmu,
                    payload_type: 0,
                    dtmf_payload_type: Some(101),
                };
                c.set_rtp_peer(leg, peer).await.expect("peer set");
                (client, (socket, rtcp), local, onsets)
            }));
            calls.push(call);
        }
        for join in joins {
            let (client, sockets, local, onsets) = join.await.expect("setup task");
            browsers.push(client);
            phones.push((sockets, local, onsets));
        }
    }
    let deadline = Instant::now() + Duration::from_mins(1);
    while tally.connected.load(Ordering::Relaxed) < browsers.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{} of {} browsers connected in {:.1} s",
        tally.connected.load(Ordering::Relaxed),
        browsers.len(),
        setup.elapsed().as_secs_f64()
    );

    // Spread the 20 ms ticks over the frame, as real callers are.
    let per_ms = (args.calls / 20).max(1);
    for (i, (browser, (sockets, local, onsets))) in browsers.iter().zip(phones).enumerate() {
        let t = Arc::clone(&tally);
        let o = Arc::clone(&onsets);
        let packets = browser_packets.clone();
        let mut frame = 0u64;
        browser
            .stream_audio(
                FRAME,
                Box::new(move || {
                    t.count(&t.browser_sent);
                    if frame.is_multiple_of(PERIOD) {
                        o.to_phone.sent_ns.store(t.now_ns(), Ordering::Relaxed);
                    }
                    let packet = packets[(frame % PERIOD) as usize].clone();
                    frame += 1;
                    packet
                }),
            )
            .await;
        tokio::spawn(phone(
            sockets,
            local,
            Arc::clone(&payloads),
            onsets,
            Arc::clone(&tally),
        ));
        if i % per_ms == per_ms - 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let frames0 = EngineFrames::of(&calls).await;
    let cpu0 = thread_cpu_ns(&task);
    let main0 = thread_cpu_ns(&main_task);
    let dropped0 = engine.dropped_packets();
    let counters0 = counters(&metrics);
    let t0 = Instant::now();
    tally.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    tally.measuring.store(false, Ordering::Relaxed);
    let wall = t0.elapsed();
    let cpu = thread_cpu_ns(&task) - cpu0;
    let main_cpu = thread_cpu_ns(&main_task) - main0;
    let dropped = engine.dropped_packets() - dropped0;
    let counters1 = counters(&metrics);
    let frames = EngineFrames::of(&calls).await.since(frames0);
    let counter = |series: &str| {
        counters1
            .get(series)
            .copied()
            .unwrap_or(0)
            .saturating_sub(counters0.get(series).copied().unwrap_or(0))
    };
    let playout = |event: &str| counter(&format!("media_rtp_playout_total{{event=\"{event}\"}}"));

    let core = cpu as f64 / wall.as_nanos() as f64;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (bs, br) = (get(&tally.browser_sent), get(&tally.browser_received));
    let (ps, pr) = (get(&tally.phone_sent), get(&tally.phone_received));
    let concealed = playout("concealed");
    let short = |sent: u64, received: u64| {
        format!(
            "{:.2}% short",
            sent.saturating_sub(received) as f64 / sent.max(1) as f64 * 100.0
        )
    };
    let phone_late = sorted(&tally.phone_late_us);
    println!("calls                 {}", args.calls);
    println!("window                {:.1} s", wall.as_secs_f64());
    println!(
        "engine CPU            {:.1}% of one core; {:.0} µs per call per 20 ms",
        core * 100.0,
        core * 20_000.0 / args.calls as f64
    );
    println!(
        "calls per core        {:.0}",
        args.calls as f64 / core.max(1e-9)
    );
    println!(
        "load generator        {:.1}% of one core; phone sends late p50 {:.1} ms, p99 {:.1} ms",
        main_cpu as f64 / wall.as_nanos() as f64 * 100.0,
        f64::from(percentile(&phone_late, 0.5)) / 1000.0,
        f64::from(percentile(&phone_late, 0.99)) / 1000.0,
    );
    println!(
        "browser -> phone      sent {bs}, engine got {} and sent {}, received {pr} ({})",
        frames.from_browsers,
        frames.to_phones,
        short(bs, pr)
    );
    println!(
        "phone -> browser      sent {ps}, engine played {} and sent {}, received {br}, {concealed} of them concealment ({})",
        frames.from_phones,
        frames.to_browsers,
        short(ps, br.saturating_sub(concealed))
    );
    println!(
        "engine playout        {} frames caught up late, {} skipped; jitter buffer discarded {} late, {} over its bound, {} to shrink",
        playout("caught_up"),
        playout("skipped"),
        playout("late"),
        playout("overflow"),
        playout("shrunk"),
    );
    println!(
        "engine dropped        {dropped} datagrams; {} not sent",
        counter("media_packets_unsent_total")
    );
    for (name, latencies) in [
        ("phone -> browser", &tally.to_browser),
        ("browser -> phone", &tally.to_phone),
    ] {
        let samples = sorted(&latencies.samples);
        println!(
            "latency {name} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} onsets, {} unmatched)",
            f64::from(percentile(&samples, 0.5)) / 1000.0,
            f64::from(percentile(&samples, 0.99)) / 1000.0,
            f64::from(samples.last().copied().unwrap_or(0)) / 1000.0,
            samples.len(),
            latencies.unmatched.load(Ordering::Relaxed),
        );
    }
    std::process::exit(0);
}
