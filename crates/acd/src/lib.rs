//! Sans-IO routing core of Switchboard (the ACD).
//!
//! The core decides which agent gets which contact and when. It does no IO: no
//! sockets, no database, no clock reads, no threads. Its owner feeds it inputs
//! and drains its outputs.
//!
//! # Run-loop contract
//!
//! ```text
//! loop {
//!     // 1. Feed whatever happened, with the current time.
//!     acd.handle_input(now, input);          // or Input::Timeout when the timer fires
//!     // 2. Drain outputs until a Timeout comes back.
//!     loop {
//!         match acd.poll_output() {
//!             Output::Command(c) => carry it out (send an offer, cancel one),
//!             Output::Event(e)   => record it / publish it,
//!             Output::Timeout(t) => { arm a timer for t; break }
//!         }
//!     }
//! }
//! ```
//!
//! * `now` must never go backwards between calls.
//! * `poll_output` always ends with `Output::Timeout`; after it returns a timeout,
//!   nothing more is pending until the next `handle_input`.
//! * When the timer fires, call `handle_input(now, Input::Timeout)`.
//! * Every input that names an unknown agent or contact is ignored (and reported as
//!   `Event::Ignored`), never a panic: the IO side may race with the core.
//!
//! The routing here is the foundation router: each queue requires one skill; the
//! contact at the head of a queue is offered to the longest-idle ready agent who
//! holds that skill and has room. A declined or missed offer puts the contact back
//! at its original place and the agent into not-ready.

mod core;
mod estimate;
mod roster;

pub use crate::core::{Acd, AgentView, QueueStatus};

use std::time::{Duration, Instant};

/// A staff member who can take contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub i64);

/// One contact (a chat today; a call later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub i64);

/// A queue; the foundation has one per link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub i64);

/// A skill an agent holds and a queue requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SkillId(pub i64);

/// Tuning of the core.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long an offer reserves an agent before it counts as missed.
    pub offer_timeout: Duration,
    /// Handle time assumed before any contact has finished.
    pub initial_handle_time: Duration,
    /// Weight of the newest sample in the handle-time moving average (0..=1).
    pub handle_time_smoothing: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            offer_timeout: Duration::from_secs(20),
            initial_handle_time: Duration::from_mins(3),
            handle_time_smoothing: 0.2,
        }
    }
}

/// Why an agent is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadyReason {
    /// The agent chose it (break, training ...), with their words.
    Chosen(String),
    /// The agent declined an offer.
    Declined,
    /// An offer timed out unanswered.
    MissedOffer,
}

/// The state an agent is in, as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    Offline,
    NotReady(NotReadyReason),
    /// Ready for contacts (they may still be at capacity; see `Event::AgentLoad`).
    Available,
}

/// Something that happened, fed to the core.
#[derive(Debug, Clone)]
pub enum Input {
    /// A queue exists and requires `skill`. Defining it again updates the skill.
    QueueDefined {
        queue: QueueId,
        skill: SkillId,
    },
    /// An agent's console connected. Starts not-ready; `capacity` = concurrent chats.
    AgentOnline {
        agent: AgentId,
        skills: Vec<SkillId>,
        capacity: u32,
    },
    /// The console went away. A pending offer to this agent is withdrawn and the
    /// contact goes back to its place; contacts the agent holds stay assigned
    /// (the console may come back) until `ContactFinished`.
    AgentOffline {
        agent: AgentId,
    },
    AgentReady {
        agent: AgentId,
    },
    AgentNotReady {
        agent: AgentId,
        reason: NotReadyReason,
    },
    /// A contact entered a queue.
    ContactArrived {
        contact: ContactId,
        queue: QueueId,
    },
    /// The visitor left (or the system closed the contact) before it was finished.
    /// Waiting: leaves the queue. Offered: the offer is cancelled. Assigned: the
    /// agent keeps it until `ContactFinished` (wrap-up).
    ContactLeft {
        contact: ContactId,
    },
    OfferAccepted {
        contact: ContactId,
        agent: AgentId,
    },
    OfferDeclined {
        contact: ContactId,
        agent: AgentId,
    },
    /// The assigned contact is over, wrap-up included; the agent's slot is free.
    ContactFinished {
        contact: ContactId,
    },
    /// The timer returned by the last `Output::Timeout` fired.
    Timeout,
}

/// What the core wants done, what happened, or when to wake it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Command(Command),
    Event(Event),
    /// Call `handle_input(t, Input::Timeout)` at `t` (or earlier, harmlessly).
    Timeout(Instant),
}

/// Orders for the IO side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ring `agent` with `contact`; the agent is reserved until `expires`.
    Offer {
        contact: ContactId,
        agent: AgentId,
        expires: Instant,
    },
    /// Withdraw an offer that was made.
    CancelOffer {
        contact: ContactId,
        agent: AgentId,
        reason: CancelReason,
    },
}

/// Why an offer was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    Timeout,
    Abandoned,
    AgentOffline,
}

/// Facts for records, dashboards and visitors.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    AgentStateChanged {
        agent: AgentId,
        state: AgentState,
    },
    /// The contact is waiting at `position` (1 = next) with an estimated wait.
    /// Emitted on arrival and whenever position or estimate changes.
    Waiting {
        contact: ContactId,
        queue: QueueId,
        position: u32,
        wait: Duration,
    },
    Offered {
        contact: ContactId,
        agent: AgentId,
    },
    Declined {
        contact: ContactId,
        agent: AgentId,
    },
    OfferTimedOut {
        contact: ContactId,
        agent: AgentId,
    },
    Assigned {
        contact: ContactId,
        agent: AgentId,
    },
    /// The contact left the core for good.
    Left {
        contact: ContactId,
        outcome: Outcome,
    },
    /// A queue's availability (a ready qualified agent exists) or estimated wait for
    /// a newcomer changed.
    QueueStatus {
        queue: QueueId,
        available: bool,
        wait: Duration,
        waiting: u32,
    },
    /// An input named something the core does not know, or was out of place.
    Ignored {
        reason: &'static str,
    },
}

/// How a contact left the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served by an agent and finished.
    Answered,
    /// The visitor left before any offer was made or while one was pending.
    Abandoned,
    /// The visitor left after at least one offer was declined or missed and none accepted.
    DeclinedAll,
}
