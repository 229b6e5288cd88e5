//! Agents: presence, what they hold, the derived [`AgentState`], and the
//! bookkeeping that keeps each waiting group's set of free qualified agents and
//! each queue's counters up to date when an agent changes.

use std::collections::BTreeSet;

use super::line::{GroupId, Req};
use super::{Acd, Stage};
use crate::view::AgentView;
use crate::{
    AgentId, AgentSpec, AgentState, CancelReason, CenterId, Command, ContactId, Event, Media,
    NotReadyReason, QueueId, Time,
};

/// A contact in wrap-up (it has left the core; the agent's slot is still taken).
#[derive(Debug, Clone)]
pub(super) struct Wrap {
    pub contact: ContactId,
    pub queue: QueueId,
    pub media: Media,
    pub until: Time,
    pub assigned_at: Time,
    /// Its timeout in `Acd::timers`, removed when the wrap-up ends early.
    pub timer: super::TimerKey,
}

/// What the group sets and queue counters currently hold for an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Snap {
    /// Bit `m.index()`: free for media `m`.
    pub mask: u8,
    pub idle: Time,
    pub online: bool,
    /// Online with presence Ready.
    pub ready: bool,
}

#[derive(Debug)]
pub(super) struct Agent {
    pub spec: AgentSpec,
    pub online: bool,
    /// `None` = ready.
    pub presence: Option<NotReadyReason>,
    /// An offer or a callback dial.
    pub pending: Option<ContactId>,
    pub held: Vec<(ContactId, Media)>,
    pub wrapping: Vec<Wrap>,
    pub idle_since: Time,
    pub snap: Snap,
    pub state: AgentState,
    /// Groups (waiting or probe) the agent qualifies for.
    pub groups: Vec<GroupId>,
    /// Queues whose own requirement the agent meets.
    pub queues: Vec<QueueId>,
}

impl Agent {
    pub fn level(&self, skill: crate::SkillId) -> u8 {
        self.spec
            .skills
            .iter()
            .filter(|(s, _)| *s == skill)
            .map(|(_, l)| *l)
            .max()
            .unwrap_or(0)
    }

    pub fn has_skills(&self, skills: &[crate::SkillReq]) -> bool {
        skills.iter().all(|r| self.level(r.skill) >= r.min_level)
    }

    pub fn qualifies(&self, req: &Req) -> bool {
        self.spec.tenant == req.tenant
            && self.spec.capacity.of(req.media) >= 1
            && req.preferred.is_none_or(|p| p == self.spec.agent)
            && req.excluded != Some(self.spec.agent)
            && req
                .alts
                .iter()
                .any(|a| a.centers.contains(&self.spec.center) && self.has_skills(&a.skills))
    }

    /// Free to be offered a contact of `media` (see the crate doc).
    pub fn free_for(&self, media: Media) -> bool {
        if !self.online || self.presence.is_some() || self.pending.is_some() {
            return false;
        }
        let cap = self.spec.capacity.of(media);
        if cap == 0 {
            return false;
        }
        if media.is_call() {
            self.held.is_empty() && self.wrapping.is_empty()
        } else {
            let call = self.held.iter().any(|(_, m)| m.is_call())
                || self.wrapping.iter().any(|w| w.media.is_call());
            !call && self.held.len() + self.wrapping.len() < cap as usize
        }
    }

    /// Slots of `media` the agent staffs (chat capacity, or one call).
    pub fn slots(&self, media: Media) -> u32 {
        if media.is_call() {
            1
        } else {
            self.spec.capacity.of(media)
        }
    }

    fn snap_now(&self) -> Snap {
        let mut mask = 0;
        for m in Media::ALL {
            if self.free_for(m) {
                mask |= 1 << m.index();
            }
        }
        Snap {
            mask,
            idle: self.idle_since,
            online: self.online,
            ready: self.online && self.presence.is_none(),
        }
    }

