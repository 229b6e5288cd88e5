//! `GET /ws/agent` on the agent listener: an agent's console. The connection
//! lives as long as its session: logout, a disabled user or the session's
//! expiry close it (code 4001, the reason as text; see `http::staff::Revocations`).

use axum::{
    extract::{State, WebSocketUpgrade, ws::WebSocket},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;

use super::{FrameBudget, Received, receive_text, send_error, send_text};
use crate::{
    desk::{Outbox, Request},
    http::{error::ApiError, staff::SessionWatch, state::AppState},
    protocol::{self, AgentFrame},
    store::{Tenant, User},
};

/// `GET /ws/agent`: needs a staff session and the listener's own Origin.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let (user, watch) = match super::staff_socket(&state, &headers, "console connection").await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let tenant = match state.store.tenant(user.tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
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
                let text = match receive_text(message, &mut sink).await {
                    Received::Text(t) => t,
                    Received::Nothing => continue,
                    Received::End => break,
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
                super::close_session_ended(&mut sink, why).await;
                break;
            }
        }
    }
    let _ = state.desk.send(Request::AgentGone { conn }).await;
}
