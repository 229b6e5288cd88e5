//! Callbacks the server dials (issue 14), through the whole server: sipp as
//! the visitor's phone behind the tenant's trunk, a test phone's RTP
//! (common/phone.rs) for its media, an in-process WebRTC peer as the agent's
//! browser. The visitor asks for a callback; at its turn pat is reserved,
//! accepts, and the server dials; the answered call is bridged to pat's
//! browser (tones both ways), busy and unanswered attempts are retried after
//! the link's delay, and every attempt is stored, across a restart too.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/phone.rs"]
#[allow(dead_code)]
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use std::time::Duration;

use browser::Browser;
use common::{Tenant, TestServer, WAIT, Ws, hello};
use phone::RtpPhone;
use serde_json::{Value, json};
use sipp::{Sipp, have_sipp};
use switchboard::{
    ids::{ContactId, TenantId},
    store::{AttemptResult, CallbackAttempt},
};

/// The visitor's number (sipp answers whatever is dialled).
const VISITOR: &str = "+15125557777";

/// A tenant whose link "back" takes callbacks, dialled over the trunk at
/// `trunk_port`, with `settings` on top of a 1 s retry delay.
fn backco(trunk_port: u16, settings: &[(&str, i64)]) -> Tenant {
    Tenant::new("backco")
        .name("Back Co")
        .queue("sales", |q| q)
        .link_with("back", "sales", |l| {
            settings
                .iter()
                .fold(l.callback("retry_delay_secs", 1), |l, (k, v)| {
                    l.callback(k, *v)
                })
        })
        .agent("pat", &["sales"])
        .supervisor("sid")
        .phone(|p| {
            p.allowed_destinations(&["+1512"])
                .caller_ids(&["+15125550900"])
                .trunk("carrier", |t| {
                    t.host("127.0.0.1")
                        .port(trunk_port)
                        .allowed_sources(&["127.0.0.1"])
                })
        })
}

/// sipp as the visitor's phone: `scenario` for `calls` calls, its media on
/// `phone`.
fn visitor_phone(scenario: &str, calls: u32, phone: &RtpPhone) -> Sipp {
    Sipp::start(
        scenario,
        &[
            "-m".into(),
            calls.to_string(),
            "-key".into(),
            "phone_ip".into(),
            "127.0.0.1".into(),
            "-key".into(),
            "phone_port".into(),
            phone.addr.port().to_string(),
        ],
    )
}

async fn ready_pat(server: &TestServer) -> Ws {
    let pat = server.staff("backco", "pat", "pw-pat").await;
    let mut console = server.console(&pat).await;
    console.until_type("hello").await;
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    console
}

/// A visitor on the "back" link asks to be called back as soon as possible.
async fn ask_callback(server: &TestServer) -> Ws {
    let mut ws = server.visitor("backco", "back").await;
    ws.send(hello("http://shop.example/help", None, None)).await;
    ws.until_type("welcome").await;
    ws.send(json!({"type": "callback", "phone": VISITOR})).await;
    ws.until_type("callback_scheduled").await;
    ws
}

/// pat is offered the callback (attempt `attempt`), accepts it and joins its
/// call from a browser; `Err` with the `offer_cancelled` frame when the
/// attempt ended first.
async fn accept_callback(console: &mut Ws, attempt: u32) -> Result<Accepted, Value> {
    let offer = console.until_type("callback").await;
    assert_eq!(offer["phone"], VISITOR, "{offer}");
    assert_eq!(offer["attempt"], attempt, "{offer}");
    let contact = offer["contact"].as_i64().unwrap();
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    let (mut agent, sdp) = Browser::new().await;
    console
        .send(json!({"type": "call_sdp", "contact": contact, "sdp": sdp}))
        .await;
    // A phone that answers at once may be answered (and the contact
    // assigned to pat) before the browser's offer is: either order.
    let mut assigned = false;
    let answer = loop {
        let frame = console.next().await;
        match frame["type"].as_str() {
            Some("call_answer") => break frame,
            Some("assigned") => assigned = true,
            // Over before the browser joined (a busy phone answers at once).
            Some("offer_cancelled") => return Err(frame),
            _ => {}
        }
    };
    agent
        .client
        .accept_answer(answer["sdp"].as_str().unwrap())
        .await
        .unwrap();
    agent.connected().await;
    Ok(Accepted {
        contact,
        agent,
        assigned,
    })
}

/// A callback pat accepted and whose call pat's browser joined.
struct Accepted {
    contact: i64,
    agent: Browser,
    /// The contact was assigned to pat (the phone answered) already.
    assigned: bool,
}

