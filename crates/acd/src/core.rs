//! The [`Acd`] state machine: inputs in; commands, events and a wake-up time out.
//!
//! Each `handle_input` runs in three steps:
//! 1. apply the input (state changes and the commands/events they cause);
//! 2. route: offer waiting contacts to free agents until no more match
//!    (see [`line`]);
//! 3. publish: a `Waiting` event for contacts that entered the line and are still
//!    waiting, and `QueueStatus` events for queues whose status changed (see
//!    [`estimate`]). Publishing comes after routing, so a contact offered in the
//!    same input it arrived in never gets a `Waiting` event: it never waited.
//!
//! Module layout:
//! * this file: the state, the public API (inputs, outputs, views), the input
//!   and timer dispatch, and the helpers every part uses;
//! * [`configure`]: tenant setup (centers and queues from a `TenantSetup`);
//! * [`arrival`]: a contact entering the line and its requirement (arrival,
//!   re-entry, becoming a callback, preference end, overflow);
//! * [`offers`]: offers and callback dials resolving, the end of a held
//!   contact and its wrap-up, a contact leaving;
//! * [`agents`]: agent state, derived [`AgentState`], "free" bookkeeping;
//! * [`line`]: waiting groups (contacts with identical requirements), the routing
//!   loop and the strategies;
//! * [`centers`]: center choice for arrivals and business-hours timers;
//! * [`estimate`]: wait estimates, `Waiting` and `QueueStatus` publication, handle
//!   time.
//! * [`id_hash`]: the fast hasher of the id-keyed maps.
//!
//! Choices worth knowing:
//! * Queue ids are taken as unique across tenants (a later setup naming a queue
//!   of another tenant takes it over).
//! * A contact's requirement is a list of alternatives (skills at levels, in a
//!   set of centers); it starts as the queue's and the contact's skills in the
//!   queue's centers, and overflow rules widen it. The center the policy chose
//!   is a preference: its free agents are picked first (see `line::route`). A group is one queue,
//!   one media, one such requirement and maybe a preferred agent.
//! * With a valid preferred agent the contact prefers that agent's center.
//! * Overflow and preference timers count from when the contact entered the line
//!   (its arrival, or its scheduled time for a scheduled callback).
//! * A scheduled callback enters the line at its time without checking business
//!   hours again; so does a callback retry.
//! * `ContactLeft` while a callback is being dialled frees the agent and leaves
//!   (no command: the dial is the IO side's). Removing an agent with a dial
//!   pending sends `CancelOffer { reason: AgentOffline }` for it and requeues.
//! * Contacts held by an agent that is removed stay held until `ContactEnded`,
//!   which then takes no wrap-up.
//! * Groups are kept when they empty (so their agent sets need not be rebuilt);
//!   their number is bounded by the distinct requirements seen.

mod agents;
mod arrival;
mod centers;
mod configure;
mod estimate;
mod id_hash;
mod line;
mod offers;
mod supervise;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use crate::hours::Calendar;
use crate::setup::{CenterSpec, QueueSpec, TenantSetup};
use crate::view::{AgentView, ContactStage, ContactView, QueueStatus};
use crate::{
    AgentId, CallbackPlan, CenterId, Command, Config, ContactId, Event, Input, Media,
    NotReadyReason, Outcome, Output, QueueId, TenantId, Time,
};

use self::agents::Agent;
use self::id_hash::IdHash;
use self::line::{Alt, Group, GroupId, Req};

/// How far ahead `poll_output` asks to be woken when nothing is pending; waking
/// early is harmless, so any long span does.
const IDLE_WAKE_UP: Duration = Duration::from_hours(1);

/// Place in line: `(arrived_ms − effective_priority × aging_ms, arrival sequence)`;
/// lower goes first.
type Key = (i64, u64);

