//! The desk: the one task that owns the routing core (`acd::Acd`) and every live
//! conversation, and talks to WebSocket connections through channels
//! (DESIGN.md principle 2, companion IO).
//!
//! Connections send `Request`s in; the desk answers by pushing frames into each
//! connection's bounded outbox. A connection whose outbox is full is too slow to
//! keep up and is told to close (`Outbox::send` returns false): no buffer grows
//! without bound.
//!
//! The desk never awaits the database inside its loop: every write goes to
//! `writer.rs` (lanes per contact, bounded per tenant), and what a user is told
//! is stored comes back through `stored.rs` once it committed. The reads a
//! decision needs are made before a request reaches the desk (the visitor's
//! identity and profile, by their connection) or kept here (each tenant's
//! settings, each live contact's transcript). docs/operations.md says exactly
//! what holds.
//!
//! Files: `visitor.rs` handles visitor frames, `agent.rs` agent frames,
//! `routing.rs` carries out what the ACD core decides, `screenpop.rs` builds what
//! the agent sees, `calls.rs` runs voice and video contacts with the media engine
//! (`calls/recording.rs` names a recording in its record before it starts),
//! `phone.rs` the calls that cross a SIP trunk (`phone_leg.rs` is a call's phone
//! side), `dial_in.rs` the routing points a visitor calls from their own phone,
//! `rebuild.rs` puts waiting contacts back after a restart, `outbox.rs` queues
//! frames for each connection's task. `storage.rs` names
//! what the desk asks of storage; `memory.rs` and `tests/` run the desk on it
//! in memory on a paused clock.

mod agent;
mod callback_guard;
mod callbacks;
mod calls;
mod cobrowse;
mod connections;
mod conversations;
mod dial_in;
mod inbound;
#[cfg(test)]
mod memory;
mod outbox;
mod phone;
mod phone_leg;
mod rebuild;
mod routing;
mod screenpop;
mod storage;
mod stored;
mod supervise;
mod tenants;
#[cfg(test)]
mod tests;
mod visitor;
mod writer;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::Serialize;
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    time::Instant,
};

use media::{LegId, MediaEngine, MediaEvent};

pub use callbacks::schedule::{CallbackAction, CallbackView, ChangedBy, ScheduleError};
pub use callbacks::take::{CallbackNotes, TakeError};
pub use phone::{CobrowseShare, PagePush};
pub use screenpop::{Identity, Profile};
pub use supervise::{LiveWaiting, SetState, SuperviseError, SupervisorAction};

use crate::{
    ids::{ContactId, QueueId, TenantId, UserId},
    protocol::{AgentFrame, ToAgent, ToVisitor, VisitorFrame},
    store::{ContactMedia, Link, StatEvent, Store, Tenant, User},
};
pub(crate) use agent::AgentHello;
use connections::{AgentConn, Seat, VisitorConn, VisitorHello};
use conversations::{LiveContact, Phase};
pub use outbox::{OUTBOX_CAPACITY, Outbox, OutboxReceiver};
use storage::DeskStorage;
use stored::{Author, ContactIds, ID_BLOCK, Stored};

/// Identifies one WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// Settings of the desk.
#[derive(Debug, Clone)]
pub struct DeskConfig {
    pub offer_timeout: Duration,
    /// How long a conversation waits for a visitor whose connection dropped.
    pub visitor_grace: Duration,
    /// Where call recordings are written (`{tenant}/{contact}-{party}.ogg`).
    pub recordings: std::path::PathBuf,
    /// Where the writer reports committed contact changes (webhooks).
    pub webhooks: crate::webhooks::Tap,
    /// Signs the links visitors keep to change their callbacks.
    pub callback_links: crate::callback_link::LinkKey,
}

/// Who a visitor's connection found them to be before their hello reached
/// the desk.
pub(crate) struct VisitorArrival {
    pub(crate) tenant: Tenant,
    pub(crate) link: Link,
    /// Established from the hello's token or attributes.
    pub(crate) identity: Identity,
    /// The client's address (behind a trusted proxy, the one it forwarded).
    pub(crate) ip: std::net::IpAddr,
}