impl Accepted {
    /// Waits for the phone's answer to assign the contact to pat (after
    /// call progress detection's wait).
    async fn assigned(&mut self, console: &mut Ws) {
        if !self.assigned {
            // Talking: the test phone sends once our media reaches it.
            self.agent
                .talk_until_frame(440.0, console, |f| f["type"] == "assigned")
                .await;
            self.assigned = true;
        }
    }
}

/// A callback under way: the visitor's phone (sipp running `scenario` for
/// `calls` calls, its media a test phone sending `tone_hz`), the server with
/// the link's `settings`, pat's console ready, and the visitor's request made.
struct Callback {
    phone: RtpPhone,
    visitor: Sipp,
    server: TestServer,
    console: Ws,
    _widget: Ws,
}

impl Callback {
    async fn start(scenario: &str, calls: u32, tone_hz: f64, settings: &[(&str, i64)]) -> Callback {
        let phone = RtpPhone::start(tone_hz).await;
        let visitor = visitor_phone(scenario, calls, &phone);
        let server = TestServer::builder()
            .tenant(&backco(visitor.port, settings))
            .start()
            .await;
        let console = ready_pat(&server).await;
        let widget = ask_callback(&server).await;
        Callback {
            phone,
            visitor,
            server,
            console,
            _widget: widget,
        }
    }
}

/// The `offer_cancelled` that ends an attempt pat accepted, whether it came
/// before pat's browser joined (a phone that refuses at once) or after
/// (pat talks meanwhile: the test phone sends once our media reaches it).
async fn attempt_cancelled(console: &mut Ws, attempt: u32) -> Value {
    match accept_callback(console, attempt).await {
        Err(cancelled) => cancelled,
        Ok(mut accepted) => {
            accepted
                .agent
                .talk_until_frame(440.0, console, |f| f["type"] == "offer_cancelled")
                .await
        }
    }
}

async fn tenant(server: &TestServer) -> TenantId {
    server
        .store
        .tenant_by_slug("backco")
        .await
        .unwrap()
        .expect("backco exists")
        .id
}

