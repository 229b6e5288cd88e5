//! Voice calls through the whole server: the visitor and agent protocols over
//! real WebSockets, media through the engine's UDP socket with in-process
//! WebRTC peers (str0m) on loopback. Hold, transfer, recording, listen-in,
//! remote media control, the call's record, and what is refused.

mod common;

use std::time::Duration;

use common::{Staff, Tenant, TestServer, WAIT, Ws, hello};
use media::testclient::{ClientEvent, Shape, TestClient};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// One in-process WebRTC peer and what it saw.
struct Peer {
    client: TestClient,
    events: mpsc::Receiver<ClientEvent>,
}

impl Peer {
    async fn new(shape: Shape) -> (Peer, String) {
        let (client, offer, events) = TestClient::with_channel(shape).await.unwrap();
        (Peer { client, events }, offer)
    }

    async fn answer(&self, frame: &Value) {
        let sdp = frame["sdp"].as_str().expect("an sdp answer");
        self.client
            .accept_answer(sdp)
            .await
            .expect("answer applies");
    }

    async fn next(&mut self) -> ClientEvent {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("a media event within the wait")
            .expect("peer running")
    }

    async fn connected(&mut self) {
        while !matches!(self.next().await, ClientEvent::Connected) {}
    }

    /// Sends `payload` every 20 ms until the other side has it (the first
    /// packets may go out before the bridge has both legs).
    async fn send_until(&self, payload: &[u8], other: &mut Peer, line: usize) -> Vec<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            self.client.send_audio(payload.to_vec()).await;
            let got = tokio::time::timeout(Duration::from_millis(20), other.events.recv()).await;
            if let Ok(Some(ClientEvent::Audio { line: l, data })) = got {
                if l == line && &*data == payload {
                    return seen;
                }
                seen.push(data.to_vec());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{payload:?} never arrived"
            );
        }
    }
}

/// Each side's `tag` reaches the other: the two parties hear each other.
async fn talk(visitor: &mut Peer, agent: &mut Peer, tag: &str) {
    visitor
        .send_until(format!("{tag}-from-visitor").as_bytes(), agent, 0)
        .await;
    agent
        .send_until(format!("{tag}-from-agent").as_bytes(), visitor, 0)
        .await;
}

/// A visitor on `link` who placed a voice call; media connected to the server.
async fn caller(server: &TestServer, tenant: &str, link: &str) -> (Ws, Peer) {
    let (ws, peer, _) = caller_told(server, tenant, link).await;
    (ws, peer)
}

/// As `caller`, with the welcome the visitor was given before calling.
async fn caller_told(server: &TestServer, tenant: &str, link: &str) -> (Ws, Peer, Value) {
    let mut ws = server.visitor(tenant, link).await;
    ws.send(hello("http://shop.example/", None, None)).await;
    let welcome = ws.until_type("welcome").await;
    assert!(
        welcome["calls"]
            .as_array()
            .unwrap()
            .contains(&json!("voice")),
        "{welcome}"
    );
    let (mut peer, offer) = Peer::new(Shape::Party { video: false }).await;
    ws.send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let answer = ws.until_type("call_answer").await;
    peer.answer(&answer).await;
    peer.connected().await;
    ws.until("call_state", |f| f["state"] == "queued").await;
    (ws, peer, welcome)
}

/// The agent takes the offered call and joins its media.
async fn answer_call(console: &mut Ws) -> (i64, Peer) {
    let offer = console.until_type("offer").await;
    assert_eq!(offer["media"], "voice");
    let contact = offer["contact"].as_i64().unwrap();
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    let assigned = console.until_type("assigned").await;
    assert_eq!(assigned["media"], "voice");
    assert!(assigned["screenpop"].is_object());
    let (mut peer, sdp) = Peer::new(Shape::Party { video: false }).await;
    console
        .send(json!({"type": "call_sdp", "contact": contact, "sdp": sdp}))
        .await;
    let answer = console.until_type("call_answer").await;
    assert_eq!(answer["contact"], contact);
    peer.answer(&answer).await;
    peer.connected().await;
    console
        .until("call_state", |f| f["state"] == "connected")
        .await;
    (contact, peer)
}

