//! Webhook endpoints per tenant (set by the tenant file), the outbox of
//! events waiting for delivery, and the delivery log.
//!
//! The outbox rows of a contact change are written in the change's own
//! transaction ([`Store::outbox_rows`] is called by `contact_writes.rs`), so
//! an event exists exactly when its change committed, and a restart loses
//! none. Which tenants have endpoints, and which kinds each wants, is kept
//! in memory ([`HookFilter`]) so the desk's writer adds no statement for a
//! tenant without webhooks, and one multi-row insert per batch for one with.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{Arc, RwLock},
};

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, TimedWrite, now_ms};
use crate::{
    ids::{ContactId, TenantId},
    secret::Secret,
    webhooks::{EventKind, events_of},
};

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

/// Which endpoints of which tenants want which kinds of event, as last read:
/// what the desk's writer consults for each change without a query.
#[derive(Debug, Default)]
pub struct HookFilter {
    tenants: RwLock<HashMap<TenantId, Vec<(i64, u32)>>>,
}

impl HookFilter {
    /// The endpoints of `tenant` that want `kind`.
    fn endpoints(&self, tenant: TenantId, kind: EventKind) -> Vec<i64> {
        // A panic while holding this lock leaves a plain map behind.
        let tenants = self
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants.get(&tenant).map_or_else(Vec::new, |endpoints| {
            endpoints
                .iter()
                .filter(|(_, mask)| mask & kind.bit() != 0)
                .map(|(id, _)| *id)
                .collect()
        })
    }

    fn is_hooked(&self, tenant: TenantId) -> bool {
        self.tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&tenant)
    }

    fn replace(&self, tenants: HashMap<TenantId, Vec<(i64, u32)>>) {
        *self
            .tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tenants;
    }
}

/// One event for one endpoint, to be inserted with its change.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    tenant: TenantId,
    endpoint: i64,
    event_id: String,
    kind: EventKind,
    payload: String,
    at: i64,
}

/// An event claimed for an attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub tenant: TenantId,
    pub event_id: String,
    pub kind: String,
    pub payload: String,
    pub created_at: i64,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How an attempt ended, for the log and the event's state.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: i64,
    pub status: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// What becomes of the event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Tried again at this time (ms since the epoch).
    RetryAt(i64),
    GivenUp,
}

/// One line of the delivery log, as admins read it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryLogEntry {
    pub at: i64,
    pub event: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub endpoint: Option<String>,
    pub attempt: u32,
    pub status: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The event's state now: pending, delivered, failed or dropped.
    pub state: Option<String>,
}

