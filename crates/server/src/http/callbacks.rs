//! The callbacks list for supervisors (issue 14 item 5): what is pending,
//! scheduled, being dialled or talked, and what failed, per queue; a
//! supervisor's cancel.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, error::ApiError, staff::Principal};
use crate::{ids::ContactId, store::Role};

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

/// `POST /api/v1/callbacks/{id}/cancel`: cancels a callback that is
/// pending, scheduled or being dialled (the record ends as abandoned); 404
/// when there is no such callback or it is connected or over.
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Supervisor, false)?;
    if state
        .desk
        .cancel_callback(principal.tenant, ContactId(id))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
