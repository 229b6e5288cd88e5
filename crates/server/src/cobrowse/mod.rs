//! Co-browsing (docs/cobrowse.md): the visitor's page, captured and masked in
//! the page itself, relayed to the one agent the visitor let in.
//!
//! The [`Hub`] holds the live sessions. A session starts when the visitor's
//! page opens `/ws/cobrowse` on the public listener and gets a six-digit join
//! code; an agent on the agent listener's `/ws/cobrowse` keys the code, the
//! visitor accepts, and capture frames flow from the page to that agent's view
//! (and the agent's pointer, highlights, pushed pages and, with a second
//! consent, clicks and typing flow back). Nothing of the page reaches the
//! database: an agent who reloads, or a supervisor who watches
//! (`watch.rs`), gets the last snapshot and the changes since from memory, or
//! a fresh snapshot from the page. The whiteboard ([`board`]) is kept by the
//! session; agents' actions and the board's shapes go to the contact's record
//! through one writer task ([`Recorder`]).
//!
//! # Layout
//!
//! * `mod.rs`: the hub, its sessions and the relay's rules.
//! * `frames.rs`: every frame, parsed and checked.
//! * `visitor.rs`, `agent.rs`: the two WebSocket ends; `agent_seat.rs`: the
//!   agent's side of a session (joining by code, coming back, actions).
//! * `contact.rs`: the contact a join by code alone opens;
//!   `phone_push.rs`: push codes keyed on the phone.
//! * `board.rs`: the whiteboard; `watch.rs`: replay and supervisors;
//!   `record.rs`: the contact's record.
//!
//! Each connection has a bounded outbox; a view that cannot keep up is cut
//! off (it can come back with `watch`) rather than buffered. Every lookup is
//! by tenant: a code or a session id from another tenant is simply unknown.

mod agent;
mod agent_seat;
mod assets;
pub mod board;
mod contact;
pub mod frames;
mod phone_push;
mod record;
mod visitor;
mod watch;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rand::Rng;
use tokio::sync::mpsc;

pub use agent::{frame_page, upgrade as agent_upgrade};
pub use assets::asset as asset_page;
pub use record::Recorder;
pub use visitor::upgrade as visitor_upgrade;

use crate::{
    http::limit::RateLimiter,
    ids::{ContactId, TenantId, UserId},
    protocol::{ErrorCode, FrameError, encode},
    store::NewCobrowseEvent,
};
use frames::{CaptureKind, FromVisitor, ToAgent, ToVisitor};

/// How long a join code is valid.
pub const CODE_LIFETIME: Duration = Duration::from_mins(10);
/// How long a session waits for its page to come back (a page load) or for
/// its agent's view to come back (a console reload) before it ends.
pub const GRACE: Duration = Duration::from_secs(30);
/// Join attempts per agent per minute, and per tenant per minute: with a
/// million codes and at most 10 * 60 tries per tenant in a code's lifetime, a
/// guess succeeds with odds under 1 in 1,600 per live code.
pub const JOINS_PER_AGENT: u32 = 5;
pub const JOINS_PER_TENANT: u32 = 60;
/// Live sessions per tenant and in all.
pub const MAX_SESSIONS_PER_TENANT: usize = 500;
pub const MAX_SESSIONS: usize = 10_000;
/// Stylesheets and fonts a view may have fetched per minute.
pub const ASSETS_PER_VIEWER: u32 = 300;
/// Frames waiting for a visitor's page / an agent's view.
const VISITOR_OUTBOX: usize = 64;
const AGENT_OUTBOX: usize = 256;

/// Why a co-browse request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CobrowseError {
    #[error("no such join code (codes are six digits, valid 10 minutes, used once)")]
    NoSuchCode,
    #[error("too many join attempts; wait a minute")]
    TooManyAttempts,
    #[error("unknown co-browse session")]
    UnknownSession,
    #[error("join a session first")]
    NoSession,
    #[error("the visitor has not accepted sharing")]
    NotSharing,
    #[error("the visitor has not given control")]
    NoControl,
    #[error("an agent is already in this session")]
    Taken,
    #[error("too many co-browse sessions; try again later")]
    Full,
    #[error("say hello first")]
    NoHello,
}

