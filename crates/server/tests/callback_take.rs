//! An agent's callbacks list and "take now" (issue 14 item 5): an agent sees
//! the callbacks of the queues they serve (numbers masked, with the
//! visitor's reason) and no other; taking a scheduled callback offers it to
//! them at once, and taking is refused with a reason when they are busy, do
//! not serve its queue, or it is already with someone. A taken callback the
//! server dials goes on as usual: pat accepts, sipp as the visitor's phone
//! answers, the call is bridged and assigned.

#[path = "common/browser.rs"]
mod browser;
#[path = "common/callback.rs"]
mod callback;
mod common;
#[path = "common/phone.rs"]
#[allow(dead_code)]
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use callback::{VISITOR, accept_callback, backco};
use common::{Staff, TestServer, Ws, hello, tenant::Tenant};
use phone::RtpPhone;
use serde_json::{Value, json};
use sipp::{answering, have_sipp};

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

/// A visitor books a callback on `tenant`'s `link` at a slot some time
/// ahead, for `phone`, with a reason.
async fn book(server: &TestServer, tenant: &str, link: &str, phone: &str) -> Ws {
    let mut v = server.visitor(tenant, link).await;
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    v.send(json!({"type": "callback_slots"})).await;
    let slots = v.until_type("callback_slots").await;
    let at = slots["slots"][2].as_i64().expect("slots");
    v.send(json!({"type": "callback", "phone": phone, "at": at,
                  "reason": "question about order 5531"}))
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
    let _visitor = book(&server, "takeco", "help", "+15125557777").await;

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

#[tokio::test]
async fn a_taken_callback_the_server_dials_follows_the_usual_accept_and_dial() {
    if !have_sipp() {
        return;
    }
    let phone = RtpPhone::start(1000.0).await;
    let mut visitor_phone = answering("uas-answer.xml", 1, &phone);
    let server = TestServer::builder()
        .tenant(&backco(visitor_phone.port, &[]))
        .start()
        .await;
    let _widget = book(&server, "backco", "back", VISITOR).await;
    let pat = server.staff("backco", "pat", "pw-pat").await;
    let mut console = server.available_console(&pat).await;
    let (_, list) = pat.get("/api/v1/callbacks").await;
    assert_eq!(list["callbacks"][0]["status"], "scheduled", "{list}");
    let id = list["callbacks"][0]["contact"].as_i64().unwrap();

    let (status, body) = take(&pat, id).await;
    assert_eq!(status, 204, "{body}");
    let mut accepted = accept_callback(&mut console, 1)
        .await
        .expect("the phone answers");
    assert_eq!(accepted.contact, id);
    accepted.assigned(&mut console).await;
    console.send(json!({"type": "end", "contact": id})).await;
    assert_eq!(
        visitor_phone.exit_code().await,
        0,
        "sipp: {}",
        visitor_phone.logs()
    );
}
