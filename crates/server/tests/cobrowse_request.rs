//! Co-browse from an open contact over real sockets: the agent holding a chat
//! asks, the visitor's tab is asked (with nothing it did not know), the
//! visitor's join code or refusal reaches that agent only, and the code joins
//! the relay. Requests for contacts the agent does not hold, and codes that
//! are not six digits, are refused with clear errors.

mod common;

use common::{TestServer, Ws};
use serde_json::{Value, json};

/// Alice holds a chat from a visitor on the demo `sales` link; bob is signed
/// in beside her (not ready, so the chat cannot go to him).
struct Held {
    alice: Ws,
    bob: Ws,
    visitor: Ws,
    contact: i64,
}

async fn held_chat(server: &TestServer) -> Held {
    let bob_staff = server.demo_staff("bob").await;
    let mut bob = server.console(&bob_staff).await;
    bob.until_type("hello").await;
    let (_alice, mut alice) = server.ready_agent("alice").await;
    let mut visitor = server.open_chat("sales", "Can you look at my cart?").await;
    let offer = alice.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    alice
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    alice.until_type("assigned").await;
    visitor.until_type("connected").await;
    Held {
        alice,
        bob,
        visitor,
        contact,
    }
}

impl Held {
    /// Alice asks to see the page; the visitor's tab is asked.
    async fn ask(&mut self) -> Value {
        self.alice
            .send(json!({"type": "cobrowse_request", "contact": self.contact}))
            .await;
        self.visitor.until_type("cobrowse_request").await
    }
}

/// The frames a console receives until a ping of its own comes back: the desk
/// handles frames in order, so anything meant for it is in this list.
async fn frames_until_pong(console: &mut Ws) -> Vec<Value> {
    console.send(json!({"type": "ping"})).await;
    let mut seen = Vec::new();
    loop {
        let frame = console.next().await;
        if frame["type"] == "pong" {
            return seen;
        }
        seen.push(frame);
    }
}

/// The visitor's page opens its co-browse socket, as the widget does on
/// accept: (page socket, join code).
async fn open_share(server: &TestServer) -> (Ws, String) {
    let url = format!("{}/ws/cobrowse?tenant=demo", server.public_ws());
    let mut page = Ws::connect(&url, Some(&server.public), None).await;
    page.send(json!({"type": "hello"})).await;
    let welcome = page.until_type("welcome").await;
    let code = welcome["code"].as_str().unwrap().to_owned();
    (page, code)
}

#[tokio::test]
async fn accepted_request_brings_the_code_to_the_holding_agent_who_joins_with_it() {
    let server = TestServer::start().await;
    let mut held = held_chat(&server).await;
    let asked = held.ask().await;
    let Held {
        mut alice,
        mut bob,
        mut visitor,
        contact,
    } = held;
    // Only the version and the type: nothing the visitor did not have.
    assert_eq!(asked.as_object().unwrap().len(), 2, "{asked}");

    let (mut page, code) = open_share(&server).await;
    visitor
        .send(json!({"type": "cobrowse_code", "code": code}))
        .await;
    let told = alice.until_type("cobrowse_code").await;
    assert_eq!(
        (told["contact"].as_i64(), told["code"].as_str()),
        (Some(contact), Some(code.as_str()))
    );
    let bob_saw = frames_until_pong(&mut bob).await;
    assert!(
        bob_saw.iter().all(|f| f["type"] != "cobrowse_code"),
        "{bob_saw:?}"
    );

    // Alice's console joins the relay with the code; the page is asked (the
    // widget answers for the visitor, who accepted already) and shares.
    let staff = server.demo_staff("alice").await;
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut view = Ws::connect(&view_url, Some(&server.agent), Some(&staff.cookie)).await;
    view.send(json!({"type": "join", "code": code})).await;
    view.until_type("joined").await;
    assert_eq!(
        page.until_type("join_request").await["agent_name"],
        "Alice Adams"
    );
    page.send(json!({"type": "consent", "view": true})).await;
    page.until_type("snapshot_request").await;
    view.until_type("sharing").await;
    page.send(
        json!({"type": "snapshot", "seq": 1, "part": 0, "last": true, "w": 800, "h": 600,
        "url": "http://shop.example/cart", "adds": [{"i": 1, "p": 0, "t": 3, "x": "your cart"}]}),
    )
    .await;
    assert_eq!(
        view.until_type("snapshot").await["adds"][0]["x"],
        "your cart"
    );
}

