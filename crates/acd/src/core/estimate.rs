//! Wait estimates, `Waiting` and `QueueStatus` publication, and handle time.
//!
//! A waiting contact's position is 1 + the contacts ahead of it *in its group*
//! (same queue, same requirement). Contacts of other groups that compete for some
//! of the same agents are not counted: doing so would need every group's overlap
//! with every other, and routing takes the lowest key across groups anyway.
//!
//! The estimate is `position × average handle time / staffed slots`, where staffed
//! slots is the sum, over online qualified agents (any presence), of their chat
//! capacity for a chat group or 1 for a call group; at least one second while
//! waiting.
//!
//! Cost is bounded: a change to a group only marks it dirty; a dirty group is
//! published by a timer at most once per `Config::estimate_interval`, walking its
//! line once (positions come from the walk, no per-contact search). A contact
//! whose value changed but that was told less than an interval ago keeps the
//! group dirty, so the latest value follows one interval later: never frozen.
//! A contact entering the line is told at once (its position is the group's
//! length when it joins at the tail, the common case; else a count of those
//! ahead).

use std::time::Duration;

use super::line::GroupId;
use super::{Acd, Key, Stage, Timer};
use crate::view::QueueStatus;
use crate::{Event, QueueId};

impl Acd {
    /// Notes that estimates of group `g` may have changed and schedules its
    /// publication.
    pub(super) fn mark_dirty(&mut self, g: GroupId) {
        let now = self.now;
        let interval = self.config.estimate_interval;
        let Some(group) = self.groups.get_mut(g) else {
            return;
        };
        group.dirty = true;
        if group.publish_at.is_some() || group.line.is_empty() {
            return;
        }
        let at = group
            .last_publish
            .map_or(now, |t| t.plus(interval))
            .max(now);
        group.publish_at = Some(at);
        self.timer(at, Timer::Publish(g));
    }

    /// Sends `Waiting` to every contact of group `g` whose (position, whole
    /// seconds) changed, unless it was told less than an interval ago.
    pub(super) fn publish_group(&mut self, g: GroupId) {
        let now = self.now;
        let interval = self.config.estimate_interval;
        let (handle_ms, queue) = match self.groups.get(g) {
            Some(group) => (
                self.queue_ref(group.req.queue).map_or(0.0, |q| q.handle_ms),
                group.req.queue,
            ),
            None => return,
        };
        let Acd {
            groups,
            contacts,
            out,
            ..
        } = self;
        let Some(group) = groups.get_mut(g) else {
            return;
        };
        group.publish_at = None;
        if !group.dirty {
            return;
        }
        group.dirty = false;
        group.last_publish = Some(now);
        let staffed = group.staffed;
        let mut retry: Option<crate::Time> = None;
        for (i, id) in group.line.values().enumerate() {
            let Some(c) = contacts.get_mut(id) else {
                continue;
            };
            let position = i as u32 + 1;
            let wait = wait_for(handle_ms, position, staffed);
            let value = (position, wait.as_secs());
            if c.sent == Some(value) {
                continue;
            }
            if let Some(due) = c.sent_at.map(|t| t.plus(interval))
                && due > now
            {
                retry = Some(retry.map_or(due, |r| r.min(due)));
                continue;
            }
            c.sent = Some(value);
            c.sent_at = Some(now);
            out.push_back(crate::Output::Event(Event::Waiting {
                contact: *id,
                queue,
                position,
                wait,
            }));
        }
        // Told too recently: try again as soon as the first of them may be told.
        if let Some(at) = retry {
            group.dirty = true;
            group.publish_at = Some(at);
            self.timer(at, Timer::Publish(g));
        }
    }

    /// The estimate at `position` in group `g`.
    pub(super) fn estimate(&self, g: GroupId, position: u32) -> Duration {
        let Some(group) = self.groups.get(g) else {
            return Duration::from_secs(1);
        };
        let handle_ms = self.queue_ref(group.req.queue).map_or(0.0, |q| q.handle_ms);
        wait_for(handle_ms, position, group.staffed)
    }