/// Something the core must do at a time. Offer and wrap-up timers are removed
/// when the offer or wrap-up resolves (so the owner is not woken for nothing);
/// other stale entries (for a contact that has moved on) are recognised when
/// they fire and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The offer made at `epoch` expires.
    Offer(ContactId, u64),
    WrapUp(AgentId, ContactId),
    Preference(ContactId),
    Overflow(ContactId, usize),
    /// A scheduled callback (or a retry) enters the line.
    Enter(ContactId, u64),
    /// Publish the `Waiting` estimates of a group.
    Publish(GroupId),
    /// A tenant's centers open or close (setup generation).
    Hours(TenantId, u64),
}

#[derive(Debug)]
struct Tenant {
    setup: TenantSetup,
    centers: BTreeMap<CenterId, Center>,
    queues: BTreeMap<QueueId, Queue>,
    agents: BTreeSet<AgentId>,
    generation: u64,
}

#[derive(Debug)]
struct Center {
    spec: CenterSpec,
    calendar: Calendar,
    /// Cached at setup and at each hour change (for queue status).
    open: bool,
    next_open: Option<Time>,
    /// Contacts waiting for or served through the center (from `Queued` to `Left`).
    load: u32,
    /// Contacts waiting in line for the center's agents.
    waiting: u32,
}