#[tokio::test]
async fn a_declined_request_is_told_to_the_agent() {
    let server = TestServer::start().await;
    let mut held = held_chat(&server).await;
    held.ask().await;
    held.visitor
        .send(json!({"type": "cobrowse_declined"}))
        .await;
    let declined = held.alice.until_type("cobrowse_declined").await;
    assert_eq!(declined["contact"].as_i64(), Some(held.contact));
}

#[tokio::test]
async fn requests_for_contacts_not_held_are_forbidden() {
    let server = TestServer::start().await;
    let Held {
        mut alice,
        mut bob,
        mut visitor,
        contact,
    } = held_chat(&server).await;
    // Another agent's contact, and a contact that does not exist.
    bob.send(json!({"type": "cobrowse_request", "contact": contact}))
        .await;
    let e = bob.until_type("error").await;
    assert_eq!(e["code"], "forbidden", "{e}");
    assert_eq!(e["message"], "you do not hold that contact");
    alice
        .send(json!({"type": "cobrowse_request", "contact": contact + 1000}))
        .await;
    assert_eq!(alice.until_type("error").await["code"], "forbidden");
    // Malformed: no contact, a contact that is not a number.
    alice.send(json!({"type": "cobrowse_request"})).await;
    assert_eq!(alice.until_type("error").await["code"], "bad_json");
    alice
        .send(json!({"type": "cobrowse_request", "contact": "1"}))
        .await;
    assert_eq!(alice.until_type("error").await["code"], "bad_json");
    // The visitor was never asked.
    visitor.send(json!({"type": "ping"})).await;
    loop {
        let f = visitor.next().await;
        assert_ne!(f["type"], "cobrowse_request", "{f}");
        if f["type"] == "pong" {
            break;
        }
    }
    // Once the chat ended, the agent holds it only for wrap-up: no request.
    alice.send(json!({"type": "end", "contact": contact})).await;
    alice.until_type("ended").await;
    alice
        .send(json!({"type": "cobrowse_request", "contact": contact}))
        .await;
    assert_eq!(alice.until_type("error").await["code"], "bad_state");
}

#[tokio::test]
async fn visitor_codes_must_be_six_digits_and_need_a_held_conversation() {
    let server = TestServer::start().await;
    // No conversation open yet.
    let mut lone = server.visitor("demo", "sales").await;
    lone.send(common::hello("http://shop.example/", None, None))
        .await;
    lone.until_type("welcome").await;
    lone.send(json!({"type": "cobrowse_code", "code": "123456"}))
        .await;
    assert_eq!(lone.until_type("error").await["code"], "bad_state");
    lone.send(json!({"type": "cobrowse_declined"})).await;
    assert_eq!(lone.until_type("error").await["code"], "bad_state");

    let Held {
        mut alice,
        mut visitor,
        contact,
        ..
    } = held_chat(&server).await;
    for bad in ["12345", "1234567", "12345a", "١٢٣٤٥٦", "", " 12345"] {
        visitor
            .send(json!({"type": "cobrowse_code", "code": bad}))
            .await;
        let e = visitor.until_type("error").await;
        assert_eq!(e["code"], "invalid", "{bad:?}: {e}");
        assert_eq!(e["message"], "a co-browse join code is six digits");
    }
    for bad in [
        json!({"type": "cobrowse_code"}),
        json!({"type": "cobrowse_code", "code": 123_456}),
    ] {
        visitor.send(bad).await;
        assert_eq!(visitor.until_type("error").await["code"], "bad_json");
    }
    // None of it reached the agent.
    let seen = frames_until_pong(&mut alice).await;
    assert!(
        seen.iter().all(|f| f["type"] != "cobrowse_code"),
        "{seen:?}"
    );
    // After the agent ends the chat, nobody holds it live: refused.
    alice.send(json!({"type": "end", "contact": contact})).await;
    visitor.until_type("ended").await;
    visitor
        .send(json!({"type": "cobrowse_code", "code": "123456"}))
        .await;
    assert_eq!(visitor.until_type("error").await["code"], "bad_state");
}

