//! The desk's writer: the one way from the desk to the database
//! (STYLE.md 16, an actor with a bounded backlog).
//!
//! The desk never awaits a write. It hands each write to a lane chosen by the
//! contact the write is about, and goes on routing. Writes of one
//! contact always take the same lane, so they commit in the order the desk made
//! them (the contact's row before its messages, an offer before an answer).
//! Lanes run side by side: a slow write holds up only the contacts sharing
//! its lane, never the desk. How many lanes is the database's to say
//! ([`LANES`](super::storage::LANES) on PostgreSQL, one on SQLite).
//!
//! Writes are data ([`ContactWrite`]), not futures, so a lane commits the
//! writes that wait in it in one transaction: under load a lane's backlog
//! grows and its batches with it, and the database commits once per batch
//! instead of once per statement.
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
    hash::{Hash, Hasher},
    sync::{Arc, Mutex},
    time::Instant,
};

use tokio::sync::mpsc;

use super::storage::DeskStorage;
use crate::{
    ids::{ContactId, TenantId},
    store::{ContactWrite, TimedWrite, Written},
    webhooks::Tap,
};

/// The most writes one lane commits in one transaction. SQLite's one lane
/// carries every contact's writes (9,500 a second at 950 contacts/s), and
/// after a pause (a WAL checkpoint) thousands wait: larger batches catch up
/// in fewer commits. A batch of 256 small statements commits in milliseconds.
const MAX_BATCH: usize = 256;

/// How many writes one tenant may have waiting before its connections are
/// refused new work. One busy tenant makes about ten writes a contact, 9,500
/// a second at 950 contacts/s on SQLite; 4,096 was outrun by a pause of SQLite's
/// writer under half a second long (a WAL checkpoint) and refused every
/// visitor starting then. This is well over a second of writes at that rate:
/// only a stalled database or a flood reaches it.
pub(super) const TENANT_BACKLOG: usize = 16_384;

/// What to do once a write has committed (`Ok`) or failed (`Err`, already
/// logged).
type Then = Box<dyn FnOnce(Result<Written, ()>) + Send>;

/// A change to a contact waiting in its lane.
struct Queued {
    since: Instant,
    write: TimedWrite,
    then: Option<Then>,
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
    /// Starts the lanes; they stop when every handle is dropped. Committed
    /// changes are reported to `webhooks`.
    pub(super) fn start(store: Arc<dyn DeskStorage>, webhooks: &Tap) -> Self {
        let backlog = Arc::new(Backlog::default());
        let lanes: Vec<_> = (0..store.write_lanes().max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_lane(
                    rx,
                    store.clone(),
                    backlog.clone(),
                    webhooks.clone(),
                ));
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

    /// Queues a change whose failure is only logged.
    pub(super) fn write(&self, write: ContactWrite) {
        self.queue(write, None);
    }

    /// Queues a change and what to do once it has committed or failed (for
    /// what the user is told is stored: that goes back to the desk through
    /// its `Stored` channel).
    pub(super) fn write_then(
        &self,
        write: ContactWrite,
        then: impl FnOnce(Result<Written, ()>) + Send + 'static,
    ) {
        self.queue(write, Some(Box::new(then)));
    }

    /// Queues `write`, stamped now: the record's times are when the desk
    /// made the change, however long the lane then takes.
    fn queue(&self, write: ContactWrite, then: Option<Then>) {
        let tenant = write.tenant();
        self.backlog.add(tenant);
        let lane = &self.lanes[lane_of(write.contact(), self.lanes.len())];
        let queued = Queued {
            since: Instant::now(),
            write: TimedWrite::now(write),
            then,
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
fn lane_of(contact: ContactId, lanes: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    contact.hash(&mut h);
    (h.finish() % lanes as u64) as usize
}

/// Runs a lane: the writes that wait one after another go in one
/// transaction, in the order they came.
async fn run_lane(
    mut rx: mpsc::UnboundedReceiver<Queued>,
    store: Arc<dyn DeskStorage>,
    backlog: Arc<Backlog>,
    webhooks: Tap,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(queued) => batch.push(queued),
                Err(_) => break,
            }
        }
        let (writes, waiting): (Vec<TimedWrite>, Vec<_>) = batch
            .into_iter()
            .map(|q| (q.write, (q.since, q.then)))
            .unzip();
        let results = commit(store.as_ref(), &writes).await;
        for ((write, (since, then)), result) in writes.iter().zip(waiting).zip(results) {
            // The one place a change is known to be committed: from here it
            // may become a webhook event (a channel send, never a wait).
            if result.is_ok() {
                webhooks.committed(write);
            }
            if let Some(then) = then {
                then(result);
            }
            metrics::histogram!("switchboard_store_write_seconds")
                .record(since.elapsed().as_secs_f64());
            backlog.done(write.write.tenant());
        }
    }
}

/// Commits `writes` in one transaction. If that fails, each is tried on its
/// own, so one bad write (a row another node removed, a constraint) fails
/// alone rather than taking the others with it.
async fn commit(store: &dyn DeskStorage, writes: &[TimedWrite]) -> Vec<Result<Written, ()>> {
    metrics::histogram!("switchboard_store_write_batch_size").record(writes.len() as f64);
    if writes.len() > 1 {
        match store.write_contacts(writes).await {
            Ok(done) => return done.into_iter().map(Ok).collect(),
            Err(e) => tracing::warn!(error = %e, "a batch of writes failed; trying each alone"),
        }
    }
    let mut results = Vec::with_capacity(writes.len());
    for write in writes {
        results.push(store.write_contact(write).await.map_err(|e| {
            tracing::error!(error = %e, what = write.write.name(), "a write failed");
        }));
    }
    results
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::desk::storage::LANES;
    use crate::{
        desk::memory::MemoryStore,
        ids::{LinkId, UserId},
        store::{ContactMedia, NewContact, Sender},
    };

    fn writer() -> (Writer, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::default());
        (Writer::start(store.clone(), &Tap::default()), store)
    }

