//! Simulation harness for the ACD core: a clock in `Time` milliseconds that moves
//! only when a test steps it, and helpers that feed one input and drain everything
//! it caused.

// Each test file is its own crate and uses only part of this harness.
#![allow(dead_code)]

use std::time::Duration;

use acd::{
    Acd, AgentId, AgentSpec, AgentState, AgentView, Capacity, CenterId, CenterSpec, Command,
    Config, ContactId, ContactSpec, ContactView, Event, Input, Media, Outcome, Output, QueueId,
    QueueSpec, SkillId, SkillReq, TenantId, TenantSetup, Time, WeeklyHours,
};

pub const TENANT: TenantId = TenantId(1);
pub const CENTER: CenterId = CenterId(1);
/// Monday 2026-01-05 12:00 UTC.
pub const START: Time = Time(1_767_614_400_000);

pub fn agent(n: i64) -> AgentId {
    AgentId(n)
}

pub fn contact(n: i64) -> ContactId {
    ContactId(n)
}

pub fn queue(n: i64) -> QueueId {
    QueueId(n)
}

pub fn skill(n: i64) -> SkillId {
    SkillId(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn req(s: i64, level: u8) -> SkillReq {
    SkillReq {
        skill: skill(s),
        min_level: level,
    }
}

/// A center open all the time, in UTC.
pub fn center(id: i64) -> CenterSpec {
    CenterSpec {
        center: CenterId(id),
        time_zone: "UTC".into(),
        hours: WeeklyHours::always(),
        holidays: Vec::new(),
        region: None,
        weight: 1,
        capacity: None,
    }
}

/// Queue `q` requiring skill `s` at level 1 (or nothing when `s` is `None`).
pub fn queue_spec(q: i64, s: Option<i64>) -> QueueSpec {
    QueueSpec::new(queue(q), s.map(|s| vec![req(s, 1)]).unwrap_or_default())
}

/// One always-open UTC center and the given queues.
pub fn setup(queues: Vec<QueueSpec>) -> TenantSetup {
    TenantSetup {
        tenant: TENANT,
        centers: vec![center(1)],
        queues,
        classes: Vec::new(),
        media_rules: Vec::new(),
    }
}

pub fn agent_spec(a: i64, skills: &[(i64, u8)], capacity: Capacity) -> AgentSpec {
    AgentSpec {
        agent: agent(a),
        tenant: TENANT,
        center: CENTER,
        skills: skills.iter().map(|&(s, l)| (skill(s), l)).collect(),
        capacity,
    }
}

/// What one input caused, split by kind, in order.
#[derive(Debug, Default)]
pub struct Drained {
    pub commands: Vec<Command>,
    pub events: Vec<Event>,
    /// Everything in the order `poll_output` gave it (without the final timeout).
    pub outputs: Vec<Output>,
    pub timeout: Option<Time>,
}

impl Drained {
    /// `(contact, agent)` of every `Command::Offer`.
    pub fn offers(&self) -> Vec<(ContactId, AgentId)> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::Offer { contact, agent, .. } => Some((*contact, *agent)),
                _ => None,
            })
            .collect()
    }

    /// `(contact, agent, attempt)` of every `Command::DialCallback`.
    pub fn dials(&self) -> Vec<(ContactId, AgentId, u32)> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::DialCallback {
                    contact,
                    agent,
                    attempt,
                } => Some((*contact, *agent, *attempt)),
                _ => None,
            })
            .collect()
    }

    /// Reasons of every `Event::Ignored`.
    pub fn ignored(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Ignored { reason } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    /// `(contact, position, wait)` of every `Event::Waiting`.
    pub fn waiting(&self) -> Vec<(ContactId, u32, Duration)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Waiting {
                    contact,
                    position,
                    wait,
                    ..
                } => Some((*contact, *position, *wait)),
                _ => None,
            })
            .collect()
    }

    /// `(contact, outcome)` of every `Event::Left`.
    pub fn left(&self) -> Vec<(ContactId, Outcome)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Left { contact, outcome } => Some((*contact, *outcome)),
                _ => None,
            })
            .collect()
    }

    /// Every `Event::QueueStatus`.
    pub fn statuses(&self) -> Vec<acd::QueueStatus> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::QueueStatus { status, .. } => Some(status.clone()),
                _ => None,
            })
            .collect()
    }

    /// `(contact, center)` of every `Event::Queued`.
    pub fn queued(&self) -> Vec<(ContactId, Option<CenterId>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Queued {
                    contact, center, ..
                } => Some((*contact, *center)),
                _ => None,
            })
            .collect()
    }

    pub fn has_event(&self, event: &Event) -> bool {
        self.events.contains(event)
    }

    pub fn has_command(&self, command: &Command) -> bool {
        self.commands.contains(command)
    }

    /// The refusal reason, if the contact was refused.
    pub fn refusal(&self, c: ContactId) -> Option<acd::Refusal> {
        self.events.iter().find_map(|e| match e {
            Event::Refused { contact, reason } if *contact == c => Some(reason.clone()),
            _ => None,
        })
    }

    pub fn extend(&mut self, other: Drained) {
        self.commands.extend(other.commands);
        self.events.extend(other.events);
        self.outputs.extend(other.outputs);
        self.timeout = other.timeout;
    }
}

/// Drains the core until it returns its timeout.
pub fn drain(acd: &mut Acd) -> Drained {
    let mut drained = Drained::default();
    // Far more than any test produces; a core that never returns its timeout is a bug.
    for _ in 0..1_000_000 {
        match acd.poll_output() {
            Output::Timeout(t) => {
                drained.timeout = Some(t);
                return drained;
            }
            Output::Command(c) => {
                drained.outputs.push(Output::Command(c.clone()));
                drained.commands.push(c);
            }
            Output::Event(e) => {
                drained.outputs.push(Output::Event(e.clone()));
                drained.events.push(e);
            }
        }
    }
    panic!("poll_output never returned a timeout");
}

