//! Load tool: relayed audio calls per core.
//!
//! Runs the media engine on its own thread (a current-thread tokio runtime,
//! so every engine task runs there) and `N` calls through it, each between
//! two in-process str0m peers on their own sockets (a visitor and an agent,
//! on the main thread's runtime) that each send one 80-byte Opus-sized frame
//! every 20 ms. After a warm-up it measures for `S` seconds:
//!
//! * the engine thread's CPU time (`/proc/<pid>/task/<tid>/schedstat`) per
//!   second of wall time, and per relayed frame; calls per core follow from
//!   the per-frame cost at the nominal 100 frames/s per call (so peers that
//!   fall behind on a busy machine do not flatter the figure);
//! * frames lost (sent in the window but never received);
//! * one-way latency peer → engine → peer, from a send timestamp in each
//!   frame (so it includes both peers' str0m processing, not only the
//!   engine's).
//!
//! ```text
//! cargo run --release -p switchboard --example media_load -- --calls 500 --seconds 20
//! ```

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use media::{
    LegRole,
    testclient::{ClientEvent, Shape, TestClient},
};
use tokio::sync::mpsc;

use self::common::{engine_thread, thread_cpu_ns};

const FRAME: Duration = Duration::from_millis(20);
const PAYLOAD: usize = 80;
/// Calls set up at once.
const SETUP_BATCH: usize = 25;

/// What the peers count, shared by all of them.
struct Tally {
    epoch: Instant,
    measuring: AtomicBool,
    window_start: AtomicU64,
    window_end: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
    connected: AtomicUsize,
}

impl Tally {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// A frame: Opus TOC byte (CELT, 20 ms), the send time, filler.
    fn frame(&self) -> Vec<u8> {
        let stamp = self.now_ns();
        if self.measuring.load(Ordering::Relaxed) {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
        let mut frame = Vec::with_capacity(PAYLOAD);
        frame.push(0xf8);
        frame.extend_from_slice(&stamp.to_le_bytes());
        frame.resize(PAYLOAD, 0x55);
        frame
    }

    fn on_event(&self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected => {
                self.connected.fetch_add(1, Ordering::Relaxed);
            }
            ClientEvent::Audio { data, .. } if data.len() >= 9 => {
                let mut stamp = [0u8; 8];
                stamp.copy_from_slice(&data[1..9]);
                let stamp = u64::from_le_bytes(stamp);
                let start = self.window_start.load(Ordering::Relaxed);
                let end = self.window_end.load(Ordering::Relaxed);
                if start != 0 && stamp >= start && stamp < end {
                    self.received.fetch_add(1, Ordering::Relaxed);
                    let latency = self.now_ns().saturating_sub(stamp) / 1000;
                    if let Ok(mut l) = self.latencies_us.lock() {
                        l.push(latency as u32);
                    }
                }
            }
            _ => {}
        }
    }
}

/// User and system CPU time of a thread, in nanoseconds (`stat` fields 14
/// and 15, in clock ticks of 10 ms).
fn thread_user_system_ns(task: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{task}/stat")).unwrap_or_default();
    // The fields after the command name (which ends with ')'): state, then
    // numbers; utime and stime are the 12th and 13th of them.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
            * 10_000_000
    };
    (tick(11), tick(12))
}

