//! A merchant's webhook endpoint for tests (`webhooks.rs`, `callback_*.rs`):
//! a real HTTP receiver on 127.0.0.1 that records every request and checks
//! signatures the way a merchant's would, and the tenant-file text that
//! points a tenant's events at it.
#![allow(dead_code)]

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU32, Ordering},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde_json::Value;
use switchboard::webhooks::{WebhookSettings, sign};

use crate::common::WAIT;

pub const SECRET: &str = "whsec_0123456789abcdef";

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Whether the receiver answered 2xx.
    pub accepted: bool,
}

/// A merchant's endpoint: records every request; answers 503 to the first
/// `fail_first`, then 204.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicU32>,
}

impl Receiver {
    pub async fn start(fail_first: u32) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicU32::new(fail_first));
        let app = Router::new()
            .route("/hooks", post(hook))
            .with_state((received.clone(), failures.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hooks"),
            received,
            failures,
        }
    }

    /// From now on every request is accepted.
    pub fn accept_all(&self) {
        self.failures.store(0, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` deliveries were accepted; returns every request.
    pub async fn until_accepted(&self, count: usize) -> Vec<Received> {
        tokio::time::timeout(WAIT, async {
            loop {
                let all = self.all();
                if all.iter().filter(|r| r.accepted).count() >= count {
                    return all;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("fewer than {count} deliveries: {:?}", self.all()))
    }
}

type ReceiverState = (Arc<Mutex<Vec<Received>>>, Arc<AtomicU32>);

async fn hook(
    State((received, failures)): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let fail = failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    received.lock().unwrap().push(Received {
        headers,
        body,
        accepted: !fail,
    });
    if fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

/// Checks the signature as the module doc tells merchants to, and returns
/// the body.
pub fn verified(received: &Received) -> Value {
    let header = received.headers["switchboard-signature"].to_str().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sign::verify(SECRET, header, &received.body, now, 300).expect("signature verifies");
    assert!(
        sign::verify("another-secret-entirely", header, &received.body, now, 300).is_err(),
        "a wrong secret must not verify"
    );
    serde_json::from_slice(&received.body).unwrap()
}

pub fn allowing_loopback() -> WebhookSettings {
    WebhookSettings {
        allow_private_addresses: true,
        retry_base_ms: 50,
        ..WebhookSettings::default()
    }
}

/// A `[[webhooks]]` table of a tenant file: `url`, the test's secret and
/// `events`, to append after the tenant's own text.
pub fn endpoint(url: &str, events: &[&str]) -> String {
    let mut hook = toml::Table::new();
    hook.insert("url".into(), url.into());
    hook.insert("secret".into(), SECRET.into());
    let events = events.iter().map(|e| toml::Value::from(*e)).collect();
    hook.insert("events".into(), toml::Value::Array(events));
    format!("\n[[webhooks]]\n{hook}")
}
