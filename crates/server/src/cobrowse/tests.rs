//! The hub on its own: a view that does not read is cut off instead of
//! buffered, and sessions whose page or view stays away end after the grace.

use super::*;
use frames::FromAgent;

const TENANT: TenantId = TenantId(7);
const ALICE: UserId = UserId(3);

/// A hub with one session shared with alice: (hub, session id, page
/// connection, page outbox, view connection, view outbox).
fn shared() -> (
    Hub,
    String,
    u64,
    mpsc::Receiver<Out>,
    u64,
    mpsc::Receiver<Out>,
) {
    let hub = Hub::default();
    let (id, page, page_rx, welcome) = hub
        .visitor_hello(TENANT, "http://shop.example", None)
        .unwrap();
    let ToVisitor::Welcome {
        code: Some(code), ..
    } = welcome
    else {
        panic!("a new session has a code: {welcome:?}")
    };
    let (joined, view, view_rx, _) = hub.agent_join(TENANT, ALICE, "Alice", &code, None).unwrap();
    assert_eq!(joined, id);
    hub.visitor_control(&id, page, &FromVisitor::Consent { view: true })
        .unwrap();
    (hub, id, page, page_rx, view, view_rx)
}

fn snapshot(hub: &Hub, id: &str, page: u64, seq: u64) {
    let kind = CaptureKind::Snapshot { last: true };
    hub.capture(id, page, kind, seq, r#"{"type":"snapshot"}"#)
        .unwrap();
}

#[test]
fn a_view_that_does_not_read_is_cut_off_not_buffered() {
    let (hub, id, page, _page_rx, _view, mut view_rx) = shared();
    for seq in 1..=(AGENT_OUTBOX as u64 + 10) {
        snapshot(&hub, &id, page, seq);
    }
    // The outbox held what fit, then the hub let go of the view: the
    // channel ends after the queued frames instead of growing.
    let mut queued = 0;
    while let Ok(Out::Text(_)) = view_rx.try_recv() {
        queued += 1;
    }
    assert_eq!(queued, AGENT_OUTBOX);
    assert!(matches!(
        view_rx.try_recv(),
        Err(mpsc::error::TryRecvError::Disconnected)
    ));
    // The session lives on: the agent can come back with a fresh snapshot.
    let (_, _, reply) = hub.agent_watch(TENANT, ALICE, &id).unwrap();
    assert!(matches!(reply, ToAgent::Sharing { .. }));
}

#[test]
fn sessions_end_when_the_page_stays_away_past_the_grace() {
    let (hub, id, page, _page_rx, _view, mut view_rx) = shared();
    hub.visitor_gone(&id, page);
    sweep(&hub.sessions, Instant::now() + GRACE / 2);
    assert_eq!(hub.len(), 1, "a page load is not the end");
    sweep(&hub.sessions, Instant::now() + GRACE);
    assert!(hub.is_empty());
    let mut last = None;
    while let Ok(out) = view_rx.try_recv() {
        last = Some(out);
    }
    let Some(Out::End(text)) = last else {
        panic!("the view is told: {last:?}")
    };
    assert!(text.contains("visitor_left"), "{text}");
}

#[test]
fn a_view_away_past_the_grace_ends_sharing_for_the_page() {
    let (hub, id, _page, mut page_rx, view, _view_rx) = shared();
    hub.agent_gone(&id, view);
    sweep(&hub.sessions, Instant::now() + GRACE);
    let mut texts = Vec::new();
    while let Ok(Out::Text(t)) = page_rx.try_recv() {
        texts.push(t);
    }
    assert!(texts.iter().any(|t| t.contains("agent_left")), "{texts:?}");
    // Control frames from the gone view are refused.
    let e = hub
        .agent_frame(&id, view, FromAgent::Highlight { id: 1 })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
}

#[test]
fn codes_expire_and_another_tenant_cannot_use_them() {
    let hub = Hub::default();
    let (id, _page, _rx, welcome) = hub
        .visitor_hello(TENANT, "http://shop.example", None)
        .unwrap();
    let ToVisitor::Welcome {
        code: Some(code), ..
    } = welcome
    else {
        panic!("{welcome:?}")
    };
    let other = hub.agent_join(TenantId(8), UserId(9), "Mallory", &code, None);
    assert_eq!(other.err(), Some(CobrowseError::NoSuchCode));
    sweep(&hub.sessions, Instant::now() + CODE_LIFETIME);
    let late = hub.agent_join(TENANT, ALICE, "Alice", &code, None);
    assert_eq!(late.err(), Some(CobrowseError::NoSuchCode));
    assert_eq!(hub.len(), 1, "{id} stays for a new code");
}

#[test]
fn a_full_whiteboard_refuses_more_until_cleared() {
    let (hub, id, _page, _page_rx, view, _view_rx) = shared();
    let dot = || board::Shape {
        k: board::ShapeKind::Pen,
        pts: vec![[0.5, 0.5]],
        c: "#000000".into(),
        text: None,
    };
    for _ in 0..board::MAX_SHAPES {
        hub.agent_frame(&id, view, FromAgent::Draw { shape: dot() })
            .unwrap();
    }
    let full = hub
        .agent_frame(&id, view, FromAgent::Draw { shape: dot() })
        .unwrap_err();
    assert_eq!(full.code, ErrorCode::TooLarge);
    hub.agent_frame(&id, view, FromAgent::Clear).unwrap();
    hub.agent_frame(&id, view, FromAgent::Draw { shape: dot() })
        .unwrap();
}

#[test]
fn supervisors_watch_a_shared_session_of_their_tenant_only_up_to_the_limit() {
    let (hub, id, page, _page_rx, _view, _view_rx) = shared();
    snapshot(&hub, &id, page, 1);
    assert!(matches!(
        hub.supervise(TenantId(8), UserId(20), &id),
        Err(CobrowseError::UnknownSession)
    ));
    let mut watching = Vec::new();
    for n in 0..watch::MAX_WATCHERS {
        let (_, mut rx, _) = hub.supervise(TENANT, UserId(20 + n as i64), &id).unwrap();
        // The replay: the snapshot at once.
        assert!(matches!(rx.try_recv(), Ok(Out::Text(t)) if t.contains("snapshot")));
        watching.push(rx);
    }
    assert!(matches!(
        hub.supervise(TENANT, UserId(99), &id),
        Err(CobrowseError::Full)
    ));
    assert_eq!(hub.shared_sessions(TENANT)[0].watchers, watch::MAX_WATCHERS);
    assert!(hub.shared_sessions(TenantId(8)).is_empty());
}
