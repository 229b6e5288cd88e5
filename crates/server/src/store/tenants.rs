//! Tenants: the merchants this server hosts.

use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError, conflict, now_ms, string_list, to_json};
use crate::{ids::TenantId, secret::Secret};

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    /// HS256 key the merchant signs visitor identities with.
    pub widget_secret: Secret,
    /// Origins (scheme://host[:port]) whose pages may open the visitor WebSocket.
    pub allowed_origins: Vec<String>,
    pub wrapup_codes: Vec<String>,
    pub calls: super::TenantCalls,
    /// Cookies and form fields the widget may share (`[context]`).
    pub share: ContextShare,
}

/// Which of the visitor's cookies and form fields the widget sends with the
/// page context, for the agent's screen pop and the caller-id lookup
/// (`[context]` in the tenant file). Nothing is shared unless named here:
/// cookies and form fields can hold anything, so the merchant opts in by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextShare {
    pub cookies: Vec<String>,
    /// Form fields by their `name` attribute (never a password input).
    pub fields: Vec<String>,
}

impl ContextShare {
    /// Names per list.
    pub const MAX_NAMES: usize = 20;
    /// Longest value kept, in bytes.
    pub const MAX_VALUE: usize = 256;

    /// Each list holds at most [`Self::MAX_NAMES`] distinct names of 1-64
    /// characters from `A-Z a-z 0-9 _ - . [ ] :`.
    pub fn check(&self) -> Result<(), String> {
        for (what, names) in [("cookies", &self.cookies), ("fields", &self.fields)] {
            if names.len() > Self::MAX_NAMES {
                return Err(format!("context.{what}: at most {} names", Self::MAX_NAMES));
            }
            for (i, name) in names.iter().enumerate() {
                let ok = (1..=64).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.[]:".contains(&b));
                if !ok {
                    return Err(format!(
                        "context.{what}: {name:?} is not a name (1-64 of A-Z a-z 0-9 _ - . [ ] :)"
                    ));
                }
                if names[..i].contains(name) {
                    return Err(format!("context.{what}: {name:?} is listed twice"));
                }
            }
        }
        Ok(())
    }
}

fn tenant_from_row(row: &sqlx::any::AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        widget_secret: Secret::new(row.try_get::<String, _>("widget_secret")?),
        allowed_origins: string_list(&row.try_get::<String, _>("allowed_origins")?)?,
        wrapup_codes: string_list(&row.try_get::<String, _>("wrapup_codes")?)?,
        calls: serde_json::from_str(&row.try_get::<String, _>("calls")?)
            .map_err(|e| StoreError::Corrupt(format!("tenant calls: {e}")))?,
        share: serde_json::from_str(&row.try_get::<String, _>("share")?)
            .map_err(|e| StoreError::Corrupt(format!("tenant context share: {e}")))?,
    })
}

const COLUMNS: &str = "id, slug, name, widget_secret, allowed_origins, wrapup_codes, calls, share";

impl Store {
    pub async fn set_tenant_share(
        &self,
        tenant: TenantId,
        share: &ContextShare,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(share)
            .map_err(|e| StoreError::Corrupt(format!("tenant context share: {e}")))?;
        sqlx::query("UPDATE tenants SET share = $1 WHERE id = $2")
            .bind(text)
            .bind(tenant.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_tenant(
        &self,
        slug: &str,
        name: &str,
        widget_secret: &Secret,
    ) -> Result<Tenant, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tenants (slug, name, widget_secret, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(slug)
        .bind(name)
        .bind(widget_secret.expose())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("tenant"))?;
        self.tenant(TenantId(id))
            .await?
            .ok_or_else(|| StoreError::Corrupt("tenant vanished after insert".into()))
    }

    pub async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tenants WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tenants WHERE slug = $1"
        )))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    /// All tenant slugs; operator-level, used for the login hint.
    pub async fn tenant_slugs(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT slug FROM tenants ORDER BY slug LIMIT 2")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        name: Option<&str>,
        allowed_origins: Option<&[String]>,
        wrapup_codes: Option<&[String]>,
        widget_secret: Option<&Secret>,
    ) -> Result<(), StoreError> {
        if let Some(name) = name {
            sqlx::query("UPDATE tenants SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(tenant.0)
                .execute(&self.pool)
                .await?;
        }
        if let Some(origins) = allowed_origins {
            sqlx::query("UPDATE tenants SET allowed_origins = $1 WHERE id = $2")
                .bind(to_json(&origins))
                .bind(tenant.0)
                .execute(&self.pool)
                .await?;
        }
        if let Some(codes) = wrapup_codes {
            sqlx::query("UPDATE tenants SET wrapup_codes = $1 WHERE id = $2")
                .bind(to_json(&codes))
                .bind(tenant.0)
                .execute(&self.pool)
                .await?;
        }
        if let Some(secret) = widget_secret {
            sqlx::query("UPDATE tenants SET widget_secret = $1 WHERE id = $2")
                .bind(secret.expose())
                .bind(tenant.0)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
