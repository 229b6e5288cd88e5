//! Push codes keyed on the phone (issue 15 item 8): a tenant's code such as
//! `*76`, keyed on the phone side of a contact's call, opens its page in the
//! visitor's shared session of that contact, and the contact's record lists
//! it as a push. The desk hears the digits and says so on a broadcast
//! ([`crate::desk::Desk::page_pushes`]); the desk does not hold the hub.
//!
//! The page is the tenant's own configuration (checked http(s) when the
//! tenant file is read), so it is not held to the page's site as an agent's
//! push is.

use std::sync::{Arc, Mutex, Weak};

use tokio::sync::broadcast;

use super::frames::ToVisitor;
use super::{Hub, Sessions};
use crate::{desk::PagePush, ids::ContactId, ids::TenantId};

impl Hub {
    /// Follows the desk's push codes until the desk or the hub is gone.
    pub fn follow_desk(&self, mut pushes: broadcast::Receiver<PagePush>) {
        let weak: Weak<Mutex<Sessions>> = Arc::downgrade(&self.sessions);
        tokio::spawn(async move {
            loop {
                let push = match pushes.recv().await {
                    Ok(push) => push,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "co-browse missed phone push codes");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(sessions) = weak.upgrade() else {
                    return;
                };
                let sessions = sessions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                phone_push(&sessions, push.tenant, push.contact, &push.url);
            }
        });
    }
}

/// Sends `url` to every shared session of `contact`'s and lists the push
/// in the record; the number of sessions told.
fn phone_push(sessions: &Sessions, tenant: TenantId, contact: ContactId, url: &str) -> usize {
    let mut told = 0;
    for s in sessions.by_id.values() {
        if s.tenant != tenant || s.contact != Some(contact) || !s.sharing {
            continue;
        }
        s.tell_visitor(&ToVisitor::Push {
            url: url.to_owned(),
        });
        s.note_as("phone", None, "push", url.to_owned());
        told += 1;
    }
    if told > 0 {
        metrics::counter!("switchboard_cobrowse_phone_pushes_total").increment(told as u64);
    }
    told
}
