//! The tenant's setup in the admin pages: read as a tenant file, changed by
//! sending one back, checked and applied by the very code of `switchboard
//! tenant apply` (`tenant_file::parse` and `apply`), so a change the command
//! would refuse is refused here with the same message. Each change is in
//! the audit log with who made it and the setup before and after.
//!
//! As with `tenant apply`, queues, links and agents left out of a file are
//! kept, not removed. The running desk reads the new setup at the next
//! visitor or console that connects.

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    admin_webhooks::PageQuery,
    error::{ApiError, JsonBody},
    staff::{Principal, PrincipalKind, Refusal, refused},
};
use crate::{
    store::Role,
    tenant_export::{self, Secrets},
    tenant_file,
};

/// The longest tenant file accepted here, in bytes.
const MAX_FILE: usize = 256 * 1024;
/// The most audit entries one request returns.
const MAX_LIMIT: i64 = 200;

async fn current(
    state: &AppState,
    principal: &Principal,
    secrets: Secrets,
) -> Result<String, ApiError> {
    tenant_export::export(&state.store, principal.tenant, secrets)
        .await
        .map_err(|e| ApiError::internal(&e))
}

/// `GET /api/v1/tenant/config`: the setup as a tenant file (without the
/// widget secret, which a file may leave out to keep).
pub async fn config(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let toml = current(&state, &principal, Secrets::WithoutWidgetSecret).await?;
    Ok(Json(json!({ "toml": toml })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConfig {
    toml: String,
}

/// `PUT /api/v1/tenant/config`: applies a tenant file to the admin's own
/// tenant. Body `{"toml": "..."}`. 400 with `tenant apply`'s message when the
/// file is refused; 403 when it names another tenant.
pub async fn put_config(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewConfig>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let PrincipalKind::Staff { user, .. } = &principal.kind else {
        return Err(ApiError::forbidden("admins only"));
    };
    if body.toml.len() > MAX_FILE {
        refused(Refusal::BadInput);
        return Err(ApiError::bad_request(format!(
            "the tenant file is over {} KB",
            MAX_FILE / 1024
        )));
    }
    let file = tenant_file::parse(&body.toml).map_err(|e| {
        refused(Refusal::BadInput);
        ApiError::bad_request(e.to_string())
    })?;
    let own = state
        .store
        .tenant(principal.tenant)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if file.tenant.slug.get_ref() != &own.slug {
        refused(Refusal::Forbidden);
        return Err(ApiError::forbidden(format!(
            "tenant.slug {:?} is not your tenant ({:?})",
            file.tenant.slug.get_ref(),
            own.slug
        )));
    }
    let before = current(&state, &principal, Secrets::Masked).await?;
    let applied = tenant_file::apply(&state.store, &file, &|_| None)
        .await
        .map_err(|e| match e {
            tenant_file::TenantFileError::Invalid(message) => {
                refused(Refusal::BadInput);
                ApiError::bad_request(message)
            }
            other => ApiError::internal(&other),
        })?;
    let after = current(&state, &principal, Secrets::Masked).await?;
    let changed = before != after;
    if changed {
        state
            .store
            .audit(principal.tenant, &user.name, "tenant file", &before, &after)
            .await?;
    }
    tracing::info!(user = %user.name, changed, "tenant setup applied from the admin page");
    let new_users: Vec<_> = applied
        .new_users
        .into_iter()
        .map(|(name, password)| json!({"name": name, "password": password}))
        .collect();
    Ok(Json(json!({
        "changed": changed,
        "queues": applied.queues,
        "links": applied.links,
        "new_users": new_users,
    })))
}

/// `GET /api/v1/audit`: changes to the setup, newest first, with who made
/// them and the setup before and after (`?before=<id>&limit=<1-200>`).
pub async fn audit(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<PageQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Role::Admin, false)?;
    let limit = query.limit(50, MAX_LIMIT)?;
    let entries = state
        .store
        .audit_log(principal.tenant, query.before, limit)
        .await?;
    Ok(Json(json!({ "entries": entries })))
}
