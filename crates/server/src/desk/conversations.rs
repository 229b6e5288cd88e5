//! The live conversations, owned in one place: every contact not yet closed,
//! and the index that finds a visitor's conversation by their resume token.
//! Other parts of the desk ask for a contact (or its call) by id; only this
//! file touches the maps.

use std::collections::HashMap;

use serde_json::Value;
use tokio::time::Instant;

use super::{ConnId, calls::LiveCall};
use crate::{
    ids::{ContactId, TenantId, UserId},
    protocol::PageContext,
    store::{ContactMedia, Link},
};

/// Where a live contact stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Waiting,
    Offered(UserId),
    Connected,
    /// The conversation ended; the agent owes a wrap-up code.
    WrapUp,
}

/// A conversation that has not been closed yet.
pub(super) struct LiveContact {
    pub(super) tenant: TenantId,
    pub(super) link: Link,
    pub(super) resume_hash: String,
    pub(super) visitors: Vec<ConnId>,
    pub(super) agent: Option<UserId>,
    pub(super) agent_name: Option<String>,
    pub(super) phase: Phase,
    pub(super) screenpop: Value,
    pub(super) context: PageContext,
    pub(super) wrapup_codes: Vec<String>,
    /// Set while no visitor connection is attached.
    pub(super) orphaned_since: Option<Instant>,
    /// The visitor was told the chat entered the queue.
    pub(super) queued_sent: bool,
    /// The first message is on its way to the database: the visitor hears
    /// of the queue after its echo.
    pub(super) first_pending: bool,
    /// The number to call, for a callback request (which needs no visitor
    /// connection and is never swept as abandoned).
    pub(super) callback_phone: Option<String>,
    /// The media call of a voice or video contact.
    pub(super) call: Option<Box<LiveCall>>,
    /// What routing knows of the visitor, as stored with the contact (a
    /// transfer or a callback starts from it without reading it back).
    pub(super) routing: crate::routing::ContactRouting,
    /// The messages stored so far, in order: a reconnecting tab or console
    /// and the agent who takes the contact get them without a read.
    pub(super) transcript: Vec<crate::store::Message>,
    /// A wrap-up is on its way to the database: a second one is refused.
    pub(super) wrapping_up: bool,
}

impl LiveContact {
    /// A contact entering the line: no visitor tab attached yet, no agent,
    /// nothing said. Callers set what differs with `..` from this.
    pub(super) fn waiting(
        tenant: TenantId,
        link: Link,
        resume_hash: String,
        screenpop: Value,
        context: PageContext,
        wrapup_codes: Vec<String>,
        routing: crate::routing::ContactRouting,
    ) -> Self {
        Self {
            tenant,
            link,
            resume_hash,
            visitors: Vec::new(),
            agent: None,
            agent_name: None,
            phase: Phase::Waiting,
            screenpop,
            context,
            wrapup_codes,
            orphaned_since: None,
            queued_sent: false,
            first_pending: false,
            callback_phone: None,
            call: None,
            routing,
            transcript: Vec::new(),
            wrapping_up: false,
        }
    }

    /// How the contact reaches the center.
    pub(super) fn media(&self) -> ContactMedia {
        match (&self.call, &self.callback_phone) {
            (Some(call), _) => call.media.into(),
            (None, Some(_)) => ContactMedia::Callback,
            (None, None) => ContactMedia::Chat,
        }
    }
}

#[derive(Default)]
pub(super) struct Conversations {
    live: HashMap<ContactId, LiveContact>,
    /// The newest live contact of each visitor resume token (by its hash), so a
    /// reconnecting visitor is found without scanning every contact.
    by_resume: HashMap<String, ContactId>,
}

impl Conversations {
    pub(super) fn get(&self, id: ContactId) -> Option<&LiveContact> {
        self.live.get(&id)
    }

    pub(super) fn get_mut(&mut self, id: ContactId) -> Option<&mut LiveContact> {
        self.live.get_mut(&id)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&ContactId, &LiveContact)> {
        self.live.iter()
    }

    /// The media call of a voice or video contact.
    pub(super) fn call(&self, id: ContactId) -> Option<&LiveCall> {
        self.live.get(&id)?.call.as_deref()
    }

    pub(super) fn call_mut(&mut self, id: ContactId) -> Option<&mut LiveCall> {
        self.live.get_mut(&id)?.call.as_deref_mut()
    }

    /// The conversation a visitor's resume token last opened, if still live.
    pub(super) fn resumed_by(&self, resume_hash: &str) -> Option<(ContactId, &LiveContact)> {
        let id = *self.by_resume.get(resume_hash)?;
        self.live.get(&id).map(|c| (id, c))
    }

    pub(super) fn insert(&mut self, id: ContactId, contact: LiveContact) {
        self.by_resume.insert(contact.resume_hash.clone(), id);
        self.live.insert(id, contact);
    }

    pub(super) fn remove(&mut self, id: ContactId) -> Option<LiveContact> {
        let contact = self.live.remove(&id)?;
        if self.by_resume.get(&contact.resume_hash) == Some(&id) {
            self.by_resume.remove(&contact.resume_hash);
        }
        Some(contact)
    }
}
