//! A lent number's PIN through the whole server (issue 13): with
//! `phone.routing_point_pin`, a caller whose caller id is not the one the
//! visitor gave is answered, hears the prompt, and connects to the reserved
//! agent once they key the PIN the visitor was shown (RFC 4733 from a test
//! phone, sipp as the carrier); wrong PINs use up the lent number's tries,
//! then the caller is hung up and the next stranger gets 403.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/phone.rs"]
#[allow(dead_code)]
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use browser::agent_joins;
use common::{Tenant, TestServer, WAIT, Ws, free_sip_addr, hello};
use phone::RtpPhone;
use serde_json::{Value, json};
use sipp::{dial_from, have_sipp};

const LENT: &str = "+15125550130";
const VISITOR_PHONE: &str = "+15125557777";
const STRANGER: &str = "+15125550666";

/// A tenant lending one number on its `desk` link to agent pat, with PINs of
/// `digits` digits for callers from another caller id.
fn pinco(digits: i64) -> Tenant {
    Tenant::new("pinco")
        .queue("sales", |q| q)
        .link_with("desk", "sales", |l| l.calls(&["voice"]).dial_in())
        .agent("pat", &["sales"])
        .supervisor("sid")
        .phone(|p| {
            p.routing_points(&[LENT])
                .routing_point_hold_secs(60)
                .routing_point_pin(digits)
                .trunk("carrier", |t| {
                    t.host("127.0.0.1").port(9).allowed_sources(&["127.0.0.1"])
                })
        })
}

async fn server(digits: i64) -> (TestServer, std::net::SocketAddr) {
    let sip = free_sip_addr();
    let server = TestServer::builder()
        .tenant(&pinco(digits))
        .sip_addr(sip)
        .start()
        .await;
    (server, sip)
}

/// Pat's console, available, and a visitor lent the number: the visitor's
/// socket, the `dial_in` frame, and the contact offered to pat.
async fn lent(server: &TestServer) -> (Ws, Ws, Value, i64) {
    let pat = server.staff("pinco", "pat", "pw-pat").await;
    let mut console = server.available_console(&pat).await;
    let mut visitor = server.visitor("pinco", "desk").await;
    visitor
        .send(hello("http://shop.example/cart", None, None))
        .await;
    visitor.until_type("welcome").await;
    visitor
        .send(json!({"type": "dial_in", "phone": VISITOR_PHONE}))
        .await;
    let lent = visitor.until_type("dial_in").await;
    assert_eq!(lent["number"], LENT, "{lent}");
    let offer = console.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    (console, visitor, lent, contact)
}

/// A stranger's call to the lent number, answered: their phone heard the
/// prompt's beeps.
async fn answered_stranger(sip: std::net::SocketAddr, tone: f64) -> (sipp::Sipp, RtpPhone) {
    let phone = RtpPhone::start(tone).await;
    let caller = dial_from("caller.xml", sip, LENT, STRANGER, &phone);
    assert!(
        phone.wait_for_tone(1000, 5, WAIT).await,
        "the stranger never heard the prompt; sipp: {}",
        caller.logs()
    );
    (caller, phone)
}

#[tokio::test]
async fn a_stranger_keying_the_pin_reaches_the_reserved_agent() {
    if !have_sipp() {
        return;
    }
    let logs = common::logs::InfoLogs::capture();
    let (server, sip) = server(6).await;
    let (mut console, mut visitor, lent, contact) = lent(&server).await;
    let pin = lent["pin"]
        .as_str()
        .expect("a PIN with the number")
        .to_owned();
    assert_eq!(pin.len(), 6, "{lent}");
    assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{lent}");
    let mut agent = agent_joins(&mut console, contact).await;

    let (mut caller, phone) = answered_stranger(sip, 1500.0).await;
    phone.send_dtmf(&pin).await;
    agent
        .talk_until_frame(440.0, &mut console, |f| {
            f["type"] == "call_state" && f["state"] == "connected"
        })
        .await;
    visitor
        .until("call_state", |f| f["state"] == "connected")
        .await;
    agent.talk_until_hears(440.0, 1500, 5).await;
    agent.talk_until_phone_hears(440.0, &phone, 5).await;
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("switchboard_routing_points_pin_total{result=\"right\"} 1"),
        "{metrics}"
    );
    let leaked: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!("\"{pin}\"")) || l.contains(&format!("={pin}")))
        .collect();
    assert!(leaked.is_empty(), "the PIN logged at info: {leaked:#?}");

    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(caller.exit_code().await, 0, "sipp: {}", caller.logs());
    server.stop().await;
}

#[tokio::test]
async fn wrong_pins_hang_up_the_stranger_and_refuse_the_next() {
    if !have_sipp() {
        return;
    }
    let (server, sip) = server(4).await;
    let (_console, _visitor, lent, _contact) = lent(&server).await;
    let pin = lent["pin"].as_str().expect("a PIN with the number");
    // Every digit one off: wrong however the PIN came out.
    let wrong: String = pin
        .bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect();

    // Three wrong PINs: the stranger is hung up (the scenario passes on
    // the server's BYE).
    let (mut caller, phone) = answered_stranger(sip, 1500.0).await;
    for _ in 0..3 {
        phone.send_dtmf(&wrong).await;
    }
    assert_eq!(caller.exit_code().await, 0, "sipp: {}", caller.logs());
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("switchboard_routing_points_refused_total{reason=\"pin\"} 3"),
        "{metrics}"
    );

    // The tries are spent: the next stranger is refused outright, and the
    // number stays lent (the visitor's own caller id would still connect).
    let phone = RtpPhone::start(1500.0).await;
    let mut next = dial_from("caller.xml", sip, LENT, STRANGER, &phone);
    assert_ne!(next.exit_code().await, 0, "the stranger was connected");
    assert!(next.logs().contains("SIP/2.0 403"), "sipp: {}", next.logs());
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("switchboard_routing_points_refused_total{reason=\"pin_tries\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}
