//! Staff sessions: login, cookie flags, CSRF on state-changing requests,
//! throttling, logout, and bad JSON bodies.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn login_sets_a_safe_cookie_and_logout_ends_the_session() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v1/login", server.agent))
        .json(&json!({"tenant": "demo", "name": "ada", "password": "demo-ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    let ada = server.demo_staff("ada").await;
    let (status, me) = ada.get("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["role"], "admin");
    let (status, _) = ada.send(Method::POST, "/api/v1/logout", json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = ada.get("/api/v1/me").await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_is_401_and_repeated_failures_are_throttled() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = client
            .post(format!("{}/api/v1/login", server.agent))
            .json(&json!({"tenant": "demo", "name": "alice", "password": "guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    let r = client
        .post(format!("{}/api/v1/login", server.agent))
        .json(&json!({"tenant": "nope", "name": "x", "password": "y"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["code"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_same_origin() {
    let server = TestServer::start().await;
    let ada = server.demo_staff("ada").await;
    let url = format!("{}/api/v1/api-keys", server.agent);
    let no_token = ada
        .client
        .post(&url)
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    let wrong = ada
        .client
        .post(&url)
        .header("x-csrf-token", "wrong")
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let cross_site = ada
        .client
        .post(&url)
        .header("x-csrf-token", &ada.csrf)
        .header("origin", "https://evil.example")
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let (status, body) = ada
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "k"}))
        .await;
    assert_eq!(status, 200);
    assert!(body["key"].as_str().unwrap().starts_with("sbk_"));
    server.stop().await;
}

#[tokio::test]
async fn malformed_json_bodies_get_400_with_the_error_shape() {
    let server = TestServer::start().await;
    let ada = server.demo_staff("ada").await;
    for body in ["{", "[]", "{\"name\": 5}", "null"] {
        let r = ada
            .client
            .put(format!("{}/api/v1/customers/x", server.agent))
            .header("x-csrf-token", &ada.csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{body}: {}", r.status());
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].is_string(), "{body}: {v}");
    }
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/login", server.agent))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    let (status, v) = ada.get("/api/v1/contacts?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("RFC 3339"));
    let (status, _) = ada.get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn merchant_pushes_crm_data_with_an_api_key() {
    let server = TestServer::start().await;
    let ada = server.demo_staff("ada").await;
    let (_, key) = ada
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "crm"}))
        .await;
    let key = key["key"].as_str().unwrap();
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/customers/cust-77", server.agent))
        .bearer_auth(key)
        .json(&json!({"name": "Pat", "tier": "silver", "tickets": [{"reference": "T-1", "subject": "Broken", "status": "open"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, c) = ada.get("/api/v1/customers/cust-77").await;
    assert_eq!(c["tickets"][0]["subject"], "Broken");
    server.stop().await;
}

#[tokio::test]
async fn fifty_wrong_passwords_from_elsewhere_do_not_lock_alice_out() {
    let server = TestServer::start().await;
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let home: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..50 {
        let r = server.login_from(attacker, "demo", "alice", "guess").await;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "a reason: {body}");
        statuses.push(status);
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    // The real alice, from her own address, at once.
    let r = server.login_from(home, "demo", "alice", "demo-alice").await;
    assert_eq!(r.status(), 200);
    // A right password does not use up her own address's allowance either.
    for _ in 0..10 {
        let r = server.login_from(home, "demo", "alice", "demo-alice").await;
        assert_eq!(r.status(), 200);
    }
    let metrics = reqwest::get(format!("{}/metrics", server.agent))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in ["bad_credentials", "login_user_address"] {
        assert!(
            metrics.contains(&format!(
                "switchboard_staff_refused_total{{reason=\"{reason}\"}}"
            )),
            "{reason} counted"
        );
    }
    server.stop().await;
}
