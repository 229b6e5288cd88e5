//! A contact entering the line and what it requires: arrival (entitlement,
//! hours, qualification, center choice), re-entry after an offer or a callback
//! dial, and the changes to its requirement while it waits (becoming a callback,
//! the end of a preference wait, overflow).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::line::{Alt, Req};
use super::{Acd, Contact, Stage, Timer};
use crate::setup::{OverflowAction, SkillReq};
use crate::{CallbackPlan, CenterId, ContactId, ContactSpec, Event, Media, Outcome, Refusal};

impl Acd {
    fn refuse(&mut self, contact: ContactId, reason: Refusal) {
        self.event(Event::Refused { contact, reason });
        self.event(Event::Left {
            contact,
            outcome: Outcome::Refused,
        });
    }

    pub(super) fn arrive(&mut self, spec: &ContactSpec) {
        let id = spec.contact;
        if self.contacts.contains_key(&id) {
            self.ignored("contact already known");
            return;
        }
        let Some(&tid) = self.queue_tenant.get(&spec.queue) else {
            self.refuse(id, Refusal::UnknownQueue);
            return;
        };
        let Some(tenant) = self.tenants.get(&tid) else {
            self.refuse(id, Refusal::UnknownQueue);
            return;
        };
        let Some(queue) = tenant.queues.get(&spec.queue) else {
            self.refuse(id, Refusal::UnknownQueue);
            return;
        };
        let class = spec.attributes.class.as_deref();
        if let Some(rule) = tenant
            .setup
            .media_rules
            .iter()
            .find(|r| r.media == spec.media)
            && !class.is_some_and(|c| rule.classes.iter().any(|x| x == c))
        {
            let reason = Refusal::NotEntitled {
                media: spec.media,
                allowed: rule.classes.clone(),
            };
            self.refuse(id, reason);
            return;
        }
        let boost = class
            .and_then(|c| tenant.setup.classes.iter().find(|k| k.name == c))
            .map_or(0, |k| k.priority_boost);
        let priority = queue
            .spec
            .priority
            .saturating_add(spec.priority)
            .saturating_add(boost);
        let candidates: BTreeSet<CenterId> = if queue.spec.centers.is_empty() {
            tenant.centers.keys().copied().collect()
        } else {
            queue.spec.centers.iter().copied().collect()
        };
        let scheduled = spec.not_before.filter(|t| *t > self.now);
        // A retry's time holds the contact back without moving its place;
        // like the retry it replaces, it is not refused when closed.
        let retry = spec.retry_at.filter(|t| *t > self.now);
        let enters_at = scheduled.max(retry);
        if enters_at.is_none()
            && !candidates
                .iter()
                .filter_map(|c| tenant.centers.get(c))
                .any(|c| c.calendar.is_open(self.now))
        {
            let next_open = candidates
                .iter()
                .filter_map(|c| tenant.centers.get(c))
                .filter_map(|c| c.calendar.next_open(self.now))
                .min();
            self.refuse(id, Refusal::Closed { next_open });
            return;
        }
        let skills = merge_skills(&queue.spec.required, &spec.skills);
        // Only what is needed later (no clone of the whole spec per arrival).
        let policy = queue.spec.center_policy;
        let preferred_wait = spec
            .preferred_wait
            .unwrap_or(queue.spec.preferred_agent_wait);
        let overflow_after: Vec<Duration> = queue.spec.overflow.iter().map(|r| r.after).collect();
        // Contacts without extra skills share the queue's probe group per media.
        let plain = spec.skills.is_empty();
        let cached = queue.probes[spec.media.index()].filter(|_| plain);
        let probe = if let Some(g) = cached {
            g
        } else {
            let probe = Req {
                tenant: tid,
                queue: spec.queue,
                media: spec.media,
                alts: vec![Alt {
                    skills: skills.clone(),
                    centers: candidates.clone(),
                }],
                preferred: None,
                excluded: None,
            };
            let g = self.group_for(probe);
            if plain && let Some(q) = self.queue_mut(spec.queue) {
                q.probes[spec.media.index()] = Some(g);
            }
            g
        };
        if self.groups[probe].configured.values().all(|n| *n == 0) {
            self.refuse(id, Refusal::NoQualifiedAgents);
            return;
        }
        let preferred = spec.preferred_agent.filter(|a| {
            self.agents
                .get(a)
                .is_some_and(|ag| ag.groups.contains(&probe))
        });
        let center = match preferred.and_then(|a| self.agents.get(&a)) {
            Some(a) => a.spec.center,
            None => self.choose_center(
                tid,
                spec.queue,
                policy,
                probe,
                &candidates,
                &spec.attributes,
            ),
        };
        let base = scheduled.unwrap_or(spec.arrived);
        self.arrival_seq += 1;
        let key = (
            base.0
                .saturating_sub(i64::from(priority).saturating_mul(self.aging_ms)),
            self.arrival_seq,
        );
        let contact = Contact {
            id,
            tenant: tid,
            queue: spec.queue,
            media: spec.media,
            arrived: spec.arrived,
            key,
            stage: Stage::Scheduled(enters_at.unwrap_or(base)),
            center: Some(center),
            // Every candidate center's agents may serve the contact; the chosen
            // center is only preferred (its free agents are offered first), so
            // a contact never waits on an empty center while another has room.
            alts: vec![Alt {
                skills,
                centers: candidates.clone(),
            }],
            preferred,
            excluded: spec.excluded_agent,
            declined: false,
            attempts: spec.attempts_made,
            plan: spec.callback.unwrap_or_default(),
            assigned_at: self.now,
            sent: None,
            sent_at: None,
            epoch: 0,
            // With the probe's very requirement (no preference, nobody
            // excluded) the contact waits in the probe group itself.
            group: (preferred.is_none() && spec.excluded_agent.is_none()).then_some(probe),
            offer_timer: None,
        };
        self.contacts.insert(id, contact);
        if let Some(c) = self.center_mut(tid, center) {
            c.load += 1;
        }
        self.event(Event::Queued {
            contact: id,
            queue: spec.queue,
            center: Some(center),
            scheduled_for: scheduled,
        });
        for (i, after) in overflow_after.into_iter().enumerate() {
            self.timer(base.plus(after), Timer::Overflow(id, i));
        }
        if preferred.is_some() || spec.excluded_agent.is_some() {
            self.timer(base.plus(preferred_wait), Timer::Preference(id));
        }
        if let Some(at) = enters_at {
            self.timer(at, Timer::Enter(id, 0));
        } else {
            self.enter_line(id);
            self.entered.push(id);
        }
    }

