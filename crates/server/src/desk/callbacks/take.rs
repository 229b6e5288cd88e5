//! An agent's own view of callbacks and "take now" (issue 14 item 5): the
//! queues an agent serves (their console lists those queues' callbacks, and
//! no other), and taking a waiting or scheduled callback at once, so the
//! desk reserves that agent for it and the usual offer, accept and dial
//! follow.
//!
//! The routing core has no "give this contact to that agent" input; taking
//! moves the callback back into its line (as a supervisor's move does) with
//! the taker as its preferred agent and a priority above everything else in
//! the queue, so the core's own routing offers it to the taker straight
//! away. When it does not (the taker stopped being free in between), the
//! callback goes back to its place without the preference.

use std::{collections::HashMap, time::Duration};

use tokio::sync::oneshot;

use super::super::{Desk, DeskState, DeskStopped, Request, now};
use crate::ids::{ContactId, TenantId, UserId};

/// Taking a callback puts it this far above the queue's other contacts
/// (supervisors set priorities within -100..=100).
const TAKE_PRIORITY_BOOST: i32 = 1_000;
/// How long the taken callback waits for the taker only, should the core
/// not offer it at once.
const TAKE_PREFERRED_WAIT: Duration = Duration::from_secs(30);

/// Why a callback cannot be taken; the messages are for the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TakeError {
    #[error("there is no such waiting callback; it may have been made, cancelled or ended")]
    NotFound,
    #[error("open the agent console first: callbacks are taken from it")]
    NotSignedIn,
    #[error("you do not serve this callback's queue")]
    NotServing,
    #[error("you are busy: finish or decline what you have, then set yourself available")]
    Busy,
    #[error("this callback is being offered or dialled now")]
    InProgress,
    #[error("another agent was free first and was given this callback")]
    TakenByOther,
}

/// The desk's half of `Desk::take_callback` and `Desk::callback_notes`.
pub(crate) enum TakeRequest {
    Take {
        tenant: TenantId,
        agent: UserId,
        contact: ContactId,
        reply: oneshot::Sender<Result<(), TakeError>>,
    },
    Notes {
        tenant: TenantId,
        agent: Option<UserId>,
        reply: oneshot::Sender<CallbackNotes>,
    },
}

/// What the desk adds to the stored callbacks list.
#[derive(Debug, Clone, Default)]
pub struct CallbackNotes {
    /// For an agent: the names of the queues whose callbacks they could be
    /// given (their list shows only these).
    pub queues: Option<Vec<String>>,
    /// The visitor's reason of each live callback that gave one, by contact.
    pub reasons: HashMap<i64, String>,
}

impl Desk {
    /// `agent` takes a waiting or scheduled callback of `tenant` now.
    pub async fn take_callback(
        &self,
        tenant: TenantId,
        agent: UserId,
        contact: ContactId,
    ) -> Result<Result<(), TakeError>, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::TakeCallback(Box::new(TakeRequest::Take {
            tenant,
            agent,
            contact,
            reply,
        })))
        .await?;
        rx.await.map_err(|_| DeskStopped)
    }

    /// The reasons of `tenant`'s live callbacks and, for an agent, the
    /// queues whose callbacks they serve.
    pub async fn callback_notes(
        &self,
        tenant: TenantId,
        agent: Option<UserId>,
    ) -> Result<CallbackNotes, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::TakeCallback(Box::new(TakeRequest::Notes {
            tenant,
            agent,
            reply,
        })))
        .await?;
        rx.await.map_err(|_| DeskStopped)
    }
}

/// Whether an agent configured as `agent` may be given `queue`'s callbacks:
/// the same test the core applies to a contact without extra skills.
fn serves(agent: &acd::AgentSpec, queue: &acd::QueueSpec) -> bool {
    agent.capacity.of(acd::Media::Callback) >= 1
        && (queue.centers.is_empty() || queue.centers.contains(&agent.center))
        && queue.required.iter().all(|r| {
            agent
                .skills
                .iter()
                .any(|(s, level)| *s == r.skill && (*level).clamp(1, 10) >= r.min_level)
        })
}

