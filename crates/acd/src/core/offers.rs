//! What follows an offer or a callback dial: accepted, declined or expired;
//! connected or failed (with retries); then the end of a held contact and its
//! wrap-up; and a contact leaving before it is held.

use std::time::Duration;

use super::agents::Wrap;
use super::{Acd, Stage, Timer};
use crate::{
    AgentId, CancelReason, Command, ContactId, Event, Media, NotReadyReason, Outcome, Time,
};

impl Acd {
    pub(super) fn contact_left(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let outcome = if c.declined {
            Outcome::DeclinedAll
        } else {
            Outcome::Abandoned
        };
        match c.stage {
            Stage::Waiting(_) => self.leave_line(id),
            Stage::Scheduled(_) => {}
            Stage::Offered(agent) => {
                self.command(Command::CancelOffer {
                    contact: id,
                    agent,
                    reason: CancelReason::Abandoned,
                });
                self.release_pending(agent, id);
            }
            Stage::Dialing(agent) => self.release_pending(agent, id),
            Stage::Held(_) => {
                self.ignored("contact is held by an agent; end it instead");
                return;
            }
        }
        self.left(id, outcome);
    }

    /// Moves a waiting or scheduled callback to `at` (`Input::Reschedule`).
    /// Its key is rebuilt from the new time, keeping the priority part the
    /// arrival gave it when that can be told from its arrival time (a
    /// callback first scheduled later than it arrived loses only that).
    pub(super) fn reschedule(&mut self, id: ContactId, at: Time) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if c.media != Media::Callback {
            self.ignored("only a callback can be rescheduled");
            return;
        }
        match c.stage {
            Stage::Waiting(_) => self.leave_line(id),
            Stage::Scheduled(_) => {}
            _ => {
                self.ignored("only a waiting or scheduled callback can be rescheduled");
                return;
            }
        }
        let at = at.max(self.now);
        self.arrival_seq += 1;
        let seq = self.arrival_seq;
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let boost = c.arrived.0.saturating_sub(c.key.0).max(0);
        c.key = (at.0.saturating_sub(boost), seq);
        let (queue, center) = (c.queue, c.center);
        let later = at > self.now;
        self.event(Event::Queued {
            contact: id,
            queue,
            center,
            scheduled_for: later.then_some(at),
        });
        if later {
            let epoch = self.set_stage(id, Stage::Scheduled(at));
            self.timer(at, Timer::Enter(id, epoch));
        } else {
            self.enter_line(id);
            self.entered.push(id);
        }
    }

    pub(super) fn offer_accepted(&mut self, id: ContactId, agent: AgentId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if c.stage != Stage::Offered(agent) {
            self.ignored("no such offer pending");
            return;
        }
        self.assign(id, agent);
    }

    fn assign(&mut self, id: ContactId, agent: AgentId) {
        self.set_stage(id, Stage::Held(agent));
        let media = match self.contacts.get_mut(&id) {
            Some(c) => {
                c.assigned_at = self.now;
                c.media
            }
            None => return,
        };
        if let Some(a) = self.agents.get_mut(&agent) {
            a.pending = None;
            a.held.push((id, media));
        }
        self.event(Event::Assigned { contact: id, agent });
        self.touch(agent);
    }

    pub(super) fn offer_declined(&mut self, id: ContactId, agent: AgentId) {
        let Some(c) = self.contacts.get_mut(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if c.stage != Stage::Offered(agent) {
            self.ignored("no such offer pending");
            return;
        }
        c.declined = true;
        self.event(Event::Declined { contact: id, agent });
        self.release_pending(agent, id);
        self.set_presence(agent, Some(NotReadyReason::Declined));
        self.requeue(id);
    }

    pub(super) fn offer_expired(&mut self, id: ContactId, epoch: u64) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Stage::Offered(agent) = c.stage else {
            return;
        };
        if c.epoch != epoch {
            return;
        }
        c.declined = true;
        self.command(Command::CancelOffer {
            contact: id,
            agent,
            reason: CancelReason::Timeout,
        });
        self.event(Event::OfferTimedOut { contact: id, agent });
        self.release_pending(agent, id);
        self.set_presence(agent, Some(NotReadyReason::MissedOffer));
        self.requeue(id);
    }

    pub(super) fn callback_connected(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let Stage::Dialing(agent) = c.stage else {
            self.ignored("no callback being dialled");
            return;
        };
        self.assign(id, agent);
    }

    pub(super) fn callback_failed(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get_mut(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let Stage::Dialing(agent) = c.stage else {
            self.ignored("no callback being dialled");
            return;
        };
        c.attempts = c.attempts.saturating_add(1);
        let attempt = c.attempts;
        let retry = (attempt < c.plan.max_attempts).then(|| self.now.plus(c.plan.retry_delay));
        self.release_pending(agent, id);
        self.event(Event::CallbackAttemptFailed {
            contact: id,
            attempt,
            retry_at: retry,
        });
        match retry {
            Some(at) => {
                let epoch = self.set_stage(id, Stage::Scheduled(at));
                self.timer(at, Timer::Enter(id, epoch));
            }
            None => self.left(id, Outcome::CallbackFailed),
        }
    }

    pub(super) fn contact_ended(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        let Stage::Held(agent) = c.stage else {
            self.ignored("contact is not held by an agent");
            return;
        };
        let (queue, media, assigned_at) = (c.queue, c.media, c.assigned_at);
        let wrap_up = self
            .queue_ref(queue)
            .map_or(Duration::from_mins(1), |q| q.spec.wrap_up);
        let until = self.now.plus(wrap_up);
        // The agent may have been removed (and even defined anew) meanwhile: its
        // slot is only taken if it still holds the contact.
        if let Some(a) = self.agents.get_mut(&agent)
            && a.held.iter().any(|(h, _)| *h == id)
        {
            a.held.retain(|(h, _)| *h != id);
            self.timer_seq += 1;
            let timer = (until, self.timer_seq, Timer::WrapUp(agent, id));
            self.timers.insert(timer);
            a.wrapping.push(Wrap {
                contact: id,
                queue,
                media,
                until,
                assigned_at,
                timer,
            });
            self.wrapups.insert(id, agent);
        }
        self.left(id, Outcome::Answered);
        self.touch(agent);
    }

    pub(super) fn wrap_up_done(&mut self, id: ContactId) {
        match self.wrapups.get(&id) {
            Some(&agent) => self.end_wrap_up(agent, id, false),
            None => self.ignored("no wrap-up running for contact"),
        }
    }
}
