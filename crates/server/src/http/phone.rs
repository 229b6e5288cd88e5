//! The correlation API: a call center's CRM sees a call arrive with a caller
//! id from the tenant's pool and asks who is behind it (the documents'
//! integration server, queried by ANI).

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;

use super::{AppState, error::ApiError, staff::Principal};
use crate::{
    phone::normalize_number,
    store::{Role, WebSession},
};

#[derive(Debug, Deserialize)]
pub struct LookupQuery {
    ani: String,
}

/// `GET /api/v1/calls/lookup?ani=+15125550900` (a tenant API key, or a
/// supervisor): the live or recent web session whose call presented that
/// caller id. Only this tenant's calls are searched; after the tenant's
/// `lookup_window_secs` (default an hour) a caller id finds nothing.
pub async fn lookup(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<LookupQuery>,
) -> Result<Json<WebSession>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    let ani = normalize_number(&q.ani)
        .ok_or_else(|| ApiError::bad_request("ani must be an E.164 number like +15125550100"))?;
    let phone = state.store.tenant_phone(principal.tenant).await?;
    // Only a pooled caller id names one call; a trunk's own number is shared
    // by every call that overflowed the pool and must not reveal any of them.
    if !phone.caller_ids.contains(&ani) {
        return Err(ApiError::not_found());
    }
    let window = i64::try_from(phone.lookup_window().as_millis()).unwrap_or(i64::MAX);
    let since = crate::desk::now().0.saturating_sub(window);
    let found = state
        .store
        .session_by_caller_id(principal.tenant, &ani, since)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let session = state
        .store
        .web_session(principal.tenant, &found)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(session))
}
