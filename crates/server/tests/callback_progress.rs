//! Call progress on callbacks the server dials (issue 14), through the whole
//! server with sipp as the visitor's phone (or network) and a test phone's
//! RTP playing what answers: a network announcement's special information
//! tones on early media (the tones say whether the number or the network is
//! at fault), an answering machine's long greeting (the link's policy), and
//! a trunk that stops answering (unavailable, retried, the agent let go at
//! the ring timeout). Each attempt is stored with its SIP code.

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

use std::time::Duration;

use callback::{
    Callback, accept_callback, ask_callback, attempt_cancelled, attempts_when, backco, given_up,
    ready_pat, results,
};
use common::TestServer;
use phone::{RtpPhone, Sound};
use sipp::have_sipp;
use switchboard::store::AttemptResult;

/// The three special information tones (first, second, then 1776.7 Hz),
/// then the announcement's words.
fn announcement(first_hz: f64, second_hz: f64) -> Vec<(Sound, u32)> {
    vec![
        (Sound::Tone(first_hz), 380),
        (Sound::Tone(second_hz), 380),
        (Sound::Tone(1776.7), 380),
        (Sound::Speech, 3_000),
    ]
}

#[tokio::test]
async fn a_number_not_in_service_is_given_up_as_an_invalid_number() {
    if !have_sipp() {
        return;
    }
    // Intercept (913.8 then 1370.6 Hz): "the number you have called is not
    // in service", on the 183's early media.
    let phone = RtpPhone::start_script(&announcement(913.8, 1370.6)).await;
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start("callback_early_media.xml", 1, phone, &[]).await;
    let cancelled = attempt_cancelled(&mut console, 1).await;
    assert_eq!(cancelled["reason"], "invalid_number", "{cancelled}");
    let contact = cancelled["contact"].as_i64().unwrap();
    // The server cancels the INVITE (the scenario passes on it).
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    // Not worth another call: the callback ends, and its record says why.
    let body = given_up(
        &server,
        contact,
        &[(AttemptResult::InvalidNumber, Some(183))],
    )
    .await;
    assert_eq!(body["callback_attempts"][0]["result"], "invalid_number");
    server.stop().await;
}

#[tokio::test]
async fn a_network_announcement_is_unavailable_and_tried_again() {
    if !have_sipp() {
        return;
    }
    // No circuit (985.2 then 1428.5 Hz): the network, not the number.
    let phone = RtpPhone::start_script(&announcement(985.2, 1428.5)).await;
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start(
        "callback_early_media.xml",
        2,
        phone,
        &[("max_attempts", 2.into()), ("ring_timeout_secs", 5.into())],
    )
    .await;
    let cancelled = attempt_cancelled(&mut console, 1).await;
    assert_eq!(cancelled["reason"], "unavailable", "{cancelled}");
    let contact = cancelled["contact"].as_i64().unwrap();
    // Tried again after the delay, without anyone clicking (how the second
    // ends does not matter here: the test phone still talks to the first).
    let again = attempt_cancelled(&mut console, 2).await;
    assert_eq!(again["contact"], contact);
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    let attempts = attempts_when(&server, contact, |a| {
        a.len() == 2 && a[1].result != AttemptResult::Dialing
    })
    .await;
    assert_eq!(
        results(&attempts)[0],
        (AttemptResult::Unavailable, Some(183)),
        "{attempts:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_long_greeting_is_an_answering_machine_given_up_by_the_links_policy() {
    if !have_sipp() {
        return;
    }
    // A greeting that runs on for 4 s before its first silence: longer than
    // a person's "Hello?" (2.5 s at most, docs/callbacks.md).
    let phone = RtpPhone::start_script(&[(Sound::Speech, 4_000)]).await;
    let Callback {
        phone: _phone,
        mut visitor,
        server,
        mut console,
        _widget,
    } = Callback::start(
        "uas-answer.xml",
        1,
        phone,
        &[("on_machine", "give_up".into())],
    )
    .await;
    let cancelled = attempt_cancelled(&mut console, 1).await;
    assert_eq!(cancelled["reason"], "machine", "{cancelled}");
    let contact = cancelled["contact"].as_i64().unwrap();
    // The server hangs up on the machine (the scenario passes on its BYE).
    assert_eq!(visitor.exit_code().await, 0, "sipp: {}", visitor.logs());
    given_up(&server, contact, &[(AttemptResult::Machine, Some(200))]).await;
    server.stop().await;
}

#[tokio::test]
async fn a_trunk_that_stops_answering_is_unavailable_and_never_holds_the_agent() {
    // The trunk's address takes every INVITE and says nothing back.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let server = TestServer::builder()
        .tenant(&backco(
            port,
            &[("max_attempts", 2.into()), ("ring_timeout_secs", 5.into())],
        ))
        .start()
        .await;
    let mut console = ready_pat(&server).await;
    let _widget = ask_callback(&server).await;
    let mut contact = None;
    for attempt in 1..=2 {
        let accepted = tokio::time::Instant::now();
        let cancelled = match accept_callback(&mut console, attempt).await {
            Err(cancelled) => cancelled,
            Ok(_) => console.until_type("offer_cancelled").await,
        };
        // pat is let go at the ring timeout (5 s; the sweep runs each
        // second), not kept.
        let held = accepted.elapsed();
        assert!(held < Duration::from_secs(8), "held {held:?}");
        assert_eq!(cancelled["reason"], "unavailable", "{cancelled}");
        contact = cancelled["contact"].as_i64();
    }
    let contact = contact.unwrap();
    // No response at all: timed out here (408), not a phone ringing.
    let unavailable = (AttemptResult::Unavailable, Some(408));
    given_up(&server, contact, &[unavailable, unavailable]).await;
    drop(silent);
    server.stop().await;
}
