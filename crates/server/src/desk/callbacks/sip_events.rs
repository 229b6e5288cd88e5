//! What the SIP user agent reports about a callback's call: ringing and
//! early media (bridged to the agent, who hears them), the answer, a final
//! failure, the phone hanging up.

use super::Dialled;
use crate::{desk::DeskState, ids::ContactId, protocol::CallState, store::AttemptResult};

impl DeskState {
    /// Takes the event if it is about a callback's call; else gives it back
    /// for the other calls (`phone.rs`).
    pub(in crate::desk) async fn callback_sip_event(
        &mut self,
        event: sip::SipEvent,
    ) -> Option<sip::SipEvent> {
        use sip::SipEvent as E;
        let call = match &event {
            E::Progress { call, .. }
            | E::Answered { call, .. }
            | E::Failed { call, .. }
            | E::Ended { call, .. } => *call,
            _ => return Some(event),
        };
        let Some(&contact) = self.dialer.by_sip.get(&call) else {
            return Some(event);
        };
        match event {
            E::Progress { code, media, .. } => {
                if let Some(d) = self.dialled_mut(contact) {
                    d.progressed = true;
                    d.provisional = Some(code);
                }
                if let Some(media) = media {
                    self.callback_peer(contact, &media).await;
                }
            }
            E::Answered {
                sip_call_id, media, ..
            } => {
                self.callback_peer(contact, &media).await;
                if let Some(d) = self.dialled_mut(contact) {
                    d.answered = Some(tokio::time::Instant::now());
                }
                if let Some(p) = self
                    .contacts
                    .call_mut(contact)
                    .and_then(|c| c.phone.as_mut())
                {
                    p.answered = true;
                    p.record.sip_code = Some(200);
                    p.record.sip_call_id = Some(sip_call_id);
                    p.record.answered_at = Some(crate::desk::now().0);
                }
                self.set_call_state(contact, CallState::Connecting);
                // The agent hears the phone at once; the core assigns the
                // contact once call progress detection has had its say
                // (`progress.rs`, or the sweep after the verdict wait).
                self.detect_answered(contact).await;
                self.call_progress(contact);
            }
            E::Failed { code, .. } => {
                let progressed = self.dialled_mut(contact).is_some_and(|d| d.progressed);
                if let Some(p) = self
                    .contacts
                    .call_mut(contact)
                    .and_then(|c| c.phone.as_mut())
                {
                    p.record.sip_code = Some(code);
                    // Over in SIP already: nothing to hang up.
                    p.sip = None;
                }
                let result = match AttemptResult::from_sip(code) {
                    // No provisional answer at all, then a timeout: the
                    // trunk said nothing, which is not the phone ringing.
                    AttemptResult::NoAnswer if !progressed && code == 408 => {
                        AttemptResult::Unavailable
                    }
                    r => r,
                };
                self.callback_attempt_over(contact, result, Some(code));
            }
            E::Ended { by_remote, .. } => {
                self.dialer.by_sip.remove(&call);
                if let Some(p) = self
                    .contacts
                    .call_mut(contact)
                    .and_then(|c| c.phone.as_mut())
                {
                    p.sip = None;
                }
                if by_remote {
                    self.end_contact(contact, crate::store::Sender::Visitor);
                }
            }
            _ => {}
        }
        None
    }

    fn dialled_mut(&mut self, contact: ContactId) -> Option<&mut Dialled> {
        self.dialer
            .attempts
            .get_mut(&contact)
            .and_then(|a| a.dialled.as_mut())
    }

    async fn callback_peer(&mut self, contact: ContactId, media: &sip::RemoteMedia) {
        let Some(call) = self.contacts.call(contact) else {
            return;
        };
        let Some(phone) = call.phone.as_ref() else {
            return;
        };
        if let Err(e) = call
            .handle
            .set_rtp_peer(phone.leg, crate::desk::phone_leg::rtp_peer(media))
            .await
        {
            tracing::warn!(contact = contact.0, error = %e, "setting a callback's phone media failed");
        }
    }
}
