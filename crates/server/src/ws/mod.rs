//! WebSocket endpoints: `visitor` on the public listener, `agent` (consoles)
//! and `supervisor` (the wallboard) on the agent listener. Each connection task parses frames (see `protocol`), forwards them
//! to the desk, and writes what the desk puts in its outbox.

pub mod agent;
pub mod supervisor;
pub mod visitor;

use std::time::Instant;

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt};

use crate::protocol::{ErrorCode, FrameError};

/// Largest WebSocket message accepted at all; frames over `protocol::MAX_FRAME`
/// but under this get an error frame and the connection stays.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Initial read buffer per connection, and the most read at once.
/// tungstenite's default (128 KiB) made each idle visitor cost 141 KB; most
/// frames here are a few hundred bytes, and the buffer grows to hold a larger
/// one (docs/benchmarks.md has the measurements).
const READ_BUFFER: usize = 512;

/// Limits every WebSocket on both listeners shares.
pub(crate) fn configure(ws: axum::extract::WebSocketUpgrade) -> axum::extract::WebSocketUpgrade {
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        // Frames are small and sent one at a time: write them out at once
        // instead of buffering.
        .write_buffer_size(0)
}

/// Sends a text frame; false when the socket is gone.
async fn send_text<S: Sink<Message> + Unpin>(sink: &mut S, text: String) -> bool {
    sink.send(Message::Text(text.into())).await.is_ok()
}

async fn send_error<S: Sink<Message> + Unpin>(sink: &mut S, e: FrameError) -> bool {
    send_text(sink, crate::protocol::encode_error(e)).await
}

/// Per-connection frame budget: a burst, then a steady rate.
struct FrameBudget {
    tokens: f64,
    at: Instant,
}

impl FrameBudget {
    const BURST: f64 = 30.0;
    const PER_SECOND: f64 = 10.0;

    fn new() -> Self {
        Self {
            tokens: Self::BURST,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> Result<(), FrameError> {
        let now = Instant::now();
        self.tokens = (self.tokens
            + now.saturating_duration_since(self.at).as_secs_f64() * Self::PER_SECOND)
            .min(Self::BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(FrameError::new(
                ErrorCode::RateLimited,
                "too many frames; slow down",
            ))
        }
    }
}

/// What a received WebSocket message means for the connection loop.
pub(crate) enum Incoming {
    Text(String),
    Ignore,
    Close,
    Binary,
}

/// A staff WebSocket's checks before the upgrade: the listener's own Origin
/// and a live session (`what` names the socket in the refusal). Gives the
/// user and a watch that ends with the session.
pub(crate) async fn staff_socket(
    state: &crate::http::state::AppState,
    headers: &axum::http::HeaderMap,
    what: &str,
) -> Result<(crate::store::User, crate::http::staff::SessionWatch), axum::response::Response> {
    use crate::http::{error::ApiError, staff};
    use axum::response::IntoResponse;
    if !staff::same_origin(headers) {
        return Err(ApiError::forbidden(format!("cross-origin {what} refused")).into_response());
    }
    let (session, token_hash) = match staff::session_user(state, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            staff::refused(staff::Refusal::Unauthorized);
            return Err(ApiError::unauthorized().into_response());
        }
        Err(e) => return Err(e.into_response()),
    };
    let user = session.user;
    let watch = state.revocations.watch(
        state.store.clone(),
        token_hash,
        user.tenant,
        user.id,
        session.expires_at,
    );
    Ok((user, watch))
}

/// Closes a staff socket whose session ended (code 4001, the reason as text).
async fn close_session_ended<S: Sink<Message> + Unpin>(sink: &mut S, why: &'static str) {
    let close = axum::extract::ws::CloseFrame {
        code: agent::SESSION_ENDED,
        reason: why.into(),
    };
    // The peer may already be gone; the connection ends either way.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        sink.send(Message::Close(Some(close))),
    )
    .await;
}

/// What a staff socket's loop does with a received message.
pub(crate) enum Received {
    /// A text frame to parse.
    Text(String),
    /// Nothing (a ping, or a binary frame already answered with an error).
    Nothing,
    /// The socket closed or failed.
    End,
}

/// Reads one staff socket message: binary frames get an error frame.
pub(crate) async fn receive_text<S: Sink<Message> + Unpin>(
    message: Option<Result<Message, axum::Error>>,
    sink: &mut S,
) -> Received {
    match classify(message) {
        Incoming::Text(t) => Received::Text(t),
        Incoming::Ignore => Received::Nothing,
        Incoming::Close => Received::End,
        Incoming::Binary => {
            let e = FrameError::new(ErrorCode::BadJson, "send JSON text frames");
            if send_error(sink, e).await {
                Received::Nothing
            } else {
                Received::End
            }
        }
    }
}

pub(crate) fn classify(message: Option<Result<Message, axum::Error>>) -> Incoming {
    match message {
        Some(Ok(Message::Text(t))) => Incoming::Text(t.to_string()),
        Some(Ok(Message::Binary(_))) => Incoming::Binary,
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Ignore,
        Some(Ok(Message::Close(_)) | Err(_)) | None => Incoming::Close,
    }
}