/// What connections ask of the desk.
pub(crate) enum Request {
    VisitorHello {
        conn: ConnId,
        arrival: Box<VisitorArrival>,
        frame: VisitorFrame,
        outbox: Outbox<ToVisitor>,
    },
    Visitor {
        conn: ConnId,
        frame: VisitorFrame,
        /// For a frame that starts a contact: what the store knows of a
        /// verified visitor, read by the connection so the desk need not.
        profile: Option<Box<Profile>>,
    },
    VisitorGone {
        conn: ConnId,
    },
    AgentHello {
        conn: ConnId,
        user: Box<User>,
        tenant: Box<Tenant>,
        /// The tenant's routing as the connection read it (`None` if the
        /// read failed: the agent keeps what the desk knew).
        routing: Option<Box<crate::store::RoutingInputs>>,
        /// (name, display name) of the tenant's staff, for transfers.
        staff: Vec<(String, String)>,
        outbox: Outbox<ToAgent>,
    },
    Agent {
        conn: ConnId,
        frame: AgentFrame,
    },
    AgentGone {
        conn: ConnId,
    },
    Live {
        tenant: TenantId,
        reply: oneshot::Sender<LiveView>,
    },
    QueueStatus {
        queue: QueueId,
        reply: oneshot::Sender<acd::QueueStatus>,
    },
    /// A supervisor listens in on a call with this SDP offer.
    Listen {
        tenant: TenantId,
        contact: ContactId,
        sdp: String,
        reply: oneshot::Sender<Result<(LegId, String), ListenError>>,
    },
    StopListen {
        tenant: TenantId,
        contact: ContactId,
        leg: LegId,
    },
    /// A visitor's manage link or a supervisor shows, moves or cancels a
    /// callback (`callbacks/schedule.rs`).
    Callback(Box<callbacks::schedule::CallbackRequest>),
    /// An agent takes a callback now, or asks which queues' callbacks
    /// they serve (`callbacks/take.rs`).
    TakeCallback(Box<callbacks::take::TakeRequest>),
    /// A supervisor acts on an agent or contact (`supervise.rs`).
    Supervise(Box<supervise::SuperviseRequest>),
    /// A supervisor cancels a callback not yet connected (`callbacks/`).
    CancelCallback {
        tenant: TenantId,
        contact: ContactId,
        reply: oneshot::Sender<bool>,
    },
}

/// Why a supervisor cannot listen in.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("no live call with that id")]
    NoCall,
    #[error("{0}")]
    BadOffer(String),
}

/// Cheap, cloneable handle to the desk task.
#[derive(Clone)]
pub struct Desk {
    tx: mpsc::Sender<Request>,
    next_conn: Arc<AtomicU64>,
    stats: broadcast::Sender<StatEvent>,
    pushes: broadcast::Sender<PagePush>,
    shares: broadcast::Sender<CobrowseShare>,
}

/// How many stat events a slow supervisor stream may lag before it skips ahead.
const STATS_BACKLOG: usize = 256;

#[derive(Debug, thiserror::Error)]
#[error("the desk has stopped")]
pub struct DeskStopped;

impl Desk {
    /// Starts the desk task. It stops when every handle is dropped.
    /// Without a media engine, calls are refused and chat works as before.
    pub async fn start(
        store: Store,
        config: DeskConfig,
        media: Option<MediaEngine>,
        sip: Option<(sip::SipAgent, mpsc::Receiver<sip::SipEvent>)>,
    ) -> Result<(Desk, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        tokio::spawn(calls::recording::count_unlinked(
            store.clone(),
            config.recordings.clone(),
        ));
        Self::start_with(Arc::new(store), config, media, sip).await
    }

    /// Starts the desk on any storage (the unit tests' is in memory).
    pub(crate) async fn start_with(
        store: Arc<dyn DeskStorage>,
        config: DeskConfig,
        media: Option<MediaEngine>,
        sip: Option<(sip::SipAgent, mpsc::Receiver<sip::SipEvent>)>,
    ) -> Result<(Desk, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        let (tx, rx) = mpsc::channel(1024);
        let (stats, _) = broadcast::channel(STATS_BACKLOG);
        let (media_tx, media_rx) = mpsc::channel(MEDIA_EVENTS_BACKLOG);
        let (phone, sip_rx) = phone::PhoneBook::new(sip);
        let pushes = phone.pushes.clone();
        let shares = phone.shares.clone();
        let (stored_tx, stored_rx) = mpsc::unbounded_channel();
        let mut state = DeskState::new(store, config, stats.clone(), media, media_tx, phone);
        state.stored_tx = stored_tx;
        state.load_all().await?;
        let task = tokio::spawn(state.run(rx, media_rx, sip_rx, stored_rx));
        Ok((
            Desk {
                tx,
                next_conn: Arc::new(AtomicU64::new(1)),
                stats,
                pushes,
                shares,
            },
            task,
        ))
    }

