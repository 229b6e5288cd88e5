//! Directory members, their permanent numbers and their SIP digest secrets.
//!
//! Numbers are one space for the whole server (a SIP REGISTER names a number,
//! not a tenant), so `member_numbers.number` is the key; every read and write
//! of a tenant's members still names the tenant. A released number keeps its
//! row (no member, `released_at` set) until its quarantine has passed.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError, conflict, now_ms};
use crate::ids::{TenantId, UserId};

/// A directory member's id (not a staff user id: customers are members too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MemberId(pub i64);

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: MemberId,
    #[serde(skip)]
    pub tenant: TenantId,
    pub name: String,
    pub display_name: String,
    #[serde(skip)]
    pub user: Option<UserId>,
    pub listed: bool,
    /// Bare twelve digits, oldest first.
    pub numbers: Vec<String>,
}

/// A digest secret as the registrar needs it: never the password.
#[derive(Debug, Clone)]
pub struct SipCredential {
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub member: MemberId,
    pub username: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// How claiming a number went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Claimed,
    /// Held by a member, or released less than the quarantine ago.
    Unavailable,
}

/// One page of a member search.
#[derive(Debug, Clone, Copy)]
pub struct MemberQuery<'a> {
    /// Matches a name, display name or number (digits) containing it.
    pub search: &'a str,
    /// Unlisted members too (admins), or only listed ones (the directory).
    pub include_unlisted: bool,
    pub limit: u32,
    pub offset: u32,
}

const MEMBER_COLUMNS: &str = "id, tenant_id, name, display_name, user_id, listed";

fn member_from_row(r: &sqlx::any::AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        id: MemberId(r.try_get("id")?),
        tenant: TenantId(r.try_get("tenant_id")?),
        name: r.try_get("name")?,
        display_name: r.try_get("display_name")?,
        user: r.try_get::<Option<i64>, _>("user_id")?.map(UserId),
        listed: r.try_get::<i64, _>("listed")? != 0,
        numbers: Vec::new(),
    })
}

/// `%` and `_` in a search are literal characters, not patterns.
fn like_pattern(search: &str) -> String {
    let mut out = String::with_capacity(search.len() + 2);
    out.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c.to_ascii_lowercase());
    }
    out.push('%');
    out
}