/// A demo sales call answered by alice, both parties' media connected.
struct Connected {
    console: Ws,
    visitor: Ws,
    caller_media: Peer,
    agent_media: Peer,
    contact: i64,
}

async fn connected_call(server: &TestServer) -> Connected {
    let (_alice, mut console) = server.ready_agent("alice").await;
    let (mut visitor, caller_media) = caller(server, "demo", "sales").await;
    let (contact, agent_media) = answer_call(&mut console).await;
    visitor
        .until("call_state", |f| f["state"] == "connected")
        .await;
    Connected {
        console,
        visitor,
        caller_media,
        agent_media,
        contact,
    }
}

async fn record(staff: &Staff, contact: i64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = staff.get(&format!("/api/v1/contacts/{contact}")).await;
        if status == 200 && pred(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "record: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_call_connects_both_ways_holds_and_leaves_a_record() {
    let server = TestServer::start().await;
    let Connected {
        mut console,
        mut visitor,
        mut caller_media,
        mut agent_media,
        contact,
    } = connected_call(&server).await;

    talk(&mut caller_media, &mut agent_media, "first").await;

    // On hold nothing passes either way; after resuming it does again.
    console
        .send(json!({"type": "hold", "contact": contact, "on": true}))
        .await;
    visitor
        .until("call_state", |f| f["state"] == "on_hold")
        .await;
    console
        .until("call_state", |f| f["state"] == "on_hold")
        .await;
    // Both talk through the hold for a second. The packets of the last 200 ms
    // may still be on their way through the peers' tasks when the resume
    // arrives, so only the earlier ones ("held") must never arrive.
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for n in 0..50 {
        tick.tick().await;
        let payload: &[u8] = if n < 40 { b"held" } else { b"held-late" };
        caller_media.client.send_audio(payload.to_vec()).await;
        agent_media.client.send_audio(payload.to_vec()).await;
    }
    console
        .send(json!({"type": "hold", "contact": contact, "on": false}))
        .await;
    visitor
        .until("call_state", |f| f["state"] == "connected")
        .await;
    let seen = caller_media
        .send_until(b"visitor-2", &mut agent_media, 0)
        .await;
    assert!(
        !seen.iter().any(|p| p == b"held"),
        "held audio reached the agent"
    );
    let seen = agent_media
        .send_until(b"agent-2", &mut caller_media, 0)
        .await;
    assert!(
        !seen.iter().any(|p| p == b"held"),
        "held audio reached the visitor"
    );

    // The visitor hangs up: both told, the agent owes a wrap-up.
    visitor.send(json!({"type": "end"})).await;
    visitor.until("call_state", |f| f["state"] == "ended").await;
    console.until_type("ended").await;
    console
        .send(json!({"type": "wrapup", "contact": contact, "code": "resolved"}))
        .await;
    console.until_type("wrapped").await;

    let boss = server.demo_staff("sam").await;
    let body = record(&boss, contact, |r| r["state"] == "closed").await;
    assert_eq!(body["media"], "voice");
    assert_eq!(body["outcome"], "answered");
    assert_eq!(body["call"]["transfers"], 0);
    assert!(body["call"]["recording"].is_null(), "sales does not record");
    assert!(body["call"]["talk_seconds"].as_i64().unwrap() >= 0);
}

/// Two queues with their own agents, and a second front agent, for transfers.
fn desks() -> Tenant {
    Tenant::new("desks")
        .queue("front", |q| q)
        // The most skilled free agent first: amy, were she not the one
        // transferring.
        .queue("back", |q| q.strategy("most-skilled"))
        .link_with("front", "front", |l| l.calls(&["voice"]))
        .agent_with("amy", |a| a.skill_level("front", 5).skill_level("back", 9))
        .agent("cat", &["front"])
        .agent_with("ben", |a| a.skill_level("back", 3))
        .supervisor("boss")
}

async fn desks_agent(server: &TestServer, name: &str) -> Ws {
    let staff = server.staff("desks", name, &format!("pw-{name}")).await;
    let mut console = server.console(&staff).await;
    let hello = console.until_type("hello").await;
    assert!(
        hello["transfer"]["queues"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "back"})),
        "{hello}"
    );
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    console
}

