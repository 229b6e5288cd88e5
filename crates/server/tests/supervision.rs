//! The supervisor's wallboard (`/ws/supervisor`) and actions (issue 17 items
//! 1 and 2): boards pushed within a second of a change, filters, alerts at a
//! queue's limits, refusals (agents, other origins, no session), tenant
//! scoping, and setting an agent's state.

mod common;

use std::time::{Duration, Instant};

use common::{Tenant, TestServer, Ws};
use reqwest::Method;
use serde_json::{Value, json};

/// A second tenant whose `help` queue turns amber at one waiting contact and
/// red at two; `boss` supervises it.
fn acme() -> Tenant {
    Tenant::new("acme")
        .queue("help", |q| {
            q.wallboard(&[
                ("amber_waiting", 1),
                ("red_waiting", 2),
                ("service_level_secs", 30),
            ])
        })
        .link("help", "help")
        .agent("ann", &["help"])
        .supervisor("boss")
}

/// A visitor of acme's `help` link waiting with a chat.
async fn acme_chat(server: &TestServer, text: &str) -> Ws {
    let mut visitor = server.visitor("acme", "help").await;
    visitor
        .send(common::hello("http://shop.example/", None, None))
        .await;
    visitor.until_type("welcome").await;
    visitor.send(json!({"type": "start", "text": text})).await;
    visitor
}

async fn wallboard(server: &TestServer, cookie: &str) -> Ws {
    let url = format!("{}/ws/supervisor", server.agent_ws());
    Ws::connect(&url, Some(&server.agent), Some(cookie)).await
}

/// The next board for which `pred` holds, and how long it took to come.
async fn board_when(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> (Value, Duration) {
    let started = Instant::now();
    let board = ws.until("wallboard", pred).await;
    (board, started.elapsed())
}

fn queue<'a>(board: &'a Value, name: &str) -> &'a Value {
    board["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == name)
        .unwrap_or_else(|| panic!("queue {name} on the board: {board}"))
}

fn agent<'a>(board: &'a Value, name: &str) -> Option<&'a Value> {
    board["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
}

