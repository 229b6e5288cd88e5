//! Tenant administration and supervision: CRM customers, links, the live view
//! and API keys.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    error::{ApiError, JsonBody},
    staff::Principal,
};
use crate::{
    auth,
    store::{CustomerInput, Role},
};

/// `GET /api/v1/customers`
pub async fn customers(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    let customers = state.store.customers(principal.tenant, 500).await?;
    Ok(Json(json!({ "customers": customers })))
}

/// `GET /api/v1/customers/{external_id}`
pub async fn customer(
    State(state): State<AppState>,
    principal: Principal,
    Path(external_id): Path<String>,
) -> Result<Json<crate::store::Customer>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    state
        .store
        .customer(principal.tenant, &external_id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// `PUT /api/v1/customers/{external_id}`: merchant systems push CRM data.
pub async fn put_customer(
    State(state): State<AppState>,
    principal: Principal,
    Path(external_id): Path<String>,
    JsonBody(input): JsonBody<CustomerInput>,
) -> Result<Json<crate::store::Customer>, ApiError> {
    principal.require(Role::Admin, true)?;
    if external_id.is_empty() || external_id.len() > 200 {
        return Err(ApiError::bad_request(
            "external_id must be 1-200 characters",
        ));
    }
    if input.name.trim().is_empty() || input.name.len() > 200 {
        return Err(ApiError::bad_request("name must be 1-200 characters"));
    }
    if input.tickets.len() > 200 || input.entitlements.len() > 50 {
        return Err(ApiError::bad_request("too many tickets or entitlements"));
    }
    state
        .store
        .upsert_customer(principal.tenant, &external_id, &input)
        .await?;
    state
        .store
        .customer(principal.tenant, &external_id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// `GET /api/v1/links`: the tenant's links with live availability and wait.
pub async fn links(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Agent, true)?;
    let mut out = Vec::new();
    for link in state.store.links(principal.tenant).await? {
        let status = state.desk.queue_status(link.queue).await?;
        out.push(json!({
            "slug": link.slug,
            "name": link.name,
            "queue": link.queue_name,
            "available": status.available,
            "wait_seconds": status.wait.as_secs(),
            "waiting": status.waiting,
        }));
    }
    Ok(Json(
        json!({ "links": out, "public_url": state.public_url }),
    ))
}

/// `GET /api/v1/live`: queues and agents right now.
pub async fn live(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Supervisor, false)?;
    let mut view = state.desk.live(principal.tenant).await?;
    let links = state.store.links(principal.tenant).await?;
    for q in &mut view.queues {
        q.links = links
            .iter()
            .filter(|l| l.queue.0 == q.queue)
            .map(|l| l.slug.clone())
            .collect();
    }
    Ok(Json(serde_json::to_value(view).unwrap_or_default()))
}

#[derive(Deserialize)]
pub struct NewKey {
    name: String,
}

/// `POST /api/v1/api-keys`: a new tenant API key, shown once.
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request("name must be 1-100 characters"));
    }
    let key = new_api_key();
    state
        .store
        .create_api_key(principal.tenant, name, &auth::token_hash(&key))
        .await?;
    Ok(Json(json!({ "name": name, "key": key })))
}

/// A fresh API key; the `sbk_` prefix makes leaked keys easy to scan for.
pub fn new_api_key() -> String {
    format!("sbk_{}", auth::random_token())
}

/// `GET /api/v1/live/events`: every routing transition of the tenant as it
/// happens (server-sent events, `event: stat`), for live supervisor views. A
/// supervisor too slow to keep up skips ahead (`event: lagged`) rather than
/// holding memory on the server.
pub async fn live_events(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    principal.require(Role::Supervisor, false)?;
    let tenant = principal.tenant;
    let rx = state.desk.stat_events();
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(stat) if stat.tenant == tenant => {
                    let event = Event::default()
                        .event("stat")
                        .json_data(&stat)
                        .unwrap_or_else(|_| Event::default().event("stat"));
                    return Some((Ok(event), rx));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    return Some((Ok(Event::default().event("lagged").data(n.to_string())), rx));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /api/v1/contacts/{id}/events`: a contact's routing history.
pub async fn contact_events(
    State(state): State<AppState>,
    principal: Principal,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Json<Vec<crate::store::StoredStatEvent>>, ApiError> {
    principal.require(Role::Supervisor, true)?;
    Ok(Json(
        state
            .store
            .contact_stat_events(principal.tenant, crate::ids::ContactId(id))
            .await?,
    ))
}