    pub fn derived_state(&self) -> AgentState {
        if !self.online {
            AgentState::Offline
        } else if let Some(r) = &self.presence {
            AgentState::NotReady(r.clone())
        } else if self.pending.is_some() {
            AgentState::Reserved
        } else if !self.held.is_empty() {
            AgentState::Busy
        } else if let Some(until) = self.wrapping.iter().map(|w| w.until).max() {
            AgentState::WrapUp { until }
        } else {
            AgentState::Available
        }
    }

    pub fn view(&self) -> AgentView {
        AgentView {
            agent: self.spec.agent,
            center: self.spec.center,
            state: self.state.clone(),
            assigned: self.held.iter().map(|(c, _)| *c).collect(),
            wrapping_up: self.wrapping.iter().map(|w| w.contact).collect(),
            offered: self.pending,
            capacity: self.spec.capacity,
        }
    }
}

impl Acd {
    /// Brings the group sets, queue counters and published state of `agent` in
    /// line with its current state. Call after every change to an agent.
    pub(super) fn touch(&mut self, agent: AgentId) {
        let snap = match self.agents.get(&agent) {
            Some(a) => a.snap_now(),
            None => return,
        };
        self.apply_snap(agent, snap);
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        let state = a.derived_state();
        if state != a.state {
            a.state = state.clone();
            self.event(Event::AgentStateChanged { agent, state });
        }
    }

    /// Moves the agent's contributions from its old snapshot to `new`.
    fn apply_snap(&mut self, agent: AgentId, new: Snap) {
        let Acd {
            agents,
            groups,
            tenants,
            dirty_queues,
            scratch_groups,
            ..
        } = self;
        let Some(a) = agents.get_mut(&agent) else {
            return;
        };
        let old = a.snap;
        if old == new {
            return;
        }
        a.snap = new;
        let center = a.spec.center;
        // A buffer kept in `Acd` so a change allocates nothing.
        let mut reindex = std::mem::take(scratch_groups);
        reindex.clear();
        for &g in &a.groups {
            let Some(group) = groups.get_mut(g) else {
                continue;
            };
            let bit = 1u8 << group.req.media.index();
            let (was, is) = (old.mask & bit != 0, new.mask & bit != 0);
            if was != is || (is && old.idle != new.idle) {
                if was {
                    group.free.remove(&(old.idle, agent));
                }
                if is {
                    group.free.insert((new.idle, agent));
                }
                if was != is {
                    reindex.push(g);
                }
            }
            if old.online != new.online {
                let slots = a.slots(group.req.media);
                if new.online {
                    group.staffed = group.staffed.saturating_add(slots);
                } else {
                    group.staffed = group.staffed.saturating_sub(slots);
                }
                if !group.line.is_empty() {
                    reindex.push(g);
                }
            }
            if old.ready != new.ready {
                let n = group.ready.entry(center).or_insert(0);
                if new.ready {
                    *n += 1;
                } else {
                    *n = n.saturating_sub(1);
                }
            }
        }
        if let Some(t) = tenants.get_mut(&a.spec.tenant) {
            for q in &a.queues {
                let Some(queue) = t.queues.get_mut(q) else {
                    continue;
                };
                let mut changed = false;
                for (was, is, n) in [
                    (old.online, new.online, &mut queue.online),
                    (old.ready, new.ready, &mut queue.ready),
                    (old.mask != 0, new.mask != 0, &mut queue.free),
                ] {
                    if was != is {
                        changed = true;
                        if is {
                            *n += 1;
                        } else {
                            *n = n.saturating_sub(1);
                        }
                    }
                }
                if changed {
                    dirty_queues.push(*q);
                }
            }
        }
        for &g in &reindex {
            self.reindex(g);
            self.mark_dirty(g);
        }
        self.scratch_groups = reindex;
    }

