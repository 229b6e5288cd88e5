//! The tenant's CRM records: customers (by the merchant's own id, the `sub` of a
//! signed visitor identity), their phone numbers (an inbound caller's id finds
//! them), entitlements and trouble tickets.

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

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
    /// Every number of the customer (E.164), `phone` first.
    pub phones: Vec<String>,
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
    /// Further numbers; with `phone`, all match the customer's calls.
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub entitlements: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub tickets: Vec<Ticket>,
}

/// Most phone numbers, entitlements and tickets one customer has.
pub const MAX_PHONES: usize = 20;
pub const MAX_ENTITLEMENTS: usize = 50;
pub const MAX_TICKETS: usize = 200;

impl CustomerInput {
    /// Every phone number given, in E.164, `phone` first, each once; a
    /// number that is not one is kept as written (a tenant file's), and
    /// refused by [`CustomerInput::check`] at the API.
    pub fn numbers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.phone.iter().chain(&self.phones) {
            let n = crate::phone::normalize_number(n).unwrap_or_else(|| n.trim().to_owned());
            if !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    /// What is wrong with a record pushed over the API, said plainly.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err("name must be 1-200 characters".into());
        }
        for n in self.phone.iter().chain(&self.phones) {
            if crate::phone::normalize_number(n).is_none() {
                return Err(format!(
                    "phone {n:?} is not an E.164 number (+ and country code, e.g. +15125550100)"
                ));
            }
        }
        if let Some(email) = &self.email
            && (email.len() > 254 || !email.contains('@'))
        {
            return Err(format!("email {email:?} is not an address"));
        }
        if self.phones.len() + 1 > MAX_PHONES
            || self.entitlements.len() > MAX_ENTITLEMENTS
            || self.tickets.len() > MAX_TICKETS
        {
            return Err(format!(
                "at most {MAX_PHONES} phone numbers, {MAX_ENTITLEMENTS} entitlements and {MAX_TICKETS} tickets"
            ));
        }
        let text_ok = |t: &str| !t.trim().is_empty() && t.len() <= 200;
        if !self.entitlements.iter().all(|e| text_ok(e)) {
            return Err("entitlements must be 1-200 characters each".into());
        }
        for t in &self.tickets {
            t.check()?;
        }
        Ok(())
    }
}

impl Ticket {
    pub fn check(&self) -> Result<(), String> {
        if self.reference.trim().is_empty() || self.reference.len() > 100 {
            return Err("a ticket's reference must be 1-100 characters".into());
        }
        if self.subject.len() > 500 || self.status.trim().is_empty() || self.status.len() > 50 {
            return Err(
                "a ticket's subject must be at most 500 characters and its status 1-50".into(),
            );
        }
        Ok(())
    }
}

impl Store {
    /// Creates or replaces the customer with this external id, tickets included.
    pub async fn upsert_customer(
        &self,
        tenant: TenantId,
        external_id: &str,
        input: &CustomerInput,
    ) -> Result<(), StoreError> {
        let numbers = input.numbers();
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
        .bind(numbers.first().cloned())
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
            insert_ticket(&mut tx, tenant, id, t).await?;
        }
        sqlx::query("DELETE FROM customer_phones WHERE tenant_id = $1 AND customer_id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for n in &numbers {
            sqlx::query(
                "INSERT INTO customer_phones (tenant_id, customer_id, number) VALUES ($1, $2, $3)",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the customer, their numbers and tickets; `false` if there was
    /// none. Their contacts keep the id they were made under.
    pub async fn delete_customer(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(id) = customer_id(&mut tx, tenant, external_id).await? else {
            return Ok(false);
        };
        for table in ["tickets", "customer_phones"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND customer_id = $2"
            )))
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Grants (`true`) or withdraws an entitlement; `None` when there is no
    /// such customer. Granting one twice keeps one.
    pub async fn set_entitlement(
        &self,
        tenant: TenantId,
        external_id: &str,
        name: &str,
        granted: bool,
    ) -> Result<Option<()>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT entitlements FROM customers WHERE tenant_id = $1 AND external_id = $2",
        )
        .bind(tenant.0)
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut list = string_list(&row.try_get::<String, _>("entitlements")?)?;
        list.retain(|e| e != name);
        if granted {
            list.push(name.to_owned());
        }
        sqlx::query(
            "UPDATE customers SET entitlements = $1, updated_at = $2 \
             WHERE tenant_id = $3 AND external_id = $4",
        )
        .bind(to_json(&list))
        .bind(now_ms())
        .bind(tenant.0)
        .bind(external_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(()))
    }

    /// Creates or replaces one ticket by its reference (`Some(ticket)`) or
    /// deletes it (`None`). `None` back when there is no such customer, or
    /// no such ticket to delete.
    pub async fn set_ticket(
        &self,
        tenant: TenantId,
        external_id: &str,
        reference: &str,
        ticket: Option<&Ticket>,
    ) -> Result<Option<()>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(id) = customer_id(&mut tx, tenant, external_id).await? else {
            return Ok(None);
        };
        let deleted = sqlx::query(
            "DELETE FROM tickets WHERE tenant_id = $1 AND customer_id = $2 AND reference = $3",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(reference)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        match ticket {
            Some(t) => insert_ticket(&mut tx, tenant, id, t).await?,
            None if deleted == 0 => return Ok(None),
            None => {}
        }
        sqlx::query("UPDATE customers SET updated_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(now_ms())
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(()))
    }

    /// The customer a caller's number (E.164) belongs to: one only, since a
    /// number shared by two customers says nothing about who is calling.
    pub async fn customer_ref_by_phone(
        &self,
        tenant: TenantId,
        number: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT c.external_id FROM customer_phones p \
             JOIN customers c ON c.id = p.customer_id AND c.tenant_id = p.tenant_id \
             WHERE p.tenant_id = $1 AND p.number = $2 LIMIT 2",
        )
        .bind(tenant.0)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        Ok(match rows.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        })
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
        let mut customer = customer_from_row(&row, tickets)?;
        customer.phones = sqlx::query_scalar(
            "SELECT number FROM customer_phones WHERE tenant_id = $1 AND customer_id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        // The first number (`phone`) first, as it was given.
        customer
            .phones
            .sort_by_key(|n| Some(n) != customer.phone.as_ref());
        Ok(Some(customer))
    }

    /// The tenant's customers (without tickets or further numbers), newest
    /// first, `limit` from `offset`.
    pub async fn customers(
        &self,
        tenant: TenantId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        sqlx::query(
            "SELECT external_id, name, email, phone, tier, entitlements, notes, updated_at \
             FROM customers WHERE tenant_id = $1 ORDER BY updated_at DESC, id DESC \
             LIMIT $2 OFFSET $3",
        )
        .bind(tenant.0)
        .bind(limit)
        .bind(offset)
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
        phones: Vec::new(),
        tier: r.try_get("tier")?,
        entitlements: string_list(&r.try_get::<String, _>("entitlements")?)?,
        notes: r.try_get("notes")?,
        tickets,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The row id of a customer, inside a transaction.
async fn customer_id(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM customers WHERE tenant_id = $1 AND external_id = $2")
            .bind(tenant.0)
            .bind(external_id)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

async fn insert_ticket(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: TenantId,
    customer: i64,
    t: &Ticket,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tickets (tenant_id, customer_id, reference, subject, status, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.0)
    .bind(customer)
    .bind(&t.reference)
    .bind(&t.subject)
    .bind(&t.status)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
