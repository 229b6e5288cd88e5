//! Center choice for arrivals, and the timers that follow business hours.

use std::collections::BTreeSet;

use super::line::GroupId;
use super::{Acd, Timer};
use crate::setup::CenterPolicy;
use crate::{Attributes, CenterId, QueueId, TenantId};

/// A center considered for an arrival.
#[derive(Debug, Clone, Copy)]
struct Option_ {
    id: CenterId,
    weight: u32,
    /// Waiting contacts per ready qualified agent, as a fraction.
    waiting: u64,
    ready: u64,
}

impl Acd {
    /// Picks the center for an arrival among `candidates` by the queue's policy.
    ///
    /// Tiers, first non-empty wins: open, staffing qualified agents and not full
    /// (the policy applies); then, by least wait: open and staffing (all full:
    /// capacity is ignored rather than refusing); staffing (closed: only for
    /// scheduled callbacks or when qualified agents sit only in closed centers);
    /// any candidate.
    pub(super) fn choose_center(
        &mut self,
        tenant: TenantId,
        queue: QueueId,
        policy: CenterPolicy,
        probe: GroupId,
        candidates: &BTreeSet<CenterId>,
        attributes: &Attributes,
    ) -> CenterId {
        let now = self.now;
        if candidates.len() == 1
            && let Some(only) = candidates.first()
        {
            return *only;
        }
        let Some(t) = self.tenants.get(&tenant) else {
            return candidates.first().copied().unwrap_or(CenterId(0));
        };
        let group = &self.groups[probe];
        let mut tiers: [Vec<Option_>; 4] = Default::default();
        for id in candidates {
            let Some(c) = t.centers.get(id) else {
                continue;
            };
            let staffed = group.configured.get(id).is_some_and(|n| *n > 0);
            let open = c.calendar.is_open(now);
            let full = c.spec.capacity.is_some_and(|cap| c.load >= cap);
            let o = Option_ {
                id: *id,
                weight: c.spec.weight,
                waiting: u64::from(c.waiting),
                ready: u64::from(group.ready.get(id).copied().unwrap_or(0)),
            };
            if open && staffed && !full {
                tiers[0].push(o);
            }
            if open && staffed {
                tiers[1].push(o);
            }
            if staffed {
                tiers[2].push(o);
            }
            tiers[3].push(o);
        }
        let Some((tier, options)) = tiers.into_iter().enumerate().find(|(_, t)| !t.is_empty())
        else {
            return candidates.first().copied().unwrap_or(CenterId(0));
        };
        if tier > 0 {
            // Every open center is full (or none staffs the skills): balance by
            // least wait rather than refuse.
            return least_wait(&options);
        }
        match policy {
            CenterPolicy::LeastWait => least_wait(&options),
            CenterPolicy::Weighted => self.weighted(tenant, queue, &options),
            CenterPolicy::Nearest => {
                if let Some(region) = &attributes.region {
                    let near: Vec<Option_> = options
                        .iter()
                        .filter(|o| {
                            t.centers
                                .get(&o.id)
                                .is_some_and(|c| c.spec.region.as_ref() == Some(region))
                        })
                        .copied()
                        .collect();
                    if !near.is_empty() {
                        return least_wait(&near);
                    }
                }
                if let Some(offset) = attributes.utc_offset_minutes {
                    let distance = |o: &Option_| {
                        let theirs = t
                            .centers
                            .get(&o.id)
                            .map_or(0, |c| c.calendar.utc_offset_minutes(now));
                        let d = (i64::from(theirs) - i64::from(offset)).rem_euclid(1440);
                        d.min(1440 - d)
                    };
                    let best = options.iter().map(distance).min().unwrap_or(0);
                    let near: Vec<Option_> = options
                        .iter()
                        .filter(|o| distance(o) == best)
                        .copied()
                        .collect();
                    return least_wait(&near);
                }
                least_wait(&options)
            }
        }
    }

    /// Smooth weighted round-robin (as nginx does) over the options with weight.
    fn weighted(&mut self, tenant: TenantId, queue: QueueId, options: &[Option_]) -> CenterId {
        let weighted: Vec<&Option_> = options.iter().filter(|o| o.weight > 0).collect();
        if weighted.is_empty() {
            return least_wait(options);
        }
        let Some(q) = self
            .tenants
            .get_mut(&tenant)
            .and_then(|t| t.queues.get_mut(&queue))
        else {
            return least_wait(options);
        };
        let total: i64 = weighted.iter().map(|o| i64::from(o.weight)).sum();
        let mut best: Option<(i64, CenterId)> = None;
        for o in &weighted {
            let current = q.swrr.entry(o.id).or_insert(0);
            *current += i64::from(o.weight);
            if best.is_none_or(|(b, _)| *current > b) {
                best = Some((*current, o.id));
            }
        }
        let Some((_, id)) = best else {
            return least_wait(options);
        };
        if let Some(current) = q.swrr.get_mut(&id) {
            *current -= total;
        }
        id
    }

    /// Schedules the next opening or closing of any of the tenant's centers.
    pub(super) fn schedule_hours(&mut self, tenant: TenantId) {
        let now = self.now;
        let Some(t) = self.tenants.get(&tenant) else {
            return;
        };
        let next = t
            .centers
            .values()
            .filter_map(|c| c.calendar.next_change(now))
            .min();
        let generation = t.generation;
        if let Some(at) = next {
            self.timer(at, Timer::Hours(tenant, generation));
        }
    }

    pub(super) fn hours_changed(&mut self, tenant: TenantId, generation: u64) {
        let now = self.now;
        let Some(t) = self.tenants.get_mut(&tenant) else {
            return;
        };
        if t.generation != generation {
            return;
        }
        for c in t.centers.values_mut() {
            c.open = c.calendar.is_open(now);
            c.next_open = c.calendar.next_open(now);
        }
        self.dirty_queues.extend(t.queues.keys().copied());
        self.schedule_hours(tenant);
    }
}

/// Least expected wait (contacts waiting for the center, plus the newcomer, per
/// ready qualified agent; a center with none ready comes last), ties by weight (higher first)
/// then id.
fn least_wait(options: &[Option_]) -> CenterId {
    options
        .iter()
        .min_by(|a, b| {
            // (a.waiting + 1) / a.ready  vs  (b.waiting + 1) / b.ready; no ready
            // agent at all is worst.
            let l = u128::from(a.waiting + 1) * u128::from(b.ready.max(1));
            let r = u128::from(b.waiting + 1) * u128::from(a.ready.max(1));
            (a.ready == 0)
                .cmp(&(b.ready == 0))
                .then(l.cmp(&r))
                .then(b.weight.cmp(&a.weight))
                .then(a.id.cmp(&b.id))
        })
        .map_or(CenterId(0), |o| o.id)
}
