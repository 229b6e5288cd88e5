//! Staff users, their login sessions and the tenant's API keys, and what
//! revokes them: a disabled user, a deleted or expired key, a purged session.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError, conflict, now_ms, string_list, to_json};
use crate::ids::{TenantId, UserId};

/// What a staff member may do. Ordered: each role can do what the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "agent" => Ok(Role::Agent),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected agent, supervisor or admin)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub tenant: TenantId,
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub max_chats: u32,
    /// Disabled users cannot log in and have no sessions.
    pub disabled: bool,
}

/// A live staff session: its user, its CSRF token and when it ends.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// A tenant API key as stored: never the key itself, only its hash.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: i64,
    #[serde(skip)]
    pub tenant: TenantId,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// What the key may do beyond the API keys' default (e.g. `recordings`).
    pub scopes: Vec<String>,
}

impl ApiKey {
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_ms)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn api_key_from_row(r: &sqlx::any::AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: r.try_get("id")?,
        tenant: TenantId(r.try_get("tenant_id")?),
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        scopes: string_list(&r.try_get::<String, _>("scopes")?)?,
    })
}

const API_KEY_COLUMNS: &str = "id, tenant_id, name, created_at, expires_at, scopes";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        tenant: TenantId(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        password_hash: row.try_get("password_hash")?,
        max_chats: u32::try_from(row.try_get::<i64, _>("max_chats")?).unwrap_or(1),
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
    })
}

const USER_COLUMNS: &str =
    "id, tenant_id, name, display_name, role, password_hash, max_chats, disabled_at";

impl Store {
    pub async fn create_user(
        &self,
        tenant: TenantId,
        name: &str,
        display_name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<UserId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (tenant_id, name, display_name, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(tenant.0)
        .bind(name)
        .bind(display_name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("user"))?;
        Ok(UserId(id))
    }

    /// Updates what a tenant file may set on an existing user (not the password).
    pub async fn update_user_profile(
        &self,
        tenant: TenantId,
        user: UserId,
        display_name: &str,
        role: Role,
        max_chats: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET display_name = $1, role = $2, max_chats = $3 \
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(display_name)
        .bind(role.as_str())
        .bind(i64::from(max_chats))
        .bind(tenant.0)
        .bind(user.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user_by_name(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND name = $2"
        )))
        .bind(tenant.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn create_session(
        &self,
        tenant: TenantId,
        user: UserId,
        token_hash: &str,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (tenant_id, user_id, token_hash, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(token_hash)
        .bind(csrf_token)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session with this token hash, in one query: an expired
    /// session, or one of a disabled user, is not returned (whether or not the
    /// purge has deleted it yet).
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.tenant_id, u.name, u.display_name, u.role, u.password_hash, \
             u.max_chats, u.disabled_at, s.csrf_token, s.expires_at FROM sessions s \
             JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Session {
                user: user_from_row(&r)?,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of one user; how many there were.
    pub async fn delete_user_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes sessions that expired by `now_ms`, at most `limit` of them, and
    /// returns their token hashes (so their connections can be closed).
    pub async fn purge_expired_sessions(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "DELETE FROM sessions WHERE id IN \
             (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2) RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("token_hash")?)).collect()
    }

    /// The tenant's staff, by name (disabled ones included).
    pub async fn users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY name"
        )))
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Disables or enables a user by name; `None` when there is no such user.
    /// Disabling also ends the user's sessions (the caller closes their
    /// connections).
    pub async fn set_user_disabled(
        &self,
        tenant: TenantId,
        name: &str,
        disabled: bool,
    ) -> Result<Option<User>, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET disabled_at = CASE WHEN $1 = 1 THEN COALESCE(disabled_at, $2) \
             ELSE NULL END WHERE tenant_id = $3 AND name = $4",
        )
        .bind(i64::from(disabled))
        .bind(now_ms())
        .bind(tenant.0)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let Some(user) = self.user_by_name(tenant, name).await? else {
            return Ok(None);
        };
        if disabled {
            self.delete_user_sessions(tenant, user.id).await?;
        }
        Ok(Some(user))
    }

    /// Stores a new API key (its hash); returns its id.
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        name: &str,
        key_hash: &str,
        expires_at: Option<i64>,
        scopes: &[String],
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (tenant_id, name, key_hash, created_at, expires_at, scopes) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(tenant.0)
        .bind(name)
        .bind(key_hash)
        .bind(now_ms())
        .bind(expires_at)
        .bind(to_json(&scopes))
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("api key"))?;
        Ok(id)
    }

    /// The key with this hash, expired or not (the caller tells the two apart).
    pub async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        )))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    /// The tenant's API keys, oldest first.
    pub async fn api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id"
        )))
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    /// Deletes one of the tenant's keys; false when it has no key with this id.
    pub async fn delete_api_key(&self, tenant: TenantId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