#[derive(Debug)]
struct Queue {
    spec: QueueSpec,
    /// Moving average of handle time, in milliseconds.
    handle_ms: f64,
    rr_last: Option<AgentId>,
    /// Smooth weighted round-robin state per center.
    swrr: BTreeMap<CenterId, i64>,
    /// Agents qualified for the queue's own requirement (skills, centers).
    online: u32,
    ready: u32,
    free: u32,
    waiting: u32,
    oldest: BTreeSet<(Time, ContactId)>,
    published: Option<QueueStatus>,
    /// Groups of this queue (to republish estimates when handle time moves).
    groups: Vec<GroupId>,
    /// Per media: the group of the queue's own requirement over all its
    /// candidate centers (qualification check for arrivals without extra skills).
    probes: [Option<GroupId>; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Scheduled(Time),
    Waiting(GroupId),
    Offered(AgentId),
    Dialing(AgentId),
    Held(AgentId),
}

#[derive(Debug)]
struct Contact {
    id: ContactId,
    tenant: TenantId,
    queue: QueueId,
    media: Media,
    arrived: Time,
    key: Key,
    stage: Stage,
    center: Option<CenterId>,
    /// Who may serve: an agent matching any alternative.
    alts: Vec<Alt>,
    preferred: Option<AgentId>,
    /// Kept away from this agent until the preference wait ends.
    excluded: Option<AgentId>,
    declined: bool,
    attempts: u32,
    plan: CallbackPlan,
    assigned_at: Time,
    /// Last `Waiting` sent: (position, whole seconds) and when. While the
    /// contact waits these live in its line entry (`line::Waiter`) instead.
    sent: Option<(u32, u64)>,
    sent_at: Option<Time>,
    /// Bumped on every stage change; timers carry it to detect staleness.
    epoch: u64,
    /// The group of the current requirement, once known (cleared when the
    /// requirement changes), so a requeue does not rebuild and hash it.
    group: Option<GroupId>,
    /// The pending offer's expiry timer, removed when the offer resolves so the
    /// owner is not woken for nothing.
    offer_timer: Option<TimerKey>,
}

/// An entry of `Acd::timers`.
type TimerKey = (Time, u64, Timer);

/// The routing core. See the crate documentation for the run-loop contract.
#[derive(Debug)]
pub struct Acd {
    config: Config,
    now: Time,
    aging_ms: i64,
    tenants: HashMap<TenantId, Tenant, IdHash>,
    queue_tenant: HashMap<QueueId, TenantId, IdHash>,
    agents: HashMap<AgentId, Agent, IdHash>,
    contacts: HashMap<ContactId, Contact, IdHash>,
    /// Contacts in wrap-up (already left) and the agent wrapping them up.
    wrapups: HashMap<ContactId, AgentId, IdHash>,
    groups: Vec<Group>,
    group_index: HashMap<Req, GroupId>,
    /// Groups with a waiting contact and a free qualified agent, by head key.
    active: BTreeSet<(Key, GroupId)>,
    timers: BTreeSet<TimerKey>,
    timer_seq: u64,
    arrival_seq: u64,
    out: VecDeque<Output>,
    /// Queues whose status may have changed during this input (duplicates
    /// allowed; sorted and deduplicated when flushed, so the buffer is reused).
    dirty_queues: Vec<QueueId>,
    /// Contacts that entered the line during this input (announced after routing).
    entered: Vec<ContactId>,
    /// Reused buffer for `agents::apply_snap`.
    scratch_groups: Vec<GroupId>,
}

impl Acd {
    pub fn new(config: Config, now: Time) -> Acd {
        let aging_ms = i64::try_from(config.priority_aging.as_millis()).unwrap_or(i64::MAX);
        Acd {
            config,
            now,
            aging_ms,
            tenants: HashMap::default(),
            queue_tenant: HashMap::default(),
            agents: HashMap::default(),
            contacts: HashMap::default(),
            wrapups: HashMap::default(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            active: BTreeSet::new(),
            timers: BTreeSet::new(),
            timer_seq: 0,
            arrival_seq: 0,
            out: VecDeque::new(),
            dirty_queues: Vec::new(),
            entered: Vec::new(),
            scratch_groups: Vec::new(),
        }
    }

    /// Applies one input at `now` (never earlier than a time already seen), then
    /// routes and publishes. Drain the results with [`Acd::poll_output`].
    pub fn handle_input(&mut self, now: Time, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::Configure(setup) => self.configure(*setup),
            Input::AgentDefined(spec) => self.define_agent(spec),
            Input::AgentRemoved { agent } => self.remove_agent(agent),
            Input::AgentOnline { agent } => self.agent_online(agent),
            Input::AgentOffline { agent } => self.agent_offline(agent),
            Input::AgentReady { agent } => self.agent_presence(agent, None),
            Input::AgentNotReady { agent, reason } => {
                self.agent_presence(agent, Some(NotReadyReason::Chosen(reason)));
            }
            Input::ContactArrived(spec) => self.arrive(&spec),
            Input::ContactLeft { contact } => self.contact_left(contact),
            Input::ToCallback { contact, plan } => self.make_callback(contact, plan),
            Input::Reschedule { contact, at } => self.reschedule(contact, at),
            Input::Requeue(spec) => self.move_waiting(&spec),
            Input::OfferAccepted { contact, agent } => self.offer_accepted(contact, agent),
            Input::OfferDeclined { contact, agent } => self.offer_declined(contact, agent),
            Input::CallbackConnected { contact } => self.callback_connected(contact),
            Input::CallbackFailed { contact } => self.callback_failed(contact),
            Input::ContactEnded { contact } => self.contact_ended(contact),
            Input::WrapUpDone { contact } => self.wrap_up_done(contact),
            Input::Timeout => self.run_timers(),
        }
        self.route();
        self.announce_entered();
        self.flush_queues();
    }

    /// The next output; always ends with `Output::Timeout` (the earliest timer, or
    /// an hour ahead when nothing is pending).
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        let next = self
            .timers
            .first()
            .map_or_else(|| self.now.plus(IDLE_WAKE_UP), |&(t, _, _)| t);
        Output::Timeout(next)
    }

    /// What a newcomer to `queue` would find now (an unknown queue is closed and
    /// empty).
    pub fn queue_status(&self, queue: QueueId) -> QueueStatus {
        self.compute_status(queue).unwrap_or(QueueStatus {
            open: false,
            next_open: None,
            available: false,
            free_agents: 0,
            wait: Duration::ZERO,
            waiting: 0,
            oldest_since: None,
        })
    }

