//! RTCP (RFC 3550 6): the sender report we send every few seconds (with a
//! reception report block about the phone's stream), and just enough
//! parsing of what the phone sends to count it as liveness and to echo its
//! last sender report time.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

const SR: u8 = 200;
const SDES: u8 = 202;

/// Our CNAME: one per engine is enough for a single-stream session.
const CNAME: &[u8] = b"switchboard";

/// What a compound packet from the peer told us.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The middle 32 bits of the NTP time in the peer's sender report.
    pub(crate) sender_report: Option<u32>,
}

/// Parses a compound RTCP packet; `None` if any part is malformed
/// (`version`, lengths), in which case it is ignored as a whole.
pub(crate) fn parse(mut data: &[u8]) -> Option<Parsed> {
    let mut parsed = Parsed::default();
    if data.is_empty() {
        return None;
    }
    while !data.is_empty() {
        if data.len() < 4 || data[0] >> 6 != 2 {
            return None;
        }
        let words = usize::from(u16::from_be_bytes([data[2], data[3]]));
        let size = (words + 1) * 4;
        let packet = data.get(..size)?;
        if packet[1] == SR && packet.len() >= 28 {
            parsed.sender_report = Some(u32::from_be_bytes([
                packet[10], packet[11], packet[12], packet[13],
            ]));
        }
        data = &data[size..];
    }
    Some(parsed)
}

/// RFC 3550 A.1 and A.8: what we know of the stream we receive.
#[derive(Default)]
pub(crate) struct Reception {
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Interarrival jitter in 8 kHz units, times 16 (A.8's fixed point).
    jitter: u32,
    last_transit: Option<i64>,
    /// The last sender report from the peer: its NTP middle bits, and when.
    last_sr: Option<(u32, Instant)>,
}

impl Reception {
    /// One RTP packet of the stream arrived at `arrival` (8 kHz units of
    /// our clock).
    pub(crate) fn on_packet(&mut self, ssrc: u32, seq: u16, timestamp: u32, arrival: u32) {
        if self.ssrc != Some(ssrc) {
            *self = Self {
                ssrc: Some(ssrc),
                base_seq: u32::from(seq),
                max_seq: seq,
                last_sr: self.last_sr,
                ..Self::default()
            };
        } else if seq.wrapping_sub(self.max_seq) < 0x8000 {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        }
        self.received = self.received.wrapping_add(1);
        let transit = i64::from(arrival) - i64::from(timestamp);
        if let Some(last) = self.last_transit {
            // Differences of wrapped 32-bit clocks: keep them in i32 range.
            let d = i64::from(((transit - last) as i32).unsigned_abs());
            let j = i64::from(self.jitter);
            self.jitter = (j + d - ((j + 8) >> 4)).clamp(0, i64::from(u32::MAX)) as u32;
        }
        self.last_transit = Some(transit);
    }

    pub(crate) fn on_sender_report(&mut self, ntp_middle: u32, now: Instant) {
        self.last_sr = Some((ntp_middle, now));
    }

    /// The 24-byte report block (and the interval bookkeeping of A.3), or
    /// `None` before anything was received.
    fn report_block(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let Some(ssrc) = self.ssrc else {
            return false;
        };
        let extended_max = self.cycles.wrapping_add(u32::from(self.max_seq));
        let expected = extended_max.wrapping_sub(self.base_seq).wrapping_add(1);
        let lost = i64::from(expected) - i64::from(self.received);
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        // Cumulative loss is a signed 24-bit field.
        let cumulative = lost.clamp(-0x80_0000, 0x7f_ffff) as i32;
        out.extend_from_slice(&ssrc.to_be_bytes());
        out.push(fraction);
        out.extend_from_slice(&cumulative.to_be_bytes()[1..]);
        out.extend_from_slice(&extended_max.to_be_bytes());
        out.extend_from_slice(&(self.jitter >> 4).to_be_bytes());
        let (lsr, dlsr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
            let delay = now.saturating_duration_since(at).as_secs_f64() * 65_536.0;
            (lsr, delay.min(f64::from(u32::MAX)) as u32)
        });
        out.extend_from_slice(&lsr.to_be_bytes());
        out.extend_from_slice(&dlsr.to_be_bytes());
        true
    }
}

