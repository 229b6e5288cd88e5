//! Signed webhooks for contact events (docs/webhooks.md for merchants).
//!
//! A tenant lists endpoints in its tenant file (`[[webhooks]]`: `url`,
//! `secret`, `events`). A contact change that is an event ([`events_of`]) is
//! written to the outbox, one row per endpoint that asked for its type, in
//! the same transaction as the change (`store/webhooks.rs`, called from
//! `store/contact_writes.rs`): no event is lost across a restart, and none is
//! sent for a change that did not commit. After the commit the desk's writer
//! wakes the dispatcher through its [`Tap`] (a `try_send`, never a wait).
//! Events from elsewhere (a callback's attempt, a message left) go in with
//! [`emit`].
//!
//! The dispatcher (`deliver.rs`) runs a worker per endpoint with due events:
//! it claims the oldest under a lease, signs and posts it, logs the attempt
//! (the admins' delivery log) and marks it delivered or due again after a
//! backoff with jitter; after `max_attempts`, or past `max_age_secs`, the
//! event is given up.
//!
//! # What a merchant receives
//!
//! `POST <url>` with `content-type: application/json` and
//!
//! ```json
//! {"id": "41.contact.answered.1765140000123", "type": "contact.answered",
//!  "time": "2026-12-07T20:40:00.123Z", "tenant": "acme",
//!  "contact": {"id": 41, "state": "connected", "agent": "kim"}}
//! ```
//!
//! Headers: `Switchboard-Event` (the type), `Switchboard-Delivery` (the id,
//! the same on every retry: use it to drop duplicates) and
//! `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `<t>.<raw body>` with the endpoint's secret (see [`sign`]).
//!
//! # Bounds
//!
//! * The desk never waits: events are rows in its own transaction, and
//!   tenants without endpoints add no statement (an in-memory filter).
//! * Each endpoint's waiting events are trimmed to `queue_per_endpoint`
//!   (oldest dropped, `switchboard_webhook_deliveries_total{result="dropped"}`);
//!   a tenant has at most [`MAX_ENDPOINTS`] endpoints.
//! * Finished events and the delivery log are deleted after `keep_days`.
//! * Delivery to private and loopback addresses only when the operator allows
//!   it (`address.rs` says why).

pub(crate) mod address;
mod deliver;
pub mod sign;

use serde::Deserialize;
use tokio::sync::mpsc;
use toml::Spanned;

use crate::{
    ids::{ContactId, TenantId},
    secret::Secret,
    store::{ContactWrite, NewWebhookEndpoint, Store, TimedWrite},
};

/// The most endpoints one tenant may list.
pub const MAX_ENDPOINTS: usize = 10;
/// The shortest secret accepted: a guessable one lets anyone forge deliveries.
pub const MIN_SECRET_BYTES: usize = 16;

/// The `[webhooks]` table of the server's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Deliver to loopback, private and link-local addresses too. Off by
    /// default: see `address.rs` (server-side request forgery).
    pub allow_private_addresses: bool,
    /// Seconds one delivery attempt may take, connecting included.
    pub timeout_secs: u64,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// The wait before the first retry, in milliseconds; doubled each time.
    pub retry_base_ms: u64,
    /// The longest wait between attempts, in milliseconds.
    pub retry_max_ms: u64,
    /// Deliveries waiting per endpoint before the oldest is dropped.
    pub queue_per_endpoint: usize,
    /// An event not delivered this many seconds after it happened is given
    /// up (after a long outage of the server or the receiver).
    pub max_age_secs: u64,
    /// Days the delivery log and delivered events are kept.
    pub keep_days: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            timeout_secs: 10,
            max_attempts: 8,
            retry_base_ms: 1000,
            retry_max_ms: 300_000,
            queue_per_endpoint: 1000,
            max_age_secs: 86_400,
            keep_days: 7,
        }
    }
}

impl WebhookSettings {
    /// Refuses settings that would never deliver or never stop.
    pub fn check(&self) -> Result<(), String> {
        if self.timeout_secs == 0 || self.timeout_secs > 60 {
            return Err("webhooks: timeout_secs must be 1-60".to_owned());
        }
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return Err("webhooks: max_attempts must be 1-20".to_owned());
        }
        if self.queue_per_endpoint == 0 || self.queue_per_endpoint > 100_000 {
            return Err("webhooks: queue_per_endpoint must be 1-100000".to_owned());
        }
        if self.max_age_secs == 0 || self.keep_days == 0 || self.keep_days > 365 {
            return Err("webhooks: max_age_secs must be above 0 and keep_days 1-365".to_owned());
        }
        if self.retry_base_ms == 0 || self.retry_max_ms < self.retry_base_ms {
            return Err(
                "webhooks: retry_base_ms must be above 0 and at most retry_max_ms".to_owned(),
            );
        }
        Ok(())
    }
}

