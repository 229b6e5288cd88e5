//! A contact's co-browse record (migration 0017): what the agent did while
//! the visitor's page was shared, and the whiteboard's shapes. Written by
//! `cobrowse::Recorder` off the relay's path; read into the contact's record.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::ids::{ContactId, TenantId, UserId};

/// One action to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCobrowseEvent {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub at: i64,
    /// `agent`, `visitor` or `supervisor`.
    pub actor: &'static str,
    pub user: Option<UserId>,
    /// `view_start`, `view_stop`, `control_granted`, `control_withdrawn`,
    /// `click`, `fill`, `push`, `highlight`, `watch`, `draw`, `clear`.
    pub action: &'static str,
    /// A node id, a URL, a stop's reason or a shape's JSON; never a value typed.
    pub detail: String,
}

/// One stored action as the contact's record shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CobrowseEvent {
    pub at: i64,
    pub actor: String,
    /// The staff member's sign-in name, for agents and supervisors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Store {
    /// Stores a batch of actions in one transaction.
    pub async fn record_cobrowse_events(
        &self,
        events: &[NewCobrowseEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for e in events {
            sqlx::query(
                "INSERT INTO cobrowse_events (tenant_id, contact_id, at, actor, user_id, action, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(e.tenant.0)
            .bind(e.contact.0)
            .bind(e.at)
            .bind(e.actor)
            .bind(e.user.map(|u| u.0))
            .bind(e.action)
            .bind(&e.detail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A contact's co-browse actions, oldest first.
    pub async fn cobrowse_events(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Vec<CobrowseEvent>, StoreError> {
        sqlx::query(
            "SELECT e.at, e.actor, u.name, e.action, e.detail FROM cobrowse_events e \
             LEFT JOIN users u ON u.id = e.user_id AND u.tenant_id = e.tenant_id \
             WHERE e.tenant_id = $1 AND e.contact_id = $2 ORDER BY e.id",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CobrowseEvent {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                user: r.try_get("name")?,
                action: r.try_get("action")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
    }
}
