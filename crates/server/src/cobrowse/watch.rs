//! Late views of a shared page: the relay's replay (the last snapshot and the
//! changes since, so a view that comes late or back sees the page at once,
//! without a round trip to the visitor's page) and supervisors watching a
//! shared session read-only (docs/cobrowse.md, "Supervisors watching").

use tokio::sync::mpsc;

use super::{
    CobrowseError, Hub, Out, Seat, Session,
    board::Board,
    frames::{CaptureKind, SharedSession, ToAgent, ToVisitor},
};
use crate::{
    ids::{TenantId, UserId},
    protocol::encode,
};

/// Supervisors watching one session at once.
pub const MAX_WATCHERS: usize = 4;
/// What a session's replay holds; past it the replay is dropped until the
/// next snapshot, and a late view asks the page for one instead.
const REPLAY_BYTES: usize = 2 * 1024 * 1024;
const REPLAY_FRAMES: usize = 1000;
/// All sessions' replays together on this node.
pub const REPLAY_TOTAL: usize = 512 * 1024 * 1024;
/// A watcher's outbox: a whole replay fits.
const WATCHER_OUTBOX: usize = REPLAY_FRAMES + 64;

/// The capture frames since the start of the last snapshot, as relayed.
#[derive(Default)]
pub(super) struct Replay {
    frames: Vec<String>,
    bytes: usize,
    /// A snapshot's chunks are arriving.
    in_snapshot: bool,
    /// Holds a whole snapshot and every change since.
    whole: bool,
}

impl Replay {
    /// Keeps a relayed capture frame; returns the change in bytes held (for
    /// the node's total, `total` before this frame).
    pub(super) fn keep(&mut self, kind: CaptureKind, text: &str, total: usize) -> isize {
        let before = self.bytes;
        if let CaptureKind::Snapshot { last } = kind {
            if !self.in_snapshot {
                self.clear();
                self.whole = true;
            }
            self.in_snapshot = !last;
        }
        if self.whole {
            let room = self.bytes + text.len() <= REPLAY_BYTES
                && self.frames.len() < REPLAY_FRAMES
                && total + text.len() <= REPLAY_TOTAL;
            if room {
                self.frames.push(text.to_owned());
                self.bytes += text.len();
            } else {
                self.lose();
            }
        }
        self.bytes.cast_signed() - before.cast_signed()
    }

    /// Frames were lost or refused: nothing to replay until the next snapshot.
    /// Returns the bytes let go.
    pub(super) fn lose(&mut self) -> usize {
        let freed = self.bytes;
        self.clear();
        self.whole = false;
        freed
    }

    fn clear(&mut self) {
        self.frames = Vec::new();
        self.bytes = 0;
        self.in_snapshot = false;
    }

