//! `GET /ws/supervisor` on the agent listener: the wallboard, pushed.
//!
//! The server sends `{"type":"wallboard", ...}` (a `wallboard::Snapshot`,
//! filtered) at once and after every change; the client may send
//! `{"type":"filter","center":..,"queue":..}` to narrow it. A slow socket
//! only ever gets the latest board (see `wallboard`). Like the console, the
//! connection ends with the session (close code 4001).

use std::sync::Arc;

use axum::{
    extract::{State, WebSocketUpgrade, ws::WebSocket},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{FrameBudget, Received, receive_text, send_error, send_text};
use crate::{
    http::{error::ApiError, staff::SessionWatch, state::AppState},
    protocol::{ErrorCode, FrameError},
    store::Role,
    wallboard::{Filter, Snapshot},
};

/// What a supervisor sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum SupervisorFrame {
    Filter {
        /// The protocol version, as other frames carry it (optional here).
        #[serde(default, rename = "v")]
        _v: Option<u32>,
        #[serde(default)]
        center: Option<String>,
        #[serde(default)]
        queue: Option<String>,
    },
}

/// What the server sends: a board with its filter.
#[derive(Serialize)]
struct Frame<'a> {
    r#type: &'static str,
    /// The filter this board was cut by.
    filter: FilterView<'a>,
    #[serde(flatten)]
    board: &'a Snapshot,
}

#[derive(Serialize)]
struct FilterView<'a> {
    center: Option<&'a str>,
    queue: Option<&'a str>,
}

/// The longest center or queue name a filter may carry.
const MAX_NAME: usize = 200;

/// `GET /ws/supervisor`: needs a supervisor's or admin's session and the
/// listener's own Origin.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let (user, watch) = match super::staff_socket(&state, &headers, "wallboard connection").await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if user.role < Role::Supervisor {
        crate::http::staff::refused(crate::http::staff::Refusal::Forbidden);
        return ApiError::forbidden("the wallboard needs the supervisor role").into_response();
    }
    let board = match state.wallboard.watch(user.tenant).await {
        Ok(rx) => rx,
        Err(e) => return ApiError::from(e).into_response(),
    };
    super::configure(ws).on_upgrade(move |socket| serve(socket, board, watch))
}

async fn serve(
    socket: WebSocket,
    mut board: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    mut watch: SessionWatch,
) {
    let (mut sink, mut stream) = socket.split();
    let mut filter = Filter::default();
    let mut budget = FrameBudget::new();
    board.mark_changed(); // the current board goes out at once
    loop {
        tokio::select! {
            changed = board.changed() => {
                if changed.is_err() { break; }
                let latest = board.borrow_and_update().clone();
                if latest.at == 0 { continue; } // not built yet
                if !send_text(&mut sink, encode(&latest, &filter)).await { break; }
            }
            message = stream.next() => {
                let text = match receive_text(message, &mut sink).await {
                    Received::Text(t) => t,
                    Received::Nothing => continue,
                    Received::End => break,
                };
                match budget.take().and_then(|()| parse(&text)) {
                    Ok(next) => {
                        filter = next;
                        let latest = board.borrow_and_update().clone();
                        if latest.at != 0 && !send_text(&mut sink, encode(&latest, &filter)).await {
                            break;
                        }
                    }
                    Err(e) => {
                        if !send_error(&mut sink, e).await { break; }
                    }
                }
            }
            why = watch.ended() => {
                super::close_session_ended(&mut sink, why).await;
                break;
            }
        }
    }
}

fn parse(text: &str) -> Result<Filter, FrameError> {
    if text.len() > 2 * MAX_NAME + 100 {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            "filter frame too large",
        ));
    }
    let frame: SupervisorFrame = serde_json::from_str(text).map_err(|e| {
        FrameError::new(
            ErrorCode::BadJson,
            format!("not a supervisor frame ({e}); expected {{\"type\":\"filter\",\"center\":..,\"queue\":..}}"),
        )
    })?;
    let SupervisorFrame::Filter { center, queue, .. } = frame;
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    Ok(Filter {
        center: blank(center),
        queue: blank(queue),
    })
}

fn encode(board: &Snapshot, filter: &Filter) -> String {
    let part = board.filtered(filter);
    serde_json::to_string(&Frame {
        r#type: "wallboard",
        filter: FilterView {
            center: filter.center.as_deref(),
            queue: filter.queue.as_deref(),
        },
        board: &part,
    })
    // Plain data (strings, numbers, options) always serializes.
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_frames_are_checked() {
        assert_eq!(
            parse(r#"{"type":"filter","center":"paris","queue":""}"#).unwrap(),
            Filter {
                center: Some("paris".into()),
                queue: None
            }
        );
        assert_eq!(parse(r#"{"type":"filter"}"#).unwrap(), Filter::default());
        assert_eq!(
            parse(r#"{"type":"filter","centre":"x"}"#).unwrap_err().code,
            ErrorCode::BadJson
        );
        assert_eq!(parse("[1]").unwrap_err().code, ErrorCode::BadJson);
        let long = format!(r#"{{"type":"filter","queue":"{}"}}"#, "q".repeat(600));
        assert_eq!(parse(&long).unwrap_err().code, ErrorCode::TooLarge);
    }
}
