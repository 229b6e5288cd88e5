//! Supervisors acting on the live center (issue 17 item 2): an agent's state
//! set for them; a waiting contact moved to another queue or given another
//! priority. Each action names its target within the supervisor's tenant
//! only; another tenant's agent or contact reads as unknown.

use tokio::sync::oneshot;

use super::{Desk, DeskState, DeskStopped, Phase, Request};
use crate::ids::{ContactId, TenantId, UserId};

/// The states a supervisor may put an agent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetState {
    /// Ready for offers.
    Available,
    /// Not ready (reason "away"): keeps the contacts held, gets no offers.
    Away,
    /// Out of routing altogether until the agent chooses a state again.
    Offline,
}

/// What a supervisor does.
#[derive(Debug, Clone)]
pub enum SupervisorAction {
    AgentState {
        agent: String,
        state: SetState,
    },
    /// Another queue and/or priority for a waiting contact; it keeps its
    /// first arrival (its place, by the time it has waited).
    MoveContact {
        contact: ContactId,
        queue: Option<String>,
        priority: Option<i32>,
    },
}

/// The contact priorities a supervisor may set (the queue's and the class
/// of service's are added to it).
pub const PRIORITIES: std::ops::RangeInclusive<i32> = -100..=100;

/// Why an action was not carried out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SuperviseError {
    #[error("no agent named {0:?} is signed in")]
    NoAgent(String),
    #[error("no contact {0} is waiting")]
    NotWaiting(i64),
    #[error("no queue named {0:?}")]
    NoQueue(String),
    #[error("nobody can serve queue {0:?}; the contact stays where it is")]
    NobodyServes(String),
    #[error("priority {0} is outside -100 to 100")]
    Priority(i32),
}

pub(crate) struct SuperviseRequest {
    tenant: TenantId,
    action: SupervisorAction,
    reply: oneshot::Sender<Result<(), SuperviseError>>,
}

/// A contact waiting in line, for supervisors (who may move it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveWaiting {
    pub contact: i64,
    pub queue: String,
    pub link: String,
    pub media: &'static str,
    /// When it first arrived, Unix ms (its place in line counts from it).
    pub since: i64,
    pub position: Option<u32>,
    /// The contact's own priority (the queue's and class's come on top).
    pub priority: i32,
}

/// The reason an agent set away by a supervisor shows.
pub const AWAY: &str = "away";

impl Desk {
    /// Carries out a supervisor's action within `tenant`.
    pub async fn supervise(
        &self,
        tenant: TenantId,
        action: SupervisorAction,
    ) -> Result<Result<(), SuperviseError>, DeskStopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Supervise(Box::new(SuperviseRequest {
            tenant,
            action,
            reply,
        })))
        .await?;
        rx.await.map_err(|_| DeskStopped)
    }
}

impl DeskState {
    pub(super) fn supervise(&mut self, request: SuperviseRequest) {
        let SuperviseRequest {
            tenant,
            action,
            reply,
        } = request;
        let result = match action {
            SupervisorAction::AgentState { agent, state } => {
                self.set_agent_state(tenant, &agent, state)
            }
            SupervisorAction::MoveContact {
                contact,
                queue,
                priority,
            } => self.move_contact(tenant, contact, queue.as_deref(), priority),
        };
        let _ = reply.send(result);
    }

    /// The tenant's contacts waiting in line, longest waiting first.
    pub(super) fn waiting_view(&self, tenant: TenantId) -> Vec<LiveWaiting> {
        let mut waiting: Vec<LiveWaiting> = self
            .contacts
            .iter()
            .filter(|(_, c)| c.tenant == tenant && matches!(c.phase, Phase::Waiting))
            .filter_map(|(id, c)| {
                let view = self.acd.contact(*id)?;
                (view.stage == acd::ContactStage::Waiting).then(|| LiveWaiting {
                    contact: id.0,
                    queue: c.link.queue_name.clone(),
                    link: c.link.slug.clone(),
                    media: media_name(view.media),
                    since: view.arrived.as_millis(),
                    position: view.position,
                    priority: c.routing.priority,
                })
            })
            .collect();
        waiting.sort_by_key(|w| (w.since, w.contact));
        waiting
    }

    /// The tenant's signed-in agent of that name.
    fn seated(&self, tenant: TenantId, name: &str) -> Option<UserId> {
        self.conns
            .seats()
            .find(|(_, s)| s.tenant == tenant && s.name == name)
            .map(|(user, _)| *user)
    }

    fn set_agent_state(
        &mut self,
        tenant: TenantId,
        name: &str,
        state: SetState,
    ) -> Result<(), SuperviseError> {
        let user = self
            .seated(tenant, name)
            .ok_or_else(|| SuperviseError::NoAgent(name.to_owned()))?;
        let (agent, now) = (user.agent(), super::now());
        let offline = matches!(self.agent_state(user), acd::AgentState::Offline);
        if offline && state != SetState::Offline {
            // Set offline earlier by a supervisor, with the console still open.
            self.acd
                .handle_input(now, acd::Input::AgentOnline { agent });
        }
        let input = match state {
            SetState::Available => acd::Input::AgentReady { agent },
            SetState::Away => acd::Input::AgentNotReady {
                agent,
                reason: AWAY.to_owned(),
            },
            SetState::Offline => {
                if let Some(seat) = self.conns.seat_mut(user) {
                    seat.dropped_while_available = None;
                }
                acd::Input::AgentOffline { agent }
            }
        };
        self.acd.handle_input(now, input);
        Ok(())
    }

    fn move_contact(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        queue: Option<&str>,
        priority: Option<i32>,
    ) -> Result<(), SuperviseError> {
        if let Some(p) = priority.filter(|p| !PRIORITIES.contains(p)) {
            return Err(SuperviseError::Priority(p));
        }
        let not_waiting = || SuperviseError::NotWaiting(contact.0);
        let live = self
            .contacts
            .get(contact)
            .filter(|c| c.tenant == tenant && matches!(c.phase, Phase::Waiting))
            .ok_or_else(not_waiting)?;
        let view = self
            .acd
            .contact(contact)
            .filter(|v| v.stage == acd::ContactStage::Waiting)
            .ok_or_else(not_waiting)?;
        let target = match queue {
            Some(name) => self
                .tenants
                .queue_named(tenant, name)
                .ok_or_else(|| SuperviseError::NoQueue(name.to_owned()))?,
            None => view.queue,
        };
        let mut routing = live.routing.clone();
        if let Some(p) = priority {
            routing.priority = p;
        }
        let spec = routing.spec(contact, target, view.arrived);
        self.acd
            .handle_input(super::now(), acd::Input::Requeue(Box::new(spec)));
        // The core leaves a contact it cannot move where it was.
        if self.acd.contact(contact).is_some_and(|v| v.queue != target) {
            return Err(SuperviseError::NobodyServes(
                queue.unwrap_or_default().to_owned(),
            ));
        }
        if let Some(live) = self.contacts.get_mut(contact) {
            live.routing = routing;
            // Stat events and records count it in its new queue from now on.
            live.link.queue = target;
            if let Some(name) = queue {
                name.clone_into(&mut live.link.queue_name);
            }
        }
        Ok(())
    }
}

fn media_name(media: acd::Media) -> &'static str {
    match media {
        acd::Media::Chat => "chat",
        acd::Media::Voice => "voice",
        acd::Media::Video => "video",
        acd::Media::Callback => "callback",
    }
}