impl From<CobrowseError> for FrameError {
    fn from(e: CobrowseError) -> Self {
        let code = match e {
            CobrowseError::TooManyAttempts => ErrorCode::RateLimited,
            CobrowseError::NoSuchCode | CobrowseError::UnknownSession => ErrorCode::Invalid,
            CobrowseError::Taken => ErrorCode::Forbidden,
            _ => ErrorCode::BadState,
        };
        FrameError::new(code, e.to_string())
    }
}

/// What a connection task writes: a frame, or a last frame and then close.
#[derive(Debug)]
pub enum Out {
    Text(String),
    End(String),
}

/// One connection's end of a session.
struct Seat {
    conn: u64,
    tx: mpsc::Sender<Out>,
}

impl Seat {
    /// Queues a frame; false when the connection is full or gone.
    fn send(&self, text: String) -> bool {
        self.tx.try_send(Out::Text(text)).is_ok()
    }
}

struct AgentSeat {
    user: UserId,
    name: String,
    seat: Option<Seat>,
    /// Since when no view is open for this agent.
    away_since: Option<Instant>,
}

struct Session {
    tenant: TenantId,
    /// The page's origin (its `Origin` header): the only site pushes may open.
    origin: String,
    /// The page's secret to carry the session to its next page load.
    resume: String,
    code: Option<(String, Instant)>,
    visitor: Option<Seat>,
    visitor_away_since: Option<Instant>,
    agent: Option<AgentSeat>,
    sharing: bool,
    control: bool,
    /// Capture frames were lost since the last snapshot: drop the rest until
    /// a fresh one arrives.
    stale: bool,
    last_seq: Option<u64>,
    /// The contact the agent holds with this visitor, whose record lists
    /// the session's actions (for a join by code alone, the one opened when
    /// the visitor confirmed).
    contact: Option<ContactId>,
    /// `contact` was opened for this session, and is closed with it.
    opened_contact: bool,
    board: board::Board,
    recorder: Option<Recorder>,
    /// The field the agent last typed into: typing is listed once per field.
    filled: Option<u64>,
    /// The agent's pointer was used in this view: listed once per view, not
    /// per move (moves come at display rate).
    pointed: bool,
    replay: watch::Replay,
    watchers: Vec<watch::Watcher>,
}

impl Session {
    /// Lists an action in the contact's record (when there is a contact);
    /// an agent's is theirs.
    fn note(&self, actor: &'static str, action: &'static str, detail: String) {
        let user = match actor {
            "agent" => self.agent.as_ref().map(|a| a.user),
            _ => None,
        };
        self.note_as(actor, user, action, detail);
    }

    fn note_as(
        &self,
        actor: &'static str,
        user: Option<UserId>,
        action: &'static str,
        detail: String,
    ) {
        let (Some(recorder), Some(contact)) = (&self.recorder, self.contact) else {
            return;
        };
        recorder.note(NewCobrowseEvent {
            tenant: self.tenant,
            contact,
            at: crate::store::now_ms(),
            actor,
            user,
            action,
            detail,
        });
    }

    fn tell_visitor(&self, frame: &ToVisitor) {
        if let Some(v) = &self.visitor {
            v.send(encode(frame));
        }
    }

    /// Tells the agent's view; a view too slow to take it is cut off.
    fn tell_agent(&mut self, text: String) {
        let Some(agent) = &mut self.agent else { return };
        if let Some(seat) = &agent.seat
            && !seat.send(text)
        {
            metrics::counter!("switchboard_cobrowse_views_dropped_total").increment(1);
            // Dropping the sender closes the view; it says `too_slow`.
            agent.seat = None;
            agent.away_since = Some(Instant::now());
        }
    }

