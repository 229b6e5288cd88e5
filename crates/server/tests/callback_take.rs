//! An agent's callbacks list and "take now" (issue 14 item 5): an agent sees
//! the callbacks of the queues they serve (numbers masked, with the
//! visitor's reason) and no other; taking a scheduled callback offers it to
//! them at once, and taking is refused with a reason when they are busy, do
//! not serve its queue, or it is already with someone.

mod common;

use common::{Staff, TestServer, Ws, hello, tenant::Tenant};
use serde_json::{Value, json};

/// "help" is dialled by its agents by hand (no trunk needed); pat serves
/// it, quinn serves only "billing".
fn tenant() -> Tenant {
    Tenant::new("takeco")
        .name("Take Co")
        .queue("help", |q| q)
        .queue("billing", |q| q)
        .link_with("help", "help", |l| {
            l.callback("form", true).callback("dial", "agent")
        })
        .agent("pat", &["help"])
        .agent("quinn", &["billing"])
        .supervisor("sid")
}

/// A visitor books a callback on "help" at a slot an hour or more ahead,
/// with a reason.
async fn book(server: &TestServer) -> Ws {
    let mut v = server.visitor("takeco", "help").await;
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    v.send(json!({"type": "callback_slots"})).await;
    let slots = v.until_type("callback_slots").await;
    let at = slots["slots"][2].as_i64().expect("slots");
    v.send(
        json!({"type": "callback", "phone": "+15125557777", "at": at,
                  "reason": "question about order 5531"}),
    )
    .await;
    let booked = v.until_type("callback_scheduled").await;
    assert_eq!(booked["at"], at, "{booked}");
    v
}

async fn take(staff: &Staff, id: i64) -> (u16, Value) {
    staff
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/callbacks/{id}/take"),
            json!({}),
        )
        .await
}

#[tokio::test]
async fn an_agent_lists_and_takes_a_scheduled_callback_of_their_queue() {
    let server = TestServer::builder()
        .tenant(&tenant())
        .tenant(
            &Tenant::new("elsewhere")
                .queue("help", |q| q)
                .agent("eve", &["help"]),
        )
        .start()
        .await;
    let _visitor = book(&server).await;

    let pat = server.staff("takeco", "pat", "pw-pat").await;
    let (status, list) = pat.get("/api/v1/callbacks").await;
    assert_eq!(status, 200, "{list}");
    let entry = &list["callbacks"][0];
    assert_eq!(entry["status"], "scheduled", "{list}");
    assert_eq!(entry["queue"], "help", "{list}");
    assert_eq!(entry["reason"], "question about order 5531", "{list}");
    let phone = entry["phone"].as_str().unwrap();
    assert!(
        phone.ends_with("77") && !phone.contains("5557777"),
        "{phone}"
    );
    let id = entry["contact"].as_i64().unwrap();

    // The supervisor sees the full number; quinn does not see it at all.
    let sid = server.staff("takeco", "sid", "pw-sid").await;
    let (_, all) = sid.get("/api/v1/callbacks").await;
    assert_eq!(all["callbacks"][0]["phone"], "+15125557777", "{all}");
    let quinn = server.staff("takeco", "quinn", "pw-quinn").await;
    let (_, theirs) = quinn.get("/api/v1/callbacks").await;
    assert_eq!(theirs["callbacks"], json!([]), "{theirs}");
    let _quinn_console = server.available_console(&quinn).await;
    let (status, body) = take(&quinn, id).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("do not serve"), "{body}");

    // Another tenant's agent finds nothing there.
    let eve = server.staff("elsewhere", "eve", "pw-eve").await;
    let (_, none) = eve.get("/api/v1/callbacks").await;
    assert_eq!(none["callbacks"], json!([]), "{none}");
    let _eve_console = server.available_console(&eve).await;
    let (status, _) = take(&eve, id).await;
    assert_eq!(status, 404);

    // Without the console, and while not ready, pat cannot take it.
    let (status, body) = take(&pat, id).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("console"), "{body}");
    let mut console = server.console(&pat).await;
    console.until_type("hello").await;
    let (status, body) = take(&pat, id).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("busy"), "{body}");

    // Available: taken at once, though its time is an hour or more away.
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    let (status, body) = take(&pat, id).await;
    assert_eq!(status, 204, "{body}");
    let dial = console.until_type("callback").await;
    assert_eq!(dial["contact"], id, "{dial}");
    assert_eq!(dial["phone"], "+15125557777", "{dial}");
    assert_eq!(
        dial["screenpop"]["callback_reason"], "question about order 5531",
        "{dial}"
    );

    // It is with pat now: nobody takes it again.
    let (status, body) = take(&pat, id).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string().contains("being offered or dialled"),
        "{body}"
    );
}
