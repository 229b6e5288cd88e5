//! The connections, owned in one place: each visitor tab (with the tabs that
//! share a resume token and the tabs watching a queue's status), each agent
//! console, and each agent's seat (their consoles together). Sending to a
//! connection goes through here; a connection too slow to take a frame is
//! reported back so the desk can let it go.

use std::{
    collections::{HashMap, HashSet},
    hash::BuildHasher,
    sync::Arc,
};

use tokio::time::Instant;

use super::{ConnId, Outbox, screenpop};
use crate::{
    desk::Profile,
    ids::{ContactId, QueueId, TenantId, UserId},
    protocol::{PageContext, ToAgent, ToVisitor},
    store::Link,
};

pub(super) struct VisitorConn {
    pub(super) tenant: TenantId,
    /// Shared with the desk's other visitors on the link (`Tenants::shared_link`).
    pub(super) link: Arc<Link>,
    pub(super) resume_hash: String,
    pub(super) hello: VisitorHello,
    pub(super) outbox: Outbox<ToVisitor>,
    pub(super) contact: Option<ContactId>,
    /// The client's address, for the limits kept per address.
    pub(super) ip: std::net::IpAddr,
    /// The tenant's call limits as they were at hello (no read per call),
    /// shared with the tenant's other visitors (`Tenants::shared_settings`).
    pub(super) calls: Arc<crate::store::TenantCalls>,
    /// The cookies and form fields the tenant lets this page share (shared
    /// likewise).
    pub(super) share: Arc<crate::store::ContextShare>,
    /// What the store knows of this (verified) visitor, handed in with the
    /// frame that starts a contact and used by it.
    pub(super) profile: Option<Box<Profile>>,
}

/// What a visitor said at hello, kept to build the contact when they start.
#[derive(Clone)]
pub(super) struct VisitorHello {
    pub(super) context: PageContext,
    pub(super) identity: screenpop::Identity,
    /// Region supplied by the merchant's page (at most 64 characters).
    pub(super) region: Option<String>,
}

/// A staff member connected to the desk (one or more consoles).
pub(super) struct Seat {
    pub(super) tenant: TenantId,
    pub(super) name: String,
    pub(super) display_name: String,
    pub(super) conns: Vec<ConnId>,
    pub(super) wrapup_codes: Vec<String>,
    /// When the last console closed while the agent was available: a console
    /// that comes back within the grace time (reload, network blip) resumes
    /// being available instead of starting over as not ready.
    pub(super) dropped_while_available: Option<Instant>,
    /// The presence last sent to the consoles, as (state, reason).
    pub(super) presence: Option<(&'static str, Option<String>)>,
}

pub(super) struct AgentConn {
    pub(super) user: UserId,
    pub(super) outbox: Outbox<ToAgent>,
}

#[derive(Default)]
pub(super) struct Connections {
    /// Boxed: a map's table holds about twice its length in slots, and a
    /// `VisitorConn` is several hundred bytes (docs/benchmarks.md).
    visitors: HashMap<ConnId, Box<VisitorConn>>,
    /// Every open tab of a visitor (connections sharing a resume token), so a
    /// chat started in one tab reaches the others without a scan. Keyed by a
    /// digest of the token's hash, not a copy of it (each tab's record holds
    /// the hash): `idle_tabs` compares the whole hash.
    tabs: HashMap<u64, Vec<ConnId>>,
    tab_keys: std::hash::RandomState,
    /// Visitor connections without a conversation, by the queue whose status they watch.
    watchers: HashMap<QueueId, HashSet<ConnId>>,
    consoles: HashMap<ConnId, AgentConn>,
    seats: HashMap<UserId, Seat>,
}

impl Connections {
    pub(super) fn visitor(&self, conn: ConnId) -> Option<&VisitorConn> {
        self.visitors.get(&conn).map(AsRef::as_ref)
    }

    pub(super) fn visitor_mut(&mut self, conn: ConnId) -> Option<&mut VisitorConn> {
        self.visitors.get_mut(&conn).map(AsMut::as_mut)
    }