/// The stored attempts once `done` says they are complete.
async fn attempts_when(
    server: &TestServer,
    contact: i64,
    done: impl Fn(&[CallbackAttempt]) -> bool,
) -> Vec<CallbackAttempt> {
    let tenant = tenant(server).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let attempts = server
            .store
            .callback_attempts(tenant, ContactId(contact))
            .await
            .unwrap();
        if done(&attempts) {
            return attempts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "attempts: {attempts:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn results(attempts: &[CallbackAttempt]) -> Vec<(AttemptResult, Option<u16>)> {
    attempts.iter().map(|a| (a.result, a.sip_code)).collect()
}

async fn record(server: &TestServer, contact: i64, pred: impl Fn(&Value) -> bool) -> Value {
    let sid = server.staff("backco", "sid", "pw-sid").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = sid.get(&format!("/api/v1/contacts/{contact}")).await;
        if status == 200 && pred(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "record: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_server_dials_on_accept_and_bridges_the_answered_phone_to_the_agent() {
    if !have_sipp() {
        return;
    }
    let logs = common::logs::InfoLogs::capture();
    let Callback {
        phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start("uas-answer.xml", 1, 1000.0, &[]).await;
    let mut accepted = accept_callback(&mut console, 1)
        .await
        .expect("the phone answers");
    let contact = accepted.contact;

    // Answered: the core assigns the contact to pat, and the two hear each
    // other through Opus <-> PCMU.
    accepted.assigned(&mut console).await;
    let agent = &mut accepted.agent;
    agent
        .talk_until_frame(440.0, &mut console, |f| {
            f["type"] == "call_state" && f["state"] == "connected"
        })
        .await;
    agent.talk_until_hears(440.0, 1000, 5).await;
    agent.talk_until_phone_hears(440.0, &phone, 5).await;

    let attempts = attempts_when(&server, contact, |a| {
        a.first()
            .is_some_and(|a| a.result != AttemptResult::Dialing)
    })
    .await;
    assert_eq!(results(&attempts), [(AttemptResult::Answered, Some(200))]);
    assert!(attempts[0].duration_ms.is_some_and(|d| d >= 0));

    // pat ends the call: the phone gets BYE, the record says answered.
    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["media"], "callback", "{body}");
    assert_eq!(body["outcome"], "answered", "{body}");
    assert_eq!(body["call"]["phone"]["to"], VISITOR, "{body}");
    assert_eq!(body["call"]["phone"]["sip_code"], 200, "{body}");
    assert_eq!(body["callback_attempts"][0]["result"], "answered", "{body}");
    assert_eq!(body["callback_attempts"][0]["sip_code"], 200, "{body}");

    // The visitor's number is never said at info level.
    let leaked: Vec<_> = logs
        .lines()
        .into_iter()
        // The SIP stack's own wire log (rsipstack) is kept at warn by
        // the binary's default filter; the test's capture takes it all.
        .filter(|l| l.contains("5125557777") && !l.contains("raw_message="))
        .collect();
    assert!(leaked.is_empty(), "number logged at info: {leaked:#?}");
    server.stop().await;
}

#[tokio::test]
async fn a_busy_phone_is_tried_again_after_the_delay_and_answers() {
    if !have_sipp() {
        return;
    }
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start("callback_busy_then_answer.xml", 2, 1000.0, &[]).await;

    // The first attempt finds the phone busy: pat is let go, and nobody
    // clicks anything for the second attempt to come.
    let ended = attempt_cancelled(&mut console, 1).await;
    let contact = ended["contact"].as_i64().unwrap();
    assert_eq!(ended["reason"], "busy", "{ended}");
    let mut again = accept_callback(&mut console, 2)
        .await
        .expect("the phone answers");
    assert_eq!(again.contact, contact);
    again.assigned(&mut console).await;
    again.agent.talk_until_hears(440.0, 1000, 5).await;

    let attempts = attempts_when(&server, contact, |a| {
        a.len() == 2 && a[1].result != AttemptResult::Dialing
    })
    .await;
    assert_eq!(
        results(&attempts),
        [
            (AttemptResult::Busy, Some(486)),
            (AttemptResult::Answered, Some(200))
        ]
    );
    assert!(attempts[1].started_at - attempts[0].started_at >= 1000);
    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    server.stop().await;
}

#[tokio::test]
async fn an_unanswered_phone_is_tried_until_the_attempts_run_out() {
    if !have_sipp() {
        return;
    }
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start(
        "callback_no_answer.xml",
        2,
        1000.0,
        &[("ring_timeout_secs", 5), ("max_attempts", 2)],
    )
    .await;
    let contact = accept_callback(&mut console, 1).await.unwrap().contact;
    let _second = accept_callback(&mut console, 2).await.unwrap();
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    let attempts = attempts_when(&server, contact, |a| {
        a.len() == 2 && a[1].result != AttemptResult::Dialing
    })
    .await;
    // Given up at the ring timeout (487: our CANCEL) or by the trunk's
    // own no-answer timer (408), whichever fires first.
    for a in &attempts {
        assert_eq!(a.result, AttemptResult::NoAnswer, "{a:?}");
        assert!(matches!(a.sip_code, Some(408 | 487)), "{a:?}");
    }
    // Each rang about the ring timeout, not longer.
    for a in &attempts {
        let ms = a.duration_ms.unwrap();
        assert!((4_000..8_000).contains(&ms), "{a:?}");
    }
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["outcome"], "callback-failed", "{body}");

    // The supervisor's list shows it failed, with its attempts; an agent
    // may not see the list, and another queue's list is empty.
    let sid = server.staff("backco", "sid", "pw-sid").await;
    let (status, list) = sid.get("/api/v1/callbacks?queue=sales").await;
    assert_eq!(status, 200, "{list}");
    let entry = &list["callbacks"][0];
    assert_eq!(entry["contact"], contact, "{list}");
    assert_eq!(entry["status"], "failed", "{list}");
    assert_eq!(entry["attempts"], 2, "{list}");
    assert_eq!(entry["queue"], "sales", "{list}");
    assert_eq!(entry["phone"], VISITOR, "{list}");
    let (_, other) = sid.get("/api/v1/callbacks?queue=billing").await;
    assert_eq!(other["callbacks"], json!([]), "{other}");
    let pat = server.staff("backco", "pat", "pw-pat").await;
    let (status, _) = pat.get("/api/v1/callbacks").await;
    assert_eq!(status, 403);
    server.stop().await;
}

#[tokio::test]
async fn a_restart_between_attempts_continues_the_count_and_the_times() {
    if !have_sipp() {
        return;
    }
    // The restart comes within the retry delay: the rebuilt callback waits
    // for the retry time the first attempt stored, not dialled at once.
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start(
        "callback_busy_then_answer.xml",
        2,
        1000.0,
        &[("retry_delay_secs", 4)],
    )
    .await;
    let busy = attempt_cancelled(&mut console, 1).await;
    let contact = busy["contact"].as_i64().unwrap();
    let first = attempts_when(&server, contact, |a| {
        a.first().is_some_and(|a| a.result == AttemptResult::Busy)
    })
    .await;
    let sid = server.staff("backco", "sid", "pw-sid").await;
    let (_, list) = sid.get("/api/v1/callbacks").await;
    assert_eq!(list["callbacks"][0]["status"], "pending", "{list}");
    assert_eq!(list["callbacks"][0]["attempts"], 1, "{list}");
    let tenant = tenant(&server).await;
    let stored = server
        .store
        .callback_resume(tenant, ContactId(contact))
        .await
        .unwrap();
    let ended = first[0].started_at + first[0].duration_ms.unwrap();
    let retry_at = stored.retry_at.expect("a retry time is stored");
    assert!(
        (ended + 4_000..ended + 4_100).contains(&retry_at),
        "{stored:?} {first:?}"
    );
    // The default give-up time: a day from the first attempt.
    let give_up_at = stored.give_up_at.expect("a give-up time is stored");
    assert_eq!(
        give_up_at,
        first[0].started_at + 24 * 3_600_000,
        "{stored:?}"
    );
    drop(console);

    let server = server.restart().await;
    let mut console = ready_pat(&server).await;
    // The second attempt, numbered so, when it was due.
    let mut again = accept_callback(&mut console, 2)
        .await
        .expect("the phone answers");
    assert_eq!(again.contact, contact);
    again.assigned(&mut console).await;
    let attempts = attempts_when(&server, contact, |a| {
        a.len() == 2 && a[1].result != AttemptResult::Dialing
    })
    .await;
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        attempts[1].started_at >= retry_at,
        "dialled before its retry time: {attempts:?} {stored:?}"
    );
    assert_eq!(
        results(&attempts),
        [
            (AttemptResult::Busy, Some(486)),
            (AttemptResult::Answered, Some(200))
        ]
    );
    // The give-up time is the first attempt's, not one from the restart.
    let resumed = server
        .store
        .callback_resume(tenant, ContactId(contact))
        .await
        .unwrap();
    assert_eq!(resumed.give_up_at, Some(give_up_at));
    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    server.stop().await;
}

