//! The [`Acd`] state machine: inputs in; commands, events and a wake-up time out.
//!
//! Each `handle_input` runs in three steps:
//! 1. apply the input (state changes, and the commands/events they cause);
//! 2. route: offer waiting contacts to free agents until no more match;
//! 3. publish: `Waiting` and `QueueStatus` events for the queues whose line, agents
//!    or handle time changed, each only if what it says differs from the last one.
//!    Publishing comes after routing, so a contact offered in the same input it
//!    arrived in never gets a `Waiting` event: it never waited.
//!
//! Routing is oldest first across queues: of all queue heads that some free
//! qualified agent could take, the one that arrived first is offered first, to the
//! longest-idle such agent (see `Agent::idle_since`). Within a queue this is plain
//! FIFO; across queues it keeps one busy queue from starving another that shares
//! its agents.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::estimate::{HandleTime, wait_estimate};
use crate::roster::{Agent, Roster};
use crate::{
    AgentId, AgentState, CancelReason, Command, Config, ContactId, Event, Input, NotReadyReason,
    Outcome, Output, QueueId, SkillId,
};

/// How far ahead `poll_output` asks to be woken when nothing is pending; waking
/// early is harmless, so any long span does.
const IDLE_WAKE_UP: Duration = Duration::from_hours(1);

/// The not-ready reason an agent starts with when their console connects.
const LOGIN: &str = "login";

/// A queue as seen from outside, for a newcomer and for dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// At least one agent holding the queue's skill is `Available`, whatever their
    /// load: someone is working this queue. (Whether a newcomer is served at once
    /// shows in `wait` being zero.)
    pub available: bool,
    /// Estimated wait for a contact arriving now: zero if a qualified agent could
    /// take an offer right now, else the estimate at position `waiting + 1`.
    pub wait: Duration,
    /// Contacts waiting (not counting those with an offer ringing).
    pub waiting: u32,
    /// Arrival of the contact at the head of the line, if any.
    pub oldest_since: Option<Instant>,
}

/// One agent as seen from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    pub agent: AgentId,
    pub state: AgentState,
    /// In the order they were accepted.
    pub assigned: Vec<ContactId>,
    pub offered: Option<ContactId>,
    pub capacity: u32,
}

#[derive(Debug)]
struct Queue {
    skill: SkillId,
    /// Waiting contacts by arrival number. An offered contact is taken out and put
    /// back under the same number if the offer fails, so it returns to exactly its
    /// old place, ahead of everyone who arrived after it.
    line: BTreeMap<u64, ContactId>,
    handle_time: HandleTime,
    /// The last `QueueStatus` event sent, as (available, wait, waiting).
    published: Option<(bool, Duration, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Offered { agent: AgentId, expires: Instant },
    Assigned { agent: AgentId, since: Instant },
}

#[derive(Debug)]
struct Contact {
    queue: QueueId,
    /// Arrival number: the contact's place in its queue's line.
    arrival: u64,
    arrived: Instant,
    stage: Stage,
    /// An offer of it was declined or missed (its outcome, if it leaves unserved,
    /// is `DeclinedAll`).
    refused: bool,
    /// The last `Waiting` event sent as (position, wait); cleared when an offer is
    /// made, so a contact that goes back to the line is told its place again.
    announced: Option<(u32, Duration)>,
}

/// The routing core. See the crate doc for the run-loop contract.
#[derive(Debug)]
pub struct Acd {
    config: Config,
    /// The latest time seen; later inputs never move it back.
    now: Instant,
    queues: BTreeMap<QueueId, Queue>,
    contacts: HashMap<ContactId, Contact>,
    roster: Roster,
    /// Pending offers by expiry: the first one is the next wake-up.
    deadlines: BTreeSet<(Instant, ContactId)>,
    next_arrival: u64,
    /// Queues to publish `Waiting`/`QueueStatus` for at the end of this input.
    dirty: BTreeSet<QueueId>,
    out: VecDeque<Output>,
}

impl Acd {
    /// A core whose clock starts at `now` (the owner's time at creation; the
    /// core never reads a clock itself).
    pub fn new(config: Config, now: Instant) -> Acd {
        Acd {
            config,
            now,
            queues: BTreeMap::new(),
            contacts: HashMap::new(),
            roster: Roster::default(),
            deadlines: BTreeSet::new(),
            next_arrival: 0,
            dirty: BTreeSet::new(),
            out: VecDeque::new(),
        }
    }

