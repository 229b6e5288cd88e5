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

/// `?before=<id>&limit=<n>`: a page of a log, newest first (the webhook
/// deliveries, the audit log).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Lines older than this line's id (paging); the newest when absent.
    pub before: Option<i64>,
    /// Lines wanted, 1 to the log's most.
    pub limit: Option<i64>,
}

impl PageQuery {
    /// The lines wanted: `default` when not given, refused above `most`.
    pub fn limit(&self, default: i64, most: i64) -> Result<i64, ApiError> {
        let limit = self.limit.unwrap_or(default);
        if (1..=most).contains(&limit) {
            Ok(limit)
        } else {
            Err(ApiError::bad_request(format!("limit must be 1-{most}")))
        }
    }
}

/// `GET /api/v1/webhooks/deliveries`: the endpoints, the events waiting and
/// the newest attempts first (`?before=<id>&limit=<n>` to page back).
pub async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<PageQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let limit = query.limit(100, MAX_LIMIT)?;
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