    /// Every routing transition as it happens (all tenants; filter by `tenant`).
    pub fn stat_events(&self) -> broadcast::Receiver<StatEvent> {
        self.stats.subscribe()
    }

    /// Push codes keyed on the phone side of calls (all tenants).
    pub fn page_pushes(&self) -> broadcast::Receiver<PagePush> {
        self.pushes.subscribe()
    }

    /// Pages shared by callers on calls no agent holds (all tenants).
    pub fn cobrowse_shares(&self) -> broadcast::Receiver<CobrowseShare> {
        self.shares.subscribe()
    }

    pub fn new_conn(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) async fn send(&self, request: Request) -> Result<(), DeskStopped> {
        self.tx.send(request).await.map_err(|_| DeskStopped)
    }

    /// The live view of one tenant for supervisors.
    pub async fn live(&self, tenant: TenantId) -> Result<LiveView, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Live { tenant, reply }).await?;
        rx.await.map_err(|_| DeskStopped)
    }

    pub async fn queue_status(&self, queue: QueueId) -> Result<acd::QueueStatus, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::QueueStatus { queue, reply }).await?;
        rx.await.map_err(|_| DeskStopped)
    }

    /// Adds a receive-only listener leg to a tenant's live call; returns the
    /// leg and the SDP answer.
    pub async fn listen(
        &self,
        tenant: TenantId,
        contact: ContactId,
        sdp: String,
    ) -> Result<Result<(LegId, String), ListenError>, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Listen {
            tenant,
            contact,
            sdp,
            reply,
        })
        .await?;
        rx.await.map_err(|_| DeskStopped)
    }

    /// Cancels a callback that is not connected yet; false when there is
    /// no such callback.
    pub async fn cancel_callback(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<bool, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::CancelCallback {
            tenant,
            contact,
            reply,
        })
        .await?;
        rx.await.map_err(|_| DeskStopped)
    }

    pub async fn stop_listening(
        &self,
        tenant: TenantId,
        contact: ContactId,
        leg: LegId,
    ) -> Result<(), DeskStopped> {
        self.send(Request::StopListen {
            tenant,
            contact,
            leg,
        })
        .await
    }
}

/// The supervisor's picture of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct LiveView {
    pub queues: Vec<LiveQueue>,
    pub agents: Vec<LiveAgent>,
    pub calls: Vec<LiveCallView>,
    /// Contacts waiting in line (supervisors may move them).
    pub waiting: Vec<LiveWaiting>,
}

