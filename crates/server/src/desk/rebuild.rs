//! After a restart: contacts that were waiting go back into the routing core at
//! their old place (their original arrival time), and wait for their visitor to
//! reconnect within the grace time like any dropped visitor.

use tokio::time::Instant;

use super::{DeskState, LiveContact, screenpop};
use crate::{
    protocol::PageContext,
    routing::ContactRouting,
    store::{ContactWrite, Outcome, StoreError, TimedWrite, WaitingContact},
};

impl DeskState {
    pub(super) async fn rebuild_waiting(&mut self) -> Result<(), StoreError> {
        let waiting = self.store.waiting_contacts().await?;
        let count = waiting.len();
        for w in waiting {
            if let Err(e) = self.rebuild_one(&w).await {
                tracing::error!(contact = w.id.0, error = %e, "a waiting contact could not be rebuilt; closing it");
                self.store
                    .write_contact(&TimedWrite::now(closed(&w)))
                    .await?;
            }
        }
        if count > 0 {
            tracing::info!(count, "waiting contacts routed again after restart");
        }
        Ok(())
    }

    async fn rebuild_one(&mut self, w: &WaitingContact) -> Result<(), StoreError> {
        let (Some(tenant), Some(link)) = (
            self.store.tenant(w.tenant).await?,
            self.store
                .links(w.tenant)
                .await?
                .into_iter()
                .find(|l| l.id == w.link),
        ) else {
            return self
                .store
                .write_contact(&TimedWrite::now(closed(w)))
                .await
                .map(drop);
        };
        let identity: screenpop::Identity =
            serde_json::from_str(&w.identity_json).unwrap_or_default();
        let context = PageContext {
            url: w.page_url.clone(),
            title: w.page_title.clone(),
            referrer: w.referrer.clone(),
            pages: serde_json::from_str(&w.pages_json).unwrap_or_default(),
            language: w.language.clone(),
            timezone: w.timezone.clone(),
            shared: serde_json::from_str(&w.shared_json).unwrap_or_default(),
        };
        let profile = screenpop::Profile::load(&*self.store, tenant.id, &identity, w.id).await?;
        let screenpop = screenpop::build(&link, w.id, &identity, &context, profile.as_ref());
        let routing: ContactRouting = serde_json::from_str(&w.routing_json).unwrap_or_default();
        let transcript = self.store.transcript(tenant.id, w.id).await?;
        let queue = link.queue;
        let mut spec = routing.spec(w.id, queue, acd::Time(w.queued_at));
        if routing.callback.is_some() {
            // The attempts go on where they were, at the time they were
            // due, with the same give-up time (`callbacks/`).
            spec.callback = Some(link.calls.callback.plan());
            let resume = self.store.callback_resume(tenant.id, w.id).await?;
            spec.attempts_made = resume.attempts_made;
            spec.retry_at = resume.retry_at.map(acd::Time);
            self.callback_resumed(w.id, resume.give_up_at);
        }
        self.insert_contact(
            w.id,
            LiveContact {
                // Nobody is connected yet: the visitor has the grace time to
                // come back, as after any dropped connection. A callback needs
                // no visitor.
                orphaned_since: routing.callback.is_none().then(Instant::now),
                queued_sent: true,
                callback_phone: routing.callback.as_ref().map(|c| c.phone.clone()),
                transcript,
                ..LiveContact::waiting(
                    tenant.id,
                    link,
                    w.resume_hash.clone(),
                    screenpop,
                    context,
                    tenant.wrapup_codes.clone(),
                    routing.clone(),
                )
            },
        );
        self.acd
            .handle_input(super::now(), acd::Input::ContactArrived(Box::new(spec)));
        Ok(())
    }
}

/// A waiting contact that cannot be routed again is closed.
fn closed(w: &WaitingContact) -> ContactWrite {
    ContactWrite::Ended {
        tenant: w.tenant,
        contact: w.id,
        outcome: Outcome::Closed,
        awaiting_wrapup: false,
    }
}
