//! A telephone's media for tests: G.711 µ-law RTP on a loopback UDP socket,
//! written independently of the server's codec so it checks it. It plays a
//! tone in 20 ms packets, decodes what arrives and says which tone it hears
//! (Goertzel), and keys RFC 4733 digits. Symmetric RTP: it sends to the first
//! source it hears from, as the server does.

use std::{
    f64::consts::PI,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::net::UdpSocket;

/// Samples per 20 ms at 8 kHz.
const FRAME: usize = 160;
/// RFC 4733 payload type the tests' SDP announces.
pub const DTMF_PT: u8 = 101;

pub struct RtpPhone {
    socket: Arc<UdpSocket>,
    pub addr: SocketAddr,
    shared: Arc<Mutex<Heard>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct Heard {
    peer: Option<SocketAddr>,
    /// The tone detected in each received 20 ms frame, in order (None: no
    /// clear tone).
    tones: Vec<Option<u32>>,
    /// Our RTP stream state, shared with `send_dtmf`.
    seq: u16,
    timestamp: u32,
    /// Tone packets pause while digits are keyed.
    keying: bool,
    /// RFC 4733 digits received, one per event (its end packets share the
    /// event's timestamp).
    digits: String,
    last_event: Option<u32>,
}

/// Frequencies the tests use; a frame "has" one when it holds most of the
/// frame's energy.
const CANDIDATES: [u32; 4] = [440, 1000, 1500, 697];

/// A sound the phone plays ([`RtpPhone::start_script`]).
#[derive(Debug, Clone, Copy, PartialEq)]
// A test file plays some of them.
#[allow(dead_code)]
pub enum Sound {
    Tone(f64),
    /// Voiced sound with a wandering pitch and a syllable rhythm, as a
    /// greeting sounds to call progress detection (no single tone).
    Speech,
    Silence,
}

impl Sound {
    /// The sample at `t` seconds from the start of the sound.
    fn sample(self, t: f64) -> f64 {
        match self {
            Sound::Tone(hz) => (2.0 * PI * hz * t).sin() * 8000.0,
            Sound::Speech => {
                // Pitch 160 ± 60 Hz at 3 Hz: the phase is its integral.
                let phase = 2.0 * PI * 160.0 * t + 20.0 * (1.0 - (6.0 * PI * t).cos());
                let voiced: f64 = (1..=12)
                    .map(|h| (phase * f64::from(h)).sin() / f64::from(h))
                    .sum();
                let syllables = 0.6 + 0.4 * (2.0 * PI * 4.0 * t).sin();
                voiced * syllables * 4000.0
            }
            Sound::Silence => 0.0,
        }
    }
}

impl RtpPhone {
    /// Binds a loopback port and starts playing `tone_hz` once it knows where
    /// to send (the first packet it receives).
    pub async fn start(tone_hz: f64) -> RtpPhone {
        Self::start_script(&[(Sound::Tone(tone_hz), u32::MAX)]).await
    }

    /// Like [`RtpPhone::start`], playing each sound of `script` for its
    /// milliseconds in turn, then silence.
    pub async fn start_script(script: &[(Sound, u32)]) -> RtpPhone {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("phone binds"));
        let addr = socket.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Heard::default()));
        let rx = tokio::spawn(receive(Arc::clone(&socket), Arc::clone(&shared)));
        let tx = tokio::spawn(play(
            Arc::clone(&socket),
            Arc::clone(&shared),
            script.to_vec(),
        ));
        RtpPhone {
            socket,
            addr,
            shared,
            tasks: vec![rx, tx],
        }
    }

    /// Waits until `consecutive` received frames in a row carry `hz`.
    pub async fn wait_for_tone(&self, hz: u32, consecutive: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            {
                let heard = self.shared.lock().unwrap();
                let run = heard
                    .tones
                    .windows(consecutive)
                    .any(|w| w.iter().all(|t| *t == Some(hz)));
                if run {
                    return true;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the digits received (RFC 4733) read `want`.
    pub async fn wait_for_digits(&self, want: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.shared.lock().unwrap().digits.clone();
            if got == want || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Keys `digits` as RFC 4733 events: for each, a start packet (marker),
    /// continuations, then three end packets, all with the event's timestamp.
    pub async fn send_dtmf(&self, digits: &str) {
        let peer = self.shared.lock().unwrap().peer.expect("phone has a peer");
        self.shared.lock().unwrap().keying = true;
        for digit in digits.chars() {
            let event = match digit {
                '0'..='9' => digit as u8 - b'0',
                '*' => 10,
                '#' => 11,
                _ => panic!("not a keypad digit: {digit}"),
            };
            let timestamp = self.shared.lock().unwrap().timestamp;
            for step in 0..8u16 {
                let end = step >= 5;
                let duration = (step.min(5) + 1) * FRAME as u16;
                let mut payload = vec![event, 10, 0, 0];
                if end {
                    payload[1] |= 0x80;
                }
                payload[2..4].copy_from_slice(&duration.to_be_bytes());
                let packet = {
                    let mut h = self.shared.lock().unwrap();
                    h.seq = h.seq.wrapping_add(1);
                    rtp_packet(DTMF_PT, step == 0, h.seq, timestamp, &payload)
                };
                let _ = self.socket.send_to(&packet, peer).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            {
                let mut h = self.shared.lock().unwrap();
                h.timestamp = h.timestamp.wrapping_add(8 * FRAME as u32);
            }
            // The gap between digits.
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        self.shared.lock().unwrap().keying = false;
    }
}

impl Drop for RtpPhone {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn receive(socket: Arc<UdpSocket>, shared: Arc<Mutex<Heard>>) {
    let mut buf = [0u8; 2048];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        // RTP version 2, payload type 0 (PCMU), no CSRCs or extension here.
        if n < 12 || buf[0] >> 6 != 2 {
            continue;
        }
        let pt = buf[1] & 0x7f;
        let mut heard = shared.lock().unwrap();
        heard.peer.get_or_insert(from);
        if pt == DTMF_PT && n >= 16 && buf[13] & 0x80 != 0 {
            let timestamp = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
            if heard.last_event != Some(timestamp) {
                heard.last_event = Some(timestamp);
                let digit = match buf[12] {
                    e @ 0..=9 => char::from(b'0' + e),
                    10 => '*',
                    11 => '#',
                    e @ 12..=15 => char::from(b'A' + e - 12),
                    _ => '?',
                };
                heard.digits.push(digit);
            }
            continue;
        }
        if pt != 0 {
            continue;
        }
        let cc = usize::from(buf[0] & 0x0f);
        let start = 12 + 4 * cc;
        if n <= start {
            continue;
        }
        let samples: Vec<f64> = buf[start..n].iter().map(|b| ulaw_decode(*b)).collect();
        heard.tones.push(dominant_tone(&samples));
    }
}

/// The sound playing `frame` frames (20 ms each) into `script`, and the
/// seconds since it began.
fn scripted(script: &[(Sound, u32)], frame: u64) -> (Sound, f64) {
    let mut start_ms = 0u64;
    let at_ms = frame * 20;
    for (sound, ms) in script {
        let end = start_ms + u64::from(*ms);
        if at_ms < end {
            return (*sound, (at_ms - start_ms) as f64 / 1000.0);
        }
        start_ms = end;
    }
    (Sound::Silence, 0.0)
}

async fn play(socket: Arc<UdpSocket>, shared: Arc<Mutex<Heard>>, script: Vec<(Sound, u32)>) {
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    let mut n: u64 = 0;
    loop {
        interval.tick().await;
        let (peer, seq, timestamp) = {
            let mut h = shared.lock().unwrap();
            let Some(peer) = h.peer else { continue };
            if h.keying {
                continue;
            }
            h.seq = h.seq.wrapping_add(1);
            h.timestamp = h.timestamp.wrapping_add(FRAME as u32);
            (peer, h.seq, h.timestamp)
        };
        let (sound, since) = scripted(&script, n);
        let payload: Vec<u8> = (0..FRAME)
            .map(|i| ulaw_encode(sound.sample(since + i as f64 / 8000.0)))
            .collect();
        n += 1;
        let _ = socket
            .send_to(&rtp_packet(0, false, seq, timestamp, &payload), peer)
            .await;
    }
}

fn rtp_packet(pt: u8, marker: bool, seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(pt | if marker { 0x80 } else { 0 });
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&0x5eed_0001_u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// ITU-T G.711 µ-law, from the segment formula (not a table).
fn ulaw_encode(sample: f64) -> u8 {
    const BIAS: i32 = 0x84;
    let s = (sample.round() as i32).clamp(-32_635, 32_635);
    let sign = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs() + BIAS;
    let exponent = (0..8)
        .rev()
        .find(|e| magnitude & (0x80 << e) != 0)
        .unwrap_or(0);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

fn ulaw_decode(byte: u8) -> f64 {
    let b = !byte;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = ((mantissa << 3) + 0x84) << exponent;
    let value = magnitude - 0x84;
    f64::from(if b & 0x80 != 0 { -value } else { value })
}

/// The candidate frequency holding most of the frame's energy, if any does.
pub fn dominant_tone(samples: &[f64]) -> Option<u32> {
    let total: f64 = samples.iter().map(|s| s * s).sum();
    if total < 1e3 * samples.len() as f64 {
        return None; // silence
    }
    CANDIDATES
        .iter()
        .map(|&f| (f, goertzel(samples, f64::from(f))))
        .filter(|(_, p)| *p > 0.4 * total)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| f)
}

/// Energy at `hz`, scaled to compare with the frame's total energy.
fn goertzel(samples: &[f64], hz: f64) -> f64 {
    let w = 2.0 * PI * hz / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in samples {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power / samples.len() as f64
}

#[test]
fn test_phone_codec_and_detector_agree() {
    let tone: Vec<f64> = (0..FRAME)
        .map(|i| (2.0 * PI * 1000.0 * i as f64 / 8000.0).sin() * 8000.0)
        .map(|s| ulaw_decode(ulaw_encode(s)))
        .collect();
    assert_eq!(dominant_tone(&tone), Some(1000));
    assert_eq!(dominant_tone(&[0.0; FRAME]), None);
    for s in [-30_000.0, -100.0, 0.0, 100.0, 30_000.0] {
        let back = ulaw_decode(ulaw_encode(s));
        assert!((back - s).abs() <= s.abs() / 16.0 + 8.0, "{s} -> {back}");
    }
}
