//! Supervisors acting on the live center (issue 17 item 2): an agent's state
//! set for them. Each action names its target within the supervisor's tenant
//! only; another tenant's agent reads as unknown.

use tokio::sync::oneshot;

use super::{Desk, DeskState, DeskStopped, Request};
use crate::ids::{TenantId, UserId};

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
    AgentState { agent: String, state: SetState },
}

/// Why an action was not carried out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SuperviseError {
    #[error("no agent named {0:?} is signed in")]
    NoAgent(String),
}

pub(crate) struct SuperviseRequest {
    tenant: TenantId,
    action: SupervisorAction,
    reply: oneshot::Sender<Result<(), SuperviseError>>,
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
    pub(super) fn supervise(&mut self, request: Box<SuperviseRequest>) {
        let SuperviseRequest {
            tenant,
            action,
            reply,
        } = *request;
        let result = match action {
            SupervisorAction::AgentState { agent, state } => {
                self.set_agent_state(tenant, &agent, state)
            }
        };
        let _ = reply.send(result);
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
}
