//! The dispatcher: delivers what waits in the outbox (`store/webhooks.rs`).
//!
//! One task looks for endpoints with an event due (woken by the desk's
//! writer after a commit, and once a second for retries) and runs a worker
//! per such endpoint. A worker claims its endpoint's oldest due event under
//! a lease, makes one attempt, logs it and either marks the event delivered
//! or schedules the next attempt (exponential backoff with jitter), then
//! claims the next. Endpoints never wait on each other, and nothing here is
//! awaited by the desk: a slow or failing endpoint costs only its own worker.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use serde_json::Value;
use tokio::{
    sync::{Notify, mpsc},
    task::JoinHandle,
    time::Instant,
};

use super::{
    WebhookSettings,
    address::{self, AddressError, GuardedResolver},
    sign,
};
use crate::{
    ids::{TenantId, UserId},
    store::{AfterAttempt, AttemptRecord, Claimed, Store, StoreError, WebhookEndpoint, now_ms},
};

/// How often the list of endpoints is read again (a `tenant apply` from the
/// command line, or another node's admin change, takes effect within this).
const FILTER_REFRESH: Duration = Duration::from_secs(5);
/// How often due retries are looked for when nothing wakes the dispatcher.
const POLL: Duration = Duration::from_secs(1);
/// How long an idle worker waits for more before it ends.
const WORKER_IDLE: Duration = Duration::from_secs(5);
/// How often old log lines and finished events are deleted.
const PRUNE_EVERY: Duration = Duration::from_hours(1);
/// How long names of links and agents are used before they are read again.
const NAMES_FOR: Duration = Duration::from_mins(1);

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

/// What a worker needs, shared by all of them.
struct Shared {
    store: Store,
    settings: WebhookSettings,
    client: reqwest::Client,
    names: Names,
}

/// A running worker: its task and what wakes it for more.
struct Worker {
    task: JoinHandle<()>,
    more: Arc<Notify>,
}

pub(super) struct Dispatcher {
    shared: Arc<Shared>,
    wake: mpsc::Receiver<()>,
    workers: HashMap<i64, Worker>,
}

impl Dispatcher {
    pub(super) fn new(
        store: Store,
        settings: WebhookSettings,
        wake: mpsc::Receiver<()>,
    ) -> Result<Self, reqwest::Error> {
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
            shared: Arc::new(Shared {
                store,
                settings,
                client,
                names: Names::default(),
            }),
            wake,
            workers: HashMap::new(),
        })
    }

    /// Runs until every tap is gone (the desk's writer has stopped) or the
    /// store is closed.
    pub(super) async fn run(mut self) {
        let mut refreshed = Instant::now();
        let mut pruned: Option<Instant> = None;
        while !self.shared.store.is_closed() {
            if refreshed.elapsed() >= FILTER_REFRESH {
                refreshed = Instant::now();
                if let Err(e) = self.shared.store.load_webhook_filter().await {
                    tracing::warn!(error = %e, "webhook endpoints could not be read");
                }
            }
            if pruned.is_none_or(|p| p.elapsed() >= PRUNE_EVERY) {
                pruned = Some(Instant::now());
                let keep = Duration::from_secs(self.shared.settings.keep_days * 86_400);
                let before = now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
                if let Err(e) = self.shared.store.prune_webhooks(before).await {
                    tracing::warn!(error = %e, "the webhook log could not be pruned");
                }
            }
            match self.shared.store.due_webhook_endpoints(now_ms()).await {
                Ok(due) => self.run_workers(&due),
                Err(e) => tracing::warn!(error = %e, "the webhook outbox could not be read"),
            }
            tokio::select! {
                woken = self.wake.recv() => if woken.is_none() { break },
                () = tokio::time::sleep(POLL) => {}
            }
        }
        // The server is stopping: attempts under way end with their tasks;
        // their events' leases run out and the next start retries them.
        for worker in self.workers.values() {
            worker.task.abort();
        }
    }

    /// Starts a worker for each endpoint in `due` that has none, and tells
    /// the running ones there is more.
    fn run_workers(&mut self, due: &[i64]) {
        self.workers.retain(|_, w| !w.task.is_finished());
        for &endpoint in due {
            if let Some(worker) = self.workers.get(&endpoint) {
                worker.more.notify_one();
                continue;
            }
            let more = Arc::new(Notify::new());
            let task = tokio::spawn(work(self.shared.clone(), endpoint, more.clone()));
            self.workers.insert(endpoint, Worker { task, more });
        }
    }
}

