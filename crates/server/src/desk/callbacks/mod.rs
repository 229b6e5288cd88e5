//! Callbacks the server dials (documents 001, Figs 4-5, and 004 claims
//! 20-33: the agent is reserved first, then the customer is called).
//!
//! At a callback's turn the routing core reserves an agent and says
//! `DialCallback`; the agent's console shows the screen pop. With the link's
//! `callback_dial = "on_accept"` (the default) the server dials when the
//! agent accepts, with `"auto"` at once. An attempt is one media call: an RTP
//! leg towards the visitor's phone through the tenant's trunk, bridged to the
//! agent's browser leg (which the console adds with `call_sdp` as for any
//! call), so the agent hears the phone's ringing and early media.
//!
//! How the attempt ends decides what the core hears: answered is
//! `CallbackConnected` (the agent holds the contact, like an accepted call);
//! busy, no answer and unavailable are `CallbackFailed`, which puts the
//! callback back at its place after the link's delay until its attempts run
//! out; rejected, an invalid number, or the link's give-up time passed end
//! the callback (`ContactLeft`, recorded as `callback_failed`). Every attempt
//! is stored (`store::callbacks`) as it starts and when it ends, so a restart
//! continues the count.
//!
//! Neither a trunk that stays silent nor an agent who never accepts holds the
//! agent beyond the link's ring timeout: the sweep on the desk's tick ends
//! such attempts.

mod progress;
pub(super) mod schedule;
mod sip_events;
mod storage;
pub(super) mod take;

use storage::{AttemptWrite, AttemptWriter};

use std::collections::HashMap;

use tokio::time::{Duration, Instant};

use media::LegRole;

use super::{DeskState, Phase, callback_guard, calls::LiveCall, now, phone_leg::PhoneLeg};
use crate::{
    ids::{ContactId, TenantId, UserId},
    phone::codes::Keyed,
    protocol::{CallState, ToAgent},
    store::{
        AttemptEnd, AttemptResult, CallMedia, CallbackDial, CallbackSettings, ContactWrite,
        MachinePolicy, Outcome, PhoneDirection, PhoneRecord,
    },
};

/// One attempt to reach a callback's visitor.
struct Attempt {
    tenant: TenantId,
    agent: UserId,
    /// Counts from 1 (the core's count, which a restart continues).
    number: u32,
    settings: CallbackSettings,
    /// When the agent was reserved: an attempt not dialled within the ring
    /// timeout of this lets the agent go.
    reserved: Instant,
    dialled: Option<Dialled>,
}

/// What a dialled attempt adds.
struct Dialled {
    sip: sip::SipCallId,
    at: Instant,
    /// The phone sent a provisional response: the trunk is alive, so a
    /// later timeout is the phone not answering, not the trunk.
    progressed: bool,
    /// The last provisional response's status (180, 183): the SIP code of
    /// a verdict heard on early media.
    provisional: Option<u16>,
    /// When the phone answered: the agent is connected once call progress
    /// detection has had its say (`progress.rs`).
    answered: Option<Instant>,
}

/// The callbacks being dialled, per contact, and their SIP calls.
#[derive(Default)]
pub(super) struct Dialer {
    attempts: HashMap<ContactId, Attempt>,
    by_sip: HashMap<sip::SipCallId, ContactId>,
    /// When each callback gives up (Unix ms): set at its first attempt,
    /// from its scheduled time or else that attempt's, and kept across a
    /// restart (`callback_resumed`).
    give_up_at: HashMap<ContactId, i64>,
    /// Callbacks that ended for good, whose record must say
    /// `callback_failed`: written after the core's own `left` write.
    failed_for_good: Vec<(TenantId, ContactId)>,
    /// Callbacks to dial at the next turn of the desk's loop (the agent
    /// accepted, or the link dials at once): the loop looks at these only,
    /// not at every attempt.
    due: Vec<ContactId>,
    /// Callbacks just connected: their call is connected again once the
    /// core has assigned them.
    connected: Vec<ContactId>,
    /// Stores the attempts in order (started when first needed).
    writer: Option<AttemptWriter>,
}

impl Dialer {
    /// Whether `contact` is a callback reserved for `agent`, not dialled yet.
    pub(super) fn awaits_accept(&self, contact: ContactId, agent: UserId) -> bool {
        self.attempts
            .get(&contact)
            .is_some_and(|a| a.agent == agent && a.dialled.is_none())
    }