/// A contact's shared session, from the request to the agent's view sharing
/// the page: (alice's staff session, her view, the page, the contact, the
/// co-browse session).
async fn shared(server: &TestServer) -> (common::Staff, Ws, Ws, i64, String) {
    let mut held = held_chat(server).await;
    held.ask().await;
    let (mut page, code) = open_share(server).await;
    held.visitor
        .send(json!({"type": "cobrowse_code", "code": code}))
        .await;
    held.alice.until_type("cobrowse_code").await;
    let staff = server.demo_staff("alice").await;
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut view = Ws::connect(&view_url, Some(&server.agent), Some(&staff.cookie)).await;
    view.send(json!({"type": "join", "code": code, "contact": held.contact}))
        .await;
    view.until_type("joined").await;
    page.until_type("join_request").await;
    page.send(json!({"type": "consent", "view": true})).await;
    let session = view.until_type("sharing").await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    (staff, view, page, held.contact, session)
}

/// The contact's co-browse actions once `last` is among them (the recorder
/// writes off the relay's path).
async fn record_until(staff: &common::Staff, contact: i64, last: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, record) = staff.get(&format!("/api/v1/contacts/{contact}")).await;
        assert_eq!(status, 200, "{record}");
        let actions = record["cobrowse"].as_array().cloned().unwrap_or_default();
        if actions.iter().any(|a| a["action"] == last) {
            return actions;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {last} in {actions:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn whiteboard_shapes_reach_the_other_side_and_a_reloaded_view() {
    let server = TestServer::start().await;
    let (staff, mut view, mut page, contact, session) = shared(&server).await;
    let rect = json!({"k": "rect", "pts": [[0.1, 0.1], [0.4, 0.3]], "c": "#e0245e"});
    view.send(json!({"type": "draw", "shape": rect})).await;
    assert_eq!(page.until_type("draw").await["shape"], rect);
    let stroke = json!({"k": "pen", "pts": [[0.5, 0.5], [0.6, 0.55], [0.7, 0.5]], "c": "#1f6feb"});
    page.send(json!({"type": "draw", "shape": stroke})).await;
    assert_eq!(view.until_type("draw").await["shape"], stroke);
    view.send(json!({"type": "clear"})).await;
    page.until_type("clear").await;
    let note = json!({"k": "text", "pts": [[0.2, 0.8]], "c": "#e0245e", "text": "this button"});
    view.send(json!({"type": "draw", "shape": note})).await;
    page.until_type("draw").await;
    page.send(json!({"type": "board", "show": true, "blank": true}))
        .await;
    let shown = view.until_type("board").await;
    assert_eq!(
        (&shown["show"], &shown["blank"]),
        (&json!(true), &json!(true))
    );

    // Bad shapes are refused with a reason and reach nobody.
    for (bad, why) in [
        (
            json!({"k": "rect", "pts": [[0.1, 0.1]], "c": "#000000"}),
            "points",
        ),
        (
            json!({"k": "pen", "pts": [[0.1, 7.0]], "c": "#000000"}),
            "0 to 1",
        ),
        (
            json!({"k": "pen", "pts": [[0.1, 0.1]], "c": "red;x"}),
            "#rrggbb",
        ),
        (
            json!({"k": "text", "pts": [[0.1, 0.1]], "c": "#000000"}),
            "characters",
        ),
    ] {
        view.send(json!({"type": "draw", "shape": bad})).await;
        let e = view.until_type("error").await;
        assert_eq!(e["code"], "invalid", "{e}");
        assert!(e["message"].as_str().unwrap().contains(why), "{e}");
    }

    // The console reloads: the view comes back to the board as it stands.
    drop(view);
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut again = Ws::connect(&view_url, Some(&server.agent), Some(&staff.cookie)).await;
    again
        .send(json!({"type": "watch", "session": session}))
        .await;
    again.until_type("sharing").await;
    let board = again.until_type("board").await;
    assert_eq!(board["shapes"], json!([note]), "{board}");
    assert_eq!(
        (&board["show"], &board["blank"]),
        (&json!(true), &json!(true))
    );

    let actions = record_until(&staff, contact, "clear").await;
    let shapes: Vec<Value> = actions
        .iter()
        .filter(|a| a["action"] == "draw")
        .map(|a| serde_json::from_str(a["detail"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(shapes[..2], [rect, stroke]);
    assert_eq!(actions[0]["action"], "view_start");
}

#[tokio::test]
async fn agent_actions_are_listed_in_the_contact_record_without_what_was_typed() {
    let server = TestServer::start().await;
    let (staff, mut view, mut page, contact, _) = shared(&server).await;
    page.send(
        json!({"type": "snapshot", "seq": 1, "part": 0, "last": true, "w": 800, "h": 600,
        "url": "http://shop.example/cart", "adds": [{"i": 1, "p": 0, "t": 1, "g": "input"}]}),
    )
    .await;
    view.until_type("snapshot").await;
    view.send(json!({"type": "highlight", "id": 1})).await;
    page.until_type("highlight").await;
    let cart = format!("{}/cart", server.public);
    view.send(json!({"type": "push", "url": cart})).await;
    page.until_type("push").await;
    view.send(json!({"type": "control_request"})).await;
    page.until_type("control_request").await;
    page.send(json!({"type": "control", "granted": true})).await;
    view.until_type("control").await;
    view.send(json!({"type": "click", "id": 1})).await;
    page.until_type("click").await;
    // Typing, a frame per key: one `fill` in the record, and no value.
    for typed in ["c", "ca", "canary-7431"] {
        view.send(json!({"type": "input", "id": 1, "value": typed}))
            .await;
        page.until_type("input").await;
    }
    page.send(json!({"type": "control", "granted": false}))
        .await;
    view.until_type("control").await;
    view.send(json!({"type": "leave"})).await;
    page.until_type("ended").await;

    let actions = record_until(&staff, contact, "view_stop").await;
    let listed: Vec<(&str, &str, &str)> = actions
        .iter()
        .map(|a| {
            (
                a["actor"].as_str().unwrap(),
                a["action"].as_str().unwrap(),
                a["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("agent", "view_start", ""),
            ("agent", "highlight", "1"),
            ("agent", "push", cart.as_str()),
            ("agent", "control_request", ""),
            ("visitor", "control_granted", ""),
            ("agent", "click", "1"),
            ("agent", "fill", "1"),
            ("visitor", "control_withdrawn", ""),
            ("agent", "view_stop", "left"),
        ]
    );
    assert_eq!(actions[0]["user"], "alice");
    let (_, text) = staff.get_text(&format!("/api/v1/contacts/{contact}")).await;
    assert!(!text.contains("canary-7431"), "{text}");
}

#[tokio::test]
async fn a_join_naming_a_contact_the_agent_does_not_hold_is_forbidden() {
    let server = TestServer::start().await;
    let Held { contact, .. } = held_chat(&server).await;
    let (mut page, code) = open_share(&server).await;
    let bob = server.demo_staff("bob").await;
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut view = Ws::connect(&view_url, Some(&server.agent), Some(&bob.cookie)).await;
    view.send(json!({"type": "join", "code": code, "contact": contact}))
        .await;
    let e = view.until_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["message"].as_str()),
        (Some("forbidden"), Some("that contact is not yours"))
    );
    // The code was not spent: the page was never asked.
    page.send(json!({"type": "ping"})).await;
    assert_eq!(page.next().await["type"], "pong");
}

#[tokio::test]
async fn a_supervisor_watches_a_shared_page_at_once_and_read_only() {
    let server = TestServer::start().await;
    let (_, mut view, mut page, contact, session) = shared(&server).await;
    page.send(
        json!({"type": "snapshot", "seq": 1, "part": 0, "last": true, "w": 800, "h": 600,
        "url": "http://shop.example/cart", "adds": [{"i": 1, "p": 0, "t": 3, "x": "your cart"}]}),
    )
    .await;
    page.send(json!({"type": "mutations", "seq": 2, "texts": [[1, "your cart (2)"]]}))
        .await;
    view.until_type("mutations").await;
    let rect = json!({"k": "rect", "pts": [[0.1, 0.1], [0.4, 0.3]], "c": "#e0245e"});
    view.send(json!({"type": "draw", "shape": rect})).await;
    page.until_type("draw").await;

    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    // An agent may neither list nor watch.
    let bob = server.demo_staff("bob").await;
    let mut nosy = Ws::connect(&view_url, Some(&server.agent), Some(&bob.cookie)).await;
    for frame in [
        json!({"type": "sessions"}),
        json!({"type": "supervise", "session": session}),
    ] {
        nosy.send(frame).await;
        assert_eq!(nosy.until_type("error").await["code"], "forbidden");
    }

    let sam = server.demo_staff("sam").await;
    let mut watch = Ws::connect(&view_url, Some(&server.agent), Some(&sam.cookie)).await;
    watch.send(json!({"type": "sessions"})).await;
    let listed = watch.until_type("sessions").await;
    assert_eq!(
        listed["sessions"],
        json!([{"session": session, "agent_name": "Alice Adams", "contact": contact, "watchers": 0}])
    );
    watch
        .send(json!({"type": "supervise", "session": session}))
        .await;
    watch.until_type("sharing").await;
    // The page as it is, from the relay: the snapshot, the change since and
    // the board, with nothing asked of the visitor's page.
    assert_eq!(
        watch.until_type("snapshot").await["adds"][0]["x"],
        "your cart"
    );
    assert_eq!(
        watch.until_type("mutations").await["texts"][0][1],
        "your cart (2)"
    );
    assert_eq!(watch.until_type("board").await["shapes"], json!([rect]));
    page.send(json!({"type": "ping"})).await;
    assert_eq!(
        page.next().await["type"],
        "pong",
        "the page was asked again"
    );

    // Live changes and drawings follow; the supervisor cannot act.
    page.send(json!({"type": "scroll", "seq": 3, "id": 0, "x": 0, "y": 240}))
        .await;
    assert_eq!(watch.until_type("scroll").await["y"], 240);
    for frame in [
        json!({"type": "highlight", "id": 1}),
        json!({"type": "draw", "shape": rect}),
        json!({"type": "push", "url": format!("{}/x", server.public)}),
    ] {
        watch.send(frame).await;
        assert_eq!(watch.until_type("error").await["code"], "forbidden");
    }
    // The visitor stops: the supervisor's view ends too.
    page.send(json!({"type": "stop"})).await;
    assert_eq!(watch.until_type("ended").await["reason"], "stopped");
}

/// `GET /cobrowse/asset` as `staff`: (status, content type, body).
async fn asset(staff: &common::Staff, session: &str, url: &str) -> (u16, String, String) {
    let r = staff
        .client
        .get(format!("{}/cobrowse/asset", staff.base))
        .query(&[("session", session), ("url", url)])
        .send()
        .await
        .unwrap();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), kind, r.text().await.unwrap())
}

#[tokio::test]
async fn the_server_fetches_the_sites_stylesheets_for_the_view_but_never_from_private_addresses() {
    // By default: the page's own site is on loopback here, so it is refused.
    let server = TestServer::start().await;
    let (staff, _view, _page, _, session) = shared(&server).await;
    let css = format!("{}/demo/shop.css", server.public);
    let (status, _, body) = asset(&staff, &session, &css).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("private"), "{body}");

    // With private addresses allowed (as `[webhooks] allow_private_addresses`).
    let server = TestServer::builder()
        .webhooks(switchboard::webhooks::WebhookSettings {
            allow_private_addresses: true,
            ..Default::default()
        })
        .start()
        .await;
    let (staff, _view, _page, _, session) = shared(&server).await;
    let css = format!("{}/demo/shop.css", server.public);
    let (status, kind, body) = asset(&staff, &session, &css).await;
    assert_eq!((status, kind.as_str()), (200, "text/css"), "{body}");
    assert!(body.contains('{'), "{body}");
    // An `@import` comes through the route too; a picture straight from its site.
    let importing = format!("{}/demo/cobrowse-import.css", server.public);
    let (status, _, body) = asset(&staff, &session, &importing).await;
    assert_eq!(status, 200, "{body}");
    let imported = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("session", &session)
        .append_pair("url", &css)
        .finish();
    assert!(
        body.contains(&format!("@import url(\"/cobrowse/asset?{imported}\");")),
        "{body}"
    );
    assert!(
        body.contains(&format!("url(\"{}/demo/banner.png\")", server.public)),
        "{body}"
    );
    // Not a stylesheet or font; not the tenant's origins; not this session.
    let (status, _, body) = asset(&staff, &session, &format!("{}/demo/", server.public)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("stylesheets and fonts"), "{body}");
    for elsewhere in [
        "http://example.invalid/a.css",
        "javascript:alert(1)",
        "file:///etc/passwd",
    ] {
        let (status, _, body) = asset(&staff, &session, elsewhere).await;
        assert_eq!(status, 403, "{elsewhere}: {body}");
    }
    let bob = server.demo_staff("bob").await;
    assert_eq!(asset(&bob, &session, &css).await.0, 404);
    let sam = server.demo_staff("sam").await;
    assert_eq!(
        asset(&sam, &session, &css).await.0,
        200,
        "a supervisor's watch"
    );
}

#[tokio::test]
async fn a_join_by_code_alone_opens_a_contact_the_agent_holds_with_the_actions() {
    let server = TestServer::start().await;
    let (mut page, code) = open_share(&server).await;
    let staff = server.demo_staff("alice").await;
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut view = Ws::connect(&view_url, Some(&server.agent), Some(&staff.cookie)).await;
    view.send(json!({"type": "join", "code": code})).await;
    let joined = view.until_type("joined").await;
    // The view is told the tenant's allowed origins, whose stylesheets it
    // takes through the asset route.
    assert!(
        joined["asset_origins"]
            .as_array()
            .is_some_and(|o| !o.is_empty()),
        "{joined}"
    );
    page.until_type("join_request").await;
    page.send(json!({"type": "consent", "view": true})).await;
    let sharing = view.until_type("sharing").await;
    let contact = sharing["contact"]
        .as_i64()
        .unwrap_or_else(|| panic!("no contact in {sharing}"));
    view.send(json!({"type": "highlight", "id": 1})).await;
    page.until_type("highlight").await;
    // Pointer moves at display rate: listed once for the view, not per move.
    for x in [10, 20, 30] {
        view.send(json!({"type": "pointer", "x": x, "y": 5})).await;
        page.until_type("agent_pointer").await;
    }
    view.send(json!({"type": "leave"})).await;
    page.until_type("ended").await;

    let actions = record_until(&staff, contact, "view_stop").await;
    let listed: Vec<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["view_start", "highlight", "pointer", "view_stop"]);
    assert_eq!(actions[0]["user"], "alice");
    // Held by alice, and closed once her view left.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, record) = staff.get(&format!("/api/v1/contacts/{contact}")).await;
        assert_eq!(
            (record["media"].as_str(), record["agent"].as_str()),
            (Some("cobrowse"), Some("alice")),
            "{record}"
        );
        if record["state"] == "closed" {
            assert_eq!(record["outcome"], "answered");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{record}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
