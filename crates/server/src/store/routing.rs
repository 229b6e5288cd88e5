//! Routing setup: skills, queues (each requiring a skill), links (what a widget
//! points at, each feeding a queue) and which skills each agent holds.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, to_json};
use crate::ids::{LinkId, QueueId, SkillId, TenantId, UserId};
use crate::routing::{AgentRouting, CapacityDoc, QueueRouting, TenantRouting};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub id: LinkId,
    #[serde(skip)]
    pub tenant: TenantId,
    pub slug: String,
    pub name: String,
    #[serde(skip)]
    pub queue: QueueId,
    pub queue_name: String,
    /// What calls this link offers and whether they are recorded.
    #[serde(skip)]
    pub calls: super::LinkCalls,
}

/// A queue as stored: its main skill by name and its rules.
#[derive(Debug, Clone)]
pub struct StoredQueue {
    pub id: QueueId,
    pub name: String,
    pub skill: String,
    pub routing: QueueRouting,
}

/// A tenant's routing, as the desk loads it.
#[derive(Debug, Clone)]
pub struct RoutingInputs {
    pub routing: TenantRouting,
    pub skills: HashMap<String, SkillId>,
    pub queues: Vec<StoredQueue>,
    pub agents: Vec<AgentRouting>,
    /// Its links: which queue each number and routing point feeds.
    pub links: Vec<Link>,
    /// Its centers' numbers and trunks.
    pub phone: crate::phone::TenantPhone,
}

/// A stored routing document; one written by an older version that no longer
/// parses falls back to the defaults rather than keeping the tenant offline.
fn from_json<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "a stored routing document did not parse; using defaults");
        T::default()
    })
}