/// Delivers an endpoint's due events one at a time, oldest first, until
/// none has been due for [`WORKER_IDLE`].
async fn work(shared: Arc<Shared>, endpoint: i64, more: Arc<Notify>) {
    let store = &shared.store;
    let (tenant, hook) = match store.webhook_endpoint(endpoint).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            // Removed by a `tenant apply` or an admin since its events were
            // written: nobody to deliver them to.
            if let Err(e) = store.drop_webhook_events(endpoint).await {
                tracing::warn!(error = %e, "events of a removed endpoint could not be dropped");
            }
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "a webhook endpoint could not be read");
            return;
        }
    };
    match store
        .trim_webhook_backlog(endpoint, shared.settings.queue_per_endpoint)
        .await
    {
        Ok(0) => {}
        Ok(n) => metrics::counter!("switchboard_webhook_deliveries_total", "result" => "dropped")
            .increment(n),
        Err(e) => tracing::warn!(error = %e, "a webhook backlog could not be trimmed"),
    }
    loop {
        let now = now_ms();
        let lease = now + lease_ms(&shared.settings);
        let event = match store.claim_webhook_event(endpoint, now, lease).await {
            Ok(Some(event)) => event,
            Ok(None) => {
                if tokio::time::timeout(WORKER_IDLE, more.notified())
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "a webhook event could not be claimed");
                return;
            }
        };
        if let Err(e) = deliver(&shared, tenant, &hook, &event).await {
            tracing::warn!(error = %e, "a webhook attempt could not be stored");
        }
    }
}

/// How long a claimed event is left alone by other dispatchers: the
/// attempt's timeout and a margin.
fn lease_ms(settings: &WebhookSettings) -> i64 {
    i64::try_from(settings.timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2) + 15_000
}

/// One attempt at `event`, logged, and the event moved on.
async fn deliver(
    shared: &Shared,
    tenant: TenantId,
    hook: &WebhookEndpoint,
    event: &Claimed,
) -> Result<(), StoreError> {
    let settings = &shared.settings;
    let max_age = i64::try_from(settings.max_age_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    if now_ms() - event.created_at > max_age {
        metrics::counter!("switchboard_webhook_deliveries_total", "result" => "failed")
            .increment(1);
        return shared
            .store
            .finish_webhook_attempt(event, hook.id, None, AfterAttempt::GivenUp)
            .await;
    }
    let body = shared.names.body(&shared.store, tenant, event).await?;
    let at = now_ms();
    let started = Instant::now();
    let result = attempt_once(&shared.client, hook, event, body, settings).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let attempt = event.attempts + 1;
    let (record, after) = match result {
        Ok(status) => {
            metrics::counter!("switchboard_webhook_deliveries_total", "result" => "delivered")
                .increment(1);
            let record = AttemptRecord {
                at,
                status: Some(status),
                duration_ms,
                error: None,
            };
            (record, AfterAttempt::Delivered)
        }
        Err(e) => {
            let status = match &e {
                AttemptError::Status(s) => Some(*s),
                _ => None,
            };
            let after = if attempt >= settings.max_attempts {
                metrics::counter!("switchboard_webhook_deliveries_total", "result" => "failed")
                    .increment(1);
                tracing::warn!(
                    endpoint = hook.id,
                    event = event.kind,
                    attempts = attempt,
                    error = %e,
                    "webhook delivery given up"
                );
                AfterAttempt::GivenUp
            } else {
                metrics::counter!("switchboard_webhook_deliveries_total", "result" => "retried")
                    .increment(1);
                tracing::debug!(endpoint = hook.id, attempt, error = %e, "webhook delivery failed; retrying");
                let wait = backoff(settings, attempt, rand::random::<f64>());
                AfterAttempt::RetryAt(
                    now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2),
                )
            };
            let record = AttemptRecord {
                at,
                status,
                duration_ms,
                error: Some(e.to_string()),
            };
            (record, after)
        }
    };
    shared
        .store
        .finish_webhook_attempt(event, hook.id, Some(&record), after)
        .await
}

/// The wait after failed attempt `attempt` (1-based): base, 2 x base, 4 x
/// base, ..., at most `retry_max_ms`, of which a random part (`unit` in
/// 0..1) up to a half is taken off, so receivers that failed together are
/// not all tried again at the same moment ("equal jitter").
fn backoff(settings: &WebhookSettings, attempt: u32, unit: f64) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(20);
    let full = settings
        .retry_base_ms
        .saturating_mul(factor)
        .min(settings.retry_max_ms);
    let jitter = (full as f64 / 2.0 * unit.clamp(0.0, 1.0)) as u64;
    Duration::from_millis(full - jitter)
}

