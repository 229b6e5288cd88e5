//! The line: waiting contacts grouped by identical requirement, and routing.
//!
//! A [`Group`] holds the waiting contacts of one queue whose requirement (media,
//! alternatives, preferred or excluded agent) is identical, ordered by their [`Key`], and the
//! set of *free* agents qualified for it, ordered by idle time. Which agents
//! qualify for a group is worked out once, when the group is created (a scan of
//! the tenant's agents) or when an agent is (re)defined (a scan of the groups);
//! groups are kept when they empty so this is not repeated.
//!
//! `Acd::active` indexes the groups that have both a waiting contact and a free
//! agent, by head key. A routing decision is therefore: take the first entry of
//! `active` (O(log G)), pick an agent from that group's free set (O(log F) for
//! longest idle; a scan of the group's free agents for the other strategies),
//! then update the groups the chosen agent qualifies for (O(k log F) for k such
//! groups). No work is proportional to the number of waiting contacts or of all
//! agents.

use std::collections::{BTreeMap, BTreeSet};

use super::{Acd, Key, Stage, Timer};
use crate::setup::{SkillReq, Strategy};
use crate::{AgentId, CenterId, Command, ContactId, Event, Media, QueueId, TenantId, Time};

pub(super) type GroupId = usize;

/// One way to qualify: every skill at its level, in one of the centers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Alt {
    pub skills: Vec<SkillReq>,
    pub centers: BTreeSet<CenterId>,
}

/// What a contact needs; contacts with equal `Req` share a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Req {
    pub tenant: TenantId,
    pub queue: QueueId,
    pub media: Media,
    pub alts: Vec<Alt>,
    pub preferred: Option<AgentId>,
    /// An agent who may not serve it (for a while; see `ContactSpec`).
    pub excluded: Option<AgentId>,
}

/// A contact in a group's line, with what it was last told (kept here rather
/// than in the contact, so publishing estimates walks the line alone and does
/// not look up every waiting contact; copied to and from the contact when it
/// enters and leaves).
#[derive(Debug, Clone, Copy)]
pub(super) struct Waiter {
    pub id: ContactId,
    /// Last `Waiting` sent: (position, whole seconds) and when.
    pub sent: Option<(u32, u64)>,
    pub sent_at: Option<Time>,
}

#[derive(Debug)]
pub(super) struct Group {
    pub req: Req,
    pub line: BTreeMap<Key, Waiter>,
    /// Free qualified agents by (idle since, id).
    pub free: BTreeSet<(Time, AgentId)>,
    /// Slots of online qualified agents (for the estimate).
    pub staffed: u32,
    /// Configured qualified agents per center (any state).
    pub configured: BTreeMap<CenterId, u32>,
    /// Ready (online, presence ready) qualified agents per center.
    pub ready: BTreeMap<CenterId, u32>,
    /// Entry in `Acd::active`, if any.
    pub active: Option<Key>,
    /// The first key of `line` (kept by `Group::line_changed`), so `reindex`
    /// does not walk down the line's B-tree each time a qualified agent frees
    /// up or is taken.
    pub head: Option<Key>,
    /// Estimates changed since last published.
    pub dirty: bool,
    pub publish_at: Option<Time>,
    pub last_publish: Option<Time>,
}

impl Group {
    /// Call after every change to `line`.
    fn line_changed(&mut self) {
        self.head = self.line.first_key_value().map(|(k, _)| *k);
    }
}

impl Acd {
    /// The group for `req`, created (and filled with its qualified agents) if new.
    pub(super) fn group_for(&mut self, req: Req) -> GroupId {
        if let Some(&g) = self.group_index.get(&req) {
            return g;
        }
        let g = self.groups.len();
        let mut group = Group {
            req: req.clone(),
            line: BTreeMap::new(),
            free: BTreeSet::new(),
            staffed: 0,
            configured: BTreeMap::new(),
            ready: BTreeMap::new(),
            active: None,
            head: None,
            dirty: false,
            publish_at: None,
            last_publish: None,
        };
        if let Some(t) = self.tenants.get(&req.tenant) {
            for id in &t.agents {
                let Some(a) = self.agents.get_mut(id) else {
                    continue;
                };
                if !a.qualifies(&req) {
                    continue;
                }
                a.groups.push(g);
                *group.configured.entry(a.spec.center).or_insert(0) += 1;
                let snap = a.snap;
                if snap.online {
                    group.staffed = group.staffed.saturating_add(a.slots(req.media));
                }
                if snap.ready {
                    *group.ready.entry(a.spec.center).or_insert(0) += 1;
                }
                if snap.mask & (1 << req.media.index()) != 0 {
                    group.free.insert((snap.idle, *id));
                }
            }
        }
        self.groups.push(group);
        if let Some(q) = self.queue_mut(req.queue) {
            q.groups.push(g);
        }
        self.group_index.insert(req, g);
        g
    }

