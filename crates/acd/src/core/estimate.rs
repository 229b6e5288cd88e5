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

use std::collections::BTreeMap;
use std::time::Duration;

use super::line::GroupId;
use super::{Acd, Center, Key, Queue, Stage, Tenant, Timer};
use crate::view::QueueStatus;
use crate::{CenterId, Event, QueueId};

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
        let Acd { groups, out, .. } = self;
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
        for (i, c) in group.line.values_mut().enumerate() {
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
                contact: c.id,
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
        if self.entered.is_empty() {
            return;
        }
        let mut entered = std::mem::take(&mut self.entered);
        for &id in &entered {
            let Some(c) = self.contacts.get(&id) else {
                continue;
            };
            let Stage::Waiting(g) = c.stage else {
                continue;
            };
            let (key, queue) = (c.key, c.queue);
            let position = self.cheap_position(g, key);
            let wait = self.estimate(g, position);
            if let Some(w) = self.groups.get_mut(g).and_then(|gr| gr.line.get_mut(&key)) {
                w.sent = Some((position, wait.as_secs()));
                w.sent_at = Some(now);
            }
            self.event(Event::Waiting {
                contact: id,
                queue,
                position,
                wait,
            });
        }
        entered.clear();
        self.entered = entered;
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
        if self.dirty_queues.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty_queues);
        dirty.sort_unstable();
        dirty.dedup();
        for &q in &dirty {
            let Some(&tid) = self.queue_tenant.get(&q) else {
                continue;
            };
            let Some(Tenant {
                centers, queues, ..
            }) = self.tenants.get_mut(&tid)
            else {
                continue;
            };
            let Some(queue) = queues.get_mut(&q) else {
                continue;
            };
            // `oldest_since` (a B-tree walk) only when the rest changed.
            let mut status = status_of(centers, queue, false);
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
            status.oldest_since = queue.oldest.first().map(|(t, _)| *t);
            queue.published = Some(status.clone());
            self.out.push_back(crate::Output::Event(Event::QueueStatus {
                queue: q,
                status,
            }));
        }
        dirty.clear();
        self.dirty_queues = dirty;
    }

    /// What a newcomer to queue `q` would find. The wait for a newcomer counts
    /// online qualified agents (one slot each, whatever their media) and the
    /// queue's own waiting contacts.
    pub(super) fn compute_status(&self, q: QueueId) -> Option<QueueStatus> {
        let t = self.tenants.get(self.queue_tenant.get(&q)?)?;
        let queue = t.queues.get(&q)?;
        Some(status_of(&t.centers, queue, true))
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
        // Every estimate of the queue moves with its handle time. The list is
        // lent out rather than cloned (`mark_dirty` does not touch it).
        let groups = std::mem::take(&mut queue.groups);
        self.dirty_queues.push(q);
        for &g in &groups {
            self.mark_dirty(g);
        }
        if let Some(queue) = self.queue_mut(q) {
            queue.groups = groups;
        }
    }
}

/// The status of `queue` given its tenant's centers; `oldest_since` is left
/// `None` unless `with_oldest`.
fn status_of(
    centers: &BTreeMap<CenterId, Center>,
    queue: &Queue,
    with_oldest: bool,
) -> QueueStatus {
    let in_queue = || {
        let all = queue.spec.centers.is_empty();
        centers
            .iter()
            .filter(move |(id, _)| all || queue.spec.centers.contains(id))
            .map(|(_, c)| c)
    };
    let open = in_queue().any(|c| c.open);
    let next_open = if open {
        None
    } else {
        in_queue().filter_map(|c| c.next_open).min()
    };
    let wait = if queue.free > 0 {
        Duration::ZERO
    } else {
        wait_for(queue.handle_ms, queue.waiting + 1, queue.online)
    };
    QueueStatus {
        open,
        next_open,
        available: queue.ready > 0,
        free_agents: queue.free,
        wait,
        waiting: queue.waiting,
        oldest_since: if with_oldest {
            queue.oldest.first().map(|(t, _)| *t)
        } else {
            None
        },
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
