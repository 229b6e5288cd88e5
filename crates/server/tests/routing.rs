//! The basic router through real sockets: decline and timeout re-offer to the
//! next agent and put the first one into not-ready; a visitor who leaves is
//! recorded as abandoned; live availability reaches idle widgets.

mod common;

use common::{TestServer, hello};
use serde_json::json;

#[tokio::test]
async fn decline_reoffers_to_the_next_agent_and_sets_not_ready() {
    let server = TestServer::start().await;
    // Both alice and bob hold the support skill.
    let (_a, mut alice) = server.ready_agent("alice").await;
    let (_b, mut bob) = server.ready_agent("bob").await;
    let mut visitor = server.open_chat("support", "help").await;

    // Alice became available first, so she has been idle longest.
    let offer = alice.until_type("offer").await;
    let contact = offer["contact"].clone();
    alice
        .send(json!({"type": "decline", "contact": contact}))
        .await;
    let state = alice.until_type("state").await;
    assert_eq!(state["state"], "not_ready");
    assert_eq!(state["reason"], "declined an offer");
    let offer = bob.until_type("offer").await;
    assert_eq!(offer["contact"], contact);
    bob.send(json!({"type": "accept", "contact": contact}))
        .await;
    bob.until_type("assigned").await;
    visitor.until_type("connected").await;

    // Alice cannot act on an offer she no longer has.
    alice
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    assert_eq!(alice.until_type("error").await["code"], "bad_state");
    alice
        .send(json!({"type": "message", "contact": contact, "text": "sneaky"}))
        .await;
    assert_eq!(alice.until_type("error").await["code"], "forbidden");
    server.stop().await;
}

#[tokio::test]
async fn missed_offer_times_out_and_goes_to_the_next_agent() {
    let server = TestServer::builder().offer_timeout(1).start().await;
    let (_a, mut alice) = server.ready_agent("alice").await;
    let (_b, mut bob) = server.ready_agent("bob").await;
    let _visitor = server.open_chat("support", "help").await;
    let offer = alice.until_type("offer").await;
    let cancelled = alice.until_type("offer_cancelled").await;
    assert_eq!(cancelled["contact"], offer["contact"]);
    assert_eq!(cancelled["reason"], "timeout");
    assert_eq!(alice.until_type("state").await["reason"], "missed an offer");
    assert_eq!(bob.until_type("offer").await["contact"], offer["contact"]);
    server.stop().await;
}

#[tokio::test]
async fn visitor_leaving_the_queue_is_recorded_as_abandoned() {
    let server = TestServer::start().await;
    let mut visitor = server.visitor("demo", "billing").await;
    visitor
        .send(hello("http://shop.example/cart", None, None))
        .await;
    let welcome = visitor.until_type("welcome").await;
    assert_eq!(welcome["available"], false);
    visitor
        .send(json!({"type": "start", "text": "anyone?"}))
        .await;
    let queued = visitor.until_type("queued").await;
    assert_eq!(queued["position"], 1);
    assert!(queued["wait_seconds"].as_u64().unwrap() > 0);
    visitor.send(json!({"type": "end"})).await;
    assert_eq!(visitor.until_type("ended").await["by"], "visitor");

    let sam = server.demo_staff("sam").await;
    let record = sam
        .newest_record_when(|r| r["outcome"] == "abandoned")
        .await;
    assert_eq!(record["page_url"], "http://shop.example/cart");
    assert!(record["answered_at"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn idle_widgets_see_availability_change_live() {
    let server = TestServer::start().await;
    let mut visitor = server.visitor("demo", "billing").await;
    visitor
        .send(hello("http://shop.example/", None, None))
        .await;
    assert_eq!(visitor.until_type("welcome").await["available"], false);
    // Bob holds billing; when he becomes available the widget is told at once.
    let (_b, _bob) = server.ready_agent("bob").await;
    let status = visitor.until("status", |f| f["available"] == true).await;
    assert_eq!(status["wait_seconds"], 0);
    let sam = server.demo_staff("sam").await;
    let (_, live) = sam.get("/api/v1/live").await;
    let billing = live["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["links"][0] == "billing")
        .unwrap();
    assert_eq!(billing["available_agents"], 1);
    // Per queue: Bob holds support too, but not sales.
    let free = |link: &str| {
        live["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["links"][0] == link)
            .unwrap()["available_agents"]
            .clone()
    };
    assert_eq!(free("support"), 1);
    assert_eq!(free("sales"), 0);
    let bob = live["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "bob")
        .unwrap();
    assert_eq!(bob["state"], "available");
    server.stop().await;
}

#[tokio::test]
async fn dropped_visitor_ends_after_the_grace_time() {
    let server = TestServer::builder().visitor_grace(1).start().await;
    let (_a, mut alice) = server.ready_agent("alice").await;
    let visitor = server.open_chat("sales", "hi").await;
    let offer = alice.until_type("offer").await;
    alice
        .send(json!({"type": "accept", "contact": offer["contact"]}))
        .await;
    alice.until_type("assigned").await;
    drop(visitor);
    let ended = alice.until_type("ended").await;
    assert_eq!(ended["by"], "system");
    server.stop().await;
}

#[tokio::test]
async fn visitor_leaving_after_every_offer_was_declined_is_declined_all() {
    let server = TestServer::start().await;
    let (_a, mut alice) = server.ready_agent("alice").await;
    let mut visitor = server.open_chat("sales", "hello?").await;
    let offer = alice.until_type("offer").await;
    alice
        .send(json!({"type": "decline", "contact": offer["contact"]}))
        .await;
    alice.until("state", |f| f["state"] == "not_ready").await;
    visitor.send(json!({"type": "end"})).await;
    visitor.until_type("ended").await;
    let sam = server.demo_staff("sam").await;
    let record = sam
        .newest_record_when(|r| r["outcome"] == "declined-all")
        .await;
    assert!(record["offered_at"].as_i64().is_some());
    server.stop().await;
}

#[tokio::test]
async fn agent_console_reload_keeps_the_agent_available() {
    let server = TestServer::start().await;
    let (alice, console) = server.ready_agent("alice").await;
    drop(console);
    let mut console = server.console(&alice).await;
    let hello = console.until_type("hello").await;
    // Either the hello already says so or a state frame follows at once.
    if hello["state"] != "available" {
        console.until("state", |f| f["state"] == "available").await;
    }
    let visitor = server.open_chat("sales", "still there?").await;
    console.until_type("offer").await;
    drop(visitor);
    server.stop().await;
}
