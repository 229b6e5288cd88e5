//! Carrying out what the routing core decides: offers ring consoles, assignments
//! connect visitor and agent, waits and availability reach visitors, refusals are
//! explained, every transition is stored as a stat event, and contacts that leave
//! unanswered get their record closed.

use super::{DeskState, Phase, now};
use crate::{
    ids::{ContactId, TenantId, UserId},
    protocol::{CallState, ToAgent, ToVisitor},
    store::{ContactWrite, Outcome, StatEvent},
};

/// The protocol's name for an agent's presence, with the not-ready reason. An
/// agent who is ready shows as available whether or not they hold contacts.
pub(super) fn state_name(state: &acd::AgentState) -> (&'static str, Option<String>) {
    match state {
        acd::AgentState::Offline => ("offline", None),
        acd::AgentState::Available
        | acd::AgentState::Reserved
        | acd::AgentState::Busy
        | acd::AgentState::WrapUp { .. } => ("available", None),
        acd::AgentState::NotReady(reason) => (
            "not_ready",
            Some(match reason {
                acd::NotReadyReason::Login => "login".to_owned(),
                acd::NotReadyReason::Chosen(why) => why.clone(),
                acd::NotReadyReason::Declined => "declined an offer".to_owned(),
                acd::NotReadyReason::MissedOffer => "missed an offer".to_owned(),
            }),
        ),
    }
}

/// What the agent is doing, for supervisors and stat events.
pub(super) fn activity_name(state: &acd::AgentState) -> &'static str {
    match state {
        acd::AgentState::Offline => "offline",
        acd::AgentState::NotReady(_) => "not_ready",
        acd::AgentState::Available => "available",
        acd::AgentState::Reserved => "reserved",
        acd::AgentState::Busy => "busy",
        acd::AgentState::WrapUp { .. } => "wrap_up",
    }
}

