//! The agents the core knows, with the indexes routing and estimates read.
//!
//! Every change to an agent goes through [`Roster::update`], which takes the agent
//! out of the indexes, applies the change and puts it back. That single door is
//! what keeps the per-skill tallies and the free-agent order true.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::{AgentId, AgentState, ContactId, SkillId};

/// One agent as the core sees it.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) skills: BTreeSet<SkillId>,
    /// Most contacts held at once (assigned plus the pending offer).
    pub(crate) capacity: u32,
    pub(crate) state: AgentState,
    /// In the order they were accepted.
    pub(crate) assigned: Vec<ContactId>,
    /// At most one offer rings at a time.
    pub(crate) offer: Option<ContactId>,
    /// Where the agent stands in the longest-idle order: the last time they became
    /// `Available`, accepted a contact or finished one (each changes how busy they
    /// are). The longest-idle free agent gets the next offer. An offer
    /// that ends without the agent taking the contact (the visitor left) leaves it
    /// alone, so the agent keeps their place; declining or missing an offer makes
    /// the agent not-ready, and becoming `Available` again sets it anew.
    pub(crate) idle_since: Instant,
}

impl Agent {
    /// A known agent with no console: contributes to nothing until updated.
    fn offline(now: Instant) -> Self {
        Self {
            skills: BTreeSet::new(),
            capacity: 0,
            state: AgentState::Offline,
            assigned: Vec::new(),
            offer: None,
            idle_since: now,
        }
    }

    fn is_online(&self) -> bool {
        self.state != AgentState::Offline
    }

    /// Can take an offer right now.
    fn is_free(&self) -> bool {
        self.state == AgentState::Available
            && self.offer.is_none()
            && (self.assigned.len() as u64) < u64::from(self.capacity)
    }
}

/// What the agents holding one skill add up to.
#[derive(Debug, Clone, Copy, Default)]
struct SkillTally {
    /// Sum of capacities of online agents: the `n` of the wait estimate.
    online_capacity: u64,
    /// Agents in the `Available` state, whatever their load.
    available: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Roster {
    agents: BTreeMap<AgentId, Agent>,
    tally: BTreeMap<SkillId, SkillTally>,
    /// Free agents ordered by (idle since, id): the first one holding a skill is the
    /// longest-idle free agent for it; the id breaks ties so the order is stable.
    free: BTreeSet<(Instant, AgentId)>,
}

impl Roster {
    pub(crate) fn get(&self, id: AgentId) -> Option<&Agent> {
        self.agents.get(&id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (AgentId, &Agent)> {
        self.agents.iter().map(|(id, agent)| (*id, agent))
    }

    /// Adds an unknown agent as `Offline`; a known one is left as it is.
    pub(crate) fn enrol(&mut self, id: AgentId, now: Instant) {
        self.agents.entry(id).or_insert_with(|| Agent::offline(now));
    }

    /// Changes one agent and keeps the indexes in step. Returns what `change`
    /// returned and the skills the agent held before or after (whose queues may
    /// now route or estimate differently), or `None` for an unknown agent.
    pub(crate) fn update<R>(
        &mut self,
        id: AgentId,
        change: impl FnOnce(&mut Agent) -> R,
    ) -> Option<(R, Vec<SkillId>)> {
        let Self {
            agents,
            tally,
            free,
        } = self;
        let agent = agents.get_mut(&id)?;
        let mut touched: BTreeSet<SkillId> = agent.skills.clone();
        withdraw(tally, free, id, agent);
        let result = change(agent);
        deposit(tally, free, id, agent);
        touched.extend(agent.skills.iter().copied());
        Some((result, touched.into_iter().collect()))
    }

    /// The longest-idle agent who holds `skill` and can take an offer now.
    pub(crate) fn longest_idle_free(&self, skill: SkillId) -> Option<AgentId> {
        self.free.iter().map(|(_, id)| *id).find(|id| {
            self.agents
                .get(id)
                .is_some_and(|a| a.skills.contains(&skill))
        })
    }

    /// Whether some agent holding `skill` can take an offer now.
    pub(crate) fn has_free(&self, skill: SkillId) -> bool {
        self.longest_idle_free(skill).is_some()
    }

    pub(crate) fn online_capacity(&self, skill: SkillId) -> u64 {
        self.tally.get(&skill).map_or(0, |t| t.online_capacity)
    }

    pub(crate) fn any_available(&self, skill: SkillId) -> bool {
        self.tally.get(&skill).is_some_and(|t| t.available > 0)
    }
}

/// Takes the agent's share out of the indexes (before a change).
fn withdraw(
    tally: &mut BTreeMap<SkillId, SkillTally>,
    free: &mut BTreeSet<(Instant, AgentId)>,
    id: AgentId,
    agent: &Agent,
) {
    free.remove(&(agent.idle_since, id));
    if !agent.is_online() {
        return;
    }
    for skill in &agent.skills {
        if let Some(t) = tally.get_mut(skill) {
            t.online_capacity = t.online_capacity.saturating_sub(u64::from(agent.capacity));
            if agent.state == AgentState::Available {
                t.available = t.available.saturating_sub(1);
            }
        }
    }
}

/// Puts the agent's share back (after a change); the mirror of [`withdraw`].
fn deposit(
    tally: &mut BTreeMap<SkillId, SkillTally>,
    free: &mut BTreeSet<(Instant, AgentId)>,
    id: AgentId,
    agent: &Agent,
) {
    if agent.is_free() {
        free.insert((agent.idle_since, id));
    }
    if !agent.is_online() {
        return;
    }
    for skill in &agent.skills {
        let t = tally.entry(*skill).or_default();
        t.online_capacity = t.online_capacity.saturating_add(u64::from(agent.capacity));
        if agent.state == AgentState::Available {
            t.available = t.available.saturating_add(1);
        }
    }
}