/// CPU time of every thread of the process, in nanoseconds.
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .map(|t| thread_cpu_ns(&format!("self/task/{}", t.file_name().to_string_lossy())))
        .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = common::args("media_load", 100);
    let (engine, task) = engine_thread();
    let tally = Arc::new(Tally {
        epoch: Instant::now(),
        measuring: AtomicBool::new(false),
        window_start: AtomicU64::new(0),
        window_end: AtomicU64::new(u64::MAX),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::new()),
        connected: AtomicUsize::new(0),
    });

    eprintln!("setting up {} calls...", args.calls);
    let setup = Instant::now();
    let mut peers = Vec::new();
    let mut calls = Vec::new();
    let (events, mut media_events) = mpsc::channel(1024);
    tokio::spawn(async move { while media_events.recv().await.is_some() {} });
    for batch in (0..args.calls).collect::<Vec<_>>().chunks(SETUP_BATCH) {
        let mut joins = Vec::new();
        for &i in batch {
            let call = engine.call(media::CallTag(i as i64), events.clone());
            for role in [LegRole::Visitor, LegRole::Agent] {
                let tally = Arc::clone(&tally);
                let call = call.clone();
                joins.push(tokio::spawn(async move {
                    let t = Arc::clone(&tally);
                    let (client, offer) =
                        TestClient::offer(Shape::Party { video: false }, move |e| t.on_event(&e))
                            .await
                            .expect("client socket");
                    let (_, answer) = call.add_webrtc(role, &offer).await.expect("offer accepted");
                    client
                        .accept_answer(&answer)
                        .await
                        .expect("answer accepted");
                    client
                }));
            }
            calls.push(call);
        }
        for join in joins {
            peers.push(join.await.expect("setup task"));
        }
    }
    let deadline = Instant::now() + Duration::from_mins(1);
    while tally.connected.load(Ordering::Relaxed) < peers.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{} of {} peers connected in {:.1} s",
        tally.connected.load(Ordering::Relaxed),
        peers.len(),
        setup.elapsed().as_secs_f64()
    );

    // Spread the peers' 20 ms ticks over the frame, as real callers are:
    // one millisecond's share of them at a time.
    let per_ms = (peers.len() / 20).max(1);
    for (i, peer) in peers.iter().enumerate() {
        let tally = Arc::clone(&tally);
        peer.stream_audio(FRAME, Box::new(move || tally.frame()))
            .await;
        if i % per_ms == per_ms - 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let cpu0 = thread_cpu_ns(&task);
    let (user0, system0) = thread_user_system_ns(&task);
    let proc0 = process_cpu_ns();
    let dropped0 = engine.dropped_packets();
    let t0 = Instant::now();
    tally.window_start.store(tally.now_ns(), Ordering::Relaxed);
    tally.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    tally.measuring.store(false, Ordering::Relaxed);
    tally.window_end.store(tally.now_ns(), Ordering::Relaxed);
    let wall = t0.elapsed();
    let cpu = thread_cpu_ns(&task) - cpu0;
    let (user1, system1) = thread_user_system_ns(&task);
    let (user, system) = (user1 - user0, system1 - system0);
    let proc = process_cpu_ns() - proc0;
    let dropped = engine.dropped_packets() - dropped0;
    // Frames still in flight at the window's end.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let sent = tally.sent.load(Ordering::Relaxed);
    let received = tally.received.load(Ordering::Relaxed);
    let mut latencies = tally
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let core = cpu as f64 / wall.as_nanos() as f64;
    println!("calls                 {}", args.calls);
    println!("window                {:.1} s", wall.as_secs_f64());
    println!(
        "engine CPU            {:.1} ms per s ({:.1}% of one core)",
        core * 1000.0,
        core * 100.0
    );
    // Frames relayed per second at the nominal rate: two per call per 20 ms.
    let nominal = args.calls as f64 * 2.0 / FRAME.as_secs_f64();
    let relayed = received as f64 / wall.as_secs_f64();
    let per_frame_us = cpu as f64 / 1000.0 / received.max(1) as f64;
    println!(
        "relayed               {relayed:.0} frames/s ({:.0}% of nominal); {per_frame_us:.1} µs engine CPU per frame",
        relayed / nominal * 100.0
    );
    println!(
        "calls per core        {:.0} (from the per-frame cost at 100 frames/s per call)",
        1e6 / (per_frame_us * nominal / args.calls as f64)
    );
    println!(
        "  of which            user {:.0}%, kernel {:.0}%",
        user as f64 / (user + system).max(1) as f64 * 100.0,
        system as f64 / (user + system).max(1) as f64 * 100.0
    );
    println!(
        "process CPU           {:.1}% of one core (engine + {} peers)",
        proc as f64 / wall.as_nanos() as f64 * 100.0,
        peers.len()
    );
    println!(
        "frames                sent {sent}, received {received}, lost {} ({:.3}%)",
        sent.saturating_sub(received),
        sent.saturating_sub(received) as f64 / sent.max(1) as f64 * 100.0
    );
    println!("engine dropped        {dropped} datagrams");
    println!(
        "latency peer→peer     p50 {} µs, p99 {} µs, max {} µs",
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or(0)
    );
    std::process::exit(0);
}
