//! The callbacks list (issue 14 item 5): what is pending, scheduled, being
//! dialled or talked, and what failed, per queue, for supervisors (every
//! queue) and agents (the queues they serve); a supervisor's cancel and
//! reschedule; an agent's "take now".

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
    desk::{CallbackAction, ChangedBy, ScheduleError, TakeError},
    ids::ContactId,
    store::Role,
};

#[derive(Deserialize, Default)]
pub struct CallbacksQuery {
    queue: Option<String>,
}

/// `GET /api/v1/callbacks`: the tenant's live and failed callbacks, newest
/// first (at most 500), with each one's attempts so far and the visitor's
/// reason; `?queue=NAME` narrows to one queue. An agent sees only the
/// queues they serve, with the numbers masked.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<CallbacksQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Agent, true)?;
    let agent = principal
        .user()
        .filter(|u| u.role < Role::Supervisor)
        .map(|u| u.id);
    let queue = query.queue.as_deref().filter(|q| !q.is_empty());
    let notes = state.desk.callback_notes(principal.tenant, agent).await?;
    let callbacks = state
        .store
        .callback_list(principal.tenant, queue, crate::desk::now().as_millis())
        .await?;
    let callbacks: Vec<serde_json::Value> = callbacks
        .into_iter()
        .filter(|c| notes.queues.as_ref().is_none_or(|q| q.contains(&c.queue)))
        .map(|c| {
            let reason = notes.reasons.get(&c.contact).cloned();
            let masked = agent.map(|_| crate::callback_link::masked(&c.phone));
            let mut entry = serde_json::to_value(c).unwrap_or_default();
            entry["reason"] = json!(reason);
            // An agent sees the number when the callback is offered to them.
            if let Some(masked) = masked {
                entry["phone"] = json!(masked);
            }
            entry
        })
        .collect();
    Ok(Json(json!({ "callbacks": callbacks })))
}

/// `POST /api/v1/callbacks/{id}/take`: the signed-in agent takes a pending
/// or scheduled callback now; it is offered to them at once and the usual
/// accept and dial follow. 404 when there is no such waiting callback, 409
/// (with the reason) when the agent is busy or not at the console or it is
/// being offered or dialled, 403 when they do not serve its queue.
pub async fn take(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Agent, false)?;
    let Some(user) = principal.user() else {
        return Err(ApiError::forbidden("only an agent can take a callback"));
    };
    match state
        .desk
        .take_callback(principal.tenant, user.id, ContactId(id))
        .await?
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(take_error(&e)),
    }
}

fn take_error(e: &TakeError) -> ApiError {
    let (status, code) = match e {
        TakeError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        TakeError::NotServing => (StatusCode::FORBIDDEN, "forbidden"),
        TakeError::NotSignedIn
        | TakeError::Busy
        | TakeError::InProgress
        | TakeError::TakenByOther => (StatusCode::CONFLICT, "conflict"),
    };
    ApiError::new(status, code, e.to_string())
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
