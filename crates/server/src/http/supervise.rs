//! Supervisors' actions on the live center (issue 17 item 2), within their
//! own tenant: another tenant's agent or contact reads as unknown (404).

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;

use super::{AppState, error::ApiError, staff::Principal};
use crate::{
    desk::{SetState, SuperviseError, SupervisorAction},
    store::Role,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStateBody {
    state: SetState,
}

/// `POST /api/v1/agents/{name}/state`: sets a signed-in agent's state
/// (`available`, `away` or `offline`); 404 when no agent of that name is
/// signed in in the supervisor's tenant.
pub async fn set_agent_state(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: super::error::JsonBody<AgentStateBody>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Supervisor, false)?;
    let action = SupervisorAction::AgentState {
        agent: name,
        state: body.0.state,
    };
    done(state.desk.supervise(principal.tenant, action).await?)
}

fn done(result: Result<(), SuperviseError>) -> Result<StatusCode, ApiError> {
    match result {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e @ (SuperviseError::NoAgent(_) | SuperviseError::NotWaiting(_))) => Err(
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        ),
        Err(e @ SuperviseError::NobodyServes(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            e.to_string(),
        )),
        Err(e @ (SuperviseError::NoQueue(_) | SuperviseError::Priority(_))) => {
            Err(ApiError::bad_request(e.to_string()))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    priority: Option<i32>,
}

/// `POST /api/v1/contacts/{id}/move`: a waiting contact goes to another
/// queue (`queue`, by name) and/or gets another priority (`priority`,
/// -100 to 100), keeping the time it has waited; 404 when no such contact
/// waits in the supervisor's tenant, 409 when nobody can serve the queue.
pub async fn move_contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
    body: super::error::JsonBody<MoveBody>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Supervisor, false)?;
    let MoveBody { queue, priority } = body.0;
    let queue = queue.filter(|q| !q.trim().is_empty());
    if queue.is_none() && priority.is_none() {
        return Err(ApiError::bad_request("give a queue, a priority or both"));
    }
    let action = SupervisorAction::MoveContact {
        contact: crate::ids::ContactId(id),
        queue,
        priority,
    };
    done(state.desk.supervise(principal.tenant, action).await?)
}
