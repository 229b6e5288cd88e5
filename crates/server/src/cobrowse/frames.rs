//! Co-browse frames (docs/cobrowse.md): what the visitor's capture script and
//! the agent's view send, and the checks each passes before it is relayed.
//!
//! Capture frames (`snapshot`, `mutations`, `scroll`, ...) are checked for
//! shape and limits and then relayed as the visitor sent them: the server
//! never rewrites page content, and the capture already masked it. Control
//! frames in both directions are parsed into the enums here and re-encoded,
//! so only checked fields travel on.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::board::Shape;
use crate::protocol::{ErrorCode, FrameError};

/// Largest co-browse frame (bytes). The capture splits snapshots into chunks
/// below this; the WebSocket itself refuses messages over `ws::MAX_MESSAGE`.
pub const MAX_FRAME: usize = 60 * 1024;
/// Most node records in one `snapshot` chunk or one `mutations` batch; a
/// batch over it is a mutation storm, answered with a fresh snapshot.
pub const MAX_NODES: usize = 10_000;
/// Longest value an agent may type into a field (characters).
pub const MAX_INPUT_CHARS: usize = 1000;
/// Longest URL an agent may push (bytes).
pub const MAX_URL: usize = 2000;

/// Capture frames, relayed verbatim to the agent once sharing is accepted.
pub const CAPTURE_TYPES: &[&str] = &[
    "snapshot",
    "mutations",
    "scroll",
    "viewport",
    "input",
    "pointer",
];

/// Control frames from the visitor's page.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromVisitor {
    /// First frame: a new session, or `resume` to carry one across a page
    /// load (the page the agent pushed, or the visitor's own navigation).
    Hello {
        #[serde(default)]
        resume: Option<String>,
    },
    /// A fresh join code (the last one expired or was used).
    NewCode,
    /// The visitor's answer to `join_request`.
    Consent {
        view: bool,
    },
    /// The visitor's answer to `control_request`, or a withdrawal.
    Control {
        granted: bool,
    },
    /// The visitor stops sharing: the agent's view ends now.
    Stop,
    Ping,
    /// A whiteboard shape drawn by the visitor.
    Draw {
        shape: Shape,
    },
    /// The visitor wipes the whiteboard.
    Clear,
    /// The visitor shows or hides the whiteboard, over the page or on its own.
    Board {
        show: bool,
        #[serde(default)]
        blank: bool,
    },
}

pub const VISITOR_CONTROL_TYPES: &[&str] = &[
    "hello", "new_code", "consent", "control", "stop", "ping", "draw", "clear", "board",
];

/// Frames from the agent's co-browse view.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromAgent {
    /// The code the visitor read out; `contact`, the contact this agent
    /// holds with the visitor, to list the session's actions in its record.
    Join {
        code: String,
        #[serde(default)]
        contact: Option<i64>,
    },
    /// Back to a session this agent already holds (console reloaded).
    Watch {
        session: String,
    },
    /// The agent's pointer, in the visitor's viewport coordinates (CSS px).
    Pointer {
        x: f64,
        y: f64,
    },
    /// Outline a node of the visitor's page and scroll it into view.
    Highlight {
        id: u64,
    },
    /// Open `url` in the visitor's tab (same site only).
    Push {
        url: String,
    },
    ControlRequest,
    /// With control granted: click node `id` (never a submit button).
    Click {
        id: u64,
    },
    /// With control granted: set the value of field `id` (never a masked one).
    Input {
        id: u64,
        value: String,
    },
    Leave,
    Ping,
    /// A whiteboard shape drawn by the agent.
    Draw {
        shape: Shape,
    },
    Clear,
    Board {
        show: bool,
        #[serde(default)]
        blank: bool,
    },
    /// Supervisors: the tenant's shared sessions.
    Sessions,
    /// Supervisors: watch a shared session, read-only.
    Supervise {
        session: String,
    },
}

pub const AGENT_TYPES: &[&str] = &[
    "sessions",
    "supervise",
    "draw",
    "clear",
    "board",
    "join",
    "watch",
    "pointer",
    "highlight",
    "push",
    "control_request",
    "click",
    "input",
    "leave",
    "ping",
];

