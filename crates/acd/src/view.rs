//! Read-only views of the core's state, for dashboards and for the owner.

use std::time::Duration;

use crate::{AgentId, AgentState, Capacity, CenterId, ContactId, Media, QueueId, Time};

/// A queue as a newcomer would find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// Some center that serves the queue is open now.
    pub open: bool,
    /// When closed: the next opening within two weeks, if any.
    pub next_open: Option<Time>,
    /// At least one agent qualified for the queue is ready (whatever their load).
    pub available: bool,
    /// Qualified agents who could take a contact of the queue right now. Not
    /// compared when deciding whether to publish a `QueueStatus` event.
    pub free_agents: u32,
    /// Estimated wait for a contact arriving now: zero if a qualified agent could
    /// take an offer right now, else the estimate at position `waiting + 1`.
    pub wait: Duration,
    /// Contacts waiting in the queue (not counting those with an offer ringing).
    pub waiting: u32,
    /// Arrival of the longest-waiting contact, if any.
    pub oldest_since: Option<Time>,
}

/// One agent as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    pub agent: AgentId,
    pub center: CenterId,
    pub state: AgentState,
    /// Contacts held and not in wrap-up, in the order they were assigned.
    pub assigned: Vec<ContactId>,
    /// Contacts whose wrap-up is running.
    pub wrapping_up: Vec<ContactId>,
    /// The contact offered (or being dialled) to the agent, if any.
    pub offered: Option<ContactId>,
    pub capacity: Capacity,
}

/// Where a contact is in its life inside the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactStage {
    /// A callback waiting for its scheduled time (or its retry delay).
    Scheduled {
        at: Time,
    },
    Waiting,
    Offered {
        agent: AgentId,
    },
    /// A callback whose agent is reserved while the customer is dialled.
    Dialing {
        agent: AgentId,
    },
    Assigned {
        agent: AgentId,
    },
}

/// One contact as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactView {
    pub contact: ContactId,
    pub queue: QueueId,
    pub media: Media,
    pub stage: ContactStage,
    pub center: Option<CenterId>,
    pub arrived: Time,
    /// Position and estimate while waiting.
    pub position: Option<u32>,
    pub wait: Option<Duration>,
    /// Callback attempts made so far.
    pub attempts: u32,
}