    fn new_contact(tenant: TenantId) -> NewContact {
        NewContact::unknown(tenant, LinkId(1), ContactMedia::Chat)
    }

    fn message(tenant: TenantId, contact: ContactId, text: &str) -> ContactWrite {
        ContactWrite::Message {
            tenant,
            contact,
            from: Sender::Visitor,
            text: text.to_owned(),
        }
    }

    /// Queues `write` and returns what its follow-up is given.
    fn write_and_wait(
        writer: &Writer,
        write: ContactWrite,
    ) -> oneshot::Receiver<Result<Written, ()>> {
        let (tx, rx) = oneshot::channel();
        writer.write_then(write, move |result| {
            let _ = tx.send(result);
        });
        rx
    }

    /// Two contacts whose writes take different lanes.
    fn two_lanes() -> (ContactId, ContactId) {
        let a = ContactId(1);
        let b = (2..10_000)
            .map(ContactId)
            .find(|c| lane_of(*c, LANES) != lane_of(a, LANES))
            .expect("another lane");
        (a, b)
    }

    #[test]
    fn a_contact_always_takes_the_same_lane() {
        let a = ContactId(41);
        assert_eq!(lane_of(a, LANES), lane_of(a, LANES));
        let lanes: std::collections::HashSet<usize> =
            (0..1000).map(|i| lane_of(ContactId(i), LANES)).collect();
        // Contacts spread over the lanes rather than piling onto one.
        assert!(lanes.len() > LANES / 2, "{} lanes used", lanes.len());
    }

    #[tokio::test]
    async fn a_contacts_writes_run_in_order_and_a_stuck_one_holds_up_only_its_lane() {
        let (writer, store) = writer();
        let tenant = TenantId(1);
        let (slow, other) = two_lanes();
        // The database is stuck for the first contact.
        let gate = store.hold(Some(slow));
        for text in ["0", "1", "2"] {
            writer.write(message(tenant, slow, text));
        }
        // Another contact's write commits while the first contact's are stuck.
        let done = write_and_wait(&writer, message(tenant, other, "other"));
        assert!(done.await.expect("the other lane ran").is_ok());
        assert!(store.texts(slow).is_empty());
        gate.add_permits(1);
        let last = write_and_wait(&writer, message(tenant, slow, "3"));
        assert!(last.await.expect("the slow lane ran").is_ok());
        assert_eq!(store.texts(slow), ["0", "1", "2", "3"]);
    }

    #[tokio::test]
    async fn a_write_that_waits_in_its_lane_keeps_the_time_it_was_made() {
        let (writer, store) = writer();
        let (tenant, contact) = (TenantId(1), ContactId(3));
        let gate = store.hold(Some(contact));
        let before = crate::store::now_ms();
        let stored = write_and_wait(&writer, message(tenant, contact, "hello"));
        let after = crate::store::now_ms();
        // The database stays stuck until the clock has visibly moved on.
        while crate::store::now_ms() < after + 20 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        gate.add_permits(1);
        let Ok(Written::Message(echo)) = stored.await.expect("the lane ran") else {
            panic!("the message was not stored");
        };
        assert!(
            (before..=after).contains(&echo.at),
            "stamped at {}",
            echo.at
        );
        assert_eq!(store.messages(contact), [echo]);
    }

