//! A visitor's callback request from the widget's form, and the signed link
//! they keep (issue 14 items 1 and 5, "Bad input"): what is refused before
//! anything is stored, the slots offered, moving and cancelling through the
//! manage page and the supervisor's REST call, and manage links that are
//! tampered, expired or another tenant's.

mod common;

use common::{TestServer, Ws, hello, tenant::Tenant};
use serde_json::{Value, json};
use switchboard::{
    callback_link::{KEY_NAME, LinkKey, ManageToken},
    ids::{ContactId, TenantId},
};

const HOUR_MS: i64 = 3_600_000;

/// Open 09:00-17:00 UTC every day; callbacks to +44 only, 7 days ahead.
/// "help" lets its agents dial by hand; "dialled" is dialled by the server,
/// which has no trunk to dial through.
fn tenant() -> Tenant {
    Tenant::new("cbq")
        .name("Callback Co")
        .center("hq", |c| {
            c.time_zone("UTC").hours(&[
                ("mon", "09:00-17:00"),
                ("tue", "09:00-17:00"),
                ("wed", "09:00-17:00"),
                ("thu", "09:00-17:00"),
                ("fri", "09:00-17:00"),
                ("sat", "09:00-17:00"),
                ("sun", "09:00-17:00"),
            ])
        })
        .queue("help", |q| q)
        .calls(|c| c.callback_horizon_days(7).callback_destinations(&["+44"]))
        .link_with("help", "help", |l| {
            l.callback("form", true).callback("dial", "agent")
        })
        .link_with("dialled", "help", |l| l.callback("form", true))
        .agent("kim", &["help"])
        .supervisor("sid")
}

async fn server() -> TestServer {
    TestServer::builder().tenant(&tenant()).start().await
}

/// A visitor on `link` after `welcome` and (these links have the form)
/// `callback_offer`, which is returned.
async fn visitor(server: &TestServer, link: &str) -> (Ws, Value) {
    let mut v = server.visitor("cbq", link).await;
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    let offer = v.until_type("callback_offer").await;
    (v, offer)
}

