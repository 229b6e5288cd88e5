//! Routing setup: skills, queues (each requiring a skill), links (what a widget
//! points at, each feeding a queue) and which skills each agent holds.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::ids::{LinkId, QueueId, SkillId, TenantId, UserId};

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub id: LinkId,
    #[serde(skip)]
    pub tenant: TenantId,
    pub slug: String,
    pub name: String,
    #[serde(skip)]
    pub queue: QueueId,
    pub queue_name: String,
}

/// A queue as the routing core needs it.
#[derive(Debug, Clone)]
pub struct QueueDef {
    pub tenant: TenantId,
    pub queue: QueueId,
    pub skill: SkillId,
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
    ) -> Result<QueueId, StoreError> {
        sqlx::query(
            "INSERT INTO queues (tenant_id, name, skill_id) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET skill_id = excluded.skill_id",
        )
        .bind(tenant.0)
        .bind(name)
        .bind(skill.0)
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
            "SELECT l.id, l.slug, l.name, l.queue_id, q.name AS queue_name \
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
            "SELECT l.id, l.slug, l.name, l.queue_id, q.name AS queue_name \
             FROM links l JOIN queues q ON q.id = l.queue_id AND q.tenant_id = l.tenant_id \
             WHERE l.tenant_id = $1 ORDER BY l.slug",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| link_from_row(tenant, r)).collect()
    }

    /// Every queue of every tenant: what the routing core is told at start-up.
    pub async fn all_queues(&self) -> Result<Vec<QueueDef>, StoreError> {
        let rows = sqlx::query("SELECT tenant_id, id, skill_id FROM queues")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueDef {
                    tenant: TenantId(r.try_get("tenant_id")?),
                    queue: QueueId(r.try_get("id")?),
                    skill: SkillId(r.try_get("skill_id")?),
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

    pub async fn user_skills(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Vec<SkillId>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT skill_id FROM user_skills WHERE tenant_id = $1 AND user_id = $2 ORDER BY skill_id",
        )
        .bind(tenant.0)
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(SkillId).collect())
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
    })
}
