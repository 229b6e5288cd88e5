//! Contacts (one conversation each) with their transcript: the records every
//! contact leaves behind.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError, now_ms};
use crate::ids::{ContactId, LinkId, TenantId, UserId};

/// How a contact ended. See docs/protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "answered")]
    Answered,
    #[serde(rename = "abandoned")]
    Abandoned,
    #[serde(rename = "declined-all")]
    DeclinedAll,
    #[serde(rename = "closed")]
    Closed,
    /// Not taken by routing: closed hours, no entitlement, nobody qualified.
    #[serde(rename = "refused")]
    Refused,
    #[serde(rename = "callback-failed")]
    CallbackFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::DeclinedAll => "declined-all",
            Outcome::Closed => "closed",
            Outcome::Refused => "refused",
            Outcome::CallbackFailed => "callback-failed",
        }
    }
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    Visitor,
    Agent,
    System,
}

impl Sender {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Sender::Visitor => "visitor",
            Sender::Agent => "agent",
            Sender::System => "system",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "visitor" => Ok(Sender::Visitor),
            "agent" => Ok(Sender::Agent),
            "system" => Ok(Sender::System),
            other => Err(StoreError::Corrupt(format!("message sender {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Message {
    pub from: Sender,
    pub text: String,
    pub at: i64,
}

/// What is known when a visitor opens a chat.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub tenant: TenantId,
    pub link: LinkId,
    pub media: super::ContactMedia,
    pub resume_hash: String,
    pub page_url: String,
    pub page_title: String,
    pub referrer: String,
    /// JSON array of `{url, title, at}`.
    pub pages_json: String,
    pub language: String,
    pub timezone: String,
    /// JSON of the cookies and form fields the visitor's page shared.
    pub shared_json: String,
    pub verified: bool,
    /// The verified `sub`; `None` for unverified visitors.
    pub customer_ref: Option<String>,
    /// JSON of the identity shown to agents.
    pub identity_json: String,
    /// JSON of `routing::ContactRouting`.
    pub routing_json: String,
}

impl NewContact {
    /// A contact nothing is known about yet: no page, no visitor token, no
    /// identity, default routing. Callers set what they know with `..`.
    pub fn unknown(tenant: TenantId, link: LinkId, media: super::ContactMedia) -> Self {
        Self {
            tenant,
            link,
            media,
            resume_hash: String::new(),
            page_url: String::new(),
            page_title: String::new(),
            referrer: String::new(),
            pages_json: "[]".to_owned(),
            language: String::new(),
            timezone: String::new(),
            shared_json: "{}".to_owned(),
            verified: false,
            customer_ref: None,
            identity_json: "{}".to_owned(),
            routing_json: "{}".to_owned(),
        }
    }
}

/// A contact that was waiting when the server stopped, to be routed again.
#[derive(Debug, Clone)]
pub struct WaitingContact {
    pub id: ContactId,
    pub tenant: TenantId,
    pub link: LinkId,
    pub resume_hash: String,
    pub page_url: String,
    pub page_title: String,
    pub referrer: String,
    pub pages_json: String,
    pub language: String,
    pub timezone: String,
    pub shared_json: String,
    pub identity_json: String,
    pub routing_json: String,
    pub queued_at: i64,
}

/// A stored contact as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ContactRecord {
    pub id: i64,
    pub link: String,
    pub media: String,
    pub page_url: String,
    pub page_title: String,
    pub customer: Option<String>,
    pub verified: bool,
    pub agent: Option<String>,
    pub state: String,
    pub created_at: i64,
    pub queued_at: Option<i64>,
    pub offered_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub wrapup_code: Option<String>,
    pub wrapup_note: Option<String>,
    /// The cookies and form fields the visitor's page shared (`[context]`).
    #[serde(skip_serializing_if = "crate::protocol::SharedValues::is_empty")]
    pub shared: crate::protocol::SharedValues,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Vec<Message>>,
    /// For a voice or video contact: talk and hold time, transfers, recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<serde_json::Value>,
    /// For a callback: each attempt the server made to call back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_attempts: Option<Vec<super::CallbackAttempt>>,
    /// For a callback: when it was asked for and due, how soon the first
    /// attempt came, how long the answered call talked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<super::CallbackTimes>,
    /// Co-browse actions and whiteboard shapes (docs/cobrowse.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cobrowse: Option<Vec<super::CobrowseEvent>>,
}

/// A customer's earlier contact, for the screen pop.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousContact {
    pub contact: i64,
    pub created_at: i64,
    pub outcome: Option<String>,
    pub wrapup_code: Option<String>,
    pub agent: Option<String>,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only this agent's contacts (agents see their own).
    pub agent: Option<UserId>,
    pub offset: i64,
    pub limit: i64,
}