#[tokio::test]
async fn a_fax_answering_ends_the_callback_by_the_links_policy() {
    if !have_sipp() {
        return;
    }
    // The phone answers and sends a fax's answer tone (CED, 2100 Hz).
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start("uas-answer.xml", 1, 2100.0, &[]).await;
    let cancelled = attempt_cancelled(&mut console, 1).await;
    assert_eq!(cancelled["reason"], "fax", "{cancelled}");
    let contact = cancelled["contact"].as_i64().unwrap();
    // The server hangs up on the fax machine.
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    let attempts = attempts_when(&server, contact, |a| {
        a.first()
            .is_some_and(|a| a.result != AttemptResult::Dialing)
    })
    .await;
    assert_eq!(results(&attempts), [(AttemptResult::Fax, Some(200))]);
    // `on_fax = "give_up"` (the default): no second attempt.
    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["outcome"], "callback-failed", "{body}");
    assert_eq!(body["callback_attempts"].as_array().map(Vec::len), Some(1));
    server.stop().await;
}

#[tokio::test]
async fn a_supervisor_cancels_a_waiting_callback() {
    // Nobody is ready: the callback waits in line.
    let server = TestServer::builder().tenant(&backco(9, &[])).start().await;
    let _widget = ask_callback(&server).await;
    let sid = server.staff("backco", "sid", "pw-sid").await;
    let (_, list) = sid.get("/api/v1/callbacks").await;
    assert_eq!(list["callbacks"][0]["status"], "pending", "{list}");
    let contact = list["callbacks"][0]["contact"].as_i64().unwrap();

    // An agent may not; a supervisor may, once.
    let pat = server.staff("backco", "pat", "pw-pat").await;
    let path = format!("/api/v1/callbacks/{contact}/cancel");
    let (status, _) = pat.send(reqwest::Method::POST, &path, json!({})).await;
    assert_eq!(status, 403);
    let (status, body) = sid.send(reqwest::Method::POST, &path, json!({})).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = sid.send(reqwest::Method::POST, &path, json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = sid
        .send(
            reqwest::Method::POST,
            "/api/v1/callbacks/999999/cancel",
            json!({}),
        )
        .await;
    assert_eq!(status, 404);

    let body = record(&server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["outcome"], "abandoned", "{body}");
    let (_, list) = sid.get("/api/v1/callbacks").await;
    assert_eq!(list["callbacks"], json!([]), "{list}");
    server.stop().await;
}
