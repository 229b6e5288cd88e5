//! Telephone settings per tenant and what a call over a trunk adds to its
//! contact's record; the lookups behind the correlation API and the caller's
//! CRM match.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::{
    ids::{ContactId, TenantId},
    phone::TenantPhone,
};

/// Which way a call crossed the trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneDirection {
    /// A visitor's browser called a call center's number.
    Outbound,
    /// A caller dialled one of the tenant's numbers.
    Inbound,
}

impl PhoneDirection {
    pub fn name(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }
}

/// A phone call's part of a contact's record. Numbers are E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhoneRecord {
    pub direction: PhoneDirection,
    pub trunk: String,
    /// The call center a browser call went to (outbound).
    pub center: Option<String>,
    pub from: String,
    pub to: String,
    pub sip_call_id: Option<String>,
    /// Final SIP status: 200 answered, else why not (486 busy, 408 no answer…).
    pub sip_code: Option<u16>,
    /// When the far end answered, Unix ms.
    pub answered_at: Option<i64>,
}

impl PhoneRecord {
    /// A call that came in on `trunk`, not answered yet.
    pub fn inbound(trunk: String, from: String, to: String, sip_call_id: String) -> Self {
        Self {
            direction: PhoneDirection::Inbound,
            trunk,
            center: None,
            from,
            to,
            sip_call_id: Some(sip_call_id),
            sip_code: None,
            answered_at: None,
        }
    }
}

/// What the correlation API finds behind a caller id.
#[derive(Debug, Clone)]
pub struct CallerSession {
    pub contact: ContactId,
    /// The contact has not ended.
    pub live: bool,
}

impl Store {
    pub async fn tenant_phone(&self, tenant: TenantId) -> Result<TenantPhone, StoreError> {
        let text: Option<String> = sqlx::query_scalar("SELECT phone FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(&self.pool)
            .await?;
        text.map_or_else(
            || Ok(TenantPhone::default()),
            |t| {
                serde_json::from_str(&t)
                    .map_err(|e| StoreError::Corrupt(format!("tenant phone settings: {e}")))
            },
        )
    }

    /// Every other tenant's slug and phone settings, by slug. Operator-level
    /// (no tenant scope): `tenant apply` compares trunk addresses across
    /// tenants with it.
    pub async fn other_tenants_phone(
        &self,
        except_slug: &str,
    ) -> Result<Vec<(String, TenantPhone)>, StoreError> {
        let rows = sqlx::query("SELECT slug, phone FROM tenants WHERE slug <> $1 ORDER BY slug")
            .bind(except_slug)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let slug: String = row.try_get("slug")?;
            let text: Option<String> = row.try_get("phone")?;
            let phone = match text {
                Some(t) => serde_json::from_str(&t)
                    .map_err(|e| StoreError::Corrupt(format!("tenant phone settings: {e}")))?,
                None => TenantPhone::default(),
            };
            out.push((slug, phone));
        }
        Ok(out)
    }

    pub async fn set_tenant_phone(
        &self,
        tenant: TenantId,
        phone: &TenantPhone,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(phone)
            .map_err(|e| StoreError::Corrupt(format!("tenant phone settings: {e}")))?;
        sqlx::query("UPDATE tenants SET phone = $1 WHERE id = $2")
            .bind(text)
            .bind(tenant.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn phone_record(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Option<PhoneRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT phone_direction, phone_trunk, phone_center, phone_from, phone_to, \
             sip_call_id, sip_code, phone_answered_at FROM contacts \
             WHERE tenant_id = $1 AND id = $2 AND phone_direction IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let direction = match r.try_get::<String, _>("phone_direction")?.as_str() {
            "inbound" => PhoneDirection::Inbound,
            _ => PhoneDirection::Outbound,
        };
        Ok(Some(PhoneRecord {
            direction,
            trunk: r
                .try_get::<Option<String>, _>("phone_trunk")?
                .unwrap_or_default(),
            center: r.try_get("phone_center")?,
            from: r
                .try_get::<Option<String>, _>("phone_from")?
                .unwrap_or_default(),
            to: r
                .try_get::<Option<String>, _>("phone_to")?
                .unwrap_or_default(),
            sip_call_id: r.try_get("sip_call_id")?,
            sip_code: r
                .try_get::<Option<i64>, _>("sip_code")?
                .and_then(|c| u16::try_from(c).ok()),
            answered_at: r.try_get("phone_answered_at")?,
        }))
    }

    /// The newest browser call of this tenant that presented `caller_id` and
    /// started after `since` (Unix ms): the web session a call center's CRM
    /// asks about. Only the tenant's own contacts are searched.
    pub async fn session_by_caller_id(
        &self,
        tenant: TenantId,
        caller_id: &str,
        since: i64,
    ) -> Result<Option<CallerSession>, StoreError> {
        let row = sqlx::query(
            "SELECT id, ended_at FROM contacts WHERE tenant_id = $1 AND phone_from = $2 \
             AND phone_direction = 'outbound' AND created_at >= $3 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(tenant.0)
        .bind(caller_id)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CallerSession {
                contact: ContactId(r.try_get("id")?),
                live: r.try_get::<Option<i64>, _>("ended_at")?.is_none(),
            })
        })
        .transpose()
    }
}

/// The web side of a contact as the correlation API gives it.
#[derive(Debug, Clone, Serialize)]
pub struct WebSession {
    pub contact: i64,
    pub live: bool,
    pub link: String,
    pub page_url: String,
    pub page_title: String,
    pub referrer: String,
    /// Pages visited before the call, as the widget reported them.
    pub pages: serde_json::Value,
    pub language: String,
    pub timezone: String,
    /// The merchant-signed identity, when it verified.
    pub verified: bool,
    pub customer: Option<String>,
    pub identity: serde_json::Value,
    /// The cookies and form fields the tenant allowed the page to share.
    pub cookies: std::collections::BTreeMap<String, String>,
    pub fields: std::collections::BTreeMap<String, String>,
    pub started_at: i64,
}

impl Store {
    pub async fn web_session(
        &self,
        tenant: TenantId,
        found: &CallerSession,
    ) -> Result<Option<WebSession>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, l.slug, c.page_url, c.page_title, c.referrer, c.pages, c.language, \
             c.timezone, c.verified, c.customer_ref, c.identity, c.shared, c.created_at \
             FROM contacts c JOIN links l ON l.id = c.link_id AND l.tenant_id = c.tenant_id \
             WHERE c.tenant_id = $1 AND c.id = $2",
        )
        .bind(tenant.0)
        .bind(found.contact.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let json = |text: String| serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        // Flags are 0/1 integers on both backends (the schema's convention).
        let verified = r.try_get::<i64, _>("verified")? != 0;
        let shared: crate::protocol::SharedValues =
            serde_json::from_str(&r.try_get::<String, _>("shared")?).unwrap_or_default();
        Ok(Some(WebSession {
            contact: r.try_get("id")?,
            live: found.live,
            link: r.try_get("slug")?,
            page_url: r.try_get("page_url")?,
            page_title: r.try_get("page_title")?,
            referrer: r.try_get("referrer")?,
            pages: json(r.try_get("pages")?),
            language: r.try_get("language")?,
            timezone: r.try_get("timezone")?,
            verified,
            customer: r.try_get("customer_ref")?,
            identity: json(r.try_get("identity")?),
            cookies: shared.cookies,
            fields: shared.fields,
            started_at: r.try_get("created_at")?,
        }))
    }
}
