//! Simulation harness for the ACD core: a clock that moves only when a test steps
//! it, and helpers that feed one input and drain everything it caused.

// Each test file is its own crate and uses only part of this harness.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use acd::{
    Acd, AgentId, AgentState, AgentView, Command, Config, ContactId, Event, Input, NotReadyReason,
    Output, QueueId, SkillId,
};

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

pub fn login() -> AgentState {
    AgentState::NotReady(NotReadyReason::Chosen("login".to_owned()))
}

/// What one input caused, split by kind, in order.
#[derive(Debug, Default)]
pub struct Drained {
    pub commands: Vec<Command>,
    pub events: Vec<Event>,
    /// Everything in the order `poll_output` gave it (without the final timeout).
    pub outputs: Vec<Output>,
    pub timeout: Option<Instant>,
}

impl Drained {
    /// `(contact, agent)` of every `Command::Offer`.
    pub fn offers(&self) -> Vec<(ContactId, AgentId)> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::Offer { contact, agent, .. } => Some((*contact, *agent)),
                Command::CancelOffer { .. } => None,
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

    /// `(available, wait, waiting)` of every `Event::QueueStatus`.
    pub fn queue_status(&self) -> Vec<(bool, Duration, u32)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::QueueStatus {
                    available,
                    wait,
                    waiting,
                    ..
                } => Some((*available, *wait, *waiting)),
                _ => None,
            })
            .collect()
    }

    pub fn has_event(&self, event: &Event) -> bool {
        self.events.contains(event)
    }
}

/// Drains the core until it returns its timeout.
pub fn drain(acd: &mut Acd) -> Drained {
    let mut drained = Drained::default();
    // Far more than any test produces; a core that never returns its timeout is a bug.
    for _ in 0..100_000 {
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
    pub now: Instant,
    /// The wake-up the core asked for last.
    pub timeout: Option<Instant>,
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
        // The one clock read of a test: a base the simulation counts from.
        let now = Instant::now();
        Self {
            acd: Acd::new(config, now),
            now,
            timeout: None,
        }
    }

    /// Moves the clock forward; the core hears nothing until the next input.
    pub fn step(&mut self, by: Duration) {
        self.now += by;
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

    pub fn define_queue(&mut self, q: i64, s: i64) -> Drained {
        self.input(Input::QueueDefined {
            queue: queue(q),
            skill: skill(s),
        })
    }

    pub fn online(&mut self, a: i64, skills: &[i64], capacity: u32) -> Drained {
        self.input(Input::AgentOnline {
            agent: agent(a),
            skills: skills.iter().copied().map(skill).collect(),
            capacity,
        })
    }

    pub fn ready(&mut self, a: i64) -> Drained {
        self.input(Input::AgentReady { agent: agent(a) })
    }

    /// Online and ready in one go.
    pub fn ready_agent(&mut self, a: i64, skills: &[i64], capacity: u32) -> Drained {
        self.online(a, skills, capacity);
        self.ready(a)
    }

    pub fn arrive(&mut self, c: i64, q: i64) -> Drained {
        self.input(Input::ContactArrived {
            contact: contact(c),
            queue: queue(q),
        })
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

    pub fn finish(&mut self, c: i64) -> Drained {
        self.input(Input::ContactFinished {
            contact: contact(c),
        })
    }

    pub fn view(&self, a: i64) -> AgentView {
        self.acd
            .agents()
            .into_iter()
            .find(|v| v.agent == agent(a))
            .expect("agent known to the core")
    }
}
