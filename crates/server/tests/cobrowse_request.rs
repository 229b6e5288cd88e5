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
