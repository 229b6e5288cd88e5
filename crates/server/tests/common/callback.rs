//! A callback the server dials, set up for tests (`callback_*.rs`): tenant
//! "backco" whose link "back" takes callbacks over a trunk to sipp as the
//! visitor's phone, agent pat's console, the visitor's request, pat
//! accepting each attempt from an in-process browser, and the attempts and
//! record as stored.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::{
    ids::{ContactId, TenantId},
    store::{AttemptResult, CallbackAttempt},
};

use crate::{
    browser::Browser,
    common::{Tenant, TestServer, WAIT, Ws, hello},
    phone::RtpPhone,
    sipp::{Sipp, answering},
};

/// A link's callback setting's value (`[links.callback]`), as in
/// `("max_attempts", 2.into())`.
pub type Setting = toml::Value;

/// The visitor's number (sipp answers whatever is dialled).
pub const VISITOR: &str = "+15125557777";

/// A tenant whose link "back" takes callbacks, dialled over the trunk at
/// `trunk_port`, with `settings` on top of a 1 s retry delay.
pub fn backco(trunk_port: u16, settings: &[(&str, Setting)]) -> Tenant {
    Tenant::new("backco")
        .name("Back Co")
        .queue("sales", |q| q)
        .link_with("back", "sales", |l| {
            settings
                .iter()
                .fold(l.callback("retry_delay_secs", 1), |l, (k, v)| {
                    l.callback(k, v.clone())
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

pub async fn ready_pat(server: &TestServer) -> Ws {
    let pat = server.staff("backco", "pat", "pw-pat").await;
    server.available_console(&pat).await
}

/// A visitor on the "back" link asks to be called back as soon as possible.
pub async fn ask_callback(server: &TestServer) -> Ws {
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
pub async fn accept_callback(console: &mut Ws, attempt: u32) -> Result<Accepted, Value> {
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
    agent.answered(&answer).await;
    Ok(Accepted {
        contact,
        agent,
        assigned,
    })
}

/// A callback pat accepted and whose call pat's browser joined.
pub struct Accepted {
    pub contact: i64,
    pub agent: Browser,
    /// The contact was assigned to pat (the phone answered) already.
    pub assigned: bool,
}

impl Accepted {
    /// Waits for the phone's answer to assign the contact to pat (after
    /// call progress detection's wait).
    pub async fn assigned(&mut self, console: &mut Ws) {
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
/// `calls` calls, its media on `phone`), the server with the link's
/// `settings`, pat's console ready, and the visitor's request made.
pub struct Callback {
    pub phone: RtpPhone,
    pub visitor: Sipp,
    pub server: TestServer,
    pub console: Ws,
    pub _widget: Ws,
}

impl Callback {
    pub async fn start(
        scenario: &str,
        calls: u32,
        phone: RtpPhone,
        settings: &[(&str, Setting)],
    ) -> Callback {
        let webhooks = switchboard::webhooks::WebhookSettings::default();
        Self::start_with(scenario, calls, phone, settings, "", webhooks).await
    }

    /// As [`Callback::start`], with `extra` (e.g. a `[[webhooks]]` table)
    /// after backco's tenant file and the server's webhook settings.
    pub async fn start_with(
        scenario: &str,
        calls: u32,
        phone: RtpPhone,
        settings: &[(&str, Setting)],
        extra: &str,
        webhooks: switchboard::webhooks::WebhookSettings,
    ) -> Callback {
        let visitor = answering(scenario, calls, &phone);
        let tenant = backco(visitor.port, settings);
        let server = TestServer::builder()
            .webhooks(webhooks)
            .tenant_file(&format!("{tenant}{extra}"))
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
pub async fn attempt_cancelled(console: &mut Ws, attempt: u32) -> Value {
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

pub async fn tenant(server: &TestServer) -> TenantId {
    server
        .store
        .tenant_by_slug("backco")
        .await
        .unwrap()
        .expect("backco exists")
        .id
}

/// The stored attempts once `done` says they are complete.
pub async fn attempts_when(
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

pub fn results(attempts: &[CallbackAttempt]) -> Vec<(AttemptResult, Option<u16>)> {
    attempts.iter().map(|a| (a.result, a.sip_code)).collect()
}

pub async fn record(server: &TestServer, contact: i64, pred: impl Fn(&Value) -> bool) -> Value {
    let sid = server.staff("backco", "sid", "pw-sid").await;
    sid.record_when(contact, pred).await
}

/// Once `want.len()` attempts have ended: their results and SIP codes are
/// `want`, and the callback's record ended as `callback-failed`.
pub async fn given_up(
    server: &TestServer,
    contact: i64,
    want: &[(AttemptResult, Option<u16>)],
) -> Value {
    let attempts = attempts_when(server, contact, |a| {
        a.len() == want.len() && a.iter().all(|a| a.result != AttemptResult::Dialing)
    })
    .await;
    assert_eq!(results(&attempts), want, "{attempts:?}");
    let body = record(server, contact, |r| r["ended_at"].is_i64()).await;
    assert_eq!(body["outcome"], "callback-failed", "{body}");
    assert_eq!(
        body["callback_attempts"].as_array().map(Vec::len),
        Some(want.len()),
        "{body}"
    );
    body
}
