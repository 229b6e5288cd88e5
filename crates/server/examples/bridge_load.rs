//! Load tool: bridged calls (browser Opus <-> phone PCMU) per core.
//!
//! Runs the media engine on its own thread (a current-thread tokio runtime)
//! and `N` calls through it. In each, an in-process str0m peer plays the
//! browser (a visitor streaming a real Opus 440 Hz tone, 20 ms frames) and
//! an in-process phone plays the agent on a SIP trunk (a UDP socket sending
//! a PCMU 1000 Hz tone every 20 ms). Every frame crosses the engine's
//! transcoder: G.711 decode + Opus encode one way, Opus decode + G.711
//! encode the other. After a warm-up it measures for `S` seconds the
//! engine thread's CPU (`/proc/<pid>/task/<tid>/schedstat`), and the frames
//! each side sent and the other received.
//!
//! ```text
//! cargo run --release -p switchboard --example bridge_load -- --calls 100 --seconds 10
//! ```

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use switchboard::media::{
    G711, LegRole, MediaConfig, MediaEngine, RtpPeer,
    testclient::{self, ClientEvent, Shape, TestClient},
};
use tokio::{net::UdpSocket, sync::mpsc};

const FRAME: Duration = Duration::from_millis(20);
const SETUP_BATCH: usize = 25;

struct Args {
    calls: usize,
    seconds: u64,
    warmup: u64,
}

fn args() -> Args {
    let mut args = Args {
        calls: 50,
        seconds: 10,
        warmup: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--calls", Some(v)) => args.calls = v as usize,
            ("--seconds", Some(v)) => args.seconds = v,
            ("--warmup", Some(v)) => args.warmup = v,
            _ => {
                eprintln!("usage: bridge_load [--calls N] [--seconds S] [--warmup W]");
                std::process::exit(2);
            }
        }
    }
    args
}

#[derive(Default)]
struct Tally {
    measuring: AtomicBool,
    connected: AtomicUsize,
    browser_sent: AtomicU64,
    browser_received: AtomicU64,
    phone_sent: AtomicU64,
    phone_received: AtomicU64,
}

impl Tally {
    fn count(&self, counter: &AtomicU64) {
        if self.measuring.load(Ordering::Relaxed) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn thread_cpu_ns(task: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{task}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn engine_thread() -> (MediaEngine, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("media-engine".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("engine runtime");
            runtime.block_on(async move {
                let engine = MediaEngine::start(MediaConfig {
                    bind: "127.0.0.1:0".parse().expect("address"),
                    announce: "127.0.0.1".parse().expect("address"),
                    connect_timeout: Duration::from_secs(30),
                    rtp_ports: (0, 0),
                })
                .await
                .expect("engine starts");
                let task = std::fs::read_link("/proc/thread-self")
                    .expect("/proc/thread-self")
                    .to_string_lossy()
                    .into_owned();
                tx.send((engine, task)).expect("main thread waits");
                std::future::pending::<()>().await;
            });
        })
        .expect("engine thread");
    rx.recv().expect("engine started")
}

/// A phone: sends the same PCMU payload every 20 ms (a 1000 Hz tone has a
/// period of 8 samples, so every 20 ms of it is alike) and counts what it
/// receives.
async fn phone(socket: UdpSocket, to: SocketAddr, payload: Arc<Vec<u8>>, tally: Arc<Tally>) {
    let socket = Arc::new(socket);
    let receiver = {
        let socket = Arc::clone(&socket);
        let tally = Arc::clone(&tally);
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while socket.recv_from(&mut buf).await.is_ok() {
                tally.count(&tally.phone_received);
            }
        })
    };
    let ssrc: u32 = rand::random();
    let mut interval = tokio::time::interval(FRAME);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut packet = Vec::with_capacity(12 + payload.len());
    for n in 0u32.. {
        interval.tick().await;
        packet.clear();
        packet.extend_from_slice(&[0x80, 0]);
        packet.extend_from_slice(&(n as u16).to_be_bytes());
        packet.extend_from_slice(&(n * 160).to_be_bytes());
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(&payload);
        if socket.send_to(&packet, to).await.is_ok() {
            tally.count(&tally.phone_sent);
        }
    }
    receiver.abort();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = args();
    let (engine, task) = engine_thread();
    let tally = Arc::new(Tally::default());
    let tone = testclient::opus_tone(440.0, 50);
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let pcmu = Arc::new(testclient::g711_encode(G711::Pcmu, &pcm));

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
            let call = engine.call(i as i64, events.clone());
            let tally = Arc::clone(&tally);
            let c = call.clone();
            joins.push(tokio::spawn(async move {
                let t = Arc::clone(&tally);
                let (client, offer) =
                    TestClient::offer(Shape::Party { video: false }, move |e| match e {
                        ClientEvent::Connected => {
                            t.connected.fetch_add(1, Ordering::Relaxed);
                        }
                        ClientEvent::Audio { .. } => t.count(&t.browser_received),
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
                let socket = UdpSocket::bind("127.0.0.1:0").await.expect("phone socket");
                let peer = RtpPeer {
                    addr: socket.local_addr().expect("bound"),
                    codec: G711::Pcmu,
                    payload_type: 0,
                    dtmf_payload_type: Some(101),
                };
                c.set_rtp_peer(leg, peer).await.expect("peer set");
                (client, socket, local)
            }));
            calls.push(call);
        }
        for join in joins {
            let (client, socket, local) = join.await.expect("setup task");
            browsers.push(client);
            phones.push((socket, local));
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
    for (i, (browser, (socket, local))) in browsers.iter().zip(phones).enumerate() {
        let t = Arc::clone(&tally);
        let mut next = testclient::looping(tone.clone());
        browser
            .stream_audio(
                FRAME,
                Box::new(move || {
                    t.count(&t.browser_sent);
                    next()
                }),
            )
            .await;
        tokio::spawn(phone(socket, local, Arc::clone(&pcmu), Arc::clone(&tally)));
        if i % per_ms == per_ms - 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let cpu0 = thread_cpu_ns(&task);
    let dropped0 = engine.dropped_packets();
    let t0 = Instant::now();
    tally.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    tally.measuring.store(false, Ordering::Relaxed);
    let wall = t0.elapsed();
    let cpu = thread_cpu_ns(&task) - cpu0;
    let dropped = engine.dropped_packets() - dropped0;

    let core = cpu as f64 / wall.as_nanos() as f64;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (bs, br) = (get(&tally.browser_sent), get(&tally.browser_received));
    let (ps, pr) = (get(&tally.phone_sent), get(&tally.phone_received));
    let lost = |sent: u64, received: u64| {
        format!(
            "sent {sent}, received {received} ({:.2}% short)",
            sent.saturating_sub(received) as f64 / sent.max(1) as f64 * 100.0
        )
    };
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
    println!("browser -> phone      {}", lost(bs, pr));
    println!("phone -> browser      {}", lost(ps, br));
    println!("engine dropped        {dropped} datagrams");
    std::process::exit(0);
}
