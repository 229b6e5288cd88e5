//! `GET /ws/cobrowse` on the agent listener: an agent's co-browse view
//! (web/console/cobrowse.js), and `GET /cobrowse/frame`, the empty document
//! the view rebuilds the visitor's page in.

use axum::{
    extract::{State, WebSocketUpgrade, ws::WebSocket},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::{Bucket, CobrowseError, Hub, Out, Received, frames, received, visitor::text_message};
use crate::{
    http::{
        AppState,
        error::ApiError,
        staff::{SessionWatch, same_origin, session_user},
    },
    ids::ContactId,
    protocol::{ErrorCode, FrameError, encode, encode_error},
    store::{Role, Store, User},
};

/// An agent's frames: pointer moves at display rate and the odd command.
const FRAMES_BURST: f64 = 120.0;
const FRAMES_PER_SECOND: f64 = 90.0;

/// What the mirror document may load: the page's styles, images and fonts
/// from anywhere over http(s), and never a script. It may be framed only by
/// the console.
const FRAME_CSP: &str = "default-src 'none'; script-src 'none'; object-src 'none'; \
     style-src http: https: 'unsafe-inline'; img-src http: https: data: blob:; \
     font-src http: https: data:; media-src 'none'; frame-src 'none'; \
     form-action 'none'; base-uri 'none'; frame-ancestors 'self'";

/// `GET /cobrowse/frame`: an empty page for the view's sandboxed iframe.
pub async fn frame_page() -> Response {
    let mut response =
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body></body></html>"
            .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FRAME_CSP),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}

/// `GET /ws/cobrowse` (agent listener): a signed-in staff member's view.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::forbidden("cross-origin co-browse view refused").into_response();
    }
    let (session, token_hash) = match session_user(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    let user = session.user;
    let watch = state.revocations.watch(
        state.store.clone(),
        token_hash,
        user.tenant,
        user.id,
        session.expires_at,
    );
    let hub = state.cobrowse.clone();
    let store = state.store.clone();
    crate::ws::configure(ws).on_upgrade(move |socket| serve(socket, hub, store, user, watch))
}

/// The session this view shows, and its outbox.
struct Watching {
    id: String,
    conn: u64,
    rx: mpsc::Receiver<Out>,
    /// A supervisor's read-only view, not the agent's.
    supervisor: bool,
}

impl Watching {
    /// This view closes or moves on: an agent's session waits for it as after
    /// a reload; a supervisor simply stops watching.
    fn leave(self, hub: &Hub) {
        if self.supervisor {
            hub.unwatch(&self.id, self.conn);
        } else {
            hub.agent_gone(&self.id, self.conn);
        }
    }
}