#[tokio::test]
async fn the_wallboard_follows_a_contact_from_waiting_to_answered() {
    let server = TestServer::builder().tenant(&acme()).start().await;
    let sam = server.demo_staff("sam").await;
    let mut board = wallboard(&server, &sam.cookie).await;
    let (first, _) = board_when(&mut board, |b| !b["queues"].as_array().unwrap().is_empty()).await;
    assert_eq!(queue(&first, "sales")["waiting"], 0);
    assert!(
        first["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["name"] != "help"),
        "acme's queue is not on demo's board: {first}"
    );

    // A visitor waits: on the board within a second.
    let _visitor = server.open_chat("sales", "hello").await;
    let (waiting, took) = board_when(&mut board, |b| queue(b, "sales")["waiting"] == 1).await;
    assert!(
        took < Duration::from_secs(1),
        "waiting shown after {took:?}"
    );
    assert_eq!(queue(&waiting, "sales")["offered_today"], 1);

    // Alice signs in and takes it: busy with the contact, answered today.
    let (_alice, mut console) = server.ready_agent("alice").await;
    let offer = console.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    console.until_type("assigned").await;
    let (busy, took) = board_when(&mut board, |b| {
        agent(b, "alice").is_some_and(|a| a["activity"] == "busy")
    })
    .await;
    assert!(took < Duration::from_secs(1), "busy shown after {took:?}");
    let alice = agent(&busy, "alice").unwrap();
    assert_eq!(alice["contacts"], json!([contact]));
    assert!(alice["since"].as_i64().unwrap() <= busy["at"].as_i64().unwrap());
    let sales = queue(&busy, "sales");
    assert_eq!(
        (sales["waiting"].as_u64(), sales["answered_today"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(sales["service_level"], 1.0, "answered at once: within 20 s");

    // Filtered to billing, neither sales nor alice (no billing skill) shows.
    board
        .send(json!({"type": "filter", "queue": "billing"}))
        .await;
    let (only, _) = board_when(&mut board, |b| b["filter"]["queue"] == "billing").await;
    let names: Vec<&Value> = only["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| &q["name"])
        .collect();
    assert_eq!(names, vec!["billing"]);
    assert!(agent(&only, "alice").is_none(), "{only}");
    // A bad filter is answered with an error; the socket stays.
    board.send_raw(r#"{"type":"filter","centre":"x"}"#).await;
    assert_eq!(board.until_type("error").await["code"], "bad_json");
}

#[tokio::test]
async fn a_queue_turns_amber_then_red_at_its_limits_on_its_own_tenants_board() {
    let server = TestServer::builder().tenant(&acme()).start().await;
    let boss = server.staff("acme", "boss", "pw-boss").await;
    let mut board = wallboard(&server, &boss.cookie).await;
    let (first, _) = board_when(&mut board, |b| !b["queues"].as_array().unwrap().is_empty()).await;
    let names: Vec<&Value> = first["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| &q["name"])
        .collect();
    assert_eq!(names, vec!["help"], "only acme's queues");
    let help = queue(&first, "help");
    assert_eq!(help["alert"], "ok");
    assert_eq!(help["limits"]["red_waiting"], 2);
    assert_eq!(help["service_level_secs"], 30);

    let _one = acme_chat(&server, "first").await;
    board_when(&mut board, |b| queue(b, "help")["alert"] == "amber").await;
    let _two = acme_chat(&server, "second").await;
    let (red, _) = board_when(&mut board, |b| queue(b, "help")["alert"] == "red").await;
    assert_eq!(queue(&red, "help")["waiting"], 2);
}

#[tokio::test]
async fn only_supervisors_of_this_origin_get_a_wallboard() {
    let server = TestServer::start().await;
    let url = format!("{}/ws/supervisor", server.agent_ws());
    let alice = server.demo_staff("alice").await;
    let sam = server.demo_staff("sam").await;
    let refused = |r: Result<Ws, u16>| r.err();
    assert_eq!(
        refused(Ws::try_connect(&url, Some(&server.agent), None).await),
        Some(401)
    );
    assert_eq!(
        refused(Ws::try_connect(&url, Some(&server.agent), Some(&alice.cookie)).await),
        Some(403),
        "an agent"
    );
    assert_eq!(
        refused(Ws::try_connect(&url, Some("https://evil.example"), Some(&sam.cookie)).await),
        Some(403),
        "another origin"
    );
    // Not on the public listener at all.
    let public = format!("{}/ws/supervisor", server.public_ws());
    assert_eq!(
        refused(Ws::try_connect(&public, Some(&server.public), Some(&sam.cookie)).await),
        Some(404)
    );
}

#[tokio::test]
async fn a_supervisor_sets_an_agents_state_within_the_tenant() {
    let server = TestServer::builder().tenant(&acme()).start().await;
    let (alice, mut console) = server.ready_agent("alice").await;
    let sam = server.demo_staff("sam").await;
    let state = |name: &str| format!("/api/v1/agents/{name}/state");

    let (status, _) = sam
        .send(Method::POST, &state("alice"), json!({"state": "away"}))
        .await;
    assert_eq!(status, 204);
    let away = console.until("state", |f| f["state"] == "not_ready").await;
    assert_eq!(away["reason"], "away");

    let (status, _) = sam
        .send(Method::POST, &state("alice"), json!({"state": "offline"}))
        .await;
    assert_eq!(status, 204);
    console.until("state", |f| f["state"] == "offline").await;
    // Alice comes back by choosing a state herself ...
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    // ... or the supervisor brings her back.
    sam.send(Method::POST, &state("alice"), json!({"state": "offline"}))
        .await;
    console.until("state", |f| f["state"] == "offline").await;
    let (status, _) = sam
        .send(Method::POST, &state("alice"), json!({"state": "available"}))
        .await;
    assert_eq!(status, 204);
    console.until("state", |f| f["state"] == "available").await;

    // Refusals: a bad state, an agent, another tenant's supervisor, no such agent.
    let (status, body) = sam
        .send(Method::POST, &state("alice"), json!({"state": "asleep"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = alice
        .send(Method::POST, &state("alice"), json!({"state": "away"}))
        .await;
    assert_eq!(status, 403);
    let boss = server.staff("acme", "boss", "pw-boss").await;
    let (status, body) = boss
        .send(Method::POST, &state("alice"), json!({"state": "away"}))
        .await;
    assert_eq!(status, 404, "demo's alice is unknown to acme: {body}");
    let (status, _) = sam
        .send(Method::POST, &state("nobody"), json!({"state": "away"}))
        .await;
    assert_eq!(status, 404);
    // Alice is still available: none of the refused requests reached her.
    let (_, live) = sam.get("/api/v1/live").await;
    let alice_live = live["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "alice")
        .unwrap();
    assert_eq!(alice_live["activity"], "available");
}

#[test]
fn wallboard_limits_are_checked_when_the_tenant_file_is_read() {
    let file = acme()
        .queue("help", |q| {
            q.wallboard(&[("amber_waiting", 5), ("red_waiting", 3)])
        })
        .to_string();
    let err = switchboard::tenant_file::parse(&file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("red_waiting (3) is below amber_waiting (5)"),
        "{err}"
    );
    let typo = acme()
        .queue("help", |q| q.wallboard(&[("red_wait", 3)]))
        .to_string();
    assert!(switchboard::tenant_file::parse(&typo).is_err());
}

fn waiting_entry(board: &Value, contact: i64) -> Option<&Value> {
    board["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["contact"] == contact)
}

#[tokio::test]
async fn a_supervisor_moves_and_reprioritizes_waiting_contacts_of_the_tenant() {
    let server = TestServer::builder().tenant(&acme()).start().await;
    let sam = server.demo_staff("sam").await;
    let mut board = wallboard(&server, &sam.cookie).await;
    let mut first = server.open_chat("sales", "first").await;
    let mut second = server.open_chat("sales", "second").await;
    let a = first.until_type("queued").await;
    let b = second.until_type("queued").await;
    assert_eq!(
        (a["position"].as_u64(), b["position"].as_u64()),
        (Some(1), Some(2))
    );
    let (two, _) = board_when(&mut board, |b| b["waiting"].as_array().unwrap().len() == 2).await;
    let [a, b] = [0, 1].map(|i| two["waiting"][i]["contact"].as_i64().unwrap());
    assert_eq!(waiting_entry(&two, b).unwrap()["queue"], "sales");
    let path = |c: i64| format!("/api/v1/contacts/{c}/move");

    // B gets priority 50: first in line, and its visitor hears so.
    let (status, body) = sam
        .send(Method::POST, &path(b), json!({"priority": 50}))
        .await;
    assert_eq!(status, 204, "{body}");
    second.until("status", |f| f["position"] == 1).await;
    let (ahead, _) = board_when(&mut board, |x| {
        waiting_entry(x, b).is_some_and(|w| w["position"] == 1 && w["priority"] == 50)
    })
    .await;
    assert_eq!(waiting_entry(&ahead, a).unwrap()["position"], 2);

    // A goes to billing, where bob (billing) is offered it when he signs in.
    let (status, body) = sam
        .send(Method::POST, &path(a), json!({"queue": "billing"}))
        .await;
    assert_eq!(status, 204, "{body}");
    let (moved, _) = board_when(&mut board, |x| queue(x, "billing")["waiting"] == 1).await;
    assert_eq!(waiting_entry(&moved, a).unwrap()["queue"], "billing");
    assert_eq!(queue(&moved, "sales")["waiting"], 1);
    let (_bob, mut bob_console) = server.ready_agent("bob").await;
    let offer = bob_console.until_type("offer").await;
    assert_eq!(offer["contact"], a, "bob serves billing, not sales");

    // Refusals, none of which moves B.
    let cases = [
        (json!({"priority": 500}), 400),
        (json!({"queue": "nowhere"}), 400),
        (json!({}), 400),
    ];
    for (body, want) in cases {
        let (status, answer) = sam.send(Method::POST, &path(b), body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    let (status, _) = sam
        .send(Method::POST, &path(a), json!({"queue": "sales"}))
        .await;
    assert_eq!(status, 404, "an offered contact is not waiting");
    let alice = server.demo_staff("alice").await;
    let (status, _) = alice
        .send(Method::POST, &path(b), json!({"queue": "support"}))
        .await;
    assert_eq!(status, 403);
    let boss = server.staff("acme", "boss", "pw-boss").await;
    let (status, _) = boss
        .send(Method::POST, &path(b), json!({"queue": "help"}))
        .await;
    assert_eq!(status, 404, "demo's contact is unknown to acme");
    let (_, live) = sam.get("/api/v1/live").await;
    let still = live["waiting"].as_array().unwrap();
    assert_eq!(still.len(), 1);
    assert_eq!(
        (still[0]["contact"].as_i64(), still[0]["queue"].as_str()),
        (Some(b), Some("sales"))
    );
}

/// Today's counts and an agent's time in state come back after a restart
/// (read from the stored stat events of the day).
#[tokio::test]
async fn todays_counts_survive_a_restart() {
    let server = TestServer::start().await;
    let (_alice, mut console) = server.ready_agent("alice").await;
    let _visitor = server.open_chat("sales", "before the restart").await;
    let offer = console.until_type("offer").await;
    console
        .send(json!({"type": "accept", "contact": offer["contact"]}))
        .await;
    console.until_type("assigned").await;
    let sam = server.demo_staff("sam").await;
    let mut board = wallboard(&server, &sam.cookie).await;
    board_when(&mut board, |b| queue(b, "sales")["answered_today"] == 1).await;
    drop(board);
    // The stat events are stored by their own writer: wait until they are.
    let store = server.store.clone();
    let tenant = store.tenant_by_slug("demo").await.unwrap().unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store
        .wallboard_stat_events(tenant, 0, i64::MAX, 1000)
        .await
        .unwrap()
        .iter()
        .all(|e| e.kind != "assigned")
    {
        assert!(Instant::now() < deadline, "the assignment was never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let server = server.restart().await;
    let sam = server.demo_staff("sam").await;
    let mut board = wallboard(&server, &sam.cookie).await;
    let (after, _) = board_when(&mut board, |b| !b["queues"].as_array().unwrap().is_empty()).await;
    let sales = queue(&after, "sales");
    assert_eq!(
        (
            sales["offered_today"].as_u64(),
            sales["answered_today"].as_u64()
        ),
        (Some(1), Some(1)),
        "{sales}"
    );
    assert_eq!(sales["service_level"], 1.0);
}
