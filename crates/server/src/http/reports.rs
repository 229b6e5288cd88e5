//! Interval reports for supervisors, admins and API keys: per 15 minutes,
//! hour or day of a range of local dates, per queue, link or agent, as JSON
//! pages or CSV. The figures and their definitions are in docs/reports.md;
//! the sums come from `store/reports.rs`.

use axum::{
    Json,
    extract::{Query, State},
    response::Response,
};
use serde::{Deserialize, Serialize};

use super::{
    AppState,
    error::ApiError,
    records::{csv_field, csv_response},
    staff::Principal,
};
use crate::store::{
    Role,
    reports::{Figures, Grouping, Interval, RangeError, ReportCalendar, ReportQuery, Tally, fold},
};

/// The longest range one report covers (a quarter and a day).
pub const MAX_DAYS: i32 = 92;
/// Rows in one JSON page at most, and in one CSV.
const MAX_PER_PAGE: usize = 2_000;
const MAX_CSV_ROWS: usize = 100_000;
/// The short-abandon threshold when none is asked for, and the most allowed.
const DEFAULT_SHORT_ABANDON_SECS: i64 = 10;
const MAX_SHORT_ABANDON_SECS: i64 = 600;

#[derive(Deserialize, Default)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    group: Option<String>,
    tz: Option<String>,
    short_abandon_secs: Option<i64>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// One row: an interval, its group and its figures.
#[derive(Debug, Serialize)]
pub struct ReportRow {
    /// The interval's start with the local offset (`2026-12-07T09:00:00+01:00`).
    pub start: String,
    pub start_ms: i64,
    /// The queue, link or agent (absent for the whole tenant; `""` for an
    /// agent: contacts nobody answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A whole report before paging.
struct Report {
    tz: String,
    interval: Interval,
    grouping: Grouping,
    from_ms: i64,
    to_ms: i64,
    short_abandon_secs: i64,
    intervals: Vec<String>,
    rows: Vec<ReportRow>,
    totals: Figures,
}

fn bad_range(e: &RangeError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

async fn build(
    state: &AppState,
    principal: &Principal,
    p: &ReportParams,
) -> Result<Report, ApiError> {
    principal.require(Role::Supervisor, true)?;
    let interval = match p.interval.as_deref().unwrap_or("hour") {
        "15m" => Interval::Quarter,
        "hour" => Interval::Hour,
        "day" => Interval::Day,
        _ => return Err(ApiError::bad_request("interval must be 15m, hour or day")),
    };
    let grouping = match p.group.as_deref().unwrap_or("none") {
        "none" => Grouping::None,
        "queue" => Grouping::Queue,
        "link" => Grouping::Link,
        "agent" => Grouping::Agent,
        _ => {
            return Err(ApiError::bad_request(
                "group must be none, queue, link or agent",
            ));
        }
    };
    let short_abandon_secs = p.short_abandon_secs.unwrap_or(DEFAULT_SHORT_ABANDON_SECS);
    if !(0..=MAX_SHORT_ABANDON_SECS).contains(&short_abandon_secs) {
        return Err(ApiError::bad_request(format!(
            "short_abandon_secs must be 0..={MAX_SHORT_ABANDON_SECS}"
        )));
    }
    let tz = match p.tz.as_deref().filter(|t| !t.is_empty()) {
        Some(tz) => tz.to_owned(),
        None => state.store.report_time_zone(principal.tenant).await?,
    };
    let calendar = ReportCalendar::new(&tz, interval).map_err(|e| bad_range(&e))?;
    let today = jiff::Timestamp::now()
        .to_zoned(calendar.tz.clone())
        .date()
        .to_string();
    let (from, to) = (
        p.from.clone().unwrap_or_else(|| today.clone()),
        p.to.clone().or_else(|| p.from.clone()).unwrap_or(today),
    );
    let (from_ms, to_ms) = calendar
        .range(&from, &to, MAX_DAYS)
        .map_err(|e| bad_range(&e))?;
    let query = ReportQuery {
        tenant: principal.tenant,
        from_ms,
        to_ms,
        grouping,
        short_abandon_ms: short_abandon_secs * 1000,
    };
    let mut slots = state.store.report_contact_slots(&query).await?;
    slots.extend(
        state
            .store
            .report_occupancy_slots(&query, crate::store::now_ms())
            .await?,
    );
    let folded = fold(&calendar, &slots);
    let mut totals = Tally::default();
    let rows = folded
        .iter()
        .map(|((start_ms, group), tally)| {
            totals.add(tally);
            ReportRow {
                start: calendar.label(*start_ms),
                start_ms: *start_ms,
                group: (grouping != Grouping::None).then(|| group.clone()),
                figures: tally.figures(),
            }
        })
        .collect();
    Ok(Report {
        intervals: calendar
            .intervals(from_ms, to_ms)
            .into_iter()
            .map(|ms| calendar.label(ms))
            .collect(),
        tz,
        interval,
        grouping,
        from_ms,
        to_ms,
        short_abandon_secs,
        rows,
        totals: totals.figures(),
    })
}

/// `GET /api/v1/reports/intervals?from=&to=&interval=&group=&tz=&short_abandon_secs=&page=&per_page=`
pub async fn intervals(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<ReportParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let per_page = p.per_page.unwrap_or(500);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(format!(
            "per_page must be 1..={MAX_PER_PAGE}"
        )));
    }
    let page = p.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("page starts at 1"));
    }
    let report = build(&state, &principal, &p).await?;
    let total = report.rows.len();
    let rows: Vec<&ReportRow> = report
        .rows
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Ok(Json(serde_json::json!({
        "tz": report.tz,
        "interval": report.interval,
        "group": report.grouping,
        "from_ms": report.from_ms,
        "to_ms": report.to_ms,
        "short_abandon_secs": report.short_abandon_secs,
        "intervals": report.intervals,
        "rows": rows,
        "totals": report.totals,
        "page": page,
        "per_page": per_page,
        "total": total,
    })))
}