#[tokio::test]
async fn a_transfer_reaches_the_next_agent_with_the_screen_pop() {
    let server = TestServer::builder().tenant(&desks()).start().await;
    let mut amy = desks_agent(&server, "amy").await;
    let (mut visitor, mut caller_media) = caller(&server, "desks", "front").await;
    let (contact, _amy_media) = answer_call(&mut amy).await;

    // To a queue: ben, the back office, gets the same contact, although amy
    // serves that queue too, is free again and more skilled: the one who
    // transferred is passed over.
    let mut ben = desks_agent(&server, "ben").await;
    amy.send(json!({"type": "transfer", "contact": contact, "queue": "back"}))
        .await;
    amy.until("wrapped", |f| f["contact"] == contact).await;
    visitor
        .until("call_state", |f| f["state"] == "transferring")
        .await;
    let (again, mut ben_media) = answer_call(&mut ben).await;
    assert_eq!(again, contact, "the same contact, not a new one");
    talk(&mut caller_media, &mut ben_media, "ben").await;

    // To a named agent: cat, although amy is free again and qualified.
    let mut cat = desks_agent(&server, "cat").await;
    ben.send(json!({"type": "transfer", "contact": contact, "agent": "cat"}))
        .await;
    ben.until("wrapped", |f| f["contact"] == contact).await;
    let (again, mut cat_media) = answer_call(&mut cat).await;
    assert_eq!(again, contact);
    caller_media.send_until(b"to-cat", &mut cat_media, 0).await;

    // Nobody by that name; an unknown queue; both at once.
    for bad in [
        json!({"agent": "nobody"}),
        json!({"queue": "nowhere"}),
        json!({"queue": "back", "agent": "ben"}),
    ] {
        let mut frame = bad.clone();
        frame["type"] = json!("transfer");
        frame["contact"] = json!(contact);
        cat.send(frame).await;
        assert_eq!(cat.until_type("error").await["code"], "invalid", "{bad}");
    }

    // By name to ben, who serves only the back queue: it goes through that
    // queue (the front one would never offer it to him).
    cat.send(json!({"type": "transfer", "contact": contact, "agent": "ben"}))
        .await;
    cat.until("wrapped", |f| f["contact"] == contact).await;
    let (again, mut ben_media) = answer_call(&mut ben).await;
    assert_eq!(again, contact);
    caller_media
        .send_until(b"back-to-ben", &mut ben_media, 0)
        .await;

    ben.send(json!({"type": "end", "contact": contact})).await;
    ben.until_type("ended").await;
    let boss = server.staff("desks", "boss", "pw-boss").await;
    let body = record(&boss, contact, |r| r["call"]["transfers"] == 3).await;
    assert_eq!(body["agent"], "ben");
}