/// A visitor frame: a capture frame to relay as it came, or a control frame.
#[derive(Debug)]
pub enum Visitor {
    Capture {
        kind: CaptureKind,
        seq: u64,
        nodes: usize,
    },
    Control(FromVisitor),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind {
    Snapshot { last: bool },
    Mutations,
    Other,
}

/// Frames the server sends to the visitor's page.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToVisitor {
    /// The session: `resume` carries it to the next page, `code` is what the
    /// visitor reads out (absent once an agent joined).
    Welcome {
        resume: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        expires_in: u64,
        sharing: bool,
        control: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_name: Option<String>,
    },
    Code {
        code: String,
        expires_in: u64,
    },
    /// An agent keyed the code and asks to see the page.
    JoinRequest {
        agent_name: String,
    },
    /// Send a fresh snapshot (an agent joined late, reloaded, or frames were lost).
    SnapshotRequest,
    AgentPointer {
        x: f64,
        y: f64,
    },
    Highlight {
        id: u64,
    },
    Push {
        url: String,
    },
    ControlRequest {
        agent_name: String,
    },
    Click {
        id: u64,
    },
    Input {
        id: u64,
        value: String,
    },
    /// The agent left; sharing is over.
    Ended {
        reason: &'static str,
    },
    Pong,
    /// A shape the agent drew.
    Draw {
        shape: Shape,
    },
    Clear,
    /// The whiteboard as it stands (after a page load, or shown or hidden).
    Board {
        show: bool,
        blank: bool,
        shapes: Vec<Shape>,
    },
}

/// A shared session as a supervisor picks it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SharedSession {
    pub session: String,
    pub agent_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<i64>,
    /// Supervisors watching it already.
    pub watchers: usize,
}

/// Frames the server sends to the agent's view (besides relayed capture frames).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToAgent {
    /// The code matched: the visitor is being asked.
    Joined {
        session: String,
        origin: String,
        /// The tenant's allowed origins, whose stylesheets and fonts the
        /// view takes through `/cobrowse/asset` (set on the answer to a
        /// join, watch or supervise).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        asset_origins: Vec<String>,
    },
    /// The visitor accepted: capture frames follow. `contact` is the record
    /// the session's actions are listed under (the one opened for a join by
    /// code alone included).
    Sharing {
        session: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        contact: Option<i64>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        asset_origins: Vec<String>,
    },
    /// The visitor's page is loading another page; a snapshot follows.
    Paused,
    Control {
        granted: bool,
    },
    /// The session is over for this view: `declined`, `stopped`, `visitor_left`,
    /// `too_slow`, `replaced` (the agent opened the view elsewhere).
    Ended {
        reason: &'static str,
    },
    Pong,
    /// A shape the visitor drew.
    Draw {
        shape: Shape,
    },
    Clear,
    /// Supervisors: the tenant's shared sessions.
    Sessions {
        sessions: Vec<SharedSession>,
    },
    /// The whiteboard as it stands (after a join or reload, or shown or hidden).
    Board {
        show: bool,
        blank: bool,
        shapes: Vec<Shape>,
    },
}

fn object(text: &str) -> Result<(String, Value), FrameError> {
    if text.len() > MAX_FRAME {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("co-browse frame exceeds {MAX_FRAME} bytes"),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new(ErrorCode::BadJson, format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(FrameError::new(
            ErrorCode::BadJson,
            "frame must be a JSON object",
        ));
    }
    if value.get("v").and_then(Value::as_i64) != Some(1) {
        return Err(FrameError::new(ErrorCode::BadVersion, "\"v\" must be 1"));
    }
    let Some(kind) = value.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err(FrameError::new(ErrorCode::BadJson, "\"type\" is missing"));
    };
    Ok((kind, value))
}