    #[tokio::test]
    async fn writes_that_wait_in_a_lane_commit_in_one_transaction_in_order() {
        let (writer, store) = writer();
        let (tenant, contact) = (TenantId(1), ContactId(7));
        // The first write holds the lane while the rest queue behind it.
        let gate = store.hold(Some(contact));
        writer.write(ContactWrite::Create {
            id: contact,
            new: new_contact(tenant),
        });
        writer.write(ContactWrite::Offered { tenant, contact });
        let echoes = Arc::new(Mutex::new(Vec::new()));
        for text in ["one", "two", "three"] {
            let echoes = echoes.clone();
            writer.write_then(message(tenant, contact, text), move |result| {
                if let Ok(Written::Message(m)) = result {
                    echoes.lock().expect("echoes").push(m.text);
                }
            });
        }
        let answered = ContactWrite::Answered {
            tenant,
            contact,
            agent: UserId(3),
        };
        let done = write_and_wait(&writer, answered);
        gate.add_permits(1);
        assert_eq!(done.await.expect("answered"), Ok(Written::Done));
        // The lane took the create alone (nothing else waited yet) or with
        // the rest; either way the five behind it went in one transaction.
        let batches = store.batches();
        assert!(batches == [6] || batches == [5], "batches of {batches:?}");
        assert_eq!(*echoes.lock().expect("echoes"), ["one", "two", "three"]);
        assert_eq!(store.texts(contact), ["one", "two", "three"]);
        let row = store.contact(contact).expect("stored");
        assert_eq!(
            (row.state, row.offers, row.agent),
            ("connected", 1, Some(UserId(3)))
        );
    }

    #[tokio::test]
    async fn a_lane_commits_at_most_max_batch_writes_at_once() {
        let (writer, store) = writer();
        let (tenant, contact) = (TenantId(1), ContactId(5));
        let gate = store.hold(None);
        let total = MAX_BATCH + 36;
        for i in 1..total {
            writer.write(message(tenant, contact, &i.to_string()));
        }
        let last = write_and_wait(&writer, message(tenant, contact, "last"));
        gate.add_permits(1);
        assert!(last.await.expect("stored").is_ok());
        // All were waiting when the lane woke: one full batch, then the rest.
        assert_eq!(store.batches(), [MAX_BATCH, 36]);
        assert_eq!(store.texts(contact).len(), total);
    }

    /// The webhook hook: what committed is reported, in order, and only the
    /// writes that are events; a write that failed is not.
    #[tokio::test]
    async fn committed_events_and_only_those_reach_the_webhook_tap() {
        let store = Arc::new(MemoryStore::default());
        let (tap, mut events) = Tap::channel(16);
        let writer = Writer::start(store.clone(), &tap);
        let (tenant, contact) = (TenantId(1), ContactId(9));
        writer.write(ContactWrite::Create {
            id: contact,
            new: new_contact(tenant),
        });
        writer.write(message(tenant, contact, "not an event"));
        let answered = ContactWrite::Answered {
            tenant,
            contact,
            agent: UserId(3),
        };
        assert!(
            write_and_wait(&writer, answered)
                .await
                .expect("ran")
                .is_ok()
        );
        store.refuse_contacts(true);
        let refused = ContactId(10);
        let create = ContactWrite::Create {
            id: refused,
            new: new_contact(tenant),
        };
        assert_eq!(write_and_wait(&writer, create).await.expect("ran"), Err(()));
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push((event.contact, event.kind));
        }
        assert_eq!(
            seen,
            [
                (contact, crate::webhooks::EventKind::Created),
                (contact, crate::webhooks::EventKind::Answered),
            ]
        );
    }

    #[tokio::test]
    async fn a_failing_write_in_a_batch_fails_alone() {
        let (writer, store) = writer();
        let (tenant, kept) = (TenantId(1), ContactId(1));
        // A contact in the same lane, whose row fails to store.
        let refused = (2..10_000)
            .map(ContactId)
            .find(|c| lane_of(*c, LANES) == lane_of(kept, LANES))
            .expect("a contact in the same lane");
        // Three writes queue in one lane while the database is held, so the
        // lane takes them as one batch.
        let gate = store.hold(None);
        writer.write(message(tenant, kept, "first"));
        store.refuse_contacts(true);
        let failed = write_and_wait(
            &writer,
            ContactWrite::Create {
                id: refused,
                new: new_contact(tenant),
            },
        );
        let sent = write_and_wait(&writer, message(tenant, kept, "still stored"));
        gate.add_permits(1);
        assert_eq!(failed.await.expect("answered"), Err(()));
        assert!(sent.await.expect("answered").is_ok());
        // The batch was refused as a whole, then each write went alone: the
        // refused row is missing, the message is stored.
        assert!(store.batches().is_empty(), "{:?}", store.batches());
        assert!(store.contact(refused).is_none());
        assert_eq!(store.texts(kept), ["first", "still stored"]);
    }

    #[tokio::test]
    async fn a_tenant_over_its_backlog_is_refused_and_the_others_are_not() {
        let (writer, store) = writer();
        let (busy, calm) = (TenantId(1), TenantId(2));
        let gate = store.hold(None);
        for i in 0..TENANT_BACKLOG {
            writer.write(message(busy, ContactId(i as i64), "x"));
        }
        assert!(!writer.admits(busy));
        assert!(writer.admits(calm));
        // Once the database catches up, the tenant is admitted again.
        gate.add_permits(1);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while writer.backlog.of(busy) > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "backlog never drained"
            );
            tokio::task::yield_now().await;
        }
        let stored: usize = (0..TENANT_BACKLOG)
            .map(|i| store.texts(ContactId(i as i64)).len())
            .sum();
        assert_eq!(stored, TENANT_BACKLOG);
        assert!(writer.admits(busy));
    }
}