    /// Whether `contact`'s give-up time has passed at `now_ms`.
    fn expired(&self, contact: ContactId, now_ms: i64) -> bool {
        self.give_up_at.get(&contact).is_some_and(|at| now_ms > *at)
    }

    /// Whether `contact` is a callback with an agent reserved, not dialled.
    fn awaits(&self, contact: ContactId) -> bool {
        self.attempts
            .get(&contact)
            .is_some_and(|a| a.dialled.is_none())
    }

    /// Whether `contact` is a callback being dialled for `agent` (whose
    /// browser may join its call before the phone answers).
    pub(super) fn dialling_for(&self, contact: ContactId, agent: UserId) -> bool {
        self.attempts
            .get(&contact)
            .is_some_and(|a| a.agent == agent && a.dialled.is_some())
    }
}

impl DeskState {
    /// The core reserved `agent` for a callback (`Command::DialCallback`).
    pub(super) fn callback_reserved(&mut self, contact: ContactId, agent: UserId, number: u32) {
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        let tenant = live.tenant;
        if live.link.calls.callback.dial == CallbackDial::Agent {
            // The link's agents dial by hand and report with `callback_result`.
            return;
        }
        let trunked = self
            .phone
            .lines(tenant)
            .is_some_and(|l| !l.doc.trunks.is_empty());
        if !trunked || self.phone.sip_agent().is_none() {
            // No trunk to dial through: the agent dials by hand and reports
            // with `callback_result`, as before the server dialled.
            return;
        }
        let settings = live.link.calls.callback;
        let attempt = Attempt {
            tenant,
            agent,
            number,
            settings,
            reserved: Instant::now(),
            dialled: None,
        };
        self.dialer.attempts.insert(contact, attempt);
        // Past its give-up time (the agents were busy until then, or the
        // server was down): ended at the next turn, without waiting for an
        // accept that would dial nothing.
        if settings.dial == CallbackDial::Auto || self.dialer.expired(contact, now().as_millis()) {
            self.dialer.due.push(contact);
        }
    }

    /// The reserved agent accepts the callback: the server dials.
    pub(super) fn callback_accepted(&mut self, contact: ContactId) {
        if self.dialer.awaits(contact) {
            self.dialer.due.push(contact);
        }
    }

    /// Dials whatever became due, and writes the records of callbacks that
    /// ended for good. Runs after each turn of the desk's loop.
    pub(super) async fn dial_due_callbacks(&mut self) {
        for contact in std::mem::take(&mut self.dialer.connected) {
            // The assignment set the call back to connecting (as for a
            // browser call, whose agent joins next); this one's legs are up.
            self.call_progress(contact);
        }
        for (tenant, contact) in std::mem::take(&mut self.dialer.failed_for_good) {
            self.writer.write(ContactWrite::Ended {
                tenant,
                contact,
                outcome: Outcome::CallbackFailed,
                awaiting_wrapup: false,
            });
        }
        for contact in std::mem::take(&mut self.dialer.due) {
            // Accepted twice, or over meanwhile: nothing (more) to dial.
            if !self.dialer.awaits(contact) || self.callback_expired(contact) {
                continue;
            }
            if let Err(result) = self.dial_callback(contact).await {
                self.callback_attempt_over(contact, result, None);
            }
        }
    }

