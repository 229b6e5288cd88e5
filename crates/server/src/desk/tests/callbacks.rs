//! Callbacks: retried after the delay, and a waiting chat turned into one.

use super::*;

#[test]
fn a_callback_that_does_not_connect_is_tried_again_after_the_retry_delay() {
    on_paused_clock(|center| async move {
        let mut alice = center.agent("alice", true).await;
        let mut visitor = center.visitor("sales", None).await;
        visitor
            .send(json!({"type": "callback", "phone": "+14155550100"}))
            .await;
        visitor.next("callback_scheduled").await;
        let first = alice.next("callback").await;
        assert_eq!(first["attempt"], 1);
        let contact = first["contact"].as_i64().expect("contact");
        alice
            .send(json!({"type": "callback_result", "contact": contact, "connected": false}))
            .await;
        let failed_at = Instant::now();
        let second = alice.next("callback").await;
        assert_eq!(
            (second["contact"].as_i64(), second["attempt"].as_u64()),
            (Some(contact), Some(2))
        );
        let retry = acd::CallbackPlan::default().retry_delay;
        let waited = failed_at.elapsed();
        assert!(
            waited >= retry && waited < retry + Duration::from_secs(2),
            "tried again after {waited:?}"
        );
        center
            .record_until(contact, |r| r.offers == 2 && r.requeues == 1)
            .await;
    });
}

#[test]
fn a_waiting_chat_turned_into_a_callback_keeps_its_place_and_frees_the_visitor() {
    on_paused_clock(|center| async move {
        let mut visitor = center.visitor("sales", None).await;
        visitor
            .send(json!({"type": "start", "text": "call me"}))
            .await;
        visitor.next("queued").await;
        let contact = center.only_contact();
        visitor
            .send(json!({"type": "callback", "phone": "+14155550100"}))
            .await;
        // Told once the callback is stored.
        visitor.next("callback_scheduled").await;
        center
            .record_until(contact, |r| r.new.media == ContactMedia::Callback)
            .await;
        // The first agent to come dials the callback. (Before the visitor's
        // new chat: that chat may be offered first, and an offer left to
        // ring out sets the agent not ready.)
        let mut alice = center.agent("alice", true).await;
        let dial = alice.until("callback", |f| f["contact"] == contact).await;
        assert_eq!(dial["phone"], "+14155550100");
        // The visitor was let go of it: free to chat again.
        visitor
            .send(json!({"type": "start", "text": "meanwhile"}))
            .await;
        assert_eq!(visitor.next("message").await["text"], "meanwhile");
    });
}
