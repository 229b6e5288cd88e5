//! The desk's writer: the one way from the desk to the database
//! (STYLE.md 16, an actor with a bounded backlog).
//!
//! The desk never awaits a write. It hands each write to a lane chosen by the
//! contact the write is about, and goes on routing. Writes of one
//! contact always take the same lane, so they commit in the order the desk made
//! them (the contact's row before its messages, an offer before an answer).
//! Lanes run side by side: a slow write holds up only the contacts sharing
//! its lane, never the desk.
//!
//! What the user is told is stored (a message echo, `callback_scheduled`, a
//! wrap-up) is told after the commit: such a write carries a follow-up that
//! comes back to the desk as a [`Stored`](super::Stored) event.
//!
//! The backlog is bounded per tenant: [`Writer::admits`] says whether a tenant
//! may add more, and the desk refuses what a connection asks (`rate_limited`)
//! when it may not. Writes that follow from routing (offered, answered, ended)
//! are never refused; they come from contacts that were admitted.

use std::{
    collections::HashMap,
    future::Future,
    hash::{Hash, Hasher},
    pin::Pin,
    sync::{Arc, Mutex},
    time::Instant,
};

use tokio::sync::mpsc;

use super::storage::DeskStorage;
use crate::{
    ids::{ContactId, TenantId},
    store::StoreError,
};

/// How many lanes writes are spread over.
const LANES: usize = 64;

/// How many writes one tenant may have waiting before its connections are
/// refused new work. At 20 ms a write and 64 lanes this is well over a
/// second of writes: only a stalled database or a flood reaches it.
pub(super) const TENANT_BACKLOG: usize = 4096;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Queued {
    tenant: TenantId,
    since: Instant,
    job: Job,
}

/// Cheap, cloneable handle to the writer's lanes.
#[derive(Clone)]
pub(super) struct Writer {
    store: Arc<dyn DeskStorage>,
    lanes: Arc<[mpsc::UnboundedSender<Queued>]>,
    backlog: Arc<Backlog>,
}

/// Writes waiting or running, in all and per tenant.
#[derive(Default)]
struct Backlog {
    per_tenant: Mutex<HashMap<TenantId, usize>>,
}

impl Backlog {
    fn add(&self, tenant: TenantId) {
        let mut map = self.lock();
        *map.entry(tenant).or_default() += 1;
        metrics::gauge!("switchboard_store_writes_waiting").increment(1.0);
    }

    fn done(&self, tenant: TenantId) {
        let mut map = self.lock();
        if let Some(n) = map.get_mut(&tenant) {
            *n -= 1;
            if *n == 0 {
                map.remove(&tenant);
            }
        }
        metrics::gauge!("switchboard_store_writes_waiting").decrement(1.0);
    }

    fn of(&self, tenant: TenantId) -> usize {
        self.lock().get(&tenant).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, usize>> {
        // A panic while holding this lock leaves plain counters behind,
        // which are still good to use.
        self.per_tenant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Writer {
    /// Starts the lanes; they stop when every handle is dropped.
    pub(super) fn start(store: Arc<dyn DeskStorage>) -> Self {
        let backlog = Arc::new(Backlog::default());
        let lanes: Vec<_> = (0..LANES)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_lane(rx, backlog.clone()));
                tx
            })
            .collect();
        Self {
            store,
            lanes: lanes.into(),
            backlog,
        }
    }

    /// Whether `tenant` may add writes (its backlog is under the bound).
    pub(super) fn admits(&self, tenant: TenantId) -> bool {
        let ok = self.backlog.of(tenant) < TENANT_BACKLOG;
        if !ok {
            metrics::counter!("switchboard_store_writes_refused_total").increment(1);
        }
        ok
    }