fn typed<T: DeserializeOwned>(kind: &str, value: Value, known: &[&str]) -> Result<T, FrameError> {
    if !known.contains(&kind) {
        let shown: String = kind.chars().take(40).collect();
        return Err(FrameError::new(
            ErrorCode::UnknownType,
            format!("unknown co-browse type {shown:?}"),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| FrameError::new(ErrorCode::BadJson, format!("bad {kind} frame: {e}")))
}

/// Parses a frame from the visitor's page.
///
/// # Errors
/// A frame error naming what is wrong; the connection stays.
pub fn visitor(text: &str) -> Result<Visitor, FrameError> {
    let (kind, value) = object(text)?;
    if CAPTURE_TYPES.contains(&kind.as_str()) {
        return capture(&kind, &value);
    }
    let frame = typed(&kind, value, VISITOR_CONTROL_TYPES)?;
    if let FromVisitor::Draw { shape } = &frame {
        shape.check()?;
    }
    Ok(Visitor::Control(frame))
}

/// Checks a capture frame's shape: a sequence number, node lists that are
/// lists and within [`MAX_NODES`].
fn capture(kind: &str, value: &Value) -> Result<Visitor, FrameError> {
    let bad = |what: String| FrameError::new(ErrorCode::BadJson, what);
    let Some(seq) = value.get("seq").and_then(Value::as_u64) else {
        return Err(bad(format!("{kind} needs \"seq\", a non-negative integer")));
    };
    let mut nodes = 0;
    for list in ["adds", "removes", "texts", "attrs"] {
        match value.get(list) {
            None => {}
            Some(Value::Array(items)) => nodes += items.len(),
            Some(_) => return Err(bad(format!("{kind}.{list} must be a list"))),
        }
    }
    if nodes > MAX_NODES {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("more than {MAX_NODES} node changes in one frame; send a snapshot"),
        ));
    }
    let kind = match kind {
        "snapshot" => {
            let Some(last) = value.get("last").and_then(Value::as_bool) else {
                return Err(bad("snapshot needs \"last\", true or false".to_owned()));
            };
            CaptureKind::Snapshot { last }
        }
        "mutations" => CaptureKind::Mutations,
        _ => CaptureKind::Other,
    };
    Ok(Visitor::Capture { kind, seq, nodes })
}

/// A join code as the hub hands them out: exactly six ASCII digits.
pub fn is_join_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a frame from the agent's view and checks its values.
///
/// # Errors
/// A frame error naming what is wrong; the connection stays.
pub fn agent(text: &str) -> Result<FromAgent, FrameError> {
    let (kind, value) = object(text)?;
    let frame: FromAgent = typed(&kind, value, AGENT_TYPES)?;
    let invalid = |what: &str| Err(FrameError::new(ErrorCode::Invalid, what.to_owned()));
    match &frame {
        FromAgent::Join { code, .. } if !is_join_code(code) => invalid("a join code is six digits"),
        FromAgent::Draw { shape } => shape.check().map(|()| frame),
        FromAgent::Pointer { x, y } if !(x.is_finite() && y.is_finite()) => {
            invalid("pointer coordinates must be numbers")
        }
        FromAgent::Input { value, .. } if value.chars().count() > MAX_INPUT_CHARS => invalid(
            &format!("a typed value is at most {MAX_INPUT_CHARS} characters"),
        ),
        FromAgent::Push { url } if url.len() > MAX_URL => {
            invalid(&format!("a pushed URL is at most {MAX_URL} bytes"))
        }
        FromAgent::Watch { session } | FromAgent::Supervise { session } if session.len() > 64 => {
            invalid("unknown session")
        }
        _ => Ok(frame),
    }
}

