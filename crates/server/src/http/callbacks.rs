//! The callbacks list for supervisors (issue 14 item 5): what is pending,
//! scheduled, being dialled or talked, and what failed, per queue; a
//! supervisor's cancel and reschedule.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    error::{ApiError, JsonBody},
    staff::Principal,
};
use crate::{
    desk::{CallbackAction, ChangedBy, ScheduleError},
    ids::ContactId,
    store::Role,
};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBody {
    /// Unix ms (UTC); null or absent: as soon as possible.
    #[serde(default)]
    at: Option<i64>,
}

/// `POST /api/v1/callbacks/{id}/reschedule`: moves a pending or scheduled
/// callback to `at` (checked like a visitor's request: still to come,
/// within the tenant's horizon, while the queue's centers are open), or to
/// as soon as possible; answers where it stands. 404 when there is no such
/// waiting callback, 409 when it is being dialled or talked, 422 for a time
/// refused.
pub async fn reschedule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<RescheduleBody>,
) -> Result<Json<crate::desk::CallbackView>, ApiError> {
    principal.require(Role::Supervisor, false)?;
    let action = CallbackAction::Reschedule { at: body.at };
    match state
        .desk
        .callback(
            principal.tenant,
            ContactId(id),
            action,
            ChangedBy::Supervisor,
        )
        .await?
    {
        Ok(view) => Ok(Json(view)),
        Err(e) => Err(schedule_error(&e)),
    }
}

/// A desk refusal as the REST API answers it.
pub(super) fn schedule_error(e: &ScheduleError) -> ApiError {
    match e {
        ScheduleError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        ScheduleError::InProgress => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
        ScheduleError::Refused(message) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message.clone())
        }
    }
}