    /// Places one attempt's call: the destination checked again (the
    /// tenant's policy may have changed since the request), the phone's RTP
    /// leg, the INVITE through the tenant's trunk.
    async fn dial_callback(&mut self, contact: ContactId) -> Result<(), AttemptResult> {
        let live = self
            .contacts
            .get(contact)
            .ok_or(AttemptResult::Unavailable)?;
        let tenant = live.tenant;
        let number = live.callback_phone.clone().unwrap_or_default();
        let record_calls = live.link.calls.record;
        let settings = self
            .tenants
            .row(tenant)
            .map(|t| t.calls.clone())
            .ok_or(AttemptResult::Unavailable)?;
        if callback_guard::destination_allowed(&number, &settings, self.phone.own_numbers(tenant))
            .is_err()
        {
            return Err(AttemptResult::InvalidNumber);
        }
        let (Some(engine), Some(sip_agent)) = (self.calls.engine(), self.phone.sip_agent()) else {
            return Err(AttemptResult::Unavailable);
        };
        let (trunk, caller_id) = self
            .phone
            .lines(tenant)
            .and_then(|lines| {
                let trunk = lines.doc.trunks.first()?;
                let from = trunk
                    .caller_id
                    .clone()
                    .or_else(|| lines.doc.caller_ids.first().cloned())
                    .or_else(|| lines.doc.numbers.first().map(|n| n.number.clone()))?;
                Some((trunk.name.clone(), from))
            })
            .ok_or(AttemptResult::Unavailable)?;
        if !self.calls.has_room(tenant, settings.max_concurrent) {
            return Err(AttemptResult::Unavailable);
        }
        let (handle, tag) = self.calls.new_call(&engine);
        let (leg, local) = match handle.add_rtp(LegRole::Visitor).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(contact = contact.0, error = %e, "a callback's phone leg could not open");
                handle.hangup().await;
                return Err(AttemptResult::Unavailable);
            }
        };
        // Fax tones and announcements may come as early media.
        if let Err(e) = handle.detect_progress(leg, media::cpd::Stage::Early).await {
            tracing::debug!(contact = contact.0, error = %e, "call progress detection did not start");
        }
        let dial = sip::Dial {
            tenant: tenant.into(),
            trunk: trunk.clone(),
            to: number.clone(),
            from: caller_id.clone(),
            media: sip::LocalMedia { addr: local },
        };
        let mut call = LiveCall::new(
            CallMedia::Voice,
            handle.clone(),
            tag,
            &settings,
            record_calls,
        );
        call.phone = Some(Box::new(PhoneLeg {
            sip: None,
            leg,
            local,
            record: PhoneRecord {
                direction: PhoneDirection::Outbound,
                trunk,
                center: None,
                from: caller_id,
                to: number,
                sip_call_id: None,
                sip_code: None,
                answered_at: None,
            },
            caller_id: None,
            keyed: Keyed::default(),
            answered: false,
            remote: None,
        }));
        let Some(live) = self.contacts.get_mut(contact) else {
            handle.hangup().await;
            return Err(AttemptResult::Unavailable);
        };
        live.call = Some(Box::new(call));
        self.call_created(tenant, contact);
        let sip = match sip_agent.dial(dial) {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(contact = contact.0, error = %e, "dialling a callback failed");
                return Err(AttemptResult::Unavailable);
            }
        };
        if let Some(phone) = self
            .contacts
            .call_mut(contact)
            .and_then(|c| c.phone.as_mut())
        {
            phone.sip = Some(sip);
        }
        self.dialer.by_sip.insert(sip, contact);
        let at_ms = now().as_millis();
        let since = self
            .contacts
            .get(contact)
            .and_then(|c| c.routing.callback.as_ref())
            .and_then(|c| c.not_before)
            .unwrap_or(at_ms);
        let Some(a) = self.dialer.attempts.get_mut(&contact) else {
            return Err(AttemptResult::Unavailable);
        };
        let give_up_at = *self
            .dialer
            .give_up_at
            .entry(contact)
            .or_insert(since + i64::from(a.settings.give_up_after_mins) * 60_000);
        a.dialled = Some(Dialled {
            sip,
            at: Instant::now(),
            progressed: false,
            provisional: None,
            answered: None,
        });
        let attempt = a.number;
        metrics::counter!("switchboard_callback_attempts_total").increment(1);
        self.set_call_state(contact, CallState::Ringing);
        self.attempt_write(AttemptWrite::Started {
            tenant,
            contact,
            attempt,
            at: at_ms,
            give_up_at,
        });
        Ok(())
    }

    /// An attempt ended with `result`: stored, the call (if any) finished,
    /// and the core told whether the callback goes on.
    fn callback_attempt_over(
        &mut self,
        contact: ContactId,
        result: AttemptResult,
        sip_code: Option<u16>,
    ) {
        let Some(attempt) = self.dialer.attempts.remove(&contact) else {
            return;
        };
        let ended_ms = now().as_millis();
        let s = attempt.settings;
        // Whether the callback goes on: its result allows a retry, and the
        // next attempt (after the delay) comes before the give-up time.
        let give_up_at = self
            .dialer
            .give_up_at
            .get(&contact)
            .copied()
            .unwrap_or(ended_ms.saturating_add(i64::from(s.give_up_after_mins) * 60_000));
        let next_at = ended_ms + i64::try_from(s.retry_delay_secs).unwrap_or(i64::MAX / 2) * 1000;
        let goes_on = result != AttemptResult::Answered
            && s.retries(result)
            && next_at <= give_up_at
            && attempt.number < s.max_attempts;
        if let Some(d) = attempt.dialled.as_ref() {
            if result != AttemptResult::Answered {
                // An answered call's later hang-up still comes here.
                self.dialer.by_sip.remove(&d.sip);
            }
            self.attempt_write(AttemptWrite::Ended {
                tenant: attempt.tenant,
                contact,
                attempt: attempt.number,
                end: AttemptEnd {
                    result,
                    sip_code,
                    ended_at: ended_ms,
                    // Kept so a restart waits for the same time.
                    retry_at: goes_on.then_some(next_at),
                },
            });
        }
        metrics::counter!("switchboard_callback_attempt_results_total", "result" => result.name())
            .increment(1);
        tracing::info!(
            contact = contact.0,
            attempt = attempt.number,
            result = result.name(),
            sip_code,
            "callback attempt ended"
        );
        if result == AttemptResult::Answered {
            self.dialer.give_up_at.remove(&contact);
            self.acd
                .handle_input(now(), acd::Input::CallbackConnected { contact });
            self.dialer.connected.push(contact);
            return;
        }
        self.finish_call(contact, result.name());
        // The agent's console shows the reservation ending, and why.
        self.send_agent(
            attempt.agent,
            &ToAgent::OfferCancelled {
                contact: contact.0,
                reason: result.name(),
            },
        );
        let Some(live) = self.contacts.get_mut(contact) else {
            self.dialer.give_up_at.remove(&contact);
            return;
        };
        if live.phase == Phase::Offered(attempt.agent) {
            live.phase = Phase::Waiting;
            self.writer.write(ContactWrite::Requeued {
                tenant: attempt.tenant,
                contact,
            });
        }
        if goes_on || attempt.number >= s.max_attempts {
            // The core retries after the delay (its retry time is the
            // `next_at` stored above), or (out of attempts) ends it as
            // `callback_failed` itself.
            self.acd
                .handle_input(now(), acd::Input::CallbackFailed { contact });
        } else {
            self.acd
                .handle_input(now(), acd::Input::ContactLeft { contact });
            self.dialer.failed_for_good.push((attempt.tenant, contact));
        }
        if !goes_on {
            self.dialer.give_up_at.remove(&contact);
        }
    }

    /// A callback whose turn came after its give-up time is not dialled: the
    /// reserved agent is let go (told `expired`), and the callback ends as
    /// `callback_failed`, its attempts saying how the earlier ones went.
    /// False when it has time left.
    fn callback_expired(&mut self, contact: ContactId) -> bool {
        if !self.dialer.expired(contact, now().as_millis()) {
            return false;
        }
        let Some(attempt) = self.dialer.attempts.remove(&contact) else {
            return false;
        };
        self.dialer.give_up_at.remove(&contact);
        metrics::counter!("switchboard_callbacks_expired_total").increment(1);
        tracing::info!(
            contact = contact.0,
            attempts = attempt.number.saturating_sub(1),
            "callback past its give-up time: not dialled"
        );
        self.send_agent(
            attempt.agent,
            &ToAgent::OfferCancelled {
                contact: contact.0,
                reason: "expired",
            },
        );
        if let Some(live) = self.contacts.get_mut(contact)
            && live.phase == Phase::Offered(attempt.agent)
        {
            live.phase = Phase::Waiting;
            self.writer.write(ContactWrite::Requeued {
                tenant: attempt.tenant,
                contact,
            });
        }
        self.acd
            .handle_input(now(), acd::Input::ContactLeft { contact });
        self.dialer.failed_for_good.push((attempt.tenant, contact));
        true
    }

    /// A callback rebuilt after a restart keeps the give-up time its first
    /// attempt stored (`rebuild.rs`).
    pub(super) fn callback_resumed(&mut self, contact: ContactId, give_up_at: Option<i64>) {
        if let Some(at) = give_up_at {
            self.dialer.give_up_at.insert(contact, at);
        }
    }

    /// On the desk's tick: attempts past the ring timeout end as no answer
    /// (or unavailable, when the trunk never answered at all), and
    /// reservations the agent never accepted let the agent go. An attempt
    /// whose contact left the agent (the agent went offline) hangs up.
    pub(super) fn sweep_callbacks(&mut self) {
        let now_i = Instant::now();
        let mut over = Vec::new();
        for (contact, a) in &self.dialer.attempts {
            let ring = Duration::from_secs(u64::from(a.settings.ring_timeout_secs));
            let still_reserved = self
                .contacts
                .get(*contact)
                .is_some_and(|c| c.phase == Phase::Offered(a.agent));
            match &a.dialled {
                _ if !still_reserved => over.push((*contact, AttemptResult::Unavailable, None)),
                None if now_i >= a.reserved + ring => {
                    over.push((*contact, AttemptResult::Unavailable, None));
                }
                Some(d) if d.answered.is_none() && now_i >= d.at + ring => {
                    // A ringing phone we cancel is 487; a trunk that never
                    // answered at all timed out here, as its 408 would say.
                    let (result, code) = if d.progressed {
                        (AttemptResult::NoAnswer, 487)
                    } else {
                        (AttemptResult::Unavailable, 408)
                    };
                    over.push((*contact, result, Some(code)));
                }
                Some(d) if d.answered.is_some_and(|at| now_i >= at + a.verdict_wait()) => {
                    // Nothing heard that the link's policy acts on.
                    over.push((*contact, AttemptResult::Answered, Some(200)));
                }
                _ => {}
            }
        }
        for (contact, result, code) in over {
            let still_reserved = self.dialer.attempts.get(&contact).is_some_and(|a| {
                self.contacts
                    .get(contact)
                    .is_some_and(|c| c.phase == Phase::Offered(a.agent))
            });
            if still_reserved {
                self.callback_attempt_over(contact, result, code);
            } else {
                // The core already let the contact go (agent offline):
                // only the call and the stored attempt end here.
                self.callback_abandoned(contact);
            }
        }
    }

    fn attempt_write(&mut self, write: AttemptWrite) {
        let store = &self.store;
        self.dialer
            .writer
            // The desk's store, seen only as what this writer needs.
            .get_or_insert_with(|| AttemptWriter::start(store.clone()))
            .write(write);
    }

    /// A leg of a callback's call failed while it was being dialled (the
    /// phone sent no media, the agent's browser went away): the attempt
    /// ends as unavailable and is retried like one. False when `contact` is
    /// no callback being dialled.
    pub(super) fn callback_media_failed(&mut self, contact: ContactId) -> bool {
        if !self.dialer.attempts.contains_key(&contact) {
            return false;
        }
        self.callback_attempt_over(contact, AttemptResult::Unavailable, None);
        true
    }

    /// A supervisor cancels a callback that is waiting, scheduled or being
    /// dialled (not one an agent is talking on): any call hangs up, a
    /// reserved agent is let go and told, the record ends as abandoned.
    pub(super) fn cancel_callback(&mut self, tenant: TenantId, contact: ContactId) -> bool {
        let Some(live) = self.contacts.get(contact) else {
            return false;
        };
        if live.tenant != tenant
            || live.callback_phone.is_none()
            || !matches!(live.phase, Phase::Waiting | Phase::Offered(_))
        {
            return false;
        }
        let reserved = match live.phase {
            Phase::Offered(agent) => Some(agent),
            _ => None,
        };
        self.callback_abandoned(contact);
        self.dialer.give_up_at.remove(&contact);
        if let Some(agent) = reserved {
            self.send_agent(
                agent,
                &ToAgent::OfferCancelled {
                    contact: contact.0,
                    reason: "cancelled",
                },
            );
        }
        metrics::counter!("switchboard_callbacks_cancelled_total").increment(1);
        self.acd
            .handle_input(now(), acd::Input::ContactLeft { contact });
        true
    }

    /// A reservation the core cancelled on its own: hang up, store the
    /// attempt's end, tell the core nothing.
    fn callback_abandoned(&mut self, contact: ContactId) {
        let Some(attempt) = self.dialer.attempts.remove(&contact) else {
            return;
        };
        if let Some(d) = attempt.dialled {
            self.dialer.by_sip.remove(&d.sip);
            self.attempt_write(AttemptWrite::Ended {
                tenant: attempt.tenant,
                contact,
                attempt: attempt.number,
                end: AttemptEnd {
                    result: AttemptResult::Unavailable,
                    sip_code: None,
                    ended_at: now().as_millis(),
                    retry_at: None,
                },
            });
            self.finish_call(contact, "unavailable");
        }
    }
}

impl Attempt {
    /// How long after the answer the core waits for call progress
    /// detection before it assigns the contact (the agent is bridged to the
    /// phone meanwhile): long enough for a fax's answer tone (T.30: CED
    /// starts 1.8-2.5 s after the answer, and is heard in 0.4 s), and for
    /// the greeting heuristic when the link acts on machines.
    fn verdict_wait(&self) -> Duration {
        if self.settings.on_machine == MachinePolicy::Connect {
            Duration::from_millis(3_500)
        } else {
            Duration::from_millis(u64::from(media::cpd::CpdConfig::default().decide_within))
        }
    }
}
