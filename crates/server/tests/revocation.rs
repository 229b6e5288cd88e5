//! Revoking staff access: logout and disabling a user close the console at
//! once, deleted and expired API keys are refused, and recordings are for
//! supervisors, admins and API keys with the `recordings` scope only.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard::{
    ids::ContactId,
    store::{CallRecord, ContactMedia, NewContact, Role},
};

/// The close code a console gets when its session ends.
const SESSION_ENDED: u16 = 4001;

#[tokio::test]
async fn logout_closes_the_console_within_a_second() {
    let server = TestServer::start().await;
    let (alice, mut console) = server.ready_agent("alice").await;
    let started = std::time::Instant::now();
    let (status, _) = alice.send(Method::POST, "/api/v1/logout", json!({})).await;
    assert_eq!(status, 200);
    let close = console.close_frame().await;
    assert_eq!(close, Some((SESSION_ENDED, "logged out".to_owned())));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "closed after {:?}",
        started.elapsed()
    );
    // The session is gone for a new console too.
    let url = format!("{}/ws/agent", server.agent_ws());
    let refused = common::Ws::try_connect(&url, Some(&server.agent), Some(&alice.cookie)).await;
    assert_eq!(refused.err(), Some(401));
    server.stop().await;
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_her_console_closes() {
    let server = TestServer::start().await;
    let ada = server.demo_staff("ada").await;
    let (alice, mut console) = server.ready_agent("alice").await;
    let (status, body) = ada
        .send(Method::POST, "/api/v1/users/alice/disable", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["disabled"], true);
    assert_eq!(
        console.close_frame().await,
        Some((SESSION_ENDED, "user disabled".to_owned()))
    );
    let (status, _) = alice.get("/api/v1/me").await;
    assert_eq!(status, 401, "her session ended");
    let r = server
        .login_from("127.0.0.1".parse().unwrap(), "demo", "alice", "demo-alice")
        .await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "disabled");
    // A wrong password says no more than for anyone else.
    let r = server
        .login_from("127.0.0.1".parse().unwrap(), "demo", "alice", "guess")
        .await;
    assert_eq!(r.status(), 401);

    let (_, users) = ada.get("/api/v1/users").await;
    let listed = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(listed["disabled"], true);
    let (status, _) = ada
        .send(Method::POST, "/api/v1/users/ada/disable", json!({}))
        .await;
    assert_eq!(status, 400, "an admin cannot disable herself");
    let (status, _) = ada
        .send(Method::POST, "/api/v1/users/nobody/disable", json!({}))
        .await;
    assert_eq!(status, 404);
    let bob = server.demo_staff("bob").await;
    let (status, _) = bob
        .send(Method::POST, "/api/v1/users/alice/enable", json!({}))
        .await;
    assert_eq!(status, 403, "agents cannot enable users");

    let (status, _) = ada
        .send(Method::POST, "/api/v1/users/alice/enable", json!({}))
        .await;
    assert_eq!(status, 200);
    server.demo_staff("alice").await;
    server.stop().await;
}

async fn bearer_get(server: &TestServer, key: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.agent))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn api_keys_are_listed_without_secrets_and_deleted_at_once() {
    let server = TestServer::start().await;
    let ada = server.demo_staff("ada").await;
    let (status, created) = ada
        .send(
            Method::POST,
            "/api/v1/api-keys",
            json!({"name": "crm", "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(bearer_get(&server, &key, "/api/v1/contacts").await.0, 200);

    let (status, list) = ada.get("/api/v1/api-keys").await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(!text.contains(&key), "the secret is shown once only");
    assert_eq!(list["api_keys"][0]["name"], "crm");
    assert_eq!(list["api_keys"][0]["expired"], false);
    assert_eq!(list["api_keys"][0]["expires_at"], 4_070_908_800_000_i64);

    let (status, _) = ada
        .send(Method::DELETE, &format!("/api/v1/api-keys/{id}"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = bearer_get(&server, &key, "/api/v1/contacts").await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = ada
        .send(Method::DELETE, &format!("/api/v1/api-keys/{id}"), json!({}))
        .await;
    assert_eq!(status, 404);

    // Bad input: each refused with a reason.
    for (body, why) in [
        (
            json!({"name": "k", "expires_at": "2000-01-01T00:00:00Z"}),
            "future",
        ),
        (json!({"name": "k", "expires_at": "soon"}), "RFC 3339"),
        (
            json!({"name": "k", "scopes": ["everything"]}),
            "unknown scope",
        ),
        (
            json!({"name": "k", "scopes": ["recordings", "recordings"]}),
            "twice",
        ),
        (json!({"name": ""}), "1-100"),
    ] {
        let (status, answer) = ada.send(Method::POST, "/api/v1/api-keys", body).await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
    // Keys cannot manage keys.
    let (_, other) = ada
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "other"}))
        .await;
    let other = other["key"].as_str().unwrap();
    assert_eq!(bearer_get(&server, other, "/api/v1/api-keys").await.0, 403);
    server.stop().await;
}

#[tokio::test]
async fn an_expired_api_key_is_refused() {
    let server = TestServer::start().await;
    let tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let key = "sbk_expired-test-key";
    server
        .store
        .create_api_key(
            tenant.id,
            "old",
            &switchboard::auth::token_hash(key),
            Some(switchboard::store::now_ms() - 1000),
            &[],
        )
        .await
        .unwrap();
    let (status, body) = bearer_get(&server, key, "/api/v1/contacts").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "key_expired");
    let ada = server.demo_staff("ada").await;
    let (_, list) = ada.get("/api/v1/api-keys").await;
    assert_eq!(list["api_keys"][0]["expired"], true);
    server.stop().await;
}

/// A voice contact of the demo tenant with a recording on disk.
async fn recorded_contact(server: &TestServer) -> i64 {
    let tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let link = server.store.links(tenant.id).await.unwrap()[0].id;
    let id = ContactId(9_000_001);
    server
        .store
        .create_contact(
            id,
            &NewContact {
                resume_hash: "r".into(),
                page_url: "http://shop.example/".into(),
                ..NewContact::unknown(tenant.id, link, ContactMedia::Voice)
            },
        )
        .await
        .unwrap();
    let call = CallRecord {
        talk_ms: 1000,
        hold_ms: 0,
        transfers: 0,
        recording: Some("test-call".into()),
    };
    server
        .store
        .set_call_record(tenant.id, id, &call)
        .await
        .unwrap();
    let dir = server.data_dir().join("recordings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("test-call-visitor.ogg"), b"OggS-not-really").unwrap();
    id.0
}

#[tokio::test]
async fn recordings_need_a_supervisor_or_the_recordings_scope() {
    let server = TestServer::start().await;
    let contact = recorded_contact(&server).await;
    let path = format!("/api/v1/contacts/{contact}/recordings/visitor");
    let ada = server.demo_staff("ada").await;
    let (_, plain) = ada
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "crm"}))
        .await;
    let (_, scoped) = ada
        .send(
            Method::POST,
            "/api/v1/api-keys",
            json!({"name": "archive", "scopes": ["recordings"]}),
        )
        .await;
    assert_eq!(scoped["scopes"], json!(["recordings"]));

    let (status, body) = bearer_get(&server, plain["key"].as_str().unwrap(), &path).await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recordings scope"),
        "{body}"
    );
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.agent))
        .bearer_auth(scoped["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"OggS-not-really");

    let alice = server.demo_staff("alice").await;
    assert_eq!(alice.get_text(&path).await.0, 403, "agents may not");
    let sam = server.demo_staff("sam").await;
    assert_eq!(sam.get_text(&path).await.0, 200, "supervisors may");
    let metrics = reqwest::get(format!("{}/metrics", server.agent))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("switchboard_staff_refused_total{reason=\"forbidden\"}"));
    server.stop().await;
}

