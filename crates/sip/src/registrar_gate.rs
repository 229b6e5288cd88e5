//! The registrar as the agent's gate uses it: off until the server enables
//! it (REGISTER gets 405 as before), then REGISTERs are answered statelessly
//! from the receive path, under their own per-source rate, and binding
//! changes go to the server on a channel. A REGISTER is idempotent, so a
//! retransmission answered twice does no harm and no transaction is kept.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{Binding, Registrar, RegistrarConfig, Registration, SipAccount};
use crate::ratelimit::{RateLimiter, Verdict};
use crate::refusal::{Refusal, refused};
use crate::{TenantId, Transport, validate};

/// Registration changes waiting for the server at most.
const EVENT_QUEUE: usize = 4096;
/// Sources whose REGISTER rate is tracked at most.
const MAX_TRACKED_SOURCES: usize = 4096;
/// How often expired bindings are looked for.
const SWEEP: Duration = Duration::from_secs(1);

struct Enabled {
    registrar: Registrar,
    rate: RateLimiter,
    events: mpsc::Sender<Registration>,
}

impl Enabled {
    fn emit(&self, change: Registration) {
        // A full queue means the server is stuck: presence catches up at the
        // next change; signalling must not wait.
        if self.events.try_send(change).is_err() {
            warn!("registration event queue full or closed; event dropped");
        }
    }
}

#[derive(Default)]
pub(crate) struct Slot {
    inner: Mutex<Option<Enabled>>,
}

impl Slot {
    /// Turns the registrar on (again: bindings start empty) and starts the
    /// expiry sweep, which stops with `cancel`.
    pub fn enable(
        self: &Arc<Self>,
        config: RegistrarConfig,
        register_rate_per_source: u32,
        cancel: CancellationToken,
    ) -> mpsc::Receiver<Registration> {
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        let enabled = Enabled {
            registrar: Registrar::new(config, Instant::now()),
            rate: RateLimiter::new(register_rate_per_source, MAX_TRACKED_SOURCES),
            events,
        };
        if let Ok(mut slot) = self.inner.lock() {
            *slot = Some(enabled);
        }
        let slot = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Some(slot) = slot.upgrade() else { break };
                let Ok(mut guard) = slot.inner.lock() else {
                    break;
                };
                let Some(enabled) = guard.as_mut() else {
                    continue;
                };
                for change in enabled.registrar.expire(Instant::now()) {
                    enabled.emit(change);
                }
            }
        });
        rx
    }

    pub fn set_accounts(&self, accounts: Vec<SipAccount>) {
        if let Ok(mut slot) = self.inner.lock()
            && let Some(enabled) = slot.as_mut()
        {
            enabled.registrar.set_accounts(accounts);
        }
    }

    pub fn bindings(&self, tenant: TenantId, member: i64) -> Vec<Binding> {
        self.inner
            .lock()
            .ok()
            .and_then(|slot| {
                slot.as_ref()
                    .map(|e| e.registrar.bindings(tenant, member).to_vec())
            })
            .unwrap_or_default()
    }

    /// The answer to a REGISTER that passed validation, or `None` to drop it.
    pub fn handle(
        &self,
        data: &[u8],
        from: SocketAddr,
        transport: Transport,
        server: &str,
    ) -> Option<Vec<u8>> {
        let answer = |code, reason: &str, extra: &[(&'static str, String)]| {
            validate::build_response(data, code, reason, extra, server)
        };
        let Ok(mut slot) = self.inner.lock() else {
            return None;
        };
        let Some(enabled) = slot.as_mut() else {
            return answer(
                405,
                "Method Not Allowed",
                &[("Allow", validate::ALLOWED.to_string())],
            );
        };
        let now = Instant::now();
        match enabled.rate.check(from.ip(), now) {
            Verdict::Allow => {}
            Verdict::Reject { retry_after } => {
                refused(Refusal::PublicRate);
                return answer(
                    503,
                    "Service Unavailable",
                    &[("Retry-After", retry_after.to_string())],
                );
            }
            Verdict::Drop => {
                refused(Refusal::PublicRate);
                return None;
            }
        }
        let msg = validate::parse(data)?;
        let (reply, change) = enabled.registrar.register(&msg, from, transport, now);
        debug!(%from, code = reply.code, "REGISTER answered");
        if let Some(change) = change {
            enabled.emit(change);
        }
        answer(reply.code, reply.reason, &reply.headers)
    }
}