/// Statement parameters SQLite takes at most in one statement is 32,766;
/// rows of six go in chunks well under it.
const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Replaces the tenant's endpoints with `endpoints`, all or none. An
    /// endpoint whose URL stays keeps its id, so the events waiting for it
    /// stay deliverable across a `tenant apply`.
    pub async fn set_webhook_endpoints(
        &self,
        tenant: TenantId,
        endpoints: &[NewWebhookEndpoint],
    ) -> Result<(), StoreError> {
        let current = self.webhook_endpoints(tenant).await?;
        let mut tx = self.pool.begin().await?;
        for old in &current {
            if !endpoints.iter().any(|e| e.url == old.url) {
                sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(old.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for endpoint in endpoints {
            let events = endpoint.events.join(",");
            if let Some(old) = current.iter().find(|o| o.url == endpoint.url) {
                sqlx::query(
                    "UPDATE webhook_endpoints SET secret = $1, events = $2 WHERE tenant_id = $3 AND id = $4",
                )
                .bind(endpoint.secret.expose())
                .bind(events)
                .bind(tenant.0)
                .bind(old.id)
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO webhook_endpoints (tenant_id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(tenant.0)
                .bind(&endpoint.url)
                .bind(endpoint.secret.expose())
                .bind(events)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.load_webhook_filter().await
    }

    /// Whether the store was closed (the server stopped): the dispatcher
    /// ends then.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
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
        rows.iter().map(endpoint_of).collect()
    }

    /// One endpoint by id, with its tenant (for the dispatcher).
    pub async fn webhook_endpoint(
        &self,
        id: i64,
    ) -> Result<Option<(TenantId, WebhookEndpoint)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, url, secret, events FROM webhook_endpoints WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((TenantId(row.try_get("tenant_id")?), endpoint_of(&row)?)))
            .transpose()
    }

    /// Reads every tenant's endpoints into the writer's filter.
    pub async fn load_webhook_filter(&self) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT id, tenant_id, events FROM webhook_endpoints")
            .fetch_all(&self.pool)
            .await?;
        let mut tenants: HashMap<TenantId, Vec<(i64, u32)>> = HashMap::new();
        for row in rows {
            let events: String = row.try_get("events")?;
            tenants
                .entry(TenantId(row.try_get("tenant_id")?))
                .or_default()
                .push((row.try_get("id")?, EventKind::mask(events.split(','))));
        }
        self.hooks.replace(tenants);
        Ok(())
    }

    /// The outbox rows of `writes`: none (and no work) unless a tenant among
    /// them has endpoints.
    pub(crate) fn outbox_rows(&self, writes: &[TimedWrite]) -> Vec<OutboxRow> {
        let mut rows = Vec::new();
        for timed in writes {
            let tenant = timed.write.tenant();
            if !self.hooks.is_hooked(tenant) {
                continue;
            }
            for (kind, payload) in events_of(&timed.write) {
                let endpoints = self.hooks.endpoints(tenant, kind);
                if endpoints.is_empty() {
                    continue;
                }
                let event_id =
                    format!("{}.{}.{}", timed.write.contact().0, kind.as_str(), timed.at);
                let payload = payload.to_string();
                rows.extend(endpoints.into_iter().map(|endpoint| OutboxRow {
                    tenant,
                    endpoint,
                    event_id: event_id.clone(),
                    kind,
                    payload: payload.clone(),
                    at: timed.at,
                }));
            }
        }
        rows
    }

    /// Inserts outbox rows on `conn` (the contact change's transaction).
    pub(crate) async fn insert_outbox(
        conn: &mut AnyConnection,
        rows: &[OutboxRow],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO webhook_outbox (tenant_id, endpoint_id, event_id, kind, payload, created_at, next_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = i * 6;
                if i > 0 {
                    sql.push_str(", ");
                }
                // Writing to a String cannot fail.
                let _ = write!(
                    sql,
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 6
                );
            }
            // Only placeholders are formatted in; every value is bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(row.tenant.0)
                    .bind(row.endpoint)
                    .bind(row.event_id.clone())
                    .bind(row.kind.as_str())
                    .bind(row.payload.clone())
                    .bind(row.at);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// See [`crate::webhooks::emit`].
    pub async fn emit_webhook_event(
        &self,
        tenant: TenantId,
        contact: Option<ContactId>,
        kind: EventKind,
        data: serde_json::Value,
    ) -> Result<usize, StoreError> {
        let endpoints = self.hooks.endpoints(tenant, kind);
        if endpoints.is_empty() {
            return Ok(0);
        }
        let at = now_ms();
        let event_id = match contact {
            Some(c) => format!("{}.{}.{at}", c.0, kind.as_str()),
            None => format!("{}.{at}.{}", kind.as_str(), rand::random::<u32>()),
        };
        let payload = data.to_string();
        let rows: Vec<OutboxRow> = endpoints
            .into_iter()
            .map(|endpoint| OutboxRow {
                tenant,
                endpoint,
                event_id: event_id.clone(),
                kind,
                payload: payload.clone(),
                at,
            })
            .collect();
        let mut tx = self.writes.begin().await?;
        Self::insert_outbox(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Endpoints with an event due at `now`.
    pub async fn due_webhook_endpoints(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT endpoint_id FROM webhook_outbox WHERE state = 'pending' AND next_at <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("endpoint_id")?)).collect()
    }

    /// Claims the endpoint's oldest due event until `lease_until`: another
    /// dispatcher (another node, or this one after a restart) takes it only
    /// once the lease has run out.
    pub async fn claim_webhook_event(
        &self,
        endpoint: i64,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Claimed>, StoreError> {
        // The outer `next_at <= $2` is checked again on the row as updated:
        // of two dispatchers that picked the same row, one wins.
        let row = sqlx::query(
            "UPDATE webhook_outbox SET next_at = $3 WHERE id = (SELECT id FROM webhook_outbox \
             WHERE endpoint_id = $1 AND state = 'pending' AND next_at <= $2 ORDER BY id LIMIT 1) \
             AND state = 'pending' AND next_at <= $2 \
             RETURNING id, tenant_id, event_id, kind, payload, created_at, attempts",
        )
        .bind(endpoint)
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Claimed {
                id: row.try_get("id")?,
                tenant: TenantId(row.try_get("tenant_id")?),
                event_id: row.try_get("event_id")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                created_at: row.try_get("created_at")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            })
        })
        .transpose()
    }

    /// Logs an attempt (or, with `record` `None`, none: an event given up
    /// unattempted) and moves the event on, in one transaction.
    pub async fn finish_webhook_attempt(
        &self,
        event: &Claimed,
        endpoint: i64,
        record: Option<&AttemptRecord>,
        after: AfterAttempt,
    ) -> Result<(), StoreError> {
        let attempts = i64::from(event.attempts) + i64::from(record.is_some());
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some(record) = record {
            sqlx::query(
                "INSERT INTO webhook_attempts (tenant_id, outbox_id, endpoint_id, attempt, at, status, duration_ms, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(event.tenant.0)
            .bind(event.id)
            .bind(endpoint)
            .bind(attempts)
            .bind(record.at)
            .bind(record.status.map(i64::from))
            .bind(record.duration_ms)
            .bind(record.error.clone())
            .execute(&mut *tx)
            .await?;
        }
        let (state, next_at, done_at) = match after {
            AfterAttempt::Delivered => ("delivered", now, Some(now)),
            AfterAttempt::RetryAt(at) => ("pending", at, None),
            AfterAttempt::GivenUp => ("failed", now, Some(now)),
        };
        sqlx::query(
            "UPDATE webhook_outbox SET state = $1, next_at = $2, done_at = $3, attempts = $4 \
             WHERE tenant_id = $5 AND id = $6",
        )
        .bind(state)
        .bind(next_at)
        .bind(done_at)
        .bind(attempts)
        .bind(event.tenant.0)
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the pending events of an endpoint that no longer exists.
    pub async fn drop_webhook_events(&self, endpoint: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_outbox SET state = 'dropped', done_at = $1 WHERE endpoint_id = $2 AND state = 'pending'",
        )
        .bind(now_ms())
        .bind(endpoint)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Drops the oldest pending events of an endpoint beyond `keep`, so a
    /// dead endpoint's backlog stays bounded. Returns how many.
    pub async fn trim_webhook_backlog(
        &self,
        endpoint: i64,
        keep: usize,
    ) -> Result<u64, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let done = sqlx::query(
            "UPDATE webhook_outbox SET state = 'dropped', done_at = $1 WHERE endpoint_id = $2 \
             AND state = 'pending' AND id < (SELECT id FROM webhook_outbox WHERE endpoint_id = $2 \
             AND state = 'pending' ORDER BY id DESC LIMIT 1 OFFSET $3)",
        )
        .bind(now_ms())
        .bind(endpoint)
        .bind(keep - 1)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes finished events and log lines older than `before`.
    pub async fn prune_webhooks(&self, before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_attempts WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM webhook_outbox WHERE state <> 'pending' AND done_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The tenant's delivery log, newest first: `limit` lines before the
    /// line `before` (an id; all when `None`).
    pub async fn webhook_delivery_log(
        &self,
        tenant: TenantId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, DeliveryLogEntry)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.at, a.attempt, a.status, a.duration_ms, a.error, o.event_id, o.kind, \
             o.state, e.url FROM webhook_attempts a \
             LEFT JOIN webhook_outbox o ON o.id = a.outbox_id AND o.tenant_id = a.tenant_id \
             LEFT JOIN webhook_endpoints e ON e.id = a.endpoint_id AND e.tenant_id = a.tenant_id \
             WHERE a.tenant_id = $1 AND a.id < $2 ORDER BY a.id DESC LIMIT $3",
        )
        .bind(tenant.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let entry = DeliveryLogEntry {
                    at: row.try_get("at")?,
                    event: row
                        .try_get::<Option<String>, _>("event_id")?
                        .unwrap_or_default(),
                    kind: row
                        .try_get::<Option<String>, _>("kind")?
                        .unwrap_or_default(),
                    endpoint: row.try_get("url")?,
                    attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(0),
                    status: row
                        .try_get::<Option<i64>, _>("status")?
                        .and_then(|s| u16::try_from(s).ok()),
                    duration_ms: row.try_get("duration_ms")?,
                    error: row.try_get("error")?,
                    state: row.try_get("state")?,
                };
                Ok((row.try_get("id")?, entry))
            })
            .collect()
    }

    /// How many of the tenant's events wait for delivery.
    pub async fn webhook_events_pending(&self, tenant: TenantId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM webhook_outbox WHERE tenant_id = $1 AND state = 'pending'",
        )
        .bind(tenant.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

fn endpoint_of(row: &sqlx::any::AnyRow) -> Result<WebhookEndpoint, StoreError> {
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
}

/// The filter shared by every clone of a store.
pub(super) fn new_filter() -> Arc<HookFilter> {
    Arc::new(HookFilter::default())
}
