//! Calls: a lent routing point that expires, hold, recording.

use media::testclient::{ClientEvent, Shape, TestClient};
use tokio::sync::mpsc;

use super::*;

/// A tenant lending one routing point for `ROUTING_POINT_HOLD`.
const DIAL_IN_TENANT: &str = r#"
[tenant]
slug = "dialco"
name = "Dial Co"

[[queues]]
name = "desk"
skill = "desk"

[[links]]
slug = "desk"
name = "Phone Desk"
queue = "desk"
calls = ["voice"]
dial_in = true

[[agents]]
name = "kim"
skills = ["desk"]

[phone]
routing_points = ["+4930111222"]
routing_point_hold_secs = 10
"#;

const ROUTING_POINT_HOLD: Duration = Duration::from_secs(10);

#[test]
fn a_routing_point_not_called_in_time_ends_the_contact_and_is_lent_again() {
    run(
        seeded(Some(DIAL_IN_TENANT), &["kim"]),
        true,
        |center| async move {
            let mut kim = center.agent("kim", true).await;
            let mut visitor = center.visitor("desk", None).await;
            visitor
                .send(json!({"type": "dial_in", "phone": "+4930555000"}))
                .await;
            let lent = visitor.next("dial_in").await;
            assert_eq!(lent["number"], "+4930111222");
            assert_eq!(lent["expires_in_seconds"], ROUTING_POINT_HOLD.as_secs());
            let lent_at = Instant::now();
            // The agent is reserved for the call, told which number it comes in on.
            let offer = kim.next("offer").await;
            assert_eq!(offer["screenpop"]["dial_in"]["number"], "+4930111222");
            let contact = offer["contact"].as_i64().expect("contact");
            // Nobody calls: the visitor hears why the call ended, within a tick.
            let ended = visitor.until("call_state", |f| f["state"] == "ended").await;
            assert_eq!(ended["reason"], "expired");
            let waited = lent_at.elapsed();
            assert!(
                waited >= ROUTING_POINT_HOLD
                    && waited <= ROUTING_POINT_HOLD + Duration::from_secs(2),
                "expired after {waited:?}"
            );
            kim.until("offer_cancelled", |f| f["contact"] == contact)
                .await;
            center.record_until(contact, |r| r.state == "closed").await;
            // The number is free for the next visitor.
            let mut next = center.visitor("desk", None).await;
            next.send(json!({"type": "dial_in", "phone": "+4930555001"}))
                .await;
            assert_eq!(next.next("dial_in").await["number"], "+4930111222");
        },
    );
}

/// One in-process WebRTC peer (a browser's part) and what it saw.
struct Peer {
    client: TestClient,
    events: mpsc::Receiver<ClientEvent>,
}

impl Peer {
    async fn new() -> (Peer, String) {
        let (client, offer, events) = TestClient::with_channel(Shape::Party { video: false })
            .await
            .expect("a peer on loopback");
        (Peer { client, events }, offer)
    }

    /// Applies the server's answer and waits for the media to connect.
    async fn connect(&mut self, answer: &Value) {
        let sdp = answer["sdp"].as_str().expect("an sdp answer");
        self.client
            .accept_answer(sdp)
            .await
            .expect("answer applies");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("media connected in time")
                .expect("peer running");
            if matches!(event, ClientEvent::Connected) {
                return;
            }
        }
    }
}

/// A visitor on `link` who placed a voice call, its media connected.
async fn caller(center: &Center, link: &str) -> (Visitor, Peer) {
    let mut visitor = center.visitor(link, None).await;
    let (mut peer, offer) = Peer::new().await;
    visitor
        .send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let answer = visitor.next("call_answer").await;
    peer.connect(&answer).await;
    visitor
        .until("call_state", |f| f["state"] == "queued")
        .await;
    (visitor, peer)
}

/// The agent accepts the offered call and joins its media; returns the contact.
async fn answer_call(agent: &mut Agent) -> (i64, Peer) {
    let contact = agent.accept().await;
    let peer = join_media(agent, contact).await;
    (contact, peer)
}

/// The agent's console joins the media of the call it accepted, and the
/// call connects.
async fn join_media(agent: &mut Agent, contact: i64) -> Peer {
    let (mut peer, offer) = Peer::new().await;
    agent
        .send(json!({"type": "call_sdp", "contact": contact, "sdp": offer}))
        .await;
    let answer = agent
        .until("call_answer", |f| f["contact"] == contact)
        .await;
    peer.connect(&answer).await;
    agent
        .until("call_state", |f| {
            f["contact"] == contact && f["state"] == "connected"
        })
        .await;
    peer
}

