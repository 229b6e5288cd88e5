//! The WebSocket JSON protocol (docs/protocol.md): frames in both directions for
//! visitors and agents, and the parser that turns any text into either a frame or
//! an error frame. Parsing never fails the connection.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::store::{CallMedia, ContactMedia, Message, Sender};

/// Largest frame a client may send (bytes): room for a browser's SDP offer
/// with audio and video (5-8 KB from Chrome); chat text has its own limit.
pub const MAX_FRAME: usize = 16 * 1024;
/// Longest SDP offer accepted (bytes).
pub const MAX_SDP: usize = 14 * 1024;
/// Longest chat message (characters).
pub const MAX_TEXT_CHARS: usize = 2000;

/// The visitor's page context, captured by the widget.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct PageContext {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub referrer: String,
    #[serde(default)]
    pub pages: Vec<PageVisit>,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub timezone: String,
    /// Cookies and form fields the tenant allowed the widget to share
    /// (`[context]` in the tenant file); anything else is dropped on arrival.
    #[serde(default, skip_serializing_if = "SharedValues::is_empty")]
    pub shared: SharedValues,
}

/// Named values from the visitor's page: `cookies` by cookie name, `fields`
/// by form field name. Sorted maps so two contexts compare by content.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SharedValues {
    #[serde(default)]
    pub cookies: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

impl SharedValues {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty() && self.fields.is_empty()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct PageVisit {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub at: i64,
}

/// What a visitor says about themselves without a signature.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Attributes {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Region the merchant's page supplies, for routing to the nearest center.
    #[serde(default)]
    pub region: Option<String>,
}

/// Frames a visitor's widget sends.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorFrame {
    Hello {
        #[serde(default)]
        context: PageContext,
        #[serde(default)]
        identity: Option<String>,
        #[serde(default)]
        attributes: Option<Attributes>,
        #[serde(default)]
        resume: Option<String>,
    },
    Start {
        #[serde(default)]
        text: Option<String>,
    },
    Message {
        text: String,
    },
    Typing {
        active: bool,
    },
    Page {
        context: PageContext,
    },
    End,
    /// Asks to be called back on `phone`, at `at` (Unix ms) or, without it, as
    /// soon as the link's call center is open.
    Callback {
        phone: String,
        #[serde(default)]
        at: Option<i64>,
        /// What the visitor wants to talk about (one line, at most 200
        /// characters), shown to the agent.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Asks for the times a callback may be booked at (`callback_slots`).
    CallbackSlots,
    /// Moves this visitor's pending callback to `at` (Unix ms), or to "as
    /// soon as possible" without it.
    CallbackChange {
        #[serde(default)]
        at: Option<i64>,
    },
    /// Cancels this visitor's pending callback.
    CallbackCancel,
    /// Starts a call: `sdp` is the browser's offer; the answer comes back in
    /// `call_answer` to this connection only.
    Call {
        media: CallMedia,
        sdp: String,
    },
    /// Digits for the call center's phone during a call to it (`0-9 * # A-D`).
    Dtmf {
        digits: String,
    },
    /// Asks for a number to call from the visitor's own phone: an agent is
    /// reserved and the number connects to them (a routing point), when
    /// called from `phone` (unless the tenant lets any caller through), or
    /// by a caller keying the PIN of the answer (when the tenant sets it).
    DialIn {
        #[serde(default)]
        phone: Option<String>,
    },
    /// The visitor's answer to a `media_control` request.
    MediaControlResult {
        id: u64,
        accepted: bool,
        #[serde(default)]
        applied: MediaSettings,
    },
    /// The visitor accepted the agent's `cobrowse_request`: the join code of
    /// the co-browse session the widget opened, for the agent's console.
    CobrowseCode {
        code: String,
    },
    /// The visitor declined the agent's `cobrowse_request`.
    CobrowseDeclined,
    Ping,
}

