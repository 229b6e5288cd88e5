//! The dispatcher (committed changes to events) and each endpoint's queue.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use tokio::{
    sync::{Notify, mpsc},
    time::Instant,
};

use super::{
    Committed, EventKind, WebhookSettings,
    address::{self, AddressError, GuardedResolver},
    sign,
};
use crate::{
    ids::TenantId,
    secret::Secret,
    store::{Store, StoreError, WebhookEndpoint},
};

/// How long a tenant's endpoints are used before they are read again, so a
/// `tenant apply` on a running server takes effect within this.
const REFRESH: Duration = Duration::from_secs(10);

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("address refused: {0}")]
    Address(#[from] AddressError),
    #[error("bad url: {0}")]
    Url(#[from] url::ParseError),
    /// Without its URL (see the `From` below).
    #[error("request failed: {0}")]
    Http(reqwest::Error),
    #[error("answered {0}")]
    Status(u16),
}

impl From<reqwest::Error> for AttemptError {
    /// reqwest's errors name the URL, and with it an address; logs do not.
    fn from(e: reqwest::Error) -> Self {
        AttemptError::Http(e.without_url())
    }
}

/// One event for one endpoint.
struct Delivery {
    id: Arc<str>,
    kind: EventKind,
    body: Bytes,
}

/// A tenant's endpoints as last read.
struct Hooks {
    read_at: Instant,
    slug: String,
    endpoints: Vec<WebhookEndpoint>,
}

pub(super) struct Dispatcher {
    store: Store,
    settings: Arc<WebhookSettings>,
    client: reqwest::Client,
    tenants: HashMap<TenantId, Hooks>,
    queues: HashMap<i64, Arc<EndpointQueue>>,
}

impl Dispatcher {
    pub(super) fn new(store: Store, settings: WebhookSettings) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_secs(settings.timeout_secs);
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::shared(settings.allow_private_addresses))
            // A redirect could lead anywhere, past the address check.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent("Switchboard-Webhooks/1")
            .build()?;
        Ok(Self {
            store,
            settings: Arc::new(settings),
            client,
            tenants: HashMap::new(),
            queues: HashMap::new(),
        })
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Committed>) {
        while let Some(committed) = rx.recv().await {
            if let Err(e) = self.dispatch(committed).await {
                metrics::counter!("switchboard_webhook_events_dropped_total").increment(1);
                tracing::warn!(error = %e, "a webhook event could not be built");
            }
        }
        // The desk's writer is gone (the server is stopping): so are the
        // endpoints' tasks, after the attempt each may be making.
        for queue in self.queues.values() {
            queue.close();
        }
    }

    async fn dispatch(&mut self, committed: Committed) -> Result<(), StoreError> {
        let kind = committed.kind.as_str();
        let (slug, wanted) = {
            let hooks = self.hooks(committed.tenant).await?;
            let wanted: Vec<WebhookEndpoint> = hooks
                .endpoints
                .iter()
                .filter(|e| e.events.iter().any(|k| k == kind))
                .cloned()
                .collect();
            (hooks.slug.clone(), wanted)
        };
        if wanted.is_empty() {
            return Ok(());
        }
        let Some(mut record) = self
            .store
            .contact_record(committed.tenant, committed.contact)
            .await?
        else {
            return Ok(());
        };
        // Message bodies stay in the records API, behind staff login.
        record.transcript = None;
        let id: Arc<str> = format!("{}.{kind}.{}", committed.contact.0, committed.at).into();
        let body = serde_json::json!({
            "id": &*id,
            "type": kind,
            "time": rfc3339(committed.at),
            "tenant": slug,
            "contact": record,
        });
        let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        for endpoint in wanted {
            self.queue(committed.tenant, &endpoint).push(Delivery {
                id: id.clone(),
                kind: committed.kind,
                body: body.clone(),
            });
        }
        Ok(())
    }

    /// The tenant's endpoints, read again when older than [`REFRESH`];
    /// queues of endpoints that are gone are closed.
    async fn hooks(&mut self, tenant: TenantId) -> Result<&Hooks, StoreError> {
        let stale = self
            .tenants
            .get(&tenant)
            .is_none_or(|h| h.read_at.elapsed() >= REFRESH);
        if stale {
            let endpoints = self.store.webhook_endpoints(tenant).await?;
            let slug = match self.tenants.get(&tenant) {
                Some(h) => h.slug.clone(),
                None => self
                    .store
                    .tenant(tenant)
                    .await?
                    .map(|t| t.slug)
                    .unwrap_or_default(),
            };
            let current: HashSet<i64> = endpoints.iter().map(|e| e.id).collect();
            self.queues.retain(|id, queue| {
                let keep = queue.tenant != tenant || current.contains(id);
                if !keep {
                    queue.close();
                }
                keep
            });
            self.tenants.insert(
                tenant,
                Hooks {
                    read_at: Instant::now(),
                    slug,
                    endpoints,
                },
            );
        }
        Ok(self
            .tenants
            .get(&tenant)
            .expect("inserted above when missing"))
    }

    /// The endpoint's queue, started on first use.
    fn queue(&mut self, tenant: TenantId, endpoint: &WebhookEndpoint) -> Arc<EndpointQueue> {
        self.queues
            .entry(endpoint.id)
            .or_insert_with(|| {
                let queue = Arc::new(EndpointQueue {
                    tenant,
                    endpoint: endpoint.id,
                    url: endpoint.url.clone(),
                    secret: endpoint.secret.clone(),
                    capacity: self.settings.queue_per_endpoint,
                    state: Mutex::new(QueueState::default()),
                    notify: Notify::new(),
                });
                tokio::spawn(deliver_queue(
                    queue.clone(),
                    self.client.clone(),
                    self.settings.clone(),
                ));
                queue
            })
            .clone()
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC).
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// One endpoint's deliveries, oldest first, bounded.
struct EndpointQueue {
    tenant: TenantId,
    endpoint: i64,
    url: String,
    secret: Secret,
    capacity: usize,
    state: Mutex<QueueState>,
    notify: Notify,
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<Delivery>,
    closed: bool,
}