    /// The contact's requirement as it stands.
    fn req_of(&self, id: ContactId) -> Option<Req> {
        let c = self.contacts.get(&id)?;
        Some(Req {
            tenant: c.tenant,
            queue: c.queue,
            media: c.media,
            alts: c.alts.clone(),
            preferred: c.preferred,
            excluded: c.excluded,
        })
    }

    /// Puts a contact into the line at its key.
    pub(super) fn enter_line(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let g = if let Some(g) = c.group {
            g
        } else {
            let Some(req) = self.req_of(id) else {
                return;
            };
            let g = self.group_for(req);
            if let Some(c) = self.contacts.get_mut(&id) {
                c.group = Some(g);
            }
            g
        };
        self.set_stage(id, Stage::Waiting(g));
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let (key, queue, arrived, tenant, center) = (c.key, c.queue, c.arrived, c.tenant, c.center);
        let waiter = Waiter {
            id,
            sent: c.sent,
            sent_at: c.sent_at,
        };
        self.groups[g].line.insert(key, waiter);
        self.groups[g].line_changed();
        if let Some(q) = self.queue_mut(queue) {
            q.waiting += 1;
            q.oldest.insert((arrived, id));
        }
        if let Some(center) = center.and_then(|c| self.center_mut(tenant, c)) {
            center.waiting += 1;
        }
        self.dirty_queues.push(queue);
        self.reindex(g);
        self.mark_dirty(g);
    }

    /// Takes a waiting contact out of the line (its stage is the caller's).
    pub(super) fn leave_line(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let Stage::Waiting(g) = c.stage else {
            return;
        };
        let (key, queue, arrived, tenant, center) = (c.key, c.queue, c.arrived, c.tenant, c.center);
        let removed = self.groups.get_mut(g).and_then(|group| {
            let w = group.line.remove(&key);
            group.line_changed();
            w
        });
        if let Some(w) = removed
            && let Some(c) = self.contacts.get_mut(&id)
        {
            c.sent = w.sent;
            c.sent_at = w.sent_at;
        }
        if let Some(q) = self.queue_mut(queue) {
            q.waiting = q.waiting.saturating_sub(1);
            q.oldest.remove(&(arrived, id));
        }
        if let Some(center) = center.and_then(|c| self.center_mut(tenant, c)) {
            center.waiting = center.waiting.saturating_sub(1);
        }
        self.dirty_queues.push(queue);
        self.reindex(g);
        self.mark_dirty(g);
    }

    /// Moves a waiting contact to the group of its (changed) requirement, keeping
    /// its key. A contact not waiting picks its group up when it next enters.
    pub(super) fn regroup(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let Stage::Waiting(old) = c.stage else {
            return;
        };
        let key = c.key;
        let Some(req) = self.req_of(id) else {
            return;
        };
        let g = self.group_for(req);
        if let Some(c) = self.contacts.get_mut(&id) {
            c.group = Some(g);
        }
        if g == old {
            return;
        }
        let waiter = self
            .groups
            .get_mut(old)
            .and_then(|group| {
                let w = group.line.remove(&key);
                group.line_changed();
                w
            })
            .unwrap_or(Waiter {
                id,
                sent: None,
                sent_at: None,
            });
        self.groups[g].line.insert(key, waiter);
        self.groups[g].line_changed();
        self.set_stage(id, Stage::Waiting(g));
        self.reindex(old);
        self.mark_dirty(old);
        self.reindex(g);
        self.mark_dirty(g);
    }

    /// Updates the group's entry in `active`.
    pub(super) fn reindex(&mut self, g: GroupId) {
        let Some(group) = self.groups.get_mut(g) else {
            return;
        };
        let want = if group.free.is_empty() {
            None
        } else {
            group.head
        };
        if want == group.active {
            return;
        }
        if let Some(k) = group.active.take() {
            self.active.remove(&(k, g));
        }
        if let Some(k) = want {
            self.active.insert((k, g));
            group.active = Some(k);
        }
    }