    /// Takes the agent out of every group and queue (before its qualification
    /// changes or it is forgotten).
    fn detach(&mut self, agent: AgentId) {
        self.apply_snap(agent, Snap::default());
        let Acd { agents, groups, .. } = self;
        if let Some(a) = agents.get_mut(&agent) {
            for g in a.groups.drain(..) {
                if let Some(group) = groups.get_mut(g)
                    && let Some(n) = group.configured.get_mut(&a.spec.center)
                {
                    *n = n.saturating_sub(1);
                }
            }
            a.queues.clear();
        }
    }

    /// Puts the agent into every group and queue it qualifies for.
    fn attach(&mut self, agent: AgentId) {
        let Acd {
            agents,
            groups,
            tenants,
            ..
        } = self;
        let Some(a) = agents.get_mut(&agent) else {
            return;
        };
        for (g, group) in groups.iter_mut().enumerate() {
            if a.qualifies(&group.req) {
                a.groups.push(g);
                *group.configured.entry(a.spec.center).or_insert(0) += 1;
            }
        }
        if let Some(t) = tenants.get(&a.spec.tenant) {
            a.queues = t
                .queues
                .iter()
                .filter(|(_, q)| queue_qualifies(a, &t.centers, &q.spec))
                .map(|(id, _)| *id)
                .collect();
        }
        self.touch(agent);
    }

    /// Recomputes which agents serve each queue of a tenant (after a setup).
    pub(super) fn rebuild_queue_membership(&mut self, tenant: crate::TenantId) {
        let Some(t) = self.tenants.get(&tenant) else {
            return;
        };
        let ids: Vec<AgentId> = t.agents.iter().copied().collect();
        for id in ids {
            self.detach(id);
            self.attach(id);
        }
    }

    pub(super) fn define_agent(&mut self, mut spec: AgentSpec) {
        for (_, level) in &mut spec.skills {
            *level = (*level).clamp(1, 10);
        }
        let id = spec.agent;
        if let Some(a) = self.agents.get(&id) {
            if a.spec == spec {
                return;
            }
            let old_tenant = a.spec.tenant;
            self.detach(id);
            if let Some(t) = self.tenants.get_mut(&old_tenant) {
                t.agents.remove(&id);
            }
            if let Some(a) = self.agents.get_mut(&id) {
                a.spec = spec.clone();
            }
        } else {
            self.agents.insert(
                id,
                Agent {
                    spec: spec.clone(),
                    online: false,
                    presence: Some(NotReadyReason::Login),
                    pending: None,
                    held: Vec::new(),
                    wrapping: Vec::new(),
                    idle_since: self.now,
                    snap: Snap::default(),
                    state: AgentState::Offline,
                    groups: Vec::new(),
                    queues: Vec::new(),
                },
            );
        }
        self.tenants
            .entry(spec.tenant)
            .and_modify(|t| {
                t.agents.insert(id);
            })
            .or_insert_with(|| super::Tenant {
                setup: crate::TenantSetup {
                    tenant: spec.tenant,
                    centers: Vec::new(),
                    queues: Vec::new(),
                    classes: Vec::new(),
                    media_rules: Vec::new(),
                },
                centers: std::collections::BTreeMap::new(),
                queues: std::collections::BTreeMap::new(),
                agents: BTreeSet::from([id]),
                generation: 0,
            });
        self.attach(id);
    }

    pub(super) fn remove_agent(&mut self, agent: AgentId) {
        if !self.agents.contains_key(&agent) {
            self.ignored("unknown agent");
            return;
        }
        self.agent_offline(agent);
        // A callback being dialled is withdrawn (the dial is cancelled like an
        // offer) and goes back to its place.
        if let Some(c) = self.agents.get(&agent).and_then(|a| a.pending) {
            self.command(Command::CancelOffer {
                contact: c,
                agent,
                reason: CancelReason::AgentOffline,
            });
            self.release_pending(agent, c);
            self.requeue(c);
        }
        self.detach(agent);
        let wraps: Vec<ContactId> = self
            .agents
            .get(&agent)
            .map(|a| a.wrapping.iter().map(|w| w.contact).collect())
            .unwrap_or_default();
        for w in wraps {
            self.wrapups.remove(&w);
        }
        if let Some(a) = self.agents.get(&agent) {
            for w in &a.wrapping {
                self.timers.remove(&w.timer);
            }
        }
        if let Some(a) = self.agents.remove(&agent)
            && let Some(t) = self.tenants.get_mut(&a.spec.tenant)
        {
            t.agents.remove(&agent);
        }
    }