/// Type names `VisitorFrame` accepts (kept beside the enum; a test checks both).
pub const VISITOR_FRAME_TYPES: &[&str] = &[
    "hello",
    "start",
    "message",
    "typing",
    "page",
    "end",
    "callback",
    "callback_slots",
    "callback_change",
    "callback_cancel",
    "call",
    "dial_in",
    "dtmf",
    "media_control_result",
    "cobrowse_code",
    "cobrowse_declined",
    "ping",
];

/// Audio settings an agent may ask a visitor's browser to change (remote media
/// control); absent fields are left as they are.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_cancellation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_suppression: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_gain_control: Option<bool>,
    /// Microphone gain, 0.0-2.0 (1.0 unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mic_gain: Option<f32>,
    /// Speaker volume, 0.0-1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_volume: Option<f32>,
}

impl MediaSettings {
    /// Refuses an empty request and values out of range.
    ///
    /// # Errors
    /// An `invalid` frame error naming the setting.
    pub fn check(&self) -> Result<(), FrameError> {
        let bad = |what: &str| Err(FrameError::new(ErrorCode::Invalid, what.to_owned()));
        if *self == Self::default() {
            return bad("name at least one setting to change");
        }
        if self.mic_gain.is_some_and(|g| !(0.0..=2.0).contains(&g)) {
            return bad("mic_gain must be between 0.0 and 2.0");
        }
        if self
            .speaker_volume
            .is_some_and(|v| !(0.0..=1.0).contains(&v))
        {
            return bad("speaker_volume must be between 0.0 and 1.0");
        }
        Ok(())
    }
}

/// An SDP offer as sent by a browser, checked for size and shape before it
/// reaches the media engine (which parses it fully).
///
/// # Errors
/// An `invalid` frame error.
pub fn sdp_offer(sdp: &str) -> Result<&str, FrameError> {
    if sdp.len() > MAX_SDP {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("the SDP offer exceeds {MAX_SDP} bytes"),
        ));
    }
    if !sdp.starts_with("v=0") || !sdp.contains("\nm=") {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            "sdp must be an SDP offer with at least one media section",
        ));
    }
    Ok(sdp)
}

/// A phone number as typed ("+33 6 12-34 (56) 78") to the digits kept ("+33612345678"):
/// an optional leading `+` and 6-15 digits.
///
/// # Errors
/// An `invalid` frame error saying what a number looks like.
/// Most digits one `dtmf` frame may carry.
pub const MAX_DTMF_DIGITS: usize = 16;

/// Keypad digits for a phone: 1-16 of `0-9 * # A-D`.
pub fn dtmf_digits(text: &str) -> Result<String, FrameError> {
    let ok = !text.is_empty()
        && text.len() <= MAX_DTMF_DIGITS
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(FrameError::new(
            ErrorCode::Invalid,
            format!("digits must be 1-{MAX_DTMF_DIGITS} of 0-9, *, # and A-D"),
        ))
    }
}

