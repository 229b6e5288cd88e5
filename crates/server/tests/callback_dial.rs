//! Callbacks the server dials (issue 14), through the whole server: sipp as
//! the visitor's phone behind the tenant's trunk, a test phone's RTP
//! (common/phone.rs) for its media, an in-process WebRTC peer as the agent's
//! browser. The visitor asks for a callback; at its turn pat is reserved,
//! accepts, and the server dials; the answered call is bridged to pat's
//! browser (tones both ways), busy and unanswered attempts are retried after
//! the link's delay, and every attempt is stored, across a restart too.

#[path = "common/browser.rs"]
mod browser;
#[path = "common/callback.rs"]
mod callback;
mod common;
#[path = "common/hooks.rs"]
mod hooks;
#[path = "common/phone.rs"]
#[allow(dead_code)]
mod phone;
#[path = "common/sipp.rs"]
mod sipp;

use callback::{
    Callback, VISITOR, accept_callback, ask_callback, attempt_cancelled, attempts_when, backco,
    given_up, ready_pat, record, results, tenant,
};
use common::TestServer;
use phone::RtpPhone;
use serde_json::json;

/// How long any step of a test may take (common::WAIT), in ms.
const WAIT_MS: i64 = 10_000;
use sipp::have_sipp;
use switchboard::{
    ids::ContactId,
    store::{AttemptEnd, AttemptResult},
};

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
    } = Callback::start("uas-answer.xml", 1, RtpPhone::start(1000.0).await, &[]).await;
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
    // The record's callback times: asked for "as soon as possible", dialled
    // within seconds, talked for what pat and the phone said.
    let times = &body["callback"];
    assert_eq!(times["scheduled_for"], serde_json::Value::Null, "{body}");
    let first = times["first_attempt_at"].as_i64().unwrap();
    assert_eq!(first, attempts[0].started_at, "{body}");
    let after = times["time_to_first_attempt_ms"].as_i64().unwrap();
    assert!((0..WAIT_MS).contains(&after), "{body}");
    assert!(times["talk_seconds"].is_i64(), "{body}");
    assert_eq!(body["agent"], "pat", "{body}");

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
    } = Callback::start(
        "callback_busy_then_answer.xml",
        2,
        RtpPhone::start(1000.0).await,
        &[],
    )
    .await;

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
        RtpPhone::start(1000.0).await,
        &[("ring_timeout_secs", 5.into()), ("max_attempts", 2.into())],
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

    // The supervisor's list shows it failed, with its attempts; the agent
    // of its queue sees it with the number masked, and another queue's list
    // is empty.
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
    let (status, mine) = pat.get("/api/v1/callbacks").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["callbacks"][0]["contact"], contact, "{mine}");
    assert_ne!(mine["callbacks"][0]["phone"], VISITOR, "{mine}");
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
        RtpPhone::start(1000.0).await,
        &[("retry_delay_secs", 4.into())],
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
    // The phone answers and sends a fax's answer tone (CED, 2100 Hz). The
    // tenant's systems hear of each attempt.
    let receiver = hooks::Receiver::start(0).await;
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start_with(
        "uas-answer.xml",
        1,
        RtpPhone::start(2100.0).await,
        &[],
        &hooks::endpoint(&receiver.url, &["contact.callback_attempted"]),
        hooks::allowing_loopback(),
    )
    .await;
    let cancelled = attempt_cancelled(&mut console, 1).await;
    assert_eq!(cancelled["reason"], "fax", "{cancelled}");
    let contact = cancelled["contact"].as_i64().unwrap();
    // The server hangs up on the fax machine.
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    // `on_fax = "give_up"` (the default): no second attempt.
    given_up(&server, contact, &[(AttemptResult::Fax, Some(200))]).await;
    let delivered = receiver.until_accepted(1).await;
    let event = hooks::verified(&delivered[0]);
    assert_eq!(event["type"], "contact.callback_attempted", "{event}");
    assert_eq!(event["tenant"], "backco");
    assert_eq!(event["contact"]["id"], contact);
    assert_eq!(
        (&event["attempt"], &event["result"], &event["sip_code"]),
        (&json!(1), &json!("fax"), &json!(200)),
        "{event}"
    );
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

#[tokio::test]
async fn a_callback_whose_turn_comes_after_its_give_up_time_is_not_dialled() {
    // Nobody is ready: the callback waits. Its first attempt (stored as the
    // desk would have) was busy an hour ago, and it gave up 10 minutes ago.
    let server = TestServer::builder().tenant(&backco(9, &[])).start().await;
    let _widget = ask_callback(&server).await;
    let sid = server.staff("backco", "sid", "pw-sid").await;
    let (_, list) = sid.get("/api/v1/callbacks").await;
    let contact = list["callbacks"][0]["contact"].as_i64().unwrap();
    let tenant = tenant(&server).await;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let started = now_ms - 3_600_000;
    server
        .store
        .callback_attempt_started(tenant, ContactId(contact), 1, started, now_ms - 600_000)
        .await
        .unwrap();
    let busy = AttemptEnd {
        result: AttemptResult::Busy,
        sip_code: Some(486),
        ended_at: started + 2_000,
        retry_at: Some(started + 302_000),
    };
    server
        .store
        .callback_attempt_ended(tenant, ContactId(contact), 1, busy)
        .await
        .unwrap();

    // After a restart pat is ready: reserved for attempt 2, then let go at
    // once, nothing dialled (the trunk's port 9 would refuse anyway).
    let server = server.restart().await;
    let mut console = ready_pat(&server).await;
    let offer = console.until_type("callback").await;
    assert_eq!(offer["attempt"], 2, "{offer}");
    let cancelled = console.until_type("offer_cancelled").await;
    assert_eq!(cancelled["reason"], "expired", "{cancelled}");
    given_up(&server, contact, &[(AttemptResult::Busy, Some(486))]).await;
    server.stop().await;
}
