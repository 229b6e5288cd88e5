//! Storage in memory for the desk's unit tests: the tenants are copied once
//! from a real store (where `tenant apply` put them: setup, links, phone
//! settings), and what the desk writes
//! is kept in maps the tests can read back. Nothing here waits on a thread, so
//! tokio's paused clock only moves when every task is idle on a timer.

use std::{
    collections::HashMap,
    ops::Range,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::Semaphore;

use super::storage::{ContactWrites, DeskReads, StoreFuture};
use crate::{
    ids::{ContactId, TenantId, UserId},
    store::{
        CallRecord, ContactWrite, Customer, Link, Message, NewContact, Outcome, PreviousContact,
        RoutingInputs, StatEvent, Store, StoreError, Tenant, TimedWrite, WaitingContact, Written,
    },
};

/// One tenant as the desk reads it.
#[derive(Clone)]
struct TenantCopy {
    tenant: Tenant,
    routing: RoutingInputs,
}

/// A contact's record as the desk's writes left it.
#[derive(Debug, Clone)]
pub(crate) struct ContactRow {
    pub(crate) new: NewContact,
    pub(crate) state: &'static str,
    pub(crate) agent: Option<UserId>,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) wrapup: Option<String>,
    pub(crate) offers: u32,
    pub(crate) requeues: u32,
    /// A call's figures and recording, as last stored.
    pub(crate) call: Option<CallRecord>,
}

#[derive(Default)]
struct Data {
    tenants: Vec<TenantCopy>,
    next_id: i64,
    contacts: HashMap<ContactId, ContactRow>,
    messages: Vec<(ContactId, Message)>,
    stats: Vec<StatEvent>,
    /// How many writes each `write_contacts` call committed together.
    batches: Vec<usize>,
}

#[derive(Default)]
pub(crate) struct MemoryStore {
    data: Mutex<Data>,
    /// New contacts' rows fail to store (a full disk, a lost database).
    refuse_contacts: AtomicBool,
    /// Writes about these contacts (or, under `None`, all writes) wait for a
    /// permit: a database that is slow or stuck for some contacts.
    holds: Mutex<HashMap<Option<ContactId>, Arc<Semaphore>>>,
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl MemoryStore {
    /// Copies every tenant from `store` (their setup, links and phone settings).
    pub(crate) async fn copy_of(store: &Store) -> Result<Self, StoreError> {
        let mut tenants = Vec::new();
        for id in store.tenant_ids().await? {
            let Some(tenant) = store.tenant(id).await? else {
                continue;
            };
            tenants.push(TenantCopy {
                tenant,
                routing: store.routing_inputs(id, None).await?,
            });
        }
        let data = Data {
            tenants,
            next_id: 1,
            ..Data::default()
        };
        Ok(Self {
            data: Mutex::new(data),
            refuse_contacts: AtomicBool::new(false),
            holds: Mutex::default(),
        })
    }

    /// From now on (or no longer), a new contact's row fails to store.
    pub(crate) fn refuse_contacts(&self, refuse: bool) {
        self.refuse_contacts.store(refuse, Ordering::Relaxed);
    }

    /// From now on, writes about `contact` (every write, for `None`) wait
    /// until the returned gate is given a permit.
    pub(crate) fn hold(&self, contact: Option<ContactId>) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        self.holds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(contact, gate.clone());
        gate
    }