    fn end_agent(&mut self, reason: &'static str) {
        if self.sharing {
            self.note("agent", "view_stop", reason.to_owned());
        }
        self.end_watchers(reason);
        if std::mem::take(&mut self.opened_contact)
            && let (Some(recorder), Some(contact)) = (&self.recorder, self.contact.take())
        {
            contact::close(&recorder.store, self.tenant, contact);
        }
        if let Some(agent) = self.agent.take()
            && let Some(seat) = agent.seat
        {
            let _ = seat
                .tx
                .try_send(Out::End(encode(&ToAgent::Ended { reason })));
        }
        self.sharing = false;
        self.control = false;
    }
}

#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, Session>,
    /// (tenant, code) -> session id.
    codes: HashMap<(TenantId, String), String>,
    /// Bytes in every session's replay (bounded by `watch::REPLAY_TOTAL`).
    replay_total: usize,
}

impl Sessions {
    fn new_code(&mut self, tenant: TenantId, id: &str, now: Instant) -> String {
        let mut rng = rand::rng();
        loop {
            let code = format!("{:06}", rng.random_range(0..1_000_000u32));
            if let std::collections::hash_map::Entry::Vacant(slot) =
                self.codes.entry((tenant, code.clone()))
            {
                slot.insert(id.to_owned());
                if let Some(s) = self.by_id.get_mut(id)
                    && let Some((old, _)) = s.code.replace((code.clone(), now + CODE_LIFETIME))
                {
                    self.codes.remove(&(tenant, old));
                }
                return code;
            }
        }
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let s = self.by_id.remove(id)?;
        self.replay_total = self.replay_total.saturating_sub(s.replay.bytes());
        if let Some((code, _)) = &s.code {
            self.codes.remove(&(s.tenant, code.clone()));
        }
        Some(s)
    }
}

/// The live co-browse sessions of every tenant on this node.
#[derive(Clone)]
pub struct Hub {
    sessions: Arc<Mutex<Sessions>>,
    recorder: Option<Recorder>,
    assets: Arc<assets::Assets>,
    asset_fetches: Arc<RateLimiter>,
    next_conn: Arc<AtomicU64>,
    agent_joins: Arc<RateLimiter>,
    tenant_joins: Arc<RateLimiter>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            sessions: Arc::default(),
            recorder: None,
            assets: assets::shared(false),
            asset_fetches: Arc::new(RateLimiter::new(ASSETS_PER_VIEWER, Duration::from_mins(1))),
            next_conn: Arc::new(AtomicU64::new(1)),
            agent_joins: Arc::new(RateLimiter::new(JOINS_PER_AGENT, Duration::from_mins(1))),
            tenant_joins: Arc::new(RateLimiter::new(JOINS_PER_TENANT, Duration::from_mins(1))),
        }
    }
}

fn random_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().fold(String::with_capacity(32), |mut id, b| {
        use std::fmt::Write;
        let _ = write!(id, "{b:02x}");
        id
    })
}

