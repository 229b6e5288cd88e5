//! Staff authentication: login, logout, who-am-I, and the `Principal` extractor
//! that every API handler takes (a session cookie or a tenant API key), with
//! CSRF and Origin checks on state-changing requests made with a cookie.

mod refusal;
mod revocation;

pub use refusal::{Refusal, refused};
pub use revocation::{PURGE_EVERY, RECHECK_EVERY, Revocations, Revoked, SessionWatch};

use std::{net::SocketAddr, time::Instant};

use axum::{
    Json,
    extract::{ConnectInfo, FromRequestParts, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    error::{ApiError, JsonBody},
    limit::LoginRefusal,
};
use crate::{
    auth,
    ids::TenantId,
    store::{ApiKey, Role, Session, User},
};

pub const SESSION_COOKIE: &str = "sb_session";
/// Sessions last a working day.
const SESSION_HOURS: i64 = 12;
/// The API key scope that allows downloading call recordings.
pub const SCOPE_RECORDINGS: &str = "recordings";
/// Every scope an API key may carry.
pub const SCOPES: &[&str] = &[SCOPE_RECORDINGS];

/// Who is calling the API.
pub struct Principal {
    pub tenant: TenantId,
    pub kind: PrincipalKind,
}

pub enum PrincipalKind {
    Staff {
        user: Box<User>,
        csrf_token: String,
        token_hash: String,
        /// When the session ends (Unix milliseconds).
        expires_at: i64,
    },
    /// A merchant system with a tenant API key.
    ApiKey(Box<ApiKey>),
}

impl Principal {
    pub fn user(&self) -> Option<&User> {
        match &self.kind {
            PrincipalKind::Staff { user, .. } => Some(user),
            PrincipalKind::ApiKey(_) => None,
        }
    }

    /// Staff with at least `role`, or (when `api_key_ok`) an API key.
    pub fn require(&self, role: Role, api_key_ok: bool) -> Result<(), ApiError> {
        match &self.kind {
            PrincipalKind::Staff { user, .. } if user.role >= role => Ok(()),
            PrincipalKind::ApiKey(_) if api_key_ok => Ok(()),
            _ => {
                refused(Refusal::Forbidden);
                Err(ApiError::forbidden(format!(
                    "this needs the {} role",
                    role.as_str()
                )))
            }
        }
    }

    /// Staff with at least `role`, or an API key carrying `scope`.
    pub fn require_scope(&self, role: Role, scope: &str) -> Result<(), ApiError> {
        match &self.kind {
            PrincipalKind::Staff { user, .. } if user.role >= role => Ok(()),
            PrincipalKind::ApiKey(key) if key.has_scope(scope) => Ok(()),
            _ => {
                refused(Refusal::Forbidden);
                Err(ApiError::forbidden(format!(
                    "this needs the {} role or an API key with the {scope} scope",
                    role.as_str()
                )))
            }
        }
    }

    /// A watch on this principal's session (staff only): resolves when it
    /// ends (logout, disabled, expired).
    pub fn session_watch(&self, state: &AppState) -> Option<SessionWatch> {
        match &self.kind {
            PrincipalKind::Staff {
                user,
                token_hash,
                expires_at,
                ..
            } => Some(state.revocations.watch(
                state.store.clone(),
                token_hash.clone(),
                user.tenant,
                user.id,
                *expires_at,
            )),
            PrincipalKind::ApiKey(_) => None,
        }
    }
}

/// The value of one cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// True when the request's `Origin` (if any) is this listener's own origin.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Non-browser clients send no Origin; browsers always do on
        // cross-origin and state-changing requests.
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// The live session behind the request's cookie, with its token hash.
pub async fn session_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Session, String)>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = auth::token_hash(token);
    Ok(state.store.session(&hash).await?.map(|s| (s, hash)))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            let key = state
                .store
                .api_key(&auth::token_hash(bearer.trim()))
                .await?;
            return match key {
                Some(key) if key.expired(crate::store::now_ms()) => {
                    refused(Refusal::KeyExpired);
                    Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "key_expired",
                        "this API key has expired; ask an admin for a new one",
                    ))
                }
                Some(key) => Ok(Principal {
                    tenant: key.tenant,
                    kind: PrincipalKind::ApiKey(Box::new(key)),
                }),
                None => {
                    refused(Refusal::Unauthorized);
                    Err(ApiError::unauthorized())
                }
            };
        }
        let Some((session, token_hash)) = session_user(state, &parts.headers).await? else {
            refused(Refusal::Unauthorized);
            return Err(ApiError::unauthorized());
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !auth::constant_time_eq(sent, &session.csrf_token) || !same_origin(&parts.headers) {
                refused(Refusal::Csrf);
                return Err(ApiError::forbidden("missing or wrong CSRF token"));
            }
        }
        Ok(Principal {
            tenant: session.user.tenant,
            kind: PrincipalKind::Staff {
                user: Box::new(session.user),
                csrf_token: session.csrf_token,
                token_hash,
                expires_at: session.expires_at,
            },
        })
    }
}

