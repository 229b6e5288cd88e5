//! Call settings (what a link offers, what a tenant allows) and what a call adds
//! to its contact's record: talk and hold time, transfers, the recording.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError};
use crate::ids::{ContactId, LinkId, TenantId};

/// Media a visitor may call with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallMedia {
    Voice,
    Video,
}

impl CallMedia {
    pub fn name(self) -> &'static str {
        match self {
            Self::Voice => "voice",
            Self::Video => "video",
        }
    }

    pub fn acd(self) -> acd::Media {
        match self {
            Self::Voice => acd::Media::Voice,
            Self::Video => acd::Media::Video,
        }
    }
}

/// How a contact reaches the center, as records and frames name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactMedia {
    Chat,
    Voice,
    Video,
    /// A call back to the visitor's phone.
    Callback,
    /// Opened by an agent joining a shared page by its code alone.
    Cobrowse,
}

impl ContactMedia {
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Callback => "callback",
            Self::Cobrowse => "cobrowse",
        }
    }
}

impl From<CallMedia> for ContactMedia {
    fn from(media: CallMedia) -> Self {
        match media {
            CallMedia::Voice => Self::Voice,
            CallMedia::Video => Self::Video,
        }
    }
}

/// A link's call settings (`[[links]]` `calls` and `record_calls` in the tenant file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct LinkCalls {
    /// Media the widget offers besides chat; empty means chat only.
    pub media: Vec<CallMedia>,
    /// Calls are recorded; the visitor is told before connecting.
    pub record: bool,
    /// Who answers: agents in a browser, or a call center's phone number.
    pub route_to: CallRoute,
    /// The widget offers a number to call from the visitor's own phone, with
    /// an agent reserved for them (`[phone] routing_points`).
    pub dial_in: bool,
    /// How the server dials this link's callbacks (`[links.callback]`).
    pub callback: super::CallbackSettings,
}

/// Where a link's calls go (`route_calls_to` in the tenant file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallRoute {
    /// The link's queue, to agents in the console.
    #[default]
    Agents,
    /// The queue's centers by their phone numbers, over a SIP trunk.
    Phone,
}

/// A tenant's call settings (`[calls]` in the tenant file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantCalls {
    /// Agents may ask a visitor's browser to change its audio processing and
    /// volumes (the visitor still has to allow each request).
    pub media_control: bool,
    /// Calls live at once; more are refused politely.
    pub max_concurrent: u32,
    /// Calls one visitor may start per hour.
    pub attempts_per_hour: u32,
    /// How far ahead a visitor may ask to be called back, in days.
    pub callback_horizon_days: u32,
    /// E.164 prefixes a callback may go to (e.g. "+1", "+4420"). Empty: the
    /// countries of the tenant's own numbers (its centers' and DIDs').
    pub callback_destinations: Vec<String>,
    /// E.164 prefixes never called back (premium rate, say "+1900"),
    /// whatever the destinations allow.
    pub callback_blocked: Vec<String>,
    /// Callbacks one number may be asked for per day (UTC), across visitors.
    pub callbacks_per_number_per_day: u32,
    /// Callbacks one client address may ask for per day (UTC).
    pub callbacks_per_ip_per_day: u32,
}

impl Default for TenantCalls {
    fn default() -> Self {
        Self {
            media_control: true,
            max_concurrent: 100,
            attempts_per_hour: 20,
            callback_horizon_days: 14,
            callback_destinations: Vec::new(),
            callback_blocked: Vec::new(),
            callbacks_per_number_per_day: 3,
            callbacks_per_ip_per_day: 10,
        }
    }
}

impl TenantCalls {
    /// The tenant file's checks: prefixes are `+` and digits.
    pub fn check(&self) -> Result<(), String> {
        for (field, list) in [
            ("callback_destinations", &self.callback_destinations),
            ("callback_blocked", &self.callback_blocked),
        ] {
            for prefix in list {
                let digits = prefix.strip_prefix('+').unwrap_or_default();
                if digits.is_empty()
                    || digits.len() > 15
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(format!(
                        "calls.{field} entry {prefix:?} must be + and 1-15 digits"
                    ));
                }
            }
        }
        if self.callback_horizon_days == 0 || self.callback_horizon_days > 366 {
            return Err("calls.callback_horizon_days must be 1-366".to_owned());
        }
        Ok(())
    }
}

/// What a call adds to its contact's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub talk_ms: i64,
    pub hold_ms: i64,
    pub transfers: u32,
    /// File stem of the recording under the data directory's `recordings/`.
    pub recording: Option<String>,
}

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    pub async fn link_calls(
        &self,
        tenant: TenantId,
        link: LinkId,
    ) -> Result<LinkCalls, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT calls FROM links WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(link.0)
                .fetch_optional(&self.pool)
                .await?;
        text.map_or_else(|| Ok(LinkCalls::default()), |t| json(&t, "link calls"))
    }

    pub async fn set_link_calls(
        &self,
        tenant: TenantId,
        link: LinkId,
        calls: &LinkCalls,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE links SET calls = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(serde_json::to_string(calls).unwrap_or_else(|_| "{}".into()))
            .bind(tenant.0)
            .bind(link.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn tenant_calls(&self, tenant: TenantId) -> Result<TenantCalls, StoreError> {
        let text: Option<String> = sqlx::query_scalar("SELECT calls FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(&self.pool)
            .await?;
        text.map_or_else(|| Ok(TenantCalls::default()), |t| json(&t, "tenant calls"))
    }

    pub async fn set_tenant_calls(
        &self,
        tenant: TenantId,
        calls: &TenantCalls,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET calls = $1 WHERE id = $2")
            .bind(serde_json::to_string(calls).unwrap_or_else(|_| "{}".into()))
            .bind(tenant.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The recordings a tenant's contact records name (file stems, as
    /// `CallRecord::recording`).
    pub async fn recording_stems(&self, tenant: TenantId) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT recording FROM contacts WHERE tenant_id = $1 AND recording IS NOT NULL",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A contact's call figures, if it was a call.
    pub async fn call_record(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Option<CallRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT talk_ms, hold_ms, transfers, recording FROM contacts \
             WHERE tenant_id = $1 AND id = $2 AND media IN ('voice', 'video', 'callback')",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CallRecord {
                talk_ms: r.try_get::<Option<i64>, _>("talk_ms")?.unwrap_or(0),
                hold_ms: r.try_get::<Option<i64>, _>("hold_ms")?.unwrap_or(0),
                transfers: u32::try_from(r.try_get::<i64, _>("transfers")?).unwrap_or(0),
                recording: r.try_get("recording")?,
            })
        })
        .transpose()
    }
}

impl Store {
    /// Every staff member of a tenant as (name, display name), by name: where a
    /// call may be transferred.
    pub async fn staff_names(&self, tenant: TenantId) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT name, display_name FROM users WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant.0)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("display_name")?)))
            .collect()
    }
}