#[test]
fn a_recorded_call_names_its_recording_in_the_record_as_soon_as_it_connects() {
    run(seeded(None, &["bob"]), true, |center| async move {
        let mut bob = center.agent("bob", true).await;
        // The demo's support link records its calls.
        let (mut visitor, _caller_media) = caller(&center, "support").await;
        let (contact, _agent_media) = answer_call(&mut bob).await;
        visitor
            .until("call_state", |f| {
                f["state"] == "connected" && f["recording"] == true
            })
            .await;
        let stem = format!("{}/{contact}", center.tenant.id.0);
        // Stored while the call is still on, before anything else is written.
        center
            .record_until(contact, |r| {
                r.call.as_ref().and_then(|c| c.recording.as_deref()) == Some(stem.as_str())
            })
            .await;
        // The files are there, and the record named them first: the
        // recorder starts only once the link is stored.
        for party in ["visitor", "agent"] {
            let file = center.recordings.join(format!("{stem}-{party}.ogg"));
            let until = Instant::now() + PATIENCE;
            while !file.exists() {
                assert!(Instant::now() < until, "{} never appeared", file.display());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        visitor.send(json!({"type": "end"})).await;
        bob.until("ended", |f| f["contact"] == contact).await;
        center
            .record_until(contact, |r| {
                r.state == "wrapup"
                    && r.call.as_ref().and_then(|c| c.recording.as_deref()) == Some(stem.as_str())
            })
            .await;
    });
}

/// Asks the desk to put `contact` on hold (or take it off).
async fn hold(agent: &Agent, contact: i64, on: bool) {
    agent
        .send(json!({"type": "hold", "contact": contact, "on": on}))
        .await;
}

#[test]
fn an_agent_holds_a_call_and_resumes_it_and_the_record_keeps_hold_and_talk_time_apart() {
    // Short: with live WebRTC peers the paused clock keeps pace with the real
    // one (the peers time their work by the system clock, so tokio's never
    // finds the runtime idle for long enough to jump ahead of it).
    const TALK: Duration = Duration::from_secs(1);
    const HOLD: Duration = Duration::from_secs(3);
    run(seeded(None, &["alice"]), true, |center| async move {
        let mut alice = center.agent("alice", true).await;
        let (mut visitor, _caller_media) = caller(&center, "sales").await;
        // Accepted, but the agent's media is not up yet: nothing to hold.
        let contact = alice.accept().await;
        hold(&alice, contact, true).await;
        let refused = alice.next("error").await;
        assert_eq!(
            (refused["code"].as_str(), refused["message"].as_str()),
            (Some("bad_state"), Some("the call is not connected yet"))
        );
        let _agent_media = join_media(&mut alice, contact).await;
        visitor
            .until("call_state", |f| f["state"] == "connected")
            .await;
        tokio::time::sleep(TALK).await;

        // On hold: both sides are told (the visitor's window plays its hold
        // tone on this frame).
        hold(&alice, contact, true).await;
        let held = visitor
            .until("call_state", |f| f["state"] == "on_hold")
            .await;
        assert_eq!(
            (&held["media"], &held["recording"], &held["keypad"]),
            (&json!("voice"), &json!(false), &json!(false))
        );
        alice
            .until("call_state", |f| {
                f["contact"] == contact && f["state"] == "on_hold"
            })
            .await;
        tokio::time::sleep(HOLD).await;

        // Resumed: both told again.
        hold(&alice, contact, false).await;
        visitor
            .until("call_state", |f| f["state"] == "connected")
            .await;
        alice
            .until("call_state", |f| {
                f["contact"] == contact && f["state"] == "connected"
            })
            .await;
        tokio::time::sleep(TALK).await;

        // The visitor hangs up: the record has the hold time and, apart from
        // it, the talk time on either side of it.
        visitor.send(json!({"type": "end"})).await;
        alice.until("ended", |f| f["contact"] == contact).await;
        center
            .record_until(contact, |r| r.state == "wrapup" && r.call.is_some())
            .await;
        let call = center
            .store
            .contact(ContactId(contact))
            .and_then(|r| r.call)
            .expect("call record");
        let ms = |d: Duration| i64::try_from(d.as_millis()).expect("ms");
        let slack = ms(Duration::from_millis(500));
        assert!(
            call.hold_ms >= ms(HOLD) && call.hold_ms < ms(HOLD) + slack,
            "hold {} ms",
            call.hold_ms
        );
        assert!(
            call.talk_ms >= ms(2 * TALK) && call.talk_ms < ms(2 * TALK) + slack,
            "talk {} ms",
            call.talk_ms
        );
        assert_eq!((call.transfers, call.recording), (0, None));
    });
}