    /// Puts a contact that was offered or dialled back at its place (or refuses it
    /// if its queue disappeared meanwhile).
    pub(super) fn requeue(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if self.queue_tenant.get(&c.queue) != Some(&c.tenant) {
            self.event(Event::Refused {
                contact: id,
                reason: Refusal::UnknownQueue,
            });
            self.left(id, Outcome::Refused);
            return;
        }
        self.enter_line(id);
    }

    pub(super) fn scheduled_entry(&mut self, id: ContactId, epoch: u64) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if c.epoch != epoch || !matches!(c.stage, Stage::Scheduled(_)) {
            return;
        }
        // Business hours are not checked again here: the contact was accepted
        // (for a scheduled callback, whatever the hours) and keeps its promise.
        self.requeue(id);
        if self.contacts.contains_key(&id) {
            self.entered.push(id);
        }
    }

    pub(super) fn make_callback(&mut self, id: ContactId, plan: CallbackPlan) {
        let Some(c) = self.contacts.get_mut(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if !matches!(c.stage, Stage::Waiting(_)) {
            self.ignored("only a waiting contact can become a callback");
            return;
        }
        c.media = Media::Callback;
        c.plan = plan;
        c.group = None;
        self.regroup(id);
    }

    pub(super) fn preference_expired(&mut self, id: ContactId) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        if (c.preferred.is_none() && c.excluded.is_none()) || matches!(c.stage, Stage::Held(_)) {
            return;
        }
        c.preferred = None;
        c.excluded = None;
        c.group = None;
        self.event(Event::PreferenceExpired { contact: id });
        self.regroup(id);
    }

    pub(super) fn overflow(&mut self, id: ContactId, rule: usize) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if matches!(c.stage, Stage::Held(_)) {
            return;
        }
        let (tid, queue) = (c.tenant, c.queue);
        let Some(action) = self
            .queue_ref(queue)
            .and_then(|q| q.spec.overflow.get(rule))
            .map(|r| r.action.clone())
        else {
            return;
        };
        let extra = match &action {
            OverflowAction::AddQueue(q) => {
                let Some(tenant) = self.tenants.get(&tid) else {
                    return;
                };
                let Some(target) = tenant.queues.get(q) else {
                    return;
                };
                let centers = if target.spec.centers.is_empty() {
                    tenant.centers.keys().copied().collect()
                } else {
                    target.spec.centers.iter().copied().collect()
                };
                Some(Alt {
                    skills: merge_skills(&target.spec.required, &[]),
                    centers,
                })
            }
            _ => None,
        };
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        match action {
            OverflowAction::DropSkill(skill) => {
                if let Some(a) = c.alts.first_mut() {
                    a.skills.retain(|r| r.skill != skill);
                }
            }
            OverflowAction::LowerLevel { skill, min_level } => {
                if let Some(a) = c.alts.first_mut() {
                    for r in &mut a.skills {
                        if r.skill == skill {
                            r.min_level = r.min_level.min(min_level.clamp(1, 10));
                        }
                    }
                }
            }
            OverflowAction::AddCenter(center) => {
                if let Some(a) = c.alts.first_mut() {
                    a.centers.insert(center);
                }
            }
            OverflowAction::AddQueue(_) => {
                if let Some(alt) = extra
                    && !c.alts.contains(&alt)
                {
                    c.alts.push(alt);
                }
            }
        }
        c.group = None;
        self.event(Event::Overflowed { contact: id, rule });
        self.regroup(id);
    }
}

/// The queue's skills plus the contact's; a skill named twice keeps the higher
/// level. Levels are clamped to 1-10; the result is sorted (a group key).
fn merge_skills(a: &[SkillReq], b: &[SkillReq]) -> Vec<SkillReq> {
    let mut map: BTreeMap<crate::SkillId, u8> = BTreeMap::new();
    for r in a.iter().chain(b) {
        let level = r.min_level.clamp(1, 10);
        let e = map.entry(r.skill).or_insert(level);
        *e = (*e).max(level);
    }
    map.into_iter()
        .map(|(skill, min_level)| SkillReq { skill, min_level })
        .collect()
}