/// The contact events an endpoint can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    Queued,
    Offered,
    Answered,
    Ended,
    WrappedUp,
    CallbackRequested,
    /// The server dialled a callback (one per attempt, with its result).
    CallbackAttempted,
    /// A caller left a voice or video message.
    MessageLeft,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::Created,
        EventKind::Queued,
        EventKind::Offered,
        EventKind::Answered,
        EventKind::Ended,
        EventKind::WrappedUp,
        EventKind::CallbackRequested,
        EventKind::CallbackAttempted,
        EventKind::MessageLeft,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "contact.created",
            EventKind::Queued => "contact.queued",
            EventKind::Offered => "contact.offered",
            EventKind::Answered => "contact.answered",
            EventKind::Ended => "contact.ended",
            EventKind::WrappedUp => "contact.wrapped_up",
            EventKind::CallbackRequested => "contact.callback_requested",
            EventKind::CallbackAttempted => "contact.callback_attempted",
            EventKind::MessageLeft => "contact.message_left",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// This kind's bit in an endpoint's set of wanted kinds.
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The bits of the kinds named in `names` (unknown names are ignored:
    /// they were refused when the endpoint was set).
    pub(crate) fn mask<'a>(names: impl IntoIterator<Item = &'a str>) -> u32 {
        names
            .into_iter()
            .filter_map(Self::parse)
            .fold(0, |m, k| m | k.bit())
    }

    /// The first event a committed change is, if it is one (what wakes the
    /// dispatcher).
    fn of(write: &ContactWrite) -> Option<Self> {
        events_of(write).first().map(|(kind, _)| *kind)
    }
}

/// The events a change to a contact is, each with what it says about the
/// contact. The payload is built from the change itself, so delivering it
/// never reads the contact's record; ids of links and agents are kept under
/// `_link` and `_agent` and become names when delivered ([`deliver`]).
pub(crate) fn events_of(write: &ContactWrite) -> Vec<(EventKind, serde_json::Value)> {
    use serde_json::json;
    let id = write.contact().0;
    match write {
        ContactWrite::Create { new, .. } => {
            let contact = json!({
                "id": id,
                "media": new.media.name(),
                "state": "queued",
                "page_url": new.page_url,
                "page_title": new.page_title,
                "referrer": new.referrer,
                "language": new.language,
                "verified": new.verified,
                "customer_ref": new.customer_ref,
            });
            let queued = json!({"contact": {"id": id, "state": "queued"}, "_link": new.link.0});
            vec![
                (
                    EventKind::Created,
                    json!({"contact": contact, "_link": new.link.0}),
                ),
                (EventKind::Queued, queued),
            ]
        }
        ContactWrite::Requeued { .. } => vec![(
            EventKind::Queued,
            json!({"contact": {"id": id, "state": "queued"}, "requeued": true}),
        )],
        ContactWrite::Offered { .. } => vec![(
            EventKind::Offered,
            json!({"contact": {"id": id, "state": "offered"}}),
        )],
        ContactWrite::Answered { agent, .. } => vec![(
            EventKind::Answered,
            json!({"contact": {"id": id, "state": "connected"}, "_agent": agent.0}),
        )],
        ContactWrite::Ended {
            outcome,
            awaiting_wrapup,
            ..
        } => vec![(
            EventKind::Ended,
            json!({"contact": {
                "id": id,
                "state": if *awaiting_wrapup { "wrapup" } else { "closed" },
                "outcome": outcome.as_str(),
            }}),
        )],
        ContactWrite::WrapUp { code, .. } => vec![(
            EventKind::WrappedUp,
            json!({"contact": {"id": id, "state": "closed", "wrapup_code": code}}),
        )],
        ContactWrite::Callback { .. } => vec![(
            EventKind::CallbackRequested,
            json!({"contact": {"id": id, "media": "callback"}}),
        )],
        _ => Vec::new(),
    }
}

/// A committed change that is an event (what the tap of a test gets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) tenant: TenantId,
    pub(crate) contact: ContactId,
    pub(crate) kind: EventKind,
    /// When the desk made the change (ms since the epoch).
    pub(crate) at: i64,
}

/// Where the desk's writer reports committed changes. The events themselves
/// are already in the outbox, written in the change's transaction; the tap
/// only wakes the dispatcher so it need not wait for its next look. The
/// default goes nowhere (tests of the desk).
#[derive(Clone, Debug, Default)]
pub struct Tap {
    wake: Option<mpsc::Sender<()>>,
    events: Option<mpsc::Sender<Committed>>,
}

impl Tap {
    /// Wakes the dispatcher after a committed change that is an event;
    /// never waits.
    pub fn committed(&self, write: &TimedWrite) {
        let Some(kind) = EventKind::of(&write.write) else {
            return;
        };
        if let Some(wake) = &self.wake {
            // Full means a wake-up is already waiting: nothing to add.
            let _ = wake.try_send(());
        }
        if let Some(events) = &self.events {
            let committed = Committed {
                tenant: write.write.tenant(),
                contact: write.write.contact(),
                kind,
                at: write.at,
            };
            let _ = events.try_send(committed);
        }
    }

