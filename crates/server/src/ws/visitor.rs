//! `GET /ws/visitor?tenant=T&link=L` on the public listener.

use std::{net::SocketAddr, time::Instant};

use axum::{
    extract::{ConnectInfo, Query, State, WebSocketUpgrade, ws::WebSocket},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::Deserialize;

use super::{FrameBudget, Incoming, classify, send_error, send_text};
use crate::{
    desk::{Identity, Outbox, Profile, Request, VisitorArrival},
    http::{AppState, error::ApiError, staff::same_origin},
    protocol::{self, ErrorCode, FrameError, VisitorFrame},
    store::{Link, Tenant},
};

#[derive(Deserialize)]
pub struct VisitorQuery {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    link: String,
}

/// Whether a page at `Origin` may open a visitor connection for `tenant`.
fn origin_allowed(headers: &HeaderMap, tenant: &Tenant) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser: the Origin check protects browsers' users, and a
        // non-browser client could send any Origin anyway.
        return true;
    };
    same_origin(headers) || tenant.allowed_origins.iter().any(|o| o == origin)
}

/// `GET /ws/visitor`: upgrades after the rate limit and the Origin check.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<VisitorQuery>,
) -> Response {
    let client = crate::http::serve::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    if !state
        .limits
        .visitor_connect
        .check_ip(client, Instant::now())
    {
        return ApiError::too_many().into_response();
    }
    let found = match lookup(&state, &q).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if let Some((tenant, _)) = &found
        && !origin_allowed(&headers, tenant)
    {
        metrics::counter!("switchboard_visitor_origin_refused_total").increment(1);
        return ApiError::forbidden("this site is not allowed to open this tenant's widget")
            .into_response();
    }
    super::configure(ws).on_upgrade(move |socket| serve(socket, state, found, client))
}

async fn lookup(state: &AppState, q: &VisitorQuery) -> Result<Option<(Tenant, Link)>, ApiError> {
    if q.tenant.is_empty() || q.tenant.len() > 64 || q.link.is_empty() || q.link.len() > 64 {
        return Ok(None);
    }
    let Some(tenant) = state.store.tenant_by_slug(&q.tenant).await? else {
        return Ok(None);
    };
    let link = state.store.link_by_slug(tenant.id, &q.link).await?;
    Ok(link.map(|l| (tenant, l)))
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    found: Option<(Tenant, Link)>,
    client: std::net::IpAddr,
) {
    let (mut sink, mut stream) = socket.split();
    let conn = state.desk.new_conn();
    let (outbox, mut rx) = Outbox::channel();
    let mut outbox = Some(outbox);
    let mut budget = FrameBudget::new();
    let mut greeted = false;
    let mut identity: Option<Identity> = None;
    metrics::gauge!("switchboard_visitor_connections").increment(1.0);
    // A socket that never says hello holds a connection for nothing.
    let hello_deadline = tokio::time::sleep(state.hello_timeout);
    tokio::pin!(hello_deadline);
    loop {
        tokio::select! {
            () = &mut hello_deadline, if !greeted => {
                metrics::counter!("switchboard_ws_hello_timeouts_total").increment(1);
                let e = FrameError::new(ErrorCode::BadState, "no hello in time; connect again");
                let _ = send_error(&mut sink, e).await;
                break;
            }
            message = stream.next() => {
                let text = match classify(message) {
                    Incoming::Text(t) => t,
                    Incoming::Ignore => continue,
                    Incoming::Close => break,
                    Incoming::Binary => {
                        let e = FrameError::new(ErrorCode::BadJson, "send JSON text frames");
                        if !send_error(&mut sink, e).await { break; }
                        continue;
                    }
                };
                let result = match budget.take().and_then(|()| protocol::parse::<VisitorFrame>(&text, protocol::VISITOR_FRAME_TYPES)) {
                    Err(e) => Err(e),
                    Ok(frame @ VisitorFrame::Hello { .. }) if !greeted => {
                        match (&found, outbox.take()) {
                            (Some((tenant, link)), Some(outbox)) => {
                                greeted = true;
                                let established = establish(tenant, &frame);
                                identity = Some(established.clone());
                                let request = Request::VisitorHello {
                                    conn,
                                    arrival: Box::new(VisitorArrival {
                                        tenant: tenant.clone(),
                                        link: link.clone(),
                                        identity: established,
                                        ip: client,
                                    }),
                                    frame,
                                    outbox,
                                };
                                if state.desk.send(request).await.is_err() { break; }
                                Ok(())
                            }
                            _ => Err(FrameError::new(ErrorCode::UnknownTenant, "this chat is not available")),
                        }
                    }
                    Ok(_) if !greeted => Err(FrameError::new(ErrorCode::BadState, "send hello first")),
                    Ok(frame) => {
                        let profile = match (&found, &identity) {
                            (Some((tenant, _)), Some(identity)) if starts_contact(&frame) => {
                                profile(&state, tenant.id, identity).await
                            }
                            _ => None,
                        };
                        if state.desk.send(Request::Visitor { conn, frame, profile }).await.is_err() { break; }
                        Ok(())
                    }
                };
                if let Err(e) = result && !send_error(&mut sink, e).await {
                    break;
                }
            }
            frame = rx.recv(), if greeted => {
                // None: the desk dropped this connection (too slow, or stopping).
                let Some(frame) = frame else { break };
                if !send_text(&mut sink, protocol::encode(&frame)).await { break; }
            }
        }
    }
    metrics::gauge!("switchboard_visitor_connections").decrement(1.0);
    if greeted {
        let _ = state.desk.send(Request::VisitorGone { conn }).await;
    }
}

/// The visitor's identity from the hello's signed token or attributes.
fn establish(tenant: &Tenant, hello: &VisitorFrame) -> Identity {
    match hello {
        VisitorFrame::Hello {
            identity,
            attributes,
            ..
        } => Identity::establish(tenant, identity.as_deref(), attributes.clone()),
        _ => Identity::establish(tenant, None, None),
    }
}

/// Frames that may start a contact, whose screen pop and routing want the
/// visitor's profile.
fn starts_contact(frame: &VisitorFrame) -> bool {
    matches!(
        frame,
        VisitorFrame::Start { .. }
            | VisitorFrame::Call { .. }
            | VisitorFrame::Callback { .. }
            | VisitorFrame::DialIn { .. }
    )
}

/// What the store knows of a verified visitor, read here so that the desk
/// never waits for it. A failed read starts the contact without it.
async fn profile(
    state: &AppState,
    tenant: crate::ids::TenantId,
    identity: &Identity,
) -> Option<Box<Profile>> {
    match Profile::load(&state.store, tenant, identity, crate::ids::ContactId(0)).await {
        Ok(profile) => profile.map(Box::new),
        Err(e) => {
            tracing::error!(error = %e, "loading a visitor's profile failed");
            None
        }
    }
}