impl Hub {
    /// A hub with a task that ends sessions whose page or view did not come
    /// back within [`GRACE`] and forgets expired codes; the task stops when
    /// the last handle is dropped. Agents' actions go to `store` with the
    /// contact they belong to; assets are fetched from private addresses
    /// only when `allow_private` (the operator's `[webhooks]` setting).
    pub fn start(store: crate::store::Store, allow_private: bool) -> Self {
        let hub = Self {
            recorder: Some(Recorder::start(store)),
            assets: assets::shared(allow_private),
            ..Self::default()
        };
        let weak: Weak<Mutex<Sessions>> = Arc::downgrade(&hub.sessions);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let Some(sessions) = weak.upgrade() else {
                    return;
                };
                sweep(&sessions, Instant::now());
            }
        });
        hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        // A poisoned lock means a panic mid-update elsewhere; the maps are
        // still consistent enough to serve and to end sessions.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn seat(&self, capacity: usize) -> (Seat, mpsc::Receiver<Out>) {
        let (tx, rx) = mpsc::channel(capacity);
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        (Seat { conn, tx }, rx)
    }

    /// Live sessions (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page's hello: a new session with a join code, or the session of
    /// `resume` (same tenant, page away) taken up again. Returns the session
    /// id, the connection id, its outbox and the welcome to send.
    fn visitor_hello(
        &self,
        tenant: TenantId,
        origin: &str,
        resume: Option<&str>,
    ) -> Result<(String, u64, mpsc::Receiver<Out>, ToVisitor), CobrowseError> {
        let now = Instant::now();
        let (seat, rx) = self.seat(VISITOR_OUTBOX);
        let conn = seat.conn;
        let mut sessions = self.lock();
        let resumed = resume.and_then(|r| {
            sessions
                .by_id
                .iter()
                .find(|(_, s)| s.tenant == tenant && s.resume == r && s.origin == origin)
                .map(|(id, _)| id.clone())
        });
        if let Some(id) = resumed {
            let s = sessions
                .by_id
                .get_mut(&id)
                .ok_or(CobrowseError::UnknownSession)?;
            if let Some(old) = s.visitor.replace(seat) {
                let _ = old
                    .tx
                    .try_send(Out::End(encode(&ToVisitor::Ended { reason: "replaced" })));
            }
            s.visitor_away_since = None;
            s.stale = true;
            if let Some(board) = s.board.for_visitor() {
                s.tell_visitor(&board);
            }
            let welcome = ToVisitor::Welcome {
                resume: s.resume.clone(),
                code: s.code.as_ref().map(|(c, _)| c.clone()),
                expires_in: s
                    .code
                    .as_ref()
                    .map_or(0, |(_, at)| at.saturating_duration_since(now).as_secs()),
                sharing: s.sharing,
                control: s.control,
                agent_name: s.agent.as_ref().map(|a| a.name.clone()),
            };
            return Ok((id, conn, rx, welcome));
        }
        let in_tenant = sessions
            .by_id
            .values()
            .filter(|s| s.tenant == tenant)
            .count();
        if sessions.by_id.len() >= MAX_SESSIONS || in_tenant >= MAX_SESSIONS_PER_TENANT {
            return Err(CobrowseError::Full);
        }
        let id = random_id();
        let resume = random_id();
        sessions.by_id.insert(
            id.clone(),
            Session {
                tenant,
                origin: origin.to_owned(),
                resume: resume.clone(),
                code: None,
                visitor: Some(seat),
                visitor_away_since: None,
                agent: None,
                sharing: false,
                control: false,
                stale: true,
                last_seq: None,
                contact: None,
                opened_contact: false,
                board: board::Board::default(),
                recorder: self.recorder.clone(),
                filled: None,
                pointed: false,
                replay: watch::Replay::default(),
                watchers: Vec::new(),
            },
        );
        let code = sessions.new_code(tenant, &id, now);
        metrics::counter!("switchboard_cobrowse_sessions_total").increment(1);
        let welcome = ToVisitor::Welcome {
            resume,
            code: Some(code),
            expires_in: CODE_LIFETIME.as_secs(),
            sharing: false,
            control: false,
            agent_name: None,
        };
        Ok((id, conn, rx, welcome))
    }

    /// A capture frame from the page: relayed as sent to the agent's view
    /// while sharing. `Ok(true)`: ask the page for a fresh snapshot.
    fn capture(
        &self,
        id: &str,
        conn: u64,
        kind: CaptureKind,
        seq: u64,
        text: &str,
    ) -> Result<bool, CobrowseError> {
        let mut sessions = self.lock();
        let total = sessions.replay_total;
        let s = visitor_session(&mut sessions, id, conn)?;
        if !s.sharing || s.agent.is_none() {
            return Err(CobrowseError::NotSharing);
        }
        let gap = s.last_seq.is_some_and(|last| seq != last + 1);
        s.last_seq = Some(seq);
        match kind {
            CaptureKind::Snapshot { last: true } => s.stale = false,
            CaptureKind::Snapshot { last: false } => {}
            _ if s.stale => return Ok(false),
            _ if gap => {
                s.stale = true;
                let freed = s.replay.lose();
                sessions.replay_total = total.saturating_sub(freed);
                return Ok(true);
            }
            _ => {}
        }
        let held = s.replay.keep(kind, text, total);
        s.tell_watchers(text);
        s.tell_agent(text.to_owned());
        sessions.replay_total = total.saturating_add_signed(held);
        Ok(false)
    }

    /// Capture frames were refused by the page's budget: the view is stale
    /// until the next snapshot.
    fn lost(&self, id: &str) {
        let mut sessions = self.lock();
        if let Some(s) = sessions.by_id.get_mut(id) {
            s.stale = true;
            let freed = s.replay.lose();
            sessions.replay_total = sessions.replay_total.saturating_sub(freed);
        }
    }

    /// A control frame from the page; returns the frame to answer with, if any.
    fn visitor_control(
        &self,
        id: &str,
        conn: u64,
        frame: &FromVisitor,
    ) -> Result<Option<ToVisitor>, FrameError> {
        let mut sessions = self.lock();
        let now = Instant::now();
        let s = visitor_session(&mut sessions, id, conn)?;
        match frame {
            FromVisitor::Hello { .. } => Err(CobrowseError::NoHello.into()),
            FromVisitor::Ping => Ok(Some(ToVisitor::Pong)),
            FromVisitor::NewCode => {
                if s.agent.is_some() {
                    return Err(CobrowseError::Taken.into());
                }
                let tenant = s.tenant;
                let code = sessions.new_code(tenant, id, now);
                Ok(Some(ToVisitor::Code {
                    code,
                    expires_in: CODE_LIFETIME.as_secs(),
                }))
            }
            FromVisitor::Consent { view } => {
                let Some(agent) = &s.agent else {
                    return Err(CobrowseError::NotSharing.into());
                };
                if *view {
                    s.sharing = true;
                    s.stale = true;
                    s.pointed = false;
                    let session = id.to_owned();
                    tracing::info!(agent = agent.user.0, "co-browse sharing accepted");
                    s.note("agent", "view_start", String::new());
                    let contact = s.contact.map(|c| c.0);
                    s.tell_agent(encode(&ToAgent::Sharing {
                        session,
                        contact,
                        asset_origins: Vec::new(),
                    }));
                    if let Some(board) = s.board.for_agent() {
                        s.tell_agent(encode(&board));
                    }
                    Ok(Some(ToVisitor::SnapshotRequest))
                } else {
                    s.end_agent("declined");
                    Ok(None)
                }
            }
            FromVisitor::Control { granted } => {
                if !s.sharing {
                    return Err(CobrowseError::NotSharing.into());
                }
                if s.control != *granted {
                    let action = if *granted {
                        "control_granted"
                    } else {
                        "control_withdrawn"
                    };
                    s.note("visitor", action, String::new());
                }
                s.control = *granted;
                s.tell_agent(encode(&ToAgent::Control { granted: *granted }));
                Ok(None)
            }
            FromVisitor::Stop => {
                if let Some(mut s) = sessions.remove(id) {
                    s.end_agent("stopped");
                }
                Ok(Some(ToVisitor::Ended { reason: "stopped" }))
            }
            FromVisitor::Draw { shape } => s
                .board_change(board::Side::Visitor, board::Change::Draw(shape.clone()))
                .map(|()| None),
            FromVisitor::Clear => s
                .board_change(board::Side::Visitor, board::Change::Clear)
                .map(|()| None),
            FromVisitor::Board { show, blank } => s
                .board_change(
                    board::Side::Visitor,
                    board::Change::Show {
                        show: *show,
                        blank: *blank,
                    },
                )
                .map(|()| None),
        }
    }

    /// Before the visitor's first yes: the store and who to open a contact
    /// for, when the agent joined by code alone (no contact yet).
    fn contact_wanted(
        &self,
        id: &str,
        conn: u64,
    ) -> Option<(crate::store::Store, TenantId, UserId, String)> {
        let store = self.recorder.as_ref()?.store.clone();
        let mut sessions = self.lock();
        let s = visitor_session(&mut sessions, id, conn).ok()?;
        let agent = s.agent.as_ref()?;
        if s.contact.is_some() || s.sharing {
            return None;
        }
        Some((store, s.tenant, agent.user, s.origin.clone()))
    }

    /// The contact opened for `user`'s join becomes the session's, if they
    /// are still its agent; otherwise it is closed at once.
    fn adopt_contact(&self, id: &str, user: UserId, tenant: TenantId, contact: ContactId) {
        let mut sessions = self.lock();
        if let Some(s) = sessions.by_id.get_mut(id)
            && s.contact.is_none()
            && s.agent.as_ref().is_some_and(|a| a.user == user)
        {
            s.contact = Some(contact);
            s.opened_contact = true;
            return;
        }
        if let Some(recorder) = &self.recorder {
            contact::close(&recorder.store, tenant, contact);
        }
    }

    /// The page's connection closed (a page load, or the tab went away).
    fn visitor_gone(&self, id: &str, conn: u64) {
        let mut sessions = self.lock();
        if let Some(s) = sessions.by_id.get_mut(id)
            && s.visitor.as_ref().is_some_and(|v| v.conn == conn)
        {
            s.visitor = None;
            s.visitor_away_since = Some(Instant::now());
            if s.sharing {
                s.tell_agent(encode(&ToAgent::Paused));
            }
        }
    }
}

