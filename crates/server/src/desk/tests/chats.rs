//! Chats: offers that ring out, visitors and consoles that go and come back,
//! a chat from start to wrap-up, a blind transfer, a record that cannot be stored.

use super::*;

#[test]
fn an_offer_not_answered_in_time_goes_to_the_next_agent() {
    on_paused_clock(|center| async move {
        let mut alice = center.agent("alice", true).await;
        let mut bob = center.agent("bob", true).await;
        let mut visitor = center.visitor("support", None).await;
        visitor
            .send(json!({"type": "start", "text": "my order is late"}))
            .await;
        visitor.next("queued").await;
        let started = Instant::now();
        // Whoever is offered first lets it ring out.
        let (first, second) = tokio::select! {
            offer = alice.next("offer") => (offer, &mut bob),
            offer = bob.next("offer") => (offer, &mut alice),
        };
        let contact = first["contact"].as_i64().expect("contact");
        let second_offer = second.next("offer").await;
        assert_eq!(second_offer["contact"], contact);
        let waited = started.elapsed();
        assert!(
            waited >= OFFER_TIMEOUT && waited < OFFER_TIMEOUT + Duration::from_secs(2),
            "re-offered after {waited:?}"
        );
        second
            .send(json!({"type": "accept", "contact": contact}))
            .await;
        let assigned = second.until("assigned", |f| f["contact"] == contact).await;
        assert_eq!(assigned["transcript"][0]["text"], "my order is late");
        visitor.next("connected").await;
        center
            .record_until(contact, |r| r.state == "connected" && r.offers == 2)
            .await;
    });
}

#[test]
fn a_visitor_who_does_not_come_back_within_the_grace_time_abandons() {
    on_paused_clock(|center| async move {
        // Nobody is available: the chat waits in line.
        let mut visitor = center.visitor("sales", None).await;
        visitor
            .send(json!({"type": "start", "text": "hello?"}))
            .await;
        let echo = visitor.next("message").await;
        assert_eq!(echo["text"], "hello?");
        visitor.next("queued").await;
        let resume = visitor.welcome["resume"]
            .as_str()
            .expect("resume")
            .to_owned();
        visitor.gone().await;
        // Back within the grace time: the same conversation, its messages.
        tokio::time::sleep(VISITOR_GRACE / 2).await;
        let back = center.visitor("sales", Some(&resume)).await;
        assert_eq!(back.welcome["state"], "queued");
        assert_eq!(back.welcome["transcript"][0]["text"], "hello?");
        let contact = center.only_contact();
        back.gone().await;
        // Gone for good: after the grace time the contact is closed as abandoned.
        tokio::time::sleep(VISITOR_GRACE + Duration::from_secs(2)).await;
        center
            .record_until(contact, |r| {
                r.state == "closed" && r.outcome == Some(Outcome::Abandoned)
            })
            .await;
    });
}

#[test]
fn a_chat_from_start_to_wrap_up_is_stored_before_each_side_is_told() {
    on_paused_clock(|center| async move {
        let mut alice = center.agent("alice", true).await;
        let mut visitor = center.visitor("sales", None).await;
        visitor.send(json!({"type": "start", "text": "one"})).await;
        // Each echo comes once the message is stored, in the order sent; the
        // first one before the place in line.
        assert_eq!(visitor.next("message").await["text"], "one");
        visitor.next("queued").await;
        let contact = alice.accept().await;
        visitor.next("connected").await;
        visitor
            .send(json!({"type": "message", "text": "two"}))
            .await;
        alice
            .send(json!({"type": "message", "contact": contact, "text": "three"}))
            .await;
        for text in ["two", "three"] {
            let echo = visitor.next("message").await;
            assert_eq!(echo["text"], text);
        }
        alice.until("message", |f| f["text"] == "three").await;
        assert_eq!(
            center.store.texts(ContactId(contact)),
            ["one", "two", "three"]
        );
        visitor.send(json!({"type": "end"})).await;
        alice.until("ended", |f| f["contact"] == contact).await;
        alice
            .send(json!({"type": "wrapup", "contact": contact, "code": "no-such-code"}))
            .await;
        alice.next("error").await;
        alice
            .send(json!({"type": "wrapup", "contact": contact, "code": "sale"}))
            .await;
        alice.until("wrapped", |f| f["contact"] == contact).await;
        let record = center.store.contact(ContactId(contact)).expect("record");
        assert_eq!(
            (record.state, record.wrapup.as_deref()),
            ("closed", Some("sale"))
        );
        assert_eq!(record.outcome, Some(Outcome::Answered));
    });
}

#[test]
fn an_agent_whose_console_comes_back_within_the_grace_time_stays_available() {
    on_paused_clock(|center| async move {
        let alice = center.agent("alice", true).await;
        alice.gone().await;
        tokio::time::sleep(VISITOR_GRACE / 2).await;
        let again = center.agent("alice", false).await;
        assert_eq!(again.hello["state"], "available");
        again.gone().await;
        // Away longer than the grace time: back as not ready, like a new login.
        tokio::time::sleep(VISITOR_GRACE + Duration::from_secs(1)).await;
        let later = center.agent("alice", false).await;
        assert_eq!(later.hello["state"], "not_ready");
    });
}

#[test]
fn a_blind_transfer_to_a_named_agent_offers_the_chat_to_them_and_frees_the_first() {
    on_paused_clock(|center| async move {
        let mut alice = center.agent("alice", true).await;
        let mut visitor = center.visitor("support", None).await;
        visitor
            .send(json!({"type": "start", "text": "refund"}))
            .await;
        let contact = alice.accept().await;
        visitor.next("connected").await;
        let mut bob = center.agent("bob", true).await;
        alice
            .send(json!({"type": "transfer", "contact": contact, "agent": "bob"}))
            .await;
        alice.until("wrapped", |f| f["contact"] == contact).await;
        let offer = bob.next("offer").await;
        assert_eq!(offer["contact"], contact);
        bob.send(json!({"type": "accept", "contact": contact}))
            .await;
        let assigned = bob.until("assigned", |f| f["contact"] == contact).await;
        // Bob sees what was said before the transfer.
        assert_eq!(assigned["transcript"][0]["text"], "refund");
        let connected = visitor.next("connected").await;
        assert_eq!(connected["agent_name"], "Bob Brown");
        center
            .record_until(contact, |r| r.state == "connected" && r.requeues == 1)
            .await;
    });
}

#[test]
fn a_contact_whose_record_cannot_be_stored_ends_and_its_visitor_is_told() {
    on_paused_clock(|center| async move {
        center.store.refuse_contacts(true);
        let mut visitor = center.visitor("sales", None).await;
        visitor
            .send(json!({"type": "start", "text": "hello"}))
            .await;
        let error = visitor.next("error").await;
        assert_eq!(error["code"], "bad_state");
        assert_eq!(
            error["message"],
            "the conversation could not be started; try again"
        );
        visitor.next("ended").await;
        // Nothing is left half-open: once the store works again, so does a chat.
        center.store.refuse_contacts(false);
        visitor
            .send(json!({"type": "start", "text": "again"}))
            .await;
        assert_eq!(visitor.next("message").await["text"], "again");
        visitor.next("queued").await;
    });
}