pub fn phone_number(text: &str) -> Result<String, FrameError> {
    let text = text.trim();
    let bad = || {
        FrameError::new(
            ErrorCode::Invalid,
            "give a phone number such as +1 555 123 4567",
        )
    };
    if text.len() > 32
        || !text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
        || text.chars().skip(1).any(|c| c == '+')
    {
        return Err(bad());
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if !(6..=15).contains(&digits.len()) {
        return Err(bad());
    }
    Ok(if text.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

/// Frames an agent's console sends.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentFrame {
    Status {
        state: AgentStatus,
        #[serde(default)]
        reason: Option<String>,
    },
    Accept {
        contact: i64,
    },
    Decline {
        contact: i64,
    },
    Message {
        contact: i64,
        text: String,
    },
    Typing {
        contact: i64,
        active: bool,
    },
    End {
        contact: i64,
    },
    Wrapup {
        contact: i64,
        code: String,
        #[serde(default)]
        note: Option<String>,
    },
    /// How the callback the agent was reserved for went.
    CallbackResult {
        contact: i64,
        connected: bool,
    },
    /// The agent's browser joins an assigned call with this SDP offer.
    CallSdp {
        contact: i64,
        sdp: String,
    },
    Hold {
        contact: i64,
        on: bool,
    },
    /// Blind transfer to a queue or to a named agent (exactly one).
    Transfer {
        contact: i64,
        #[serde(default)]
        queue: Option<String>,
        #[serde(default)]
        agent: Option<String>,
    },
    /// Asks the visitor's browser to change its audio settings.
    MediaControl {
        contact: i64,
        settings: MediaSettings,
    },
    /// Asks the visitor of a held contact to share their page (co-browse).
    CobrowseRequest {
        contact: i64,
    },
    Ping,
}

pub const AGENT_FRAME_TYPES: &[&str] = &[
    "status",
    "accept",
    "decline",
    "message",
    "typing",
    "end",
    "wrapup",
    "callback_result",
    "call_sdp",
    "hold",
    "transfer",
    "media_control",
    "cobrowse_request",
    "ping",
];

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Available,
    NotReady,
}

/// Error codes of the error frame.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    BadVersion,
    UnknownType,
    TooLarge,
    BadState,
    UnknownTenant,
    Forbidden,
    RateLimited,
    Invalid,
}

/// Conversation state as the visitor sees it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VisitorState {
    Idle,
    Queued,
    Connected,
    Ended,
}