/// Sends `frame` and returns the first `callback_*` answer or error.
async fn ask(v: &mut Ws, frame: Value) -> Value {
    v.send(frame).await;
    loop {
        let f = v.next().await;
        let kind = f["type"].as_str().unwrap_or_default();
        if kind == "error" || (kind.starts_with("callback_") && kind != "callback_status") {
            return f;
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The next 03:00 UTC at least an hour away: closed, within the horizon.
fn closed_time() -> i64 {
    let day = 24 * HOUR_MS;
    let mut t = now_ms().div_euclid(day) * day + 3 * HOUR_MS;
    while t < now_ms() + HOUR_MS {
        t += day;
    }
    t
}

fn refused(answer: &Value, words: &str) {
    assert_eq!(answer["type"], "error", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{words:?} not in {answer}");
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_stored() {
    let server = server().await;
    let (mut v, offer) = visitor(&server, "help").await;
    assert_eq!(offer["countries"], json!(["+44"]), "{offer}");

    let outside = ask(
        &mut v,
        json!({"type": "callback", "phone": "+1 512 555 0100"}),
    )
    .await;
    refused(&outside, "cannot call this number");
    let phone = "+44 20 7946 0123";
    let past = ask(
        &mut v,
        json!({"type": "callback", "phone": phone, "at": now_ms() - 60_000}),
    )
    .await;
    refused(&past, "has passed");
    let beyond = ask(
        &mut v,
        json!({"type": "callback", "phone": phone, "at": now_ms() + 8 * 24 * HOUR_MS}),
    )
    .await;
    refused(&beyond, "within the next 7 days");
    let closed = ask(
        &mut v,
        json!({"type": "callback", "phone": phone, "at": closed_time()}),
    )
    .await;
    refused(&closed, "closed then");
    let reason = ask(
        &mut v,
        json!({"type": "callback", "phone": phone, "reason": "x".repeat(201)}),
    )
    .await;
    refused(&reason, "200 characters");

    // The server dials this link's callbacks, and the tenant has no trunk.
    let (mut w, _) = visitor(&server, "dialled").await;
    let no_trunk = ask(&mut w, json!({"type": "callback", "phone": phone})).await;
    refused(&no_trunk, "cannot place calls");

    let sid = server.staff("cbq", "sid", "pw-sid").await;
    let (status, list) = sid.get("/api/v1/callbacks").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["callbacks"], json!([]), "{list}");
    let (_, records) = sid.get("/api/v1/contacts").await;
    assert_eq!(records["contacts"], json!([]), "{records}");
}

/// A public page request without following redirects.
fn public_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(server: &TestServer, path: &str) -> (u16, String) {
    let r = public_client()
        .get(format!("{}{path}", server.public))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(
    server: &TestServer,
    path: &str,
    form: &[(&str, String)],
    origin: Option<&str>,
) -> (u16, String) {
    let mut request = public_client()
        .post(format!("{}{path}", server.public))
        .form(form);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The callbacks list once `pred` holds of it (the record is written after
/// the desk answers), or a failure after 5 s.
async fn callbacks_when(server: &TestServer, pred: impl Fn(&Value) -> bool) -> Value {
    let sid = server.staff("cbq", "sid", "pw-sid").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, list) = sid.get("/api/v1/callbacks").await;
        if pred(&list["callbacks"]) {
            return list;
        }
        assert!(std::time::Instant::now() < deadline, "never so: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until the callback is stored as due at `at`.
async fn scheduled_at(server: &TestServer, at: i64) {
    callbacks_when(server, |l| l[0]["scheduled_for"] == at).await;
}

#[tokio::test]
async fn a_booked_callback_moves_and_cancels_through_its_signed_link() {
    let server = server().await;
    let (mut v, _) = visitor(&server, "help").await;
    let slots = ask(&mut v, json!({"type": "callback_slots"})).await;
    let slots: Vec<i64> = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect();
    // Every half hour while open, from a little ahead, within 7 days.
    assert!(slots.len() >= 6 * 16, "{slots:?}");
    for s in &slots {
        assert!(*s > now_ms() && *s <= now_ms() + 7 * 24 * HOUR_MS, "{s}");
        assert_eq!(s % (HOUR_MS / 2), 0, "{s}");
        let hour = s.rem_euclid(24 * HOUR_MS) / HOUR_MS;
        assert!((9..17).contains(&hour), "{s} is at {hour}h UTC");
    }

    let booked = ask(
        &mut v,
        json!({"type": "callback", "phone": "+44 20 7946 0123", "at": slots[2],
               "reason": "question about order 5531"}),
    )
    .await;
    assert_eq!(booked["type"], "callback_scheduled", "{booked}");
    assert_eq!(booked["at"], slots[2], "{booked}");
    let manage = booked["manage"].as_str().unwrap().to_owned();
    assert!(manage.starts_with("/callback/"), "{booked}");
    scheduled_at(&server, slots[2]).await;

    let (status, html) = page(&server, &manage).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("+44 ••••••••23"), "{html}");
    assert!(!html.contains("79460123"), "the number is masked: {html}");
    assert!(html.contains("data-state=\"scheduled\""), "{html}");

    // The page's form moves it; the record follows.
    let (status, _) = post(
        &server,
        &format!("{manage}/reschedule"),
        &[("at", slots[5].to_string())],
        None,
    )
    .await;
    assert_eq!(status, 303);
    scheduled_at(&server, slots[5]).await;
    // A closed time is refused there too, and changes nothing.
    let (status, html) = post(
        &server,
        &format!("{manage}/reschedule"),
        &[("at", closed_time().to_string())],
        None,
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("closed then"), "{html}");
    scheduled_at(&server, slots[5]).await;

    // The supervisor moves it over REST.
    let sid = server.staff("cbq", "sid", "pw-sid").await;
    let (_, list) = sid.get("/api/v1/callbacks").await;
    let id = list["callbacks"][0]["contact"].as_i64().unwrap();
    let (status, body) = sid
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/callbacks/{id}/reschedule"),
            json!({"at": slots[6]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["at"], slots[6], "{body}");
    assert_eq!(body["state"], "scheduled", "{body}");
    scheduled_at(&server, slots[6]).await;
    let kim = server.staff("cbq", "kim", "pw-kim").await;
    let (status, _) = kim
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/callbacks/{id}/reschedule"),
            json!({"at": slots[7]}),
        )
        .await;
    assert_eq!(status, 403, "agents do not reschedule");

    // Another site's form cannot cancel it.
    let (status, _) = post(
        &server,
        &format!("{manage}/cancel"),
        &[],
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status, 403);
    scheduled_at(&server, slots[6]).await;

    // The widget cancels it (the page would do the same).
    let cancelled = ask(&mut v, json!({"type": "callback_cancel"})).await;
    assert_eq!(cancelled["type"], "callback_cancelled", "{cancelled}");
    callbacks_when(&server, |l| l == &json!([])).await;
    let record = sid
        .newest_record_when(|r| r["ended_at"].is_i64() || r["outcome"].is_string())
        .await;
    let (_, one) = sid.get(&format!("/api/v1/contacts/{}", record["id"])).await;
    let transcript = one["transcript"].to_string();
    assert!(
        transcript.contains("Callback cancelled by visitor"),
        "{one}"
    );
    assert!(transcript.contains("question about order 5531"), "{one}");
    // The link now finds nothing to change.
    let (status, html) = page(&server, &manage).await;
    assert_eq!(status, 404, "{html}");
}

#[tokio::test]
async fn tampered_expired_and_foreign_links_change_nothing() {
    let server = server().await;
    let (mut v, _) = visitor(&server, "help").await;
    let slots = ask(&mut v, json!({"type": "callback_slots"})).await;
    let slot = slots["slots"][0].as_i64().unwrap();
    let booked = ask(
        &mut v,
        json!({"type": "callback", "phone": "+44 20 7946 0123", "at": slot}),
    )
    .await;
    let manage = booked["manage"].as_str().unwrap().to_owned();
    let token = manage.trim_start_matches("/callback/").to_owned();
    let sid = server.staff("cbq", "sid", "pw-sid").await;
    let (_, list) = sid.get("/api/v1/callbacks").await;
    let contact = list["callbacks"][0]["contact"].as_i64().unwrap();

    // One character changed.
    let mut chars: Vec<char> = token.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (status, html) = post(&server, &format!("/callback/{tampered}/cancel"), &[], None).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("not valid"), "{html}");

    // Signed with the server's own key: expired, and for another tenant.
    let key = LinkKey::new(&server.store.server_key(KEY_NAME).await.unwrap());
    let tenant = server
        .store
        .tenant_by_slug("cbq")
        .await
        .unwrap()
        .unwrap()
        .id;
    let expired = key.sign(ManageToken {
        tenant,
        contact: ContactId(contact),
        expires_ms: now_ms() - 1,
    });
    let (status, html) = post(&server, &format!("/callback/{expired}/cancel"), &[], None).await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("expired"), "{html}");
    let demo = server
        .store
        .tenant_by_slug("demo")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_ne!(demo, tenant);
    let foreign = key.sign(ManageToken {
        tenant: TenantId(demo.0),
        contact: ContactId(contact),
        expires_ms: now_ms() + HOUR_MS,
    });
    let (status, html) = post(&server, &format!("/callback/{foreign}/cancel"), &[], None).await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("no waiting callback"), "{html}");

    // Still there, at its time.
    scheduled_at(&server, slot).await;
    let (status, _) = page(&server, &manage).await;
    assert_eq!(status, 200);
}
