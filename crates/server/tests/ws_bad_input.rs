//! Malformed, oversize and unknown WebSocket frames get an error frame and the
//! connection stays; Origin and session checks refuse the upgrade.

mod common;

use common::{TestServer, Ws, hello};
use serde_json::json;

#[tokio::test]
async fn bad_visitor_frames_get_errors_and_the_connection_stays() {
    let server = TestServer::start().await;
    let mut v = server.visitor("demo", "sales").await;
    v.send(json!({"type": "message", "text": "before hello"}))
        .await;
    assert_eq!(v.until_type("error").await["code"], "bad_state");
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    let oversize = format!(
        r#"{{"v":1,"type":"message","text":"{}"}}"#,
        "x".repeat(17_000)
    );
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "bad_json"),
        ("[]".into(), "bad_json"),
        (r#"{"v":2,"type":"ping"}"#.into(), "bad_version"),
        (r#"{"v":1,"type":"shout"}"#.into(), "unknown_type"),
        (r#"{"v":1,"type":"message"}"#.into(), "bad_json"),
        (oversize, "too_large"),
        (
            r#"{"v":1,"type":"message","text":"no chat yet"}"#.into(),
            "bad_state",
        ),
        (r#"{"v":1,"type":"start","text":"   "}"#.into(), "bad_state"),
    ];
    for (i, (frame, code)) in cases.iter().enumerate() {
        if i == cases.len() - 1 {
            // Start with only whitespace opens the chat without a message;
            // a second start is then out of place.
            v.send(json!({"type": "start"})).await;
        }
        v.send_raw(frame).await;
        let err = v.until_type("error").await;
        assert_eq!(err["code"], *code, "{frame:.60}");
        assert!(err["message"].as_str().unwrap().len() > 3);
    }
    v.send(json!({"type": "message", "text": "x".repeat(2001)}))
        .await;
    assert_eq!(v.until_type("error").await["code"], "invalid");
    v.send(json!({"type": "ping"})).await;
    v.until_type("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_tenant_or_link_is_reported_not_crashed() {
    let server = TestServer::start().await;
    for (tenant, link) in [
        ("nope", "sales"),
        ("demo", "nope"),
        ("", ""),
        (&"x".repeat(300) as &str, "a"),
    ] {
        let url = format!(
            "{}/ws/visitor?tenant={tenant}&link={link}",
            server.public_ws()
        );
        let mut v = Ws::connect(&url, Some(&server.public), None).await;
        v.send(hello("http://shop.example/", None, None)).await;
        assert_eq!(v.until_type("error").await["code"], "unknown_tenant");
        v.send(json!({"type": "ping"})).await;
        assert_eq!(v.until_type("error").await["code"], "bad_state");
    }
    server.stop().await;
}

#[tokio::test]
async fn visitor_socket_checks_origin_against_the_tenant() {
    let server = TestServer::start().await;
    let url = format!("{}/ws/visitor?tenant=demo&link=sales", server.public_ws());
    assert_eq!(
        Ws::try_connect(&url, Some("https://evil.example"), None)
            .await
            .err(),
        Some(403)
    );
    // Listed in demo.toml's allowed_origins.
    assert!(
        Ws::try_connect(&url, Some("http://localhost:8080"), None)
            .await
            .is_ok()
    );
    server.stop().await;
}

#[tokio::test]
async fn agent_socket_needs_a_session_and_same_origin() {
    let server = TestServer::start().await;
    let url = format!("{}/ws/agent", server.agent_ws());
    assert_eq!(
        Ws::try_connect(&url, Some(&server.agent), None).await.err(),
        Some(401)
    );
    let alice = server.demo_staff("alice").await;
    assert_eq!(
        Ws::try_connect(&url, Some("https://evil.example"), Some(&alice.cookie))
            .await
            .err(),
        Some(403)
    );
    let mut console = server.console(&alice).await;
    console.until_type("hello").await;
    console
        .send_raw(r#"{"v":1,"type":"status","state":"dancing"}"#)
        .await;
    assert_eq!(console.until_type("error").await["code"], "bad_json");
    console
        .send_raw(r#"{"v":1,"type":"wrapup","contact":999999,"code":"resolved"}"#)
        .await;
    assert_eq!(console.until_type("error").await["code"], "forbidden");
    console.send(json!({"type": "ping"})).await;
    console.until_type("pong").await;
    server.stop().await;
}
