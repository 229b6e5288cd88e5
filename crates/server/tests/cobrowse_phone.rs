//! A push code keyed on the phone (issue 15 item 8): a caller dials a DID,
//! the agent answers in the console and joins the caller's co-browse
//! session for that contact; `*76` keyed on the phone side (RFC 4733 from the
//! test phone, the call set up by sipp) opens the tenant's page in the
//! shared session and the contact's record lists it as the phone's push.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/phone.rs"]
#[allow(dead_code)] // the phone's own digits are not heard here
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use browser::agent_joins;
use common::{Tenant, TestServer, Ws, free_sip_addr};
use phone::RtpPhone;
use serde_json::{Value, json};
use sipp::{dial_from, have_sipp};

const CHECKOUT: &str = "https://shop.example/checkout";

/// A DID (+15125550123) to agent pat, and the push code `*76`.
fn pushco() -> Tenant {
    Tenant::new("pushco")
        .queue("sales", |q| q)
        .link_with("desk", "sales", |l| l.calls(&["voice"]))
        .agent("pat", &["sales"])
        .phone(|p| {
            p.push_code("*76", CHECKOUT)
                .trunk("carrier", |t| {
                    t.host("127.0.0.1").port(9).allowed_sources(&["127.0.0.1"])
                })
                .number("+15125550123", "desk")
        })
}

/// The contact's co-browse actions once one by `actor` is there (the
/// recorder writes off the relay's path).
async fn actions_by(staff: &common::Staff, contact: i64, actor: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let (status, record) = staff.get(&format!("/api/v1/contacts/{contact}")).await;
        assert_eq!(status, 200, "{record}");
        let actions = record["cobrowse"].as_array().cloned().unwrap_or_default();
        if actions.iter().any(|a| a["actor"] == actor) {
            return actions;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing by {actor} in {actions:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_push_code_keyed_on_the_phone_opens_the_page_in_the_shared_session() {
    if !have_sipp() {
        return;
    }
    let sip = free_sip_addr();
    let server = TestServer::builder()
        .tenant(&pushco())
        .sip_addr(sip)
        .start()
        .await;
    let (pat, mut console) = server
        .ready_staff(server.staff("pushco", "pat", "pw-pat").await)
        .await;

    // The caller dials the DID; pat answers and they hear each other.
    let phone = RtpPhone::start(1500.0).await;
    let mut caller = dial_from("caller.xml", sip, "+15125550123", "+15125557777", &phone);
    let contact = console.until_type("offer").await["contact"]
        .as_i64()
        .unwrap();
    let mut agent = agent_joins(&mut console, contact).await;
    agent
        .talk_until_frame(440.0, &mut console, |f| {
            f["type"] == "call_state" && f["state"] == "connected"
        })
        .await;
    agent.talk_until_phone_hears(440.0, &phone, 5).await;

    // The caller opens the site and reads out the code; pat joins with it
    // for this contact, and the caller lets them see.
    let url = format!("{}/ws/cobrowse?tenant=pushco", server.public_ws());
    let mut page = Ws::connect(&url, Some(&server.public), None).await;
    page.send(json!({"type": "hello"})).await;
    let code = page.until_type("welcome").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut view = Ws::connect(&view_url, Some(&server.agent), Some(&pat.cookie)).await;
    view.send(json!({"type": "join", "code": code, "contact": contact}))
        .await;
    view.until_type("joined").await;
    page.until_type("join_request").await;
    page.send(json!({"type": "consent", "view": true})).await;
    view.until_type("sharing").await;

    // `*76` on the phone: the shared page is told to go to the checkout.
    phone.send_dtmf("*76").await;
    let push = page.until_type("push").await;
    assert_eq!(push["url"], CHECKOUT, "{push}");
    let actions = actions_by(&pat, contact, "phone").await;
    let by_phone: Vec<_> = actions.iter().filter(|a| a["actor"] == "phone").collect();
    assert_eq!(by_phone.len(), 1, "{actions:?}");
    assert_eq!(by_phone[0]["action"], "push");
    assert_eq!(by_phone[0]["detail"], CHECKOUT);

    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(caller.exit_code().await, 0, "sipp: {}", caller.logs());
    server.stop().await;
}
