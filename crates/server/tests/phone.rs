//! Calls across a SIP trunk through the whole server, with sipp (Debian's
//! sip-tester) as the carrier and the call center, a test phone's RTP
//! (common/phone.rs) for the phone's media, and in-process WebRTC peers for
//! browsers. Browser to a center's phone (tones both ways, a DTMF push code,
//! the caller-id lookup, the record), a busy center, a caller dialling a DID
//! to an agent, and an unknown DID.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/phone.rs"]
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use std::time::Duration;

use browser::{Browser, agent_joins};
use common::{Tenant, TestServer, WAIT, Ws, free_sip_addr, hello, tenant::Link};
use opus_rs::OpusDecoder;
use phone::RtpPhone;
use serde_json::{Value, json};
use sipp::{Sipp, dial_from, have_sipp};

/// The phone tenant: a center reached by phone over the trunk at
/// `trunk_port` (link "center"), a DID and a routing point to agent pat (link
/// "desk"), and a customer known by the number sipp's caller dials from.
fn phoneco(trunk_port: u16) -> Tenant {
    Tenant::new("phoneco")
        .name("Phone Co")
        .center("hq", |c| c.phone("+15125550100").trunk("carrier"))
        .queue("sales", |q| q)
        .link_with("center", "sales", |l| {
            l.calls(&["voice"]).route_calls_to_phone()
        })
        .link_with("desk", "sales", |l| l.calls(&["voice"]).dial_in())
        .agent("pat", &["sales"])
        .supervisor("sid")
        .customer("c-7", |c| c.name("Casey Caller").phone("+15125557777"))
        .phone(|p| {
            p.allowed_destinations(&["+1512"])
                .caller_ids(&["+15125550900"])
                .push_code("*76", "https://shop.example/checkout")
                .routing_points(&["+15125550130"])
                .routing_point_hold_secs(30)
                .trunk("carrier", |t| {
                    t.host("127.0.0.1")
                        .port(trunk_port)
                        .allowed_sources(&["127.0.0.1"])
                })
                .number("+15125550123", "desk")
        })
        .context(&["cart"], &["order"])
}

/// A visitor's call the server took (it answered the browser's offer). A
/// call that fails at once (a busy center) may end before its media is up.
async fn placed_call(server: &TestServer, link: &str) -> (Ws, Browser) {
    let mut ws = server.visitor("phoneco", link).await;
    let mut frame = hello("http://shop.example/cart", None, None);
    // The tenant shares the cookie "cart" and the field "order", nothing else.
    frame["context"]["shared"] = json!({
        "cookies": {"cart": "c-42", "session": "s3cret"},
        "fields": {"order": "A-77"}
    });
    ws.send(frame).await;
    ws.until_type("welcome").await;
    let (browser, offer) = Browser::new().await;
    ws.send(json!({"type": "call", "media": "voice", "sdp": offer}))
        .await;
    let answer = ws.until_type("call_answer").await;
    browser
        .client
        .accept_answer(answer["sdp"].as_str().unwrap())
        .await
        .unwrap();
    (ws, browser)
}

/// A visitor's call whose media is up.
async fn visitor_call(server: &TestServer, link: &str) -> (Ws, Browser) {
    let (ws, mut browser) = placed_call(server, link).await;
    browser.connected().await;
    (ws, browser)
}

async fn record(server: &TestServer, contact: i64, pred: impl Fn(&Value) -> bool) -> Value {
    let sid = server.staff("phoneco", "sid", "pw-sid").await;
    sid.record_when(contact, pred).await
}

