//! Interval reports: what the stored contact records and stat events say about
//! each 15 minutes, hour or day of a range, per queue, link or agent
//! (definitions in docs/reports.md).
//!
//! The database adds up per 15-minute slot of UTC time and group; Rust folds
//! the slots into the tenant's local intervals. That works for hours and days
//! in every time zone because every offset in use is a whole number of quarter
//! hours (India's +05:30, Nepal's +05:45 included), so a local hour or day is
//! a whole number of slots, and a day's length across a daylight-saving change
//! comes out right by itself. Every figure is a sum, so slots fold by adding.

use std::{collections::BTreeMap, fmt::Write as _};

use jiff::{Timestamp, Zoned, civil::Date, tz::TimeZone};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError};
use crate::ids::TenantId;

/// One slot: a quarter of an hour, in milliseconds.
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// How long before a range the last agent state is looked for (the state an
/// agent was in when the range began).
const STATE_LOOKBACK_MS: i64 = 24 * 60 * 60 * 1000;

/// The service-level threshold of a queue that sets none (`[queues.wallboard]
/// service_level_secs` in the tenant file), the usual 80/20's 20 s.
pub const DEFAULT_TARGET_SECS: i64 = 20;

/// The length of one row of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    #[serde(rename = "15m")]
    Quarter,
    Hour,
    Day,
}

/// What a row is per, besides its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// The whole tenant.
    None,
    Queue,
    Link,
    Agent,
}

impl Grouping {
    /// The SQL naming a contact's group (contacts `c`, links `l`, queues `q`,
    /// users `u`). Contacts count in their link's queue, the queue they
    /// arrived in.
    fn column(self) -> &'static str {
        match self {
            Grouping::None => "''",
            Grouping::Queue => "q.name",
            Grouping::Link => "l.slug",
            Grouping::Agent => "COALESCE(u.name, '')",
        }
    }
}

/// Sums for one interval and group. Every field adds, so quarters fold into
/// hours and days, and groups into totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Contacts that arrived (refused ones included; `offered` leaves them out).
    pub arrived: i64,
    pub refused: i64,
    pub answered: i64,
    pub abandoned: i64,
    /// Abandoned within the short-abandon threshold.
    pub short_abandoned: i64,
    /// Answered within their queue's service-level threshold.
    pub answered_in_target: i64,
    /// Sum of queue-to-answer times of the answered.
    pub answer_ms: i64,
    /// Answered contacts that ended: what talk and hold are averaged over.
    pub handled: i64,
    pub talk_ms: i64,
    pub hold_ms: i64,
    /// Handled contacts whose wrap-up ended, and the sum of their wrap-ups.
    pub wrapped: i64,
    pub wrap_up_ms: i64,
    pub transfers: i64,
    pub callbacks_requested: i64,
    pub callbacks_completed: i64,
    /// Agent time on contacts (reserved, busy, wrap-up) and signed in and
    /// ready (that, plus available).
    pub occupied_ms: i64,
    pub staffed_ms: i64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.arrived += o.arrived;
        self.refused += o.refused;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.answered_in_target += o.answered_in_target;
        self.answer_ms += o.answer_ms;
        self.handled += o.handled;
        self.talk_ms += o.talk_ms;
        self.hold_ms += o.hold_ms;
        self.wrapped += o.wrapped;
        self.wrap_up_ms += o.wrap_up_ms;
        self.transfers += o.transfers;
        self.callbacks_requested += o.callbacks_requested;
        self.callbacks_completed += o.callbacks_completed;
        self.occupied_ms += o.occupied_ms;
        self.staffed_ms += o.staffed_ms;
    }

    /// The figures people read (docs/reports.md): counts, then averages in
    /// seconds and ratios from 0 to 1 (`None` where nothing was measured).
    pub fn figures(&self) -> Figures {
        let secs = |ms: i64, n: i64| (n > 0).then(|| round1(ms as f64 / n as f64 / 1000.0));
        let ratio = |a: i64, b: i64| (b > 0).then(|| round3(a as f64 / b as f64));
        let handle_ms = self.talk_ms + self.hold_ms + self.wrap_up_ms;
        Figures {
            offered: self.arrived - self.refused,
            answered: self.answered,
            abandoned: self.abandoned,
            abandoned_short: self.short_abandoned,
            refused: self.refused,
            answered_in_target: self.answered_in_target,
            service_level: ratio(
                self.answered_in_target,
                self.answered + self.abandoned - self.short_abandoned,
            ),
            average_speed_of_answer_secs: secs(self.answer_ms, self.answered),
            average_handle_secs: secs(handle_ms, self.handled),
            average_talk_secs: secs(self.talk_ms, self.handled),
            average_hold_secs: secs(self.hold_ms, self.handled),
            average_wrap_up_secs: secs(self.wrap_up_ms, self.wrapped),
            transfers: self.transfers,
            callbacks_requested: self.callbacks_requested,
            callbacks_completed: self.callbacks_completed,
            occupancy: ratio(self.occupied_ms, self.staffed_ms),
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One row's figures as the API shows them (docs/reports.md).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub abandoned_short: i64,
    pub refused: i64,
    pub answered_in_target: i64,
    pub service_level: Option<f64>,
    pub average_speed_of_answer_secs: Option<f64>,
    pub average_handle_secs: Option<f64>,
    pub average_talk_secs: Option<f64>,
    pub average_hold_secs: Option<f64>,
    pub average_wrap_up_secs: Option<f64>,
    pub transfers: i64,
    pub callbacks_requested: i64,
    pub callbacks_completed: i64,
    pub occupancy: Option<f64>,
}

/// A report's question: which tenant, which instants (`[from_ms, to_ms)`,
/// whole local days), how it is cut and the short-abandon threshold.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub tenant: TenantId,
    pub from_ms: i64,
    pub to_ms: i64,
    pub grouping: Grouping,
    pub short_abandon_ms: i64,
}

