//! Push codes keyed on the phone (issue 15 item 8): a tenant's code such as
//! `*76`, keyed on the phone side of a contact's call, opens its page in the
//! visitor's shared session of that contact, and the contact's record lists
//! it as a push. The desk hears the digits and says so on a broadcast
//! ([`crate::desk::Desk::page_pushes`]); the desk does not hold the hub.
//!
//! A caller on a call a center's desk phone answered has no contact in a
//! console: the agent there joins by the code read out. The widget tells
//! the desk the code of the page it shares (`cobrowse_code` on the call's
//! socket); the desk says so ([`crate::desk::Desk::cobrowse_shares`]) and
//! the session is bound to the call's contact here, so the join by code
//! opens no new contact and the desk phone's push codes reach it.
//!
//! The page is the tenant's own configuration (checked http(s) when the
//! tenant file is read), so it is not held to the page's site as an agent's
//! push is.

use std::sync::{Arc, Mutex, Weak};

use tokio::sync::broadcast;

use super::frames::ToVisitor;
use super::{Hub, Sessions};
use crate::{
    desk::{CobrowseShare, PagePush},
    ids::{ContactId, TenantId},
};

impl Hub {
    /// Follows the desk's push codes until the desk or the hub is gone.
    pub fn follow_desk(&self, pushes: broadcast::Receiver<PagePush>) {
        self.follow(pushes, "phone push codes", |sessions, push| {
            phone_push(sessions, push.tenant, push.contact, &push.url);
        });
    }

    /// Follows pages shared on desk-phone calls until the desk or the hub
    /// is gone.
    pub fn follow_shares(&self, shares: broadcast::Receiver<CobrowseShare>) {
        self.follow(shares, "shared pages", |sessions, share| {
            bind_to_call(sessions, &share);
        });
    }

    /// Applies what the desk says to the sessions, off the desk's loop.
    fn follow<T: Clone + Send + 'static>(
        &self,
        mut said: broadcast::Receiver<T>,
        what: &'static str,
        apply: impl Fn(&mut Sessions, T) + Send + 'static,
    ) {
        let weak: Weak<Mutex<Sessions>> = Arc::downgrade(&self.sessions);
        tokio::spawn(async move {
            loop {
                let item = match said.recv().await {
                    Ok(item) => item,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "co-browse missed {what}");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(sessions) = weak.upgrade() else {
                    return;
                };
                let mut sessions = sessions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                apply(&mut sessions, item);
            }
        });
    }
}

/// The session still waiting on `share.code` in its tenant, not yet joined
/// nor bound, becomes the call's; whether one did.
fn bind_to_call(sessions: &mut Sessions, share: &CobrowseShare) -> bool {
    let Some(id) = sessions
        .codes
        .get(&(share.tenant, share.code.clone()))
        .cloned()
    else {
        return false;
    };
    let Some(s) = sessions.by_id.get_mut(&id) else {
        return false;
    };
    if s.tenant != share.tenant || s.contact.is_some() || s.agent.is_some() {
        return false;
    }
    s.contact = Some(share.contact);
    metrics::counter!("switchboard_cobrowse_call_shares_total").increment(1);
    true
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