    /// The frames that rebuild the page as it is now, when held whole and
    /// they fit in `room` frames.
    pub(super) fn frames(&self, room: usize) -> Option<&[String]> {
        (self.whole && !self.in_snapshot && self.frames.len() <= room).then_some(&self.frames)
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A supervisor's read-only view of a session.
pub(super) struct Watcher {
    pub(super) seat: Seat,
}

/// Sends a late view the page as it is from the replay, then the
/// whiteboard; false when the replay is not whole (the page must send a
/// fresh snapshot).
pub(super) fn replay_to(replay: &Replay, board: &Board, seat: &Seat, room: usize) -> bool {
    let whole = replay.frames(room).map(|frames| {
        for text in frames {
            seat.send(text.clone());
        }
    });
    if let Some(board) = board.for_agent() {
        seat.send(encode(&board));
    }
    whole.is_some()
}

impl Session {
    /// Sends a late view the page as it is: the replay, or (when the replay
    /// is not whole) a fresh snapshot asked of the page.
    pub(super) fn catch_up(&mut self, seat: &Seat, room: usize) {
        if !replay_to(&self.replay, &self.board, seat, room) {
            self.stale = true;
            self.tell_visitor(&ToVisitor::SnapshotRequest);
        }
    }

    /// Tells the supervisors watching; one too slow to take it is let go.
    pub(super) fn tell_watchers(&mut self, text: &str) {
        self.watchers.retain(|w| w.seat.send(text.to_owned()));
    }

    /// Ends the supervisors' views with the session's end.
    pub(super) fn end_watchers(&mut self, reason: &'static str) {
        for w in self.watchers.drain(..) {
            let _ = w
                .seat
                .tx
                .try_send(Out::End(encode(&ToAgent::Ended { reason })));
        }
    }
}

impl Hub {
    /// The tenant's shared sessions, for a supervisor to pick one.
    pub(super) fn shared_sessions(&self, tenant: TenantId) -> Vec<SharedSession> {
        let sessions = self.lock();
        let mut list: Vec<SharedSession> = sessions
            .by_id
            .iter()
            .filter(|(_, s)| s.tenant == tenant && s.sharing)
            .filter_map(|(id, s)| {
                let agent = s.agent.as_ref()?;
                Some(SharedSession {
                    session: id.clone(),
                    agent_name: agent.name.clone(),
                    contact: s.contact.map(|c| c.0),
                    watchers: s.watchers.len(),
                })
            })
            .collect();
        list.sort_by(|a, b| a.agent_name.cmp(&b.agent_name));
        list
    }

    /// A supervisor of the tenant watches a shared session, read-only: the
    /// page at once from the replay, then what the agent sees.
    pub(super) fn supervise(
        &self,
        tenant: TenantId,
        user: UserId,
        id: &str,
    ) -> Result<(u64, mpsc::Receiver<Out>, ToAgent), CobrowseError> {
        let (seat, rx) = self.seat(WATCHER_OUTBOX);
        let conn = seat.conn;
        let mut sessions = self.lock();
        let s = sessions
            .by_id
            .get_mut(id)
            .filter(|s| s.tenant == tenant && s.sharing)
            .ok_or(CobrowseError::UnknownSession)?;
        if s.watchers.len() >= MAX_WATCHERS {
            return Err(CobrowseError::Full);
        }
        s.catch_up(&seat, REPLAY_FRAMES);
        s.note_as("supervisor", Some(user), "watch", String::new());
        s.watchers.push(Watcher { seat });
        metrics::counter!("switchboard_cobrowse_watches_total").increment(1);
        Ok((
            conn,
            rx,
            ToAgent::Sharing {
                session: id.to_owned(),
                contact: s.contact.map(|c| c.0),
                asset_origins: Vec::new(),
            },
        ))
    }

    /// A supervisor's view closed or left.
    pub(super) fn unwatch(&self, id: &str, conn: u64) {
        if let Some(s) = self.lock().by_id.get_mut(id) {
            s.watchers.retain(|w| w.seat.conn != conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_holds_the_last_snapshot_and_the_changes_since() {
        let mut r = Replay::default();
        // Changes before any snapshot rebuild nothing.
        r.keep(CaptureKind::Mutations, "m0", 0);
        assert!(r.frames(10).is_none());
        r.keep(CaptureKind::Snapshot { last: false }, "s1a", 0);
        assert!(r.frames(10).is_none(), "half a snapshot");
        r.keep(CaptureKind::Snapshot { last: true }, "s1b", 0);
        r.keep(CaptureKind::Mutations, "m1", 0);
        assert_eq!(r.frames(10).unwrap(), ["s1a", "s1b", "m1"]);
        assert!(r.frames(2).is_none(), "more than the view's room");
        // A new snapshot starts over.
        r.keep(CaptureKind::Snapshot { last: true }, "s2", 0);
        assert_eq!(r.frames(10).unwrap(), ["s2"]);
        // Lost frames: nothing until the next snapshot.
        assert_eq!(r.lose(), 2);
        r.keep(CaptureKind::Other, "p", 0);
        assert!(r.frames(10).is_none());
        r.keep(CaptureKind::Snapshot { last: true }, "s3", 0);
        assert_eq!(r.frames(10).unwrap(), ["s3"]);
        // Past the node's total, the replay is let go.
        let held = r.bytes();
        assert_eq!(
            r.keep(CaptureKind::Mutations, "m", REPLAY_TOTAL),
            -held.cast_signed()
        );
        assert!(r.frames(10).is_none());
    }
}
