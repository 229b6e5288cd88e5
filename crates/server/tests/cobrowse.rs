//! Co-browse relay over real WebSockets: join by code, consent, capture frames
//! relayed only to the agent let in, control only with the second consent,
//! pushes on the page's own site, malformed frames answered with errors, and
//! a reloaded view given a fresh snapshot.

mod common;

use common::{TestServer, Ws};
use serde_json::{Value, json};

/// The demo page's own origin (the public listener serves the demo shop).
async fn page(server: &TestServer) -> (Ws, Value) {
    let url = format!("{}/ws/cobrowse?tenant=demo", server.public_ws());
    let mut page = Ws::connect(&url, Some(&server.public), None).await;
    page.send(json!({"type": "hello"})).await;
    let welcome = page.until_type("welcome").await;
    (page, welcome)
}

async fn open_view(server: &TestServer, name: &str) -> Ws {
    let staff = server.demo_staff(name).await;
    let url = format!("{}/ws/cobrowse", server.agent_ws());
    Ws::connect(&url, Some(&server.agent), Some(&staff.cookie)).await
}

/// A page sharing with alice's view: (page, view, session id, resume secret).
async fn shared_resumable(server: &TestServer) -> (Ws, Ws, String, String) {
    let (mut page, welcome) = page(server).await;
    let code = welcome["code"].as_str().unwrap().to_owned();
    let mut view = open_view(server, "alice").await;
    view.send(json!({"type": "join", "code": code})).await;
    let joined = view.until_type("joined").await;
    assert_eq!(joined["origin"], server.public);
    let asked = page.until_type("join_request").await;
    assert_eq!(asked["agent_name"], "Alice Adams");
    page.send(json!({"type": "consent", "view": true})).await;
    page.until_type("snapshot_request").await;
    let sharing = view.until_type("sharing").await;
    let session = sharing["session"].as_str().unwrap().to_owned();
    let resume = welcome["resume"].as_str().unwrap().to_owned();
    (page, view, session, resume)
}

async fn shared(server: &TestServer) -> (Ws, Ws, String) {
    let (page, view, session, _) = shared_resumable(server).await;
    (page, view, session)
}

fn snapshot(seq: u64, text: &str) -> Value {
    json!({"type": "snapshot", "seq": seq, "part": 0, "last": true, "w": 800, "h": 600,
           "url": "http://shop.example/", "adds": [{"i": 1, "p": 0, "t": 3, "x": text}]})
}

#[tokio::test]
async fn code_consent_and_capture_reach_the_agent_who_joined() {
    let server = TestServer::start().await;
    let (mut page, mut view, _) = shared(&server).await;
    page.send(snapshot(1, "hello page")).await;
    let got = view.until_type("snapshot").await;
    assert_eq!(got["adds"][0]["x"], "hello page");
    page.send(json!({"type": "mutations", "seq": 2, "texts": [[1, "changed"]]}))
        .await;
    assert_eq!(view.until_type("mutations").await["texts"][0][1], "changed");
    // The agent points; the page sees it.
    view.send(json!({"type": "pointer", "x": 10.5, "y": 20}))
        .await;
    let p = page.until_type("agent_pointer").await;
    assert_eq!((p["x"].as_f64(), p["y"].as_f64()), (Some(10.5), Some(20.0)));
    // The visitor stops: the view ends at once.
    page.send(json!({"type": "stop"})).await;
    assert_eq!(view.until_type("ended").await["reason"], "stopped");
}

