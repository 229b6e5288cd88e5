//! Contact records: JSON pages, CSV export and one contact with its transcript.
//! Supervisors, admins and API keys see the tenant's records; agents their own.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, error::ApiError, staff::Principal};
use crate::{
    ids::ContactId,
    store::{CallbackTimes, ContactFilter, ContactRecord, Role},
};

/// Most rows in one CSV export; narrow `from`/`to` for more.
const CSV_MAX_ROWS: i64 = 50_000;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// RFC 3339 (`2026-11-21T10:00:00Z`) or epoch milliseconds.
pub(super) fn parse_time(value: Option<&str>, field: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{field} must be RFC 3339 (2026-11-21T10:00:00Z) or epoch milliseconds"
            ))
        })
}

fn filter(principal: &Principal, q: &ListQuery) -> Result<ContactFilter, ApiError> {
    principal.require(Role::Agent, true)?;
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=500).contains(&per_page) {
        return Err(ApiError::bad_request("per_page must be 1..=500"));
    }
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("page starts at 1"));
    }
    Ok(ContactFilter {
        from_ms: parse_time(q.from.as_deref(), "from")?,
        to_ms: parse_time(q.to.as_deref(), "to")?,
        agent: principal
            .user()
            .filter(|u| u.role == Role::Agent)
            .map(|u| u.id),
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
    })
}

/// `GET /api/v1/contacts?from=&to=&page=&per_page=`
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let f = filter(&principal, &q)?;
    let (contacts, total) = state.store.contact_records(principal.tenant, &f).await?;
    Ok(Json(json!({
        "contacts": contacts,
        "page": q.page.unwrap_or(1),
        "per_page": f.limit,
        "total": total,
    })))
}

/// `GET /api/v1/contacts.csv?from=&to=`
pub async fn csv(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let mut f = filter(
        &principal,
        &ListQuery {
            per_page: None,
            page: None,
            ..q
        },
    )?;
    f.limit = CSV_MAX_ROWS;
    let (contacts, _) = state.store.contact_records(principal.tenant, &f).await?;
    let mut out = String::from(
        "id,link,media,page_url,customer,verified,agent,created_at,queued_at,offered_at,answered_at,ended_at,outcome,wrapup_code,wrapup_note\n",
    );
    for c in &contacts {
        out.push_str(&csv_row(c));
    }
    Ok(csv_response(out, "attachment; filename=\"contacts.csv\""))
}

/// A CSV download: `disposition` names the file.
pub(super) fn csv_response(body: String, disposition: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    response
}

fn csv_row(c: &ContactRecord) -> String {
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        c.id.to_string(),
        c.link.clone(),
        c.media.clone(),
        c.page_url.clone(),
        c.customer.clone().unwrap_or_default(),
        c.verified.to_string(),
        c.agent.clone().unwrap_or_default(),
        c.created_at.to_string(),
        opt(c.queued_at),
        opt(c.offered_at),
        opt(c.answered_at),
        opt(c.ended_at),
        c.outcome.clone().unwrap_or_default(),
        c.wrapup_code.clone().unwrap_or_default(),
        c.wrapup_note.clone().unwrap_or_default(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// Quotes a CSV field, and defuses values a spreadsheet would run as a formula.
pub(super) fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// `GET /api/v1/contacts/{id}`: one record with its transcript.
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
) -> Result<Json<ContactRecord>, ApiError> {
    principal.require(Role::Agent, true)?;
    let id = ContactId(id);
    let mut record = state
        .store
        .contact_record(principal.tenant, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Some(user) = principal.user().filter(|u| u.role == Role::Agent) {
        // Agents see only contacts they handled; others' are "not found", not
        // "forbidden", so ids reveal nothing.
        if state.store.contact_agent(principal.tenant, id).await? != Some(Some(user.id)) {
            return Err(ApiError::not_found());
        }
    }
    record.transcript = Some(state.store.transcript(principal.tenant, id).await?);
    if record.media == "callback" {
        record.callback_attempts = Some(state.store.callback_attempts(principal.tenant, id).await?);
    }
    let cobrowse = state.store.cobrowse_events(principal.tenant, id).await?;
    record.cobrowse = (!cobrowse.is_empty()).then_some(cobrowse);
    let call = state.store.call_record(principal.tenant, id).await?;
    if let Some(call) = &call {
        record.call = Some(super::calls::record_json(id.0, &record.media, call));
    }
    if let Some(attempts) = &record.callback_attempts {
        let scheduled_for = state
            .store
            .callback_scheduled_for(principal.tenant, id)
            .await?;
        // Talk time only once an agent talked to the visitor.
        let talk_ms = call
            .as_ref()
            .filter(|_| record.answered_at.is_some())
            .map(|c| c.talk_ms);
        record.callback = Some(CallbackTimes::new(
            record.created_at,
            scheduled_for,
            attempts,
            talk_ms,
        ));
    }
    if let Some(phone) = state.store.phone_record(principal.tenant, id).await?
        && let Some(call) = record.call.as_mut().and_then(|c| c.as_object_mut())
    {
        call.insert(
            "phone".to_owned(),
            serde_json::to_value(phone).unwrap_or_default(),
        );
    }
    Ok(Json(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn times_parse_both_ways() {
        assert_eq!(parse_time(Some("1000"), "from").unwrap(), Some(1000));
        assert_eq!(
            parse_time(Some("1970-01-01T00:00:01Z"), "from").unwrap(),
            Some(1000)
        );
        assert!(parse_time(Some("yesterday"), "from").is_err());
        assert_eq!(parse_time(None, "from").unwrap(), None);
    }
}
