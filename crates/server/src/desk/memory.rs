//! Storage in memory for the desk's unit tests: the tenants are copied once
//! from a real store (where `tenant apply` put them: setup, links, phone
//! settings), and what the desk writes
//! is kept in maps the tests can read back. Nothing here waits on a thread, so
//! tokio's paused clock only moves when every task is idle on a timer.

use std::{
    collections::HashMap,
    ops::Range,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use serde_json::Value;

use super::storage::{ContactWrites, DeskReads, StoreFuture};
use crate::{
    ids::{ContactId, TenantId, UserId},
    store::{
        CallRecord, Customer, Link, Message, NewContact, Outcome, PhoneRecord, PreviousContact,
        RoutingInputs, Sender, StatEvent, Store, StoreError, Tenant, WaitingContact, now_ms,
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
}

#[derive(Default)]
pub(crate) struct MemoryStore {
    data: Mutex<Data>,
    /// New contacts' rows fail to store (a full disk, a lost database).
    refuse_contacts: AtomicBool,
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
        })
    }

    /// From now on (or no longer), a new contact's row fails to store.
    pub(crate) fn refuse_contacts(&self, refuse: bool) {
        self.refuse_contacts.store(refuse, Ordering::Relaxed);
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

    /// The texts stored for a contact, in order.
    pub(crate) fn texts(&self, id: ContactId) -> Vec<String> {
        self.lock()
            .messages
            .iter()
            .filter(|(c, _)| *c == id)
            .map(|(_, m)| m.text.clone())
            .collect()
    }

    fn update(&self, id: ContactId, change: impl FnOnce(&mut ContactRow)) -> StoreFuture<'_, ()> {
        if let Some(row) = self.lock().contacts.get_mut(&id) {
            change(row);
        }
        ready(())
    }
}

impl ContactWrites for MemoryStore {
    fn reserve_contact_ids(&self, count: i64) -> StoreFuture<'_, Range<i64>> {
        let mut data = self.lock();
        let start = data.next_id.max(1);
        data.next_id = start + count;
        ready(start..start + count)
    }
    fn create_contact<'a>(&'a self, id: ContactId, new: &'a NewContact) -> StoreFuture<'a, ()> {
        if self.refuse_contacts.load(Ordering::Relaxed) {
            return Box::pin(std::future::ready(Err(StoreError::Config(
                "refused by the test".to_owned(),
            ))));
        }
        self.lock().contacts.insert(
            id,
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
        ready(())
    }
    fn append_message<'a>(
        &'a self,
        _tenant: TenantId,
        contact: ContactId,
        from: Sender,
        text: &'a str,
    ) -> StoreFuture<'a, Message> {
        let message = Message {
            from,
            text: text.to_owned(),
            at: now_ms(),
        };
        self.lock().messages.push((contact, message.clone()));
        ready(message)
    }
    fn mark_offered(&self, _tenant: TenantId, id: ContactId) -> StoreFuture<'_, ()> {
        self.update(id, |row| {
            row.state = "offered";
            row.offers += 1;
        })
    }
    fn mark_requeued(&self, _tenant: TenantId, id: ContactId) -> StoreFuture<'_, ()> {
        self.update(id, |row| {
            row.state = "queued";
            row.requeues += 1;
        })
    }
    fn mark_answered(
        &self,
        _tenant: TenantId,
        id: ContactId,
        agent: UserId,
    ) -> StoreFuture<'_, ()> {
        self.update(id, |row| {
            row.state = "connected";
            row.agent = Some(agent);
        })
    }
    fn mark_ended(
        &self,
        _tenant: TenantId,
        id: ContactId,
        outcome: Outcome,
        awaiting_wrapup: bool,
    ) -> StoreFuture<'_, ()> {
        self.update(id, |row| {
            row.state = if awaiting_wrapup { "wrapup" } else { "closed" };
            row.outcome = Some(outcome);
        })
    }
    fn set_wrapup<'a>(
        &'a self,
        _tenant: TenantId,
        id: ContactId,
        code: &'a str,
        _note: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        self.update(id, |row| {
            row.state = "closed";
            row.wrapup = Some(code.to_owned());
        })
    }
    fn make_callback<'a>(
        &'a self,
        _tenant: TenantId,
        id: ContactId,
        routing_json: &'a str,
    ) -> StoreFuture<'a, ()> {
        self.update(id, |row| {
            row.new.media = crate::store::ContactMedia::Callback;
            row.new.routing_json = routing_json.to_owned();
        })
    }
    fn update_contact_pages<'a>(
        &'a self,
        _tenant: TenantId,
        id: ContactId,
        pages: &'a Value,
        shared: &'a Value,
    ) -> StoreFuture<'a, ()> {
        self.update(id, |row| {
            row.new.pages_json = pages.to_string();
            row.new.shared_json = shared.to_string();
        })
    }
    fn set_call_record<'a>(
        &'a self,
        _tenant: TenantId,
        contact: ContactId,
        call: &'a CallRecord,
    ) -> StoreFuture<'a, ()> {
        self.update(contact, |row| row.call = Some(call.clone()))
    }
    fn set_phone_record<'a>(
        &'a self,
        _tenant: TenantId,
        _contact: ContactId,
        _record: &'a PhoneRecord,
    ) -> StoreFuture<'a, ()> {
        ready(())
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