/// Why a pushed URL is refused, or the URL as it will be opened: `http(s)`
/// on the visitor page's own origin only.
///
/// # Errors
/// A sentence for the agent.
pub fn push_url(url: &str, page_origin: &str) -> Result<String, FrameError> {
    let refused = |why: &str| FrameError::new(ErrorCode::Forbidden, why.to_owned());
    let parsed = url::Url::parse(url).map_err(|_| refused("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused("only http and https pages can be pushed"));
    }
    if parsed.origin().ascii_serialization() != page_origin {
        return Err(refused(
            "only pages of the visitor's own site can be pushed",
        ));
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_frames_need_a_sequence_number_and_lists() {
        assert!(matches!(
            visitor(r#"{"v":1,"type":"snapshot","seq":0,"last":true,"adds":[]}"#),
            Ok(Visitor::Capture {
                kind: CaptureKind::Snapshot { last: true },
                ..
            })
        ));
        for (text, code) in [
            (
                r#"{"v":1,"type":"mutations","adds":[]}"#,
                ErrorCode::BadJson,
            ),
            (r#"{"v":1,"type":"mutations","seq":-1}"#, ErrorCode::BadJson),
            (
                r#"{"v":1,"type":"mutations","seq":1,"adds":{}}"#,
                ErrorCode::BadJson,
            ),
            (
                r#"{"v":1,"type":"snapshot","seq":1,"adds":[]}"#,
                ErrorCode::BadJson,
            ),
            (r#"{"v":2,"type":"scroll","seq":1}"#, ErrorCode::BadVersion),
            (r#"{"v":1,"type":"eval","seq":1}"#, ErrorCode::UnknownType),
            (r#"{"v":1,"type":"consent"}"#, ErrorCode::BadJson),
            ("[]", ErrorCode::BadJson),
        ] {
            assert_eq!(visitor(text).unwrap_err().code, code, "{text}");
        }
        let storm = format!(
            r#"{{"v":1,"type":"mutations","seq":3,"removes":[{}]}}"#,
            vec!["1"; MAX_NODES + 1].join(",")
        );
        assert_eq!(visitor(&storm).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn agent_frames_are_range_checked() {
        assert_eq!(
            agent(r#"{"v":1,"type":"join","code":"012345"}"#).unwrap(),
            FromAgent::Join {
                code: "012345".into(),
                contact: None,
            }
        );
        for (text, code) in [
            (
                r#"{"v":1,"type":"join","code":"12345"}"#,
                ErrorCode::Invalid,
            ),
            (
                r#"{"v":1,"type":"join","code":"12345x"}"#,
                ErrorCode::Invalid,
            ),
            (
                r#"{"v":1,"type":"pointer","x":"1","y":2}"#,
                ErrorCode::BadJson,
            ),
            (r#"{"v":1,"type":"click"}"#, ErrorCode::BadJson),
            (r#"{"v":1,"type":"click","id":-4}"#, ErrorCode::BadJson),
            (
                r#"{"v":1,"type":"snapshot","seq":1}"#,
                ErrorCode::UnknownType,
            ),
        ] {
            assert_eq!(agent(text).unwrap_err().code, code, "{text}");
        }
        let long = format!(
            r#"{{"v":1,"type":"input","id":1,"value":"{}"}}"#,
            "a".repeat(MAX_INPUT_CHARS + 1)
        );
        assert_eq!(agent(&long).unwrap_err().code, ErrorCode::Invalid);
    }

    #[test]
    fn docs_list_every_frame_type() {
        let doc = include_str!("../../../../docs/cobrowse.md");
        let sent = [
            "welcome",
            "code",
            "join_request",
            "snapshot_request",
            "agent_pointer",
            "highlight",
            "push",
            "control_request",
            "click",
            "input",
            "ended",
            "pong",
            "joined",
            "sharing",
            "paused",
            "control",
        ];
        for kind in CAPTURE_TYPES
            .iter()
            .chain(VISITOR_CONTROL_TYPES)
            .chain(AGENT_TYPES)
            .chain(&sent)
        {
            assert!(
                doc.contains(&format!("`{kind}")),
                "docs/cobrowse.md lacks `{kind}`"
            );
        }
        for frame in [
            ToVisitor::SnapshotRequest,
            ToVisitor::Pong,
            ToVisitor::Highlight { id: 1 },
        ] {
            let text = crate::protocol::encode(&frame);
            let value: Value = serde_json::from_str(&text).unwrap();
            assert!(sent.contains(&value["type"].as_str().unwrap()), "{text}");
        }
    }

    #[test]
    fn only_same_site_http_pages_are_pushed() {
        let site = "http://shop.example:8080";
        assert_eq!(
            push_url("http://shop.example:8080/cart?x=1", site).unwrap(),
            "http://shop.example:8080/cart?x=1"
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "http://evil.example/",
            "https://shop.example:8080/",
            "http://shop.example/",
            "/relative",
        ] {
            assert_eq!(
                push_url(bad, site).unwrap_err().code,
                ErrorCode::Forbidden,
                "{bad}"
            );
        }
    }
}