fn user(agent: acd::AgentId) -> UserId {
    UserId(agent.0)
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl DeskState {
    /// Drains the core's outputs until it names its next timeout.
    pub(super) fn drain(&mut self) {
        loop {
            match self.acd.poll_output() {
                acd::Output::Timeout(at) => {
                    self.next_timeout = at;
                    break;
                }
                acd::Output::Command(command) => self.command(&command),
                acd::Output::Event(event) => {
                    self.record(&event);
                    self.event(event);
                }
            }
        }
    }

    fn command(&mut self, command: &acd::Command) {
        match *command {
            acd::Command::Offer {
                contact,
                agent,
                expires,
            } => {
                let Some(live) = self.contacts.get_mut(contact) else {
                    return;
                };
                live.phase = Phase::Offered(user(agent));
                let (tenant, screenpop, media) =
                    (live.tenant, live.screenpop.clone(), live.media());
                self.writer.write(ContactWrite::Offered { tenant, contact });
                metrics::counter!("switchboard_offers_total").increment(1);
                self.send_agent(
                    user(agent),
                    &ToAgent::Offer {
                        contact: contact.0,
                        media,
                        expires_in: expires.since(now()).as_secs_f64().ceil() as u64,
                        screenpop,
                    },
                );
                self.set_call_state(contact, CallState::Ringing);
            }
            acd::Command::CancelOffer {
                contact,
                agent,
                reason,
            } => {
                let reason = match reason {
                    acd::CancelReason::Timeout => "timeout",
                    acd::CancelReason::Abandoned => "abandoned",
                    acd::CancelReason::AgentOffline => "agent_offline",
                };
                self.send_agent(
                    user(agent),
                    &ToAgent::OfferCancelled {
                        contact: contact.0,
                        reason,
                    },
                );
                self.requeue(contact);
            }
            acd::Command::DialCallback {
                contact,
                agent,
                attempt,
            } => {
                // The agent is reserved; they dial from their own phone and
                // report how it went (`callback_result`). The SIP dialer comes
                // with the callback issue.
                let Some(live) = self.contacts.get_mut(contact) else {
                    self.acd
                        .handle_input(now(), acd::Input::CallbackFailed { contact });
                    return;
                };
                live.phase = Phase::Offered(user(agent));
                let (tenant, screenpop, phone) = (
                    live.tenant,
                    live.screenpop.clone(),
                    live.callback_phone.clone().unwrap_or_default(),
                );
                self.writer.write(ContactWrite::Offered { tenant, contact });
                metrics::counter!("switchboard_callback_dials_total").increment(1);
                self.send_agent(
                    user(agent),
                    &ToAgent::Callback {
                        contact: contact.0,
                        phone,
                        attempt,
                        screenpop,
                    },
                );
                self.callback_reserved(contact, user(agent), attempt);
            }
        }
    }

    /// An offer failed: the contact waits again (at its old place, the core
    /// guarantees).
    fn requeue(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        if matches!(live.phase, Phase::Offered(_)) {
            live.phase = Phase::Waiting;
            let tenant = live.tenant;
            self.writer
                .write(ContactWrite::Requeued { tenant, contact });
            self.set_call_state(contact, CallState::Queued);
        }
    }

    /// Stores one stat event for records and reports.
    /// Hands one stat event to the writer task (storage off the desk's path)
    /// and to live supervisor streams. Position and estimate updates
    /// (`Event::Waiting`) go to the visitor only: they are not transitions, and
    /// a long line would write one row per visitor per second.
    fn record(&mut self, event: &acd::Event) {
        if matches!(event, acd::Event::Waiting { .. }) {
            return;
        }
        let Some(stat) = self.stat_event(event) else {
            return;
        };
        if self.stat_writer.try_send(stat.clone()).is_err() {
            metrics::counter!("switchboard_stat_events_dropped_total").increment(1);
            tracing::warn!("stat event writer is behind; an event was not stored");
        }
        let _ = self.stats.send(stat);
    }

    fn tenant_of_contact(&self, contact: ContactId) -> Option<TenantId> {
        self.contacts.get(contact).map(|c| c.tenant)
    }

    fn tenant_of_agent(&self, agent: acd::AgentId) -> Option<TenantId> {
        self.conns.seat(user(agent)).map(|s| s.tenant)
    }

    /// The stored form of an event; `None` for events that are not transitions
    /// (ignored inputs) or whose tenant is no longer known.
    fn stat_event(&self, event: &acd::Event) -> Option<StatEvent> {
        use serde_json::json;
        let at = now().as_millis();
        let contact_event = |kind: &'static str,
                             contact: ContactId,
                             agent: Option<acd::AgentId>,
                             detail: serde_json::Value| {
            Some(StatEvent {
                tenant: self.tenant_of_contact(contact)?,
                at,
                kind,
                contact: Some(contact.0),
                agent: agent.map(|a| a.0),
                queue: self.contacts.get(contact).map(|c| c.link.queue.0),
                detail,
            })
        };
        match event {
            acd::Event::AgentStateChanged { agent, state } => Some(StatEvent {
                tenant: self.tenant_of_agent(*agent)?,
                at,
                kind: "agent_state",
                contact: None,
                agent: Some(agent.0),
                queue: None,
                detail: json!({ "state": activity_name(state), "reason": state_name(state).1 }),
            }),
            acd::Event::Queued {
                contact,
                center,
                scheduled_for,
                ..
            } => contact_event(
                "queued",
                *contact,
                None,
                json!({ "center": center.map(|c| c.0), "scheduled_for": scheduled_for.map(acd::Time::as_millis) }),
            ),
            acd::Event::Refused { contact, reason } => contact_event(
                "refused",
                *contact,
                None,
                json!({ "reason": refusal_name(reason) }),
            ),
            acd::Event::Waiting {
                contact,
                position,
                wait,
                ..
            } => contact_event(
                "waiting",
                *contact,
                None,
                json!({ "position": position, "wait_ms": millis(*wait) }),
            ),
            acd::Event::Overflowed { contact, rule } => {
                contact_event("overflowed", *contact, None, json!({ "rule": rule }))
            }
            acd::Event::PreferenceExpired { contact } => {
                contact_event("preference_expired", *contact, None, json!({}))
            }
            acd::Event::Offered { contact, agent } => {
                contact_event("offered", *contact, Some(*agent), json!({}))
            }
            acd::Event::Declined { contact, agent } => {
                contact_event("declined", *contact, Some(*agent), json!({}))
            }
            acd::Event::OfferTimedOut { contact, agent } => {
                contact_event("offer_timed_out", *contact, Some(*agent), json!({}))
            }
            acd::Event::Assigned { contact, agent } => {
                contact_event("assigned", *contact, Some(*agent), json!({}))
            }
            acd::Event::CallbackAttemptFailed {
                contact,
                attempt,
                retry_at,
            } => contact_event(
                "callback_failed",
                *contact,
                None,
                json!({ "attempt": attempt, "retry_at": retry_at.map(acd::Time::as_millis) }),
            ),
            acd::Event::WrapUpEnded {
                contact,
                agent,
                timed_out,
            } => Some(StatEvent {
                tenant: self.tenant_of_agent(*agent)?,
                at,
                kind: "wrap_up_ended",
                contact: Some(contact.0),
                agent: Some(agent.0),
                queue: None,
                detail: json!({ "timed_out": timed_out }),
            }),
            acd::Event::Left { contact, outcome } => contact_event(
                "left",
                *contact,
                None,
                json!({ "outcome": record_outcome(*outcome).as_str() }),
            ),
            acd::Event::QueueStatus { queue, status } => Some(StatEvent {
                tenant: self.tenants.tenant_of_queue(*queue)?,
                at,
                kind: "queue_status",
                contact: None,
                agent: None,
                queue: Some(queue.0),
                detail: json!({
                    "open": status.open,
                    "available": status.available,
                    "waiting": status.waiting,
                    "wait_ms": millis(status.wait),
                }),
            }),
            acd::Event::Ignored { .. } => None,
        }
    }

    fn event(&mut self, event: acd::Event) {
        match event {
            acd::Event::AgentStateChanged { agent, state } => {
                let (name, reason) = state_name(&state);
                // Consoles see presence; a change of activity alone (ringing,
                // busy, wrap-up) is not news to them.
                let presence = (name, reason.clone());
                let Some(seat) = self.conns.seat_mut(user(agent)) else {
                    return;
                };
                if seat.presence.as_ref() == Some(&presence) {
                    return;
                }
                seat.presence = Some(presence);
                self.send_agent(
                    user(agent),
                    &ToAgent::State {
                        state: name,
                        reason,
                    },
                );
            }
            acd::Event::Waiting {
                contact,
                queue,
                position,
                wait,
            } => {
                if self.contacts.get(contact).is_some_and(|c| c.first_pending) {
                    // `queued` (and what follows it) waits for the first
                    // message's echo.
                    return;
                }
                let status = self.acd.queue_status(queue);
                let first = self
                    .contacts
                    .get_mut(contact)
                    .map(|c| !std::mem::replace(&mut c.queued_sent, true));
                if first == Some(true) {
                    self.send_contact_visitors(
                        contact,
                        &ToVisitor::Queued {
                            position,
                            wait_seconds: wait.as_secs(),
                        },
                    );
                }
                self.send_contact_visitors(
                    contact,
                    &ToVisitor::Status {
                        available: status.available,
                        wait_seconds: wait.as_secs(),
                        position: Some(position),
                        open: status.open,
                        next_open: status.next_open.map(acd::Time::as_millis),
                    },
                );
                self.callback_moved(contact, position, wait);
            }
            acd::Event::QueueStatus { queue, status } => {
                for conn in self.conns.watchers(queue) {
                    self.send_visitor(
                        conn,
                        ToVisitor::Status {
                            available: status.available,
                            wait_seconds: status.wait.as_secs(),
                            position: None,
                            open: status.open,
                            next_open: status.next_open.map(acd::Time::as_millis),
                        },
                    );
                }
            }
            acd::Event::Refused { contact, reason } => self.refused(contact, &reason),
            acd::Event::Assigned { contact, agent } => self.assigned(contact, user(agent)),
            acd::Event::Left { contact, outcome } => self.left(contact, outcome),
            acd::Event::Declined { .. } => {
                metrics::counter!("switchboard_offers_declined_total").increment(1);
            }
            acd::Event::OfferTimedOut { .. } => {
                metrics::counter!("switchboard_offers_missed_total").increment(1);
            }
            acd::Event::Overflowed { .. } => {
                metrics::counter!("switchboard_overflows_total").increment(1);
            }
            acd::Event::Ignored { reason } => {
                tracing::debug!(reason, "routing core ignored an input");
            }
            acd::Event::Queued { .. }
            | acd::Event::Offered { .. }
            | acd::Event::PreferenceExpired { .. }
            | acd::Event::CallbackAttemptFailed { .. }
            | acd::Event::WrapUpEnded { .. } => {}
        }
    }

    /// Tells the visitor, politely, why the contact was not taken.
    fn refused(&mut self, contact: ContactId, reason: &acd::Refusal) {
        let (name, message, next_open) = match reason {
            acd::Refusal::Closed { next_open } => (
                "closed",
                "We are closed right now. You can leave a message, or come back when we open."
                    .to_owned(),
                next_open.map(acd::Time::as_millis),
            ),
            acd::Refusal::NotEntitled { media, allowed } => (
                "not_entitled",
                format!(
                    "{} is available to {} customers. You can reach us by chat.",
                    media_label(*media),
                    allowed.join(" or ")
                ),
                None,
            ),
            acd::Refusal::NoQualifiedAgents => (
                "no_agents",
                "Nobody here can help with this right now. Please leave a message.".to_owned(),
                None,
            ),
            acd::Refusal::UnknownQueue => (
                "unknown_queue",
                "This contact point is not available.".to_owned(),
                None,
            ),
        };
        self.send_contact_visitors(
            contact,
            &ToVisitor::Unavailable {
                reason: name,
                message,
                next_open,
            },
        );
    }

    fn assigned(&mut self, contact: ContactId, agent: UserId) {
        let agent_name = self.conns.seat(agent).map(|s| s.display_name.clone());
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        live.phase = Phase::Connected;
        live.agent = Some(agent);
        live.agent_name.clone_from(&agent_name);
        let (tenant, screenpop, media) = (live.tenant, live.screenpop.clone(), live.media());
        // The messages stored so far; any still on their way reach the agent
        // when they are stored (`stored.rs`).
        let transcript = live.transcript.clone();
        self.writer.write(ContactWrite::Answered {
            tenant,
            contact,
            agent,
        });
        metrics::counter!("switchboard_contacts_answered_total").increment(1);
        self.send_agent(
            agent,
            &ToAgent::Assigned {
                contact: contact.0,
                media,
                screenpop,
                transcript,
            },
        );
        self.send_contact_visitors(
            contact,
            &ToVisitor::Connected {
                agent_name: agent_name.unwrap_or_else(|| "an agent".to_owned()),
            },
        );
        self.set_call_state(contact, CallState::Connecting);
    }

    /// The core let go of a contact. Answered ones are closed at wrap-up; the
    /// others left unanswered and their record is closed here.
    fn left(&mut self, contact: ContactId, outcome: acd::Outcome) {
        if outcome == acd::Outcome::Answered {
            return;
        }
        let reason = if outcome == acd::Outcome::Abandoned {
            "hangup"
        } else {
            "unanswered"
        };
        self.finish_call(contact, reason);
        let outcome = record_outcome(outcome);
        let Some(tenant) = self.contacts.get(contact).map(|c| c.tenant) else {
            return;
        };
        self.writer.write(ContactWrite::Ended {
            tenant,
            contact,
            outcome,
            awaiting_wrapup: false,
        });
        metrics::counter!("switchboard_contacts_unanswered_total").increment(1);
        self.detach_visitors(contact);
        self.remove_contact(contact);
    }
}

/// The contact record's outcome for the core's (same names in stat events).
fn record_outcome(outcome: acd::Outcome) -> Outcome {
    match outcome {
        acd::Outcome::Answered => Outcome::Answered,
        acd::Outcome::Abandoned => Outcome::Abandoned,
        acd::Outcome::DeclinedAll => Outcome::DeclinedAll,
        acd::Outcome::Refused => Outcome::Refused,
        acd::Outcome::CallbackFailed => Outcome::CallbackFailed,
    }
}

fn refusal_name(reason: &acd::Refusal) -> &'static str {
    match reason {
        acd::Refusal::Closed { .. } => "closed",
        acd::Refusal::NotEntitled { .. } => "not_entitled",
        acd::Refusal::NoQualifiedAgents => "no_agents",
        acd::Refusal::UnknownQueue => "unknown_queue",
    }
}

fn media_label(media: acd::Media) -> &'static str {
    match media {
        acd::Media::Chat => "Chat",
        acd::Media::Voice => "Voice",
        acd::Media::Video => "Video",
        acd::Media::Callback => "A call back",
    }
}