/// Our side of the stream, for the sender report.
pub(crate) struct Sending {
    pub(crate) ssrc: u32,
    pub(crate) rtp_time: u32,
    pub(crate) packets: u32,
    pub(crate) octets: u32,
}

/// Writes a compound packet: a sender report (with a report block once the
/// peer's stream is known) and an SDES with our CNAME.
pub(crate) fn write_report(
    sending: &Sending,
    reception: &mut Reception,
    now: Instant,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(&[0x80, SR, 0, 6]);
    out.extend_from_slice(&sending.ssrc.to_be_bytes());
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = (wall.as_secs() + NTP_UNIX_OFFSET) as u32;
    let fraction = ((u64::from(wall.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    out.extend_from_slice(&seconds.to_be_bytes());
    out.extend_from_slice(&fraction.to_be_bytes());
    out.extend_from_slice(&sending.rtp_time.to_be_bytes());
    out.extend_from_slice(&sending.packets.to_be_bytes());
    out.extend_from_slice(&sending.octets.to_be_bytes());
    if reception.report_block(now, out) {
        out[0] |= 1;
        out[3] = 12;
    }
    // SDES: one chunk, CNAME item, null-terminated, padded to a word.
    let start = out.len();
    out.extend_from_slice(&[0x81, SDES, 0, 0]);
    out.extend_from_slice(&sending.ssrc.to_be_bytes());
    out.push(1);
    out.push(CNAME.len() as u8);
    out.extend_from_slice(CNAME);
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(reception: &mut Reception) -> Vec<u8> {
        let sending = Sending {
            ssrc: 0x1234_5678,
            rtp_time: 1600,
            packets: 10,
            octets: 1720,
        };
        let mut out = Vec::new();
        write_report(&sending, reception, Instant::now(), &mut out);
        out
    }

    #[test]
    fn sender_report_with_reception_block_parses_back() {
        let mut reception = Reception::default();
        for seq in [10u16, 11, 13, 14] {
            reception.on_packet(99, seq, u32::from(seq) * 160, u32::from(seq) * 160);
        }
        let out = report(&mut reception);
        assert_eq!(out.len() % 4, 0);
        assert_eq!(out[0], 0x81);
        assert_eq!(out[1], SR);
        assert_eq!(&out[4..8], &0x1234_5678u32.to_be_bytes());
        assert_eq!(&out[20..24], &10u32.to_be_bytes()); // packets
        assert_eq!(&out[28..32], &99u32.to_be_bytes()); // source of the block
        assert_eq!(out[32], 51); // one of five lost: 256/5
        assert_eq!(&out[33..36], &[0, 0, 1]); // cumulative lost
        assert_eq!(&out[36..40], &14u32.to_be_bytes()); // highest sequence
        assert_eq!(&out[40..44], &0u32.to_be_bytes()); // no jitter: evenly paced
        let parsed = parse(&out).expect("our own report parses");
        assert!(parsed.sender_report.is_some());
        // The next interval lost nothing.
        reception.on_packet(99, 15, 2400, 2400);
        assert_eq!(report(&mut reception)[32], 0);
    }

    #[test]
    fn without_reception_there_is_no_block() {
        let out = report(&mut Reception::default());
        assert_eq!(out[0], 0x80);
        assert_eq!(out[3], 6);
        assert!(parse(&out).is_some());
    }

    #[test]
    fn jitter_grows_with_uneven_arrival() {
        let mut reception = Reception::default();
        for i in 0..50u32 {
            let wobble = if i % 2 == 0 { 0 } else { 80 };
            reception.on_packet(1, i as u16, i * 160, i * 160 + wobble);
        }
        assert!(reception.jitter >> 4 > 20);
    }

    #[test]
    fn malformed_rtcp_is_refused_without_panicking() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x80, 200, 0]), None); // truncated header
        assert_eq!(parse(&[0x40, 200, 0, 0]), None); // version 1
        assert_eq!(parse(&[0x80, 200, 0xff, 0xff, 0, 0, 0, 0]), None); // length beyond data
        assert_eq!(parse(&[0x80, 200, 0, 1, 0, 0, 0, 0, 0x80]), None); // trailing garbage
        // A sender report too short for its NTP time is valid, just not used.
        assert_eq!(
            parse(&[0x80, 200, 0, 1, 0, 0, 0, 0]),
            Some(Parsed::default())
        );
        let good = report(&mut Reception::default());
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = parse(&bad);
        }
    }
}
