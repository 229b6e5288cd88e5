//! Calls by number and the mailbox on the agent listener: a signed-in
//! member's page places, accepts, declines and hangs up calls, and plays and
//! deletes the messages left for them. Everything is the signed-in user's own
//! and their tenant's: another member's call or message is 404.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::calls::{CallError, Party};
use super::number::PermanentNumber;
use crate::http::error::ApiError;
use crate::http::staff::Principal;
use crate::http::state::AppState;
use crate::store::mailbox::{MemberSettings, RingMode};
use crate::store::{Member, User};

/// Longest SDP offer taken (a browser's with audio and video is ~6 kB).
const MAX_SDP: usize = 16 * 1024;
/// Longest greeting.
const MAX_GREETING: usize = 300;

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NoCall => ApiError::not_found(),
            CallError::NotRinging | CallError::AlreadyOnCall => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            CallError::TooManyCalls => ApiError::too_many(),
            CallError::NoMedia => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            CallError::OwnNumber => ApiError::bad_request(e.to_string()),
            CallError::Media(media::MediaError::BadOffer(m)) => {
                ApiError::bad_request(format!("bad SDP offer: {m}"))
            }
            CallError::Media(other) => ApiError::internal(&other),
        }
    }
}

fn staff(principal: &Principal) -> Result<&User, ApiError> {
    principal
        .user()
        .ok_or_else(|| ApiError::forbidden("a staff session is needed"))
}

fn check_sdp(sdp: &str) -> Result<(), ApiError> {
    if sdp.len() > MAX_SDP || sdp.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "sdp is 1 to {MAX_SDP} bytes"
        )));
    }
    Ok(())
}

/// The signed-in user's directory member; 404 for staff who are none.
async fn own_member(state: &AppState, principal: &Principal) -> Result<Member, ApiError> {
    let user = staff(principal)?;
    state
        .store
        .member_by_user(principal.tenant, user.id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "you are no directory member",
            )
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceCall {
    number: String,
    sdp: String,
}

/// `POST /api/v1/directory/calls {"number", "sdp"}`: calls a member of the
/// tenant by number from this browser (the SDP offer). The answer says
/// whether their pages ring (`ringing`) or the caller leaves a message
/// (`mailbox`); what happens next comes on the directory's event stream.
pub async fn place(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<PlaceCall>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let user = staff(&principal)?.clone();
    check_sdp(&body.sdp)?;
    let number =
        PermanentNumber::parse(&body.number).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let tenant = principal.tenant;
    let callee = state
        .store
        .member_by_number(tenant, number.digits())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no member has that number",
            )
        })?;
    let own = state.store.member_by_user(tenant, user.id).await?;
    let caller = Party {
        user: user.id,
        member: own.as_ref().map(|m| m.id),
        name: own
            .as_ref()
            .map_or_else(|| user.display_name.clone(), |m| m.display_name.clone()),
        number: own
            .as_ref()
            .and_then(|m| m.numbers.first())
            .and_then(|n| PermanentNumber::parse(n).ok())
            .map(|n| n.to_string())
            .unwrap_or_default(),
    };
    let settings = state.store.member_settings(tenant, callee.id).await?;
    let placed = state
        .directory
        .calls
        .place(
            tenant,
            caller,
            &callee,
            settings.ring_mode,
            &settings.greeting,
            &body.sdp,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "call": placed.call,
            "sdp": placed.sdp,
            "state": placed.state,
            "greeting": placed.greeting,
            "limit_secs": placed.limit_secs,
            "callee": {"name": callee.name, "display_name": callee.display_name},
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    sdp: String,
}

/// `POST /api/v1/directory/calls/{id}/accept {"sdp"}`: the called member's
/// page answers a ringing call; the SDP answer. 409 if it stopped ringing.
pub async fn accept(
    State(state): State<AppState>,
    principal: Principal,
    Path(call): Path<u64>,
    Json(body): Json<Accept>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = staff(&principal)?.id;
    check_sdp(&body.sdp)?;
    let sdp = state
        .directory
        .calls
        .accept(principal.tenant, call, user, body.sdp)
        .await?;
    Ok(Json(serde_json::json!({ "call": call, "sdp": sdp })))
}