    /// Queues a write whose failure is only logged (`what` names it).
    pub(super) fn write<F, Fut>(
        &self,
        tenant: TenantId,
        contact: ContactId,
        what: &'static str,
        op: F,
    ) where
        F: FnOnce(Arc<dyn DeskStorage>) -> Fut,
        Fut: Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        let fut = op(self.store.clone());
        self.then(tenant, contact, async move {
            if let Err(e) = fut.await {
                tracing::error!(error = %e, what, "a write failed");
            }
        });
    }

    /// Queues a job that writes and then reports back itself (through the
    /// desk's `Stored` channel).
    pub(super) fn then(
        &self,
        tenant: TenantId,
        contact: ContactId,
        job: impl Future<Output = ()> + Send + 'static,
    ) {
        self.backlog.add(tenant);
        let lane = &self.lanes[lane_of(contact)];
        let queued = Queued {
            tenant,
            since: Instant::now(),
            job: Box::pin(job),
        };
        if lane.send(queued).is_err() {
            // The lane's task only ends with the runtime.
            self.backlog.done(tenant);
        }
    }

    /// The store, for a job built by the caller.
    pub(super) fn store(&self) -> Arc<dyn DeskStorage> {
        self.store.clone()
    }
}

/// A contact's lane: always the same one, so its writes keep their order.
fn lane_of(contact: ContactId) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    contact.hash(&mut h);
    (h.finish() % LANES as u64) as usize
}

async fn run_lane(mut rx: mpsc::UnboundedReceiver<Queued>, backlog: Arc<Backlog>) {
    while let Some(q) = rx.recv().await {
        q.job.await;
        metrics::histogram!("switchboard_store_write_seconds")
            .record(q.since.elapsed().as_secs_f64());
        backlog.done(q.tenant);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::{Semaphore, oneshot};

    use super::*;

    fn writer() -> Writer {
        // The jobs below touch no table: any store will do.
        Writer::start(Arc::new(crate::desk::memory::MemoryStore::default()))
    }

    /// Two contacts whose writes take different lanes.
    fn two_lanes() -> (ContactId, ContactId) {
        let a = ContactId(1);
        let b = (2..10_000)
            .map(ContactId)
            .find(|c| lane_of(*c) != lane_of(a))
            .expect("another lane");
        (a, b)
    }

    #[test]
    fn a_contact_always_takes_the_same_lane() {
        let a = ContactId(41);
        assert_eq!(lane_of(a), lane_of(a));
        let lanes: std::collections::HashSet<usize> =
            (0..1000).map(|i| lane_of(ContactId(i))).collect();
        // Contacts spread over the lanes rather than piling onto one.
        assert!(lanes.len() > LANES / 2, "{} lanes used", lanes.len());
    }

    #[tokio::test]
    async fn a_contacts_writes_run_in_order_and_a_stuck_one_holds_up_only_its_lane() {
        let writer = writer();
        let tenant = TenantId(1);
        let (slow, other) = two_lanes();
        let gate = Arc::new(Semaphore::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        for step in 0..3 {
            let (gate, order) = (gate.clone(), order.clone());
            writer.then(tenant, slow, async move {
                if step == 0 {
                    // The first write of this contact is stuck until released.
                    let _permit = gate.acquire().await.expect("gate");
                }
                order.lock().expect("order").push(step);
            });
        }
        let (done_tx, done_rx) = oneshot::channel();
        writer.then(tenant, other, async move {
            let _ = done_tx.send(());
        });
        // Another contact's write commits while the first contact's is stuck.
        done_rx.await.expect("the other lane ran");
        assert!(order.lock().expect("order").is_empty());
        gate.add_permits(1);
        let (last_tx, last_rx) = oneshot::channel();
        writer.then(tenant, slow, async move {
            let _ = last_tx.send(());
        });
        last_rx.await.expect("the slow lane ran");
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn a_tenant_over_its_backlog_is_refused_and_the_others_are_not() {
        let writer = writer();
        let (busy, calm) = (TenantId(1), TenantId(2));
        let gate = Arc::new(Semaphore::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        for i in 0..TENANT_BACKLOG {
            let (gate, ran) = (gate.clone(), ran.clone());
            writer.then(busy, ContactId(i as i64), async move {
                let _permit = gate.acquire().await.expect("gate");
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert!(!writer.admits(busy));
        assert!(writer.admits(calm));
        // Once the database catches up, the tenant is admitted again.
        gate.add_permits(TENANT_BACKLOG);
        let (done_tx, done_rx) = oneshot::channel();
        // Same lane as the last queued write: it runs after it.
        writer.then(busy, ContactId(TENANT_BACKLOG as i64 - 1), async move {
            let _ = done_tx.send(());
        });
        done_rx.await.expect("drained");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while writer.backlog.of(busy) > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "backlog never drained"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(ran.load(Ordering::Relaxed), TENANT_BACKLOG);
        assert!(writer.admits(busy));
    }
}