    /// Applies one input at `now`, then routes and publishes; drain the results with
    /// [`Acd::poll_output`]. A `now` earlier than one already seen is taken as the
    /// latest time seen, so time never runs backwards inside.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        let now = self.now.max(now);
        self.now = now;
        match input {
            Input::QueueDefined { queue, skill } => self.define_queue(queue, skill),
            Input::AgentOnline {
                agent,
                skills,
                capacity,
            } => self.agent_online(now, agent, skills, capacity),
            Input::AgentOffline { agent } => self.agent_offline(agent),
            Input::AgentReady { agent } => self.agent_ready(now, agent),
            Input::AgentNotReady { agent, reason } => self.agent_not_ready(agent, reason),
            Input::ContactArrived { contact, queue } => self.contact_arrived(now, contact, queue),
            Input::ContactLeft { contact } => self.contact_left(contact),
            Input::OfferAccepted { contact, agent } => self.offer_accepted(now, contact, agent),
            Input::OfferDeclined { contact, agent } => self.offer_declined(contact, agent),
            Input::ContactFinished { contact } => self.contact_finished(now, contact),
            Input::Timeout => self.expire_offers(now),
        }
        self.route(now);
        self.publish();
    }

    /// The next command or event, in the order they arose; when none is left,
    /// `Output::Timeout` with the next offer expiry (or, with no offer pending, a
    /// wake-up an hour past the latest time seen).
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.out.pop_front() {
            return output;
        }
        if let Some((expires, _)) = self.deadlines.first() {
            return Output::Timeout(*expires);
        }
        let base = self.now;
        Output::Timeout(base.checked_add(IDLE_WAKE_UP).unwrap_or(base))
    }

    /// The queue as a newcomer would find it. An unknown queue shows as unstaffed and
    /// empty, with the estimate for position 1.
    pub fn queue_status(&self, queue: QueueId) -> QueueStatus {
        match self.queues.get(&queue) {
            Some(q) => self.status_of(q),
            None => QueueStatus {
                available: false,
                wait: wait_estimate(1, 0, self.config.initial_handle_time),
                waiting: 0,
                oldest_since: None,
            },
        }
    }

    /// All agents the core has seen, by id (offline ones included).
    pub fn agents(&self) -> Vec<AgentView> {
        self.roster.iter().map(|(id, a)| view_of(id, a)).collect()
    }

    /// One agent as the core sees it; `None` if it never came online.
    pub fn agent(&self, agent: AgentId) -> Option<AgentView> {
        self.roster.get(agent).map(|a| view_of(agent, a))
    }

    /// Position (1 = next) and estimated wait of a waiting contact; `None` if the
    /// contact is unknown, being offered, or assigned.
    pub fn waiting_position(&self, contact: ContactId) -> Option<(u32, Duration)> {
        let c = self.contacts.get(&contact)?;
        if c.stage != Stage::Waiting {
            return None;
        }
        let q = self.queues.get(&c.queue)?;
        let position = position_from_ahead(q.line.range(..c.arrival).count());
        Some((position, self.estimate(q, position)))
    }

    // ---- inputs ----

    fn define_queue(&mut self, queue: QueueId, skill: SkillId) {
        let config = &self.config;
        self.queues
            .entry(queue)
            .and_modify(|q| q.skill = skill)
            .or_insert_with(|| Queue {
                skill,
                line: BTreeMap::new(),
                handle_time: HandleTime::new(
                    config.initial_handle_time,
                    config.handle_time_smoothing,
                ),
                published: None,
            });
        self.dirty.insert(queue);
    }

    /// A new or returning agent starts not-ready. A console connecting for an agent
    /// who is already online (a second tab, a reconnect before the old socket
    /// closed) updates skills and capacity but keeps their state and any ringing
    /// offer; a lowered capacity then applies to new offers only.
    fn agent_online(&mut self, now: Instant, agent: AgentId, skills: Vec<SkillId>, capacity: u32) {
        self.roster.enrol(agent, now);
        let login = AgentState::NotReady(NotReadyReason::Chosen(LOGIN.to_owned()));
        let changed = self.update_agent(agent, |a| {
            a.skills = skills.into_iter().collect();
            a.capacity = capacity;
            if a.state == AgentState::Offline {
                a.state = login.clone();
                a.idle_since = now;
                true
            } else {
                false
            }
        });
        if changed == Some(true) {
            self.emit(Event::AgentStateChanged {
                agent,
                state: login,
            });
        }
    }

    fn agent_offline(&mut self, agent: AgentId) {
        let Some(a) = self.roster.get(agent) else {
            return self.ignore("unknown agent");
        };
        if a.state == AgentState::Offline {
            return self.ignore("agent already offline");
        }
        if let Some(contact) = a.offer {
            self.end_offer(contact);
            self.command(Command::CancelOffer {
                contact,
                agent,
                reason: CancelReason::AgentOffline,
            });
            self.requeue(contact);
        }
        self.set_state(None, agent, AgentState::Offline);
    }

    fn agent_ready(&mut self, now: Instant, agent: AgentId) {
        match self.roster.get(agent).map(|a| &a.state) {
            None => self.ignore("unknown agent"),
            Some(AgentState::Offline) => self.ignore("agent offline"),
            // Pressing ready again must not move the agent in the idle order.
            Some(AgentState::Available) => {}
            Some(AgentState::NotReady(_)) => {
                self.set_state(Some(now), agent, AgentState::Available);
            }
        }
    }

    /// A ringing offer stays: the agent may still answer it, or decline it.
    fn agent_not_ready(&mut self, agent: AgentId, reason: NotReadyReason) {
        match self.roster.get(agent).map(|a| &a.state) {
            None => self.ignore("unknown agent"),
            Some(AgentState::Offline) => self.ignore("agent offline"),
            Some(_) => self.set_state(None, agent, AgentState::NotReady(reason)),
        }
    }

    fn contact_arrived(&mut self, now: Instant, contact: ContactId, queue: QueueId) {
        if self.contacts.contains_key(&contact) {
            return self.ignore("contact already known");
        }
        let Some(q) = self.queues.get_mut(&queue) else {
            return self.ignore("unknown queue");
        };
        let arrival = self.next_arrival;
        // A u64 of arrivals does not run out (one per nanosecond lasts 584 years).
        self.next_arrival += 1;
        q.line.insert(arrival, contact);
        self.contacts.insert(
            contact,
            Contact {
                queue,
                arrival,
                arrived: now,
                stage: Stage::Waiting,
                refused: false,
                announced: None,
            },
        );
        self.dirty.insert(queue);
    }

    /// A contact that is assigned stays with its agent until `ContactFinished`.
    fn contact_left(&mut self, contact: ContactId) {
        let Some(c) = self.contacts.get(&contact) else {
            return self.ignore("unknown contact");
        };
        match c.stage {
            Stage::Waiting => {
                let (queue, arrival) = (c.queue, c.arrival);
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.line.remove(&arrival);
                }
                self.dirty.insert(queue);
            }
            Stage::Offered { agent, .. } => {
                self.end_offer(contact);
                self.command(Command::CancelOffer {
                    contact,
                    agent,
                    reason: CancelReason::Abandoned,
                });
            }
            Stage::Assigned { .. } => return,
        }
        self.forget(contact);
    }

    fn offer_accepted(&mut self, now: Instant, contact: ContactId, agent: AgentId) {
        if !self.is_offered_to(contact, agent) {
            return self.ignore("no such offer");
        }
        self.end_offer(contact);
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.stage = Stage::Assigned { agent, since: now };
        }
        // A lowered capacity (see `agent_online`) may leave the agent above it; the
        // offer was made within it, and refusing the accept would strand the contact.
        self.update_agent(agent, |a| {
            a.assigned.push(contact);
            a.idle_since = now;
        });
        self.emit(Event::Assigned { contact, agent });
    }

    fn offer_declined(&mut self, contact: ContactId, agent: AgentId) {
        if !self.is_offered_to(contact, agent) {
            return self.ignore("no such offer");
        }
        self.end_offer(contact);
        self.emit(Event::Declined { contact, agent });
        self.refuse(contact, agent, NotReadyReason::Declined);
    }

    fn contact_finished(&mut self, now: Instant, contact: ContactId) {
        let Some(c) = self.contacts.get(&contact) else {
            return self.ignore("unknown contact");
        };
        let Stage::Assigned { agent, since } = c.stage else {
            return self.ignore("contact not assigned");
        };
        let queue = c.queue;
        self.update_agent(agent, |a| {
            a.assigned.retain(|held| *held != contact);
            a.idle_since = now;
        });
        if let Some(q) = self.queues.get_mut(&queue) {
            q.handle_time.record(now.saturating_duration_since(since));
            self.dirty.insert(queue);
        }
        self.contacts.remove(&contact);
        self.emit(Event::Left {
            contact,
            outcome: Outcome::Answered,
        });
    }

    fn expire_offers(&mut self, now: Instant) {
        while self
            .deadlines
            .first()
            .is_some_and(|(expires, _)| *expires <= now)
        {
            let Some((_, contact)) = self.deadlines.pop_first() else {
                break;
            };
            // The deadline set only holds offered contacts; a stale entry is skipped.
            let Some(agent) = self.end_offer(contact) else {
                continue;
            };
            self.command(Command::CancelOffer {
                contact,
                agent,
                reason: CancelReason::Timeout,
            });
            self.emit(Event::OfferTimedOut { contact, agent });
            self.refuse(contact, agent, NotReadyReason::MissedOffer);
        }
    }

    // ---- routing ----

    fn route(&mut self, now: Instant) {
        loop {
            let mut best: Option<(u64, ContactId, AgentId)> = None;
            for q in self.queues.values() {
                let Some((&arrival, &contact)) = q.line.first_key_value() else {
                    continue;
                };
                if best.is_some_and(|(earliest, ..)| earliest < arrival) {
                    continue;
                }
                if let Some(agent) = self.roster.longest_idle_free(q.skill) {
                    best = Some((arrival, contact, agent));
                }
            }
            // Each offer takes a contact out of a line, so this loop ends.
            let Some((_, contact, agent)) = best else {
                break;
            };
            self.offer(now, contact, agent);
        }
    }

    fn offer(&mut self, now: Instant, contact: ContactId, agent: AgentId) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        // An offer timeout too large to add is taken as "expires now" rather than
        // never: an offer that never expires would hold the agent forever.
        let expires = now.checked_add(self.config.offer_timeout).unwrap_or(now);
        c.stage = Stage::Offered { agent, expires };
        c.announced = None;
        if let Some(q) = self.queues.get_mut(&c.queue) {
            q.line.remove(&c.arrival);
        }
        self.dirty.insert(c.queue);
        self.deadlines.insert((expires, contact));
        self.update_agent(agent, |a| a.offer = Some(contact));
        self.command(Command::Offer {
            contact,
            agent,
            expires,
        });
        self.emit(Event::Offered { contact, agent });
    }

    // ---- shared steps ----

    fn is_offered_to(&self, contact: ContactId, agent: AgentId) -> bool {
        self.contacts
            .get(&contact)
            .is_some_and(|c| matches!(c.stage, Stage::Offered { agent: to, .. } if to == agent))
    }

    /// Frees the agent and the deadline of a pending offer; the caller decides
    /// where the contact goes next. Returns the agent it was offered to.
    fn end_offer(&mut self, contact: ContactId) -> Option<AgentId> {
        let c = self.contacts.get(&contact)?;
        let Stage::Offered { agent, expires } = c.stage else {
            return None;
        };
        self.deadlines.remove(&(expires, contact));
        self.update_agent(agent, |a| {
            if a.offer == Some(contact) {
                a.offer = None;
            }
        });
        Some(agent)
    }

    /// After a declined or missed offer: the contact goes back to its place, and an
    /// agent who was `Available` becomes not-ready (one who already chose
    /// not-ready while it rang keeps their own reason).
    fn refuse(&mut self, contact: ContactId, agent: AgentId, reason: NotReadyReason) {
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.refused = true;
        }
        self.requeue(contact);
        if self
            .roster
            .get(agent)
            .is_some_and(|a| a.state == AgentState::Available)
        {
            self.set_state(None, agent, AgentState::NotReady(reason));
        }
    }

    /// Puts an offered contact back at its own place in its line.
    fn requeue(&mut self, contact: ContactId) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        c.stage = Stage::Waiting;
        if let Some(q) = self.queues.get_mut(&c.queue) {
            q.line.insert(c.arrival, contact);
        }
        self.dirty.insert(c.queue);
    }

    /// Removes a contact that leaves unserved (no longer in any line or offer).
    fn forget(&mut self, contact: ContactId) {
        let Some(c) = self.contacts.remove(&contact) else {
            return;
        };
        let outcome = if c.refused {
            Outcome::DeclinedAll
        } else {
            Outcome::Abandoned
        };
        self.emit(Event::Left { contact, outcome });
    }

    /// Changes the agent's state, emitting `AgentStateChanged` if it differs.
    /// `became_available_at` is the time to use as idle-since when the new state is
    /// `Available`.
    fn set_state(
        &mut self,
        became_available_at: Option<Instant>,
        agent: AgentId,
        state: AgentState,
    ) {
        let changed = self.update_agent(agent, |a| {
            if a.state == state {
                return false;
            }
            if let (AgentState::Available, Some(now)) = (&state, became_available_at) {
                a.idle_since = now;
            }
            a.state = state.clone();
            true
        });
        if changed == Some(true) {
            self.emit(Event::AgentStateChanged { agent, state });
        }
    }

    /// Every agent change goes through here so that queues whose routing or
    /// estimate may change get published.
    fn update_agent<R>(
        &mut self,
        agent: AgentId,
        change: impl FnOnce(&mut Agent) -> R,
    ) -> Option<R> {
        let (result, skills) = self.roster.update(agent, change)?;
        for (id, q) in &self.queues {
            if skills.contains(&q.skill) {
                self.dirty.insert(*id);
            }
        }
        Some(result)
    }

    // ---- publishing ----

    fn publish(&mut self) {
        for queue in std::mem::take(&mut self.dirty) {
            let Some(q) = self.queues.get(&queue) else {
                continue;
            };
            let capacity = self.roster.online_capacity(q.skill);
            let average = q.handle_time.average();
            for (index, contact) in q.line.values().enumerate() {
                let position = position_from_ahead(index);
                let wait = wait_estimate(position, capacity, average);
                let Some(c) = self.contacts.get_mut(contact) else {
                    continue;
                };
                if c.announced != Some((position, wait)) {
                    c.announced = Some((position, wait));
                    self.out.push_back(Output::Event(Event::Waiting {
                        contact: *contact,
                        queue,
                        position,
                        wait,
                    }));
                }
            }
            let status = self.status_of(q);
            let now_published = Some((status.available, status.wait, status.waiting));
            if let Some(q) = self.queues.get_mut(&queue)
                && q.published != now_published
            {
                q.published = now_published;
                self.out.push_back(Output::Event(Event::QueueStatus {
                    queue,
                    available: status.available,
                    wait: status.wait,
                    waiting: status.waiting,
                }));
            }
        }
    }

    fn status_of(&self, q: &Queue) -> QueueStatus {
        let waiting = u32::try_from(q.line.len()).unwrap_or(u32::MAX);
        let wait = if self.roster.has_free(q.skill) {
            Duration::ZERO
        } else {
            self.estimate(q, waiting.saturating_add(1))
        };
        QueueStatus {
            available: self.roster.any_available(q.skill),
            wait,
            waiting,
            oldest_since: q
                .line
                .values()
                .next()
                .and_then(|c| self.contacts.get(c))
                .map(|c| c.arrived),
        }
    }

    fn estimate(&self, q: &Queue, position: u32) -> Duration {
        wait_estimate(
            position,
            self.roster.online_capacity(q.skill),
            q.handle_time.average(),
        )
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn command(&mut self, command: Command) {
        self.out.push_back(Output::Command(command));
    }

    fn ignore(&mut self, reason: &'static str) {
        self.emit(Event::Ignored { reason });
    }
}

/// 1-based position of a contact with `ahead` contacts before it.
fn position_from_ahead(ahead: usize) -> u32 {
    u32::try_from(ahead).map_or(u32::MAX, |n| n.saturating_add(1))
}

fn view_of(id: AgentId, agent: &Agent) -> AgentView {
    AgentView {
        agent: id,
        state: agent.state.clone(),
        assigned: agent.assigned.clone(),
        offered: agent.offer,
        capacity: agent.capacity,
    }
}
