//! `GET /ws/agent` on the agent listener: an agent's console. The connection
//! lives as long as its session: logout, a disabled user or the session's
//! expiry close it (code 4001, the reason as text; see `http::staff::Revocations`).

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};

use super::{FrameBudget, Incoming, classify, send_error, send_text};
use crate::{
    desk::{Outbox, Request},
    http::{
        AppState,
        error::ApiError,
        staff::{SessionWatch, same_origin, session_user},
    },
    protocol::{self, AgentFrame, ErrorCode, FrameError},
    store::{Tenant, User},
};

/// `GET /ws/agent`: needs a staff session and the listener's own Origin.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::forbidden("cross-origin console connection refused").into_response();
    }
    let (session, token_hash) = match session_user(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            crate::http::staff::refused(crate::http::staff::Refusal::Unauthorized);
            return ApiError::unauthorized().into_response();
        }
        Err(e) => return e.into_response(),
    };
    let user = session.user;
    let tenant = match state.store.tenant(user.tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let watch = state.revocations.watch(
        state.store.clone(),
        token_hash,
        user.tenant,
        user.id,
        session.expires_at,
    );
    super::configure(ws).on_upgrade(move |socket| serve(socket, state, user, tenant, watch))
}

/// The close code when the session ends (application range, 4000-4999).
pub const SESSION_ENDED: u16 = 4001;

async fn serve(
    socket: WebSocket,
    state: AppState,
    user: User,
    tenant: Tenant,
    mut watch: SessionWatch,
) {
    let (mut sink, mut stream) = socket.split();
    let conn = state.desk.new_conn();
    let (outbox, mut rx) = Outbox::channel();
    // What the desk needs at hello, read here so that it never waits for it.
    let routing = match state.store.routing_inputs(tenant.id, None).await {
        Ok(inputs) => Some(Box::new(inputs)),
        Err(e) => {
            tracing::error!(error = %e, "loading the tenant's routing failed");
            None
        }
    };
    let staff = state
        .store
        .staff_names(tenant.id)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "listing staff failed");
            Vec::new()
        });
    let hello = Request::AgentHello {
        conn,
        user: Box::new(user),
        tenant: Box::new(tenant),
        routing,
        staff,
        outbox,
    };
    if state.desk.send(hello).await.is_err() {
        return;
    }
    let mut budget = FrameBudget::new();
    loop {
        tokio::select! {
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
                match budget.take().and_then(|()| protocol::parse::<AgentFrame>(&text, protocol::AGENT_FRAME_TYPES)) {
                    Ok(frame) => {
                        if state.desk.send(Request::Agent { conn, frame }).await.is_err() { break; }
                    }
                    Err(e) => {
                        if !send_error(&mut sink, e).await { break; }
                    }
                }
            }
            frame = rx.recv() => {
                let Some(frame) = frame else { break };
                if !send_text(&mut sink, protocol::encode(&frame)).await { break; }
            }
            why = watch.ended() => {
                // The reason is a sentence for the console; the label a token.
                let label = why.replace(' ', "_");
                metrics::counter!("switchboard_consoles_closed_total", "reason" => label).increment(1);
                let close = CloseFrame { code: SESSION_ENDED, reason: why.into() };
                // The peer may already be gone; the connection ends either way.
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(1),
                    sink.send(Message::Close(Some(close))),
                )
                .await;
                break;
            }
        }
    }
    let _ = state.desk.send(Request::AgentGone { conn }).await;
}