/// A core on a simulated clock.
#[derive(Debug)]
pub struct Sim {
    pub acd: Acd,
    pub now: Time,
    /// The wake-up the core asked for last.
    pub timeout: Option<Time>,
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Self::at(config, START)
    }

    pub fn at(config: Config, now: Time) -> Self {
        Self {
            acd: Acd::new(config, now),
            now,
            timeout: None,
        }
    }

    /// A core with one always-open center and the given queues (each requiring
    /// its skill at level 1).
    pub fn with_queues(queues: &[(i64, Option<i64>)]) -> Self {
        let mut sim = Self::new();
        sim.configure(setup(
            queues.iter().map(|&(q, s)| queue_spec(q, s)).collect(),
        ));
        sim
    }

    /// Moves the clock forward; the core hears nothing until the next input.
    pub fn step(&mut self, by: Duration) {
        self.now = self.now.plus(by);
    }

    /// Feeds one input at the current time and drains what it caused.
    pub fn input(&mut self, input: Input) -> Drained {
        self.acd.handle_input(self.now, input);
        let drained = drain(&mut self.acd);
        self.timeout = drained.timeout;
        drained
    }

    /// Moves the clock to the wake-up the core asked for and fires the timer.
    pub fn advance_to_next_timeout(&mut self) -> Drained {
        if let Some(t) = self.timeout {
            self.now = self.now.max(t);
        }
        self.input(Input::Timeout)
    }

    /// Fires every wake-up up to `by` from now, then sets the clock there;
    /// returns everything that happened.
    pub fn run_for(&mut self, by: Duration) -> Drained {
        let end = self.now.plus(by);
        let mut all = Drained::default();
        for _ in 0..100_000 {
            match self.timeout {
                Some(t) if t <= end => {
                    let d = self.advance_to_next_timeout();
                    all.extend(d);
                }
                _ => break,
            }
        }
        self.now = end;
        let d = self.input(Input::Timeout);
        all.extend(d);
        all
    }

    pub fn configure(&mut self, setup: TenantSetup) -> Drained {
        self.input(Input::Configure(Box::new(setup)))
    }

    pub fn define(&mut self, spec: AgentSpec) -> Drained {
        self.input(Input::AgentDefined(spec))
    }

    /// Defines the agent (center 1), brings it online and ready.
    pub fn ready_agent(&mut self, a: i64, skills: &[(i64, u8)], capacity: Capacity) -> Drained {
        let mut d = self.define(agent_spec(a, skills, capacity));
        d.extend(self.input(Input::AgentOnline { agent: agent(a) }));
        d.extend(self.ready(a));
        d
    }

    /// A ready agent with skill `s` at level 5 taking one call or three chats.
    pub fn staff(&mut self, a: i64, s: i64) -> Drained {
        self.ready_agent(a, &[(s, 5)], Capacity::default())
    }

    /// Defines the agent (skill `s` at level 5, default capacity) but leaves it
    /// offline: it counts as configured staff.
    pub fn hire(&mut self, a: i64, s: i64) -> Drained {
        self.define(agent_spec(a, &[(s, 5)], Capacity::default()))
    }

    pub fn ready(&mut self, a: i64) -> Drained {
        self.input(Input::AgentReady { agent: agent(a) })
    }

    pub fn not_ready(&mut self, a: i64) -> Drained {
        self.input(Input::AgentNotReady {
            agent: agent(a),
            reason: "break".into(),
        })
    }

    pub fn offline(&mut self, a: i64) -> Drained {
        self.input(Input::AgentOffline { agent: agent(a) })
    }

    pub fn spec(&self, c: i64, q: i64, media: Media) -> ContactSpec {
        ContactSpec::new(contact(c), queue(q), media, self.now)
    }

    pub fn arrive_spec(&mut self, spec: ContactSpec) -> Drained {
        self.input(Input::ContactArrived(Box::new(spec)))
    }

    /// A chat arriving now.
    pub fn arrive(&mut self, c: i64, q: i64) -> Drained {
        let spec = self.spec(c, q, Media::Chat);
        self.arrive_spec(spec)
    }

    /// A voice call arriving now.
    pub fn call(&mut self, c: i64, q: i64) -> Drained {
        let spec = self.spec(c, q, Media::Voice);
        self.arrive_spec(spec)
    }

    pub fn accept(&mut self, c: i64, a: i64) -> Drained {
        self.input(Input::OfferAccepted {
            contact: contact(c),
            agent: agent(a),
        })
    }

    pub fn decline(&mut self, c: i64, a: i64) -> Drained {
        self.input(Input::OfferDeclined {
            contact: contact(c),
            agent: agent(a),
        })
    }

    pub fn leave(&mut self, c: i64) -> Drained {
        self.input(Input::ContactLeft {
            contact: contact(c),
        })
    }

    pub fn end(&mut self, c: i64) -> Drained {
        self.input(Input::ContactEnded {
            contact: contact(c),
        })
    }

    pub fn view(&self, a: i64) -> AgentView {
        self.acd.agent(agent(a)).expect("agent known to the core")
    }

    pub fn state(&self, a: i64) -> AgentState {
        self.view(a).state
    }

    pub fn contact_view(&self, c: i64) -> Option<ContactView> {
        self.acd.contact(contact(c))
    }
}
