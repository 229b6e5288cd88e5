//! Call progress detection on a callback's call (`media::cpd`): a fax, an
//! announcement or an answering machine answering is handled by the link's
//! policy (`on_fax`, `on_machine`: retry, give up, or connect the agent
//! anyway, who may leave a message); a person is connected at once.

use media::cpd::{Progress, Stage};

use crate::{
    desk::DeskState,
    ids::ContactId,
    store::{AttemptResult, MachinePolicy},
};

impl DeskState {
    /// The phone answered: detection moves on to the greeting.
    pub(in crate::desk) async fn detect_answered(&mut self, contact: ContactId) {
        let Some(call) = self.contacts.call(contact) else {
            return;
        };
        let Some(leg) = call.phone.as_ref().map(|p| p.leg) else {
            return;
        };
        if let Err(e) = call.handle.detect_progress(leg, Stage::Answered).await {
            tracing::debug!(contact = contact.0, error = %e, "call progress detection is not running");
        }
    }

    /// What detection heard on a callback's phone leg.
    pub(in crate::desk) fn callback_progress(&mut self, contact: ContactId, heard: Progress) {
        let Some(attempt) = self.dialer.attempts.get(&contact) else {
            return;
        };
        let answered = attempt
            .dialled
            .as_ref()
            .is_some_and(|d| d.answered.is_some());
        let settings = attempt.settings;
        metrics::counter!("switchboard_callback_progress_total", "heard" => heard_name(heard))
            .increment(1);
        let (result, policy) = match heard {
            Progress::Person if answered => (AttemptResult::Answered, MachinePolicy::Connect),
            // Before the answer only tones decide anything.
            Progress::Person => return,
            Progress::Fax(_) => (AttemptResult::Fax, settings.on_fax),
            Progress::Machine => (AttemptResult::Machine, settings.on_machine),
            // The announcement's tones say why: the number itself (given up
            // like a 404) or the network in the way (retried like a 503).
            Progress::SpecialInfo(sit) if sit.number_invalid() => {
                (AttemptResult::InvalidNumber, MachinePolicy::GiveUp)
            }
            Progress::SpecialInfo(_) => (AttemptResult::Unavailable, MachinePolicy::Retry),
        };
        if policy == MachinePolicy::Connect {
            if answered {
                self.callback_attempt_over(contact, AttemptResult::Answered, Some(200));
            }
            // Early media: the answer (or the ring timeout) decides.
            return;
        }
        // Hung up by `finish_call` (the SIP dialog is still ours). Heard on
        // early media, the code is the provisional response that carried it.
        let provisional = attempt.dialled.as_ref().and_then(|d| d.provisional);
        let code = self
            .contacts
            .call(contact)
            .and_then(|c| c.phone.as_ref())
            .and_then(|p| p.record.sip_code)
            .or(provisional);
        self.callback_attempt_over(contact, result, code);
    }
}

fn heard_name(heard: Progress) -> &'static str {
    match heard {
        Progress::Fax(_) => "fax",
        Progress::SpecialInfo(_) => "announcement",
        Progress::Machine => "machine",
        Progress::Person => "person",
    }
}
