//! Carrying out what the routing core decides: offers ring consoles, assignments
//! connect visitor and agent, waits and availability reach visitors, and
//! contacts that leave unanswered get their record closed.

use std::time::Instant;

use super::{DeskState, Phase};
use crate::{
    ids::{ContactId, UserId},
    protocol::{ToAgent, ToVisitor},
    store::Outcome,
};

/// The protocol's name for an agent state, with the not-ready reason.
pub(super) fn state_name(state: &acd::AgentState) -> (&'static str, Option<String>) {
    match state {
        acd::AgentState::Offline => ("offline", None),
        acd::AgentState::Available => ("available", None),
        acd::AgentState::NotReady(reason) => (
            "not_ready",
            Some(match reason {
                acd::NotReadyReason::Chosen(why) => why.clone(),
                acd::NotReadyReason::Declined => "declined an offer".to_owned(),
                acd::NotReadyReason::MissedOffer => "missed an offer".to_owned(),
            }),
        ),
    }
}

fn user(agent: acd::AgentId) -> UserId {
    UserId(agent.0)
}

impl DeskState {
    /// Drains the core's outputs until it names its next timeout.
    pub(super) async fn drain(&mut self) {
        loop {
            match self.acd.poll_output() {
                acd::Output::Timeout(at) => {
                    self.next_timeout = at;
                    break;
                }
                acd::Output::Command(command) => self.command(command).await,
                acd::Output::Event(event) => self.event(event).await,
            }
        }
    }

    async fn command(&mut self, command: acd::Command) {
        match command {
            acd::Command::Offer {
                contact,
                agent,
                expires,
            } => {
                let Some(live) = self.contacts.get_mut(&contact) else {
                    return;
                };
                live.phase = Phase::Offered(user(agent));
                let (tenant, screenpop) = (live.tenant, live.screenpop.clone());
                if let Err(e) = self.store.mark_offered(tenant, contact).await {
                    tracing::error!(error = %e, "storing an offer failed");
                }
                let secs = expires
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64();
                metrics::counter!("switchboard_offers_total").increment(1);
                self.send_agent(
                    user(agent),
                    &ToAgent::Offer {
                        contact: contact.0,
                        expires_in: secs.ceil() as u64,
                        screenpop,
                    },
                );
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
                self.requeue(contact).await;
            }
        }
    }

    /// An offer failed: the contact waits again (at its old place, the core
    /// guarantees).
    async fn requeue(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get_mut(&contact) else {
            return;
        };
        if matches!(live.phase, Phase::Offered(_)) {
            live.phase = Phase::Waiting;
            let tenant = live.tenant;
            if let Err(e) = self.store.mark_requeued(tenant, contact).await {
                tracing::error!(error = %e, "storing a requeue failed");
            }
        }
    }

    async fn event(&mut self, event: acd::Event) {
        match event {
            acd::Event::AgentStateChanged { agent, state } => {
                let (name, reason) = state_name(&state);
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
                let available = self.acd.queue_status(queue).available;
                let first = self
                    .contacts
                    .get_mut(&contact)
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
                        available,
                        wait_seconds: wait.as_secs(),
                        position: Some(position),
                    },
                );
            }
            acd::Event::QueueStatus {
                queue,
                available,
                wait,
                ..
            } => {
                let watchers: Vec<_> = self
                    .watchers
                    .get(&queue)
                    .map(|w| w.iter().copied().collect())
                    .unwrap_or_default();
                for conn in watchers {
                    self.send_visitor(
                        conn,
                        ToVisitor::Status {
                            available,
                            wait_seconds: wait.as_secs(),
                            position: None,
                        },
                    );
                }
            }
            acd::Event::Assigned { contact, agent } => self.assigned(contact, user(agent)).await,
            acd::Event::Left { contact, outcome } => self.left(contact, outcome).await,
            acd::Event::Offered { .. } => {}
            acd::Event::Declined { .. } => {
                metrics::counter!("switchboard_offers_declined_total").increment(1);
            }
            acd::Event::OfferTimedOut { .. } => {
                metrics::counter!("switchboard_offers_missed_total").increment(1);
            }
            acd::Event::Ignored { reason } => {
                tracing::debug!(reason, "routing core ignored an input");
            }
        }
    }

    async fn assigned(&mut self, contact: ContactId, agent: UserId) {
        let agent_name = self.seats.get(&agent).map(|s| s.display_name.clone());
        let Some(live) = self.contacts.get_mut(&contact) else {
            return;
        };
        live.phase = Phase::Connected;
        live.agent = Some(agent);
        live.agent_name.clone_from(&agent_name);
        let (tenant, screenpop) = (live.tenant, live.screenpop.clone());
        if let Err(e) = self.store.mark_answered(tenant, contact, agent).await {
            tracing::error!(error = %e, "storing an answer failed");
        }
        let transcript = self
            .store
            .transcript(tenant, contact)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "loading a transcript failed");
                Vec::new()
            });
        metrics::counter!("switchboard_contacts_answered_total").increment(1);
        self.send_agent(
            agent,
            &ToAgent::Assigned {
                contact: contact.0,
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
    }

    /// The core let go of a contact. Answered ones were closed at wrap-up; the
    /// others left unanswered and their record is closed here.
    async fn left(&mut self, contact: ContactId, outcome: acd::Outcome) {
        let outcome = match outcome {
            acd::Outcome::Answered => return,
            acd::Outcome::Abandoned => Outcome::Abandoned,
            acd::Outcome::DeclinedAll => Outcome::DeclinedAll,
        };
        let Some(tenant) = self.contacts.get(&contact).map(|c| c.tenant) else {
            return;
        };
        if let Err(e) = self.store.mark_ended(tenant, contact, outcome, false).await {
            tracing::error!(error = %e, "storing an unanswered contact failed");
        }
        metrics::counter!("switchboard_contacts_unanswered_total").increment(1);
        self.detach_visitors(contact);
        self.remove_contact(contact);
    }
}