fn visitor_session<'a>(
    sessions: &'a mut Sessions,
    id: &str,
    conn: u64,
) -> Result<&'a mut Session, CobrowseError> {
    sessions
        .by_id
        .get_mut(id)
        .filter(|s| s.visitor.as_ref().is_some_and(|v| v.conn == conn))
        .ok_or(CobrowseError::UnknownSession)
}

/// Ends sessions whose page or agent's view stayed away past [`GRACE`], and
/// forgets expired codes.
fn sweep(sessions: &Mutex<Sessions>, now: Instant) {
    let mut sessions = sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let gone =
        |since: Option<Instant>| since.is_some_and(|t| now.saturating_duration_since(t) >= GRACE);
    let mut ended = Vec::new();
    let mut expired = Vec::new();
    for (id, s) in &mut sessions.by_id {
        if gone(s.visitor_away_since) {
            ended.push(id.clone());
            continue;
        }
        if s.agent.as_ref().is_some_and(|a| gone(a.away_since)) {
            s.end_agent("agent_left");
            s.tell_visitor(&ToVisitor::Ended {
                reason: "agent_left",
            });
        }
        if let Some((code, at)) = &s.code
            && *at <= now
        {
            expired.push((s.tenant, code.clone()));
            s.code = None;
        }
    }
    for key in expired {
        sessions.codes.remove(&key);
    }
    for id in ended {
        if let Some(mut s) = sessions.remove(&id) {
            s.end_agent("visitor_left");
        }
    }
}

/// A received WebSocket message as the connection loops use it.
enum Received {
    Text(String),
    Refused(FrameError),
    Skip,
    Close,
}

fn received(message: Option<Result<axum::extract::ws::Message, axum::Error>>) -> Received {
    match crate::ws::classify(message) {
        crate::ws::Incoming::Text(text) => Received::Text(text),
        crate::ws::Incoming::Ignore => Received::Skip,
        crate::ws::Incoming::Close => Received::Close,
        crate::ws::Incoming::Binary => {
            Received::Refused(FrameError::new(ErrorCode::BadJson, "send JSON text frames"))
        }
    }
}

/// A token bucket for one connection's frames or bytes.
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: f64, per_second: f64) -> Self {
        Self {
            tokens: capacity,
            capacity,
            per_second,
            at: Instant::now(),
        }
    }

    fn take(&mut self, n: f64) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens
            + now.saturating_duration_since(self.at).as_secs_f64() * self.per_second)
            .min(self.capacity);
        self.at = now;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests;
