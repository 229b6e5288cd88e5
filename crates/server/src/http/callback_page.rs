//! `/callback/{token}` on the public listener: the page a visitor keeps to
//! see, move or cancel their callback without an account (issue 14). The
//! token (`callback_link`) names the tenant and the callback; a tampered,
//! expired or foreign one changes nothing and the page says why.
//!
//! The page is plain HTML with two forms, so it works without scripts;
//! `/widget/manage.js` only rewrites the times into the visitor's own time
//! zone (they are rendered in UTC).

use axum::{
    Form,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use std::time::Instant;
use std::{fmt::Write as _, net::SocketAddr};

use super::AppState;
use crate::{
    callback_link::{LinkError, ManageToken},
    desk::{CallbackAction, CallbackView, ChangedBy, ScheduleError},
};

#[derive(Deserialize)]
pub struct RescheduleForm {
    /// `asap` or a slot's Unix ms.
    at: String,
}

/// `GET /callback/{token}`: the callback, its time and the forms.
pub async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(text): Path<String>,
) -> Response {
    let token = match admit(&state, peer, &headers, &text, false) {
        Ok(t) => t,
        Err((status, notice)) => return page(status, &notice, None),
    };
    answer(&state, &token, &text, CallbackAction::View, None).await
}

/// `POST /callback/{token}/reschedule` (form `at`): moves the callback.
pub async fn reschedule(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(text): Path<String>,
    Form(form): Form<RescheduleForm>,
) -> Response {
    let token = match admit(&state, peer, &headers, &text, true) {
        Ok(t) => t,
        Err((status, notice)) => return page(status, &notice, None),
    };
    let at = if form.at == "asap" {
        None
    } else {
        match form.at.parse::<i64>() {
            Ok(at) => Some(at),
            Err(_) => return page(StatusCode::BAD_REQUEST, "Pick a time from the list.", None),
        }
    };
    let done = answer(
        &state,
        &token,
        &text,
        CallbackAction::Reschedule { at },
        None,
    )
    .await;
    if done.status().is_success() {
        // Back to the page, so a reload does not post again.
        return Redirect::to(&format!("/callback/{text}")).into_response();
    }
    done
}

/// `POST /callback/{token}/cancel`: cancels the callback.
pub async fn cancel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(text): Path<String>,
) -> Response {
    let token = match admit(&state, peer, &headers, &text, true) {
        Ok(t) => t,
        Err((status, notice)) => return page(status, &notice, None),
    };
    answer(
        &state,
        &token,
        &text,
        CallbackAction::Cancel,
        Some("Your callback is cancelled. We will not call you."),
    )
    .await
}

/// The address's rate, the form's origin and the token, or the status and
/// notice of the page that says which failed.
fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: &str,
    changes: bool,
) -> Result<ManageToken, (StatusCode, String)> {
    let client = super::serve::client_ip(peer.ip(), headers, &state.trusted_proxies);
    if !state
        .limits
        .visitor_connect
        .check_ip(client, Instant::now())
    {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests from your address; wait a minute and try again.".to_owned(),
        ));
    }
    if changes && !same_origin(headers) {
        return Err((
            StatusCode::FORBIDDEN,
            "Change your callback from its own page.".to_owned(),
        ));
    }
    state
        .callback_links
        .verify(token, crate::desk::now().as_millis())
        .map_err(|e| {
            let status = match e {
                LinkError::Invalid => StatusCode::BAD_REQUEST,
                LinkError::Expired => StatusCode::GONE,
            };
            metrics::counter!("switchboard_callback_links_refused_total", "reason" => match e {
                LinkError::Invalid => "invalid",
                LinkError::Expired => "expired",
            })
            .increment(1);
            (status, capitalised(&e.to_string()))
        })
}

/// A form posted from another site is refused, so a page elsewhere cannot
/// cancel a callback whose link it learned. Browsers say where a request
/// comes from in `Sec-Fetch-Site`; the page's own forms send `Origin: null`
/// (its referrer policy is `no-referrer`), so `Origin` is the fallback for
/// clients without it.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok()) {
        return site == "same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

async fn answer(
    state: &AppState,
    token: &ManageToken,
    text: &str,
    action: CallbackAction,
    done: Option<&str>,
) -> Response {
    match state
        .desk
        .callback(token.tenant, token.contact, action, ChangedBy::Visitor)
        .await
    {
        Ok(Ok(view)) => page(StatusCode::OK, done.unwrap_or(""), Some((&view, text))),
        Ok(Err(e)) => {
            let status = match e {
                ScheduleError::NotFound => StatusCode::NOT_FOUND,
                ScheduleError::InProgress => StatusCode::CONFLICT,
                ScheduleError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            };
            page(status, &capitalised(&e.to_string()), None)
        }
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>() + "."
    })
}

/// The page: a notice, and the callback with its forms when there is one.
fn page(status: StatusCode, notice: &str, view: Option<(&CallbackView, &str)>) -> Response {
    let mut body = String::with_capacity(4096);
    body.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Your callback</title>\
         <script type=\"module\" src=\"/widget/manage.js\"></script>\
         <link rel=\"stylesheet\" href=\"/widget/manage.css\">\
         </head><body><h1>Your callback</h1>",
    );
    if !notice.is_empty() {
        let _ = write!(
            body,
            "<p class=\"notice\" data-testid=\"manage-notice\" role=\"status\">{}</p>",
            escape(notice)
        );
    }
    if let Some((v, token)) = view {
        // The token is URL-safe base64 (checked): nothing to escape.
        let state = match v.state {
            "scheduled" => "Scheduled",
            "waiting" => "Waiting for the next free agent",
            "cancelled" => "Cancelled",
            _ => "We are calling you now",
        };
        let _ = write!(
            body,
            "<dl><dt>Number</dt><dd data-testid=\"manage-phone\">{}</dd>\
             <dt>State</dt><dd data-testid=\"manage-state\" data-state=\"{}\">{}</dd>\
             <dt>Time</dt><dd><time data-testid=\"manage-time\" datetime=\"{}\">{}</time></dd>",
            escape(&v.phone),
            v.state,
            state,
            v.at,
            utc(v.at),
        );
        if let Some(p) = v.position {
            let _ = write!(
                body,
                "<dt>Place in line</dt><dd data-testid=\"manage-position\">{p}</dd>"
            );
        }
        body.push_str("</dl>");
        if v.state == "scheduled" || v.state == "waiting" {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/callback/{token}/reschedule\">\
                 <label>Change the time <select name=\"at\" data-testid=\"manage-when\">\
                 <option value=\"asap\">As soon as possible</option>",
            );
            for slot in &v.slots {
                let _ = write!(
                    body,
                    "<option value=\"{slot}\" data-at=\"{slot}\">{}</option>",
                    utc(*slot)
                );
            }
            let _ = write!(
                body,
                "</select></label> <button data-testid=\"manage-reschedule\">Change</button></form>\
                 <form method=\"post\" action=\"/callback/{token}/cancel\">\
                 <button data-testid=\"manage-cancel\">Cancel the callback</button></form>",
            );
        }
    }
    body.push_str("</body></html>");
    let mut response = (status, Html(body)).into_response();
    // The token is in the address: keep it out of other sites' logs.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `2026-12-08 14:30 UTC`, rewritten in the visitor's zone by manage.js.
fn utc(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
