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
//! * this file: the state, the input dispatch and contact life cycle;
//! * [`agents`]: agent state, derived [`AgentState`], "free" bookkeeping;
//! * [`line`]: waiting groups (contacts with identical requirements), the routing
//!   loop and the strategies;
//! * [`centers`]: center choice for arrivals and business-hours timers;
//! * [`estimate`]: wait estimates, `Waiting` and `QueueStatus` publication, handle
//!   time.
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
mod centers;
mod estimate;
mod line;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use crate::hours::Calendar;
use crate::setup::{CenterSpec, OverflowAction, QueueSpec, SkillReq, TenantSetup};
use crate::view::{AgentView, ContactStage, ContactView, QueueStatus};
use crate::{
    AgentId, CallbackPlan, CancelReason, CenterId, Command, Config, ContactId, ContactSpec, Event,
    Input, Media, NotReadyReason, Outcome, Output, QueueId, Refusal, TenantId, Time,
};

use self::agents::{Agent, Wrap};
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

    // ---- setup ---------------------------------------------------------------

    fn configure(&mut self, setup: TenantSetup) {
        if setup.validate().is_err() {
            self.ignored("invalid setup");
            return;
        }
        let tid = setup.tenant;
        let mut centers = BTreeMap::new();
        for spec in &setup.centers {
            let Ok(calendar) = Calendar::new(&spec.time_zone, spec.hours.clone(), &spec.holidays)
            else {
                self.ignored("invalid setup");
                return;
            };
            centers.insert(
                spec.center,
                Center {
                    open: calendar.is_open(self.now),
                    next_open: calendar.next_open(self.now),
                    calendar,
                    spec: spec.clone(),
                    load: 0,
                    waiting: 0,
                },
            );
        }
        let mut old = self.tenants.remove(&tid);
        let mut queues = BTreeMap::new();
        for spec in &setup.queues {
            let prev = old.as_mut().and_then(|t| t.queues.remove(&spec.queue));
            let (handle_ms, rr_last, published, groups) = prev.map_or(
                (
                    self.config.initial_handle_time.as_millis() as f64,
                    None,
                    None,
                    Vec::new(),
                ),
                |q| (q.handle_ms, q.rr_last, q.published, q.groups),
            );
            queues.insert(
                spec.queue,
                Queue {
                    spec: spec.clone(),
                    handle_ms,
                    rr_last,
                    swrr: BTreeMap::new(),
                    online: 0,
                    ready: 0,
                    free: 0,
                    waiting: 0,
                    oldest: BTreeSet::new(),
                    published,
                    groups,
                    probes: [None; 4],
                },
            );
        }
        let (agents, generation) = match &old {
            Some(t) => {
                // Keep loads of centers that persist.
                for (id, c) in &t.centers {
                    if let Some(n) = centers.get_mut(id) {
                        n.load = c.load;
                        n.waiting = c.waiting;
                    }
                }
                for q in t.queues.keys() {
                    self.queue_tenant.remove(q);
                }
                (t.agents.clone(), t.generation + 1)
            }
            None => (BTreeSet::new(), 0),
        };
        for q in queues.keys() {
            self.queue_tenant.insert(*q, tid);
            self.dirty_queues.push(*q);
        }
        self.tenants.insert(
            tid,
            Tenant {
                setup,
                centers,
                queues,
                agents,
                generation,
            },
        );
        self.schedule_hours(tid);
        // Waiting counts and oldest arrivals are rebuilt from the contacts; those
        // of vanished queues are refused.
        let mut gone = Vec::new();
        let mut ids: Vec<ContactId> = self
            .contacts
            .values()
            .filter(|c| c.tenant == tid)
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let Some(c) = self.contacts.get(&id) else {
                continue;
            };
            let known = self.queue_tenant.get(&c.queue) == Some(&tid);
            match (known, c.stage) {
                (false, Stage::Waiting(_) | Stage::Scheduled(_)) => gone.push(id),
                (true, Stage::Waiting(_)) => {
                    let (queue, arrived) = (c.queue, c.arrived);
                    if let Some(q) = self.queue_mut(queue) {
                        q.waiting += 1;
                        q.oldest.insert((arrived, id));
                    }
                }
                _ => {}
            }
        }
        for id in gone {
            self.leave_line(id);
            self.event(Event::Refused {
                contact: id,
                reason: Refusal::UnknownQueue,
            });
            self.left(id, Outcome::Refused);
        }
        self.rebuild_queue_membership(tid);
    }

    fn queue_mut(&mut self, queue: QueueId) -> Option<&mut Queue> {
        let t = self.queue_tenant.get(&queue)?;
        self.tenants.get_mut(t)?.queues.get_mut(&queue)
    }

    fn queue_ref(&self, queue: QueueId) -> Option<&Queue> {
        let t = self.queue_tenant.get(&queue)?;
        self.tenants.get(t)?.queues.get(&queue)
    }

    // ---- contacts --------------------------------------------------------------

    fn refuse(&mut self, contact: ContactId, reason: Refusal) {
        self.event(Event::Refused { contact, reason });
        self.event(Event::Left {
            contact,
            outcome: Outcome::Refused,
        });
    }

    fn arrive(&mut self, spec: &ContactSpec) {
        let id = spec.contact;
        if self.contacts.contains_key(&id) {
            self.ignored("contact already known");
            return;
        }
        let Some(&tid) = self.queue_tenant.get(&spec.queue) else {
            self.refuse(id, Refusal::UnknownQueue);
            return;
        };
        let Some(tenant) = self.tenants.get(&tid) else {
            self.refuse(id, Refusal::UnknownQueue);
            return;
        };
        let Some(queue) = tenant.queues.get(&spec.queue) else {
            self.refuse(id, Refusal::UnknownQueue);
            return;
        };
        let class = spec.attributes.class.as_deref();
        if let Some(rule) = tenant
            .setup
            .media_rules
            .iter()
            .find(|r| r.media == spec.media)
            && !class.is_some_and(|c| rule.classes.iter().any(|x| x == c))
        {
            let reason = Refusal::NotEntitled {
                media: spec.media,
                allowed: rule.classes.clone(),
            };
            self.refuse(id, reason);
            return;
        }
        let boost = class
            .and_then(|c| tenant.setup.classes.iter().find(|k| k.name == c))
            .map_or(0, |k| k.priority_boost);
        let priority = queue
            .spec
            .priority
            .saturating_add(spec.priority)
            .saturating_add(boost);
        let candidates: BTreeSet<CenterId> = if queue.spec.centers.is_empty() {
            tenant.centers.keys().copied().collect()
        } else {
            queue.spec.centers.iter().copied().collect()
        };
        let scheduled = spec.not_before.filter(|t| *t > self.now);
        if scheduled.is_none()
            && !candidates
                .iter()
                .filter_map(|c| tenant.centers.get(c))
                .any(|c| c.calendar.is_open(self.now))
        {
            let next_open = candidates
                .iter()
                .filter_map(|c| tenant.centers.get(c))
                .filter_map(|c| c.calendar.next_open(self.now))
                .min();
            self.refuse(id, Refusal::Closed { next_open });
            return;
        }
        let skills = merge_skills(&queue.spec.required, &spec.skills);
        // Only what is needed later (no clone of the whole spec per arrival).
        let policy = queue.spec.center_policy;
        let preferred_wait = spec
            .preferred_wait
            .unwrap_or(queue.spec.preferred_agent_wait);
        let overflow_after: Vec<Duration> = queue.spec.overflow.iter().map(|r| r.after).collect();
        // Contacts without extra skills share the queue's probe group per media.
        let plain = spec.skills.is_empty();
        let cached = queue.probes[spec.media.index()].filter(|_| plain);
        let probe = if let Some(g) = cached {
            g
        } else {
            let probe = Req {
                tenant: tid,
                queue: spec.queue,
                media: spec.media,
                alts: vec![Alt {
                    skills: skills.clone(),
                    centers: candidates.clone(),
                }],
                preferred: None,
                excluded: None,
            };
            let g = self.group_for(probe);
            if plain && let Some(q) = self.queue_mut(spec.queue) {
                q.probes[spec.media.index()] = Some(g);
            }
            g
        };
        if self.groups[probe].configured.values().all(|n| *n == 0) {
            self.refuse(id, Refusal::NoQualifiedAgents);
            return;
        }
        let preferred = spec.preferred_agent.filter(|a| {
            self.agents
                .get(a)
                .is_some_and(|ag| ag.groups.contains(&probe))
        });
        let center = match preferred.and_then(|a| self.agents.get(&a)) {
            Some(a) => a.spec.center,
            None => self.choose_center(
                tid,
                spec.queue,
                policy,
                probe,
                &candidates,
                &spec.attributes,
            ),
        };
        let base = scheduled.unwrap_or(spec.arrived);
        self.arrival_seq += 1;
        let key = (
            base.0
                .saturating_sub(i64::from(priority).saturating_mul(self.aging_ms)),
            self.arrival_seq,
        );
        let contact = Contact {
            id,
            tenant: tid,
            queue: spec.queue,
            media: spec.media,
            arrived: spec.arrived,
            key,
            stage: Stage::Scheduled(base),
            center: Some(center),
            // Every candidate center's agents may serve the contact; the chosen
            // center is only preferred (its free agents are offered first), so
            // a contact never waits on an empty center while another has room.
            alts: vec![Alt {
                skills,
                centers: candidates.clone(),
            }],
            preferred,
            excluded: spec.excluded_agent,
            declined: false,
            attempts: spec.attempts_made,
            plan: spec.callback.unwrap_or_default(),
            assigned_at: self.now,
            sent: None,
            sent_at: None,
            epoch: 0,
            // With the probe's very requirement (no preference, nobody
            // excluded) the contact waits in the probe group itself.
            group: (preferred.is_none() && spec.excluded_agent.is_none()).then_some(probe),
            offer_timer: None,
        };
        self.contacts.insert(id, contact);
        if let Some(c) = self.center_mut(tid, center) {
            c.load += 1;
        }
        self.event(Event::Queued {
            contact: id,
            queue: spec.queue,
            center: Some(center),
            scheduled_for: scheduled,
        });
        for (i, after) in overflow_after.into_iter().enumerate() {
            self.timer(base.plus(after), Timer::Overflow(id, i));
        }
        if preferred.is_some() || spec.excluded_agent.is_some() {
            self.timer(base.plus(preferred_wait), Timer::Preference(id));
        }
        if let Some(at) = scheduled {
            self.timer(at, Timer::Enter(id, 0));
        } else {
            self.enter_line(id);
            self.entered.push(id);
        }
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

    /// Puts a contact that was offered or dialled back at its place (or refuses it
    /// if its queue disappeared meanwhile).
    fn requeue(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if self.queue_tenant.get(&c.queue) != Some(&c.tenant) {
            self.event(Event::Refused {
                contact: id,
                reason: Refusal::UnknownQueue,
            });
            self.left(id, Outcome::Refused);
            return;
        }
        self.enter_line(id);
    }

    fn contact_left(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let outcome = if c.declined {
            Outcome::DeclinedAll
        } else {
            Outcome::Abandoned
        };
        match c.stage {
            Stage::Waiting(_) => self.leave_line(id),
            Stage::Scheduled(_) => {}
            Stage::Offered(agent) => {
                self.command(Command::CancelOffer {
                    contact: id,
                    agent,
                    reason: CancelReason::Abandoned,
                });
                self.release_pending(agent, id);
            }
            Stage::Dialing(agent) => self.release_pending(agent, id),
            Stage::Held(_) => {
                self.ignored("contact is held by an agent; end it instead");
                return;
            }
        }
        self.left(id, outcome);
    }

    fn make_callback(&mut self, id: ContactId, plan: CallbackPlan) {
        let Some(c) = self.contacts.get_mut(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if !matches!(c.stage, Stage::Waiting(_)) {
            self.ignored("only a waiting contact can become a callback");
            return;
        }
        c.media = Media::Callback;
        c.plan = plan;
        c.group = None;
        self.regroup(id);
    }

    fn offer_accepted(&mut self, id: ContactId, agent: AgentId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if c.stage != Stage::Offered(agent) {
            self.ignored("no such offer pending");
            return;
        }
        self.assign(id, agent);
    }

    fn assign(&mut self, id: ContactId, agent: AgentId) {
        self.set_stage(id, Stage::Held(agent));
        let media = match self.contacts.get_mut(&id) {
            Some(c) => {
                c.assigned_at = self.now;
                c.media
            }
            None => return,
        };
        if let Some(a) = self.agents.get_mut(&agent) {
            a.pending = None;
            a.held.push((id, media));
        }
        self.event(Event::Assigned { contact: id, agent });
        self.touch(agent);
    }

    fn offer_declined(&mut self, id: ContactId, agent: AgentId) {
        let Some(c) = self.contacts.get_mut(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if c.stage != Stage::Offered(agent) {
            self.ignored("no such offer pending");
            return;
        }
        c.declined = true;
        self.event(Event::Declined { contact: id, agent });
        self.release_pending(agent, id);
        self.set_presence(agent, Some(NotReadyReason::Declined));
        self.requeue(id);
    }

    fn offer_expired(&mut self, id: ContactId, epoch: u64) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Stage::Offered(agent) = c.stage else {
            return;
        };
        if c.epoch != epoch {
            return;
        }
        c.declined = true;
        self.command(Command::CancelOffer {
            contact: id,
            agent,
            reason: CancelReason::Timeout,
        });
        self.event(Event::OfferTimedOut { contact: id, agent });
        self.release_pending(agent, id);
        self.set_presence(agent, Some(NotReadyReason::MissedOffer));
        self.requeue(id);
    }

    fn callback_connected(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let Stage::Dialing(agent) = c.stage else {
            self.ignored("no callback being dialled");
            return;
        };
        self.assign(id, agent);
    }

    fn callback_failed(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get_mut(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let Stage::Dialing(agent) = c.stage else {
            self.ignored("no callback being dialled");
            return;
        };
        c.attempts = c.attempts.saturating_add(1);
        let attempt = c.attempts;
        let retry = (attempt < c.plan.max_attempts).then(|| self.now.plus(c.plan.retry_delay));
        self.release_pending(agent, id);
        self.event(Event::CallbackAttemptFailed {
            contact: id,
            attempt,
            retry_at: retry,
        });
        match retry {
            Some(at) => {
                let epoch = self.set_stage(id, Stage::Scheduled(at));
                self.timer(at, Timer::Enter(id, epoch));
            }
            None => self.left(id, Outcome::CallbackFailed),
        }
    }

    fn scheduled_entry(&mut self, id: ContactId, epoch: u64) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if c.epoch != epoch || !matches!(c.stage, Stage::Scheduled(_)) {
            return;
        }
        // Business hours are not checked again here: the contact was accepted
        // (for a scheduled callback, whatever the hours) and keeps its promise.
        self.requeue(id);
        if self.contacts.contains_key(&id) {
            self.entered.push(id);
        }
    }

    fn contact_ended(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let Stage::Held(agent) = c.stage else {
            self.ignored("contact is not held by an agent");
            return;
        };
        let (queue, media, assigned_at) = (c.queue, c.media, c.assigned_at);
        let wrap_up = self
            .queue_ref(queue)
            .map_or(Duration::from_mins(1), |q| q.spec.wrap_up);
        let until = self.now.plus(wrap_up);
        // The agent may have been removed (and even defined anew) meanwhile: its
        // slot is only taken if it still holds the contact.
        if let Some(a) = self.agents.get_mut(&agent)
            && a.held.iter().any(|(h, _)| *h == id)
        {
            a.held.retain(|(h, _)| *h != id);
            self.timer_seq += 1;
            let timer = (until, self.timer_seq, Timer::WrapUp(agent, id));
            self.timers.insert(timer);
            a.wrapping.push(Wrap {
                contact: id,
                queue,
                media,
                until,
                assigned_at,
                timer,
            });
            self.wrapups.insert(id, agent);
        }
        self.left(id, Outcome::Answered);
        self.touch(agent);
    }

    fn wrap_up_done(&mut self, id: ContactId) {
        match self.wrapups.get(&id) {
            Some(&agent) => self.end_wrap_up(agent, id, false),
            None => self.ignored("no wrap-up running for contact"),
        }
    }

    fn preference_expired(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        if (c.preferred.is_none() && c.excluded.is_none()) || matches!(c.stage, Stage::Held(_)) {
            return;
        }
        c.preferred = None;
        c.excluded = None;
        c.group = None;
        self.event(Event::PreferenceExpired { contact: id });
        self.regroup(id);
    }

    fn overflow(&mut self, id: ContactId, rule: usize) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if matches!(c.stage, Stage::Held(_)) {
            return;
        }
        let (tid, queue) = (c.tenant, c.queue);
        let Some(action) = self
            .queue_ref(queue)
            .and_then(|q| q.spec.overflow.get(rule))
            .map(|r| r.action.clone())
        else {
            return;
        };
        let extra = match &action {
            OverflowAction::AddQueue(q) => {
                let Some(tenant) = self.tenants.get(&tid) else {
                    return;
                };
                let Some(target) = tenant.queues.get(q) else {
                    return;
                };
                let centers = if target.spec.centers.is_empty() {
                    tenant.centers.keys().copied().collect()
                } else {
                    target.spec.centers.iter().copied().collect()
                };
                Some(Alt {
                    skills: merge_skills(&target.spec.required, &[]),
                    centers,
                })
            }
            _ => None,
        };
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        match action {
            OverflowAction::DropSkill(skill) => {
                if let Some(a) = c.alts.first_mut() {
                    a.skills.retain(|r| r.skill != skill);
                }
            }
            OverflowAction::LowerLevel { skill, min_level } => {
                if let Some(a) = c.alts.first_mut() {
                    for r in &mut a.skills {
                        if r.skill == skill {
                            r.min_level = r.min_level.min(min_level.clamp(1, 10));
                        }
                    }
                }
            }
            OverflowAction::AddCenter(center) => {
                if let Some(a) = c.alts.first_mut() {
                    a.centers.insert(center);
                }
            }
            OverflowAction::AddQueue(_) => {
                if let Some(alt) = extra
                    && !c.alts.contains(&alt)
                {
                    c.alts.push(alt);
                }
            }
        }
        c.group = None;
        self.event(Event::Overflowed { contact: id, rule });
        self.regroup(id);
    }
}

/// The queue's skills plus the contact's; a skill named twice keeps the higher
/// level. Levels are clamped to 1-10; the result is sorted (a group key).
fn merge_skills(a: &[SkillReq], b: &[SkillReq]) -> Vec<SkillReq> {
    let mut map: BTreeMap<crate::SkillId, u8> = BTreeMap::new();
    for r in a.iter().chain(b) {
        let level = r.min_level.clamp(1, 10);
        let e = map.entry(r.skill).or_insert(level);
        *e = (*e).max(level);
    }
    map.into_iter()
        .map(|(skill, min_level)| SkillReq { skill, min_level })
        .collect()
}

/// A fast hasher for the core's integer ids (the maps are keyed by ids the owner
/// chooses; this is not meant to resist crafted keys, and ids are not secret).
#[derive(Debug, Clone, Copy, Default)]
struct IdHash;

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing with a rotation so the high bits reach the low ones
        // hashbrown uses.
        self.0 = (self.0.rotate_left(5) ^ n)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}
