//! The routing engine wired into the server: centers' hours, entitlements,
//! skills nobody has, waiting contacts surviving a restart, and stat events.

mod common;

use common::{Tenant, TestServer, WAIT, hello};
use serde_json::{Value, json};

/// Today's UTC date as "YYYY-MM-DD".
fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A tenant whose one center is closed today (a holiday) and open otherwise.
fn holiday_tenant() -> Tenant {
    Tenant::help_desk("closedco")
        .center("hq", |c| c.time_zone("UTC").holiday(&today()))
        .supervisor("boss")
}

async fn visitor(
    server: &TestServer,
    tenant: &str,
    link: &str,
    identity: Option<&str>,
) -> common::Ws {
    let url = format!(
        "{}/ws/visitor?tenant={tenant}&link={link}",
        server.public_ws()
    );
    let mut ws = common::Ws::connect(&url, Some(&server.public), None).await;
    ws.send(hello("http://shop.example/", identity, None)).await;
    ws
}

/// The kinds of a contact's stored routing events, once `kind` is among them
/// (a writer task stores them, a moment after they happen).
async fn stored_kinds_once(staff: &common::Staff, contact: &str, kind: &str) -> Vec<String> {
    tokio::time::timeout(WAIT, async {
        loop {
            let (code, events) = staff
                .get(&format!("/api/v1/contacts/{contact}/events"))
                .await;
            assert_eq!(code, 200);
            let kinds: Vec<String> = events
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                .collect();
            if kinds.iter().any(|k| k == kind) {
                return kinds;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no stored {kind} event for contact {contact}"))
}

#[tokio::test]
async fn a_closed_center_refuses_and_names_the_next_opening() {
    let server = TestServer::builder()
        .tenant(&holiday_tenant())
        .start()
        .await;
    let mut v = visitor(&server, "closedco", "help", None).await;
    let welcome = v.until_type("welcome").await;
    assert_eq!(welcome["open"], false, "{welcome}");
    let next_open = welcome["next_open"]
        .as_i64()
        .expect("next opening is given");
    // Tomorrow 00:00 UTC: the holiday ends at midnight.
    let day = 86_400_000;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    assert_eq!(next_open % day, 0, "opens at midnight UTC");
    assert!(
        next_open > now && next_open <= now + day,
        "{next_open} vs {now}"
    );

    v.send(json!({"type": "start", "text": "are you there?"}))
        .await;
    let refused = v.until_type("unavailable").await;
    assert_eq!(refused["reason"], "closed");
    assert_eq!(refused["next_open"], next_open);

    // The record keeps the message and says why it was not served.
    let tenant = server
        .store
        .tenant_by_slug("closedco")
        .await
        .unwrap()
        .unwrap();
    let owner = server.staff("closedco", "boss", "pw-boss").await;
    let record = owner
        .newest_record_when(|r| r["outcome"] == "refused")
        .await;
    assert_eq!(record["state"], "closed");
    let id = record["id"].as_i64().unwrap();
    let transcript = server
        .store
        .transcript(tenant.id, switchboard::ids::ContactId(id))
        .await
        .unwrap();
    assert_eq!(transcript.len(), 1);
    assert_eq!(transcript[0].text, "are you there?");
    // Its routing history ends with the same outcome as the record.
    stored_kinds_once(&owner, &id.to_string(), "left").await;
    let (_, events) = owner.get(&format!("/api/v1/contacts/{id}/events")).await;
    let left = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "left")
        .unwrap();
    assert_eq!(left["detail"]["outcome"], "refused");
    let refused = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "refused")
        .unwrap();
    assert_eq!(refused["detail"]["reason"], "closed");
}

#[tokio::test]
async fn media_reserved_to_a_class_is_refused_politely_and_the_class_is_served() {
    let file = Tenant::new("goldco")
        .class("gold", 2)
        .media_rule("chat", &["gold"])
        .queue("vip", |q| q)
        .link_with("vip", "vip", |l| l.name("VIP"))
        .agent("lee", &["vip"]);
    let server = TestServer::builder().tenant(&file).start().await;
    let mut anonymous = visitor(&server, "goldco", "vip", None).await;
    anonymous.until_type("welcome").await;
    anonymous
        .send(json!({"type": "start", "text": "hello"}))
        .await;
    let refused = anonymous.until_type("unavailable").await;
    assert_eq!(refused["reason"], "not_entitled");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("gold"), "{message}");

    // A verified gold customer is queued.
    let tenant = server
        .store
        .tenant_by_slug("goldco")
        .await
        .unwrap()
        .unwrap();
    let token = switchboard::auth::sign_identity(
        &switchboard::auth::IdentityClaims {
            name: Some("Goldie".into()),
            entitlements: vec!["gold".into()],
            ..switchboard::auth::IdentityClaims::new("goldco", "c-1", 600)
        },
        tenant.widget_secret.expose(),
    )
    .unwrap();
    let mut gold = visitor(&server, "goldco", "vip", Some(&token)).await;
    gold.until_type("welcome").await;
    gold.send(json!({"type": "start", "text": "hello"})).await;
    let queued = gold.until_type("queued").await;
    assert_eq!(queued["position"], 1);
}

#[tokio::test]
async fn a_skill_nobody_has_is_told_at_once() {
    let file = Tenant::new("nobodyco")
        .queue("klingon", |q| q)
        .link_with("k", "klingon", |l| l.name("Klingon desk"))
        .agent("pat", &["english"]);
    let server = TestServer::builder().tenant(&file).start().await;
    let mut v = visitor(&server, "nobodyco", "k", None).await;
    v.until_type("welcome").await;
    v.send(json!({"type": "start", "text": "nuqneH"})).await;
    let refused = v.until_type("unavailable").await;
    assert_eq!(refused["reason"], "no_agents");
}

#[tokio::test]
async fn a_waiting_chat_survives_a_restart_at_its_place_and_is_offered() {
    let server = TestServer::start().await;
    let mut first = server.visitor("demo", "support").await;
    first.send(hello("http://shop.example/", None, None)).await;
    let welcome = first.until_type("welcome").await;
    let resume = welcome["resume"].as_str().unwrap().to_owned();
    first
        .send(json!({"type": "start", "text": "first in line"}))
        .await;
    first.until_type("queued").await;
    let mut second = server.open_chat("support", "second in line").await;
    second.until_type("queued").await;
    drop(first);
    drop(second);

    let server = server.restart().await;
    // The first visitor comes back with their token and is still in line.
    let url = format!("{}/ws/visitor?tenant=demo&link=support", server.public_ws());
    let mut back = common::Ws::connect(&url, Some(&server.public), None).await;
    back.send(hello("http://shop.example/", None, Some(&resume)))
        .await;
    let welcome = back.until_type("welcome").await;
    assert_eq!(welcome["state"], "queued", "{welcome}");
    let status = back.until("status", |f| f["position"].is_number()).await;
    assert_eq!(status["position"], 1, "kept its place: {status}");

    // An agent who comes online gets the first contact, not the second.
    let (_bob, mut console) = server.ready_agent("bob").await;
    let offer = console.until_type("offer").await;
    let transcript = offer["screenpop"].to_string();
    assert!(offer["contact"].is_number());
    let contact = offer["contact"].as_i64().unwrap();
    let tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let messages = server
        .store
        .transcript(tenant.id, switchboard::ids::ContactId(contact))
        .await
        .unwrap();
    assert_eq!(messages[0].text, "first in line", "{transcript}");

    // Its routing history shows both lives: queued before and after the
    // restart. Events are stored by a writer task, so wait for the offer's.
    let sam = server.demo_staff("sam").await;
    let kinds = stored_kinds_once(&sam, &contact.to_string(), "offered").await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "queued").count(),
        2,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn supervisors_get_stat_events_pushed_and_other_tenants_do_not_see_them() {
    let server = TestServer::start().await;
    let sam = server.demo_staff("sam").await;
    let mut stream = sam
        .client
        .get(format!("{}/api/v1/live/events", server.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (_alice, _console) = server.ready_agent("alice").await;
    let mut seen = String::new();
    let found = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"kind\":\"agent_state\"") && seen.contains("\"state\":\"available\"")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    let stat: Value = seen
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v["kind"] == "agent_state" && v["detail"]["state"] == "available")
        .unwrap();
    assert!(stat["agent"].is_number());

    // An agent cannot open the stream.
    let alice = server.demo_staff("alice").await;
    let denied = alice
        .client
        .get(format!("{}/api/v1/live/events", server.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
}

#[tokio::test]
async fn an_impossible_rule_is_refused_at_load_naming_it() {
    let loop_file = r#"
[tenant]
slug = "loopco"

[[queues]]
name = "a"
skill = "a"
overflow = [{ after_secs = 30, add_queue = "b" }]

[[queues]]
name = "b"
skill = "b"
overflow = [{ after_secs = 30, add_queue = "a" }]
"#;
    let e = switchboard::tenant_file::parse(loop_file)
        .unwrap_err()
        .to_string();
    assert!(e.contains(r#""a" -> "b" -> "a""#), "{e}");

    let level =
        "[tenant]\nslug = \"x\"\n[[queues]]\nname = \"a\"\nskill = \"a\"\nskills = { a = 11 }\n";
    let e = switchboard::tenant_file::parse(level)
        .unwrap_err()
        .to_string();
    assert!(e.contains("11") && e.contains(r#"queue "a""#), "{e}");

    let negative = "[tenant]\nslug = \"x\"\n[[queues]]\nname = \"a\"\nskill = \"a\"\noffer_timeout_secs = -5\n";
    let e = switchboard::tenant_file::parse(negative)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 6") && e.contains("-5"), "{e}");

    let unknown = "[tenant]\nslug = \"x\"\n[[queues]]\nname = \"a\"\nskill = \"a\"\noverflow = [{ after_secs = 5, drop_skill = \"nope\" }]\n";
    let e = switchboard::tenant_file::parse(unknown)
        .unwrap_err()
        .to_string();
    assert!(e.contains(r#"unknown skill "nope""#), "{e}");

    let center = "[tenant]\nslug = \"x\"\n[[centers]]\nname = \"hq\"\ntime_zone = \"Mars/Base\"\n";
    let e = switchboard::tenant_file::parse(center)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"center "hq""#) && e.contains("Mars/Base"),
        "{e}"
    );
}

/// A verified customer's new chat goes to the agent who served them last, even
/// when another agent has been idle longer.
#[tokio::test]
async fn a_returning_customer_is_offered_to_their_last_agent_first() {
    let server = TestServer::start().await;
    let token = common::demo_identity(&server).await;
    let start_chat = |text: &'static str| {
        let server = &server;
        let token = token.clone();
        async move {
            let mut v = server.visitor("demo", "support").await;
            v.send(hello("http://shop.example/", Some(&token), None))
                .await;
            v.until_type("welcome").await;
            v.send(json!({"type": "start", "text": text})).await;
            v
        }
    };

    let (_bob, mut bob) = server.ready_agent("bob").await;
    let _first = start_chat("first visit").await;
    let offer = bob.until_type("offer").await;
    let contact = offer["contact"].clone();
    bob.send(json!({"type": "accept", "contact": contact}))
        .await;
    bob.until_type("assigned").await;
    // Alice becomes ready while Bob still holds the chat: once Bob is done,
    // she is the longest idle.
    let (_alice, mut alice) = server.ready_agent("alice").await;
    bob.send(json!({"type": "end", "contact": contact})).await;
    bob.until_type("ended").await;
    bob.send(json!({"type": "wrapup", "contact": contact, "code": "resolved"}))
        .await;
    bob.until_type("wrapped").await;

    let _second = start_chat("back again").await;
    let offer = bob.until_type("offer").await;
    assert_ne!(offer["contact"], contact, "a new contact");
    // Alice, idle longer, was not offered it: everything she got before the
    // answer to a ping sent now is not an offer.
    alice.send(json!({"type": "ping"})).await;
    loop {
        let frame = alice.next().await;
        assert_ne!(frame["type"], "offer", "{frame}");
        if frame["type"] == "pong" {
            break;
        }
    }
}

/// A visitor asks to be called back; the request outlives the page and a
/// restart, reserves an agent at its turn, is retried after a failed attempt,
/// and a connected callback is held, ended and wrapped up like a chat.
#[tokio::test]
async fn a_callback_request_survives_a_restart_and_reserves_an_agent() {
    let server = TestServer::start().await;
    let mut v = server.visitor("demo", "support").await;
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    v.send(json!({"type": "callback", "phone": "call me maybe"}))
        .await;
    assert_eq!(v.until_type("error").await["code"], "invalid");
    let before = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    v.send(json!({"type": "callback", "phone": "+1 (555) 123-4567"}))
        .await;
    let scheduled = v.until_type("callback_scheduled").await;
    // The center is open: as soon as an agent is free.
    assert!(scheduled["at"].as_i64().unwrap() >= before, "{scheduled}");
    drop(v);

    let server = server.restart().await;
    let (_bob, mut bob) = server.ready_agent("bob").await;
    let call = bob.until_type("callback").await;
    assert_eq!(call["phone"], "+15551234567");
    assert_eq!(call["attempt"], 1);
    let first = call["contact"].clone();
    bob.send(json!({"type": "callback_result", "contact": first, "connected": false}))
        .await;

    // Another request is next; Bob was not penalised for the failed attempt.
    let mut w = server.visitor("demo", "support").await;
    w.send(hello("http://shop.example/", None, None)).await;
    w.until_type("welcome").await;
    w.send(json!({"type": "callback", "phone": "+44 20 7946 0000"}))
        .await;
    w.until_type("callback_scheduled").await;
    let call = bob.until_type("callback").await;
    assert_eq!(call["phone"], "+442079460000");
    let second = call["contact"].clone();
    assert_ne!(second, first);
    bob.send(json!({"type": "callback_result", "contact": second, "connected": true}))
        .await;
    bob.until("assigned", |f| f["contact"] == second).await;
    bob.send(json!({"type": "end", "contact": second})).await;
    bob.until_type("ended").await;
    bob.send(json!({"type": "wrapup", "contact": second, "code": "resolved"}))
        .await;
    bob.until_type("wrapped").await;

    let sam = server.demo_staff("sam").await;
    let record = sam
        .newest_record_when(|r| r["id"] == second && r["state"] == "closed")
        .await;
    assert_eq!(record["media"], "callback");
    assert_eq!(record["outcome"], "answered");
    // The failed one waits for its retry, and its history says why.
    let (_, one) = sam.get(&format!("/api/v1/contacts/{first}")).await;
    assert_eq!(one["state"], "queued", "{one}");
    let kinds = stored_kinds_once(&sam, &first.to_string(), "callback_failed").await;
    assert!(kinds.iter().any(|k| k == "queued"), "{kinds:?}");
}

/// Virtual hold: a chat waiting in line becomes a callback and keeps its place
/// ahead of those who came after it.
#[tokio::test]
async fn a_waiting_chat_turned_callback_keeps_its_place() {
    let server = TestServer::start().await;
    let mut first = server.open_chat("support", "first").await;
    first.until_type("queued").await;
    let mut second = server.open_chat("support", "second").await;
    second.until_type("queued").await;

    // Only a waiting chat may turn; a bad number changes nothing.
    first
        .send(json!({"type": "callback", "phone": "nope"}))
        .await;
    assert_eq!(first.until_type("error").await["code"], "invalid");
    first
        .send(json!({"type": "callback", "phone": "+1 555 000 1111"}))
        .await;
    first.until_type("callback_scheduled").await;
    // The tab is free again: it may start a new chat.
    first.send(json!({"type": "start", "text": "new"})).await;
    first.until_type("queued").await;

    let (_bob, mut bob) = server.ready_agent("bob").await;
    let call = bob.until_type("callback").await;
    assert_eq!(
        call["phone"], "+15550001111",
        "the first in line, as a callback"
    );
    let tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let contact = switchboard::ids::ContactId(call["contact"].as_i64().unwrap());
    let messages = server.store.transcript(tenant.id, contact).await.unwrap();
    assert_eq!(messages[0].text, "first");
}

/// A tenant file applied to a running server takes effect when one of the
/// tenant's agents next connects.
#[tokio::test]
async fn a_routing_change_applies_at_the_next_agent_login() {
    let base = Tenant::help_desk("growco");
    let server = TestServer::builder().tenant(&base).start().await;
    // The desk has loaded the tenant once it answers a visitor.
    let mut first = visitor(&server, "growco", "help", None).await;
    first.until_type("welcome").await;
    let grown = base
        .queue("vip", |q| q)
        .link_with("vip", "vip", |l| l.name("VIP"))
        .agent("lee", &["vip"]);
    let file = switchboard::tenant_file::parse(&grown.to_string()).unwrap();
    switchboard::tenant_file::apply(&server.store, &file, &|n| Some(format!("pw-{n}")))
        .await
        .unwrap();

    // Not loaded yet: the new queue is unknown to routing.
    let mut early = visitor(&server, "growco", "vip", None).await;
    early.until_type("welcome").await;
    early.send(json!({"type": "start", "text": "hi"})).await;
    assert_eq!(
        early.until_type("unavailable").await["reason"],
        "unknown_queue"
    );

    // Lee logs in: the tenant is reloaded, and a new chat reaches him.
    let lee = server.staff("growco", "lee", "pw-lee").await;
    let mut console = server.console(&lee).await;
    console.until_type("hello").await;
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;
    let mut later = visitor(&server, "growco", "vip", None).await;
    later.until_type("welcome").await;
    later
        .send(json!({"type": "start", "text": "hi again"}))
        .await;
    console.until_type("offer").await;
}
