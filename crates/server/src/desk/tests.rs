//! The desk on its own: the demo tenant in memory, visitors and consoles as
//! channels, and tokio's paused clock, so timeouts and grace times pass in
//! virtual time without a real sleep. What the desk wrote is read back from the
//! memory store.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{sync::mpsc, time::Instant};

use super::{ConnId, Desk, DeskConfig, Outbox, Request, memory::MemoryStore, storage::DeskReads};
use crate::{
    ids::ContactId,
    protocol::{self, AgentFrame, ToAgent, ToVisitor, VisitorFrame},
    store::{ContactMedia, Link, Outcome, Store, Tenant, User},
};

const OFFER_TIMEOUT: Duration = Duration::from_secs(20);
const VISITOR_GRACE: Duration = Duration::from_mins(1);
/// Longer than anything the desk waits for in these tests: a frame that has
/// not come by then is not coming.
const PATIENCE: Duration = Duration::from_hours(1);

/// The demo tenant, copied out of a real store where `tenant apply` put it.
struct Demo {
    store: MemoryStore,
    tenant: Tenant,
    links: Vec<Link>,
    users: HashMap<String, User>,
}

static DIRS: AtomicU32 = AtomicU32::new(0);

/// The demo tenant, or the tenant of `tenant_file` with the agents `agents`.
fn seeded(tenant_file: Option<&str>, agents: &[&str]) -> Demo {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-desk-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The real store runs on the real clock: its pool has timeouts that a
    // paused clock would fire at once.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let demo = runtime.block_on(async {
        let store = Store::open(None, &dir).await.expect("store");
        let slug = match tenant_file {
            None => {
                crate::demo::seed(&store).await.expect("demo tenant");
                "demo".to_owned()
            }
            Some(text) => {
                let file = crate::tenant_file::parse(text).expect("tenant file");
                crate::tenant_file::apply(&store, &file, &|_| None)
                    .await
                    .expect("tenant apply");
                file.tenant.slug.get_ref().clone()
            }
        };
        let tenant = store
            .tenant_by_slug(&slug)
            .await
            .expect("read")
            .expect("tenant");
        let mut users = HashMap::new();
        for name in agents {
            let user = store
                .user_by_name(tenant.id, name)
                .await
                .expect("read")
                .expect("demo agent");
            users.insert((*name).to_owned(), user);
        }
        Demo {
            store: MemoryStore::copy_of(&store).await.expect("copy"),
            links: store.links(tenant.id).await.expect("links"),
            tenant,
            users,
        }
    });
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
    demo
}

/// Runs `test` against a fresh desk with the demo tenant on a paused clock.
fn on_paused_clock<F, Fut>(test: F)
where
    F: FnOnce(Center) -> Fut,
    Fut: Future<Output = ()>,
{
    run(seeded(None, &["alice", "bob"]), false, test);
}

/// Runs `test` against a fresh desk with `demo`'s tenant on a paused clock,
/// with a media engine on loopback when `media`.
fn run<F, Fut>(demo: Demo, media: bool, test: F)
where
    F: FnOnce(Center) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
        .block_on(async {
            let store = Arc::new(demo.store);
            let config = DeskConfig {
                offer_timeout: OFFER_TIMEOUT,
                visitor_grace: VISITOR_GRACE,
                recordings: std::env::temp_dir(),
            };
            let engine = if media {
                let config = media::MediaConfig {
                    bind: "127.0.0.1:0".parse().expect("address"),
                    announce: std::net::Ipv4Addr::LOCALHOST.into(),
                    connect_timeout: Duration::from_secs(10),
                    rtp_ports: (0, 0),
                    rtp_source: media::RtpSourcePolicy::default(),
                };
                Some(
                    media::MediaEngine::start(config)
                        .await
                        .expect("media engine"),
                )
            } else {
                None
            };
            let (desk, _task) = Desk::start_with(store.clone(), config, engine, None)
                .await
                .expect("desk");
            test(Center {
                desk,
                store,
                tenant: demo.tenant,
                links: demo.links,
                users: demo.users,
            })
            .await;
        });
}

struct Center {
    desk: Desk,
    store: Arc<MemoryStore>,
    tenant: Tenant,
    links: Vec<Link>,
    users: HashMap<String, User>,
}

