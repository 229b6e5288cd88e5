//! The callback attempts' port to storage, beside the desk's other ports
//! (`storage.rs`): written beside the desk (a spawned task), never on its
//! path, and read once per callback when a restart rebuilds the line.

use crate::{
    desk::storage::StoreFuture,
    ids::{ContactId, TenantId},
    store::{AttemptResult, Store},
};

pub(crate) trait CallbackAttempts: Send + Sync {
    fn callback_attempt_started(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        started_at: i64,
    ) -> StoreFuture<'_, ()>;
    fn callback_attempt_ended(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        result: AttemptResult,
        sip_code: Option<u16>,
        ended_at: i64,
    ) -> StoreFuture<'_, ()>;
    fn callback_attempts_made(&self, tenant: TenantId, contact: ContactId) -> StoreFuture<'_, u32>;
}

impl CallbackAttempts for Store {
    fn callback_attempt_started(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        started_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(Store::callback_attempt_started(
            self, tenant, contact, attempt, started_at,
        ))
    }
    fn callback_attempt_ended(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        result: AttemptResult,
        sip_code: Option<u16>,
        ended_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(Store::callback_attempt_ended(
            self, tenant, contact, attempt, result, sip_code, ended_at,
        ))
    }
    fn callback_attempts_made(&self, tenant: TenantId, contact: ContactId) -> StoreFuture<'_, u32> {
        Box::pin(Store::callback_attempts_made(self, tenant, contact))
    }
}

/// The desk's unit tests place no calls: attempts are not kept.
#[cfg(test)]
impl CallbackAttempts for crate::desk::memory::MemoryStore {
    fn callback_attempt_started(
        &self,
        _tenant: TenantId,
        _contact: ContactId,
        _attempt: u32,
        _started_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn callback_attempt_ended(
        &self,
        _tenant: TenantId,
        _contact: ContactId,
        _attempt: u32,
        _result: AttemptResult,
        _sip_code: Option<u16>,
        _ended_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn callback_attempts_made(
        &self,
        _tenant: TenantId,
        _contact: ContactId,
    ) -> StoreFuture<'_, u32> {
        Box::pin(async { Ok(0) })
    }
}
