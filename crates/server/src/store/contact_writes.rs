//! The changes the desk makes to contacts, as data.
//!
//! The desk's writer (`desk/writer.rs`) queues these per contact and commits
//! whatever has piled up in a lane in one transaction: at hundreds of contacts
//! a second a commit per statement kept the database's connections busy
//! handing statements over and committing (docs/benchmarks.md, "Desk"). Being
//! data rather than futures is what lets a lane batch them, and lets the
//! desk's in-memory store (`desk/memory.rs`) apply the very same changes.

use serde_json::Value;
use sqlx::AnyConnection;

use super::{
    CallRecord, Message, NewContact, Outcome, PhoneRecord, Sender, Store, StoreError, now_ms,
    to_json,
};
use crate::ids::{ContactId, TenantId, UserId};

/// One change to one contact (its row or its transcript).
#[derive(Debug, Clone)]
pub enum ContactWrite {
    /// A new contact under the id the desk gave it.
    Create { id: ContactId, new: NewContact },
    Message {
        tenant: TenantId,
        contact: ContactId,
        from: Sender,
        text: String,
    },
    Offered {
        tenant: TenantId,
        contact: ContactId,
    },
    /// The offer failed; the contact waits again.
    Requeued {
        tenant: TenantId,
        contact: ContactId,
    },
    Answered {
        tenant: TenantId,
        contact: ContactId,
        agent: UserId,
    },
    /// The conversation is over; `awaiting_wrapup` when an agent still owes
    /// a wrap-up code.
    Ended {
        tenant: TenantId,
        contact: ContactId,
        outcome: Outcome,
        awaiting_wrapup: bool,
    },
    WrapUp {
        tenant: TenantId,
        contact: ContactId,
        code: String,
        note: Option<String>,
    },
    /// A waiting chat becomes a callback (same contact, same place in line).
    Callback {
        tenant: TenantId,
        contact: ContactId,
        routing_json: String,
    },
    /// The visitor moved on: the pages they visited and what their page
    /// shared. `page_url` stays the page the contact started on.
    Pages {
        tenant: TenantId,
        contact: ContactId,
        pages: Value,
        shared: Value,
    },
    /// A call's figures (at its end, and at a transfer so a crash loses at
    /// most the current agent's part).
    Call {
        tenant: TenantId,
        contact: ContactId,
        call: CallRecord,
    },
    /// A contact's phone part, stored and updated as the call progresses.
    Phone {
        tenant: TenantId,
        contact: ContactId,
        record: PhoneRecord,
    },
}

/// A change with the time it happened. The desk's writer stamps a change
/// when it is queued, so the times in a record are when things happened and
/// not when a backlogged lane got to commit them (on a loaded PostgreSQL a
/// call's offer, answer and end were once all stamped within 13 ms).
#[derive(Debug, Clone)]
pub struct TimedWrite {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub write: ContactWrite,
}

impl TimedWrite {
    /// `write`, happening now.
    pub fn now(write: ContactWrite) -> Self {
        Self {
            at: now_ms(),
            write,
        }
    }
}

/// What a committed write gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    /// A stored message, with the time it was stored at.
    Message(Message),
}

impl ContactWrite {
    /// The tenant whose contact this changes.
    pub fn tenant(&self) -> TenantId {
        match self {
            ContactWrite::Create { new, .. } => new.tenant,
            ContactWrite::Message { tenant, .. }
            | ContactWrite::Offered { tenant, .. }
            | ContactWrite::Requeued { tenant, .. }
            | ContactWrite::Answered { tenant, .. }
            | ContactWrite::Ended { tenant, .. }
            | ContactWrite::WrapUp { tenant, .. }
            | ContactWrite::Callback { tenant, .. }
            | ContactWrite::Pages { tenant, .. }
            | ContactWrite::Call { tenant, .. }
            | ContactWrite::Phone { tenant, .. } => *tenant,
        }
    }

