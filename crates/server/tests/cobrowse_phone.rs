//! A push code keyed on the phone (issue 15 item 8): a caller dials a DID,
//! the agent answers in the console and joins the caller's co-browse
//! session for that contact; `*76` keyed on the phone side (RFC 4733 from the
//! test phone, the call set up by sipp) opens the tenant's page in the
//! shared session and the contact's record lists it as the phone's push.
//! And a browser call to a center's desk phone (sipp answering as the desk
//! phone): the page the caller shares is joined by code alone, and it stays
//! the call's, so `*76` from the desk phone reaches it and the call's record
//! lists it.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/phone.rs"]
#[allow(dead_code)] // the phone's own digits are not heard here
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use browser::{Browser, agent_joins};
use common::{Tenant, TestServer, Ws, free_sip_addr, hello};
use phone::RtpPhone;
use serde_json::{Value, json};
use sipp::{answering, dial_from, have_sipp};

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

/// A page of `tenant` sharing, and the join code it shows.
async fn shared_page(server: &TestServer, tenant: &str) -> (Ws, String) {
    let url = format!("{}/ws/cobrowse?tenant={tenant}", server.public_ws());
    let mut page = Ws::connect(&url, Some(&server.public), None).await;
    page.send(json!({"type": "hello"})).await;
    let code = page.until_type("welcome").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    (page, code)
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
    let (mut page, code) = shared_page(&server, "pushco").await;
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

/// Browser calls on link "center" ring the center's desk phone over the
/// trunk at `trunk_port`; `*76` is the push code.
fn centerco(trunk_port: u16) -> Tenant {
    Tenant::new("centerco")
        .center("hq", |c| c.phone("+15125550100").trunk("carrier"))
        .queue("sales", |q| q)
        .link_with("center", "sales", |l| {
            l.calls(&["voice"]).route_calls_to_phone()
        })
        .agent("pat", &["sales"])
        .supervisor("sid")
        .phone(|p| {
            p.allowed_destinations(&["+1512"])
                .caller_ids(&["+15125550900"])
                .push_code("*76", CHECKOUT)
                .trunk("carrier", |t| {
                    t.host("127.0.0.1")
                        .port(trunk_port)
                        .allowed_sources(&["127.0.0.1"])
                })
        })
}

#[tokio::test]
async fn a_desk_phone_push_code_reaches_a_session_joined_by_code_on_its_call() {
    if !have_sipp() {
        return;
    }
    let phone = RtpPhone::start(1000.0).await;
    let mut desk_phone = answering("uas-answer.xml", 1, &phone);
    let server = TestServer::builder()
        .tenant(&centerco(desk_phone.port))
        .start()
        .await;

    // The visitor calls from the site; the center's desk phone answers.
    let mut widget = server.visitor("centerco", "center").await;
    widget
        .send(hello("https://shop.example/cart", None, None))
        .await;
    let resume = widget.until_type("welcome").await["resume"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut browser, offer) = Browser::new().await;
    widget
        .send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let answer = widget.until_type("call_answer").await;
    browser
        .client
        .accept_answer(answer["sdp"].as_str().unwrap())
        .await
        .unwrap();
    browser.connected().await;
    browser
        .talk_until_frame(440.0, &mut widget, |f| {
            f["type"] == "call_state" && f["state"] == "connected" && f["keypad"] == true
        })
        .await;
    let sid = server.staff("centerco", "sid", "pw-sid").await;
    let (status, call) = sid.get("/api/v1/calls/lookup?ani=%2B15125550900").await;
    assert_eq!(status, 200, "{call}");
    let contact = call["contact"].as_i64().unwrap();

    // The visitor loads another page of the site: its widget learns at
    // once that the call is on a desk phone.
    let mut tab = server.visitor("centerco", "center").await;
    tab.send(hello("https://shop.example/help", None, Some(&resume)))
        .await;
    let welcome = tab.until_type("welcome").await;
    assert_eq!(welcome["call"]["keypad"], true, "{welcome}");

    // The visitor shares the page; the widget tells the call's socket the
    // code it shows (as web/widget/widget.js does on a desk-phone call).
    let (mut page, code) = shared_page(&server, "centerco").await;
    tab.send(json!({"type": "cobrowse_code", "code": code}))
        .await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while !server
        .metrics()
        .await
        .contains("switchboard_cobrowse_call_shares_total 1")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never bound to the call"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The agent at the desk phone keys the code read out, with no contact.
    let pat = server.staff("centerco", "pat", "pw-pat").await;
    let view_url = format!("{}/ws/cobrowse", server.agent_ws());
    let mut view = Ws::connect(&view_url, Some(&server.agent), Some(&pat.cookie)).await;
    view.send(json!({"type": "join", "code": code})).await;
    view.until_type("joined").await;
    page.until_type("join_request").await;
    page.send(json!({"type": "consent", "view": true})).await;
    let sharing = view.until_type("sharing").await;
    assert_eq!(sharing["contact"], contact, "no new contact: {sharing}");

    // `*76` on the desk phone: the shared page goes to the checkout, and the
    // call's record lists it.
    phone.send_dtmf("*76").await;
    let push = page.until_type("push").await;
    assert_eq!(push["url"], CHECKOUT, "{push}");
    let actions = actions_by(&sid, contact, "phone").await;
    assert!(
        actions.iter().any(|a| a["action"] == "view_start"),
        "{actions:?}"
    );
    let by_phone: Vec<_> = actions.iter().filter(|a| a["actor"] == "phone").collect();
    assert_eq!(by_phone.len(), 1, "{actions:?}");
    assert_eq!(by_phone[0]["detail"], CHECKOUT);
    let metrics = server.metrics().await;
    assert!(
        !metrics.contains("switchboard_cobrowse_contacts_opened_total 1"),
        "a new contact was opened"
    );

    widget.send(json!({"type": "end"})).await;
    assert_eq!(
        desk_phone.exit_code().await,
        0,
        "sipp: {}",
        desk_phone.logs()
    );
    server.stop().await;
}