    /// A tap into a channel of the test's own.
    #[cfg(test)]
    pub(crate) fn channel(capacity: usize) -> (Tap, mpsc::Receiver<Committed>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            Tap {
                wake: None,
                events: Some(tx),
            },
            rx,
        )
    }
}

/// Puts an event that is not a change of the desk's writer (a callback's
/// attempt, a message left in a mailbox) in the outbox of every endpoint of
/// `tenant` that asked for `kind`, in a transaction of its own. `data` is
/// merged into the delivered body beside `id`, `type`, `time` and `tenant`
/// (e.g. `{"contact": {"id": 41}, "attempt": 2, "result": "busy"}`). Returns
/// how many deliveries were queued.
pub async fn emit(
    store: &Store,
    tenant: TenantId,
    contact: Option<ContactId>,
    kind: EventKind,
    data: serde_json::Value,
) -> Result<usize, crate::store::StoreError> {
    store.emit_webhook_event(tenant, contact, kind, data).await
}

/// Starts the dispatcher; the returned tap goes to the desk's writer.
pub fn start(store: Store, settings: WebhookSettings) -> Tap {
    // When the last tap is dropped (the desk's writer stopped), the
    // dispatcher's receiver ends and so does the dispatcher.
    let (wake, woken) = mpsc::channel(1);
    match deliver::Dispatcher::new(store, settings, woken) {
        Ok(dispatcher) => {
            tokio::spawn(dispatcher.run());
            Tap {
                wake: Some(wake),
                events: None,
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "webhooks disabled: the HTTP client could not be built");
            Tap::default()
        }
    }
}

/// The tenant file's `[[webhooks]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSection {
    pub url: Spanned<String>,
    /// Signs each delivery; the receiver checks with the same secret.
    pub secret: Secret,
    /// Event types, e.g. `["contact.created", "contact.ended"]`.
    pub events: Vec<Spanned<String>>,
}

/// Checks the tenant file's endpoints; errors say which entry and why.
/// Whether an address is private is checked when delivering, where the
/// operator's config is known.
pub fn check_endpoints(endpoints: &[EndpointSection]) -> Result<(), String> {
    if endpoints.len() > MAX_ENDPOINTS {
        return Err(format!(
            "webhooks: at most {MAX_ENDPOINTS} endpoints (there are {})",
            endpoints.len()
        ));
    }
    for (i, endpoint) in endpoints.iter().enumerate() {
        let at = format!("webhooks[{i}]");
        let url = endpoint.url.get_ref();
        let parsed = url::Url::parse(url).map_err(|e| format!("{at}: url {url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(format!("{at}: url {url:?} must be http(s)://host/path"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "{at}: url must not carry a user or password (the signature authenticates)"
            ));
        }
        if endpoint.secret.expose().len() < MIN_SECRET_BYTES {
            return Err(format!(
                "{at}: secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            ));
        }
        if endpoint.events.is_empty() {
            return Err(format!("{at}: events must name at least one event"));
        }
        for event in &endpoint.events {
            if EventKind::parse(event.get_ref()).is_none() {
                let known: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "{at}: unknown event {:?} (known: {})",
                    event.get_ref(),
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Stores the tenant file's endpoints in place of the tenant's current ones.
pub async fn apply_endpoints(
    store: &Store,
    tenant: TenantId,
    endpoints: &[EndpointSection],
) -> Result<(), crate::store::StoreError> {
    let endpoints: Vec<NewWebhookEndpoint> = endpoints
        .iter()
        .map(|e| NewWebhookEndpoint {
            url: e.url.get_ref().clone(),
            secret: e.secret.clone(),
            events: e.events.iter().map(|s| s.get_ref().clone()).collect(),
        })
        .collect();
    store.set_webhook_endpoints(tenant, &endpoints).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_from_toml_and_refuse_what_would_never_deliver() {
        let settings: WebhookSettings =
            toml::from_str("allow_private_addresses = true\nmax_attempts = 3").unwrap();
        assert!(settings.allow_private_addresses);
        assert_eq!((settings.max_attempts, settings.timeout_secs), (3, 10));
        assert_eq!(settings.check(), Ok(()));
        for bad in [
            "timeout_secs = 0",
            "max_attempts = 0",
            "queue_per_endpoint = 0",
            "retry_base_ms = 0",
            "retry_base_ms = 5000\nretry_max_ms = 10",
        ] {
            let settings: WebhookSettings = toml::from_str(bad).unwrap();
            assert!(settings.check().is_err(), "{bad}");
        }
        assert!(toml::from_str::<WebhookSettings>("alow_private = true").is_err());
    }

    #[test]
    fn a_full_tap_drops_instead_of_waiting() {
        let (tap, mut rx) = Tap::channel(1);
        let write = |contact| {
            TimedWrite::now(ContactWrite::Offered {
                tenant: TenantId(1),
                contact: ContactId(contact),
            })
        };
        tap.committed(&write(1));
        tap.committed(&write(2));
        assert_eq!(rx.try_recv().map(|c| c.contact), Ok(ContactId(1)));
        assert!(rx.try_recv().is_err(), "the second was dropped");
    }
}
