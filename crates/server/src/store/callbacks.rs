//! Callbacks the server dials: a link's dialling settings, and each attempt
//! to reach the visitor with how it ended (`callback_attempts`, migration
//! 0009). The attempts are the callback's memory across restarts: the
//! routing core is rebuilt with as many attempts made as there are rows,
//! waiting for the last one's retry time and keeping the first one's give-up
//! time (migration 0013).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError};
use crate::ids::{ContactId, TenantId};

/// When the server dials a callback's visitor (`callback_dial` on a link).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackDial {
    /// After the reserved agent accepts (and their browser's audio is up),
    /// so nobody is called back to wait for an agent.
    #[default]
    OnAccept,
    /// As soon as an agent is reserved; the agent's browser joins while the
    /// phone rings.
    Auto,
    /// Never by the server: the reserved agent dials from the screen pop and
    /// reports with `callback_result` (no trunk needed).
    Agent,
}

/// What the server does when call progress detection hears a fax or an
/// answering machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MachinePolicy {
    /// Counts as a failed attempt; tried again after the delay.
    Retry,
    /// The callback ends; the record says why.
    GiveUp,
    /// Connects to the agent anyway (who may leave a message).
    Connect,
}

/// A link's callback dialling settings (`[links.callback]` in the tenant
/// file); the defaults suit most links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackSettings {
    /// The widget offers "Call me back" at any time (a form with the
    /// number, a reason and a time), not only when closed or queued. Such a
    /// link dialled by the server refuses requests while its tenant has no
    /// trunk.
    pub form: bool,
    pub dial: CallbackDial,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait after a busy, unanswered or unavailable attempt.
    pub retry_delay_secs: u64,
    /// No attempt starts later than this after the request (its scheduled
    /// time, when it has one).
    pub give_up_after_mins: u32,
    /// A phone ringing this long is "no answer"; the reserved agent is never
    /// held longer than this by one attempt.
    pub ring_timeout_secs: u32,
    pub on_fax: MachinePolicy,
    pub on_machine: MachinePolicy,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            form: false,
            dial: CallbackDial::OnAccept,
            max_attempts: 3,
            retry_delay_secs: 300,
            give_up_after_mins: 24 * 60,
            ring_timeout_secs: 30,
            on_fax: MachinePolicy::GiveUp,
            // The greeting heuristic guesses: by default the agent hears the
            // machine and may leave a message.
            on_machine: MachinePolicy::Connect,
        }
    }
}

impl CallbackSettings {
    /// The bounds a tenant file is held to.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10).contains(&self.max_attempts) {
            return Err("callback.max_attempts must be 1-10".to_owned());
        }
        if !(1..=86_400).contains(&self.retry_delay_secs) {
            return Err("callback.retry_delay_secs must be 1-86400".to_owned());
        }
        if !(5..=120).contains(&self.ring_timeout_secs) {
            return Err("callback.ring_timeout_secs must be 5-120".to_owned());
        }
        if self.give_up_after_mins == 0 || self.give_up_after_mins > 14 * 24 * 60 {
            return Err("callback.give_up_after_mins must be 1-20160".to_owned());
        }
        Ok(())
    }

    /// Whether an attempt that ended so is tried again (attempts and time
    /// permitting): busy, unanswered and unavailable phones, and fax or
    /// machine answers when the link says retry.
    pub fn retries(&self, result: AttemptResult) -> bool {
        match result {
            AttemptResult::Fax => self.on_fax == MachinePolicy::Retry,
            AttemptResult::Machine => self.on_machine == MachinePolicy::Retry,
            r => r.worth_retrying(),
        }
    }

    pub fn plan(&self) -> acd::CallbackPlan {
        acd::CallbackPlan {
            max_attempts: self.max_attempts,
            retry_delay: std::time::Duration::from_secs(self.retry_delay_secs),
        }
    }
}

