//! Staff users, their login sessions and the tenant's API keys.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError, conflict, now_ms};
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
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub tenant: TenantId,
    pub name: String,
}

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
    })
}

const USER_COLUMNS: &str = "id, tenant_id, name, display_name, role, password_hash, max_chats";

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

    /// The user behind a live session (by token hash) and the session's CSRF
    /// token, in one query; expired sessions are not returned.
    pub async fn session_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.tenant_id, u.name, u.display_name, u.role, u.password_hash, \
             u.max_chats, s.csrf_token FROM sessions s \
             JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((user_from_row(&r)?, r.try_get("csrf_token")?)))
            .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        name: &str,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (tenant_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.0)
        .bind(name)
        .bind(key_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(conflict("api key"))?;
        Ok(())
    }

    pub async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query("SELECT tenant_id, name FROM api_keys WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ApiKey {
                tenant: TenantId(r.try_get("tenant_id")?),
                name: r.try_get("name")?,
            })
        })
        .transpose()
    }
}