/// Frames sent to a visitor.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToVisitor {
    Welcome {
        resume: String,
        link_name: String,
        available: bool,
        wait_seconds: u64,
        /// Some center serving the link is open now.
        open: bool,
        /// When closed: the next opening, Unix milliseconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_open: Option<i64>,
        state: VisitorState,
        transcript: Vec<Message>,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_name: Option<String>,
        /// Media this link offers besides chat.
        calls: Vec<CallMedia>,
        /// Calls on this link are recorded.
        recording: bool,
        /// The visitor's call in progress, for a tab that (re)connects.
        call: Option<CallInfo>,
        /// The visitor may ask for a number to call from their own phone.
        dial_in: bool,
        /// The cookie and form field names the widget should send in
        /// `context.shared`.
        share: crate::store::ContextShare,
    },
    /// The number to call from the visitor's phone, reserved for this
    /// visitor (and an agent for them) for `expires_in_seconds`; `pin`, when
    /// the tenant allows it, for a call from another caller id to key.
    DialIn {
        number: String,
        expires_in_seconds: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
    },
    Status {
        available: bool,
        wait_seconds: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        open: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_open: Option<i64>,
    },
    /// A callback request is stored; the visitor is called around `at`.
    /// `manage` is the path of the signed page (on this listener) where it
    /// can be moved or cancelled; `position` and `wait_seconds` when it is
    /// in line now.
    CallbackScheduled {
        at: i64,
        manage: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        wait_seconds: Option<u64>,
    },
    /// Sent after `welcome` when the link offers "Call me back" at any
    /// time: the country codes a callback may go to (empty: any but the
    /// risky ranges).
    CallbackOffer {
        countries: Vec<String>,
    },
    /// The times (Unix ms, every 30 minutes while the link's centers are
    /// open, within the next 7 days) a callback may be booked at.
    CallbackSlots {
        slots: Vec<i64>,
    },
    /// The visitor's callback moved in line (or was moved): where it stands.
    CallbackStatus {
        state: &'static str,
        at: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        wait_seconds: Option<u64>,
    },
    /// The visitor's callback is cancelled.
    CallbackCancelled,
    /// The media engine's answer to this connection's `call` offer.
    CallAnswer {
        sdp: String,
    },
    CallState {
        state: CallState,
        media: CallMedia,
        recording: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
        /// The call reaches a phone that listens to keyed digits (`dtmf`).
        keypad: bool,
    },
    MediaControl {
        id: u64,
        settings: MediaSettings,
    },
    /// The agent holding the conversation asks to see the visitor's page;
    /// answered by `cobrowse_code` or `cobrowse_declined`.
    CobrowseRequest,
    /// The phone-side agent keyed a push code: the widget shows a notice and
    /// opens `url` (one of the tenant's push codes, checked http(s)).
    PushPage {
        url: String,
        code: String,
    },
    /// The contact was not taken: `reason` is `closed`, `not_entitled`,
    /// `no_agents` or `unknown_queue`; `message` is for the visitor.
    Unavailable {
        reason: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_open: Option<i64>,
    },
    Queued {
        position: u32,
        wait_seconds: u64,
    },
    Connected {
        agent_name: String,
    },
    Message(Message),
    Typing {
        active: bool,
    },
    Ended {
        by: Sender,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Where a call stands, as the visitor and the agent are told.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Queued,
    Ringing,
    /// Assigned; the agent's media is joining.
    Connecting,
    Connected,
    OnHold,
    Transferring,
    Ended,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct CallInfo {
    pub media: CallMedia,
    pub state: CallState,
    /// As in `call_state`: the call reaches a phone that listens to keys.
    pub keypad: bool,
}

/// Where a transfer may go, listed to consoles at hello.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TransferTargets {
    pub queues: Vec<TransferQueue>,
    pub agents: Vec<AgentInfo>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TransferQueue {
    pub name: String,
}

/// One contact an agent holds, resent after a console reconnects.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HeldContact {
    pub contact: i64,
    pub media: ContactMedia,
    pub state: &'static str,
    pub screenpop: Value,
    pub transcript: Vec<Message>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgentInfo {
    pub name: String,
    pub display_name: String,
}

/// Frames sent to an agent's console.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToAgent {
    Hello {
        agent: AgentInfo,
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        wrapup_codes: Vec<String>,
        contacts: Vec<HeldContact>,
        transfer: TransferTargets,
        /// The tenant lets agents ask for visitor media changes.
        media_control: bool,
    },
    State {
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Offer {
        contact: i64,
        media: ContactMedia,
        expires_in: u64,
        screenpop: Value,
    },
    /// The agent is reserved for a callback: dial `phone` now and answer with
    /// `callback_result`.
    Callback {
        contact: i64,
        phone: String,
        attempt: u32,
        screenpop: Value,
    },
    OfferCancelled {
        contact: i64,
        reason: &'static str,
    },
    Assigned {
        contact: i64,
        media: ContactMedia,
        screenpop: Value,
        transcript: Vec<Message>,
    },
    CallAnswer {
        contact: i64,
        sdp: String,
    },
    CallState {
        contact: i64,
        state: CallState,
        recording: bool,
    },
    MediaControlResult {
        contact: i64,
        id: u64,
        accepted: bool,
        applied: MediaSettings,
    },
    /// The visitor accepted this agent's `cobrowse_request`: join the
    /// co-browse session with `code` (the visitor's consent is given).
    CobrowseCode {
        contact: i64,
        code: String,
    },
    /// The visitor declined this agent's `cobrowse_request`.
    CobrowseDeclined {
        contact: i64,
    },
    Screenpop {
        contact: i64,
        screenpop: Value,
    },
    Message {
        contact: i64,
        #[serde(flatten)]
        message: Message,
    },
    Typing {
        contact: i64,
        active: bool,
    },
    Ended {
        contact: i64,
        by: Sender,
    },
    Wrapped {
        contact: i64,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// A frame with the protocol version added, ready to send.
pub fn encode<T: Serialize>(frame: &T) -> String {
    let mut value = serde_json::to_value(frame).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("v".to_owned(), Value::from(1));
    }
    value.to_string()
}

/// The error frame, the same shape on both WebSockets.
pub fn encode_error(e: FrameError) -> String {
    encode(&ToVisitor::Error {
        code: e.code,
        message: e.message,
    })
}

/// Why a frame could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Parses a client frame: size, JSON, version, known type, then fields.
pub fn parse<T: DeserializeOwned>(text: &str, known_types: &[&str]) -> Result<T, FrameError> {
    if text.len() > MAX_FRAME {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("frame exceeds {MAX_FRAME} bytes"),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new(ErrorCode::BadJson, format!("not JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(FrameError::new(
            ErrorCode::BadJson,
            "frame must be a JSON object",
        ));
    };
    if map.get("v").and_then(Value::as_i64) != Some(1) {
        return Err(FrameError::new(ErrorCode::BadVersion, "\"v\" must be 1"));
    }
    let Some(kind) = map.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err(FrameError::new(ErrorCode::BadJson, "\"type\" is missing"));
    };
    if !known_types.contains(&kind.as_str()) {
        return Err(FrameError::new(
            ErrorCode::UnknownType,
            format!("unknown type {:?}", truncate(&kind, 40)),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| FrameError::new(ErrorCode::BadJson, format!("bad {kind} frame: {e}")))
}

/// Checks and trims a chat text.
pub fn chat_text(text: &str) -> Result<String, FrameError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(FrameError::new(ErrorCode::Invalid, "message is empty"));
    }
    if trimmed.chars().count() > MAX_TEXT_CHARS {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            format!("message is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_digits_are_keypad_keys_only() {
        assert_eq!(dtmf_digits("12#*A").unwrap(), "12#*A");
        for bad in ["", "12x", "1 2", "*76*76*76*76*76*76", "½"] {
            assert_eq!(
                dtmf_digits(bad).unwrap_err().code,
                ErrorCode::Invalid,
                "{bad:?}"
            );
        }
        assert!(matches!(
            visitor(r#"{"v":1,"type":"dtmf","digits":"1"}"#),
            Ok(VisitorFrame::Dtmf { .. })
        ));
        assert!(visitor(r#"{"v":1,"type":"dtmf"}"#).is_err());
    }

    fn visitor(text: &str) -> Result<VisitorFrame, FrameError> {
        parse(text, VISITOR_FRAME_TYPES)
    }

    #[test]
    fn parses_known_frames() {
        assert_eq!(
            visitor(r#"{"v":1,"type":"message","text":"hi"}"#).unwrap(),
            VisitorFrame::Message { text: "hi".into() }
        );
        assert_eq!(
            visitor(r#"{"v":1,"type":"end"}"#).unwrap(),
            VisitorFrame::End
        );
        let hello = visitor(r#"{"v":1,"type":"hello","context":{"url":"http://x/"}}"#).unwrap();
        assert!(matches!(hello, VisitorFrame::Hello { context, .. } if context.url == "http://x/"));
    }

    #[test]
    fn phone_numbers_are_normalised_or_refused() {
        assert_eq!(phone_number(" +1 (555) 123-4567 ").unwrap(), "+15551234567");
        assert_eq!(phone_number("06.12.34.56.78").unwrap(), "0612345678");
        for bad in [
            "",
            "call me",
            "12345",
            "+1 555 +123 4567",
            "1234567890123456",
            "555-1234<script>",
        ] {
            assert_eq!(
                phone_number(bad).unwrap_err().code,
                ErrorCode::Invalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_frames_get_the_right_code() {
        let cases = [
            ("", ErrorCode::BadJson),
            ("{", ErrorCode::BadJson),
            ("[1,2]", ErrorCode::BadJson),
            ("null", ErrorCode::BadJson),
            (r#"{"type":"ping"}"#, ErrorCode::BadVersion),
            (r#"{"v":2,"type":"ping"}"#, ErrorCode::BadVersion),
            (r#"{"v":"1","type":"ping"}"#, ErrorCode::BadVersion),
            (r#"{"v":1}"#, ErrorCode::BadJson),
            (r#"{"v":1,"type":7}"#, ErrorCode::BadJson),
            (
                r#"{"v":1,"type":"launch_missiles"}"#,
                ErrorCode::UnknownType,
            ),
            (r#"{"v":1,"type":"message"}"#, ErrorCode::BadJson),
            (r#"{"v":1,"type":"message","text":5}"#, ErrorCode::BadJson),
            (
                r#"{"v":1,"type":"typing","active":"yes"}"#,
                ErrorCode::BadJson,
            ),
            ("\u{0}\u{1}", ErrorCode::BadJson),
        ];
        for (text, code) in cases {
            assert_eq!(visitor(text).unwrap_err().code, code, "{text:?}");
        }
    }

    #[test]
    fn oversize_frame_is_refused_before_parsing() {
        let big = format!(
            r#"{{"v":1,"type":"message","text":"{}"}}"#,
            "a".repeat(MAX_FRAME)
        );
        assert_eq!(visitor(&big).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn call_frames_parse_and_bad_ones_are_named() {
        let f = visitor(r#"{"v":1,"type":"call","media":"video","sdp":"v=0\r\nm=audio 9"}"#);
        assert!(matches!(
            f,
            Ok(VisitorFrame::Call {
                media: CallMedia::Video,
                ..
            })
        ));
        // Unknown media, missing sdp, unknown setting: the frame is refused, not the connection.
        let e = visitor(r#"{"v":1,"type":"call","media":"fax","sdp":"v=0"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        let e = visitor(r#"{"v":1,"type":"call","media":"voice"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        let e: FrameError = parse::<AgentFrame>(
            r#"{"v":1,"type":"media_control","contact":1,"settings":{"volume":3}}"#,
            AGENT_FRAME_TYPES,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
    }

    #[test]
    fn sdp_offers_are_checked_for_shape_and_size() {
        assert!(
            sdp_offer("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111").is_ok()
        );
        for bad in [
            "",
            "hello",
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n",
            "m=audio 9\nv=0",
        ] {
            assert_eq!(
                sdp_offer(bad).unwrap_err().code,
                ErrorCode::Invalid,
                "{bad:?}"
            );
        }
        let huge = format!("v=0\nm=audio 9\n{}", "a=x\n".repeat(MAX_SDP));
        assert_eq!(sdp_offer(&huge).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn media_settings_are_range_checked() {
        let ok = MediaSettings {
            echo_cancellation: Some(false),
            speaker_volume: Some(0.5),
            ..MediaSettings::default()
        };
        assert!(ok.check().is_ok());
        assert!(MediaSettings::default().check().is_err());
        for bad in [
            MediaSettings {
                mic_gain: Some(2.5),
                ..MediaSettings::default()
            },
            MediaSettings {
                speaker_volume: Some(-0.1),
                ..MediaSettings::default()
            },
            MediaSettings {
                speaker_volume: Some(f32::NAN),
                ..MediaSettings::default()
            },
        ] {
            assert_eq!(bad.check().unwrap_err().code, ErrorCode::Invalid);
        }
    }

    #[test]
    fn agent_frames_parse() {
        let f: AgentFrame = parse(
            r#"{"v":1,"type":"status","state":"not_ready","reason":"lunch"}"#,
            AGENT_FRAME_TYPES,
        )
        .unwrap();
        assert_eq!(
            f,
            AgentFrame::Status {
                state: AgentStatus::NotReady,
                reason: Some("lunch".into())
            }
        );
        let e = parse::<AgentFrame>(
            r#"{"v":1,"type":"status","state":"asleep"}"#,
            AGENT_FRAME_TYPES,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
    }

    #[test]
    fn chat_text_limits() {
        assert!(chat_text("   ").is_err());
        assert!(chat_text(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(chat_text(&"é".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert_eq!(chat_text("  hi ").unwrap(), "hi");
    }

    #[test]
    fn encoded_frames_carry_version_and_type() {
        let s = encode(&ToVisitor::Pong);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["type"], "pong");
        let s = encode(&ToAgent::OfferCancelled {
            contact: 3,
            reason: "timeout",
        });
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["type"], "offer_cancelled");
    }
}