    /// Every agent, by id.
    pub fn agents(&self) -> Vec<AgentView> {
        let mut all: Vec<AgentView> = self.agents.values().map(Agent::view).collect();
        all.sort_unstable_by_key(|a| a.agent);
        all
    }

    pub fn agent(&self, agent: AgentId) -> Option<AgentView> {
        self.agents.get(&agent).map(Agent::view)
    }

    /// A contact still in the core (not after it left).
    pub fn contact(&self, contact: ContactId) -> Option<ContactView> {
        let c = self.contacts.get(&contact)?;
        let (stage, position, wait) = match c.stage {
            Stage::Scheduled(at) => (ContactStage::Scheduled { at }, None, None),
            Stage::Waiting(g) => {
                let position = self.position_of(g, c.key);
                (
                    ContactStage::Waiting,
                    Some(position),
                    Some(self.estimate(g, position)),
                )
            }
            Stage::Offered(agent) => (ContactStage::Offered { agent }, None, None),
            Stage::Dialing(agent) => (ContactStage::Dialing { agent }, None, None),
            Stage::Held(agent) => (ContactStage::Assigned { agent }, None, None),
        };
        Some(ContactView {
            contact,
            queue: c.queue,
            media: c.media,
            stage,
            center: c.center,
            arrived: c.arrived,
            position,
            wait,
            attempts: c.attempts,
        })
    }

    // ---- output helpers ------------------------------------------------------

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn command(&mut self, c: Command) {
        self.out.push_back(Output::Command(c));
    }

    fn ignored(&mut self, reason: &'static str) {
        self.event(Event::Ignored { reason });
    }

    fn timer(&mut self, at: Time, what: Timer) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq, what);
        self.timers.insert(key);
        key
    }

    fn run_timers(&mut self) {
        while let Some(&(at, seq, what)) = self.timers.first() {
            if at > self.now {
                break;
            }
            self.timers.remove(&(at, seq, what));
            match what {
                Timer::Offer(c, epoch) => self.offer_expired(c, epoch),
                Timer::WrapUp(a, c) => self.end_wrap_up(a, c, true),
                Timer::Preference(c) => self.preference_expired(c),
                Timer::Overflow(c, rule) => self.overflow(c, rule),
                Timer::Enter(c, epoch) => self.scheduled_entry(c, epoch),
                Timer::Publish(g) => self.publish_group(g),
                Timer::Hours(t, generation) => self.hours_changed(t, generation),
            }
        }
    }

    // ---- state ---------------------------------------------------------------

    fn queue_mut(&mut self, queue: QueueId) -> Option<&mut Queue> {
        let t = self.queue_tenant.get(&queue)?;
        self.tenants.get_mut(t)?.queues.get_mut(&queue)
    }

    fn queue_ref(&self, queue: QueueId) -> Option<&Queue> {
        let t = self.queue_tenant.get(&queue)?;
        self.tenants.get(t)?.queues.get(&queue)
    }

    fn center_mut(&mut self, tenant: TenantId, center: CenterId) -> Option<&mut Center> {
        self.tenants.get_mut(&tenant)?.centers.get_mut(&center)
    }

    /// Removes a contact for good with a `Left` event.
    fn left(&mut self, id: ContactId, outcome: Outcome) {
        if let Some(c) = self.contacts.remove(&id) {
            if let Some(key) = c.offer_timer {
                self.timers.remove(&key);
            }
            if let Some(center) = c.center
                && let Some(center) = self.center_mut(c.tenant, center)
            {
                center.load = center.load.saturating_sub(1);
            }
        }
        self.event(Event::Left {
            contact: id,
            outcome,
        });
    }

    fn set_stage(&mut self, id: ContactId, stage: Stage) -> u64 {
        match self.contacts.get_mut(&id) {
            Some(c) => {
                c.stage = stage;
                c.epoch += 1;
                // Whatever the new stage, a pending offer has resolved.
                if let Some(key) = c.offer_timer.take() {
                    self.timers.remove(&key);
                }
                c.epoch
            }
            None => 0,
        }
    }
}
