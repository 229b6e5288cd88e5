//! The co-browse actions listed in the contact's record: an actor task that
//! owns the writes, so the relay (which holds its lock while it decides)
//! never waits for the database. Bounded; when the database falls that far
//! behind, actions are dropped and counted rather than held.

use tokio::sync::mpsc;

use crate::store::{NewCobrowseEvent, Store};

/// Actions waiting to be stored.
const QUEUE: usize = 4096;
/// Actions stored in one transaction.
const BATCH: usize = 64;

/// A handle to the writer task; cloned into every session.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<NewCobrowseEvent>,
    /// For the contacts a join by code opens and closes.
    pub(super) store: Store,
}

impl Recorder {
    /// Starts the writer; it stops when the last handle is dropped.
    pub fn start(store: Store) -> Self {
        let (tx, mut rx) = mpsc::channel::<NewCobrowseEvent>(QUEUE);
        let writer = store.clone();
        tokio::spawn(async move {
            let store = writer;
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = store.record_cobrowse_events(&batch).await {
                    metrics::counter!("switchboard_cobrowse_record_failed_total")
                        .increment(batch.len() as u64);
                    tracing::warn!(error = %e, "co-browse actions not stored");
                }
                batch.clear();
            }
        });
        Self { tx, store }
    }

    /// Queues an action; never waits.
    pub fn note(&self, event: NewCobrowseEvent) {
        if self.tx.try_send(event).is_err() {
            metrics::counter!("switchboard_cobrowse_record_dropped_total").increment(1);
        }
    }
}