#[tokio::test]
async fn a_browser_call_reaches_the_center_phone_with_tones_dtmf_and_lookup() {
    if !have_sipp() {
        return;
    }
    let phone = RtpPhone::start(1000.0).await;
    let mut center = sipp::answering("uas-answer.xml", 1, &phone);
    let server = TestServer::builder()
        .tenant(&phoneco(center.port))
        .start()
        .await;
    let logs = common::logs::InfoLogs::capture();
    let (mut ws, mut browser) = visitor_call(&server, "center").await;
    let connected = browser
        .talk_until_frame(440.0, &mut ws, |f| {
            f["type"] == "call_state" && f["state"] == "connected"
        })
        .await;
    assert_eq!(connected["keypad"], true, "{connected}");

    // Tones both ways through Opus <-> PCMU.
    browser.talk_until_hears(440.0, 1000, 5).await;
    browser.talk_until_phone_hears(440.0, &phone, 5).await;

    // The center's CRM asks who is calling by the caller id it sees.
    let sid = server.staff("phoneco", "sid", "pw-sid").await;
    let (status, session) = sid.get("/api/v1/calls/lookup?ani=%2B15125550900").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["page_url"], "http://shop.example/cart");
    assert_eq!(session["link"], "center");
    assert_eq!(session["live"], true);
    assert_eq!(session["cookies"], json!({"cart": "c-42"}), "{session}");
    assert_eq!(session["fields"], json!({"order": "A-77"}));
    let contact = session["contact"].as_i64().unwrap();
    let (status, _) = sid.get("/api/v1/calls/lookup?ani=%2B15125550999").await;
    assert_eq!(status, 404, "an id from no call finds nothing");
    let (status, _) = sid.get("/api/v1/calls/lookup?ani=12345").await;
    assert_eq!(status, 400);

    // The center's agent keys *76: the visitor's widget is told to open the page.
    phone.send_dtmf("*76").await;
    let push = ws.until_type("push_page").await;
    assert_eq!(push["url"], "https://shop.example/checkout");
    assert_eq!(push["code"], "*76");
    // Digits that are no push code (a PIN, a card number) are ignored, and
    // said at info level without the digits themselves.
    phone.send_dtmf("58").await;
    logs.until("keyed digits match no push code").await;
    let keyed: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l.contains("digits=") || l.contains("\"58\""))
        .collect();
    assert!(keyed.is_empty(), "digits logged at info: {keyed:#?}");

    // The visitor keys digits for the center's menu: RFC 4733 at the phone.
    ws.send(json!({"type": "dtmf", "digits": "12x"})).await;
    let refused = ws.until_type("error").await;
    assert_eq!(refused["code"], "invalid", "{refused}");
    ws.send(json!({"type": "dtmf", "digits": "12#"})).await;
    assert_eq!(phone.wait_for_digits("12#", WAIT).await, "12#");

    // The visitor hangs up: the center gets BYE and its scenario completes.
    ws.send(json!({"type": "end"})).await;
    assert_eq!(center.exit_code().await, 0, "sipp: {}", center.logs());
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    let phone_record = &body["call"]["phone"];
    assert_eq!(phone_record["direction"], "outbound", "{body}");
    assert_eq!(phone_record["to"], "+15125550100");
    assert_eq!(phone_record["from"], "+15125550900");
    assert_eq!(phone_record["center"], "hq");
    assert_eq!(phone_record["trunk"], "carrier");
    assert_eq!(phone_record["sip_code"], 200);
    assert!(phone_record["sip_call_id"].is_string());
    assert_eq!(body["outcome"], "answered");
    server.stop().await;
}

