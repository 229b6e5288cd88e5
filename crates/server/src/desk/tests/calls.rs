//! Calls: a lent routing point that expires, hold, recording.

use media::testclient::{ClientEvent, Shape, TestClient};

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