const RECORD_SELECT: &str = "SELECT c.id, l.slug AS link, c.media, c.page_url, c.page_title, \
     c.customer_ref, c.verified, u.name AS agent, c.state, c.created_at, c.queued_at, \
     c.offered_at, c.answered_at, c.ended_at, c.outcome, c.wrapup_code, c.wrapup_note, c.shared \
     FROM contacts c JOIN links l ON l.id = c.link_id AND l.tenant_id = c.tenant_id \
     LEFT JOIN users u ON u.id = c.agent_id AND u.tenant_id = c.tenant_id";

impl Store {
    /// Takes the next `count` contact ids for this process to hand out. The
    /// block row is created on first use just past the highest id stored, and
    /// moved on under its row lock, so two processes never get the same ids.
    /// (`WHERE true`: SQLite cannot otherwise tell the upsert's `ON` from a
    /// join's.)
    pub async fn reserve_contact_ids(
        &self,
        count: i64,
    ) -> Result<std::ops::Range<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO id_blocks (name, next_id) \
             SELECT 'contacts', COALESCE(MAX(id), 0) + 1 FROM contacts WHERE true \
             ON CONFLICT (name) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        let end: i64 = sqlx::query_scalar(
            "UPDATE id_blocks SET next_id = next_id + $1 WHERE name = 'contacts' \
             RETURNING next_id",
        )
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(end - count..end)
    }

    pub async fn transcript(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Vec<Message>, StoreError> {
        sqlx::query(
            "SELECT sender, body, at FROM messages WHERE tenant_id = $1 AND contact_id = $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Message {
                from: Sender::parse(&r.try_get::<String, _>("sender")?)?,
                text: r.try_get("body")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
    }

    pub async fn contact_record(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> Result<Option<ContactRecord>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{RECORD_SELECT} WHERE c.tenant_id = $1 AND c.id = $2"
        )))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The agent that holds a contact, for access checks.
    pub async fn contact_agent(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> Result<Option<Option<UserId>>, StoreError> {
        let row = sqlx::query("SELECT agent_id FROM contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get::<Option<i64>, _>("agent_id")?.map(UserId)))
            .transpose()
    }

    /// Records newest first, with the total matching count.
    pub async fn contact_records(
        &self,
        tenant: TenantId,
        filter: &ContactFilter,
    ) -> Result<(Vec<ContactRecord>, i64), StoreError> {
        let from = filter.from_ms.unwrap_or(i64::MIN);
        let to = filter.to_ms.unwrap_or(i64::MAX);
        let agent = filter.agent.map_or(-1, |a| a.0);
        let condition = "c.tenant_id = $1 AND c.created_at >= $2 AND c.created_at < $3 \
                         AND ($4 = -1 OR c.agent_id = $4)";
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM contacts c WHERE {condition}"
        )))
        .bind(tenant.0)
        .bind(from)
        .bind(to)
        .bind(agent)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{RECORD_SELECT} WHERE {condition} ORDER BY c.created_at DESC, c.id DESC LIMIT $5 OFFSET $6"
        )))
        .bind(tenant.0)
        .bind(from)
        .bind(to)
        .bind(agent)
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(&self.pool)
        .await?;
        let records = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
        Ok((records, total))
    }

    /// The customer's earlier contacts, newest first.
    pub async fn previous_contacts(
        &self,
        tenant: TenantId,
        customer_ref: &str,
        before: ContactId,
        limit: i64,
    ) -> Result<Vec<PreviousContact>, StoreError> {
        sqlx::query(
            "SELECT c.id, c.created_at, c.outcome, c.wrapup_code, u.name AS agent \
             FROM contacts c LEFT JOIN users u ON u.id = c.agent_id AND u.tenant_id = c.tenant_id \
             WHERE c.tenant_id = $1 AND c.customer_ref = $2 AND c.id <> $3 \
             ORDER BY c.created_at DESC, c.id DESC LIMIT $4",
        )
        .bind(tenant.0)
        .bind(customer_ref)
        .bind(before.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PreviousContact {
                contact: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                outcome: r.try_get("outcome")?,
                wrapup_code: r.try_get("wrapup_code")?,
                agent: r.try_get("agent")?,
            })
        })
        .collect()
    }

    /// Conversations left open by a previous run (the process stopped while an
    /// agent held them) are closed with outcome `closed`, so no record stays
    /// half-written. Contacts still waiting (or ringing an agent) are kept: the
    /// desk routes them again, at their old place. Calls are not: their media
    /// ended with the process.
    pub async fn close_stale_contacts(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        sqlx::query("UPDATE contacts SET state = 'queued' WHERE state = 'offered'")
            .execute(&self.pool)
            .await?;
        let result = sqlx::query(
            "UPDATE contacts SET state = 'closed', ended_at = COALESCE(ended_at, $1), \
             outcome = COALESCE(outcome, 'closed') \
             WHERE state <> 'closed' AND (state <> 'queued' OR media IN ('voice', 'video'))",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Every contact waiting in a queue, oldest first (all tenants: the desk
    /// rebuilds the whole routing core at start-up).
    pub async fn waiting_contacts(&self) -> Result<Vec<WaitingContact>, StoreError> {
        sqlx::query(
            "SELECT id, tenant_id, link_id, resume_hash, page_url, page_title, referrer, pages, \
             language, timezone, shared, identity, routing, queued_at FROM contacts \
             WHERE state = 'queued' ORDER BY queued_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(WaitingContact {
                id: ContactId(r.try_get("id")?),
                tenant: TenantId(r.try_get("tenant_id")?),
                link: LinkId(r.try_get("link_id")?),
                resume_hash: r.try_get("resume_hash")?,
                page_url: r.try_get("page_url")?,
                page_title: r.try_get("page_title")?,
                referrer: r.try_get("referrer")?,
                pages_json: r.try_get("pages")?,
                language: r.try_get("language")?,
                timezone: r.try_get("timezone")?,
                shared_json: r.try_get("shared")?,
                identity_json: r.try_get("identity")?,
                routing_json: r.try_get("routing")?,
                queued_at: r.try_get::<Option<i64>, _>("queued_at")?.unwrap_or(0),
            })
        })
        .collect()
    }

    /// A contact's stored routing facts.
    pub async fn contact_routing(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> Result<crate::routing::ContactRouting, StoreError> {
        let text: String =
            sqlx::query_scalar("SELECT routing FROM contacts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
                .fetch_one(&self.pool)
                .await?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }

    /// The agent who last served this customer (for routing to them again).
    pub async fn last_agent_for(
        &self,
        tenant: TenantId,
        customer_ref: &str,
    ) -> Result<Option<UserId>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT agent_id FROM contacts WHERE tenant_id = $1 AND customer_ref = $2 \
             AND agent_id IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(tenant.0)
        .bind(customer_ref)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(UserId))
    }
}

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<ContactRecord, StoreError> {
    Ok(ContactRecord {
        id: r.try_get("id")?,
        link: r.try_get("link")?,
        media: r.try_get("media")?,
        page_url: r.try_get("page_url")?,
        page_title: r.try_get("page_title")?,
        customer: r.try_get("customer_ref")?,
        verified: r.try_get::<i64, _>("verified")? != 0,
        agent: r.try_get("agent")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        queued_at: r.try_get("queued_at")?,
        offered_at: r.try_get("offered_at")?,
        answered_at: r.try_get("answered_at")?,
        ended_at: r.try_get("ended_at")?,
        outcome: r.try_get("outcome")?,
        wrapup_code: r.try_get("wrapup_code")?,
        wrapup_note: r.try_get("wrapup_note")?,
        // Written by us from a filtered map; an unreadable value shows as none.
        shared: serde_json::from_str(&r.try_get::<String, _>("shared")?).unwrap_or_default(),
        transcript: None,
        call: None,
        callback_attempts: None,
        callback: None,
        cobrowse: None,
    })
}
