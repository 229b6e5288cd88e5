//! Webhook endpoints, per tenant (set by the tenant file, read by the
//! deliveries in `crate::webhooks`).

use sqlx::Row;

use super::{Store, StoreError, now_ms};
use crate::{ids::TenantId, secret::Secret};

/// An endpoint as the tenant file gives it.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub secret: Secret,
    /// Event types, e.g. `contact.created`.
    pub events: Vec<String>,
}

/// A stored endpoint.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub secret: Secret,
    pub events: Vec<String>,
}

impl Store {
    /// Replaces the tenant's endpoints with `endpoints`, all or none.
    pub async fn set_webhook_endpoints(
        &self,
        tenant: TenantId,
        endpoints: &[NewWebhookEndpoint],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1")
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
        for endpoint in endpoints {
            sqlx::query(
                "INSERT INTO webhook_endpoints (tenant_id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.0)
            .bind(&endpoint.url)
            .bind(endpoint.secret.expose())
            .bind(endpoint.events.join(","))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's endpoints, oldest first.
    pub async fn webhook_endpoints(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, url, secret, events FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let events: String = row.try_get("events")?;
                Ok(WebhookEndpoint {
                    id: row.try_get("id")?,
                    url: row.try_get("url")?,
                    secret: Secret::new(row.try_get::<String, _>("secret")?),
                    events: events
                        .split(',')
                        .filter(|e| !e.is_empty())
                        .map(str::to_owned)
                        .collect(),
                })
            })
            .collect()
    }
}