    /// Offers waiting contacts to free agents until none matches: always the
    /// lowest key among the groups some free agent qualifies for.
    pub(super) fn route(&mut self) {
        while let Some(&(key, g)) = self.active.first() {
            let contact = self
                .groups
                .get(g)
                .and_then(|gr| gr.line.get(&key).map(|w| w.id));
            let prefer = contact
                .and_then(|c| self.contacts.get(&c))
                .and_then(|c| c.center);
            let agent = prefer
                .and_then(|center| self.pick_agent(g, |a| a == center))
                .or_else(|| self.pick_agent(g, |_| true));
            if let (Some(c), Some(a)) = (contact, agent) {
                self.dispatch(c, a);
            } else {
                // Cannot happen while the index is kept right; drop the entry
                // rather than loop.
                self.active.remove(&(key, g));
                if let Some(gr) = self.groups.get_mut(g) {
                    gr.active = None;
                }
            }
        }
    }

    /// The free agent of group `g`, among those whose center passes `in_center`,
    /// that its queue's strategy picks.
    fn pick_agent(&self, g: GroupId, in_center: impl Fn(CenterId) -> bool) -> Option<AgentId> {
        let group = self.groups.get(g)?;
        let queue = self.queue_ref(group.req.queue);
        let strategy = queue.map_or(Strategy::LongestIdle, |q| q.spec.strategy);
        // In idle order, longest idle first; lazily, so the usual longest-idle
        // pick stops at the first match.
        let free = || {
            group.free.iter().map(|&(_, a)| a).filter(|a| {
                self.agents
                    .get(a)
                    .is_some_and(|ag| in_center(ag.spec.center))
            })
        };
        match strategy {
            Strategy::LongestIdle => free().next(),
            Strategy::MostSkilled => {
                let required = queue.map_or(&[][..], |q| q.spec.required.as_slice());
                let mut best: Option<(u32, AgentId)> = None;
                for a in free() {
                    let Some(agent) = self.agents.get(&a) else {
                        continue;
                    };
                    let score: u32 = required
                        .iter()
                        .map(|r| u32::from(agent.level(r.skill)))
                        .sum();
                    // Free is in idle order: strictly greater keeps the longest idle.
                    if best.is_none_or(|(s, _)| score > s) {
                        best = Some((score, a));
                    }
                }
                best.map(|(_, a)| a)
            }
            Strategy::LeastOccupied => {
                let media = group.req.media;
                let mut best: Option<(u64, u64, AgentId)> = None;
                for a in free() {
                    let Some(agent) = self.agents.get(&a) else {
                        continue;
                    };
                    let held = (agent.held.len() + agent.wrapping.len()) as u64;
                    let cap = u64::from(agent.spec.capacity.of(media).max(1));
                    // held/cap < best_held/best_cap  <=>  held*best_cap < best_held*cap
                    if best.is_none_or(|(bh, bc, _)| held * bc < bh * cap) {
                        best = Some((held, cap, a));
                    }
                }
                best.map(|(_, _, a)| a)
            }
            Strategy::RoundRobin => {
                let last = queue.and_then(|q| q.rr_last);
                let mut after: Option<AgentId> = None;
                let mut lowest: Option<AgentId> = None;
                for a in free() {
                    if lowest.is_none_or(|l| a < l) {
                        lowest = Some(a);
                    }
                    if last.is_some_and(|l| a > l) && after.is_none_or(|b| a < b) {
                        after = Some(a);
                    }
                }
                after.or(lowest)
            }
        }
    }

    /// Offers (or, for a callback, dials) `contact` to `agent`.
    fn dispatch(&mut self, contact: ContactId, agent: AgentId) {
        self.leave_line(contact);
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        let (queue, media, attempt) = (c.queue, c.media, c.attempts.saturating_add(1));
        let timeout = match self.queue_mut(queue) {
            Some(q) => {
                q.rr_last = Some(agent);
                q.spec.offer_timeout
            }
            None => std::time::Duration::from_secs(20),
        };
        if let Some(a) = self.agents.get_mut(&agent) {
            a.pending = Some(contact);
        }
        if media == Media::Callback {
            self.set_stage(contact, Stage::Dialing(agent));
            self.command(Command::DialCallback {
                contact,
                agent,
                attempt,
            });
        } else {
            let expires = self.now.plus(timeout);
            let epoch = self.set_stage(contact, Stage::Offered(agent));
            let key = self.timer(expires, Timer::Offer(contact, epoch));
            if let Some(c) = self.contacts.get_mut(&contact) {
                c.offer_timer = Some(key);
            }
            self.command(Command::Offer {
                contact,
                agent,
                expires,
            });
            self.event(Event::Offered { contact, agent });
        }
        self.touch(agent);
    }

    /// 1 + contacts ahead in the same group. O(position) via the ordered map;
    /// cheap for contacts that join at the tail (see `estimate`).
    pub(super) fn position_of(&self, g: GroupId, key: Key) -> u32 {
        self.groups
            .get(g)
            .map_or(1, |gr| gr.line.range(..key).count() as u32 + 1)
    }
}
