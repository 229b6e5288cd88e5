//! `GET /ws/cobrowse?tenant=T` on the public listener: the visitor's page,
//! opened only when the visitor starts sharing (web/widget/cobrowse.js).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Query, State, WebSocketUpgrade, ws::WebSocket},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use super::{Bucket, Hub, Out, Received, frames, received};
use crate::{
    http::{error::ApiError, state::AppState},
    ids::TenantId,
    protocol::{ErrorCode, FrameError, encode, encode_error},
    ws::visitor::origin_allowed,
};

/// A page's budget: frames (pointer moves at display rate, mutation batches)
/// and bytes (a snapshot is a burst; a busy page stays under the steady rate).
const FRAMES_BURST: f64 = 240.0;
const FRAMES_PER_SECOND: f64 = 120.0;
const BYTES_BURST: f64 = 4.0 * 1024.0 * 1024.0;
const BYTES_PER_SECOND: f64 = 256.0 * 1024.0;

#[derive(Deserialize)]
pub struct CobrowseQuery {
    #[serde(default)]
    tenant: String,
}

/// `GET /ws/cobrowse`: the tenant's page, from an allowed origin.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<CobrowseQuery>,
) -> Response {
    let client = crate::http::serve::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    if !state
        .limits
        .visitor_connect
        .check_ip(client, Instant::now())
    {
        return ApiError::too_many().into_response();
    }
    if q.tenant.is_empty() || q.tenant.len() > 64 {
        return ApiError::not_found().into_response();
    }
    let tenant = match state.store.tenant_by_slug(&q.tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !origin_allowed(&headers, &tenant) {
        return ApiError::forbidden("this site may not share pages with this tenant")
            .into_response();
    }
    // Pushed pages must stay on this origin; without one (not a browser)
    // nothing can be pushed.
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let hub = state.cobrowse.clone();
    let hello_timeout = state.hello_timeout;
    crate::ws::configure(ws).on_upgrade(move |socket| async move {
        serve(socket, hub, tenant.id, origin, hello_timeout).await;
    })
}

async fn serve(
    socket: WebSocket,
    hub: Hub,
    tenant: TenantId,
    origin: String,
    hello_timeout: Duration,
) {
    let (mut sink, mut stream) = socket.split();
    let mut frames_left = Bucket::new(FRAMES_BURST, FRAMES_PER_SECOND);
    let mut bytes_left = Bucket::new(BYTES_BURST, BYTES_PER_SECOND);
    // The hello: a new session or a resumed one.
    let hello = tokio::time::timeout(hello_timeout, async {
        loop {
            let e = match received(stream.next().await) {
                Received::Text(text) => match frames::visitor(&text) {
                    Ok(frames::Visitor::Control(frames::FromVisitor::Hello { resume })) => {
                        return Some(resume);
                    }
                    Ok(_) => FrameError::new(ErrorCode::BadState, "send hello first"),
                    Err(e) => e,
                },
                Received::Refused(e) => e,
                Received::Skip => continue,
                Received::Close => return None,
            };
            if sink.send(text_message(encode_error(e))).await.is_err() {
                return None;
            }
        }
    })
    .await;
    let Ok(Some(resume)) = hello else { return };
    let (id, conn, mut rx, welcome) = match hub.visitor_hello(tenant, &origin, resume.as_deref()) {
        Ok(found) => found,
        Err(e) => {
            let _ = sink.send(text_message(encode_error(e.into()))).await;
            return;
        }
    };
    if sink.send(text_message(encode(&welcome))).await.is_err() {
        hub.visitor_gone(&id, conn);
        return;
    }
    metrics::gauge!("switchboard_cobrowse_pages").increment(1.0);
    loop {
        tokio::select! {
            message = stream.next() => {
                let reply = match received(message) {
                    Received::Text(text) if frames_left.take(1.0) && bytes_left.take(text.len() as f64) => {
                        handle(&hub, &id, conn, &text).await
                    }
                    Received::Text(_) => {
                        hub.lost(&id);
                        Err(FrameError::new(
                            ErrorCode::RateLimited,
                            "too much page data; send a fresh snapshot in a moment",
                        ))
                    }
                    Received::Refused(e) => Err(e),
                    Received::Skip => continue,
                    Received::Close => break,
                };
                let reply = match reply {
                    Ok(Some(frame)) => encode(&frame),
                    Ok(None) => continue,
                    Err(e) => encode_error(e),
                };
                if sink.send(text_message(reply)).await.is_err() { break; }
            }
            out = rx.recv() => {
                match out {
                    Some(Out::Text(text)) => {
                        if sink.send(text_message(text)).await.is_err() { break; }
                    }
                    Some(Out::End(text)) => {
                        let _ = sink.send(text_message(text)).await;
                        break;
                    }
                    None => break,
                }
            }
        }
    }
    hub.visitor_gone(&id, conn);
    metrics::gauge!("switchboard_cobrowse_pages").decrement(1.0);
}

async fn handle(
    hub: &Hub,
    id: &str,
    conn: u64,
    text: &str,
) -> Result<Option<frames::ToVisitor>, FrameError> {
    match frames::visitor(text)? {
        frames::Visitor::Control(frame @ frames::FromVisitor::Consent { view: true }) => {
            // An agent who joined by code alone gets a contact to hold
            // before the first action is listed.
            if let Some((store, tenant, agent, origin)) = hub.contact_wanted(id, conn) {
                match super::contact::open(&store, tenant, agent, &origin).await {
                    Ok(contact) => hub.adopt_contact(id, agent, tenant, contact),
                    // Sharing goes on; only its record is missing.
                    Err(e) => tracing::warn!(error = %e, "co-browse contact not opened"),
                }
            }
            hub.visitor_control(id, conn, &frame)
        }
        frames::Visitor::Capture { kind, seq, .. } => {
            let resend = hub.capture(id, conn, kind, seq, text)?;
            Ok(resend.then_some(frames::ToVisitor::SnapshotRequest))
        }
        frames::Visitor::Control(frame) => {
            let reply = hub.visitor_control(id, conn, &frame)?;
            Ok(reply)
        }
    }
}

pub(super) fn text_message(text: String) -> axum::extract::ws::Message {
    axum::extract::ws::Message::Text(text.into())
}
