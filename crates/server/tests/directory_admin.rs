//! The directory's admin API: enrol members with drawn or vanity numbers,
//! list them (unlisted too), move numbers; clear errors; admins only.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn admins_enrol_members_and_move_numbers() {
    let server = TestServer::start().await;
    let ada = server.demo_staff("ada").await;
    let (code, body) = ada
        .send(
            Method::POST,
            "/api/v1/members",
            json!({"name": "carol", "vanity": "4444-5555-6666", "listed": false}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["number"], "4444 5555 6666");
    assert_eq!(body["member"]["numbers"], json!(["444455556666"]));
    let (code, body) = ada
        .send(Method::POST, "/api/v1/members", json!({"name": "drew"}))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["number"].as_str().unwrap().len(), 14, "{body}");

    // Taken, malformed, duplicate, unknown fields: each a clear error.
    let cases = [
        (
            json!({"name": "erin", "vanity": "444455556666"}),
            409,
            "not available",
        ),
        (
            json!({"name": "fay", "vanity": "0444 5555 6666"}),
            400,
            "2 to 9",
        ),
        (json!({"name": "gus", "vanity": "12"}), 400, "12 digits"),
        (json!({"name": "carol"}), 409, "exists"),
        (json!({"name": "9lives"}), 400, "member name"),
        (json!({"name": "hal", "role": "admin"}), 422, ""),
    ];
    for (body, want, text) in cases {
        let (code, answer) = ada
            .send(Method::POST, "/api/v1/members", body.clone())
            .await;
        assert_eq!(code, want, "{body}: {answer}");
        assert!(answer.to_string().contains(text), "{body}: {answer}");
    }

    // Unlisted carol is in the admin list, not in the directory.
    let (_, all) = ada.get("/api/v1/members?q=carol").await;
    assert_eq!(all["members"][0]["listed"], false);
    let (_, listed) = ada.get("/api/v1/directory?q=carol").await;
    assert_eq!(listed["members"], json!([]));

    let (code, body) = ada
        .send(
            Method::POST,
            "/api/v1/numbers/4444%205555%206666/move",
            json!({"to": "alice"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (_, alice) = ada.get("/api/v1/members?q=alice").await;
    assert!(
        alice["members"][0]["numbers"]
            .as_array()
            .unwrap()
            .contains(&json!("444455556666"))
    );
    let (code, _) = ada
        .send(
            Method::POST,
            "/api/v1/numbers/999999999999/move",
            json!({"to": "alice"}),
        )
        .await;
    assert_eq!(code, 404);
    let (code, _) = ada
        .send(
            Method::POST,
            "/api/v1/numbers/4444%205555%206666/move",
            json!({"to": "nobody"}),
        )
        .await;
    assert_eq!(code, 404);

    // Agents may not.
    let bob = server.demo_staff("bob").await;
    assert_eq!(bob.get("/api/v1/members").await.0, 403);
    let (code, _) = bob
        .send(Method::POST, "/api/v1/members", json!({"name": "zed"}))
        .await;
    assert_eq!(code, 403);
    server.stop().await;
}