/// The sums of one slot (its start, Unix ms) for one group (`""` for the
/// whole tenant, or for an agent: contacts nobody answered).
#[derive(Debug, Clone)]
pub struct SlotTally {
    pub slot_ms: i64,
    pub group: String,
    pub tally: Tally,
}

impl Store {
    /// The time zone a tenant's reports are cut in: its first center's (the
    /// tenant file's `[[centers]] time_zone`), or UTC for a tenant without.
    pub async fn report_time_zone(&self, tenant: TenantId) -> Result<String, StoreError> {
        let routing: Option<String> =
            sqlx::query_scalar("SELECT routing FROM tenants WHERE id = $1")
                .bind(tenant.0)
                .fetch_optional(&self.pool)
                .await?;
        let doc: serde_json::Value = routing
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default();
        Ok(doc["centers"][0]["time_zone"]
            .as_str()
            .unwrap_or("UTC")
            .to_owned())
    }

    /// Sums per slot and group of the contacts that arrived in the range.
    pub async fn report_contact_slots(
        &self,
        q: &ReportQuery,
    ) -> Result<Vec<SlotTally>, StoreError> {
        let target = self.service_level_targets(q.tenant).await?;
        // Each contact's wrap-up ends at its last `wrap_up_ended` (a transfer
        // ends one of its own, before the contact's end: not counted).
        let sql = format!(
            "SELECT c.created_at / {SLOT_MS} AS slot, {group} AS grp, COUNT(*) AS arrived, \
             {refused} AS refused, {answered} AS answered, {abandoned} AS abandoned, \
             {short} AS short_abandoned, {in_target} AS in_target, {answer_ms} AS answer_ms, \
             {handled} AS handled, {talk} AS talk_ms, {hold} AS hold_ms, {wrapped} AS wrapped, \
             {wrap_up} AS wrap_up_ms, CAST(SUM(c.transfers) AS BIGINT) AS transfers, \
             {cb} AS callbacks_requested, {cb_done} AS callbacks_completed \
             FROM contacts c \
             JOIN links l ON l.id = c.link_id AND l.tenant_id = c.tenant_id \
             JOIN queues q ON q.id = l.queue_id AND q.tenant_id = c.tenant_id \
             LEFT JOIN users u ON u.id = c.agent_id AND u.tenant_id = c.tenant_id \
             LEFT JOIN (SELECT contact_id, MAX(at) AS at FROM acd_events \
                 WHERE tenant_id = $1 AND kind = 'wrap_up_ended' AND at >= $2 AND at < $4 \
                 GROUP BY contact_id) w ON w.contact_id = c.id \
             WHERE c.tenant_id = $1 AND c.created_at >= $2 AND c.created_at < $3 \
             GROUP BY c.created_at / {SLOT_MS}{group_by}",
            group = q.grouping.column(),
            // PostgreSQL refuses a constant in GROUP BY.
            group_by = if q.grouping == Grouping::None {
                String::new()
            } else {
                format!(", {}", q.grouping.column())
            },
            refused = count("c.outcome = 'refused'"),
            answered = count("c.answered_at IS NOT NULL"),
            abandoned = count("c.outcome = 'abandoned'"),
            short = count("c.outcome = 'abandoned' AND c.ended_at - c.queued_at < $5"),
            in_target = count(&format!(
                "c.answered_at IS NOT NULL AND c.answered_at - c.queued_at <= {target}"
            )),
            answer_ms = sum("c.answered_at IS NOT NULL", "c.answered_at - c.queued_at"),
            handled = count(HANDLED),
            talk = sum(HANDLED, "COALESCE(c.talk_ms, c.ended_at - c.answered_at)"),
            hold = sum(HANDLED, "COALESCE(c.hold_ms, 0)"),
            wrapped = count(WRAPPED),
            wrap_up = sum(WRAPPED, "w.at - c.ended_at"),
            cb = count("c.media = 'callback'"),
            cb_done = count("c.media = 'callback' AND c.answered_at IS NOT NULL"),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(q.tenant.0)
            .bind(q.from_ms)
            .bind(q.to_ms)
            // A wrap-up may end after the range that its contact arrived in.
            .bind(q.to_ms.saturating_add(STATE_LOOKBACK_MS))
            .bind(q.short_abandon_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SlotTally {
                    slot_ms: r.try_get::<i64, _>("slot")? * SLOT_MS,
                    group: r.try_get("grp")?,
                    tally: Tally {
                        arrived: r.try_get("arrived")?,
                        refused: r.try_get("refused")?,
                        answered: r.try_get("answered")?,
                        abandoned: r.try_get("abandoned")?,
                        short_abandoned: r.try_get("short_abandoned")?,
                        answered_in_target: r.try_get("in_target")?,
                        answer_ms: r.try_get("answer_ms")?,
                        handled: r.try_get("handled")?,
                        talk_ms: r.try_get("talk_ms")?,
                        hold_ms: r.try_get("hold_ms")?,
                        wrapped: r.try_get("wrapped")?,
                        wrap_up_ms: r.try_get("wrap_up_ms")?,
                        transfers: r.try_get("transfers")?,
                        callbacks_requested: r.try_get("callbacks_requested")?,
                        callbacks_completed: r.try_get("callbacks_completed")?,
                        ..Tally::default()
                    },
                })
            })
            .collect()
    }

    /// Occupancy per slot: agents' time on contacts and time ready, from the
    /// stored agent states, per agent (`Grouping::Agent`) or for everyone.
    /// Queues and links have none: an agent's time is not any one queue's.
    pub async fn report_occupancy_slots(
        &self,
        q: &ReportQuery,
        now_ms: i64,
    ) -> Result<Vec<SlotTally>, StoreError> {
        if !matches!(q.grouping, Grouping::None | Grouping::Agent) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT e.agent_id, COALESCE(u.name, '') AS name, e.at, e.detail FROM acd_events e \
             LEFT JOIN users u ON u.id = e.agent_id AND u.tenant_id = e.tenant_id \
             WHERE e.tenant_id = $1 AND e.kind = 'agent_state' AND e.at >= $2 AND e.at < $3 \
             ORDER BY e.agent_id, e.at, e.id",
        )
        .bind(q.tenant.0)
        .bind(q.from_ms.saturating_sub(STATE_LOOKBACK_MS))
        .bind(q.to_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut states = Vec::with_capacity(rows.len());
        for r in &rows {
            let detail: String = r.try_get("detail")?;
            let detail: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
            states.push(AgentState {
                agent: r.try_get::<Option<i64>, _>("agent_id")?.unwrap_or_default(),
                name: r.try_get("name")?,
                at: r.try_get("at")?,
                state: detail["state"].as_str().unwrap_or_default().to_owned(),
            });
        }
        let end = q.to_ms.min(now_ms);
        Ok(occupancy(&states, q.from_ms, end, q.grouping))
    }

    /// Each queue's service-level threshold in ms, as a SQL expression of
    /// the link's queue (`l.queue_id`); built from our own integers only.
    async fn service_level_targets(&self, tenant: TenantId) -> Result<String, StoreError> {
        let rows = sqlx::query("SELECT id, routing FROM queues WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?;
        let default_ms = DEFAULT_TARGET_SECS * 1000;
        let mut cases = String::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let routing: String = r.try_get("routing")?;
            let doc: serde_json::Value = serde_json::from_str(&routing).unwrap_or_default();
            if let Some(secs) = doc["wallboard"]["service_level_secs"].as_i64() {
                let ms = secs.saturating_mul(1000);
                // Writing to a String cannot fail.
                let _ = write!(cases, " WHEN {id} THEN {ms}");
            }
        }
        Ok(if cases.is_empty() {
            default_ms.to_string()
        } else {
            format!("(CASE l.queue_id{cases} ELSE {default_ms} END)")
        })
    }
}