#[tokio::test]
async fn codes_are_single_use_and_tenant_scoped() {
    let server = TestServer::start().await;
    let (_page, welcome) = page(&server).await;
    let code = welcome["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    let mut alice = open_view(&server, "alice").await;
    alice.send(json!({"type": "join", "code": code})).await;
    alice.until_type("joined").await;
    let mut bob = open_view(&server, "bob").await;
    bob.send(json!({"type": "join", "code": code})).await;
    assert_eq!(bob.until_type("error").await["code"], "invalid");
    // Another session id is unknown to another agent.
    bob.send(json!({"type": "watch", "session": "0123"})).await;
    assert_eq!(bob.until_type("error").await["code"], "invalid");
}

#[tokio::test]
async fn join_attempts_are_rate_limited_per_agent() {
    let server = TestServer::start().await;
    let mut alice = open_view(&server, "alice").await;
    let mut refused = Vec::new();
    for n in 0..8 {
        alice
            .send(json!({"type": "join", "code": format!("{:06}", 999_990 + n)}))
            .await;
        refused.push(alice.until_type("error").await["code"].clone());
    }
    // The first attempts are wrong codes, then the limit answers.
    assert_eq!(refused[0], "invalid");
    assert_eq!(refused[7], "rate_limited");
}

#[tokio::test]
async fn control_needs_the_second_consent_and_can_be_withdrawn() {
    let server = TestServer::start().await;
    let (mut page, mut view, _) = shared(&server).await;
    view.send(json!({"type": "click", "id": 5})).await;
    assert_eq!(view.until_type("error").await["code"], "bad_state");
    view.send(json!({"type": "control_request"})).await;
    page.until_type("control_request").await;
    page.send(json!({"type": "control", "granted": true})).await;
    assert_eq!(view.until_type("control").await["granted"], true);
    view.send(json!({"type": "input", "id": 5, "value": "42"}))
        .await;
    let input = page.until_type("input").await;
    assert_eq!(
        (input["id"].as_u64(), &input["value"]),
        (Some(5), &json!("42"))
    );
    page.send(json!({"type": "control", "granted": false}))
        .await;
    assert_eq!(view.until_type("control").await["granted"], false);
    view.send(json!({"type": "click", "id": 5})).await;
    assert_eq!(view.until_type("error").await["code"], "bad_state");
}

#[tokio::test]
async fn pushes_stay_on_the_page_site() {
    let server = TestServer::start().await;
    let (mut page, mut view, _) = shared(&server).await;
    view.send(json!({"type": "push", "url": "https://evil.example/"}))
        .await;
    let e = view.until_type("error").await;
    assert_eq!(e["code"], "forbidden");
    assert!(e["message"].as_str().unwrap().contains("own site"));
    view.send(json!({"type": "push", "url": "javascript:alert(1)"}))
        .await;
    assert_eq!(view.until_type("error").await["code"], "forbidden");
    let good = format!("{}/demo/products.html", server.public);
    view.send(json!({"type": "push", "url": good})).await;
    assert_eq!(page.until_type("push").await["url"], good);
}

#[tokio::test]
async fn malformed_frames_get_clear_errors_and_the_connections_stay() {
    let server = TestServer::start().await;
    let (mut page, mut view, _) = shared(&server).await;
    for (text, code) in [
        ("{nope", "bad_json"),
        (r#"{"v":1,"type":"snapshot","last":true}"#, "bad_json"),
        (
            r#"{"v":1,"type":"mutations","seq":1,"adds":"x"}"#,
            "bad_json",
        ),
        (r#"{"v":1,"type":"run_script","seq":1}"#, "unknown_type"),
        (r#"{"v":3,"type":"scroll","seq":1}"#, "bad_version"),
    ] {
        page.send_raw(text).await;
        assert_eq!(page.until_type("error").await["code"], code, "{text}");
    }
    let huge = json!({"v": 1, "type": "snapshot", "seq": 1, "last": true,
        "adds": [{"x": "a".repeat(70 * 1024)}]});
    page.send_raw(&huge.to_string()).await;
    // Over the WebSocket's own cap, the page's connection is closed.
    assert!(page.closed().await);
    for (text, code) in [
        (r#"{"v":1,"type":"join","code":"12"}"#, "invalid"),
        (r#"{"v":1,"type":"pointer","x":"left","y":1}"#, "bad_json"),
        (r#"{"v":1,"type":"click","id":1.5}"#, "bad_json"),
        (
            r#"{"v":1,"type":"snapshot","seq":1,"last":true}"#,
            "unknown_type",
        ),
    ] {
        view.send_raw(text).await;
        assert_eq!(view.until_type("error").await["code"], code, "{text}");
    }
    view.send(json!({"type": "ping"})).await;
    view.until_type("pong").await;
}

#[tokio::test]
async fn capture_before_consent_is_refused_and_a_storm_asks_for_a_snapshot() {
    let server = TestServer::start().await;
    let (mut page, welcome) = page(&server).await;
    assert!(welcome["code"].is_string());
    page.send(snapshot(1, "secret before consent")).await;
    assert_eq!(page.until_type("error").await["code"], "bad_state");

    let (mut page, mut view, _) = shared(&server).await;
    page.send(snapshot(1, "first")).await;
    view.until_type("snapshot").await;
    let storm: Vec<u64> = (0..10_001).collect();
    page.send(json!({"type": "mutations", "seq": 2, "removes": storm}))
        .await;
    assert_eq!(page.until_type("error").await["code"], "too_large");
    // A gap in the sequence: the page is asked for a fresh snapshot and
    // changes are held back until it comes.
    page.send(json!({"type": "mutations", "seq": 9, "texts": [[1, "lost"]]}))
        .await;
    page.until_type("snapshot_request").await;
    page.send(snapshot(10, "fresh")).await;
    assert_eq!(view.until_type("snapshot").await["adds"][0]["x"], "fresh");
}

#[tokio::test]
async fn a_reloaded_view_gets_a_fresh_snapshot_and_only_its_agent_may_watch() {
    let server = TestServer::start().await;
    let (mut page, view, session) = shared(&server).await;
    drop(view);
    let mut again = open_view(&server, "alice").await;
    again
        .send(json!({"type": "watch", "session": session}))
        .await;
    again.until_type("sharing").await;
    page.until_type("snapshot_request").await;
    page.send(snapshot(1, "after reload")).await;
    assert_eq!(
        again.until_type("snapshot").await["adds"][0]["x"],
        "after reload"
    );
    let mut bob = open_view(&server, "bob").await;
    bob.send(json!({"type": "watch", "session": session})).await;
    assert_eq!(bob.until_type("error").await["code"], "invalid");
}

#[tokio::test]
async fn a_page_comes_back_after_a_page_load() {
    let server = TestServer::start().await;
    let (page, mut view, _, resume) = shared_resumable(&server).await;
    drop(page);
    view.until_type("paused").await;
    let url = format!("{}/ws/cobrowse?tenant=demo", server.public_ws());
    // A wrong secret starts a session of its own.
    let mut other = Ws::connect(&url, Some(&server.public), None).await;
    other
        .send(json!({"type": "hello", "resume": "not-it"}))
        .await;
    assert_eq!(other.until_type("welcome").await["sharing"], false);
    let mut next = Ws::connect(&url, Some(&server.public), None).await;
    next.send(json!({"type": "hello", "resume": resume})).await;
    let back = next.until_type("welcome").await;
    assert_eq!(
        (&back["sharing"], &back["agent_name"]),
        (&json!(true), &json!("Alice Adams"))
    );
    next.send(snapshot(1, "next page")).await;
    assert_eq!(
        view.until_type("snapshot").await["adds"][0]["x"],
        "next page"
    );
}

#[tokio::test]
async fn pages_from_other_sites_and_strangers_are_refused() {
    let server = TestServer::start().await;
    let url = format!("{}/ws/cobrowse?tenant=demo", server.public_ws());
    assert_eq!(
        Ws::try_connect(&url, Some("https://evil.example"), None)
            .await
            .err(),
        Some(403)
    );
    let nowhere = format!("{}/ws/cobrowse?tenant=nobody", server.public_ws());
    assert_eq!(
        Ws::try_connect(&nowhere, Some(&server.public), None)
            .await
            .err(),
        Some(404)
    );
    let agent = format!("{}/ws/cobrowse", server.agent_ws());
    assert_eq!(
        Ws::try_connect(&agent, Some(&server.agent), None)
            .await
            .err(),
        Some(401)
    );
    // The mirror frame page may be framed by the console only and runs no script.
    let r = reqwest::get(format!("{}/cobrowse/frame", server.agent))
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'self'"));
}
