//! Tenant setup: a tenant's centers and queues built from its [`TenantSetup`],
//! keeping what carries over from the previous setup (handle times, loads,
//! waiting contacts).

use std::collections::{BTreeMap, BTreeSet};

use super::{Acd, Center, Queue, Stage, Tenant};
use crate::hours::Calendar;
use crate::setup::TenantSetup;
use crate::{ContactId, Event, Outcome, Refusal};

impl Acd {
    pub(super) fn configure(&mut self, setup: TenantSetup) {
        if setup.validate().is_err() {
            self.ignored("invalid setup");
            return;
        }
        let tid = setup.tenant;
        let mut centers = BTreeMap::new();
        for spec in &setup.centers {
            let Ok(calendar) = Calendar::new(&spec.time_zone, spec.hours.clone(), &spec.holidays)
            else {
                self.ignored("invalid setup");
                return;
            };
            centers.insert(
                spec.center,
                Center {
                    open: calendar.is_open(self.now),
                    next_open: calendar.next_open(self.now),
                    calendar,
                    spec: spec.clone(),
                    load: 0,
                    waiting: 0,
                },
            );
        }
        let mut old = self.tenants.remove(&tid);
        let mut queues = BTreeMap::new();
        for spec in &setup.queues {
            let prev = old.as_mut().and_then(|t| t.queues.remove(&spec.queue));
            let (handle_ms, rr_last, published, groups) = prev.map_or(
                (
                    self.config.initial_handle_time.as_millis() as f64,
                    None,
                    None,
                    Vec::new(),
                ),
                |q| (q.handle_ms, q.rr_last, q.published, q.groups),
            );
            queues.insert(
                spec.queue,
                Queue {
                    spec: spec.clone(),
                    handle_ms,
                    rr_last,
                    swrr: BTreeMap::new(),
                    online: 0,
                    ready: 0,
                    free: 0,
                    waiting: 0,
                    oldest: BTreeSet::new(),
                    published,
                    groups,
                    probes: [None; 4],
                },
            );
        }
        let (agents, generation) = match &old {
            Some(t) => {
                // Keep loads of centers that persist.
                for (id, c) in &t.centers {
                    if let Some(n) = centers.get_mut(id) {
                        n.load = c.load;
                        n.waiting = c.waiting;
                    }
                }
                for q in t.queues.keys() {
                    self.queue_tenant.remove(q);
                }
                (t.agents.clone(), t.generation + 1)
            }
            None => (BTreeSet::new(), 0),
        };
        for q in queues.keys() {
            self.queue_tenant.insert(*q, tid);
            self.dirty_queues.push(*q);
        }
        self.tenants.insert(
            tid,
            Tenant {
                setup,
                centers,
                queues,
                agents,
                generation,
            },
        );
        self.schedule_hours(tid);
        // Waiting counts and oldest arrivals are rebuilt from the contacts; those
        // of vanished queues are refused.
        let mut gone = Vec::new();
        let mut ids: Vec<ContactId> = self
            .contacts
            .values()
            .filter(|c| c.tenant == tid)
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let Some(c) = self.contacts.get(&id) else {
                continue;
            };
            let known = self.queue_tenant.get(&c.queue) == Some(&tid);
            match (known, c.stage) {
                (false, Stage::Waiting(_) | Stage::Scheduled(_)) => gone.push(id),
                (true, Stage::Waiting(_)) => {
                    let (queue, arrived) = (c.queue, c.arrived);
                    if let Some(q) = self.queue_mut(queue) {
                        q.waiting += 1;
                        q.oldest.insert((arrived, id));
                    }
                }
                _ => {}
            }
        }
        for id in gone {
            self.leave_line(id);
            self.event(Event::Refused {
                contact: id,
                reason: Refusal::UnknownQueue,
            });
            self.left(id, Outcome::Refused);
        }
        self.rebuild_queue_membership(tid);
    }
}
