//! Signed webhooks, end to end: a whole server, a chat made over real
//! WebSockets, and a real HTTP receiver on 127.0.0.1 that checks what
//! arrives the way a merchant's would.

mod common;
#[path = "common/hooks.rs"]
mod hooks;

use common::{Tenant, TestServer, WAIT, hello};
use hooks::{Received, Receiver, allowing_loopback, endpoint, verified};
use serde_json::{Value, json};
use switchboard::webhooks::WebhookSettings;

/// The help desk tenant with one endpoint at `url` for `events`.
fn tenant_file(slug: &str, url: &str, events: &[&str]) -> String {
    let tenant = Tenant::help_desk(slug)
        .wrapup_codes(&["resolved"])
        .agent_with("ada", |a| a.role("admin"));
    format!("{tenant}{}", endpoint(url, events))
}

async fn visitor_starts_chat(server: &TestServer, slug: &str) -> common::Ws {
    let mut visitor = server.visitor(slug, "help").await;
    visitor
        .send(hello("http://shop.example/", None, None))
        .await;
    visitor.until_type("welcome").await;
    visitor
        .send(json!({"type": "start", "text": "secret message body"}))
        .await;
    visitor
}

#[tokio::test]
async fn a_chats_events_arrive_in_order_with_valid_signatures() {
    let receiver = Receiver::start(0).await;
    let events = [
        "contact.created",
        "contact.offered",
        "contact.answered",
        "contact.ended",
        "contact.wrapped_up",
    ];
    let server = TestServer::builder()
        .without_demo()
        .webhooks(allowing_loopback())
        .tenant_file(&tenant_file("hookco", &receiver.url, &events))
        .start()
        .await;
    let kim = server.staff("hookco", "kim", "pw-kim").await;
    let mut console = server.console(&kim).await;
    console.until_type("hello").await;
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;

    let _visitor = visitor_starts_chat(&server, "hookco").await;
    let offer = console.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    console.until_type("assigned").await;
    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    console.until("ended", |f| f["contact"] == contact).await;
    console
        .send(json!({"type": "wrapup", "contact": contact, "code": "resolved"}))
        .await;
    console.until("wrapped", |f| f["contact"] == contact).await;

    let received = receiver.until_accepted(events.len()).await;
    assert_eq!(received.len(), events.len(), "no retries were needed");
    let bodies: Vec<Value> = received.iter().map(verified).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, events, "in the order they happened");
    let mut ids = std::collections::HashSet::new();
    assert_eq!(bodies[0]["contact"]["link"], "help");
    assert_eq!(bodies[0]["contact"]["media"], "chat");
    assert_eq!(bodies[0]["contact"]["page_url"], "http://shop.example/");
    for (body, request) in bodies.iter().zip(&received) {
        assert_eq!(body["tenant"], "hookco");
        assert_eq!(body["contact"]["id"], contact);
        assert!(
            body.get("_link").is_none() && body.get("_agent").is_none(),
            "{body}"
        );
        assert!(body["time"].as_str().unwrap().ends_with('Z'), "{body}");
        assert_eq!(
            request.headers["switchboard-event"],
            body["type"].as_str().unwrap()
        );
        assert_eq!(
            request.headers["switchboard-delivery"],
            body["id"].as_str().unwrap()
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert!(
            ids.insert(body["id"].as_str().unwrap().to_owned()),
            "ids are unique"
        );
        // Message bodies are not sent to webhooks.
        let text = String::from_utf8_lossy(&request.body);
        assert!(!text.contains("secret message body"), "{text}");
    }
    // Each event says what changed, from the change itself.
    assert_eq!(bodies[1]["contact"]["state"], "offered");
    assert_eq!(bodies[2]["contact"]["agent"], "kim");
    assert_eq!(bodies[3]["contact"]["outcome"], "answered");
    assert_eq!(bodies[4]["contact"]["wrapup_code"], "resolved");

    // Every attempt is in the admins' delivery log, and only theirs.
    let admin = server.staff("hookco", "ada", "pw-ada").await;
    let (status, log) = admin.get("/api/v1/webhooks/deliveries").await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["pending"], 0);
    assert_eq!(log["endpoints"][0]["url"], receiver.url.as_str());
    assert!(log["endpoints"][0].get("secret").is_none(), "{log}");
    let attempts = log["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), events.len(), "{log}");
    for line in attempts {
        assert_eq!(
            (line["status"].as_u64(), line["state"].as_str()),
            (Some(204), Some("delivered"))
        );
        assert!(line["duration_ms"].as_i64().unwrap() >= 0);
    }
    assert_eq!(attempts[0]["type"], "contact.wrapped_up", "newest first");
    let (status, _) = kim.get("/api/v1/webhooks/deliveries").await;
    assert_eq!(status, 403, "agents do not read the log");
    server.stop().await;
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt() {
    let receiver = Receiver::start(2).await;
    let server = TestServer::builder()
        .without_demo()
        .webhooks(allowing_loopback())
        .tenant_file(&tenant_file("retryco", &receiver.url, &["contact.created"]))
        .start()
        .await;
    let _visitor = visitor_starts_chat(&server, "retryco").await;
    let received = receiver.until_accepted(1).await;
    assert_eq!(received.len(), 3, "two refusals, then the delivery");
    assert_eq!(
        received.iter().map(|r| r.accepted).collect::<Vec<_>>(),
        [false, false, true]
    );
    // The same event each time (one id to drop duplicates by), each attempt
    // signed afresh.
    let ids: Vec<_> = received
        .iter()
        .map(|r| r.headers["switchboard-delivery"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    for r in &received {
        assert_eq!(verified(r)["type"], "contact.created");
    }
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("switchboard_webhook_deliveries_total{result=\"retried\"} 2"),
        "{metrics}"
    );
    server.stop().await;
}

/// Events the receiver refused while the server ran are still delivered
/// after a restart: they wait in the outbox, not in memory.
#[tokio::test]
async fn events_pending_at_a_stop_arrive_after_the_restart_with_valid_signatures() {
    let receiver = Receiver::start(u32::MAX).await;
    let events = ["contact.created", "contact.queued"];
    let server = TestServer::builder()
        .without_demo()
        .webhooks(WebhookSettings {
            max_attempts: 20,
            retry_max_ms: 200,
            ..allowing_loopback()
        })
        .tenant_file(&tenant_file("restartco", &receiver.url, &events))
        .start()
        .await;
    let visitor = visitor_starts_chat(&server, "restartco").await;
    // Both events were tried and refused at least once.
    tokio::time::timeout(WAIT, async {
        loop {
            let tried: std::collections::HashSet<String> = receiver
                .all()
                .iter()
                .map(|r| r.headers["switchboard-event"].to_str().unwrap().to_owned())
                .collect();
            if tried.len() == events.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both events were attempted");
    drop(visitor);
    let refused_ids: std::collections::HashSet<_> = receiver
        .all()
        .iter()
        .map(|r| r.headers["switchboard-delivery"].clone())
        .collect();
    let server = server.restart().await;
    let before = receiver.all().len();
    receiver.accept_all();
    let received = receiver.until_accepted(events.len()).await;
    let accepted: Vec<&Received> = received[before..].iter().filter(|r| r.accepted).collect();
    assert_eq!(accepted.len(), events.len(), "each once: {accepted:?}");
    let mut types: Vec<String> = accepted
        .iter()
        .map(|r| verified(r)["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, events, "the events refused before the stop");
    for r in &accepted {
        assert!(
            refused_ids.contains(&r.headers["switchboard-delivery"]),
            "same delivery ids as before the stop"
        );
    }
    server.stop().await;
}

/// An endpoint that accepts connections and never answers holds up nothing
/// but its own deliveries: chats are offered at once, and the log says why
/// the attempts failed.
#[tokio::test]
async fn an_endpoint_that_never_answers_does_not_delay_routing() {
    // Accepts connections and keeps them open without a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let server = TestServer::builder()
        .without_demo()
        .webhooks(WebhookSettings {
            timeout_secs: 1,
            max_attempts: 1,
            ..allowing_loopback()
        })
        .tenant_file(&tenant_file(
            "slowco",
            &url,
            &["contact.created", "contact.offered"],
        ))
        .start()
        .await;
    let kim = server.staff("slowco", "kim", "pw-kim").await;
    let mut console = server.console(&kim).await;
    console.until_type("hello").await;
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    let mut visitors = Vec::new();
    let mut offered = Vec::new();
    // Kim takes two chats at once (the tenant file's default).
    for _ in 0..2 {
        let started = std::time::Instant::now();
        visitors.push(visitor_starts_chat(&server, "slowco").await);
        let offer = console
            .until("offer", |f| !offered.contains(&f["contact"]))
            .await;
        offered.push(offer["contact"].clone());
        assert!(
            started.elapsed() < std::time::Duration::from_millis(900),
            "offered after {:?}, within the endpoint's timeout",
            started.elapsed()
        );
        console
            .send(json!({"type": "accept", "contact": offer["contact"]}))
            .await;
        console.until_type("assigned").await;
    }
    let admin = server.staff("slowco", "ada", "pw-ada").await;
    let log = tokio::time::timeout(WAIT, async {
        loop {
            let (_, log) = admin.get("/api/v1/webhooks/deliveries").await;
            if !log["attempts"].as_array().unwrap().is_empty() {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("an attempt is logged");
    let line = &log["attempts"][0];
    assert_eq!(line["status"], Value::Null, "{line}");
    assert_eq!(line["state"], "failed", "{line}");
    assert!(
        line["error"].as_str().unwrap().contains("request failed"),
        "{line}"
    );
    assert!(line["duration_ms"].as_i64().unwrap() >= 900, "{line}");
    server.stop().await;
}

/// Without the operator's permission nothing is sent to a loopback address
/// (an endpoint there could reach the server's own admin side).
#[tokio::test]
async fn loopback_endpoints_are_refused_unless_the_operator_allows_them() {
    let receiver = Receiver::start(0).await;
    let server = TestServer::builder()
        .without_demo()
        .webhooks(WebhookSettings {
            max_attempts: 1,
            ..WebhookSettings::default()
        })
        .tenant_file(&tenant_file("ssrfco", &receiver.url, &["contact.created"]))
        .start()
        .await;
    let _visitor = visitor_starts_chat(&server, "ssrfco").await;
    tokio::time::timeout(WAIT, async {
        while !server
            .metrics()
            .await
            .contains("switchboard_webhook_deliveries_total{result=\"failed\"} 1")
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the delivery is given up");
    assert!(receiver.all().is_empty(), "nothing reached the receiver");
    server.stop().await;
}

#[test]
fn bad_endpoints_in_the_tenant_file_are_refused_with_the_reason() {
    let base = Tenant::help_desk("badco").to_string();
    for (hook, expected) in [
        (
            r#"url = "ftp://example.com/x"
secret = "0123456789abcdef"
events = ["contact.created"]"#,
            "must be http(s)",
        ),
        (
            r#"url = "https://example.com/x"
secret = "short"
events = ["contact.created"]"#,
            "secret must be at least 16 bytes",
        ),
        (
            r#"url = "https://example.com/x"
secret = "0123456789abcdef"
events = ["contact.exploded"]"#,
            "unknown event \"contact.exploded\"",
        ),
        (
            r#"url = "https://user:pw@example.com/x"
secret = "0123456789abcdef"
events = ["contact.created"]"#,
            "must not carry a user or password",
        ),
        (
            r#"url = "https://example.com/x"
secret = "0123456789abcdef"
events = []"#,
            "at least one event",
        ),
    ] {
        let text = format!("{base}\n[[webhooks]]\n{hook}\n");
        let err = switchboard::tenant_file::parse(&text)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
    let good = format!(
        "{base}\n[[webhooks]]\nurl = \"https://hooks.example.com/sb\"\nsecret = \"0123456789abcdef\"\nevents = [\"contact.ended\"]\n"
    );
    switchboard::tenant_file::parse(&good).expect("a good endpoint parses");
}