/// How one attempt ended, by its final SIP status or what was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    /// Still running (or cut short by a restart).
    Dialing,
    Answered,
    /// 486, 600.
    Busy,
    /// The ring timeout, 408, 480 (and 487, our own cancel at the timeout).
    NoAnswer,
    /// 603: the person declined the call.
    Rejected,
    /// 404, 484: no such number.
    InvalidNumber,
    /// 503, other 5xx, a silent trunk, anything else.
    Unavailable,
    /// A fax machine or modem answered.
    Fax,
    /// An answering machine answered.
    Machine,
    /// A network announcement (special information tones).
    Announcement,
}

impl AttemptResult {
    /// The result a failed call's final SIP status means.
    pub fn from_sip(code: u16) -> Self {
        match code {
            200..=299 => Self::Answered,
            486 | 600 => Self::Busy,
            408 | 480 | 487 => Self::NoAnswer,
            603 => Self::Rejected,
            404 | 484 => Self::InvalidNumber,
            _ => Self::Unavailable,
        }
    }

    /// Whether another attempt may reach the visitor: a busy or silent
    /// phone may answer later; a wrong or refusing number will not.
    pub fn worth_retrying(self) -> bool {
        matches!(self, Self::Busy | Self::NoAnswer | Self::Unavailable)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Dialing => "dialing",
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Rejected => "rejected",
            Self::InvalidNumber => "invalid_number",
            Self::Unavailable => "unavailable",
            Self::Fax => "fax",
            Self::Machine => "machine",
            Self::Announcement => "announcement",
        }
    }

    fn parse(name: &str) -> Result<Self, StoreError> {
        Ok(match name {
            "dialing" => Self::Dialing,
            "answered" => Self::Answered,
            "busy" => Self::Busy,
            "no_answer" => Self::NoAnswer,
            "rejected" => Self::Rejected,
            "invalid_number" => Self::InvalidNumber,
            "unavailable" => Self::Unavailable,
            "fax" => Self::Fax,
            "machine" => Self::Machine,
            "announcement" => Self::Announcement,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "callback attempt result {other:?}"
                )));
            }
        })
    }
}

/// How an attempt ended, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptEnd {
    pub result: AttemptResult,
    /// The final SIP status, if any.
    pub sip_code: Option<u16>,
    /// Unix ms.
    pub ended_at: i64,
    /// When the next attempt is due (Unix ms), if there is one.
    pub retry_at: Option<i64>,
}

/// Where a callback's attempts are after a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackResume {
    pub attempts_made: u32,
    /// When the next attempt is due (Unix ms), if one failed and is retried.
    pub retry_at: Option<i64>,
    /// When the callback gives up (Unix ms), once an attempt was made.
    pub give_up_at: Option<i64>,
}

/// A callback's times as its record shows them (Unix ms unless named).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackTimes {
    pub requested_at: i64,
    /// The time the visitor picked; `None` for "as soon as possible".
    pub scheduled_for: Option<i64>,
    pub first_attempt_at: Option<i64>,
    /// From the request, or its scheduled time, to the first attempt.
    pub time_to_first_attempt_ms: Option<i64>,
    /// The answered call's talk time (hold excluded).
    pub talk_seconds: Option<i64>,
}

impl CallbackTimes {
    pub fn new(
        requested_at: i64,
        scheduled_for: Option<i64>,
        attempts: &[CallbackAttempt],
        talk_ms: Option<i64>,
    ) -> Self {
        let first_attempt_at = attempts.first().map(|a| a.started_at);
        let due = scheduled_for.unwrap_or(requested_at).max(requested_at);
        Self {
            requested_at,
            scheduled_for,
            first_attempt_at,
            time_to_first_attempt_ms: first_attempt_at.map(|at| (at - due).max(0)),
            talk_seconds: talk_ms.map(|ms| ms / 1000),
        }
    }
}

/// One attempt as the contact's record shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackAttempt {
    /// Counts from 1.
    pub attempt: u32,
    /// Unix ms.
    pub started_at: i64,
    pub result: AttemptResult,
    pub sip_code: Option<u16>,
    pub duration_ms: Option<i64>,
}