#[tokio::test]
async fn a_busy_center_ends_the_call_politely_and_frees_the_caller_id() {
    if !have_sipp() {
        return;
    }
    let mut center = Sipp::start("uas-busy.xml", &[]);
    let server = TestServer::builder()
        .tenant(&phoneco(center.port))
        .start()
        .await;
    let (mut ws, _browser) = placed_call(&server, "center").await;
    let ended = ws.until("call_state", |f| f["state"] == "ended").await;
    assert_eq!(ended["reason"], "busy", "{ended}");
    assert_eq!(center.exit_code().await, 0, "sipp: {}", center.logs());
    let sid = server.staff("phoneco", "sid", "pw-sid").await;
    let (_, session) = sid.get("/api/v1/calls/lookup?ani=%2B15125550900").await;
    let contact = session["contact"].as_i64().unwrap();
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["call"]["phone"]["sip_code"], 486, "{body}");
    assert_eq!(session["live"], false);

    // The pool's only caller id is free again: a new call is taken (with no
    // free id the server refuses the `call` with an error instead of
    // answering it). It then reaches the trunk, which is gone now, and fails
    // on its own.
    let (mut ws, _browser) = placed_call(&server, "center").await;
    ws.until("call_state", |f| {
        f["state"] == "ended" || f["state"] == "ringing"
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn beyond_the_caller_id_pool_a_call_presents_the_trunks_own_number() {
    if !have_sipp() {
        return;
    }
    let mut center = Sipp::start("uas-busy.xml", &[]);
    // No pooled caller id at all: every call overflows to the trunk's number.
    let file = phoneco(center.port).phone(|p| {
        p.caller_ids(&[])
            .trunk("carrier", |t| t.caller_id("+15125550199"))
    });
    let server = TestServer::builder().tenant(&file).start().await;
    let (mut ws, _browser) = placed_call(&server, "center").await;
    let ended = ws.until("call_state", |f| f["state"] == "ended").await;
    assert_eq!(ended["reason"], "busy", "{ended}");
    assert_eq!(center.exit_code().await, 0, "sipp: {}", center.logs());
    let sid = server.staff("phoneco", "sid", "pw-sid").await;
    let (_, list) = sid.get("/api/v1/contacts").await;
    let contact = list["contacts"][0]["id"].as_i64().unwrap();
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["call"]["phone"]["from"], "+15125550199", "{body}");
    // The trunk's number is shared by calls: the lookup reveals none of them.
    let (status, _) = sid.get("/api/v1/calls/lookup?ani=%2B15125550199").await;
    assert_eq!(status, 404);
    server.stop().await;
}

/// A server whose SIP address is known, for callers to dial in (the trunk's
/// own port is unused: nothing is dialled out).
async fn did_server() -> (TestServer, std::net::SocketAddr) {
    did_server_with(&phoneco(9)).await
}

async fn did_server_with(tenant: &Tenant) -> (TestServer, std::net::SocketAddr) {
    let sip = free_sip_addr();
    let server = TestServer::builder()
        .tenant(tenant)
        .sip_addr(sip)
        .start()
        .await;
    (server, sip)
}

/// An agent console, available.
async fn ready_pat(server: &TestServer) -> Ws {
    let pat = server.staff("phoneco", "pat", "pw-pat").await;
    let mut console = server.console(&pat).await;
    console.until_type("hello").await;
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    console
}

/// A caller (+15125557777) on sipp `scenario` dialling `number` at the
/// server's SIP address, their media on `phone`.
fn dial(scenario: &str, sip: std::net::SocketAddr, number: &str, phone: &RtpPhone) -> Sipp {
    dial_from(scenario, sip, number, "+15125557777", phone)
}

/// A caller on sipp `scenario` dialling the `desk` link's number, answered by
/// pat, both hearing each other.
struct DidCall {
    console: Ws,
    agent: Browser,
    /// The caller's media, kept alive for the call.
    _phone: RtpPhone,
    caller: Sipp,
    contact: i64,
}

impl DidCall {
    /// The agent ends the call: the caller's phone gets BYE and its scenario
    /// completes.
    async fn agent_hangs_up(&mut self) {
        self.console
            .send(json!({"type": "end", "contact": self.contact}))
            .await;
        assert_eq!(
            self.caller.exit_code().await,
            0,
            "sipp: {}",
            self.caller.logs()
        );
    }
}

async fn answered_did_call(
    server: &TestServer,
    sip: std::net::SocketAddr,
    scenario: &str,
) -> DidCall {
    let mut console = ready_pat(server).await;
    let phone = RtpPhone::start(1500.0).await;
    let caller = dial(scenario, sip, "+15125550123", &phone);

    let offer = console.until_type("offer").await;
    assert_eq!(offer["media"], "voice");
    assert_eq!(
        offer["screenpop"]["phone"]["from"], "+15125557777",
        "{offer}"
    );
    assert_eq!(offer["screenpop"]["customer"]["name"], "Casey Caller");
    let contact = offer["contact"].as_i64().unwrap();
    let mut agent = agent_joins(&mut console, contact).await;
    agent
        .talk_until_frame(440.0, &mut console, |f| {
            f["type"] == "call_state" && f["state"] == "connected"
        })
        .await;
    agent.talk_until_hears(440.0, 1500, 5).await;
    agent.talk_until_phone_hears(440.0, &phone, 5).await;
    DidCall {
        console,
        agent,
        _phone: phone,
        caller,
        contact,
    }
}

#[tokio::test]
async fn a_caller_dialling_a_did_reaches_an_agent_with_the_crm_match() {
    if !have_sipp() {
        return;
    }
    let (server, sip) = did_server().await;
    let mut call = answered_did_call(&server, sip, "caller.xml").await;
    let contact = call.contact;
    call.agent_hangs_up().await;
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    let phone_record = &body["call"]["phone"];
    assert_eq!(phone_record["direction"], "inbound", "{body}");
    assert_eq!(phone_record["from"], "+15125557777");
    assert_eq!(phone_record["to"], "+15125550123");
    assert_eq!(phone_record["sip_code"], 200);
    server.stop().await;
}

#[tokio::test]
async fn hold_crosses_the_trunk_both_ways_as_re_invites() {
    if !have_sipp() {
        return;
    }
    let (server, sip) = did_server().await;
    let DidCall {
        mut console,
        mut agent,
        mut caller,
        contact,
        ..
    } = answered_did_call(&server, sip, "caller-hold.xml").await;

    // The agent holds: the caller's phone gets a re-INVITE with a=sendonly
    // (the scenario checks it) and hears nothing of the agent.
    console
        .send(json!({"type": "hold", "contact": contact, "on": true}))
        .await;
    console
        .until("call_state", |f| f["state"] == "on_hold")
        .await;
    console
        .send(json!({"type": "hold", "contact": contact, "on": false}))
        .await;
    agent
        .talk_until_frame(440.0, &mut console, |f| {
            f["type"] == "call_state" && f["state"] == "connected"
        })
        .await;
    // Then the caller holds the agent with its own re-INVITE (a=sendonly):
    // the agent's console shows the call on hold.
    agent
        .talk_until_frame(440.0, &mut console, |f| {
            f["type"] == "call_state" && f["state"] == "on_hold"
        })
        .await;
    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(caller.exit_code().await, 0, "sipp: {}", caller.logs());
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_did_gets_404() {
    if !have_sipp() {
        return;
    }
    let (server, sip) = did_server().await;
    let mut caller = Sipp::start(
        "caller-refused.xml",
        &[
            format!("{}:{}", sip.ip(), sip.port()),
            "-s".into(),
            "+15125550199".into(),
        ],
    );
    assert_eq!(caller.exit_code().await, 0, "sipp: {}", caller.logs());
    server.stop().await;
}

/// A visitor on the `desk` link asks for a number to call from their phone.
async fn lent_number(server: &TestServer) -> (Ws, Value) {
    let mut ws = server.visitor("phoneco", "desk").await;
    ws.send(hello("http://shop.example/cart", None, None)).await;
    let welcome = ws.until_type("welcome").await;
    assert_eq!(welcome["dial_in"], true, "{welcome}");
    // Without the number they will call from, no number is lent.
    ws.send(json!({"type": "dial_in"})).await;
    let refused = ws.until_type("error").await;
    assert_eq!(refused["code"], "invalid", "{refused}");
    ws.send(json!({"type": "dial_in", "phone": "+1 512 555 7777"}))
        .await;
    let lent = ws.until_type("dial_in").await;
    (ws, lent)
}

#[tokio::test]
async fn a_visitor_calling_the_lent_number_reaches_the_reserved_agent() {
    if !have_sipp() {
        return;
    }
    let (server, sip) = did_server().await;
    let mut console = ready_pat(&server).await;

    let (mut visitor, lent) = lent_number(&server).await;
    assert_eq!(lent["number"], "+15125550130");
    assert_eq!(lent["expires_in_seconds"], 30);

    // The agent is reserved with the web session's screen pop before any
    // phone rings, and joins the call's media.
    let offer = console.until_type("offer").await;
    assert_eq!(
        offer["screenpop"]["page"]["url"],
        "http://shop.example/cart"
    );
    // The agent is told which number the visitor's call will come in on.
    assert_eq!(offer["screenpop"]["dial_in"]["number"], "+15125550130");
    let contact = offer["contact"].as_i64().unwrap();
    let mut agent = agent_joins(&mut console, contact).await;

    // Someone else calls the lent number first: refused, and the number
    // stays lent to the visitor.
    let stranger_phone = RtpPhone::start(700.0).await;
    let mut stranger = dial_from(
        "caller.xml",
        sip,
        "+15125550130",
        "+15125550666",
        &stranger_phone,
    );
    assert_ne!(stranger.exit_code().await, 0, "the stranger was connected");
    assert!(
        stranger.logs().contains("SIP/2.0 403"),
        "sipp: {}",
        stranger.logs()
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("switchboard_routing_points_refused_total{reason=\"caller_id\"} 1"),
        "{metrics}"
    );

    // The visitor dials the lent number from their phone.
    let phone = RtpPhone::start(1500.0).await;
    let mut caller = dial("caller.xml", sip, "+15125550130", &phone);
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

    // The number went back to the pool when it was called.
    let (_other, lent_again) = lent_number(&server).await;
    assert_eq!(lent_again["number"], "+15125550130");

    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(caller.exit_code().await, 0, "sipp: {}", caller.logs());
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["call"]["phone"]["to"], "+15125550130", "{body}");
    assert_eq!(body["call"]["phone"]["direction"], "inbound");
    assert_eq!(body["page_url"], "http://shop.example/cart");
    server.stop().await;
}

#[tokio::test]
async fn an_uncalled_lent_number_expires_and_returns_to_the_pool() {
    let tenant = phoneco(9).phone(|p| p.routing_point_hold_secs(1));
    let (server, _) = did_server_with(&tenant).await;
    let (mut ws, lent) = lent_number(&server).await;
    assert_eq!(lent["number"], "+15125550130");
    // The only number is lent: a second visitor is refused politely.
    let mut other = server.visitor("phoneco", "desk").await;
    other.send(hello("http://shop.example/", None, None)).await;
    other.until_type("welcome").await;
    other
        .send(json!({"type": "dial_in", "phone": "+15125557002"}))
        .await;
    let refused = other.until_type("error").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");

    let ended = ws.until("call_state", |f| f["state"] == "ended").await;
    assert_eq!(ended["reason"], "expired", "{ended}");
    other
        .send(json!({"type": "dial_in", "phone": "+15125557002"}))
        .await;
    let lent = other.until_type("dial_in").await;
    assert_eq!(lent["number"], "+15125550130");
    server.stop().await;
}

/// The Opus packets of an Ogg file (RFC 7845), without its two header packets.
fn ogg_opus_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut packet = Vec::new();
    let mut at = 0;
    while at + 27 <= bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"OggS", "page at {at}");
        let segments = usize::from(bytes[at + 26]);
        let table = &bytes[at + 27..at + 27 + segments];
        let mut data = at + 27 + segments;
        for &len in table {
            packet.extend_from_slice(&bytes[data..data + usize::from(len)]);
            data += usize::from(len);
            if len < 255 {
                packets.push(std::mem::take(&mut packet));
            }
        }
        at = data;
    }
    assert!(packets.len() > 2, "an Ogg Opus file has headers and audio");
    assert!(packets[0].starts_with(b"OpusHead") && packets[1].starts_with(b"OpusTags"));
    packets.split_off(2)
}