    pub(super) fn agent_online(&mut self, agent: AgentId) {
        let Some(a) = self.agents.get_mut(&agent) else {
            self.ignored("unknown agent");
            return;
        };
        if a.online {
            self.ignored("agent already online");
            return;
        }
        a.online = true;
        a.presence = Some(NotReadyReason::Login);
        self.touch(agent);
    }

    pub(super) fn agent_offline(&mut self, agent: AgentId) {
        let Some(a) = self.agents.get_mut(&agent) else {
            self.ignored("unknown agent");
            return;
        };
        if !a.online {
            return;
        }
        a.online = false;
        self.withdraw(agent);
        self.touch(agent);
    }

    /// Withdraws a pending offer (not a callback dial) and requeues its contact.
    fn withdraw(&mut self, agent: AgentId) {
        let Some(c) = self.agents.get(&agent).and_then(|a| a.pending) else {
            return;
        };
        if self.contacts.get(&c).map(|x| x.stage) != Some(Stage::Offered(agent)) {
            return;
        }
        self.command(Command::CancelOffer {
            contact: c,
            agent,
            reason: CancelReason::AgentOffline,
        });
        self.release_pending(agent, c);
        self.requeue(c);
    }

    pub(super) fn agent_presence(&mut self, agent: AgentId, presence: Option<NotReadyReason>) {
        let Some(a) = self.agents.get(&agent) else {
            self.ignored("unknown agent");
            return;
        };
        if !a.online {
            self.ignored("agent is offline");
            return;
        }
        self.set_presence(agent, presence);
    }

    pub(super) fn set_presence(&mut self, agent: AgentId, presence: Option<NotReadyReason>) {
        let now = self.now;
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        if a.presence.is_some() && presence.is_none() {
            a.idle_since = now;
        }
        a.presence = presence;
        self.touch(agent);
    }

    /// Clears the agent's pending offer or dial for `contact` (the contact's stage
    /// is the caller's business).
    pub(super) fn release_pending(&mut self, agent: AgentId, contact: ContactId) {
        if let Some(a) = self.agents.get_mut(&agent)
            && a.pending == Some(contact)
        {
            a.pending = None;
            self.touch(agent);
        }
    }

    pub(super) fn end_wrap_up(&mut self, agent: AgentId, contact: ContactId, timed_out: bool) {
        let now = self.now;
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        let Some(i) = a.wrapping.iter().position(|w| w.contact == contact) else {
            return;
        };
        if timed_out && a.wrapping[i].until > now {
            return;
        }
        let w = a.wrapping.remove(i);
        a.idle_since = now;
        self.timers.remove(&w.timer);
        self.wrapups.remove(&contact);
        self.record_handle_time(w.queue, now.since(w.assigned_at));
        self.event(Event::WrapUpEnded {
            contact,
            agent,
            timed_out,
        });
        self.touch(agent);
    }
}

/// Whether the agent meets a queue's own requirement (skills, centers).
pub(super) fn queue_qualifies(
    a: &Agent,
    centers: &std::collections::BTreeMap<CenterId, super::Center>,
    q: &crate::QueueSpec,
) -> bool {
    let in_center = if q.centers.is_empty() {
        centers.contains_key(&a.spec.center)
    } else {
        q.centers.contains(&a.spec.center)
    };
    in_center && a.has_skills(&q.required)
}