impl Center {
    /// A visitor on `link` whose page sent hello (with a resume token to come
    /// back to their conversation), after `welcome`.
    async fn visitor(&self, link: &str, resume: Option<&str>) -> Visitor {
        let link = self
            .links
            .iter()
            .find(|l| l.slug == link)
            .expect("demo link")
            .clone();
        let mut hello = json!({
            "type": "hello",
            "context": {"url": "http://shop.example/", "title": "Shop", "referrer": "",
                        "pages": [], "language": "en-GB", "timezone": "Europe/Berlin"}
        });
        if let Some(token) = resume {
            hello["resume"] = json!(token);
        }
        let frame: VisitorFrame = parse(hello, protocol::VISITOR_FRAME_TYPES);
        let (outbox, rx) = Outbox::channel();
        let conn = self.desk.new_conn();
        let identity = super::Identity::establish(&self.tenant, None, None);
        self.desk
            .send(Request::VisitorHello {
                conn,
                arrival: Box::new(super::VisitorArrival {
                    tenant: self.tenant.clone(),
                    link,
                    identity,
                    ip: [127, 0, 0, 1].into(),
                }),
                frame,
                outbox,
            })
            .await
            .expect("desk");
        let mut visitor = Visitor {
            conn,
            rx,
            desk: self.desk.clone(),
            welcome: Value::Null,
        };
        visitor.welcome = visitor.next("welcome").await;
        visitor
    }

    /// A console of `name` that said hello; `available` sets them ready.
    async fn agent(&self, name: &str, available: bool) -> Agent {
        let user = self.users.get(name).expect("demo agent").clone();
        let (outbox, rx) = Outbox::channel();
        let conn = self.desk.new_conn();
        self.desk
            .send(Request::AgentHello {
                conn,
                user: Box::new(user),
                tenant: Box::new(self.tenant.clone()),
                routing: Some(Box::new(
                    self.store
                        .routing_inputs(self.tenant.id, None)
                        .await
                        .expect("routing"),
                )),
                staff: Vec::new(),
                outbox,
            })
            .await
            .expect("desk");
        let mut agent = Agent {
            conn,
            rx,
            desk: self.desk.clone(),
            hello: Value::Null,
        };
        agent.hello = agent.next("hello").await;
        if available {
            agent
                .send(json!({"type": "status", "state": "available"}))
                .await;
            agent.until("state", |f| f["state"] == "available").await;
        }
        agent
    }

    /// The one contact stored so far.
    fn only_contact(&self) -> i64 {
        let ids = self.store.contact_ids();
        assert_eq!(ids.len(), 1, "contacts: {ids:?}");
        ids[0].0
    }

