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
        Err(e @ SuperviseError::NoAgent(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            e.to_string(),
        )),
    }
}