/// `POST /api/v1/directory/calls/{id}/decline`: the caller is offered the
/// mailbox at once.
pub async fn decline(
    State(state): State<AppState>,
    principal: Principal,
    Path(call): Path<u64>,
) -> Result<StatusCode, ApiError> {
    let user = staff(&principal)?.id;
    state
        .directory
        .calls
        .decline(principal.tenant, call, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/directory/calls/{id}/hangup`: either party ends the call
/// (a message being left is kept).
pub async fn hangup(
    State(state): State<AppState>,
    principal: Principal,
    Path(call): Path<u64>,
) -> Result<StatusCode, ApiError> {
    let user = staff(&principal)?.id;
    state
        .directory
        .calls
        .hangup(principal.tenant, call, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/directory/settings`: the signed-in member's ring mode and greeting.
pub async fn settings(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<MemberSettings>, ApiError> {
    let member = own_member(&state, &principal).await?;
    Ok(Json(
        state
            .store
            .member_settings(principal.tenant, member.id)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    ring_mode: RingMode,
    #[serde(default)]
    greeting: String,
    /// Where new-message notices go; empty for none.
    #[serde(default)]
    email: String,
}

/// `PUT /api/v1/directory/settings {"ring_mode": "all"|"last", "greeting"}`.
pub async fn set_settings(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<SettingsBody>,
) -> Result<Json<MemberSettings>, ApiError> {
    let member = own_member(&state, &principal).await?;
    let greeting = body.greeting.trim();
    if greeting.chars().count() > MAX_GREETING || greeting.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "greeting is at most {MAX_GREETING} characters on one line"
        )));
    }
    let email = body.email.trim();
    if !email.is_empty() && (email.len() > 254 || email.parse::<lettre::Address>().is_err()) {
        return Err(ApiError::bad_request("email is not an address"));
    }
    let settings = MemberSettings {
        ring_mode: body.ring_mode,
        greeting: greeting.to_owned(),
        email: email.to_owned(),
    };
    state
        .store
        .set_member_settings(principal.tenant, member.id, &settings)
        .await?;
    Ok(Json(settings))
}

/// `GET /api/v1/mailbox`: the signed-in member's messages, newest first,
/// with how many are new.
pub async fn messages(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    let member = own_member(&state, &principal).await?;
    let messages = state
        .store
        .mailbox_messages(principal.tenant, member.id)
        .await?;
    let new = messages.iter().filter(|m| !m.heard).count();
    Ok(Json(
        serde_json::json!({ "messages": messages, "new": new }),
    ))
}

/// `GET /api/v1/mailbox/{id}/{audio|video}`: a message's Ogg/Opus audio
/// (marks it heard) or its VP8 video in IVF.
pub async fn message_file(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, part)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    let video = match part.as_str() {
        "audio" => false,
        "video" => true,
        _ => return Err(ApiError::not_found()),
    };
    let member = own_member(&state, &principal).await?;
    let store = &state.store;
    let message = store
        .mailbox_message(principal.tenant, member.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let path = state
        .directory
        .calls
        .mailbox()
        .file(&message, video)
        .ok_or_else(ApiError::not_found)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!(error = %e, message = id, "a message's file is missing");
        ApiError::not_found()
    })?;
    if !video {
        store
            .mark_mailbox_message_heard(principal.tenant, member.id, id)
            .await?;
    }
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    let kind = if video { "video/x-ivf" } else { "audio/ogg" };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// `DELETE /api/v1/mailbox/{id}`: deletes a message and its files.
pub async fn delete_message(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let member = own_member(&state, &principal).await?;
    let message = state
        .store
        .delete_mailbox_message(principal.tenant, member.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    state.directory.calls.mailbox().delete_files(&message);
    Ok(StatusCode::NO_CONTENT)
}