impl DeskState {
    pub(in crate::desk) fn take_request(&mut self, request: TakeRequest) {
        match request {
            TakeRequest::Take {
                tenant,
                agent,
                contact,
                reply,
            } => {
                let _ = reply.send(self.take_callback(tenant, agent, contact));
            }
            TakeRequest::Notes {
                tenant,
                agent,
                reply,
            } => {
                let reasons = self
                    .contacts
                    .iter()
                    .filter(|(_, c)| c.tenant == tenant && c.callback_phone.is_some())
                    .filter_map(|(id, c)| {
                        let reason = c.screenpop.get("callback_reason")?.as_str()?;
                        Some((id.0, reason.to_owned()))
                    })
                    .collect();
                let queues = agent.map(|a| self.served_queues(tenant, a));
                let _ = reply.send(CallbackNotes { queues, reasons });
            }
        }
    }

    fn served_queues(&self, tenant: TenantId, agent: UserId) -> Vec<String> {
        let (Some(spec), Some(setup)) =
            (self.tenants.agent_spec(agent), self.tenants.setup(tenant))
        else {
            return Vec::new();
        };
        if spec.tenant != acd::TenantId(tenant.0) {
            return Vec::new();
        }
        setup
            .queues
            .iter()
            .filter(|q| serves(spec, q))
            .filter_map(|q| self.tenants.queue_name(q.queue).map(str::to_owned))
            .collect()
    }

    fn take_callback(
        &mut self,
        tenant: TenantId,
        agent: UserId,
        contact: ContactId,
    ) -> Result<(), TakeError> {
        let live = self
            .contacts
            .get(contact)
            .filter(|c| c.tenant == tenant && c.callback_phone.is_some())
            .ok_or(TakeError::NotFound)?;
        let (routing, plan) = (live.routing.clone(), live.link.calls.callback.plan());
        let view = self.acd.contact(contact).ok_or(TakeError::NotFound)?;
        if !matches!(
            view.stage,
            acd::ContactStage::Waiting | acd::ContactStage::Scheduled { .. }
        ) {
            return Err(TakeError::InProgress);
        }
        if self.conns.seat(agent).is_none_or(|s| s.tenant != tenant) {
            return Err(TakeError::NotSignedIn);
        }
        let queue = self
            .tenants
            .setup(tenant)
            .and_then(|s| s.queues.iter().find(|q| q.queue == view.queue));
        let agent_spec = self.tenants.agent_spec(agent);
        match (agent_spec, queue) {
            (Some(a), Some(q)) if a.tenant == acd::TenantId(tenant.0) && serves(a, q) => {}
            _ => return Err(TakeError::NotServing),
        }
        let free = self.acd.agent(agent.agent()).is_some_and(|a| {
            a.state == acd::AgentState::Available && a.offered.is_none() && a.assigned.is_empty()
        });
        if !free {
            return Err(TakeError::Busy);
        }
        let at = now();
        if matches!(view.stage, acd::ContactStage::Scheduled { .. }) {
            // Into the line first: only a waiting contact can be moved.
            self.acd
                .handle_input(at, acd::Input::Reschedule { contact, at });
        }
        let mut spec = routing.spec(contact, view.queue, view.arrived);
        spec.not_before = None;
        spec.callback = Some(plan);
        spec.attempts_made = view.attempts;
        let plain = spec.clone();
        spec.priority = spec.priority.saturating_add(TAKE_PRIORITY_BOOST);
        spec.preferred_agent = Some(agent.agent());
        spec.preferred_wait = Some(TAKE_PREFERRED_WAIT);
        if self.core_stage(contact) == Some(acd::ContactStage::Waiting) {
            self.acd
                .handle_input(at, acd::Input::Requeue(Box::new(spec)));
        }
        match self.core_stage(contact) {
            Some(
                acd::ContactStage::Offered { agent: a } | acd::ContactStage::Dialing { agent: a },
            ) if a == agent.agent() => {
                metrics::counter!("switchboard_callbacks_taken_total").increment(1);
                Ok(())
            }
            Some(acd::ContactStage::Waiting) => {
                // Not offered after all: back to its place, for anyone.
                self.acd
                    .handle_input(at, acd::Input::Requeue(Box::new(plain)));
                Err(TakeError::Busy)
            }
            Some(_) => Err(TakeError::TakenByOther),
            None => Err(TakeError::NotFound),
        }
    }

    fn core_stage(&self, contact: ContactId) -> Option<acd::ContactStage> {
        self.acd.contact(contact).map(|v| v.stage)
    }
}
