//! The tenant's CRM records: customers (by the merchant's own id, the `sub` of a
//! signed visitor identity) and their trouble tickets.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError, now_ms, string_list, to_json};
use crate::ids::TenantId;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ticket {
    pub reference: String,
    pub subject: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tier: Option<String>,
    pub entitlements: Vec<String>,
    pub notes: Option<String>,
    pub tickets: Vec<Ticket>,
    pub updated_at: i64,
}

/// What a merchant pushes (API) or a tenant file sets.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub entitlements: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub tickets: Vec<Ticket>,
}

impl Store {
    /// Creates or replaces the customer with this external id, tickets included.
    pub async fn upsert_customer(
        &self,
        tenant: TenantId,
        external_id: &str,
        input: &CustomerInput,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO customers (tenant_id, external_id, name, email, phone, tier, entitlements, notes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id, external_id) DO UPDATE SET name = excluded.name, \
             email = excluded.email, phone = excluded.phone, tier = excluded.tier, \
             entitlements = excluded.entitlements, notes = excluded.notes, updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(external_id)
        .bind(&input.name)
        .bind(input.email.clone())
        .bind(input.phone.clone())
        .bind(input.tier.clone())
        .bind(to_json(&input.entitlements))
        .bind(input.notes.clone())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM customers WHERE tenant_id = $1 AND external_id = $2",
        )
        .bind(tenant.0)
        .bind(external_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM tickets WHERE tenant_id = $1 AND customer_id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for t in &input.tickets {
            sqlx::query(
                "INSERT INTO tickets (tenant_id, customer_id, reference, subject, status) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(&t.reference)
            .bind(&t.subject)
            .bind(&t.status)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn customer(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<Customer>, StoreError> {
        let row = sqlx::query(
            "SELECT id, external_id, name, email, phone, tier, entitlements, notes, updated_at \
             FROM customers WHERE tenant_id = $1 AND external_id = $2",
        )
        .bind(tenant.0)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        let tickets = sqlx::query(
            "SELECT reference, subject, status FROM tickets \
             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Ticket {
                reference: r.try_get("reference")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(customer_from_row(&row, tickets)?))
    }

    /// The tenant's customers (without tickets), newest first, at most `limit`.
    pub async fn customers(
        &self,
        tenant: TenantId,
        limit: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        sqlx::query(
            "SELECT external_id, name, email, phone, tier, entitlements, notes, updated_at \
             FROM customers WHERE tenant_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| customer_from_row(r, Vec::new()))
        .collect()
    }
}

fn customer_from_row(r: &sqlx::any::AnyRow, tickets: Vec<Ticket>) -> Result<Customer, StoreError> {
    Ok(Customer {
        external_id: r.try_get("external_id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        tier: r.try_get("tier")?,
        entitlements: string_list(&r.try_get::<String, _>("entitlements")?)?,
        notes: r.try_get("notes")?,
        tickets,
        updated_at: r.try_get("updated_at")?,
    })
}
