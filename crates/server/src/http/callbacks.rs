//! The callbacks list for supervisors (issue 14 item 5): what is pending,
//! scheduled, being dialled or talked, and what failed, per queue.

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, error::ApiError, staff::Principal};
use crate::store::Role;

#[derive(Deserialize, Default)]
pub struct CallbacksQuery {
    queue: Option<String>,
}

/// `GET /api/v1/callbacks`: the tenant's live and failed callbacks, newest
/// first (at most 500), with each one's attempts so far; `?queue=NAME`
/// narrows to one queue.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<CallbacksQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    let queue = query.queue.as_deref().filter(|q| !q.is_empty());
    let callbacks = state
        .store
        .callback_list(principal.tenant, queue, crate::desk::now().as_millis())
        .await?;
    Ok(Json(json!({ "callbacks": callbacks })))
}
