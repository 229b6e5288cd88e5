//! docs/protocol.md and the code agree on every message type, both ways.

use std::collections::BTreeSet;

use switchboard::protocol::{AGENT_FRAME_TYPES, VISITOR_FRAME_TYPES};

/// The backticked first-column names of the table under `heading`.
fn table_types(doc: &str, heading: &str) -> BTreeSet<String> {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("heading {heading:?} in protocol.md"));
    doc[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .filter_map(|cell| {
            cell.trim()
                .strip_prefix('`')?
                .strip_suffix('`')
                .map(str::to_owned)
        })
        .collect()
}

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .unwrap()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn inbound_types_match() {
    let doc = doc();
    assert_eq!(
        table_types(&doc, "### Visitor to server"),
        set(VISITOR_FRAME_TYPES)
    );
    assert_eq!(
        table_types(&doc, "### Agent to server"),
        set(AGENT_FRAME_TYPES)
    );
}

/// Every outbound variant, serialized; its `type` must be documented.
#[test]
fn outbound_types_are_documented() {
    use serde_json::Value;
    use switchboard::protocol::{
        AgentInfo, CallState, ErrorCode, MediaSettings, ToAgent, ToVisitor, TransferTargets,
        VisitorState, encode,
    };
    use switchboard::store::{CallMedia, Message, Sender};
    let m = Message {
        from: Sender::Agent,
        text: "t".into(),
        at: 1,
    };
    let visitor = [
        ToVisitor::Welcome {
            resume: String::new(),
            link_name: String::new(),
            available: true,
            wait_seconds: 0,
            open: true,
            next_open: None,
            state: VisitorState::Idle,
            transcript: vec![],
            agent_name: None,
            calls: vec![CallMedia::Voice],
            recording: false,
            call: None,
            dial_in: false,
            share: switchboard::store::ContextShare::default(),
        },
        ToVisitor::DialIn {
            number: String::new(),
            expires_in_seconds: 0,
            pin: Some(String::new()),
        },
        ToVisitor::CallAnswer { sdp: String::new() },
        ToVisitor::CallState {
            state: CallState::Ringing,
            media: CallMedia::Voice,
            recording: false,
            reason: None,
            keypad: false,
        },
        ToVisitor::MediaControl {
            id: 1,
            settings: MediaSettings::default(),
        },
        ToVisitor::CobrowseRequest,
        ToVisitor::PushPage {
            url: String::new(),
            code: String::new(),
        },
        ToVisitor::Status {
            available: true,
            wait_seconds: 0,
            position: None,
            open: true,
            next_open: None,
        },
        ToVisitor::CallbackScheduled {
            at: 1,
            manage: String::new(),
            position: Some(1),
            wait_seconds: Some(1),
        },
        ToVisitor::CallbackOffer { countries: vec![] },
        ToVisitor::CallbackSlots { slots: vec![1] },
        ToVisitor::CallbackStatus {
            state: "waiting",
            at: 1,
            position: None,
            wait_seconds: None,
        },
        ToVisitor::CallbackCancelled,
        ToVisitor::Unavailable {
            reason: "closed",
            message: String::new(),
            next_open: Some(1),
        },
        ToVisitor::Queued {
            position: 1,
            wait_seconds: 0,
        },
        ToVisitor::Connected {
            agent_name: String::new(),
        },
        ToVisitor::Message(m.clone()),
        ToVisitor::Typing { active: true },
        ToVisitor::Ended { by: Sender::Agent },
        ToVisitor::Pong,
        ToVisitor::Error {
            code: ErrorCode::BadJson,
            message: String::new(),
        },
    ];
    let agent = [
        ToAgent::Hello {
            agent: AgentInfo {
                name: String::new(),
                display_name: String::new(),
            },
            state: "offline",
            reason: None,
            wrapup_codes: vec![],
            contacts: vec![],
            transfer: TransferTargets::default(),
            media_control: true,
        },
        ToAgent::State {
            state: "available",
            reason: None,
        },
        ToAgent::Offer {
            contact: 1,
            media: switchboard::store::ContactMedia::Voice,
            expires_in: 1,
            screenpop: Value::Null,
        },
        ToAgent::OfferCancelled {
            contact: 1,
            reason: "timeout",
        },
        ToAgent::Callback {
            contact: 1,
            phone: String::new(),
            attempt: 1,
            screenpop: Value::Null,
        },
        ToAgent::Assigned {
            contact: 1,
            media: switchboard::store::ContactMedia::Voice,
            screenpop: Value::Null,
            transcript: vec![],
        },
        ToAgent::CallAnswer {
            contact: 1,
            sdp: String::new(),
        },
        ToAgent::CallState {
            contact: 1,
            state: CallState::Connected,
            recording: false,
        },
        ToAgent::MediaControlResult {
            contact: 1,
            id: 1,
            accepted: true,
            applied: MediaSettings::default(),
        },
        ToAgent::CobrowseCode {
            contact: 1,
            code: "123456".into(),
        },
        ToAgent::CobrowseDeclined { contact: 1 },
        ToAgent::Screenpop {
            contact: 1,
            screenpop: Value::Null,
        },
        ToAgent::Message {
            contact: 1,
            message: m,
        },
        ToAgent::Typing {
            contact: 1,
            active: true,
        },
        ToAgent::Ended {
            contact: 1,
            by: Sender::Visitor,
        },
        ToAgent::Wrapped { contact: 1 },
        ToAgent::Pong,
        ToAgent::Error {
            code: ErrorCode::BadJson,
            message: String::new(),
        },
    ];
    let kind = |s: String| {
        serde_json::from_str::<Value>(&s).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let doc = doc();
    let visitor_types: BTreeSet<_> = visitor.iter().map(|f| kind(encode(f))).collect();
    let agent_types: BTreeSet<_> = agent.iter().map(|f| kind(encode(f))).collect();
    assert_eq!(table_types(&doc, "### Server to visitor"), visitor_types);
    assert_eq!(table_types(&doc, "### Server to agent"), agent_types);
}
