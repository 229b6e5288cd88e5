//! The contact a join by code alone opens (issue 15 item 7): an agent with
//! no contact open keys the code a visitor reads out on the phone, and once
//! the visitor confirms, the session's actions need a record to be listed
//! under. The contact is stored already held by that agent (media
//! `cobrowse`, on the tenant's first link, as nothing says which link the
//! visitor came by) and closed when the agent's part of the session ends.
//! It never passes through routing: the agent chose it by keying the code.

use crate::{
    ids::{ContactId, TenantId, UserId},
    store::{ContactMedia, ContactWrite, NewContact, Outcome, Store, StoreError, TimedWrite},
};

/// Stores a new contact held by `agent`, and returns its id.
pub(super) async fn open(
    store: &Store,
    tenant: TenantId,
    agent: UserId,
    page_origin: &str,
) -> Result<ContactId, StoreError> {
    let link = store
        .links(tenant)
        .await?
        .first()
        .map(|l| l.id)
        .ok_or_else(|| StoreError::Corrupt("a tenant without links".to_owned()))?;
    let ids = store.reserve_contact_ids(1).await?;
    let id = ContactId(ids.start);
    let new = NewContact {
        page_url: page_origin.to_owned(),
        ..NewContact::unknown(tenant, link, ContactMedia::Cobrowse)
    };
    // Created and taken in one transaction: never a contact nobody holds.
    store
        .write_contacts(&[
            TimedWrite::now(ContactWrite::Create { id, new }),
            TimedWrite::now(ContactWrite::Answered {
                tenant,
                contact: id,
                agent,
            }),
        ])
        .await?;
    metrics::counter!("switchboard_cobrowse_contacts_opened_total").increment(1);
    Ok(id)
}

/// Closes a contact [`open`] made, off the relay's path.
pub(super) fn close(store: &Store, tenant: TenantId, contact: ContactId) {
    let store = store.clone();
    tokio::spawn(async move {
        let ended = ContactWrite::Ended {
            tenant,
            contact,
            outcome: Outcome::Answered,
            awaiting_wrapup: false,
        };
        if let Err(e) = store.write_contact(&TimedWrite::now(ended)).await {
            tracing::warn!(error = %e, contact = contact.0, "co-browse contact not closed");
        }
    });
}