/// How many 20 ms frames of a recording carry `hz`.
fn frames_with_tone(bytes: &[u8], hz: u32) -> usize {
    let mut decoder = OpusDecoder::new(8000, 1).unwrap();
    ogg_opus_packets(bytes)
        .iter()
        .filter(|p| {
            let mut pcm = vec![0f32; 960];
            decoder.decode(p, 960, &mut pcm).is_ok_and(|n| {
                let samples: Vec<f64> = pcm[..n].iter().map(|s| f64::from(*s) * 32768.0).collect();
                phone::dominant_tone(&samples) == Some(hz)
            })
        })
        .count()
}

#[tokio::test]
async fn a_recorded_phone_call_keeps_each_partys_voice() {
    if !have_sipp() {
        return;
    }
    let tenant = phoneco(9).link_with("desk", "sales", Link::record_calls);
    let (server, sip) = did_server_with(&tenant).await;
    // The caller's phone plays 1500 Hz, the agent's browser 440 Hz.
    let mut call = answered_did_call(&server, sip, "caller.xml").await;
    // Half a second more of both talking (the agent hears 25 frames of the
    // caller in a row), so each file holds a stretch of its party's tone.
    call.agent.heard.clear();
    call.agent.talk_until_hears(440.0, 1500, 25).await;
    let contact = call.contact;
    call.agent_hangs_up().await;

    let sid = server.staff("phoneco", "sid", "pw-sid").await;
    let body = record(&server, contact, |r| !r["call"]["recording"].is_null()).await;
    // The phone caller is the visitor's side of an inbound call.
    for (party, hz) in [("visitor", 1500), ("agent", 440)] {
        let url = body["call"]["recording"][party].as_str().unwrap();
        let response = sid
            .client
            .get(format!("{}{url}", sid.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{party}");
        let bytes = response.bytes().await.unwrap();
        let frames = frames_with_tone(&bytes, hz);
        assert!(
            frames >= 5,
            "{party}'s recording has {frames} frames of {hz} Hz"
        );
    }
    server.stop().await;
}

/// A trunk peer that answers every OPTIONS with 200 (what a carrier's edge
/// does), on a loopback socket of its own.
async fn options_answerer() -> (u16, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !request.starts_with("OPTIONS ") {
                continue;
            }
            let mut response = String::from("SIP/2.0 200 OK\r\n");
            for line in request.lines() {
                let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
                match name.as_str() {
                    "via" | "from" | "call-id" | "cseq" => {
                        response.push_str(line);
                        response.push_str("\r\n");
                    }
                    "to" => {
                        response.push_str(line);
                        response.push_str(";tag=edge\r\n");
                    }
                    _ => {}
                }
            }
            response += "Content-Length: 0\r\n\r\n";
            let _ = socket.send_to(response.as_bytes(), from).await;
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_trunk_answering_keepalives_is_up_on_the_metrics_page_by_tenant() {
    let (port, answerer) = options_answerer().await;
    let tenant = phoneco(port).phone(|p| p.trunk("carrier", |t| t.options_interval_secs(1)));
    let (server, _sip) = did_server_with(&tenant).await;
    let want = r#"switchboard_trunk_up{tenant="phoneco",trunk="carrier"} 1"#;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = server.metrics().await;
        if metrics.contains(want) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {want} in:\n{}",
            metrics
                .lines()
                .filter(|l| l.contains("trunk"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answerer.abort();
    server.stop().await;
}