    /// Waits (in virtual time) until the record of `contact` satisfies `done`.
    async fn record_until(&self, contact: i64, done: impl Fn(&super::memory::ContactRow) -> bool) {
        let until = Instant::now() + PATIENCE;
        loop {
            if self
                .store
                .contact(ContactId(contact))
                .is_some_and(|r| done(&r))
            {
                return;
            }
            assert!(
                Instant::now() < until,
                "contact {contact}'s record never got there"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A frame as a client sends it (version 1), parsed as the server does.
fn parse<T: serde::de::DeserializeOwned>(mut frame: Value, types: &[&str]) -> T {
    frame["v"] = json!(1);
    protocol::parse(&frame.to_string(), types).expect("a valid frame")
}

/// Receives until a frame of type `ty` that satisfies `matches` (earlier
/// frames are skipped); fails after `PATIENCE` of virtual time.
async fn until<T: serde::Serialize>(
    rx: &mut mpsc::Receiver<Box<T>>,
    ty: &str,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let frame = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {ty} frame came"))
            .unwrap_or_else(|| panic!("the desk closed the connection before {ty}"));
        let value: Value = serde_json::from_str(&protocol::encode(&*frame)).expect("json");
        if value["type"] == ty && matches(&value) {
            return value;
        }
    }
}

struct Visitor {
    conn: ConnId,
    rx: mpsc::Receiver<Box<ToVisitor>>,
    desk: Desk,
    welcome: Value,
}

impl Visitor {
    async fn send(&self, frame: Value) {
        let frame = parse(frame, protocol::VISITOR_FRAME_TYPES);
        self.desk
            .send(Request::Visitor {
                conn: self.conn,
                frame,
                profile: None,
            })
            .await
            .expect("desk");
    }

    async fn next(&mut self, ty: &str) -> Value {
        until(&mut self.rx, ty, |_| true).await
    }

    async fn until(&mut self, ty: &str, matches: impl Fn(&Value) -> bool) -> Value {
        until(&mut self.rx, ty, matches).await
    }

    /// The page closed (or the network dropped).
    async fn gone(self) {
        self.desk
            .send(Request::VisitorGone { conn: self.conn })
            .await
            .expect("desk");
    }
}

struct Agent {
    conn: ConnId,
    rx: mpsc::Receiver<Box<ToAgent>>,
    desk: Desk,
    hello: Value,
}

impl Agent {
    async fn send(&self, frame: Value) {
        let frame: AgentFrame = parse(frame, protocol::AGENT_FRAME_TYPES);
        self.desk
            .send(Request::Agent {
                conn: self.conn,
                frame,
            })
            .await
            .expect("desk");
    }

    async fn next(&mut self, ty: &str) -> Value {
        until(&mut self.rx, ty, |_| true).await
    }

    async fn until(&mut self, ty: &str, matches: impl Fn(&Value) -> bool) -> Value {
        until(&mut self.rx, ty, matches).await
    }

    /// The console closed.
    async fn gone(self) {
        self.desk
            .send(Request::AgentGone { conn: self.conn })
            .await
            .expect("desk");
    }

    /// Accepts the next offer; returns the contact.
    async fn accept(&mut self) -> i64 {
        let offer = self.next("offer").await;
        let contact = offer["contact"].as_i64().expect("contact");
        self.send(json!({"type": "accept", "contact": contact}))
            .await;
        self.until("assigned", |f| f["contact"] == contact).await;
        contact
    }
}

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

/// A tenant lending one routing point for `ROUTING_POINT_HOLD`.
const DIAL_IN_TENANT: &str = r#"
[tenant]
slug = "dialco"
name = "Dial Co"

[[queues]]
name = "desk"
skill = "desk"

[[links]]
slug = "desk"
name = "Phone Desk"
queue = "desk"
calls = ["voice"]
dial_in = true

[[agents]]
name = "kim"
skills = ["desk"]

[phone]
routing_points = ["+4930111222"]
routing_point_hold_secs = 10
"#;

const ROUTING_POINT_HOLD: Duration = Duration::from_secs(10);

#[test]
fn a_routing_point_not_called_in_time_ends_the_contact_and_is_lent_again() {
    run(
        seeded(Some(DIAL_IN_TENANT), &["kim"]),
        true,
        |center| async move {
            let mut kim = center.agent("kim", true).await;
            let mut visitor = center.visitor("desk", None).await;
            visitor
                .send(json!({"type": "dial_in", "phone": "+4930555000"}))
                .await;
            let lent = visitor.next("dial_in").await;
            assert_eq!(lent["number"], "+4930111222");
            assert_eq!(lent["expires_in_seconds"], ROUTING_POINT_HOLD.as_secs());
            let lent_at = Instant::now();
            // The agent is reserved for the call, told which number it comes in on.
            let offer = kim.next("offer").await;
            assert_eq!(offer["screenpop"]["dial_in"]["number"], "+4930111222");
            let contact = offer["contact"].as_i64().expect("contact");
            // Nobody calls: the visitor hears why the call ended, within a tick.
            let ended = visitor.until("call_state", |f| f["state"] == "ended").await;
            assert_eq!(ended["reason"], "expired");
            let waited = lent_at.elapsed();
            assert!(
                waited >= ROUTING_POINT_HOLD
                    && waited <= ROUTING_POINT_HOLD + Duration::from_secs(2),
                "expired after {waited:?}"
            );
            kim.until("offer_cancelled", |f| f["contact"] == contact)
                .await;
            center.record_until(contact, |r| r.state == "closed").await;
            // The number is free for the next visitor.
            let mut next = center.visitor("desk", None).await;
            next.send(json!({"type": "dial_in", "phone": "+4930555001"}))
                .await;
            assert_eq!(next.next("dial_in").await["number"], "+4930111222");
        },
    );
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