/// A call in progress, for supervisors (who may listen in).
#[derive(Debug, Clone, Serialize)]
pub struct LiveCallView {
    pub contact: i64,
    pub media: ContactMedia,
    pub agent: Option<String>,
    pub state: crate::protocol::CallState,
    /// When the call started, Unix ms.
    pub since: i64,
    pub listeners: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveQueue {
    pub queue: i64,
    pub links: Vec<String>,
    pub waiting: u32,
    pub longest_wait_seconds: u64,
    pub available: bool,
    /// Agents qualified for the queue who are ready with room right now.
    pub available_agents: u32,
    pub wait_seconds: u64,
    /// Some center serving the queue is open now.
    pub open: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveAgent {
    /// The agent's user id (stat events name agents by it).
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub state: &'static str,
    /// What the agent is doing: available, reserved, busy, wrap_up, not_ready, offline.
    pub activity: &'static str,
    pub reason: Option<String>,
    pub contacts: Vec<i64>,
    pub offered: Option<i64>,
}

struct DeskState {
    store: Arc<dyn DeskStorage>,
    config: DeskConfig,
    acd: acd::Acd,
    next_timeout: acd::Time,
    contacts: conversations::Conversations,
    /// Visitor tabs, agent consoles and seats.
    conns: connections::Connections,
    /// Each tenant's settings, queues, classes, routing setup and agents.
    tenants: tenants::Tenants,
    /// Stat events for live supervisor views.
    stats: broadcast::Sender<StatEvent>,
    /// Stat events to store, written by their own task.
    stat_writer: mpsc::Sender<StatEvent>,
    /// Calls: the media engine, its events' channel, and who owns each call.
    calls: calls::CallBook,
    /// Calls over SIP trunks: the user agent, each tenant's numbers and
    /// centers, the caller-id pool.
    phone: phone::PhoneBook,
    /// Every write to the database goes through here, off the desk's path.
    writer: writer::Writer,
    /// Writes that report back (what the user is told is stored).
    stored_tx: mpsc::UnboundedSender<Stored>,
    /// Ids for new contacts, reserved from the database a block at a time.
    contact_ids: ContactIds,
    /// Callbacks asked for today, per number and per address.
    callback_quota: callback_guard::CallbackQuota,
    /// Callbacks the server is dialling (`callbacks/`).
    dialer: callbacks::Dialer,
}

/// How many media events may wait for the desk.
const MEDIA_EVENTS_BACKLOG: usize = 1024;

/// How many stat events may wait for the database before new ones are dropped
/// (and counted): a stalled database must not stall routing.
const STAT_WRITER_BACKLOG: usize = 4096;

/// The most stat events stored in one transaction.
const STAT_BATCH: usize = 256;

/// Stores stat events as they come, off the desk's path: whatever waits when
/// the writer gets to it goes in one transaction.
async fn write_stats(store: Arc<dyn DeskStorage>, mut rx: mpsc::Receiver<StatEvent>) {
    let mut batch = Vec::with_capacity(STAT_BATCH);
    while rx.recv_many(&mut batch, STAT_BATCH).await > 0 {
        if let Err(e) = store.insert_stat_events(&batch).await {
            tracing::error!(error = %e, count = batch.len(), "storing stat events failed");
        }
        batch.clear();
    }
}

/// Wall-clock now, as the routing core counts time.
///
/// Moved on by tokio's clock where a test paused it: the desk's timers and
/// the routing core's time then advance together, so a test can step over an
/// offer timeout without sleeping. Outside such a test both clocks agree and
/// this is the wall clock.
pub(crate) fn now() -> acd::Time {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    acd::Time(ms.saturating_add(paused_offset_ms()))
}

/// How far tokio's clock is ahead of the real one (0 unless a test paused
/// and advanced it).
fn paused_offset_ms() -> i64 {
    let (tokio_now, real_now) = (Instant::now().into_std(), std::time::Instant::now());
    match tokio_now.checked_duration_since(real_now) {
        Some(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
        None => -i64::try_from(real_now.duration_since(tokio_now).as_millis()).unwrap_or(0),
    }
}

impl DeskState {
    fn new(
        store: Arc<dyn DeskStorage>,
        config: DeskConfig,
        stats: broadcast::Sender<StatEvent>,
        media: Option<MediaEngine>,
        media_tx: mpsc::Sender<MediaEvent>,
        phone: phone::PhoneBook,
    ) -> Self {
        let (stat_writer, stat_rx) = mpsc::channel(STAT_WRITER_BACKLOG);
        tokio::spawn(write_stats(store.clone(), stat_rx));
        let acd = acd::Acd::new(acd::Config::default(), now());
        Self {
            writer: writer::Writer::start(store.clone(), &config.webhooks),
            stored_tx: mpsc::unbounded_channel().0,
            contact_ids: ContactIds::default(),
            callback_quota: callback_guard::CallbackQuota::default(),
            dialer: callbacks::Dialer::default(),
            tenants: tenants::Tenants::default(),
            store,
            config,
            acd,
            next_timeout: now(),
            contacts: conversations::Conversations::default(),
            conns: connections::Connections::default(),
            stats,
            stat_writer,
            calls: calls::CallBook::new(media, media_tx),
            phone,
        }
    }

    /// Loads every tenant's routing into the core, then the contacts that were
    /// waiting when the server stopped.
    async fn load_all(&mut self) -> Result<(), crate::store::StoreError> {
        self.contact_ids
            .add(self.store.reserve_contact_ids(ID_BLOCK).await?);
        for tenant in self.store.tenant_ids().await? {
            if let Some(row) = self.store.tenant(tenant).await? {
                self.tenants.keep_row(row);
            }
            self.load_tenant(tenant).await?;
        }
        self.drain();
        self.rebuild_waiting().await?;
        self.drain();
        Ok(())
    }

    /// (Re)loads one tenant's centers, queues, classes and agents into the core.
    pub(super) async fn load_tenant(
        &mut self,
        tenant: TenantId,
    ) -> Result<(), crate::store::StoreError> {
        let inputs = self.store.routing_inputs(tenant, None).await?;
        self.apply_routing(tenant, &inputs, None);
        Ok(())
    }

    /// Gives one tenant's routing, as read, to the core: with all its agents,
    /// or only `only` (whose console just connected; its connection read the
    /// inputs). The setup goes to the core only when it changed: reconfiguring
    /// walks every contact of the tenant, which a login storm must not repeat.
    /// A changed setup reloads every agent (center ids may have moved) and the
    /// tenant's phone settings. A setup the core refuses (it was checked when
    /// applied, so only a manual database edit gets here) leaves the previous
    /// one running, and says why.
    pub(super) fn apply_routing(
        &mut self,
        tenant: TenantId,
        inputs: &crate::store::RoutingInputs,
        only: Option<UserId>,
    ) {
        let names = crate::routing::Names {
            skills: inputs.skills.clone(),
            queues: inputs
                .queues
                .iter()
                .map(|q| (q.name.clone(), q.id))
                .collect(),
        };
        let queues: Vec<crate::routing::QueueInput<'_>> = inputs
            .queues
            .iter()
            .map(|q| crate::routing::QueueInput {
                id: q.id,
                name: &q.name,
                skill: &q.skill,
                routing: &q.routing,
            })
            .collect();
        let built = crate::routing::build_setup(
            acd::TenantId(tenant.0),
            &inputs.routing,
            &queues,
            &inputs.agents,
            &names,
        );
        let (mut setup, agents) = match built {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(tenant = tenant.0, error = %e, "tenant routing refused");
                return;
            }
        };
        for (spec, q) in setup.queues.iter_mut().zip(&inputs.queues) {
            // The server-wide offer timeout applies where a queue sets none.
            if q.routing.offer_timeout_secs.is_none() {
                spec.offer_timeout = self.config.offer_timeout;
            }
        }
        self.tenants.learn(
            tenant,
            &inputs.queues,
            inputs
                .routing
                .classes
                .iter()
                .map(|c| (c.name.clone(), c.priority_boost)),
        );
        if only.is_none() {
            self.load_phone(tenant, inputs);
        }
        let at = now();
        if self.tenants.setup_changed(tenant, &setup) {
            if only.is_some() {
                return self.apply_routing(tenant, inputs, None);
            }
            self.tenants.keep_setup(tenant, setup.clone());
            self.acd
                .handle_input(at, acd::Input::Configure(Box::new(setup)));
        }
        for agent in agents {
            if only.is_some_and(|u| u.0 != agent.agent.0) {
                continue;
            }
            self.tenants.keep_agent(agent.clone());
            self.acd.handle_input(at, acd::Input::AgentDefined(agent));
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Request>,
        mut media_rx: mpsc::Receiver<MediaEvent>,
        mut sip_rx: mpsc::Receiver<sip::SipEvent>,
        mut stored_rx: mpsc::UnboundedReceiver<Stored>,
    ) {
        // Housekeeping (dropped visitors) runs on its own coarse tick.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wait = self.next_timeout.since(now());
            let deadline = Instant::now() + wait;
            tokio::select! {
                request = rx.recv() => {
                    let Some(request) = request else { break };
                    self.handle(request).await;
                }
                Some(event) = media_rx.recv() => self.media_event(event),
                Some(event) = sip_rx.recv() => self.sip_event(event).await,
                Some(stored) = stored_rx.recv() => self.stored(stored).await,
                () = tokio::time::sleep_until(deadline) => {
                    self.acd.handle_input(now(), acd::Input::Timeout);
                }
                _ = tick.tick() => {
                    self.sweep_orphans();
                    self.expire_routing_points();
                    self.sweep_callbacks();
                }
            }
            self.drain();
            self.dial_due_callbacks().await;
        }
        tracing::info!("desk stopped");
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::VisitorHello {
                conn,
                arrival,
                frame,
                outbox,
            } => {
                self.visitor_hello(conn, *arrival, frame, outbox);
            }
            Request::Visitor {
                conn,
                frame,
                profile,
            } => {
                if let Some(v) = self.conns.visitor_mut(conn) {
                    v.profile = profile;
                }
                self.visitor_frame(conn, frame).await;
            }
            Request::VisitorGone { conn } => self.visitor_gone(conn),
            Request::AgentHello {
                conn,
                user,
                tenant,
                routing,
                staff,
                outbox,
            } => {
                let hello = AgentHello {
                    user: *user,
                    tenant: *tenant,
                    routing,
                    staff,
                };
                self.agent_hello(conn, hello, outbox);
            }
            Request::Agent { conn, frame } => self.agent_frame(conn, frame).await,
            Request::AgentGone { conn } => self.agent_gone(conn),
            Request::Live { tenant, reply } => {
                let _ = reply.send(self.live_view(tenant));
            }
            Request::QueueStatus { queue, reply } => {
                let _ = reply.send(self.acd.queue_status(queue));
            }
            Request::Listen {
                tenant,
                contact,
                sdp,
                reply,
            } => {
                let _ = reply.send(self.listen(tenant, contact, &sdp).await);
            }
            Request::StopListen {
                tenant,
                contact,
                leg,
            } => self.stop_listening(tenant, contact, leg).await,
            Request::CancelCallback {
                tenant,
                contact,
                reply,
            } => {
                let _ = reply.send(self.cancel_callback(tenant, contact));
            }
            Request::Supervise(request) => self.supervise(*request),
            Request::Callback(request) => self.callback_request(*request),
            Request::TakeCallback(request) => self.take_request(*request),
        }
    }

    /// Sends to every console of an agent.
    fn send_agent(&mut self, user: UserId, frame: &ToAgent) {
        for conn in self.conns.to_agent(user, frame) {
            self.agent_gone(conn);
        }
    }

    /// Sends to every tab a visitor has open on a contact.
    fn send_contact_visitors(&mut self, contact: ContactId, frame: &ToVisitor) {
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        for conn in self.conns.to_visitors(&live.visitors, frame) {
            self.visitor_gone(conn);
        }
    }

    fn send_visitor(&mut self, conn: ConnId, frame: ToVisitor) {
        if !self.conns.to_visitor(conn, frame) {
            self.visitor_gone(conn);
        }
    }

    fn insert_contact(&mut self, id: ContactId, contact: LiveContact) {
        self.contacts.insert(id, contact);
    }

    fn remove_contact(&mut self, id: ContactId) {
        let Some(mut contact) = self.contacts.remove(id) else {
            return;
        };
        // Normally the call was finished (and its figures stored) already;
        // this only makes sure no media outlives its contact.
        if let Some(call) = contact.call.take() {
            self.calls.release(contact.tenant, &call);
        }
    }

    /// An agent's state, straight from the routing core (the one place it lives).
    fn agent_state(&self, user: UserId) -> acd::AgentState {
        self.acd
            .agent(user.agent())
            .map_or(acd::AgentState::Offline, |v| v.state)
    }

    fn live_view(&self, tenant: TenantId) -> LiveView {
        let at = now();
        let mut queues: Vec<LiveQueue> = self
            .tenants
            .queues_of(tenant)
            .map(|(queue, _)| {
                let status = self.acd.queue_status(queue);
                LiveQueue {
                    queue: queue.0,
                    links: Vec::new(),
                    waiting: status.waiting,
                    longest_wait_seconds: status
                        .oldest_since
                        .map_or(0, |since| at.since(since).as_secs()),
                    available: status.available,
                    available_agents: status.free_agents,
                    wait_seconds: status.wait.as_secs(),
                    open: status.open,
                }
            })
            .collect();
        queues.sort_by_key(|q| q.queue);
        let mut agents: Vec<LiveAgent> = self
            .conns
            .seats()
            .filter(|(_, s)| s.tenant == tenant)
            .map(|(user, seat)| {
                let view = self.acd.agent(user.agent());
                let state = view
                    .as_ref()
                    .map_or(acd::AgentState::Offline, |v| v.state.clone());
                let (presence, reason) = routing::state_name(&state);
                LiveAgent {
                    id: user.0,
                    name: seat.name.clone(),
                    display_name: seat.display_name.clone(),
                    state: presence,
                    activity: routing::activity_name(&state),
                    reason,
                    contacts: view
                        .as_ref()
                        .map_or_else(Vec::new, |v| v.assigned.iter().map(|c| c.0).collect()),
                    offered: view.and_then(|v| v.offered.map(|c| c.0)),
                }
            })
            .collect();
        agents.sort_by(|a, b| a.name.cmp(&b.name));
        // Only the live calls are walked, not every conversation.
        let mut calls: Vec<LiveCallView> = self
            .calls
            .contacts()
            .filter_map(|id| Some((id, self.contacts.get(id)?)))
            .filter(|(_, c)| c.tenant == tenant)
            .filter_map(|(id, c)| {
                let call = c.call.as_ref()?;
                Some(LiveCallView {
                    contact: id.0,
                    media: call.media.into(),
                    agent: c.agent_name.clone(),
                    state: call.state,
                    since: call.started_at,
                    listeners: call.listeners.len(),
                })
            })
            .collect();
        calls.sort_by_key(|c| c.contact);
        LiveView {
            queues,
            agents,
            calls,
            waiting: self.waiting_view(tenant),
        }
    }
}
