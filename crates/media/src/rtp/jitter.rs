//! A small jitter buffer for one RTP stream: packets reordered by sequence
//! number, drained one packet per 20 ms tick.
//!
//! Latency stays small by design: a phone on a trunk sends evenly paced
//! 20 ms packets, so the buffer only absorbs reordering and a little jitter.
//! A tick that finds the next packet missing while later ones wait reports
//! a loss and moves on; a tick that finds the buffer empty reports an
//! underrun and waits for the packet (it may be late, not lost), which adds
//! one frame of delay.
//!
//! The delay is bounded when a tick has played, not when a packet arrives:
//! packets that queued up while the call task was late (or came in a burst)
//! are all kept for that task's catch-up ticks, up to [`CATCH_UP`] frames
//! more than [`CAPACITY`]; what is still held beyond [`CAPACITY`] once the
//! ticks are done is dropped, oldest first ([`JitterBuffer::trim`]).
//!
//! Delay an underrun added is given back: the buffer watches the fewest
//! packets it held after a tick over [`SHRINK_WATCH`] ticks; that many
//! were not needed by the phone's jitter, and they are dropped at the next
//! quiet frames instead of played, 20 ms less delay each. Without a quiet
//! frame (a tone, music on hold) one goes anyway every [`SHRINK_ANYWAY`]
//! ticks. An underrun cancels what was still to drop.

use std::collections::VecDeque;

use bytes::Bytes;

use super::count_playout;

/// Packets held after a tick at most (60 ms of 20 ms frames): the delay
/// the buffer may add.
pub(crate) const CAPACITY: usize = 3;

/// Frames a late call task plays at most to catch up (100 ms): the packets
/// that came while it was late wait for it, beyond [`CAPACITY`].
pub(crate) const CATCH_UP: usize = 5;

/// Packets held between ticks at most.
const BURST: usize = CAPACITY + CATCH_UP;

/// Ticks over which the buffer's least holding is watched (2 s).
pub(crate) const SHRINK_WATCH: u32 = 100;

/// Ticks a frame found spare waits for a quiet one before it goes anyway (5 s).
pub(crate) const SHRINK_ANYWAY: u32 = 250;

/// A jump in sequence numbers beyond this is a restarted stream, not loss.
const MAX_JUMP: u16 = 100;

/// What a tick gets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Playout {
    Frame(Bytes),
    /// The next packet is missing and later ones are here: it is lost.
    Lost,
    /// Nothing to play.
    Empty,
}

#[derive(Default)]
pub(crate) struct JitterBuffer {
    /// Ordered by sequence number (wrapping).
    packets: VecDeque<(u16, Bytes)>,
    /// The sequence number the next tick plays; `None` before the first.
    next: Option<u16>,
    /// Late and duplicate packets dropped.
    pub(crate) late: u64,
    /// Packets dropped to bound the delay (or because a burst overflowed).
    pub(crate) overflow: u64,
    shrink: Shrink,
    /// Packets dropped to give back delay no longer needed.
    pub(crate) shrunk: u64,
}

/// How much of the buffer's delay the phone's jitter uses.
#[derive(Default)]
struct Shrink {
    /// Ticks watched so far.
    ticks: u32,
    /// Fewest packets held after a tick while watching.
    least: Option<usize>,
    /// Frames found spare, still to drop.
    owed: usize,
    /// Ticks spent waiting for a quiet frame to drop (reset by each drop).
    waited: u32,
}

/// `a` comes before `b`, modulo 2^16.
fn before(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000
}

impl JitterBuffer {
    pub(crate) fn push(&mut self, seq: u16, payload: Bytes) {
        if let Some(next) = self.next {
            let ahead = seq.wrapping_sub(next);
            let behind = next.wrapping_sub(seq);
            if ahead > MAX_JUMP && behind > MAX_JUMP {
                // The sender restarted its sequence: start over.
                self.packets.clear();
                self.next = None;
            } else if before(seq, next) {
                self.discard_late();
                return;
            }
        }
        let at = self.packets.iter().rposition(|(s, _)| !before(seq, *s));
        let index = match at {
            Some(i) if self.packets[i].0 == seq => {
                self.discard_late();
                return;
            }
            Some(i) => i + 1,
            None => 0,
        };
        self.packets.insert(index, (seq, payload));
        self.drop_oldest_beyond(BURST);
    }