impl Store {
    pub async fn create_member(
        &self,
        tenant: TenantId,
        name: &str,
        display_name: &str,
        user: Option<UserId>,
        listed: bool,
    ) -> Result<MemberId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO members (tenant_id, name, display_name, user_id, listed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(tenant.0)
        .bind(name)
        .bind(display_name)
        .bind(user.map(|u| u.0))
        .bind(i64::from(listed))
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("member"))?;
        Ok(MemberId(id))
    }

    pub async fn member_by_name(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM members WHERE tenant_id = $1 AND name = $2"
        )))
        .bind(tenant.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut member) = row.as_ref().map(member_from_row).transpose()? else {
            return Ok(None);
        };
        member.numbers = self.member_numbers(tenant, member.id).await?;
        Ok(Some(member))
    }

    /// The member a staff user is, if they are one.
    pub async fn member_by_user(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<Member>, StoreError> {
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM members WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.0)
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await?;
        match name {
            Some(name) => self.member_by_name(tenant, &name).await,
            None => Ok(None),
        }
    }

    /// The member holding `number` in this tenant.
    pub async fn member_by_number(
        &self,
        tenant: TenantId,
        number: &str,
    ) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query(
            "SELECT m.name FROM members m JOIN member_numbers n \
             ON n.member_id = m.id AND n.tenant_id = m.tenant_id \
             WHERE n.tenant_id = $1 AND n.number = $2",
        )
        .bind(tenant.0)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => {
                self.member_by_name(tenant, &r.try_get::<String, _>("name")?)
                    .await
            }
            None => Ok(None),
        }
    }

    /// The numbers a member holds, oldest first.
    pub async fn member_numbers(
        &self,
        tenant: TenantId,
        member: MemberId,
    ) -> Result<Vec<String>, StoreError> {
        let numbers = sqlx::query_scalar(
            "SELECT number FROM member_numbers WHERE tenant_id = $1 AND member_id = $2 \
             ORDER BY assigned_at, number",
        )
        .bind(tenant.0)
        .bind(member.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(numbers)
    }

    /// One page of members by name, with their numbers.
    pub async fn members(
        &self,
        tenant: TenantId,
        query: MemberQuery<'_>,
    ) -> Result<Vec<Member>, StoreError> {
        let pattern = like_pattern(query.search.trim());
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM members m WHERE tenant_id = $1 \
             AND (listed = 1 OR $2 = 1) \
             AND (LOWER(name) LIKE $3 ESCAPE '\\' OR LOWER(display_name) LIKE $3 ESCAPE '\\' \
                  OR EXISTS (SELECT 1 FROM member_numbers n WHERE n.tenant_id = m.tenant_id \
                             AND n.member_id = m.id AND n.number LIKE $4 ESCAPE '\\')) \
             ORDER BY display_name, id LIMIT $5 OFFSET $6"
        )))
        .bind(tenant.0)
        .bind(i64::from(query.include_unlisted))
        .bind(&pattern)
        // People type numbers grouped; stored ones are bare digits.
        .bind(like_pattern(&query.search.replace([' ', '-'], "")))
        .bind(i64::from(query.limit))
        .bind(i64::from(query.offset))
        .fetch_all(&self.pool)
        .await?;
        let mut members = rows
            .iter()
            .map(member_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for m in &mut members {
            m.numbers = self.member_numbers(tenant, m.id).await?;
        }
        Ok(members)
    }

    /// Gives `number` to `member` if nobody holds it and it was not released
    /// less than `quarantine_ms` ago. A concurrent claim of the same number
    /// loses on the primary key.
    pub async fn claim_number(
        &self,
        tenant: TenantId,
        member: MemberId,
        number: &str,
        vanity: bool,
        quarantine_ms: i64,
    ) -> Result<Claim, StoreError> {
        let now = now_ms();
        // A row past its quarantine is free again: forget it first.
        sqlx::query(
            "DELETE FROM member_numbers WHERE number = $1 AND member_id IS NULL \
             AND released_at IS NOT NULL AND released_at <= $2",
        )
        .bind(number)
        .bind(now.saturating_sub(quarantine_ms))
        .execute(&self.pool)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO member_numbers (number, tenant_id, member_id, vanity, assigned_at) \
             SELECT $1, $2, id, $3, $4 FROM members WHERE tenant_id = $2 AND id = $5",
        )
        .bind(number)
        .bind(tenant.0)
        .bind(i64::from(vanity))
        .bind(now)
        .bind(member.0)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(r) if r.rows_affected() == 1 => Ok(Claim::Claimed),
            Ok(_) => Err(StoreError::Corrupt("no such member".to_owned())),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(Claim::Unavailable),
            Err(e) => Err(e.into()),
        }
    }

    /// Releases a number the tenant holds: it starts its quarantine, and the
    /// digest secret named by it goes. `false` when the tenant holds no such number.
    pub async fn release_number(&self, tenant: TenantId, number: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE member_numbers SET member_id = NULL, released_at = $1 \
             WHERE tenant_id = $2 AND number = $3 AND member_id IS NOT NULL",
        )
        .bind(now_ms())
        .bind(tenant.0)
        .bind(number)
        .execute(&self.pool)
        .await?;
        self.forget_number_secret(tenant, number).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Moves a held number to another member of the same tenant. The old
    /// holder's digest secret for it goes (the new holder's password is not
    /// known here: they register with it after their password is set again).
    pub async fn move_number(
        &self,
        tenant: TenantId,
        number: &str,
        to: MemberId,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE member_numbers SET member_id = $1 \
             WHERE tenant_id = $2 AND number = $3 AND member_id IS NOT NULL \
             AND EXISTS (SELECT 1 FROM members WHERE tenant_id = $2 AND id = $1)",
        )
        .bind(to.0)
        .bind(tenant.0)
        .bind(number)
        .execute(&self.pool)
        .await?;
        self.forget_number_secret(tenant, number).await?;
        Ok(r.rows_affected() == 1)
    }

    /// A number that changed hands is no digest user name any more.
    async fn forget_number_secret(&self, tenant: TenantId, number: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sip_credentials WHERE tenant_id = $1 AND username = $2")
            .bind(tenant.0)
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces a member's digest secrets (one per user name) in one transaction.
    pub async fn set_sip_credentials(
        &self,
        tenant: TenantId,
        member: MemberId,
        secrets: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sip_credentials WHERE tenant_id = $1 AND member_id = $2")
            .bind(tenant.0)
            .bind(member.0)
            .execute(&mut *tx)
            .await?;
        for (username, md5, sha256) in secrets {
            sqlx::query(
                "INSERT INTO sip_credentials (tenant_id, member_id, username, ha1_md5, ha1_sha256) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.0)
            .bind(member.0)
            .bind(username)
            .bind(md5)
            .bind(sha256)
            .execute(&mut *tx)
            .await
            .map_err(conflict("SIP user name"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every tenant's digest secrets, for the registrar's table. Operator
    /// level (like loading every tenant's trunks): the registrar keeps the
    /// tenant with each entry.
    pub async fn all_sip_credentials(&self) -> Result<Vec<SipCredential>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.tenant_id, t.slug, c.member_id, c.username, c.ha1_md5, c.ha1_sha256 \
             FROM sip_credentials c JOIN tenants t ON t.id = c.tenant_id \
             ORDER BY c.tenant_id, c.username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SipCredential {
                    tenant: TenantId(r.try_get("tenant_id")?),
                    tenant_slug: r.try_get("slug")?,
                    member: MemberId(r.try_get("member_id")?),
                    username: r.try_get("username")?,
                    ha1_md5: r.try_get("ha1_md5")?,
                    ha1_sha256: r.try_get("ha1_sha256")?,
                })
            })
            .collect()
    }
}
