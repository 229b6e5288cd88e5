//! The desk on its own: the demo tenant in memory, visitors and consoles as
//! channels, and tokio's paused clock, so timeouts and grace times pass in
//! virtual time without a real sleep. What the desk wrote is read back from the
//! memory store.
//!
//! This file is the harness (a seeded tenant, a desk on the paused clock,
//! visitors and consoles); the tests are by topic: `chats.rs`, `callbacks.rs`,
//! `calls.rs` (with in-process WebRTC peers for the media).

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
use tokio::time::Instant;

use super::{ConnId, Desk, DeskConfig, Outbox, Request, memory::MemoryStore, storage::DeskReads};
use crate::{
    ids::ContactId,
    protocol::{self, AgentFrame, ToAgent, ToVisitor, VisitorFrame},
    store::{ContactMedia, Link, Outcome, Store, Tenant, User},
};

mod callbacks;
mod calls;
mod chats;

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

/// A fresh directory under the system's temporary one.
fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-desk-{what}-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The demo tenant, or the tenant of `tenant_file` with the agents `agents`.
fn seeded(tenant_file: Option<&str>, agents: &[&str]) -> Demo {
    let dir = temp_dir("store");
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
            let recordings = temp_dir("recordings");
            let config = DeskConfig {
                offer_timeout: OFFER_TIMEOUT,
                visitor_grace: VISITOR_GRACE,
                recordings: recordings.clone(),
                webhooks: crate::webhooks::Tap::default(),
                callback_links: crate::callback_link::LinkKey::new(b"desk tests"),
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
                recordings: recordings.clone(),
            })
            .await;
            let _ = std::fs::remove_dir_all(&recordings);
        });
}

struct Center {
    desk: Desk,
    store: Arc<MemoryStore>,
    tenant: Tenant,
    links: Vec<Link>,
    users: HashMap<String, User>,
    /// Where this desk writes call recordings.
    recordings: std::path::PathBuf,
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
    rx: &mut super::OutboxReceiver<T>,
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
    rx: super::OutboxReceiver<ToVisitor>,
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
    rx: super::OutboxReceiver<ToAgent>,
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
