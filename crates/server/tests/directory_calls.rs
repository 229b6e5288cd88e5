//! Calls by number and the mailbox through the REST API and the directory's
//! event stream, with an in-process WebRTC peer as the caller's browser:
//! a call to a member with no page open goes to the mailbox, the message is
//! cut at the length limit (the caller told) and only its member plays or
//! deletes it; a ringing call times out to the mailbox; bad calls are refused.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/hooks.rs"]
mod hooks;
#[path = "common/phone.rs"]
#[allow(dead_code)]
mod phone;

use browser::Browser;
use common::{Staff, TestServer, WAIT};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard::directory::mailbox::MailboxSettings;
use switchboard::{secret::Secret, store::NewWebhookEndpoint};

const ALICE: &str = "2000 0000 0001";

/// The directory's event stream of `staff`, read until `want` appears.
struct Events {
    response: reqwest::Response,
    seen: String,
}

impl Events {
    async fn open(staff: &Staff) -> Events {
        let response = staff
            .client
            .get(format!("{}/api/v1/directory/events", staff.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        Events {
            response,
            seen: String::new(),
        }
    }

    async fn until(&mut self, want: &str) {
        while !self.seen.contains(want) {
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("{want} in time; saw {}", self.seen))
                .unwrap()
                .expect("stream open");
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn server(ring_timeout_secs: u64, max_message_secs: u64) -> common::Builder {
    TestServer::builder().mailbox(MailboxSettings {
        ring_timeout_secs,
        max_message_secs,
        ..MailboxSettings::default()
    })
}

/// A local SMTP relay that takes one message and hands over what it was told.
async fn smtp_sink() -> (String, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut transcript = String::new();
        let mut in_data = false;
        write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            transcript.push_str(&line);
            transcript.push('\n');
            let reply: &[u8] = if in_data {
                if line != "." {
                    continue;
                }
                in_data = false;
                b"250 queued\r\n"
            } else if line.starts_with("DATA") {
                in_data = true;
                b"354 go on\r\n"
            } else if line.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.unwrap();
        }
        let _ = tx.send(transcript);
    });
    (addr, rx)
}

/// Sets the signed-in member's own call settings (ring mode, greeting, email).
async fn put_settings(staff: &Staff, settings: Value) -> (u16, Value) {
    staff
        .send(Method::PUT, "/api/v1/directory/settings", settings)
        .await
}

async fn place(staff: &Staff, number: &str, sdp: &str) -> (u16, Value) {
    staff
        .send(
            Method::POST,
            "/api/v1/directory/calls",
            json!({"number": number, "sdp": sdp}),
        )
        .await
}

#[tokio::test]
async fn a_message_is_cut_at_the_limit_and_only_its_member_plays_or_deletes_it() {
    let (relay, mail) = smtp_sink().await;
    let receiver = hooks::Receiver::start(0).await;
    let server = TestServer::builder()
        .webhooks(hooks::allowing_loopback())
        .mailbox(MailboxSettings {
            max_message_secs: 2,
            smtp_relay: Some(relay),
            smtp_starttls: false,
            ..MailboxSettings::default()
        })
        .start()
        .await;
    // The demo tenant's systems hear of messages left.
    let demo = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let hook = NewWebhookEndpoint {
        url: receiver.url.clone(),
        secret: Secret::new(hooks::SECRET),
        events: vec!["contact.message_left".into()],
    };
    server
        .store
        .set_webhook_endpoints(demo.id, &[hook])
        .await
        .unwrap();
    let bob = server.demo_staff("bob").await;
    let alice = server.demo_staff("alice").await;
    // Alice wants an email of each new message; a bad address is refused.
    let (code, _) = put_settings(
        &alice,
        json!({"ring_mode": "all", "email": "not an address"}),
    )
    .await;
    assert_eq!(code, 400);
    let (code, body) = put_settings(
        &alice,
        json!({"ring_mode": "all", "email": "alice@example.com"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let mut bob_events = Events::open(&bob).await;
    let (mut browser, offer) = Browser::new().await;
    let (code, placed) = place(&bob, ALICE, &offer).await;
    assert_eq!(code, 201, "{placed}");
    // Alice has no page open: straight to her mailbox.
    assert_eq!(placed["state"], "mailbox");
    assert_eq!(placed["limit_secs"], 2);
    browser
        .client
        .accept_answer(placed["sdp"].as_str().unwrap())
        .await
        .unwrap();
    browser.connected().await;
    bob_events.until("\"kind\":\"mailbox\"").await;
    // Bob speaks until the server cuts him off at 2 s and says so.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bob_events.seen.contains("\"kind\":\"cut\"") {
        assert!(tokio::time::Instant::now() < deadline, "never cut");
        browser.tick(1000.0).await;
        if let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(std::time::Duration::ZERO, bob_events.response.chunk())
                .await
                .map(Result::transpose)
        {
            bob_events.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    bob_events.until("reached the 2 s limit").await;
    bob_events.until("\"kind\":\"saved\"").await;
    // The notice reaches the relay: who called, not what they said.
    let transcript = tokio::time::timeout(WAIT, mail)
        .await
        .expect("an email in time")
        .unwrap();
    assert!(
        transcript.contains("RCPT TO:<alice@example.com>"),
        "{transcript}"
    );
    assert!(
        transcript.contains("Subject: New voice message from Bob"),
        "{transcript}"
    );
    assert!(
        transcript.contains("Bob left you a voice message (2000 0000 0002)"),
        "{transcript}"
    );

    let (code, mailbox) = alice.get("/api/v1/mailbox").await;
    assert_eq!(code, 200, "{mailbox}");
    assert_eq!(mailbox["new"], 1);
    let message = &mailbox["messages"][0];
    // The webhook names the message, never its recording.
    let delivered = receiver.until_accepted(1).await;
    let event = hooks::verified(&delivered[0]);
    assert_eq!(event["type"], "contact.message_left", "{event}");
    assert_eq!(event["tenant"], "demo");
    assert_eq!(event["message"]["id"], message["id"], "{event}");
    assert_eq!(event["message"]["caller_number"], "2000 0000 0002");
    assert_eq!(event["message"]["cut"], true);
    assert_eq!(message["caller"], "Bob");
    assert_eq!(message["caller_number"], "2000 0000 0002");
    assert_eq!(message["cut"], true);
    let duration = message["duration_ms"].as_i64().unwrap();
    assert!((1_500..=3_000).contains(&duration), "{message}");
    let id = message["id"].as_i64().unwrap();
    let audio = alice
        .client
        .get(format!("{}/api/v1/mailbox/{id}/audio", alice.base))
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/ogg");
    let bytes = audio.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"OggS");
    assert!(
        bytes.len() > 4_000,
        "two seconds of Opus: {} bytes",
        bytes.len()
    );
    let (_, mailbox) = alice.get("/api/v1/mailbox").await;
    assert_eq!(mailbox["new"], 0, "played is heard");

    // Bob's own mailbox is empty, and Alice's message is not his to play
    // or delete; a voice-only message has no video.
    let (_, his) = bob.get("/api/v1/mailbox").await;
    assert_eq!(his["messages"], json!([]));
    let (code, _) = bob.get_text(&format!("/api/v1/mailbox/{id}/audio")).await;
    assert_eq!(code, 404);
    let (code, _) = bob
        .send(Method::DELETE, &format!("/api/v1/mailbox/{id}"), json!({}))
        .await;
    assert_eq!(code, 404);
    let (code, _) = alice.get_text(&format!("/api/v1/mailbox/{id}/video")).await;
    assert_eq!(code, 404);

    let (code, _) = alice
        .send(Method::DELETE, &format!("/api/v1/mailbox/{id}"), json!({}))
        .await;
    assert_eq!(code, 204);
    let (_, mailbox) = alice.get("/api/v1/mailbox").await;
    assert_eq!(mailbox["messages"], json!([]));
    let left: Vec<_> = std::fs::read_dir(server.data_dir().join("mailbox/1"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left: {left:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_unanswered_call_rings_out_to_the_mailbox_and_bad_calls_are_refused() {
    let server = server(1, 60).start().await;
    let bob = server.demo_staff("bob").await;
    let alice = server.demo_staff("alice").await;
    // Alice's page is open (and online): it rings.
    let (code, _) = alice
        .send(
            Method::POST,
            "/api/v1/directory/heartbeat",
            json!({"status": "online"}),
        )
        .await;
    assert_eq!(code, 200);
    let mut alice_events = Events::open(&alice).await;
    let mut bob_events = Events::open(&bob).await;
    let (_browser, offer) = Browser::new().await;

    // Bad calls first.
    for (number, code) in [
        ("12", 400),
        ("2999 9999 9999", 404),
        ("2000 0000 0002", 400),
    ] {
        let (got, body) = place(&bob, number, &offer).await;
        assert_eq!(got, code, "{number}: {body}");
    }
    let (code, body) = place(&bob, ALICE, "not sdp").await;
    assert_eq!(code, 400, "{body}");

    let (code, placed) = place(&bob, ALICE, &offer).await;
    assert_eq!(code, 201, "{placed}");
    assert_eq!(placed["state"], "ringing");
    let call = placed["call"].as_u64().unwrap();
    alice_events.until("\"kind\":\"ring\"").await;
    assert!(alice_events.seen.contains("\"from\":\"Bob\""));
    // Only the callee accepts; a second call from Bob meanwhile is refused.
    let (code, _) = bob
        .send(
            Method::POST,
            &format!("/api/v1/directory/calls/{call}/accept"),
            json!({"sdp": offer}),
        )
        .await;
    assert_eq!(code, 404);
    let (code, _) = place(&bob, ALICE, &offer).await;
    assert_eq!(code, 409);
    // Nobody answers within a second: missed for Alice, the mailbox for Bob.
    alice_events.until("\"reason\":\"missed\"").await;
    bob_events.until("\"kind\":\"mailbox\"").await;
    let (code, _) = alice
        .send(
            Method::POST,
            &format!("/api/v1/directory/calls/{call}/accept"),
            json!({"sdp": offer}),
        )
        .await;
    assert_eq!(code, 409, "too late to accept");
    let (code, _) = bob
        .send(
            Method::POST,
            &format!("/api/v1/directory/calls/{call}/hangup"),
            json!({}),
        )
        .await;
    assert_eq!(code, 204);
    // Nothing said: no message.
    bob_events.until("\"reason\":\"too_short\"").await;
    let (_, mailbox) = alice.get("/api/v1/mailbox").await;
    assert_eq!(mailbox["messages"], json!([]));

    // Ring mode and greeting: bad greeting refused, a good one shown to callers.
    let (code, _) = put_settings(
        &alice,
        json!({"ring_mode": "last", "greeting": "x".repeat(301)}),
    )
    .await;
    assert_eq!(code, 400);
    let (code, body) = put_settings(
        &alice,
        json!({"ring_mode": "last", "greeting": "Alice here, speak up."}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    // Ring mode `last`: only the page Alice opened last rings. Bob leaves a
    // message after the ring timeout; its notice goes to all her pages, so
    // by the time the older page has it, it would have had the ring too.
    let mut newest = Events::open(&alice).await;
    let (mut browser, offer) = Browser::new().await;
    let (code, placed) = place(&bob, ALICE, &offer).await;
    assert_eq!(code, 201, "{placed}");
    assert_eq!(placed["state"], "ringing");
    let second = placed["call"].as_u64().unwrap();
    browser
        .client
        .accept_answer(placed["sdp"].as_str().unwrap())
        .await
        .unwrap();
    browser.connected().await;
    newest
        .until("\"kind\":\"ring\",\"number\":\"2000 0000 0002\"")
        .await;
    newest.until("\"reason\":\"missed\"").await;
    // Speak past the shortest message, then hang up.
    let spoken = tokio::time::Instant::now() + std::time::Duration::from_millis(1_500);
    while tokio::time::Instant::now() < spoken {
        browser.tick(1000.0).await;
    }
    let (code, _) = bob
        .send(
            Method::POST,
            &format!("/api/v1/directory/calls/{second}/hangup"),
            json!({}),
        )
        .await;
    assert_eq!(code, 204);
    newest.until("\"kind\":\"mail\"").await;
    alice_events.until("\"kind\":\"mail\"").await;
    assert!(
        !alice_events
            .seen
            .contains(&format!("\"call\":{second},\"from\"")),
        "the older page rang: {}",
        alice_events.seen
    );
    // Alice signs her page off: her page stays open but callers go to the mailbox.
    let (code, _) = alice
        .send(
            Method::POST,
            "/api/v1/directory/heartbeat",
            json!({"status": "offline"}),
        )
        .await;
    assert_eq!(code, 200);
    let (_browser, offer) = Browser::new().await;
    let (code, placed) = place(&bob, ALICE, &offer).await;
    assert_eq!(code, 201, "{placed}");
    assert_eq!(placed["state"], "mailbox", "Alice is offline");
    assert_eq!(placed["greeting"], "Alice here, speak up.");
    server.stop().await;
}