/// Answered contacts that ended: their talk and hold count.
const HANDLED: &str = "c.answered_at IS NOT NULL AND c.ended_at IS NOT NULL";
/// Handled contacts whose wrap-up ended after the conversation did.
const WRAPPED: &str = "c.answered_at IS NOT NULL AND c.ended_at IS NOT NULL \
                       AND w.at IS NOT NULL AND w.at >= c.ended_at";

/// How many rows meet `condition` (BIGINT on both databases: PostgreSQL's
/// SUM of a BIGINT is a NUMERIC, which the `Any` driver cannot read).
fn count(condition: &str) -> String {
    format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)")
}

/// The sum of `value` over the rows that meet `condition`.
fn sum(condition: &str, value: &str) -> String {
    format!("CAST(SUM(CASE WHEN {condition} THEN {value} ELSE 0 END) AS BIGINT)")
}

/// An agent's state from `at` on, as stored (`agent_state` stat events).
#[derive(Debug, Clone)]
pub struct AgentState {
    pub agent: i64,
    pub name: String,
    pub at: i64,
    pub state: String,
}

/// Splits each agent's time in `[from, to)` over slots: time in reserved,
/// busy or wrap-up is occupied; that plus available is staffed. `states` is
/// ordered by agent, then time.
pub fn occupancy(states: &[AgentState], from: i64, to: i64, grouping: Grouping) -> Vec<SlotTally> {
    let mut slots: BTreeMap<(i64, String), Tally> = BTreeMap::new();
    for (i, s) in states.iter().enumerate() {
        let until = states
            .get(i + 1)
            .filter(|next| next.agent == s.agent)
            .map_or(to, |next| next.at);
        let (start, end) = (s.at.max(from), until.min(to));
        let occupied = matches!(s.state.as_str(), "reserved" | "busy" | "wrap_up");
        if end <= start || !(occupied || s.state == "available") {
            continue;
        }
        let group = if grouping == Grouping::Agent {
            s.name.clone()
        } else {
            String::new()
        };
        let mut t = start;
        while t < end {
            let slot = t.div_euclid(SLOT_MS) * SLOT_MS;
            let piece = end.min(slot + SLOT_MS) - t;
            let tally = slots.entry((slot, group.clone())).or_default();
            tally.staffed_ms += piece;
            if occupied {
                tally.occupied_ms += piece;
            }
            t += piece;
        }
    }
    slots
        .into_iter()
        .map(|((slot_ms, group), tally)| SlotTally {
            slot_ms,
            group,
            tally,
        })
        .collect()
}

