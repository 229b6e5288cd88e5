//! What the desk asks of storage, as two narrow capabilities: the writes its
//! writer makes about contacts, and the few reads it still makes itself. The
//! `Store` (SQLite or PostgreSQL) provides both; the desk's unit tests use an
//! in-memory one (`memory.rs`) so they can run on tokio's paused clock, where a
//! database's own threads would let time jump ahead while a query runs.

use std::{future::Future, ops::Range, pin::Pin};

use crate::{
    ids::{ContactId, TenantId, UserId},
    store::{
        AttemptEnd, Backend, CallbackResume, Customer, Link, Message, PreviousContact,
        RoutingInputs, StatEvent, Store, StoreError, Tenant, TimedWrite, WaitingContact, Written,
    },
};

/// How many lanes writes are spread over when the database commits several
/// transactions side by side (PostgreSQL). SQLite commits one at a time, so
/// it gets one lane: there, one stuck write holds up every other anyway, and
/// one lane lets a commit carry what every contact has waiting (group commit)
/// instead of each lane queueing for the one connection with a commit of its
/// own (the writer, `writer.rs`; docs/benchmarks.md, "Desk").
pub(crate) const LANES: usize = 64;

pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What the desk writes about contacts (through `writer.rs`, never awaited
/// inside the desk's loop), and the stat events of its routing.
pub(crate) trait ContactWrites: Send + Sync {
    /// How many lanes the writer spreads writes over: how many transactions
    /// the database usefully commits side by side.
    fn write_lanes(&self) -> usize;
    /// The next `count` contact ids for this process to hand out.
    fn reserve_contact_ids(&self, count: i64) -> StoreFuture<'_, Range<i64>>;
    /// Commits one change on its own.
    fn write_contact<'a>(&'a self, write: &'a TimedWrite) -> StoreFuture<'a, Written>;
    /// Commits `writes` in order, all or none; results in the same order.
    fn write_contacts<'a>(&'a self, writes: &'a [TimedWrite]) -> StoreFuture<'a, Vec<Written>>;
    fn insert_stat_events<'a>(&'a self, events: &'a [StatEvent]) -> StoreFuture<'a, ()>;
}

/// What the desk reads: at start-up and rebuild, when a console connects, when
/// a trunk call comes in; and a verified visitor's profile (read by their
/// connection, or at rebuild).
pub(crate) trait DeskReads: Send + Sync {
    fn tenant_ids(&self) -> StoreFuture<'_, Vec<TenantId>>;
    fn tenant(&self, id: TenantId) -> StoreFuture<'_, Option<Tenant>>;
    fn routing_inputs(
        &self,
        tenant: TenantId,
        only: Option<UserId>,
    ) -> StoreFuture<'_, RoutingInputs>;
    fn links(&self, tenant: TenantId) -> StoreFuture<'_, Vec<Link>>;
    fn waiting_contacts(&self) -> StoreFuture<'_, Vec<WaitingContact>>;
    fn transcript(&self, tenant: TenantId, contact: ContactId) -> StoreFuture<'_, Vec<Message>>;
    fn customer_ref_by_phone<'a>(
        &'a self,
        tenant: TenantId,
        number: &'a str,
    ) -> StoreFuture<'a, Option<String>>;
    fn customer<'a>(
        &'a self,
        tenant: TenantId,
        external_id: &'a str,
    ) -> StoreFuture<'a, Option<Customer>>;
    fn previous_contacts<'a>(
        &'a self,
        tenant: TenantId,
        customer_ref: &'a str,
        before: ContactId,
        limit: i64,
    ) -> StoreFuture<'a, Vec<PreviousContact>>;
    fn last_agent_for<'a>(
        &'a self,
        tenant: TenantId,
        customer_ref: &'a str,
    ) -> StoreFuture<'a, Option<UserId>>;
}

/// What the desk stores of the attempts it makes to call a callback back
/// (implemented in `callbacks/storage.rs`).
pub(crate) trait CallbackAttempts: Send + Sync {
    fn callback_attempt_started(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        started_at: i64,
        give_up_at: i64,
    ) -> StoreFuture<'_, ()>;
    fn callback_attempt_ended(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        end: AttemptEnd,
    ) -> StoreFuture<'_, ()>;
    fn callback_resume(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> StoreFuture<'_, CallbackResume>;
}

/// All three: what the desk is given.
pub(crate) trait DeskStorage: ContactWrites + DeskReads + CallbackAttempts {}

impl<T: ContactWrites + DeskReads + CallbackAttempts> DeskStorage for T {}

impl ContactWrites for Store {
    fn write_lanes(&self) -> usize {
        match self.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => LANES,
        }
    }
    fn reserve_contact_ids(&self, count: i64) -> StoreFuture<'_, Range<i64>> {
        Box::pin(Store::reserve_contact_ids(self, count))
    }
    fn write_contact<'a>(&'a self, write: &'a TimedWrite) -> StoreFuture<'a, Written> {
        Box::pin(Store::write_contact(self, write))
    }
    fn write_contacts<'a>(&'a self, writes: &'a [TimedWrite]) -> StoreFuture<'a, Vec<Written>> {
        Box::pin(Store::write_contacts(self, writes))
    }
    fn insert_stat_events<'a>(&'a self, events: &'a [StatEvent]) -> StoreFuture<'a, ()> {
        Box::pin(Store::insert_stat_events(self, events))
    }
}

impl DeskReads for Store {
    fn tenant_ids(&self) -> StoreFuture<'_, Vec<TenantId>> {
        Box::pin(Store::tenant_ids(self))
    }
    fn tenant(&self, id: TenantId) -> StoreFuture<'_, Option<Tenant>> {
        Box::pin(Store::tenant(self, id))
    }
    fn routing_inputs(
        &self,
        tenant: TenantId,
        only: Option<UserId>,
    ) -> StoreFuture<'_, RoutingInputs> {
        Box::pin(Store::routing_inputs(self, tenant, only))
    }
    fn links(&self, tenant: TenantId) -> StoreFuture<'_, Vec<Link>> {
        Box::pin(Store::links(self, tenant))
    }
    fn waiting_contacts(&self) -> StoreFuture<'_, Vec<WaitingContact>> {
        Box::pin(Store::waiting_contacts(self))
    }
    fn transcript(&self, tenant: TenantId, contact: ContactId) -> StoreFuture<'_, Vec<Message>> {
        Box::pin(Store::transcript(self, tenant, contact))
    }
    fn customer_ref_by_phone<'a>(
        &'a self,
        tenant: TenantId,
        number: &'a str,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(Store::customer_ref_by_phone(self, tenant, number))
    }
    fn customer<'a>(
        &'a self,
        tenant: TenantId,
        external_id: &'a str,
    ) -> StoreFuture<'a, Option<Customer>> {
        Box::pin(Store::customer(self, tenant, external_id))
    }
    fn previous_contacts<'a>(
        &'a self,
        tenant: TenantId,
        customer_ref: &'a str,
        before: ContactId,
        limit: i64,
    ) -> StoreFuture<'a, Vec<PreviousContact>> {
        Box::pin(Store::previous_contacts(
            self,
            tenant,
            customer_ref,
            before,
            limit,
        ))
    }
    fn last_agent_for<'a>(
        &'a self,
        tenant: TenantId,
        customer_ref: &'a str,
    ) -> StoreFuture<'a, Option<UserId>> {
        Box::pin(Store::last_agent_for(self, tenant, customer_ref))
    }
}
