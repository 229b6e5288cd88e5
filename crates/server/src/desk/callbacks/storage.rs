//! The callback attempts' port to storage ([`CallbackAttempts`], declared
//! with the desk's other ports in `storage.rs`), implemented for the store:
//! written beside the desk (a spawned task), never on its path, and read once
//! per callback when a restart rebuilds the line.

use crate::{
    desk::storage::{CallbackAttempts, StoreFuture},
    ids::{ContactId, TenantId},
    store::{AttemptEnd, CallbackResume, Store},
    webhooks::EventKind,
};

impl CallbackAttempts for Store {
    fn callback_attempt_started(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        started_at: i64,
        give_up_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(Store::callback_attempt_started(
            self, tenant, contact, attempt, started_at, give_up_at,
        ))
    }
    fn callback_attempt_ended(
        &self,
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        end: AttemptEnd,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            Store::callback_attempt_ended(self, tenant, contact, attempt, end).await?;
            // The tenant's systems hear of each finished attempt; a failure to
            // queue the event leaves the stored attempt as it is.
            let data = serde_json::json!({
                "contact": { "id": contact.0 },
                "attempt": attempt,
                "result": end.result.name(),
                "sip_code": end.sip_code,
                "ended_at": end.ended_at,
                "retry_at": end.retry_at,
            });
            if let Err(e) = crate::webhooks::emit(
                self,
                tenant,
                Some(contact),
                EventKind::CallbackAttempted,
                data,
            )
            .await
            {
                tracing::warn!(error = %e, "callback attempt event not queued for webhooks");
            }
            Ok(())
        })
    }
    fn callback_resume(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> StoreFuture<'_, CallbackResume> {
        Box::pin(Store::callback_resume(self, tenant, contact))
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
        _give_up_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn callback_attempt_ended(
        &self,
        _tenant: TenantId,
        _contact: ContactId,
        _attempt: u32,
        _end: AttemptEnd,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn callback_resume(
        &self,
        _tenant: TenantId,
        _contact: ContactId,
    ) -> StoreFuture<'_, CallbackResume> {
        Box::pin(async { Ok(CallbackResume::default()) })
    }
}

/// One change to a stored attempt.
pub(super) enum AttemptWrite {
    Started {
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        at: i64,
        give_up_at: i64,
    },
    Ended {
        tenant: TenantId,
        contact: ContactId,
        attempt: u32,
        end: AttemptEnd,
    },
}

/// How many attempt writes may wait for the database; beyond it they are
/// dropped and counted (a stalled database must not stall the desk).
const BACKLOG: usize = 1024;

/// Attempt writes in the order they were made (an attempt's end never
/// overtakes its start), by one task beside the desk.
pub(super) struct AttemptWriter {
    tx: tokio::sync::mpsc::Sender<AttemptWrite>,
}

impl AttemptWriter {
    pub(super) fn start(store: std::sync::Arc<dyn CallbackAttempts>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<AttemptWrite>(BACKLOG);
        tokio::spawn(async move {
            while let Some(write) = rx.recv().await {
                let stored = match write {
                    AttemptWrite::Started {
                        tenant,
                        contact,
                        attempt,
                        at,
                        give_up_at,
                    } => {
                        store
                            .callback_attempt_started(tenant, contact, attempt, at, give_up_at)
                            .await
                    }
                    AttemptWrite::Ended {
                        tenant,
                        contact,
                        attempt,
                        end,
                    } => {
                        store
                            .callback_attempt_ended(tenant, contact, attempt, end)
                            .await
                    }
                };
                if let Err(e) = stored {
                    tracing::error!(error = %e, "storing a callback attempt failed");
                }
            }
        });
        Self { tx }
    }

    pub(super) fn write(&self, write: AttemptWrite) {
        if self.tx.try_send(write).is_err() {
            metrics::counter!("switchboard_callback_attempt_writes_dropped_total").increment(1);
            tracing::warn!("callback attempt writer is behind; an attempt was not stored");
        }
    }
}
