//! The audit log: who changed the tenant's setup in the admin pages, when,
//! and what it was before and after.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now_ms};
use crate::ids::TenantId;

/// One change, as admins read it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub before: String,
    pub after: String,
}

impl Store {
    /// Records a change made by `actor`.
    pub async fn audit(
        &self,
        tenant: TenantId,
        actor: &str,
        action: &str,
        before: &str,
        after: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, at, actor, action, before_text, after_text) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.0)
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(before)
        .bind(after)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant's changes, newest first: `limit` before the entry `before`.
    pub async fn audit_log(
        &self,
        tenant: TenantId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, before_text, after_text FROM audit_log \
             WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    before: r.try_get("before_text")?,
                    after: r.try_get("after_text")?,
                })
            })
            .collect()
    }
}