    /// Tells contacts that entered the line during this input, and are still
    /// waiting, their position and estimate.
    pub(super) fn announce_entered(&mut self) {
        let now = self.now;
        for id in std::mem::take(&mut self.entered) {
            let Some(c) = self.contacts.get(&id) else {
                continue;
            };
            let Stage::Waiting(g) = c.stage else {
                continue;
            };
            let (key, queue) = (c.key, c.queue);
            let position = self.cheap_position(g, key);
            let wait = self.estimate(g, position);
            if let Some(c) = self.contacts.get_mut(&id) {
                c.sent = Some((position, wait.as_secs()));
                c.sent_at = Some(now);
            }
            self.event(Event::Waiting {
                contact: id,
                queue,
                position,
                wait,
            });
        }
    }

    fn cheap_position(&self, g: GroupId, key: Key) -> u32 {
        match self.groups.get(g) {
            Some(group) if group.line.last_key_value().is_some_and(|(k, _)| *k == key) => {
                group.line.len() as u32
            }
            _ => self.position_of(g, key),
        }
    }

    /// Emits `QueueStatus` for each queue whose status changed since last told
    /// (`oldest_since` alone does not count as a change).
    pub(super) fn flush_queues(&mut self) {
        for q in std::mem::take(&mut self.dirty_queues) {
            let Some(status) = self.compute_status(q) else {
                continue;
            };
            let Some(queue) = self.queue_mut(q) else {
                continue;
            };
            let same = queue.published.as_ref().is_some_and(|p| {
                p.open == status.open
                    && p.next_open == status.next_open
                    && p.available == status.available
                    && p.wait == status.wait
                    && p.waiting == status.waiting
            });
            if same {
                continue;
            }
            queue.published = Some(status.clone());
            self.event(Event::QueueStatus { queue: q, status });
        }
    }

    /// What a newcomer to queue `q` would find. The wait for a newcomer counts
    /// online qualified agents (one slot each, whatever their media) and the
    /// queue's own waiting contacts.
    pub(super) fn compute_status(&self, q: QueueId) -> Option<QueueStatus> {
        let t = self.tenants.get(self.queue_tenant.get(&q)?)?;
        let queue = t.queues.get(&q)?;
        let centers = || {
            let all = queue.spec.centers.is_empty();
            t.centers
                .iter()
                .filter(move |(id, _)| all || queue.spec.centers.contains(id))
                .map(|(_, c)| c)
        };
        let open = centers().any(|c| c.open);
        let next_open = if open {
            None
        } else {
            centers().filter_map(|c| c.next_open).min()
        };
        let wait = if queue.free > 0 {
            Duration::ZERO
        } else {
            wait_for(queue.handle_ms, queue.waiting + 1, queue.online)
        };
        Some(QueueStatus {
            open,
            next_open,
            available: queue.ready > 0,
            wait,
            waiting: queue.waiting,
            oldest_since: queue.oldest.first().map(|(t, _)| *t),
        })
    }

    /// Folds one handle time into the queue's moving average. The sample is the
    /// whole time the agent's slot was taken: from assignment to the end of
    /// wrap-up (talk plus the wrap-up actually used).
    pub(super) fn record_handle_time(&mut self, q: QueueId, sample: Duration) {
        let alpha = self.config.handle_time_smoothing.clamp(0.0, 1.0);
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        queue.handle_ms = queue.handle_ms * (1.0 - alpha) + sample.as_millis() as f64 * alpha;
        let groups = queue.groups.clone();
        self.dirty_queues.insert(q);
        for g in groups {
            self.mark_dirty(g);
        }
    }
}

/// `position × handle / max(1, slots)`, in whole seconds, at least one.
fn wait_for(handle_ms: f64, position: u32, slots: u32) -> Duration {
    let ms = handle_ms.max(0.0) * f64::from(position) / f64::from(slots.max(1));
    let secs = (ms / 1000.0).round();
    let secs = if secs.is_finite() && secs >= 1.0 {
        secs.min(1e12) as u64
    } else {
        1
    };
    Duration::from_secs(secs)
}