    /// A visitor tab that said hello, among its resume token's tabs.
    pub(super) fn add_visitor(&mut self, conn: ConnId, visitor: VisitorConn) {
        let key = self.tab_keys.hash_one(&visitor.resume_hash);
        // Most visitors have one tab.
        self.tabs
            .entry(key)
            .or_insert_with(|| Vec::with_capacity(1))
            .push(conn);
        self.visitors.insert(conn, Box::new(visitor));
    }

    /// A visitor tab closed: it leaves its token's tabs and its queue's watchers.
    pub(super) fn remove_visitor(&mut self, conn: ConnId) -> Option<VisitorConn> {
        let visitor = *self.visitors.remove(&conn)?;
        let key = self.tab_keys.hash_one(&visitor.resume_hash);
        if let Some(tabs) = self.tabs.get_mut(&key) {
            tabs.retain(|c| *c != conn);
            if tabs.is_empty() {
                self.tabs.remove(&key);
            }
        }
        self.unwatch(visitor.link.queue, conn);
        Some(visitor)
    }

    /// The tabs of a resume token on `link` that have no conversation open.
    pub(super) fn idle_tabs(&self, resume_hash: &str, link: crate::ids::LinkId) -> Vec<ConnId> {
        self.tabs
            .get(&self.tab_keys.hash_one(resume_hash))
            .into_iter()
            .flatten()
            .copied()
            .filter(|c| {
                self.visitors.get(c).is_some_and(|v| {
                    v.resume_hash == resume_hash && v.contact.is_none() && v.link.id == link
                })
            })
            .collect()
    }

    pub(super) fn watch(&mut self, queue: QueueId, conn: ConnId) {
        self.watchers.entry(queue).or_default().insert(conn);
    }

    pub(super) fn unwatch(&mut self, queue: QueueId, conn: ConnId) {
        if let Some(w) = self.watchers.get_mut(&queue) {
            w.remove(&conn);
        }
    }

    pub(super) fn watchers(&self, queue: QueueId) -> Vec<ConnId> {
        self.watchers
            .get(&queue)
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Queues a frame for a visitor tab; false when it is gone or too slow.
    pub(super) fn to_visitor(&self, conn: ConnId, frame: ToVisitor) -> bool {
        self.visitors
            .get(&conn)
            .is_some_and(|v| v.outbox.send(frame))
    }

    /// Queues a frame for each of `conns`; returns the ones too slow to take it.
    pub(super) fn to_visitors(&self, conns: &[ConnId], frame: &ToVisitor) -> Vec<ConnId> {
        conns
            .iter()
            .copied()
            .filter(|conn| {
                self.visitors
                    .get(conn)
                    .is_some_and(|v| !v.outbox.send(frame.clone()))
            })
            .collect()
    }

    pub(super) fn console(&self, conn: ConnId) -> Option<&AgentConn> {
        self.consoles.get(&conn)
    }

    pub(super) fn add_console(&mut self, conn: ConnId, console: AgentConn) {
        self.consoles.insert(conn, console);
    }

    pub(super) fn remove_console(&mut self, conn: ConnId) -> Option<AgentConn> {
        self.consoles.remove(&conn)
    }

    /// Queues a frame for one console; false when it is gone or too slow.
    pub(super) fn to_console(&self, conn: ConnId, frame: ToAgent) -> bool {
        self.consoles
            .get(&conn)
            .is_some_and(|c| c.outbox.send(frame))
    }

    /// Queues a frame for every console of an agent; returns the ones too
    /// slow to take it.
    pub(super) fn to_agent(&self, user: UserId, frame: &ToAgent) -> Vec<ConnId> {
        let Some(seat) = self.seats.get(&user) else {
            return Vec::new();
        };
        seat.conns
            .iter()
            .copied()
            .filter(|conn| {
                self.consoles
                    .get(conn)
                    .is_some_and(|c| !c.outbox.send(frame.clone()))
            })
            .collect()
    }

    pub(super) fn seat(&self, user: UserId) -> Option<&Seat> {
        self.seats.get(&user)
    }

    pub(super) fn seat_mut(&mut self, user: UserId) -> Option<&mut Seat> {
        self.seats.get_mut(&user)
    }

    pub(super) fn add_seat(&mut self, user: UserId, seat: Seat) {
        self.seats.insert(user, seat);
    }

    pub(super) fn seats(&self) -> impl Iterator<Item = (&UserId, &Seat)> {
        self.seats.iter()
    }
}
