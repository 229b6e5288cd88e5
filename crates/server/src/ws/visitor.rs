//! `GET /ws/visitor?tenant=T&link=L` on the public listener.

use std::{
    net::{IpAddr, SocketAddr},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, Query, State, WebSocketUpgrade, ws::WebSocket},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{FrameBudget, Incoming, classify, send_error, send_text};
use crate::{
    desk::{ConnId, Desk, Identity, Outbox, OutboxReceiver, Profile, Request, VisitorArrival},
    http::{error::ApiError, staff::same_origin, state::AppState},
    ids::TenantId,
    protocol::{self, ErrorCode, FrameError, VisitorFrame},
    store::{Link, Store, Tenant},
};

#[derive(Deserialize)]
pub struct VisitorQuery {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    link: String,
}

/// Whether a page at `Origin` may open a visitor connection for `tenant`.
pub(crate) fn origin_allowed(headers: &HeaderMap, tenant: &Tenant) -> bool {
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
    let arrival = Box::new(Arrival {
        state,
        found,
        client,
    });
    super::configure(ws).on_upgrade(move |socket| serve(socket, arrival))
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

/// What the connection knows before the visitor's hello, boxed: the upgrade's
/// task keeps its callback's captures for as long as the connection lives.
struct Arrival {
    state: AppState,
    found: Option<(Tenant, Link)>,
    client: IpAddr,
}

/// A visitor connection once they said hello: the desk holds the rest of
/// what they said (link, page context), so an idle connection stays small.
struct Visitor {
    desk: Desk,
    store: Store,
    conn: ConnId,
    tenant: TenantId,
    /// Kept only when verified: the profile read before a contact is only
    /// ever a verified visitor's.
    verified: Option<Box<Identity>>,
    budget: FrameBudget,
    rx: OutboxReceiver<protocol::ToVisitor>,
}

/// One visitor connection (docs/benchmarks.md, memory per idle visitor). An
/// idle connection waits on its socket and its outbox, nothing else: the
/// hello and each frame are handled in boxed futures that exist only while
/// they run, and the socket is not split. Not an `async fn`: one keeps its
/// arguments and a moved copy of them, and the socket is 368 bytes.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold the socket twice"
)]
fn serve(mut socket: WebSocket, arrival: Box<Arrival>) -> impl Future<Output = ()> {
    async move {
        metrics::gauge!("switchboard_visitor_connections").increment(1.0);
        if let Some(mut visitor) = Box::pin(greet(&mut socket, arrival)).await {
            loop {
                tokio::select! {
                    message = socket.recv() => {
                        let keep = match classify(message) {
                            Incoming::Text(text) => Box::pin(visitor.frame(&mut socket, &text)).await,
                            Incoming::Ignore => true,
                            Incoming::Close => false,
                            Incoming::Binary => {
                                let e = FrameError::new(ErrorCode::BadJson, "send JSON text frames");
                                send_error(&mut socket, e).await
                            }
                        };
                        if !keep { break; }
                    }
                    frame = visitor.rx.recv() => {
                        // None: the desk dropped this connection (too slow, or stopping).
                        let Some(frame) = frame else { break };
                        if !send_text(&mut socket, protocol::encode(&frame)).await { break; }
                    }
                }
            }
            // The request is built inside the box: a local would take its size in
            // this future for as long as the connection lives.
            let _ = Box::pin(
                visitor
                    .desk
                    .send(Request::VisitorGone { conn: visitor.conn }),
            )
            .await;
        }
        metrics::gauge!("switchboard_visitor_connections").decrement(1.0);
    }
}

/// Waits for the visitor's hello, answering anything else with an error, and
/// hands it to the desk with a new outbox. `None`: the connection ends (no
/// hello in time, the socket closed, or the desk stopped).
async fn greet(socket: &mut WebSocket, arrival: Box<Arrival>) -> Option<Box<Visitor>> {
    let Arrival {
        state,
        mut found,
        client,
    } = *arrival;
    let conn = state.desk.new_conn();
    let mut budget = FrameBudget::new();
    // A socket that never says hello holds a connection for nothing.
    let hello_deadline = tokio::time::sleep(state.hello_timeout);
    tokio::pin!(hello_deadline);
    loop {
        let message = tokio::select! {
            () = &mut hello_deadline => {
                metrics::counter!("switchboard_ws_hello_timeouts_total").increment(1);
                let e = FrameError::new(ErrorCode::BadState, "no hello in time; connect again");
                let _ = send_error(socket, e).await;
                return None;
            }
            message = socket.recv() => message,
        };
        let text = match classify(message) {
            Incoming::Text(t) => t,
            Incoming::Ignore => continue,
            Incoming::Close => return None,
            Incoming::Binary => {
                let e = FrameError::new(ErrorCode::BadJson, "send JSON text frames");
                if !send_error(socket, e).await {
                    return None;
                }
                continue;
            }
        };
        let parsed = budget
            .take()
            .and_then(|()| protocol::parse::<VisitorFrame>(&text, protocol::VISITOR_FRAME_TYPES));
        let e = match parsed {
            Err(e) => e,
            Ok(frame @ VisitorFrame::Hello { .. }) => {
                let Some((tenant, link)) = found.take() else {
                    let e = FrameError::new(ErrorCode::UnknownTenant, "this chat is not available");
                    if !send_error(socket, e).await {
                        return None;
                    }
                    continue;
                };
                let (identity, tenant_id) = (establish(&tenant, &frame), tenant.id);
                let verified = (identity.verified && identity.sub.is_some())
                    .then(|| Box::new(identity.clone()));
                let (outbox, rx) = Outbox::channel();
                let request = Request::VisitorHello {
                    conn,
                    arrival: Box::new(VisitorArrival {
                        tenant,
                        link,
                        identity,
                        ip: client,
                    }),
                    frame,
                    outbox,
                };
                if state.desk.send(request).await.is_err() {
                    return None;
                }
                return Some(Box::new(Visitor {
                    desk: state.desk,
                    store: state.store,
                    conn,
                    tenant: tenant_id,
                    verified,
                    budget,
                    rx,
                }));
            }
            Ok(_) => FrameError::new(ErrorCode::BadState, "send hello first"),
        };
        if !send_error(socket, e).await {
            return None;
        }
    }
}

impl Visitor {
    /// A frame after hello: checked against the budget, parsed and handed to
    /// the desk. False: the connection ends.
    async fn frame(&mut self, socket: &mut WebSocket, text: &str) -> bool {
        let parsed = self
            .budget
            .take()
            .and_then(|()| protocol::parse::<VisitorFrame>(text, protocol::VISITOR_FRAME_TYPES));
        match parsed {
            Err(e) => send_error(socket, e).await,
            Ok(frame) => {
                let profile = match &self.verified {
                    Some(identity) if starts_contact(&frame) => {
                        profile(&self.store, self.tenant, identity).await
                    }
                    _ => None,
                };
                let request = Request::Visitor {
                    conn: self.conn,
                    frame,
                    profile,
                };
                self.desk.send(request).await.is_ok()
            }
        }
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
async fn profile(store: &Store, tenant: TenantId, identity: &Identity) -> Option<Box<Profile>> {
    match Profile::load(store, tenant, identity, crate::ids::ContactId(0)).await {
        Ok(profile) => profile.map(Box::new),
        Err(e) => {
            tracing::error!(error = %e, "loading a visitor's profile failed");
            None
        }
    }
}
