//! Directory calls' durable parts: each member's call settings (ring mode,
//! greeting) and the index of voice and video mail left for them. The
//! recordings are files under the data directory; the rows name them.
//! Every read and write names the tenant and the member.

use serde::Serialize;
use sqlx::Row;

use super::{MemberId, Store, StoreError, now_ms};
use crate::ids::TenantId;

/// Messages one member's mailbox lists at most (newest first).
pub const MAILBOX_LIST_LIMIT: i64 = 200;

/// Which of a member's signed-in devices ring for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RingMode {
    /// Every device.
    All,
    /// Only the device signed in last.
    Last,
}

impl RingMode {
    fn as_str(self) -> &'static str {
        match self {
            RingMode::All => "all",
            RingMode::Last => "last",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberSettings {
    pub ring_mode: RingMode,
    /// Shown to callers before they leave a message; empty: the default.
    pub greeting: String,
    /// Where new-message notices go; empty: nowhere.
    pub email: String,
}

impl Default for MemberSettings {
    fn default() -> Self {
        MemberSettings {
            ring_mode: RingMode::All,
            greeting: String::new(),
            email: String::new(),
        }
    }
}

/// A message as it is stored once recorded.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub member: MemberId,
    pub caller: &'a str,
    pub caller_number: &'a str,
    pub duration_ms: i64,
    pub bytes: i64,
    pub audio_file: &'a str,
    pub video_file: Option<&'a str>,
    pub cut: bool,
}

/// One message in a member's mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxMessage {
    pub id: i64,
    #[serde(skip)]
    pub tenant: TenantId,
    #[serde(skip)]
    pub member: MemberId,
    pub caller: String,
    pub caller_number: String,
    pub created_at: i64,
    pub duration_ms: i64,
    pub bytes: i64,
    #[serde(skip)]
    pub audio_file: String,
    #[serde(skip)]
    pub video_file: Option<String>,
    pub video: bool,
    pub cut: bool,
    pub heard: bool,
}

const MESSAGE_COLUMNS: &str = "id, tenant_id, member_id, caller, caller_number, created_at, \
     duration_ms, bytes, audio_file, video_file, cut, heard";

fn message_from_row(r: &sqlx::any::AnyRow) -> Result<MailboxMessage, StoreError> {
    let video_file: Option<String> = r.try_get("video_file")?;
    Ok(MailboxMessage {
        id: r.try_get("id")?,
        tenant: TenantId(r.try_get("tenant_id")?),
        member: MemberId(r.try_get("member_id")?),
        caller: r.try_get("caller")?,
        caller_number: r.try_get("caller_number")?,
        created_at: r.try_get("created_at")?,
        duration_ms: r.try_get("duration_ms")?,
        bytes: r.try_get("bytes")?,
        audio_file: r.try_get("audio_file")?,
        video: video_file.is_some(),
        video_file,
        cut: r.try_get::<i64, _>("cut")? != 0,
        heard: r.try_get::<i64, _>("heard")? != 0,
    })
}

impl Store {
    /// A member's call settings; the defaults when never set.
    pub async fn member_settings(
        &self,
        tenant: TenantId,
        member: MemberId,
    ) -> Result<MemberSettings, StoreError> {
        let row = sqlx::query(
            "SELECT ring_mode, greeting, email FROM member_settings \
             WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(tenant.0)
        .bind(member.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(MemberSettings::default());
        };
        let ring_mode = match row.try_get::<String, _>("ring_mode")?.as_str() {
            "last" => RingMode::Last,
            _ => RingMode::All,
        };
        Ok(MemberSettings {
            ring_mode,
            greeting: row.try_get("greeting")?,
            email: row.try_get("email")?,
        })
    }

    pub async fn set_member_settings(
        &self,
        tenant: TenantId,
        member: MemberId,
        settings: &MemberSettings,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO member_settings (tenant_id, member_id, ring_mode, greeting, email) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, member_id) \
             DO UPDATE SET ring_mode = excluded.ring_mode, greeting = excluded.greeting, \
             email = excluded.email",
        )
        .bind(tenant.0)
        .bind(member.0)
        .bind(settings.ring_mode.as_str())
        .bind(&settings.greeting)
        .bind(&settings.email)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Indexes a recorded message; its id.
    pub async fn add_mailbox_message(
        &self,
        tenant: TenantId,
        message: &NewMessage<'_>,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO mailbox_messages (tenant_id, member_id, caller, caller_number, \
             created_at, duration_ms, bytes, audio_file, video_file, cut) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(tenant.0)
        .bind(message.member.0)
        .bind(message.caller)
        .bind(message.caller_number)
        .bind(now_ms())
        .bind(message.duration_ms)
        .bind(message.bytes)
        .bind(message.audio_file)
        .bind(message.video_file)
        .bind(i64::from(message.cut))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// A member's messages, newest first.
    pub async fn mailbox_messages(
        &self,
        tenant: TenantId,
        member: MemberId,
    ) -> Result<Vec<MailboxMessage>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM mailbox_messages \
             WHERE tenant_id = $1 AND member_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
        )))
        .bind(tenant.0)
        .bind(member.0)
        .bind(MAILBOX_LIST_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// One of a member's messages.
    pub async fn mailbox_message(
        &self,
        tenant: TenantId,
        member: MemberId,
        id: i64,
    ) -> Result<Option<MailboxMessage>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM mailbox_messages \
             WHERE tenant_id = $1 AND member_id = $2 AND id = $3"
        )))
        .bind(tenant.0)
        .bind(member.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// Marks a message played; false if it is not the member's.
    pub async fn mark_mailbox_message_heard(
        &self,
        tenant: TenantId,
        member: MemberId,
        id: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mailbox_messages SET heard = 1 \
             WHERE tenant_id = $1 AND member_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(member.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a message's row; the row it was (its files are the caller's
    /// to delete), or `None` if it is not the member's.
    pub async fn delete_mailbox_message(
        &self,
        tenant: TenantId,
        member: MemberId,
        id: i64,
    ) -> Result<Option<MailboxMessage>, StoreError> {
        let Some(message) = self.mailbox_message(tenant, member, id).await? else {
            return Ok(None);
        };
        sqlx::query(
            "DELETE FROM mailbox_messages WHERE tenant_id = $1 AND member_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(member.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(Some(message))
    }
}