    /// Bounds the delay: called after a tick's frames were played, it drops
    /// the oldest packets beyond [`CAPACITY`] and plays on from the next;
    /// then gives back a frame of delay the phone's jitter has not needed
    /// for a while, when `quiet` says the frame due next will not be missed.
    pub(crate) fn trim(&mut self, quiet: impl Fn(&[u8]) -> bool) {
        self.drop_oldest_beyond(CAPACITY);
        let shrink = &mut self.shrink;
        if shrink.owed == 0 {
            let held = self.packets.len();
            shrink.least = Some(shrink.least.map_or(held, |least| least.min(held)));
            shrink.ticks += 1;
            if shrink.ticks >= SHRINK_WATCH {
                shrink.owed = shrink.least.unwrap_or(0);
                shrink.ticks = 0;
                shrink.least = None;
                shrink.waited = 0;
            }
            return;
        }
        shrink.waited += 1;
        let Some((seq, payload)) = self.packets.front() else {
            return;
        };
        // Only the frame due next: after a gap, the loss is played first.
        let due_next = self.next.is_none_or(|next| next == *seq);
        if due_next && (shrink.waited >= SHRINK_ANYWAY || quiet(payload)) {
            let seq = *seq;
            self.packets.pop_front();
            self.next = Some(seq.wrapping_add(1));
            shrink.owed -= 1;
            shrink.waited = 0;
            self.shrunk += 1;
            count_playout("shrunk", 1);
        }
    }

    fn drop_oldest_beyond(&mut self, limit: usize) {
        let excess = self.packets.len().saturating_sub(limit);
        if excess == 0 {
            return;
        }
        self.packets.drain(..excess);
        self.overflow += excess as u64;
        count_playout("overflow", excess as u64);
        self.next = self.packets.front().map(|(s, _)| *s);
    }

    fn discard_late(&mut self) {
        self.late += 1;
        count_playout("late", 1);
    }

    /// Called once per 20 ms tick.
    pub(crate) fn pop(&mut self) -> Playout {
        let Some(&(seq, _)) = self.packets.front() else {
            // An underrun: the delay held is all needed.
            self.shrink.owed = 0;
            self.shrink.least = Some(0);
            return Playout::Empty;
        };
        match self.next {
            Some(next) if next != seq => {
                self.next = Some(next.wrapping_add(1));
                Playout::Lost
            }
            _ => {
                self.next = Some(seq.wrapping_add(1));
                self.packets
                    .pop_front()
                    .map_or(Playout::Empty, |(_, payload)| Playout::Frame(payload))
            }
        }
    }

    pub(crate) fn reset(&mut self) {
        self.packets.clear();
        self.next = None;
        self.shrink = Shrink::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u16) -> Bytes {
        Bytes::copy_from_slice(&seq.to_be_bytes())
    }

    fn played(p: Playout) -> Option<u16> {
        match p {
            Playout::Frame(b) => Some(u16::from_be_bytes([b[0], b[1]])),
            _ => None,
        }
    }

