//! RFC 4733 telephone events (DTMF digits) in RTP: parsing what a phone
//! sends, and a sender that turns digits into event packets, one 20 ms tick
//! at a time.

/// Event payload: event (8 bits), end bit, reserved bit, volume (6 bits),
/// duration (16 bits, in RTP clock units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) code: u8,
    pub(crate) end: bool,
    pub(crate) volume: u8,
    pub(crate) duration: u16,
}

pub(crate) fn parse(payload: &[u8]) -> Option<Event> {
    let [code, flags, d0, d1, ..] = *payload else {
        return None;
    };
    Some(Event {
        code,
        end: flags & 0x80 != 0,
        volume: flags & 0x3f,
        duration: u16::from_be_bytes([d0, d1]),
    })
}

pub(crate) fn write(event: Event, out: &mut Vec<u8>) {
    out.push(event.code);
    out.push(u8::from(event.end) << 7 | (event.volume & 0x3f));
    out.extend_from_slice(&event.duration.to_be_bytes());
}

/// The digit of an event code (RFC 4733 3.2: 0-9, *, #, A-D).
pub(crate) fn digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some(char::from(b'0' + code)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + code - 12)),
        _ => None,
    }
}

pub(crate) fn code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// Reports each event once, although its end packet comes three times.
#[derive(Default)]
pub(crate) struct Receiver {
    /// RTP timestamp of the last event reported.
    reported: Option<u32>,
}

impl Receiver {
    /// The digit to report for this packet, if it ends an event not yet
    /// reported.
    pub(crate) fn on_packet(&mut self, timestamp: u32, event: Event) -> Option<char> {
        if !event.end || self.reported == Some(timestamp) {
            return None;
        }
        self.reported = Some(timestamp);
        digit(event.code)
    }
}

/// 8 kHz ticks in one 20 ms packet.
const STEP: u16 = 160;
/// Packets of tone per digit (100 ms).
const TONE_PACKETS: u16 = 5;
/// Ticks of silence after a digit (60 ms).
const GAP_TICKS: u8 = 3;
/// End packets sent per event (RFC 4733 2.5.1.4: the end is sent three times).
const END_PACKETS: u8 = 3;
/// -10 dBm0, a common level.
const VOLUME: u8 = 10;

/// One packet to send: the event, whether it starts the event (marker
/// bit), and whether it begins a new event timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) event: Event,
    pub(crate) first: bool,
}

/// Digits waiting and the one being sent.
#[derive(Default)]
pub(crate) struct Sender {
    queue: std::collections::VecDeque<u8>,
    /// Packets of the current event sent so far (tone, then ends).
    sent: u16,
    gap: u8,
    current: Option<u8>,
}

/// Digits queued at most (a long dial string is still short).
const MAX_QUEUE: usize = 64;

impl Sender {
    /// Queues `codes`; returns false (queueing none) if they do not fit.
    pub(crate) fn queue(&mut self, codes: &[u8]) -> bool {
        if self.queue.len() + codes.len() > MAX_QUEUE {
            return false;
        }
        self.queue.extend(codes);
        true
    }

    /// An event is being sent (audio is held back meanwhile).
    pub(crate) fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// The packet for this 20 ms tick, if any.
    pub(crate) fn tick(&mut self) -> Option<Outgoing> {
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            self.current = Some(self.queue.pop_front()?);
            self.sent = 0;
        }
        let code = self.current?;
        self.sent += 1;
        let tone = self.sent.min(TONE_PACKETS);
        let end = self.sent > TONE_PACKETS;
        if self.sent >= TONE_PACKETS + u16::from(END_PACKETS) {
            self.current = None;
            self.gap = GAP_TICKS;
        }
        Some(Outgoing {
            event: Event {
                code,
                end,
                volume: VOLUME,
                duration: tone * STEP,
            },
            first: self.sent == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_write() {
        let event = Event {
            code: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        let mut out = Vec::new();
        write(event, &mut out);
        assert_eq!(out, [11, 0x8a, 0x03, 0x20]);
        assert_eq!(parse(&out), Some(event));
        assert_eq!(parse(&out[..3]), None);
        assert_eq!(parse(&[]), None);
    }

    #[test]
    fn digits_map_both_ways() {
        for d in "0123456789*#ABCD".chars() {
            assert_eq!(digit(code(d).unwrap()), Some(d));
        }
        assert_eq!(code('x'), None);
        assert_eq!(digit(16), None);
    }

    #[test]
    fn redundant_ends_report_once() {
        let mut rx = Receiver::default();
        let tone = Event {
            code: 7,
            end: false,
            volume: 10,
            duration: 160,
        };
        let end = Event { end: true, ..tone };
        assert_eq!(rx.on_packet(1000, tone), None);
        assert_eq!(rx.on_packet(1000, end), Some('7'));
        assert_eq!(rx.on_packet(1000, end), None);
        assert_eq!(rx.on_packet(1000, end), None);
        assert_eq!(rx.on_packet(2000, end), Some('7'));
    }

    #[test]
    fn sender_sends_tone_then_three_ends_then_a_gap() {
        let mut tx = Sender::default();
        assert!(tx.queue(&[1, 2]));
        let mut packets = Vec::new();
        for _ in 0..30 {
            packets.push(tx.tick());
        }
        let first: Vec<Outgoing> = packets[..8].iter().map(|p| p.unwrap()).collect();
        assert!(first[0].first && !first[1].first);
        assert!(first.iter().all(|p| p.event.code == 1));
        assert_eq!(first[4].event.duration, 800);
        assert!(!first[4].event.end);
        assert!(
            first[5..]
                .iter()
                .all(|p| p.event.end && p.event.duration == 800)
        );
        assert!(packets[8..11].iter().all(Option::is_none));
        assert_eq!(packets[11].unwrap().event.code, 2);
        assert!(packets[11].unwrap().first);
        assert!(packets[19..].iter().all(Option::is_none));
        assert!(!tx.busy());
    }
}