fn user_json(user: &User, tenant_slug: &str) -> serde_json::Value {
    json!({
        "name": user.name,
        "display_name": user.display_name,
        "role": user.role,
        "tenant": tenant_slug,
    })
}

/// `GET /api/v1/login-hint`: the tenant to prefill when there is only one.
pub async fn login_hint(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let slugs = state.store.tenant_slugs().await?;
    let tenant = (slugs.len() == 1).then(|| slugs[0].clone());
    Ok(Json(json!({ "tenant": tenant })))
}

#[derive(Deserialize)]
pub struct LoginBody {
    tenant: String,
    name: String,
    password: String,
}

/// `POST /api/v1/login`: starts a staff session (cookie) and returns the CSRF token.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        refused(Refusal::CrossOrigin);
        return Err(ApiError::forbidden("cross-origin login refused"));
    }
    if body.password.len() > 1024 || body.name.len() > 200 || body.tenant.len() > 200 {
        refused(Refusal::BadInput);
        return Err(ApiError::bad_request(
            "field too long (tenant and name up to 200, password up to 1024 bytes)",
        ));
    }
    let throttle = &state.limits.login;
    // Behind a trusted proxy, the address it forwarded is the client's.
    let client = super::serve::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    let attempt = match throttle.begin(&body.tenant, &body.name, client, Instant::now()) {
        Ok(attempt) => attempt,
        Err(why) => {
            metrics::counter!("switchboard_logins_throttled_total").increment(1);
            let (reason, message) = match why {
                LoginRefusal::Address => (
                    Refusal::LoginAddress,
                    "too many failed logins from this address; wait a minute and try again",
                ),
                LoginRefusal::UserAddress => (
                    Refusal::LoginUserAddress,
                    "too many failed logins for this user from this address; wait a few minutes and try again",
                ),
            };
            refused(reason);
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                message,
            ));
        }
    };
    if !attempt.delay.is_zero() {
        tokio::time::sleep(attempt.delay).await;
    }
    let found = async {
        let Some(tenant) = state.store.tenant_by_slug(&body.tenant).await? else {
            return Ok::<_, crate::store::StoreError>(None);
        };
        Ok(state
            .store
            .user_by_name(tenant.id, &body.name)
            .await?
            .map(|user| (tenant, user)))
    }
    .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            // Not the caller's fault: give the tokens back.
            throttle.succeeded(attempt);
            return Err(e.into());
        }
    };
    let password = body.password;
    let verified = if let Some((_, u)) = &found {
        let hash = u.password_hash.clone();
        tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    } else {
        let _ = tokio::task::spawn_blocking(move || auth::dummy_verify(&password)).await;
        false
    };
    let (Some((tenant, user)), true) = (found, verified) else {
        throttle.failed(attempt, Instant::now());
        metrics::counter!("switchboard_logins_failed_total").increment(1);
        refused(Refusal::BadCredentials);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong tenant, name or password",
        ));
    };
    throttle.succeeded(attempt);
    if user.disabled {
        refused(Refusal::Disabled);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "disabled",
            "this user is disabled; ask an admin",
        ));
    }
    let token = auth::random_token();
    let csrf_token = auth::random_token();
    let expires = crate::store::now_ms() + SESSION_HOURS * 3_600_000;
    state
        .store
        .create_session(
            tenant.id,
            user.id,
            &auth::token_hash(&token),
            &csrf_token,
            expires,
        )
        .await?;
    tracing::info!(tenant = %tenant.slug, user = %user.name, "staff login");
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_HOURS * 3600
    );
    let mut response =
        Json(json!({"user": user_json(&user, &tenant.slug), "csrf_token": csrf_token}))
            .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `POST /api/v1/logout`: ends the session and closes its console connections.
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    if let PrincipalKind::Staff { token_hash, .. } = &principal.kind {
        state.store.delete_session(token_hash).await?;
        state.revocations.revoke(Revoked::Session {
            token_hash: token_hash.clone(),
            why: "logged out",
        });
    }
    let mut response = Json(json!({"ok": true})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/v1/me`: the logged-in staff member and their CSRF token.
pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    let PrincipalKind::Staff {
        user, csrf_token, ..
    } = &principal.kind
    else {
        refused(Refusal::Forbidden);
        return Err(ApiError::forbidden("API keys have no user"));
    };
    let tenant = state
        .store
        .tenant(principal.tenant)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Json(
        json!({"user": user_json(user, &tenant.slug), "csrf_token": csrf_token}),
    ))
}
