//! Call endpoints on the agent listener: supervisors listening in on a live
//! call, and a call's recordings (served only to that tenant's staff).

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use media::LegId;

use super::{AppState, error::ApiError, staff::Principal};
use crate::{
    desk::ListenError,
    ids::ContactId,
    store::{CallRecord, Role},
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenRequest {
    sdp: String,
}

/// `POST /api/v1/calls/{contact}/listen`: a supervisor's receive-only offer
/// (two audio transceivers: the visitor, then the agent) gets the answer.
pub async fn listen(
    State(state): State<AppState>,
    principal: Principal,
    Path(contact): Path<i64>,
    Json(request): Json<ListenRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Supervisor, false)?;
    match state
        .desk
        .listen(principal.tenant, ContactId(contact), request.sdp)
        .await?
    {
        Ok((leg, sdp)) => Ok(Json(json!({ "leg": leg.0, "sdp": sdp }))),
        Err(ListenError::NoCall) => Err(ApiError::not_found()),
        Err(ListenError::BadOffer(why)) => Err(ApiError::bad_request(format!("sdp: {why}"))),
    }
}

/// `DELETE /api/v1/calls/{contact}/listen/{leg}`.
pub async fn stop_listening(
    State(state): State<AppState>,
    principal: Principal,
    Path((contact, leg)): Path<(i64, u64)>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Supervisor, false)?;
    state
        .desk
        .stop_listening(principal.tenant, ContactId(contact), LegId(leg))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a call adds to its contact's record, with links to the recordings.
pub fn record_json(contact: i64, media: &str, call: &CallRecord) -> serde_json::Value {
    let recording = call.recording.as_ref().map(|_| {
        json!({
            "visitor": format!("/api/v1/contacts/{contact}/recordings/visitor"),
            "agent": format!("/api/v1/contacts/{contact}/recordings/agent"),
        })
    });
    json!({
        "media": media,
        "talk_seconds": call.talk_ms / 1000,
        "hold_seconds": call.hold_ms / 1000,
        "transfers": call.transfers,
        "recording": recording,
    })
}

/// `GET /api/v1/contacts/{id}/recordings/{party}` (`visitor` or `agent`): the
/// Ogg/Opus file. The path comes from the record, never from the request.
/// Supervisors and admins, and API keys with the `recordings` scope.
pub async fn recording(
    State(state): State<AppState>,
    principal: Principal,
    Path((contact, party)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    principal.require_scope(Role::Supervisor, super::staff::SCOPE_RECORDINGS)?;
    if party != "visitor" && party != "agent" {
        return Err(ApiError::not_found());
    }
    let stem = state
        .store
        .call_record(principal.tenant, ContactId(contact))
        .await?
        .and_then(|c| c.recording)
        .ok_or_else(ApiError::not_found)?;
    let path = state.recordings.join(format!("{stem}-{party}.ogg"));
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!(error = %e, contact, "a recording on record is missing");
        ApiError::not_found()
    })?;
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/ogg"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