#[tokio::test]
async fn another_tenant_cannot_delete_keys_or_disable_users() {
    let server = TestServer::builder()
        .tenant(
            &common::Tenant::new("acme")
                .queue("help", |q| q)
                .link("help", "help"),
        )
        .start()
        .await;
    let acme = server.store.tenant_by_slug("acme").await.unwrap().unwrap();
    let hash = switchboard::auth::hash_password("acme-admin-pw").unwrap();
    server
        .store
        .create_user(acme.id, "root", "Acme Root", Role::Admin, &hash)
        .await
        .unwrap();
    let root = server.staff("acme", "root", "acme-admin-pw").await;
    let ada = server.demo_staff("ada").await;
    let (_, created) = ada
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "crm"}))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();

    let (status, _) = root
        .send(Method::DELETE, &format!("/api/v1/api-keys/{id}"), json!({}))
        .await;
    assert_eq!(status, 404);
    let (_, list) = root.get("/api/v1/api-keys").await;
    assert_eq!(list["api_keys"], json!([]));
    let (status, _) = root
        .send(Method::POST, "/api/v1/users/alice/disable", json!({}))
        .await;
    assert_eq!(status, 404);
    let (_, users) = root.get("/api/v1/users").await;
    assert_eq!(users["users"].as_array().unwrap().len(), 1);

    assert_eq!(bearer_get(&server, &key, "/api/v1/contacts").await.0, 200);
    server.demo_staff("alice").await;
    server.stop().await;
}

#[tokio::test]
async fn expired_sessions_are_refused_and_purged() {
    let server = TestServer::start().await;
    let tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let alice = server
        .store
        .user_by_name(tenant.id, "alice")
        .await
        .unwrap()
        .unwrap();
    let now = switchboard::store::now_ms();
    let token = "expired-session-token";
    let hash = switchboard::auth::token_hash(token);
    server
        .store
        .create_session(tenant.id, alice.id, &hash, "csrf", now - 1)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.agent))
        .header("cookie", format!("sb_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "expired before the purge runs");
    let live = server.demo_staff("bob").await;
    let purged = server
        .store
        .purge_expired_sessions(now, 1000)
        .await
        .unwrap();
    // The server's own purge (it runs once at start) may have been first.
    assert!(
        purged.is_empty() || purged == vec![hash.clone()],
        "{purged:?}"
    );
    // The row is gone: its token hash (unique) can be stored again.
    server
        .store
        .create_session(tenant.id, alice.id, &hash, "csrf", now - 1)
        .await
        .expect("the expired session was deleted");
    assert_eq!(live.get("/api/v1/me").await.0, 200, "live sessions stay");
    server.stop().await;
}

#[tokio::test]
async fn logout_ends_the_live_event_stream() {
    let server = TestServer::start().await;
    let sam = server.demo_staff("sam").await;
    let mut events = sam
        .client
        .get(format!("{}/api/v1/live/events", server.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let (status, _) = sam.send(Method::POST, "/api/v1/logout", json!({})).await;
    assert_eq!(status, 200);
    let ended = tokio::time::timeout(common::WAIT, async {
        // Events or keep-alives may come first; the stream then ends.
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended with the session");
    server.stop().await;
}
