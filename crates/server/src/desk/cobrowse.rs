//! Co-browse from an open contact (docs/cobrowse.md, "From an open
//! contact"): the agent holding a conversation asks the visitor's tabs to
//! share the page; the visitor's answer (a join code, or no) goes back to
//! that agent only. The page itself never passes through the desk: the
//! console joins the co-browse relay with the code like a keyed one.

use super::{DeskState, Phase};
use crate::{
    cobrowse::frames::is_join_code,
    ids::{ContactId, UserId},
    protocol::{ErrorCode, FrameError, ToAgent, ToVisitor},
};

impl DeskState {
    /// `cobrowse_request`: only for a connected contact this agent holds and
    /// whose visitor has a tab open to ask.
    pub(super) fn agent_cobrowse_request(
        &mut self,
        user: UserId,
        contact: i64,
    ) -> Result<(), FrameError> {
        let contact = self.held_by(user, ContactId(contact), Phase::Connected)?;
        if self
            .contacts
            .get(contact)
            .is_none_or(|c| c.visitors.is_empty())
        {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "the visitor has no page open with the widget to share",
            ));
        }
        metrics::counter!("switchboard_cobrowse_requests_total").increment(1);
        self.send_contact_visitors(contact, &ToVisitor::CobrowseRequest);
        Ok(())
    }

    /// `cobrowse_code` (`Some`) or `cobrowse_declined` (`None`) from a
    /// visitor's tab: told to the agent holding the contact, and no one else.
    pub(super) fn visitor_cobrowse_answer(
        &mut self,
        contact: ContactId,
        code: Option<&str>,
    ) -> Result<(), FrameError> {
        if code.is_some_and(|c| !is_join_code(c)) {
            return Err(FrameError::new(
                ErrorCode::Invalid,
                "a co-browse join code is six digits",
            ));
        }
        // A call a center's desk phone answered: nobody in a console holds
        // it, so the agent there joins by the code read out; the hub binds
        // the session to this call so its record and the desk phone's push
        // codes reach it.
        let on_desk_phone = self
            .contacts
            .call(contact)
            .and_then(|c| c.phone.as_ref())
            .is_some_and(|p| p.answered);
        let live = self.contacts.get(contact);
        if on_desk_phone && let Some(c) = live.filter(|c| c.agent.is_none()) {
            if let Some(code) = code {
                let _ = self.phone.shares.send(super::CobrowseShare {
                    tenant: c.tenant,
                    contact,
                    code: code.to_owned(),
                });
            }
            return Ok(());
        }
        let Some(agent) =
            live.and_then(|c| (c.phase == Phase::Connected).then_some(c.agent).flatten())
        else {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "no agent holds this conversation",
            ));
        };
        let frame = match code {
            Some(code) => ToAgent::CobrowseCode {
                contact: contact.0,
                code: code.to_owned(),
            },
            None => ToAgent::CobrowseDeclined { contact: contact.0 },
        };
        self.send_agent(agent, &frame);
        Ok(())
    }
}