/// One POST; the status when it was a 2xx.
async fn attempt_once(
    client: &reqwest::Client,
    hook: &WebhookEndpoint,
    event: &Claimed,
    body: Bytes,
    settings: &WebhookSettings,
) -> Result<u16, AttemptError> {
    let url = url::Url::parse(&hook.url)?;
    if let Some(host) = url.host() {
        address::check_literal(&host, settings.allow_private_addresses)?;
    }
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = sign::sign(hook.secret.expose(), timestamp, &body);
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(sign::SIGNATURE_HEADER, signature)
        .header("switchboard-event", &event.kind)
        .header("switchboard-delivery", &event.event_id)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(AttemptError::Status(status.as_u16()))
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

/// A tenant's slug and the names of its links and agents, as last read.
struct TenantNames {
    read_at: Instant,
    slug: String,
    links: HashMap<i64, String>,
    agents: HashMap<i64, String>,
}

/// Names for the ids events carry, read per tenant and kept a minute.
#[derive(Default)]
struct Names {
    tenants: Mutex<HashMap<TenantId, TenantNames>>,
}

impl Names {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, TenantNames>> {
        // Nothing panics while holding it; a poisoned cache is still a cache.
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The body of `event` as delivered: its payload with ids made names,
    /// under the event's id, type, time and tenant.
    async fn body(
        &self,
        store: &Store,
        tenant: TenantId,
        event: &Claimed,
    ) -> Result<Bytes, StoreError> {
        let mut payload: Value = serde_json::from_str(&event.payload)
            .map_err(|e| StoreError::Corrupt(format!("webhook payload: {e}")))?;
        let link = payload.get("_link").and_then(Value::as_i64);
        let agent = payload.get("_agent").and_then(Value::as_i64);
        let (slug, link, agent) = self.resolve(store, tenant, link, agent).await?;
        if let Some(map) = payload.as_object_mut() {
            map.remove("_link");
            map.remove("_agent");
            if let Some(contact) = map.get_mut("contact").and_then(Value::as_object_mut) {
                if let Some(link) = link {
                    contact.insert("link".into(), link.into());
                }
                if let Some(agent) = agent {
                    contact.insert("agent".into(), agent.into());
                }
            }
        }
        let mut body = serde_json::Map::new();
        body.insert("id".into(), event.event_id.clone().into());
        body.insert("type".into(), event.kind.clone().into());
        body.insert("time".into(), rfc3339(event.created_at).into());
        body.insert("tenant".into(), slug.into());
        if let Value::Object(rest) = payload {
            body.extend(rest);
        }
        // A map of plain values always serializes.
        Ok(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()))
    }

    async fn resolve(
        &self,
        store: &Store,
        tenant: TenantId,
        link: Option<i64>,
        agent: Option<i64>,
    ) -> Result<(String, Option<String>, Option<String>), StoreError> {
        let known = |names: &TenantNames| {
            names.read_at.elapsed() < NAMES_FOR
                && link.is_none_or(|l| names.links.contains_key(&l))
                && agent.is_none_or(|a| names.agents.contains_key(&a))
        };
        let fresh = self.lock().get(&tenant).is_some_and(known);
        if !fresh {
            let slug = store
                .tenant(tenant)
                .await?
                .map(|t| t.slug)
                .unwrap_or_default();
            let links = store
                .links(tenant)
                .await?
                .into_iter()
                .map(|l| (l.id.0, l.slug))
                .collect();
            let mut agents = HashMap::new();
            if let Some(a) = agent
                && let Some(user) = store.user(tenant, UserId(a)).await?
            {
                agents.insert(a, user.name);
            }
            let mut tenants = self.lock();
            let old = tenants.remove(&tenant);
            let mut names = TenantNames {
                read_at: Instant::now(),
                slug,
                links,
                agents,
            };
            if let Some(old) = old {
                for (id, name) in old.agents {
                    names.agents.entry(id).or_insert(name);
                }
            }
            tenants.insert(tenant, names);
        }
        let tenants = self.lock();
        let names = tenants.get(&tenant);
        Ok((
            names.map(|n| n.slug.clone()).unwrap_or_default(),
            link.and_then(|l| names?.links.get(&l).cloned()),
            agent.and_then(|a| names?.agents.get(&a).cloned()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_less_up_to_half_at_random() {
        let settings = WebhookSettings {
            retry_base_ms: 100,
            retry_max_ms: 1000,
            ..WebhookSettings::default()
        };
        let full: Vec<u128> = (1..=6)
            .map(|a| backoff(&settings, a, 0.0).as_millis())
            .collect();
        assert_eq!(full, [100, 200, 400, 800, 1000, 1000]);
        let least: Vec<u128> = (1..=6)
            .map(|a| backoff(&settings, a, 1.0).as_millis())
            .collect();
        assert_eq!(least, [50, 100, 200, 400, 500, 500]);
        for _ in 0..100 {
            let wait = backoff(&settings, 3, rand::random::<f64>()).as_millis();
            assert!((200..=400).contains(&wait), "{wait}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(1_765_140_000_123), "2025-12-07T20:40:00.123Z");
    }
}