async fn serve(socket: WebSocket, hub: Hub, store: Store, user: User, mut watch: SessionWatch) {
    let (mut sink, mut stream) = socket.split();
    let mut budget = Bucket::new(FRAMES_BURST, FRAMES_PER_SECOND);
    let mut watching: Option<Watching> = None;
    loop {
        let outbox = async {
            match &mut watching {
                Some(w) => w.rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = stream.next() => {
                let reply = match received(message) {
                    Received::Text(text) if budget.take(1.0) => handle(&hub, &store, &user, &mut watching, &text).await,
                    Received::Text(_) => Err(FrameError::new(ErrorCode::RateLimited, "too many frames; slow down")),
                    Received::Refused(e) => Err(e),
                    Received::Skip => continue,
                    Received::Close => break,
                };
                let reply = match reply {
                    Ok(Some(text)) => text,
                    Ok(None) => continue,
                    Err(e) => encode_error(e),
                };
                if sink.send(text_message(reply)).await.is_err() { break; }
            }
            out = outbox => {
                match out {
                    Some(Out::Text(text)) => {
                        if sink.send(text_message(text)).await.is_err() { break; }
                    }
                    Some(Out::End(text)) => {
                        watching = None;
                        if sink.send(text_message(text)).await.is_err() { break; }
                    }
                    None => {
                        // The hub let go of this view: it fell behind.
                        watching = None;
                        let ended = encode(&frames::ToAgent::Ended { reason: "too_slow" });
                        if sink.send(text_message(ended)).await.is_err() { break; }
                    }
                }
            }
            _ = watch.ended() => break,
        }
    }
    if let Some(w) = watching {
        w.leave(&hub);
    }
}

async fn handle(
    hub: &Hub,
    store: &Store,
    user: &User,
    watching: &mut Option<Watching>,
    text: &str,
) -> Result<Option<String>, FrameError> {
    let frame = frames::agent(text)?;
    match frame {
        frames::FromAgent::Ping => Ok(Some(encode(&frames::ToAgent::Pong))),
        frames::FromAgent::Join { code, contact } => {
            let contact = match contact {
                Some(c) => Some(own_contact(store, user, ContactId(c)).await?),
                None => None,
            };
            let (id, conn, rx, reply) =
                hub.agent_join(user.tenant, user.id, &user.display_name, &code, contact)?;
            let reply = with_asset_origins(store, user, reply).await;
            leave_current(hub, watching);
            *watching = Some(Watching {
                id,
                conn,
                rx,
                supervisor: false,
            });
            Ok(Some(encode(&reply)))
        }
        frames::FromAgent::Watch { session } => {
            let (conn, rx, reply) = hub.agent_watch(user.tenant, user.id, &session)?;
            let reply = with_asset_origins(store, user, reply).await;
            if watching.as_ref().is_some_and(|w| w.id != session) {
                leave_current(hub, watching);
            }
            *watching = Some(Watching {
                id: session,
                conn,
                rx,
                supervisor: false,
            });
            Ok(Some(encode(&reply)))
        }
        frames::FromAgent::Sessions => {
            supervisor_only(user)?;
            let sessions = hub.shared_sessions(user.tenant);
            Ok(Some(encode(&frames::ToAgent::Sessions { sessions })))
        }
        frames::FromAgent::Supervise { session } => {
            supervisor_only(user)?;
            let (conn, rx, reply) = hub.supervise(user.tenant, user.id, &session)?;
            let reply = with_asset_origins(store, user, reply).await;
            leave_current(hub, watching);
            *watching = Some(Watching {
                id: session,
                conn,
                rx,
                supervisor: true,
            });
            Ok(Some(encode(&reply)))
        }
        frame => {
            let w = watching.as_ref().ok_or(CobrowseError::NoSession)?;
            let leaving = matches!(frame, frames::FromAgent::Leave);
            if w.supervisor {
                if !leaving {
                    return Err(FrameError::new(
                        ErrorCode::Forbidden,
                        "a supervisor watches only; the agent points and draws",
                    ));
                }
                leave_current(hub, watching);
                return Ok(Some(encode(&frames::ToAgent::Ended { reason: "left" })));
            }
            hub.agent_frame(&w.id, w.conn, frame)?;
            if leaving {
                *watching = None;
                return Ok(Some(encode(&frames::ToAgent::Ended { reason: "left" })));
            }
            Ok(None)
        }
    }
}

/// The contact named in a join, if this agent holds it: the session's
/// actions are listed in its record.
async fn own_contact(
    store: &Store,
    user: &User,
    contact: ContactId,
) -> Result<ContactId, FrameError> {
    match store.contact_agent(user.tenant, contact).await {
        Ok(Some(Some(agent))) if agent == user.id => Ok(contact),
        Ok(_) => Err(FrameError::new(
            ErrorCode::Forbidden,
            "that contact is not yours",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "co-browse join: contact not read");
            Err(FrameError::new(
                ErrorCode::BadState,
                "the contact could not be read; try again",
            ))
        }
    }
}

/// A view's first answer names the tenant's allowed origins: their
/// stylesheets come through `/cobrowse/asset` too, not only the page's own.
/// Without them (the tenant unread) the view still works, loading those
/// stylesheets straight from their sites.
async fn with_asset_origins(
    store: &Store,
    user: &User,
    mut reply: frames::ToAgent,
) -> frames::ToAgent {
    let origins = match store.tenant(user.tenant).await {
        Ok(Some(t)) => t.allowed_origins,
        Ok(None) => return reply,
        Err(e) => {
            tracing::warn!(error = %e, "co-browse view: allowed origins not read");
            return reply;
        }
    };
    if let frames::ToAgent::Joined { asset_origins, .. }
    | frames::ToAgent::Sharing { asset_origins, .. } = &mut reply
    {
        *asset_origins = origins
            .iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
    }
    reply
}

/// Switching to another session: the one on screen waits for this view as
/// after a reload.
fn leave_current(hub: &Hub, watching: &mut Option<Watching>) {
    if let Some(w) = watching.take() {
        w.leave(hub);
    }
}

fn supervisor_only(user: &User) -> Result<(), FrameError> {
    if user.role < Role::Supervisor {
        return Err(FrameError::new(
            ErrorCode::Forbidden,
            "only supervisors watch shared pages",
        ));
    }
    Ok(())
}
