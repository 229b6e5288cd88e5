//! Stat events: one row per routing transition, for records and reports.

use serde::Serialize;

use super::{Store, StoreError};
use crate::ids::{ContactId, TenantId};

/// One routing transition (see `acd::Event`), as stored and as pushed to
/// supervisors.
#[derive(Debug, Clone, Serialize)]
pub struct StatEvent {
    #[serde(skip)]
    pub tenant: TenantId,
    pub at: i64,
    pub kind: &'static str,
    pub contact: Option<i64>,
    pub agent: Option<i64>,
    pub queue: Option<i64>,
    pub detail: serde_json::Value,
}

/// A stored stat event, read back.
#[derive(Debug, Clone, Serialize)]
pub struct StoredStatEvent {
    pub at: i64,
    pub kind: String,
    pub contact: Option<i64>,
    pub agent: Option<i64>,
    pub queue: Option<i64>,
    pub detail: serde_json::Value,
}

impl Store {
    /// Stores events in one transaction: one commit for a batch, not one per
    /// event (at hundreds of contacts a second, a commit per event left the
    /// writer thousands behind; docs/benchmarks.md).
    pub async fn insert_stat_events(&self, events: &[StatEvent]) -> Result<(), StoreError> {
        let mut tx = self.writes.begin().await?;
        for e in events {
            sqlx::query(
                "INSERT INTO acd_events (tenant_id, at, kind, contact_id, agent_id, queue_id, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(e.tenant.0)
            .bind(e.at)
            .bind(e.kind)
            .bind(e.contact)
            .bind(e.agent)
            .bind(e.queue)
            .bind(e.detail.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's stat events of the kinds the wallboard counts (`queued`,
    /// `assigned`, `left`, `agent_state`) from `since` up to `before` (Unix ms),
    /// oldest first: what happened today before this server started. Bounded
    /// to `limit` rows (a day of a busy tenant); the newest are then missing.
    pub async fn wallboard_stat_events(
        &self,
        tenant: TenantId,
        since: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<StoredStatEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, kind, contact_id, agent_id, queue_id, detail FROM acd_events \
             WHERE tenant_id = $1 AND at >= $2 AND at < $3 \
             AND kind IN ('queued', 'assigned', 'left', 'agent_state') ORDER BY id LIMIT $4",
        )
        .bind(tenant.0)
        .bind(since)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_stat_event).collect()
    }

    /// A contact's routing history, oldest first.
    pub async fn contact_stat_events(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Vec<StoredStatEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, kind, contact_id, agent_id, queue_id, detail FROM acd_events \
             WHERE tenant_id = $1 AND contact_id = $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_stat_event).collect()
    }
}

fn stored_stat_event(r: &sqlx::any::AnyRow) -> Result<StoredStatEvent, StoreError> {
    use sqlx::Row;
    let detail: String = r.try_get("detail")?;
    Ok(StoredStatEvent {
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        contact: r.try_get("contact_id")?,
        agent: r.try_get("agent_id")?,
        queue: r.try_get("queue_id")?,
        detail: serde_json::from_str(&detail).unwrap_or_default(),
    })
}