    #[test]
    fn reordered_packets_play_in_order() {
        let mut jb = JitterBuffer::default();
        jb.push(10, frame(10));
        jb.push(12, frame(12));
        jb.push(11, frame(11));
        assert_eq!(played(jb.pop()), Some(10));
        assert_eq!(played(jb.pop()), Some(11));
        assert_eq!(played(jb.pop()), Some(12));
        assert_eq!(jb.pop(), Playout::Empty);
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped() {
        let mut jb = JitterBuffer::default();
        jb.push(5, frame(5));
        jb.push(5, frame(5));
        assert_eq!(played(jb.pop()), Some(5));
        jb.push(4, frame(4));
        jb.push(5, frame(5));
        assert_eq!(jb.late, 3);
        assert_eq!(jb.pop(), Playout::Empty);
    }

    #[test]
    fn a_gap_is_a_loss_once_later_packets_wait() {
        let mut jb = JitterBuffer::default();
        jb.push(1, frame(1));
        assert_eq!(played(jb.pop()), Some(1));
        // 2 has not come: an underrun, 2 may still arrive.
        assert_eq!(jb.pop(), Playout::Empty);
        jb.push(3, frame(3));
        assert_eq!(jb.pop(), Playout::Lost);
        assert_eq!(played(jb.pop()), Some(3));
        jb.push(2, frame(2)); // too late now
        assert_eq!(jb.late, 1);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut jb = JitterBuffer::default();
        jb.push(65_535, frame(65_535));
        jb.push(0, frame(0));
        assert_eq!(played(jb.pop()), Some(65_535));
        assert_eq!(played(jb.pop()), Some(0));
    }

    #[test]
    fn overflow_drops_the_oldest() {
        let mut jb = JitterBuffer::default();
        for s in 0..10 {
            jb.push(s, frame(s));
        }
        assert_eq!(jb.overflow, 2);
        assert_eq!(played(jb.pop()), Some(2));
    }

    #[test]
    fn packets_a_late_task_finds_are_all_played_by_its_catch_up() {
        // Four packets came while the call task was 60 ms late (its four
        // ticks are due at once), on top of one already waiting.
        let mut jb = JitterBuffer::default();
        for s in 0..5 {
            jb.push(s, frame(s));
        }
        assert_eq!(jb.overflow, 0, "nothing is dropped on arrival");
        for s in 0..4 {
            assert_eq!(played(jb.pop()), Some(s));
        }
        jb.trim(|_| false);
        assert_eq!(jb.overflow, 0, "one left: within the delay bound");
        assert_eq!(played(jb.pop()), Some(4));
        assert_eq!(jb.late, 0);
    }

    #[test]
    fn the_delay_is_bounded_once_a_tick_has_played() {
        let mut jb = JitterBuffer::default();
        for s in 0..6 {
            jb.push(s, frame(s));
        }
        assert_eq!(played(jb.pop()), Some(0));
        jb.trim(|_| false);
        // Five were left; the two oldest go, and play goes on from 3.
        assert_eq!(jb.overflow, 2);
        assert_eq!(played(jb.pop()), Some(3));
        jb.push(2, frame(2));
        assert_eq!(jb.late, 1, "a dropped packet's seat is not taken back");
    }

    #[test]
    fn a_restarted_stream_starts_over() {
        let mut jb = JitterBuffer::default();
        jb.push(100, frame(100));
        assert_eq!(played(jb.pop()), Some(100));
        jb.push(40_000, frame(40_000));
        assert_eq!(played(jb.pop()), Some(40_000));
    }

    /// Ticks of a phone whose packets keep the buffer holding what it holds
    /// (one in, one out), until `ticks` have passed or a packet was dropped
    /// to shrink.
    fn steady(jb: &mut JitterBuffer, seq: &mut u16, ticks: u32, quiet: bool) {
        for _ in 0..ticks {
            jb.push(*seq, frame(*seq));
            *seq = seq.wrapping_add(1);
            let shrunk = jb.shrunk;
            assert!(played(jb.pop()).is_some());
            jb.trim(|_| quiet);
            if jb.shrunk > shrunk {
                return;
            }
        }
    }

    /// A buffer holding `spare` packets beyond the one each tick plays.
    fn holding(spare: u16) -> (JitterBuffer, u16) {
        let mut jb = JitterBuffer::default();
        for s in 0..spare {
            jb.push(s, frame(s));
        }
        (jb, spare)
    }

    #[test]
    fn a_spare_frame_not_needed_for_a_while_is_given_back_when_quiet() {
        let (mut jb, mut seq) = holding(1);
        steady(&mut jb, &mut seq, SHRINK_WATCH, true);
        assert_eq!(jb.shrunk, 0, "not before {SHRINK_WATCH} ticks were watched");
        steady(&mut jb, &mut seq, 1, true);
        assert_eq!(jb.shrunk, 1);
        // The spare was dropped: the next tick plays the packet that comes
        // for it, with no loss reported, and nothing is held after it.
        jb.push(seq, frame(seq));
        assert_eq!(played(jb.pop()), Some(seq));
        assert_eq!(jb.pop(), Playout::Empty);
        assert_eq!((jb.late, jb.overflow), (0, 0));
    }

    #[test]
    fn every_spare_frame_found_goes_at_the_next_quiet_ones() {
        let (mut jb, mut seq) = holding(3);
        steady(&mut jb, &mut seq, SHRINK_WATCH, true);
        for _ in 0..3 {
            steady(&mut jb, &mut seq, 1, true);
        }
        assert_eq!(jb.shrunk, 3);
        // None is spare now: another watch gives nothing back.
        jb.push(seq, frame(seq));
        seq += 1;
        assert!(played(jb.pop()).is_some());
        assert_eq!(jb.pop(), Playout::Empty);
        for _ in 0..2 * SHRINK_WATCH {
            jb.push(seq, frame(seq));
            assert_eq!(played(jb.pop()), Some(seq));
            seq += 1;
            jb.trim(|_| true);
        }
        assert_eq!(jb.shrunk, 3);
    }

    #[test]
    fn without_a_quiet_frame_the_spare_goes_only_much_later() {
        let (mut jb, mut seq) = holding(1);
        steady(&mut jb, &mut seq, SHRINK_WATCH + SHRINK_ANYWAY - 1, false);
        assert_eq!(jb.shrunk, 0);
        steady(&mut jb, &mut seq, 1, false);
        assert_eq!(jb.shrunk, 1);
    }

    #[test]
    fn an_underrun_starts_the_watch_over() {
        let (mut jb, mut seq) = holding(1);
        steady(&mut jb, &mut seq, SHRINK_WATCH - 1, true);
        // The phone's packets come late for a moment: the spare is used up.
        assert_eq!(played(jb.pop()), Some(seq - 1));
        assert_eq!(jb.pop(), Playout::Empty);
        jb.trim(|_| true);
        jb.push(seq, frame(seq));
        seq += 1;
        steady(&mut jb, &mut seq, SHRINK_WATCH - 1, true);
        assert_eq!(jb.shrunk, 0, "the spare the underrun showed is needed");
        // A whole watch with the spare again: now it goes.
        steady(&mut jb, &mut seq, 2, true);
        assert_eq!(jb.shrunk, 1);
    }

    #[test]
    fn a_buffer_that_holds_nothing_spare_never_shrinks() {
        let mut jb = JitterBuffer::default();
        for s in 0..(4 * SHRINK_WATCH) {
            let s = s as u16;
            jb.push(s, frame(s));
            assert_eq!(played(jb.pop()), Some(s));
            jb.trim(|_| true);
        }
        assert_eq!(jb.shrunk, 0);
    }
}