impl Store {
    /// An attempt begins: stored at once, so a restart while it rings still
    /// counts it. `give_up_at` (Unix ms) is the callback's give-up time, kept
    /// so a restart keeps it too.
    pub async fn callback_attempt_started(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        started_at: i64,
        give_up_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO callback_attempts \
             (tenant_id, contact_id, attempt, started_at, result, give_up_at) \
             VALUES ($1, $2, $3, $4, 'dialing', $5)",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .bind(i64::from(attempt))
        .bind(started_at)
        .bind(give_up_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An attempt ended as `end` says.
    pub async fn callback_attempt_ended(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        end: AttemptEnd,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE callback_attempts SET result = $1, sip_code = $2, \
             duration_ms = $3 - started_at, retry_at = $4 \
             WHERE tenant_id = $5 AND contact_id = $6 AND attempt = $7",
        )
        .bind(end.result.name())
        .bind(end.sip_code.map(i64::from))
        .bind(end.ended_at)
        .bind(end.retry_at)
        .bind(tenant.0)
        .bind(contact.0)
        .bind(i64::from(attempt))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A callback's attempts, first first.
    pub async fn callback_attempts(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Vec<CallbackAttempt>, StoreError> {
        sqlx::query(
            "SELECT attempt, started_at, result, sip_code, duration_ms FROM callback_attempts \
             WHERE tenant_id = $1 AND contact_id = $2 ORDER BY attempt",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CallbackAttempt {
                attempt: u32::try_from(r.try_get::<i64, _>("attempt")?)
                    .map_err(|_| StoreError::Corrupt("callback attempt number".to_owned()))?,
                started_at: r.try_get("started_at")?,
                result: AttemptResult::parse(&r.try_get::<String, _>("result")?)?,
                sip_code: r
                    .try_get::<Option<i64>, _>("sip_code")?
                    .and_then(|c| u16::try_from(c).ok()),
                duration_ms: r.try_get("duration_ms")?,
            })
        })
        .collect()
    }

    /// The time a callback's visitor picked, if any (its request is kept in
    /// the contact's routing).
    pub async fn callback_scheduled_for(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<Option<i64>, StoreError> {
        let routing: Option<String> =
            sqlx::query_scalar("SELECT routing FROM contacts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(contact.0)
                .fetch_optional(&self.pool)
                .await?;
        let Some(routing) = routing else {
            return Ok(None);
        };
        let routing: crate::routing::ContactRouting = serde_json::from_str(&routing)
            .map_err(|e| StoreError::Corrupt(format!("contact routing: {e}")))?;
        Ok(routing.callback.and_then(|c| c.not_before))
    }

    /// Where a callback's attempts are (a restart continues from here).
    pub async fn callback_resume(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<CallbackResume, StoreError> {
        // The last attempt's times (each attempt carries the callback's
        // give-up time, set at its first).
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM callback_attempts \
              WHERE tenant_id = $1 AND contact_id = $2) AS made, \
             last.retry_at, last.give_up_at \
             FROM (SELECT 1 AS one) AS here LEFT JOIN ( \
              SELECT retry_at, give_up_at FROM callback_attempts \
              WHERE tenant_id = $1 AND contact_id = $2 ORDER BY attempt DESC LIMIT 1 \
             ) AS last ON TRUE",
        )
        .bind(tenant.0)
        .bind(contact.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(CallbackResume {
            attempts_made: u32::try_from(row.try_get::<i64, _>("made")?).unwrap_or(u32::MAX),
            retry_at: row.try_get("retry_at")?,
            give_up_at: row.try_get("give_up_at")?,
        })
    }
}

/// A callback as the supervisor's list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackEntry {
    pub contact: i64,
    pub queue: String,
    pub link: String,
    pub phone: String,
    /// `pending` (waiting for an agent or its retry), `scheduled` (a time
    /// ahead), `in_progress` (an agent reserved or talking), `failed`.
    pub status: &'static str,
    pub requested_at: i64,
    /// The time the visitor picked, if any.
    pub scheduled_for: Option<i64>,
    pub attempts: u32,
}

/// The most callbacks one list shows.
const LIST_LIMIT: i64 = 500;

impl Store {
    /// A tenant's callbacks that are not over, and those that failed, newest
    /// first; `queue` narrows to one queue by name.
    pub async fn callback_list(
        &self,
        tenant: TenantId,
        queue: Option<&str>,
        now_ms: i64,
    ) -> Result<Vec<CallbackEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, q.name AS queue, l.slug AS link, c.state, c.outcome, c.routing, \
             c.created_at, (SELECT COUNT(*) FROM callback_attempts a \
             WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id) AS attempts \
             FROM contacts c JOIN links l ON l.id = c.link_id AND l.tenant_id = c.tenant_id \
             JOIN queues q ON q.id = l.queue_id AND q.tenant_id = c.tenant_id \
             WHERE c.tenant_id = $1 AND c.media = 'callback' \
             AND (c.ended_at IS NULL OR c.outcome = 'callback-failed') \
             AND ($2 = '' OR q.name = $2) \
             ORDER BY c.created_at DESC, c.id DESC LIMIT $3",
        )
        .bind(tenant.0)
        .bind(queue.unwrap_or(""))
        .bind(LIST_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let routing: crate::routing::ContactRouting =
                    serde_json::from_str(&r.try_get::<String, _>("routing")?)
                        .map_err(|e| StoreError::Corrupt(format!("contact routing: {e}")))?;
                let request = routing.callback.unwrap_or_default();
                let state: String = r.try_get("state")?;
                let outcome: Option<String> = r.try_get("outcome")?;
                let status = match (outcome.as_deref(), state.as_str()) {
                    (Some("callback-failed"), _) => "failed",
                    (_, "offered" | "connected") => "in_progress",
                    _ if request.not_before.is_some_and(|t| t > now_ms) => "scheduled",
                    _ => "pending",
                };
                Ok(CallbackEntry {
                    contact: r.try_get("id")?,
                    queue: r.try_get("queue")?,
                    link: r.try_get("link")?,
                    phone: request.phone,
                    status,
                    requested_at: r.try_get("created_at")?,
                    scheduled_for: request.not_before,
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_statuses_read_as_results() {
        for (code, result) in [
            (200, AttemptResult::Answered),
            (486, AttemptResult::Busy),
            (600, AttemptResult::Busy),
            (408, AttemptResult::NoAnswer),
            (480, AttemptResult::NoAnswer),
            (603, AttemptResult::Rejected),
            (404, AttemptResult::InvalidNumber),
            (484, AttemptResult::InvalidNumber),
            (503, AttemptResult::Unavailable),
            (502, AttemptResult::Unavailable),
            (403, AttemptResult::Unavailable),
        ] {
            assert_eq!(AttemptResult::from_sip(code), result, "{code}");
        }
        assert!(AttemptResult::Busy.worth_retrying());
        assert!(AttemptResult::Unavailable.worth_retrying());
        assert!(!AttemptResult::Rejected.worth_retrying());
        assert!(!AttemptResult::InvalidNumber.worth_retrying());
    }

    #[test]
    fn results_read_back_by_name() {
        for r in [
            AttemptResult::Dialing,
            AttemptResult::Answered,
            AttemptResult::Busy,
            AttemptResult::NoAnswer,
            AttemptResult::Rejected,
            AttemptResult::InvalidNumber,
            AttemptResult::Unavailable,
            AttemptResult::Fax,
            AttemptResult::Machine,
            AttemptResult::Announcement,
        ] {
            assert_eq!(AttemptResult::parse(r.name()).unwrap(), r);
        }
        assert!(AttemptResult::parse("bogus").is_err());
    }

    #[test]
    fn settings_are_bounded() {
        assert!(CallbackSettings::default().validate().is_ok());
        let s = CallbackSettings {
            max_attempts: 0,
            ..CallbackSettings::default()
        };
        assert!(s.validate().is_err());
        let s = CallbackSettings {
            ring_timeout_secs: 600,
            ..CallbackSettings::default()
        };
        assert!(s.validate().is_err());
    }
}