/// The local calendar a report is cut in.
#[derive(Debug, Clone)]
pub struct ReportCalendar {
    pub tz: TimeZone,
    pub interval: Interval,
}

/// Why a range cannot be reported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("{0} must be a date like 2026-12-07")]
    Date(&'static str),
    #[error("to must not be before from")]
    Backwards,
    #[error("a report covers at most {0} days")]
    TooLong(i32),
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Lisbon)")]
    TimeZone(String),
}

impl ReportCalendar {
    pub fn new(tz_name: &str, interval: Interval) -> Result<Self, RangeError> {
        let tz = TimeZone::get(tz_name).map_err(|_| RangeError::TimeZone(tz_name.to_owned()))?;
        Ok(Self { tz, interval })
    }

    /// `[start of from, start of the day after to)` in Unix ms, for local
    /// dates `from` and `to` (inclusive), at most `max_days` days.
    pub fn range(&self, from: &str, to: &str, max_days: i32) -> Result<(i64, i64), RangeError> {
        let from: Date = from.parse().map_err(|_| RangeError::Date("from"))?;
        let to: Date = to.parse().map_err(|_| RangeError::Date("to"))?;
        if to < from {
            return Err(RangeError::Backwards);
        }
        let days = from.until(to).map_or(i32::MAX, |s| s.get_days()) + 1;
        if days > max_days {
            return Err(RangeError::TooLong(max_days));
        }
        let end = to.tomorrow().map_err(|_| RangeError::Date("to"))?;
        Ok((self.start_of(from)?, self.start_of(end)?))
    }