    /// Applies `writes` once every gate that holds them opens.
    fn gated<'a, T: Send + 'a>(
        &'a self,
        writes: &[TimedWrite],
        apply: impl FnOnce() -> Result<T, StoreError> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let gates: Vec<Arc<Semaphore>> = {
            let holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
            let mut keys = writes
                .iter()
                .map(|w| Some(w.write.contact()))
                .collect::<Vec<_>>();
            keys.push(None);
            keys.iter().filter_map(|k| holds.get(k).cloned()).collect()
        };
        Box::pin(async move {
            for gate in gates {
                // A permit lets every waiting write through: it is given back.
                let _permit = gate.acquire().await;
            }
            apply()
        })
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tenant_copy(&self, id: TenantId) -> Option<TenantCopy> {
        self.lock()
            .tenants
            .iter()
            .find(|t| t.tenant.id == id)
            .cloned()
    }

    /// A contact's record, as far as the writes have reached.
    pub(crate) fn contact(&self, id: ContactId) -> Option<ContactRow> {
        self.lock().contacts.get(&id).cloned()
    }

    /// Every contact stored so far, in id order.
    pub(crate) fn contact_ids(&self) -> Vec<ContactId> {
        let mut ids: Vec<ContactId> = self.lock().contacts.keys().copied().collect();
        ids.sort_by_key(|c| c.0);
        ids
    }

    /// How many writes each transaction of several committed, in order.
    pub(crate) fn batches(&self) -> Vec<usize> {
        self.lock().batches.clone()
    }

    /// The messages stored for a contact, in order.
    pub(crate) fn messages(&self, id: ContactId) -> Vec<Message> {
        self.lock()
            .messages
            .iter()
            .filter(|(c, _)| *c == id)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// The texts stored for a contact, in order.
    pub(crate) fn texts(&self, id: ContactId) -> Vec<String> {
        self.lock()
            .messages
            .iter()
            .filter(|(c, _)| *c == id)
            .map(|(_, m)| m.text.clone())
            .collect()
    }
}

impl Data {
    /// Applies one change to the maps, as the database would.
    fn apply(&mut self, timed: &TimedWrite) -> Written {
        let data = self;
        let write = &timed.write;
        let contact = write.contact();
        let mut update = |change: &dyn Fn(&mut ContactRow)| {
            if let Some(row) = data.contacts.get_mut(&contact) {
                change(row);
            }
        };
        match write {
            ContactWrite::Create { new, .. } => {
                data.contacts.insert(
                    contact,
                    ContactRow {
                        new: new.clone(),
                        state: "queued",
                        agent: None,
                        outcome: None,
                        wrapup: None,
                        offers: 0,
                        requeues: 0,
                        call: None,
                    },
                );
            }
            ContactWrite::Message { from, text, .. } => {
                let message = Message {
                    from: *from,
                    text: text.clone(),
                    at: timed.at,
                };
                data.messages.push((contact, message.clone()));
                return Written::Message(message);
            }
            ContactWrite::Offered { .. } => update(&|row| {
                row.state = "offered";
                row.offers += 1;
            }),
            ContactWrite::Requeued { .. } => update(&|row| {
                row.state = "queued";
                row.requeues += 1;
            }),
            ContactWrite::Answered { agent, .. } => update(&|row| {
                row.state = "connected";
                row.agent = Some(*agent);
            }),
            ContactWrite::Ended {
                outcome,
                awaiting_wrapup,
                ..
            } => update(&|row| {
                row.state = if *awaiting_wrapup { "wrapup" } else { "closed" };
                row.outcome = Some(*outcome);
            }),
            ContactWrite::WrapUp { code, .. } => update(&|row| {
                row.state = "closed";
                row.wrapup = Some(code.clone());
            }),
            ContactWrite::Callback { routing_json, .. } => update(&|row| {
                row.new.media = crate::store::ContactMedia::Callback;
                row.new.routing_json = routing_json.clone();
            }),
            ContactWrite::Pages { pages, shared, .. } => update(&|row| {
                row.new.pages_json = pages.to_string();
                row.new.shared_json = shared.to_string();
            }),
            ContactWrite::Call { call, .. } => update(&|row| row.call = Some(call.clone())),
            ContactWrite::Phone { .. } => {}
        }
        Written::Done
    }
}

impl MemoryStore {
    /// The refusal a test asked for, if `writes` would store a new contact.
    fn refused(&self, writes: &[TimedWrite]) -> Option<StoreError> {
        let creates = writes
            .iter()
            .any(|w| matches!(w.write, ContactWrite::Create { .. }));
        (creates && self.refuse_contacts.load(Ordering::Relaxed))
            .then(|| StoreError::Config("refused by the test".to_owned()))
    }
}

impl ContactWrites for MemoryStore {
    fn write_lanes(&self) -> usize {
        super::storage::LANES
    }
    fn reserve_contact_ids(&self, count: i64) -> StoreFuture<'_, Range<i64>> {
        let mut data = self.lock();
        let start = data.next_id.max(1);
        data.next_id = start + count;
        ready(start..start + count)
    }
    fn write_contact<'a>(&'a self, write: &'a TimedWrite) -> StoreFuture<'a, Written> {
        self.gated(std::slice::from_ref(write), move || {
            if let Some(e) = self.refused(std::slice::from_ref(write)) {
                return Err(e);
            }
            let mut data = self.lock();
            Ok(data.apply(write))
        })
    }
    fn write_contacts<'a>(&'a self, writes: &'a [TimedWrite]) -> StoreFuture<'a, Vec<Written>> {
        self.gated(writes, move || {
            // All or none, as a transaction: a refusal changes nothing.
            if let Some(e) = self.refused(writes) {
                return Err(e);
            }
            let mut data = self.lock();
            data.batches.push(writes.len());
            Ok(writes.iter().map(|w| data.apply(w)).collect())
        })
    }
    fn insert_stat_events<'a>(&'a self, events: &'a [StatEvent]) -> StoreFuture<'a, ()> {
        self.lock().stats.extend_from_slice(events);
        ready(())
    }
}

impl DeskReads for MemoryStore {
    fn tenant_ids(&self) -> StoreFuture<'_, Vec<TenantId>> {
        ready(self.lock().tenants.iter().map(|t| t.tenant.id).collect())
    }
    fn tenant(&self, id: TenantId) -> StoreFuture<'_, Option<Tenant>> {
        ready(self.tenant_copy(id).map(|t| t.tenant))
    }
    fn routing_inputs(
        &self,
        tenant: TenantId,
        only: Option<UserId>,
    ) -> StoreFuture<'_, RoutingInputs> {
        let Some(copy) = self.tenant_copy(tenant) else {
            return Box::pin(std::future::ready(Err(StoreError::Config(format!(
                "no tenant {}",
                tenant.0
            )))));
        };
        let mut routing = copy.routing;
        if let Some(user) = only {
            routing.agents.retain(|a| a.agent.0 == user.0);
        }
        ready(routing)
    }
    fn links(&self, tenant: TenantId) -> StoreFuture<'_, Vec<Link>> {
        ready(
            self.tenant_copy(tenant)
                .map(|t| t.routing.links)
                .unwrap_or_default(),
        )
    }
    fn waiting_contacts(&self) -> StoreFuture<'_, Vec<WaitingContact>> {
        // The tests start from an empty center; rebuilding is tested against
        // the real stores (crates/server/tests).
        ready(Vec::new())
    }
    fn transcript(&self, _tenant: TenantId, contact: ContactId) -> StoreFuture<'_, Vec<Message>> {
        ready(
            self.lock()
                .messages
                .iter()
                .filter(|(c, _)| *c == contact)
                .map(|(_, m)| m.clone())
                .collect(),
        )
    }
    fn customer_ref_by_phone<'a>(
        &'a self,
        _tenant: TenantId,
        _number: &'a str,
    ) -> StoreFuture<'a, Option<String>> {
        ready(None)
    }
    fn customer<'a>(
        &'a self,
        _tenant: TenantId,
        _external_id: &'a str,
    ) -> StoreFuture<'a, Option<Customer>> {
        ready(None)
    }
    fn previous_contacts<'a>(
        &'a self,
        _tenant: TenantId,
        _customer_ref: &'a str,
        _before: ContactId,
        _limit: i64,
    ) -> StoreFuture<'a, Vec<PreviousContact>> {
        ready(Vec::new())
    }
    fn last_agent_for<'a>(
        &'a self,
        _tenant: TenantId,
        _customer_ref: &'a str,
    ) -> StoreFuture<'a, Option<UserId>> {
        ready(None)
    }
}
