//! Tenant administration and supervision: links, the live view,
//! API keys (create, list, delete, expiry, scopes) and disabling staff.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    error::{ApiError, JsonBody},
    staff::{Principal, PrincipalKind, Refusal, Revoked, SCOPES, refused},
};
use crate::{
    auth,
    store::{Role, User, now_ms},
};

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
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    /// RFC 3339 or epoch milliseconds; absent: the key does not expire.
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
    /// e.g. `["recordings"]`; absent: none.
    #[serde(default)]
    scopes: Vec<String>,
}

/// Checks a new key's scopes: known, at most once each.
pub fn check_scopes(scopes: &[String]) -> Result<(), String> {
    for (i, scope) in scopes.iter().enumerate() {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(format!(
                "unknown scope {scope:?} (known: {})",
                SCOPES.join(", ")
            ));
        }
        if scopes[..i].contains(scope) {
            return Err(format!("scope {scope:?} given twice"));
        }
    }
    Ok(())
}

fn bad_input(message: impl Into<String>) -> ApiError {
    refused(Refusal::BadInput);
    ApiError::bad_request(message)
}

/// `POST /api/v1/api-keys`: a new tenant API key, shown once. Body:
/// `{"name", "expires_at"?, "scopes"?}`.
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(bad_input("name must be 1-100 characters"));
    }
    let expires_at = match &body.expires_at {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| bad_input("expires_at must be epoch milliseconds or RFC 3339"))?,
        ),
        Some(serde_json::Value::String(s)) => super::records::parse_time(Some(s), "expires_at")
            .inspect_err(|_| {
                refused(Refusal::BadInput);
            })?,
        Some(_) => {
            return Err(bad_input(
                "expires_at must be epoch milliseconds or RFC 3339",
            ));
        }
    };
    if expires_at.is_some_and(|at| at <= now_ms()) {
        return Err(bad_input("expires_at must be in the future"));
    }
    check_scopes(&body.scopes).map_err(bad_input)?;
    let key = new_api_key();
    let id = state
        .store
        .create_api_key(
            principal.tenant,
            name,
            &auth::token_hash(&key),
            expires_at,
            &body.scopes,
        )
        .await?;
    Ok(Json(json!({
        "id": id,
        "name": name,
        "key": key,
        "expires_at": expires_at,
        "scopes": body.scopes,
    })))
}

/// `GET /api/v1/api-keys`: the tenant's keys (never the key itself).
pub async fn api_keys(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let now = now_ms();
    let keys: Vec<_> = state
        .store
        .api_keys(principal.tenant)
        .await?
        .into_iter()
        .map(|k| {
            let expired = k.expired(now);
            let mut v = serde_json::to_value(&k).unwrap_or_default();
            v["expired"] = json!(expired);
            v
        })
        .collect();
    Ok(Json(json!({ "api_keys": keys })))
}

/// `DELETE /api/v1/api-keys/{id}`: the key is refused from the next request on.
pub async fn delete_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    if !state.store.delete_api_key(principal.tenant, id).await? {
        return Err(ApiError::not_found());
    }
    tracing::info!(key = id, "API key deleted");
    Ok(Json(json!({ "ok": true })))
}

fn staff_json(user: &User) -> serde_json::Value {
    json!({
        "name": user.name,
        "display_name": user.display_name,
        "role": user.role,
        "disabled": user.disabled,
    })
}

/// `GET /api/v1/users`: the tenant's staff, with who is disabled.
pub async fn users(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let users = state.store.users(principal.tenant).await?;
    Ok(Json(
        json!({ "users": users.iter().map(staff_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /api/v1/users/{name}/disable`: the user cannot log in; their
/// sessions end and their consoles close.
pub async fn disable_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    if let PrincipalKind::Staff { user, .. } = &principal.kind
        && user.name == name
    {
        return Err(bad_input("you cannot disable yourself"));
    }
    let user = state
        .store
        .set_user_disabled(principal.tenant, &name, true)
        .await?
        .ok_or_else(ApiError::not_found)?;
    state.revocations.revoke(Revoked::User {
        tenant: user.tenant,
        user: user.id,
        why: "user disabled",
    });
    tracing::info!(user = %user.name, "user disabled");
    Ok(Json(json!({ "user": staff_json(&user) })))
}

/// `POST /api/v1/users/{name}/enable`: the user may log in again.
pub async fn enable_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let user = state
        .store
        .set_user_disabled(principal.tenant, &name, false)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tracing::info!(user = %user.name, "user enabled");
    Ok(Json(json!({ "user": staff_json(&user) })))
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
    // The stream ends with the session (logout, disabled, expired).
    let watch = principal.session_watch(&state);
    let stream = futures_util::stream::unfold((rx, watch), move |(mut rx, mut watch)| async move {
        loop {
            let next = match watch.as_mut() {
                Some(w) => tokio::select! {
                    next = rx.recv() => next,
                    _ = w.ended() => return None,
                },
                None => rx.recv().await,
            };
            match next {
                Ok(stat) if stat.tenant == tenant => {
                    let event = Event::default()
                        .event("stat")
                        .json_data(&stat)
                        .unwrap_or_else(|_| Event::default().event("stat"));
                    return Some((Ok(event), (rx, watch)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    let event = Event::default().event("lagged").data(n.to_string());
                    return Some((Ok(event), (rx, watch)));
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