    fn start_of(&self, date: Date) -> Result<i64, RangeError> {
        date.to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|_| RangeError::Date("from"))
    }

    /// The start of the local interval holding the slot that starts at `slot_ms`.
    pub fn interval_of(&self, slot_ms: i64) -> i64 {
        let Some(zoned) = self.zoned(slot_ms) else {
            return slot_ms;
        };
        match self.interval {
            Interval::Quarter => slot_ms,
            // Back to the local hour: within a slot the offset holds.
            Interval::Hour => slot_ms - i64::from(zoned.minute()) * 60_000,
            Interval::Day => zoned
                .start_of_day()
                .map_or(slot_ms, |z| z.timestamp().as_millisecond()),
        }
    }

    /// Every interval's start in `[from_ms, to_ms)`, in order.
    pub fn intervals(&self, from_ms: i64, to_ms: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut slot = from_ms;
        while slot < to_ms {
            let start = self.interval_of(slot);
            if out.last() != Some(&start) {
                out.push(start);
            }
            slot += SLOT_MS;
        }
        out
    }

    /// `2026-12-07T09:00:00+01:00`: an instant with the local offset.
    pub fn label(&self, ms: i64) -> String {
        self.zoned(ms).map_or_else(
            || ms.to_string(),
            |z| z.timestamp().display_with_offset(z.offset()).to_string(),
        )
    }

    fn zoned(&self, ms: i64) -> Option<Zoned> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()))
    }
}

/// Folds slots into `(interval start, group)` rows.
pub fn fold(calendar: &ReportCalendar, slots: &[SlotTally]) -> BTreeMap<(i64, String), Tally> {
    let mut rows: BTreeMap<(i64, String), Tally> = BTreeMap::new();
    for s in slots {
        rows.entry((calendar.interval_of(s.slot_ms), s.group.clone()))
            .or_default()
            .add(&s.tally);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn local_days_and_hours_follow_the_time_zone() {
        let lisbon = ReportCalendar::new("Europe/Lisbon", Interval::Day).unwrap();
        // The last Sunday of March 2026: Lisbon moves from +00:00 to +01:00.
        let (from, to) = lisbon.range("2026-03-29", "2026-03-29", 92).unwrap();
        assert_eq!(from, ms("2026-03-29T00:00:00Z"));
        assert_eq!(to - from, 23 * 3_600_000, "a 23-hour day");
        let india = ReportCalendar::new("Asia/Kolkata", Interval::Hour).unwrap();
        let slot = ms("2026-12-07T04:45:00Z"); // 10:15 local
        assert_eq!(india.interval_of(slot), ms("2026-12-07T04:30:00Z"));
        assert_eq!(
            india.label(ms("2026-12-07T04:30:00Z")),
            "2026-12-07T10:00:00+05:30"
        );
        assert_eq!(india.intervals(from, from + 3 * 3_600_000).len(), 4);
    }

    #[test]
    fn ranges_are_bounded() {
        let utc = ReportCalendar::new("UTC", Interval::Day).unwrap();
        assert_eq!(
            utc.range("2026-01-01", "2026-04-02", 92),
            Ok((ms("2026-01-01T00:00:00Z"), ms("2026-04-03T00:00:00Z")))
        );
        assert_eq!(
            utc.range("2026-01-01", "2026-04-03", 92),
            Err(RangeError::TooLong(92))
        );
        assert_eq!(
            utc.range("2026-01-02", "2026-01-01", 92),
            Err(RangeError::Backwards)
        );
        assert_eq!(
            utc.range("yesterday", "2026-01-01", 92),
            Err(RangeError::Date("from"))
        );
        assert!(ReportCalendar::new("Mars/Olympus", Interval::Day).is_err());
    }

    #[test]
    fn agent_time_splits_over_slots() {
        let state = |at: &str, state: &str| AgentState {
            agent: 7,
            name: "kim".into(),
            at: ms(at),
            state: state.into(),
        };
        let states = [
            state("2026-12-07T08:50:00Z", "available"),
            state("2026-12-07T09:05:00Z", "busy"),
            state("2026-12-07T09:20:00Z", "not_ready"),
        ];
        let from = ms("2026-12-07T09:00:00Z");
        let slots = occupancy(&states, from, from + 3_600_000, Grouping::Agent);
        assert_eq!(slots.len(), 2);
        assert_eq!(
            (slots[0].tally.staffed_ms, slots[0].tally.occupied_ms),
            (900_000, 600_000)
        );
        assert_eq!(
            (slots[1].tally.staffed_ms, slots[1].tally.occupied_ms),
            (300_000, 300_000)
        );
        assert_eq!(slots[0].group, "kim");
    }
}
