//! The tenant's webhooks as admins see them: the endpoints (never their
//! secrets), how many events wait, and the delivery log (one line per
//! attempt: when, which event, the answer's status, how long it took, why
//! it failed).

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, error::ApiError, staff::Principal};
use crate::store::Role;

/// The most log lines one request returns.
const MAX_LIMIT: i64 = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Lines older than this line's id (paging); the newest when absent.
    before: Option<i64>,
    /// Lines wanted, 1-500 (default 100).
    limit: Option<i64>,
}

/// `GET /api/v1/webhooks/deliveries`: the endpoints, the events waiting and
/// the newest attempts first (`?before=<id>&limit=<n>` to page back).
pub async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<LogQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1-{MAX_LIMIT}"
        )));
    }
    let tenant = principal.tenant;
    let endpoints: Vec<_> = state
        .store
        .webhook_endpoints(tenant)
        .await?
        .into_iter()
        .map(|e| json!({"id": e.id, "url": e.url, "events": e.events}))
        .collect();
    let log = state
        .store
        .webhook_delivery_log(tenant, query.before, limit)
        .await?;
    let next = (log.len() == usize::try_from(limit).unwrap_or(usize::MAX))
        .then(|| log.last().map(|(id, _)| *id))
        .flatten();
    let attempts: Vec<_> = log
        .into_iter()
        .map(|(id, entry)| {
            let mut v = serde_json::to_value(entry).unwrap_or_default();
            v["id"] = json!(id);
            v
        })
        .collect();
    Ok(Json(json!({
        "endpoints": endpoints,
        "pending": state.store.webhook_events_pending(tenant).await?,
        "attempts": attempts,
        "next_before": next,
    })))
}