impl Store {
    /// Creates the skill if missing; returns its id either way.
    pub async fn ensure_skill(&self, tenant: TenantId, name: &str) -> Result<SkillId, StoreError> {
        sqlx::query(
            "INSERT INTO skills (tenant_id, name) VALUES ($1, $2) \
             ON CONFLICT (tenant_id, name) DO NOTHING",
        )
        .bind(tenant.0)
        .bind(name)
        .execute(&self.pool)
        .await?;
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM skills WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.0)
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        Ok(SkillId(id))
    }

    /// Creates or updates a queue by name.
    pub async fn upsert_queue(
        &self,
        tenant: TenantId,
        name: &str,
        skill: SkillId,
        routing: &QueueRouting,
    ) -> Result<QueueId, StoreError> {
        sqlx::query(
            "INSERT INTO queues (tenant_id, name, skill_id, routing) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET skill_id = excluded.skill_id, \
             routing = excluded.routing",
        )
        .bind(tenant.0)
        .bind(name)
        .bind(skill.0)
        .bind(to_json(routing))
        .execute(&self.pool)
        .await?;
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM queues WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.0)
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        Ok(QueueId(id))
    }

    /// Creates or updates a link by slug.
    pub async fn upsert_link(
        &self,
        tenant: TenantId,
        slug: &str,
        name: &str,
        queue: QueueId,
    ) -> Result<LinkId, StoreError> {
        sqlx::query(
            "INSERT INTO links (tenant_id, slug, name, queue_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, slug) DO UPDATE SET name = excluded.name, \
             queue_id = excluded.queue_id",
        )
        .bind(tenant.0)
        .bind(slug)
        .bind(name)
        .bind(queue.0)
        .execute(&self.pool)
        .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM links WHERE tenant_id = $1 AND slug = $2")
            .bind(tenant.0)
            .bind(slug)
            .fetch_one(&self.pool)
            .await?;
        Ok(LinkId(id))
    }

    pub async fn link_by_slug(
        &self,
        tenant: TenantId,
        slug: &str,
    ) -> Result<Option<Link>, StoreError> {
        let row = sqlx::query(
            "SELECT l.id, l.slug, l.name, l.queue_id, l.calls, q.name AS queue_name \
             FROM links l JOIN queues q ON q.id = l.queue_id AND q.tenant_id = l.tenant_id \
             WHERE l.tenant_id = $1 AND l.slug = $2",
        )
        .bind(tenant.0)
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| link_from_row(tenant, &r)).transpose()
    }

    pub async fn links(&self, tenant: TenantId) -> Result<Vec<Link>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.id, l.slug, l.name, l.queue_id, l.calls, q.name AS queue_name \
             FROM links l JOIN queues q ON q.id = l.queue_id AND q.tenant_id = l.tenant_id \
             WHERE l.tenant_id = $1 ORDER BY l.slug",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| link_from_row(tenant, r)).collect()
    }

    /// Every tenant's id: the desk loads each one's routing at start-up.
    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(TenantId).collect())
    }

    pub async fn set_tenant_routing(
        &self,
        tenant: TenantId,
        routing: &TenantRouting,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET routing = $1 WHERE id = $2")
            .bind(to_json(routing))
            .bind(tenant.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Where an agent works and how much they take at once.
    pub async fn set_user_routing(
        &self,
        tenant: TenantId,
        user: UserId,
        center: Option<&str>,
        capacity: &CapacityDoc,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET center = $1, capacity = $2 WHERE tenant_id = $3 AND id = $4")
            .bind(center)
            .bind(to_json(capacity))
            .bind(tenant.0)
            .bind(user.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Everything the routing core needs about one tenant, with names; its
    /// agents, or only `only` (an agent whose console just connected).
    pub async fn routing_inputs(
        &self,
        tenant: TenantId,
        only: Option<UserId>,
    ) -> Result<RoutingInputs, StoreError> {
        let routing: String = sqlx::query_scalar("SELECT routing FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await?;
        let skills = sqlx::query("SELECT id, name FROM skills WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("name")?, SkillId(r.try_get("id")?))))
            .collect::<Result<HashMap<_, _>, StoreError>>()?;
        let queues = sqlx::query(
            "SELECT q.id, q.name, s.name AS skill, q.routing FROM queues q \
             JOIN skills s ON s.id = q.skill_id AND s.tenant_id = q.tenant_id \
             WHERE q.tenant_id = $1 ORDER BY q.id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(StoredQueue {
                id: QueueId(r.try_get("id")?),
                name: r.try_get("name")?,
                skill: r.try_get("skill")?,
                routing: from_json(&r.try_get::<String, _>("routing")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let agents = self.agents_routing(tenant, only).await?;
        Ok(RoutingInputs {
            routing: from_json(&routing),
            skills,
            queues,
            agents,
            links: self.links(tenant).await?,
            phone: self.tenant_phone(tenant).await?,
        })
    }

    /// The tenant's agents (or only `only`) with their skills, in two queries
    /// whatever their number.
    async fn agents_routing(
        &self,
        tenant: TenantId,
        only: Option<UserId>,
    ) -> Result<Vec<AgentRouting>, StoreError> {
        // With no single agent asked for, `$2` matches every id.
        let (one, id) = (only.is_some(), only.map_or(0, |u| u.0));
        let mut levels: HashMap<i64, Vec<(SkillId, u8)>> = HashMap::new();
        for r in sqlx::query(
            "SELECT user_id, skill_id, level FROM user_skills \
             WHERE tenant_id = $1 AND ($2 = 0 OR user_id = $3)",
        )
        .bind(tenant.0)
        .bind(i64::from(one))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        {
            let level: i64 = r.try_get("level")?;
            levels.entry(r.try_get("user_id")?).or_default().push((
                SkillId(r.try_get("skill_id")?),
                u8::try_from(level.clamp(1, 10)).unwrap_or(1),
            ));
        }
        sqlx::query(
            "SELECT id, center, capacity, max_chats FROM users \
             WHERE tenant_id = $1 AND role <> 'admin' AND ($2 = 0 OR id = $3) ORDER BY id",
        )
        .bind(tenant.0)
        .bind(i64::from(one))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let user: i64 = r.try_get("id")?;
            let capacity: String = r.try_get("capacity")?;
            let max_chats: i64 = r.try_get("max_chats")?;
            // Users made before capacities existed (or by `user add`) take their
            // chat limit and one call.
            let capacity = serde_json::from_str(&capacity)
                .unwrap_or_else(|_| CapacityDoc::with_chats(u32::try_from(max_chats).unwrap_or(1)));
            Ok(AgentRouting {
                agent: UserId(user).agent(),
                center: r.try_get("center")?,
                skills: levels.remove(&user).unwrap_or_default(),
                capacity,
            })
        })
        .collect()
    }

    /// Replaces the agent's skills with `skills` (name, level).
    pub async fn set_user_skills(
        &self,
        tenant: TenantId,
        user: UserId,
        skills: &[(SkillId, u8)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM user_skills WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        for (skill, level) in skills {
            sqlx::query(
                "INSERT INTO user_skills (tenant_id, user_id, skill_id, level) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant.0)
            .bind(user.0)
            .bind(skill.0)
            .bind(i64::from(*level))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn link_from_row(tenant: TenantId, r: &sqlx::any::AnyRow) -> Result<Link, StoreError> {
    Ok(Link {
        id: LinkId(r.try_get("id")?),
        tenant,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        queue: QueueId(r.try_get("queue_id")?),
        queue_name: r.try_get("queue_name")?,
        calls: serde_json::from_str(&r.try_get::<String, _>("calls")?)
            .map_err(|e| StoreError::Corrupt(format!("link calls: {e}")))?,
    })
}