    /// The contact this changes.
    pub fn contact(&self) -> ContactId {
        match self {
            ContactWrite::Create { id, .. } => *id,
            ContactWrite::Message { contact, .. }
            | ContactWrite::Offered { contact, .. }
            | ContactWrite::Requeued { contact, .. }
            | ContactWrite::Answered { contact, .. }
            | ContactWrite::Ended { contact, .. }
            | ContactWrite::WrapUp { contact, .. }
            | ContactWrite::Callback { contact, .. }
            | ContactWrite::Pages { contact, .. }
            | ContactWrite::Call { contact, .. }
            | ContactWrite::Phone { contact, .. } => *contact,
        }
    }

    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ContactWrite::Create { .. } => "create",
            ContactWrite::Message { .. } => "message",
            ContactWrite::Offered { .. } => "offered",
            ContactWrite::Requeued { .. } => "requeued",
            ContactWrite::Answered { .. } => "answered",
            ContactWrite::Ended { .. } => "ended",
            ContactWrite::WrapUp { .. } => "wrap-up",
            ContactWrite::Callback { .. } => "callback",
            ContactWrite::Pages { .. } => "pages",
            ContactWrite::Call { .. } => "call record",
            ContactWrite::Phone { .. } => "phone record",
        }
    }

    /// Runs the change on `conn` (a pooled connection or an open
    /// transaction). Every statement names the tenant.
    async fn run(&self, conn: &mut AnyConnection, at: i64) -> Result<Written, StoreError> {
        let query = match self {
            ContactWrite::Create { id, new: c } => sqlx::query(
                "INSERT INTO contacts (tenant_id, link_id, media, resume_hash, page_url, \
                 page_title, referrer, pages, language, timezone, verified, customer_ref, \
                 identity, state, created_at, queued_at, routing, shared, id) \
                 VALUES ($1, $2, $15, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'queued', \
                 $13, $13, $14, $16, $17)",
            )
            .bind(c.tenant.0)
            .bind(c.link.0)
            .bind(c.resume_hash.clone())
            .bind(c.page_url.clone())
            .bind(c.page_title.clone())
            .bind(c.referrer.clone())
            .bind(c.pages_json.clone())
            .bind(c.language.clone())
            .bind(c.timezone.clone())
            .bind(i64::from(c.verified))
            .bind(c.customer_ref.clone())
            .bind(c.identity_json.clone())
            .bind(at)
            .bind(c.routing_json.clone())
            .bind(c.media.name())
            .bind(c.shared_json.clone())
            .bind(id.0),
            ContactWrite::Message {
                tenant,
                contact,
                from,
                text,
            } => {
                sqlx::query(
                    "INSERT INTO messages (tenant_id, contact_id, sender, body, at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(tenant.0)
                .bind(contact.0)
                .bind(from.as_str())
                .bind(text.clone())
                .bind(at)
                .execute(&mut *conn)
                .await?;
                return Ok(Written::Message(Message {
                    from: *from,
                    text: text.clone(),
                    at,
                }));
            }
            ContactWrite::Offered { tenant, contact } => sqlx::query(
                "UPDATE contacts SET offered_at = COALESCE(offered_at, $1), state = 'offered' \
                 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(at)
            .bind(tenant.0)
            .bind(contact.0),
            ContactWrite::Requeued { tenant, contact } => {
                sqlx::query("UPDATE contacts SET state = 'queued' WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(contact.0)
            }
            ContactWrite::Answered {
                tenant,
                contact,
                agent,
            } => sqlx::query(
                "UPDATE contacts SET answered_at = $1, agent_id = $2, state = 'connected' \
                 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(at)
            .bind(agent.0)
            .bind(tenant.0)
            .bind(contact.0),
            ContactWrite::Ended {
                tenant,
                contact,
                outcome,
                awaiting_wrapup,
            } => sqlx::query(
                "UPDATE contacts SET ended_at = COALESCE(ended_at, $1), outcome = $2, state = $3 \
                 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(at)
            .bind(outcome.as_str())
            .bind(if *awaiting_wrapup { "wrapup" } else { "closed" })
            .bind(tenant.0)
            .bind(contact.0),
            ContactWrite::WrapUp {
                tenant,
                contact,
                code,
                note,
            } => sqlx::query(
                "UPDATE contacts SET wrapup_code = $1, wrapup_note = $2, state = 'closed' \
                 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(code.clone())
            .bind(note.clone())
            .bind(tenant.0)
            .bind(contact.0),
            ContactWrite::Callback {
                tenant,
                contact,
                routing_json,
            } => sqlx::query(
                "UPDATE contacts SET media = 'callback', routing = $1 \
                 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(routing_json.clone())
            .bind(tenant.0)
            .bind(contact.0),
            ContactWrite::Pages {
                tenant,
                contact,
                pages,
                shared,
            } => sqlx::query(
                "UPDATE contacts SET pages = $1, shared = $4 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(to_json(pages))
            .bind(tenant.0)
            .bind(contact.0)
            .bind(to_json(shared)),
            ContactWrite::Call {
                tenant,
                contact,
                call,
            } => sqlx::query(
                "UPDATE contacts SET talk_ms = $1, hold_ms = $2, transfers = $3, recording = $4 \
                 WHERE tenant_id = $5 AND id = $6",
            )
            .bind(call.talk_ms)
            .bind(call.hold_ms)
            .bind(i64::from(call.transfers))
            .bind(call.recording.clone())
            .bind(tenant.0)
            .bind(contact.0),
            ContactWrite::Phone {
                tenant,
                contact,
                record,
            } => sqlx::query(
                "UPDATE contacts SET phone_direction = $1, phone_trunk = $2, phone_center = $3, \
                 phone_from = $4, phone_to = $5, sip_call_id = $6, sip_code = $7, \
                 phone_answered_at = $8 WHERE tenant_id = $9 AND id = $10",
            )
            .bind(record.direction.name())
            .bind(record.trunk.clone())
            .bind(record.center.clone())
            .bind(record.from.clone())
            .bind(record.to.clone())
            .bind(record.sip_call_id.clone())
            .bind(record.sip_code.map(i64::from))
            .bind(record.answered_at)
            .bind(tenant.0)
            .bind(contact.0),
        };
        query.execute(&mut *conn).await?;
        Ok(Written::Done)
    }
}

impl Store {
    /// Commits one change on its own.
    pub async fn write_contact(&self, timed: &TimedWrite) -> Result<Written, StoreError> {
        // A change that is a webhook event commits with its outbox rows.
        let outbox = self.outbox_rows(std::slice::from_ref(timed));
        if outbox.is_empty() {
            let mut conn = self.writes.acquire().await?;
            return timed.write.run(&mut conn, timed.at).await;
        }
        let mut tx = self.writes.begin().await?;
        let done = timed.write.run(&mut tx, timed.at).await?;
        Store::insert_outbox(&mut tx, &outbox).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Commits `writes` in order in one transaction: all or none. The
    /// results are in the same order.
    pub async fn write_contacts(&self, writes: &[TimedWrite]) -> Result<Vec<Written>, StoreError> {
        let mut tx = self.writes.begin().await?;
        let mut done = Vec::with_capacity(writes.len());
        for timed in writes {
            done.push(timed.write.run(&mut tx, timed.at).await?);
        }
        // The webhook events of these changes, in the same transaction: an
        // event exists exactly when its change committed.
        Store::insert_outbox(&mut tx, &self.outbox_rows(writes)).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Stores a new contact under the id the desk gave it (from
    /// [`Store::reserve_contact_ids`]).
    pub async fn create_contact(&self, id: ContactId, new: &NewContact) -> Result<(), StoreError> {
        let write = ContactWrite::Create {
            id,
            new: new.clone(),
        };
        self.write_contact(&TimedWrite::now(write)).await.map(drop)
    }

    /// Stores a call's figures on its contact.
    pub async fn set_call_record(
        &self,
        tenant: TenantId,
        contact: ContactId,
        call: &CallRecord,
    ) -> Result<(), StoreError> {
        let write = ContactWrite::Call {
            tenant,
            contact,
            call: call.clone(),
        };
        self.write_contact(&TimedWrite::now(write)).await.map(drop)
    }
}