impl EndpointQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // Nothing panics while holding it; a poisoned queue is still a queue.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `delivery`; when full, the oldest waiting one is dropped so a
    /// dead endpoint holds at most `capacity` deliveries.
    fn push(&self, delivery: Delivery) {
        {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            if state.waiting.len() >= self.capacity {
                state.waiting.pop_front();
                metrics::counter!("switchboard_webhook_deliveries_total", "result" => "dropped")
                    .increment(1);
            }
            state.waiting.push_back(delivery);
        }
        self.notify.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }

    async fn next(&self) -> Option<Delivery> {
        loop {
            {
                let mut state = self.lock();
                if state.closed {
                    return None;
                }
                if let Some(delivery) = state.waiting.pop_front() {
                    return Some(delivery);
                }
            }
            self.notify.notified().await;
        }
    }
}

/// Delivers an endpoint's queue in order: the next event waits until this
/// one is delivered or given up, so a receiver sees a contact's events in the
/// order they happened.
async fn deliver_queue(
    queue: Arc<EndpointQueue>,
    client: reqwest::Client,
    settings: Arc<WebhookSettings>,
) {
    while let Some(delivery) = queue.next().await {
        let mut attempt = 1;
        loop {
            match attempt_once(&client, &queue, &delivery, &settings).await {
                Ok(()) => {
                    metrics::counter!("switchboard_webhook_deliveries_total", "result" => "delivered")
                        .increment(1);
                    break;
                }
                Err(e) if attempt >= settings.max_attempts || queue.is_closed() => {
                    metrics::counter!("switchboard_webhook_deliveries_total", "result" => "failed")
                        .increment(1);
                    tracing::warn!(
                        endpoint = queue.endpoint,
                        event = delivery.kind.as_str(),
                        attempts = attempt,
                        error = %e,
                        "webhook delivery given up"
                    );
                    break;
                }
                Err(e) => {
                    metrics::counter!("switchboard_webhook_deliveries_total", "result" => "retried")
                        .increment(1);
                    tracing::debug!(endpoint = queue.endpoint, attempt, error = %e, "webhook delivery failed; retrying");
                    tokio::time::sleep(backoff(&settings, attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The wait after failed attempt `attempt` (1-based): base, 2 x base, 4 x
/// base, ..., at most `retry_max_ms`.
fn backoff(settings: &WebhookSettings, attempt: u32) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(20);
    Duration::from_millis(
        settings
            .retry_base_ms
            .saturating_mul(factor)
            .min(settings.retry_max_ms),
    )
}

async fn attempt_once(
    client: &reqwest::Client,
    queue: &EndpointQueue,
    delivery: &Delivery,
    settings: &WebhookSettings,
) -> Result<(), AttemptError> {
    let url = url::Url::parse(&queue.url)?;
    if let Some(host) = url.host() {
        address::check_literal(&host, settings.allow_private_addresses)?;
    }
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = sign::sign(queue.secret.expose(), timestamp, &delivery.body);
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(sign::SIGNATURE_HEADER, signature)
        .header("switchboard-event", delivery.kind.as_str())
        .header("switchboard-delivery", &*delivery.id)
        .body(delivery.body.clone())
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(AttemptError::Status(status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(n: u8) -> Delivery {
        Delivery {
            id: n.to_string().into(),
            kind: EventKind::Created,
            body: Bytes::from(vec![n]),
        }
    }

    fn queue(capacity: usize) -> EndpointQueue {
        EndpointQueue {
            tenant: TenantId(1),
            endpoint: 1,
            url: "http://127.0.0.1:9/".to_owned(),
            secret: Secret::new("0123456789abcdef"),
            capacity,
            state: Mutex::new(QueueState::default()),
            notify: Notify::new(),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest() {
        let queue = queue(2);
        for n in 1..=3 {
            queue.push(delivery(n));
        }
        assert_eq!(&*queue.next().await.unwrap().id, "2");
        assert_eq!(&*queue.next().await.unwrap().id, "3");
        queue.close();
        assert!(queue.next().await.is_none());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = WebhookSettings {
            retry_base_ms: 100,
            retry_max_ms: 1000,
            ..WebhookSettings::default()
        };
        let waits: Vec<u128> = (1..=6).map(|a| backoff(&settings, a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(1_765_140_000_123), "2025-12-07T20:40:00.123Z");
    }
}