/// `GET /api/v1/reports/intervals.csv?from=&to=&interval=&group=&tz=&short_abandon_secs=`
pub async fn intervals_csv(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let report = build(&state, &principal, &p).await?;
    if report.rows.len() > MAX_CSV_ROWS {
        return Err(ApiError::bad_request(format!(
            "more than {MAX_CSV_ROWS} rows; ask for a shorter range or a longer interval"
        )));
    }
    let mut out = String::from(
        "start,group,offered,answered,abandoned,abandoned_short,refused,answered_in_target,\
         service_level,average_speed_of_answer_secs,average_handle_secs,average_talk_secs,\
         average_hold_secs,average_wrap_up_secs,transfers,callbacks_requested,\
         callbacks_completed,occupancy\n",
    );
    for r in &report.rows {
        out.push_str(&csv_row(r));
    }
    Ok(csv_response(out, "attachment; filename=\"report.csv\""))
}

fn csv_row(r: &ReportRow) -> String {
    let f = &r.figures;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let fields = [
        r.start.clone(),
        csv_field(r.group.as_deref().unwrap_or_default()),
        f.offered.to_string(),
        f.answered.to_string(),
        f.abandoned.to_string(),
        f.abandoned_short.to_string(),
        f.refused.to_string(),
        f.answered_in_target.to_string(),
        opt(f.service_level),
        opt(f.average_speed_of_answer_secs),
        opt(f.average_handle_secs),
        opt(f.average_talk_secs),
        opt(f.average_hold_secs),
        opt(f.average_wrap_up_secs),
        f.transfers.to_string(),
        f.callbacks_requested.to_string(),
        f.callbacks_completed.to_string(),
        opt(f.occupancy),
    ];
    let mut line = fields.join(",");
    line.push('\n');
    line
}