#[tokio::test]
async fn a_recorded_call_is_told_recorded_and_served_to_the_tenants_supervisors() {
    let server = TestServer::start().await;
    let (_bob, mut console) = server.ready_agent("bob").await;
    let (mut ws, mut caller_media, welcome) = caller_told(&server, "demo", "support").await;
    assert_eq!(welcome["recording"], true, "told before the call connects");
    let (contact, mut agent_media) = answer_call(&mut console).await;
    ws.until("call_state", |f| {
        f["state"] == "connected" && f["recording"] == true
    })
    .await;
    // The recorder starts once the record naming its files has committed
    // (desk/calls/recording.rs); a call ended before that is not recorded.
    let boss = server.demo_staff("sam").await;
    record(&boss, contact, |r| !r["call"]["recording"].is_null()).await;
    talk(&mut caller_media, &mut agent_media, "recorded").await;
    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    console.until_type("ended").await;

    let body = record(&boss, contact, |r| {
        r["state"] != "connected" && !r["call"]["recording"].is_null()
    })
    .await;
    for party in ["visitor", "agent"] {
        let url = body["call"]["recording"][party]
            .as_str()
            .unwrap()
            .to_owned();
        let response = boss
            .client
            .get(format!("{}{url}", boss.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{party}");
        assert_eq!(response.headers()["content-type"], "audio/ogg");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(b"OggS"), "{party} is an Ogg file");
        assert!(
            bytes.windows(8).any(|w| w == b"OpusHead"),
            "{party} carries Opus"
        );
    }
    // An agent may not download recordings; a made-up party is not found.
    let (status, _) = server
        .demo_staff("alice")
        .await
        .get(&format!("/api/v1/contacts/{contact}/recordings/visitor"))
        .await;
    assert_eq!(status, 403);
    let (status, _) = boss
        .get(&format!(
            "/api/v1/contacts/{contact}/recordings/..%2Fswitchboard.db"
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_supervisor_listens_in_unheard() {
    let server = TestServer::start().await;
    // Every part stays bound: a dropped socket or peer would end the call.
    let Connected {
        console: _console,
        visitor: _visitor,
        caller_media,
        mut agent_media,
        contact,
    } = connected_call(&server).await;

    let boss = server.demo_staff("sam").await;
    let (status, live) = boss.get("/api/v1/live").await;
    assert_eq!(status, 200);
    assert_eq!(live["calls"][0]["contact"], contact, "{live}");
    let (mut listener, offer) = Peer::new(Shape::Listener { lines: 2 }).await;
    let (status, answer) = boss
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/calls/{contact}/listen"),
            json!({"sdp": offer}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    listener.answer(&answer).await;
    listener.connected().await;

    // Line 0 carries the visitor, line 1 the agent.
    caller_media.send_until(b"v-heard", &mut listener, 0).await;
    agent_media.send_until(b"a-heard", &mut listener, 1).await;
    // What the listener sends reaches no one: the agent hears the visitor's
    // marker next, never the listener's.
    for _ in 0..10 {
        listener.client.send_audio(b"whisper".to_vec()).await;
    }
    let seen = caller_media
        .send_until(b"v-after", &mut agent_media, 0)
        .await;
    assert!(!seen.iter().any(|p| p == b"whisper"));

    // Another tenant's call id is not found; a bad offer is a 400.
    let (status, _) = boss
        .send(
            reqwest::Method::POST,
            "/api/v1/calls/999999/listen",
            json!({"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = boss
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/calls/{contact}/listen"),
            json!({"sdp": "not sdp"}),
        )
        .await;
    assert_eq!(status, 400);
    let leg = answer["leg"].as_u64().unwrap();
    let (status, _) = boss
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/calls/{contact}/listen/{leg}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn remote_media_control_goes_to_the_visitor_and_back() {
    let server = TestServer::start().await;
    let Connected {
        mut console,
        mut visitor,
        caller_media: _caller_media,
        agent_media: _agent_media,
        contact,
    } = connected_call(&server).await;

    console
        .send(json!({"type": "media_control", "contact": contact,
            "settings": {"speaker_volume": 3.0}}))
        .await;
    let e = console.until_type("error").await;
    assert_eq!(e["code"], "invalid");
    console
        .send(json!({"type": "media_control", "contact": contact,
            "settings": {"echo_cancellation": false, "speaker_volume": 0.5}}))
        .await;
    let request = visitor.until_type("media_control").await;
    assert_eq!(request["settings"]["echo_cancellation"], false);
    let id = request["id"].as_u64().unwrap();
    visitor
        .send(
            json!({"type": "media_control_result", "id": id, "accepted": true,
            "applied": {"echo_cancellation": false, "speaker_volume": 0.5}}),
        )
        .await;
    let result = console.until_type("media_control_result").await;
    assert_eq!(result["accepted"], true);
    assert_eq!(result["applied"]["speaker_volume"], 0.5);
    // An answer to a request never made is refused.
    visitor
        .send(json!({"type": "media_control_result", "id": 77, "accepted": true}))
        .await;
    assert_eq!(visitor.until_type("error").await["code"], "invalid");
}

/// One call at a time, three an hour per client address, voice only, and no
/// remote media control.
fn limited() -> Tenant {
    Tenant::help_desk("tiny")
        .calls(|c| {
            c.media_control(false)
                .max_concurrent(1)
                .attempts_per_hour(3)
        })
        .link_with("help", "help", |l| l.calls(&["voice"]))
}

#[tokio::test]
async fn bad_offers_and_limits_are_refused_with_a_reason() {
    let server = TestServer::builder().tenant(&limited()).start().await;
    let mut ws = server.visitor("tiny", "help").await;
    ws.send(hello("http://shop.example/", None, None)).await;
    ws.until_type("welcome").await;
    // Video is not offered on this link; garbage is not an offer.
    let (_peer, offer) = Peer::new(Shape::Party { video: true }).await;
    ws.send(json!({"type": "call", "media": "video", "sdp": offer}))
        .await;
    assert_eq!(ws.until_type("error").await["code"], "forbidden");
    for sdp in ["", "v=0\r\nno media", "v=0\r\nm=audio banana\r\n"] {
        ws.send(json!({"type": "call", "media": "voice", "sdp": sdp}))
            .await;
        assert_eq!(ws.until_type("error").await["code"], "invalid", "{sdp:?}");
    }
    // One call at a time for this tenant.
    let (mut first, _) = caller(&server, "tiny", "help").await;
    let (_peer, offer) = Peer::new(Shape::Party { video: false }).await;
    ws.send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let e = ws.until_type("error").await;
    assert_eq!(e["code"], "rate_limited", "{e}");
    // A visitor with a call open cannot place another.
    let (_peer, offer) = Peer::new(Shape::Party { video: false }).await;
    first
        .send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    assert_eq!(first.until_type("error").await["code"], "bad_state");
    first.send(json!({"type": "end"})).await;
    first.until("call_state", |f| f["state"] == "ended").await;
    // Three calls an hour per address here, and an offer the engine could
    // not answer was one of them (it cost the server as much): the second
    // call goes through (the line is free again), the third is refused.
    let (_peer, offer) = Peer::new(Shape::Party { video: false }).await;
    first
        .send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let second = loop {
        let f = first.next().await;
        if f["type"] == "call_answer" || f["type"] == "error" {
            break f;
        }
    };
    assert_eq!(second["type"], "call_answer", "{second}");
    first.send(json!({"type": "end"})).await;
    first.until("call_state", |f| f["state"] == "ended").await;
    let (_peer, offer) = Peer::new(Shape::Party { video: false }).await;
    first
        .send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let e = first.until_type("error").await;
    assert_eq!(e["code"], "rate_limited", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("too many calls"),
        "{e}"
    );
    // Counted per address, not per session: a fresh page from the same
    // address (a new resume token) is refused too.
    let mut fresh = server.visitor("tiny", "help").await;
    fresh.send(hello("http://shop.example/", None, None)).await;
    fresh.until_type("welcome").await;
    let (_peer, offer) = Peer::new(Shape::Party { video: false }).await;
    fresh
        .send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    assert_eq!(fresh.until_type("error").await["code"], "rate_limited");
}

#[tokio::test]
async fn a_call_whose_media_never_connects_ends() {
    let server = TestServer::start().await;
    let mut ws = server.visitor("demo", "sales").await;
    ws.send(hello("http://shop.example/", None, None)).await;
    ws.until_type("welcome").await;
    // A valid offer from a peer that never answers ICE: the leg times out
    // (3 s in tests) and the contact ends.
    let (peer, offer) = Peer::new(Shape::Party { video: false }).await;
    drop(peer);
    ws.send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    ws.until_type("call_answer").await;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let f = ws.next().await;
            if f["type"] == "call_state" && f["state"] == "ended" {
                return f;
            }
        }
    })
    .await
    .expect("the call ends when its media never connects");
    assert_eq!(ended["reason"], "media_failed");
}

#[tokio::test]
async fn a_call_waiting_at_a_restart_is_closed_not_routed_again() {
    let server = TestServer::start().await;
    let (ws, _peer) = caller(&server, "demo", "sales").await;
    drop(ws);
    let server = server.restart().await;
    // Its media died with the process: the record is closed, and an agent who
    // comes online is offered nothing.
    let boss = server.demo_staff("sam").await;
    let (_, list) = boss.get("/api/v1/contacts").await;
    let call = list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["media"] == "voice")
        .cloned()
        .expect("the call's record");
    assert_eq!(call["state"], "closed", "{call}");
    assert_eq!(call["outcome"], "closed", "{call}");
    let (_, live) = boss.get("/api/v1/live").await;
    assert!(
        live["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["waiting"] == 0),
        "{live}"
    );
}
