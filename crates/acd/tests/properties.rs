//! Random input sequences on a random clock, checked against an observer that
//! follows only the inputs fed and the outputs drained.
//!
//! Checked throughout: no contact is lost or duplicated (each arrived contact is
//! in exactly one of left, scheduled, waiting, offered/dialling, held — and the
//! core's view says the same), no agent holds more than its capacity, no agent has
//! two pending offers, no contact is offered to two agents, offers go in arrival
//! order among contacts with identical requirements (same queue and media, equal
//! priority), and queue status counts the waiting. At the end every offer has
//! resolved (accepted, declined, timed out or cancelled) and every contact has
//! left exactly once with an outcome.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use acd::{
    AgentId, AgentSpec, AgentState, CallbackPlan, Capacity, Command, ContactId, ContactSpec,
    ContactStage, Event, Input, Media, Outcome, Output, QueueId, SkillId,
};
use common::{CENTER, Drained, Sim, TENANT, queue_spec, setup};
use proptest::prelude::*;
use proptest::sample::Index;

const AGENTS: i64 = 5;
const QUEUES: i64 = 2;

/// Capacity is fixed per agent so "never above capacity" is a plain invariant.
fn capacity_of(agent: i64) -> Capacity {
    let chats = (agent % 3) as u32 + 1;
    Capacity::NONE
        .with(Media::Chat, chats)
        .with(Media::Voice, u32::from(agent % 2 == 0))
        .with(Media::Callback, 1)
}

fn media_of(n: u8) -> Media {
    match n % 3 {
        0 => Media::Chat,
        1 => Media::Voice,
        _ => Media::Callback,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Define { agent: i64, skills: Vec<(i64, u8)> },
    Remove { agent: i64 },
    Online { agent: i64 },
    Offline { agent: i64 },
    Ready { agent: i64 },
    NotReady { agent: i64 },
    Arrive { queue: i64, media: u8 },
    Leave { pick: Index },
    Accept { pick: Index, wrong: bool },
    Decline { pick: Index, wrong: bool },
    End { pick: Index },
    WrapDone { pick: Index },
    ToCallback { pick: Index },
    Connected { pick: Index },
    Failed { pick: Index },
    Wait { ms: u64 },
    Timeout,
}

fn op() -> impl Strategy<Value = Op> {
    // Queues 1..=QUEUES+1 so that arrivals into an unknown queue happen too.
    prop_oneof![
        1 => (0..AGENTS, prop::collection::vec((0..2i64, 1..=10u8), 0..3))
            .prop_map(|(agent, skills)| Op::Define { agent, skills }),
        1 => (0..AGENTS).prop_map(|agent| Op::Remove { agent }),
        2 => (0..AGENTS).prop_map(|agent| Op::Online { agent }),
        1 => (0..AGENTS).prop_map(|agent| Op::Offline { agent }),
        3 => (0..AGENTS).prop_map(|agent| Op::Ready { agent }),
        1 => (0..AGENTS).prop_map(|agent| Op::NotReady { agent }),
        5 => (1..=QUEUES + 1, any::<u8>()).prop_map(|(queue, media)| Op::Arrive { queue, media }),
        1 => any::<Index>().prop_map(|pick| Op::Leave { pick }),
        3 => (any::<Index>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong)| Op::Accept { pick, wrong }),
        1 => (any::<Index>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong)| Op::Decline { pick, wrong }),
        2 => any::<Index>().prop_map(|pick| Op::End { pick }),
        1 => any::<Index>().prop_map(|pick| Op::WrapDone { pick }),
        1 => any::<Index>().prop_map(|pick| Op::ToCallback { pick }),
        2 => any::<Index>().prop_map(|pick| Op::Connected { pick }),
        1 => any::<Index>().prop_map(|pick| Op::Failed { pick }),
        3 => (0..40_000u64).prop_map(|ms| Op::Wait { ms }),
        2 => Just(Op::Timeout),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Fed, not yet queued or refused.
    Arriving,
    Scheduled(acd::Time),
    Waiting,
    Offered(AgentId),
    Dialing(AgentId),
    Held(AgentId),
    /// Held by an agent that was removed since: it can still be ended.
    Orphan,
    Left,
}

#[derive(Debug)]
struct Tracked {
    queue: QueueId,
    media: Media,
    /// Arrival order (all priorities are equal).
    order: usize,
    stage: Seen,
}

/// What the outputs so far say the core's state is.
#[derive(Debug, Default)]
struct Observer {
    agents: BTreeSet<AgentId>,
    contacts: BTreeMap<ContactId, Tracked>,
    /// Wrap-ups per agent (contact ids).
    wrapping: BTreeMap<AgentId, BTreeSet<ContactId>>,
    refused: BTreeSet<ContactId>,
    offers_made: usize,
    offers_resolved: usize,
    next_contact: i64,
    arrivals: usize,
}

impl Observer {
    fn stage(&self, c: ContactId) -> Option<Seen> {
        self.contacts.get(&c).map(|t| t.stage)
    }

    fn set(&mut self, c: ContactId, from: &[fn(Seen) -> bool], to: Seen) {
        let t = self.contacts.get_mut(&c).expect("known contact");
        assert!(
            from.iter().any(|f| f(t.stage)),
            "{c:?}: {:?} -> {to:?} out of order",
            t.stage
        );
        t.stage = to;
    }

    fn pending_of(&self, a: AgentId) -> Option<ContactId> {
        self.contacts
            .iter()
            .find(|(_, t)| matches!(t.stage, Seen::Offered(x) | Seen::Dialing(x) if x == a))
            .map(|(c, _)| *c)
    }

    fn held_by(&self, a: AgentId) -> BTreeSet<ContactId> {
        self.contacts
            .iter()
            .filter(|(_, t)| t.stage == Seen::Held(a))
            .map(|(c, _)| *c)
            .collect()
    }

    fn live(&self) -> Vec<ContactId> {
        self.contacts
            .iter()
            .filter(|(_, t)| t.stage != Seen::Left)
            .map(|(c, _)| *c)
            .collect()
    }

    fn in_stage(&self, f: impl Fn(Seen) -> bool) -> Vec<ContactId> {
        self.contacts
            .iter()
            .filter(|(_, t)| f(t.stage))
            .map(|(c, _)| *c)
            .collect()
    }

    /// A contact is offered or dialled: it was waiting, the agent had nothing
    /// pending, and nobody with identical requirements waits ahead of it.
    fn dispatched(&mut self, c: ContactId, a: AgentId, stage: Seen) {
        assert_eq!(self.stage(c), Some(Seen::Waiting), "{c:?} not waiting");
        assert_eq!(self.pending_of(a), None, "{a:?} would hold two offers");
        let t = &self.contacts[&c];
        for (other, o) in &self.contacts {
            assert!(
                !(o.stage == Seen::Waiting
                    && o.queue == t.queue
                    && o.media == t.media
                    && o.order < t.order),
                "{c:?} dispatched while {other:?} waits ahead of it"
            );
        }
        self.set(c, &[|s| s == Seen::Waiting], stage);
        self.offers_made += 1;
    }

    fn follow(&mut self, out: &Drained) {
        for output in &out.outputs {
            match output {
                Output::Command(Command::Offer { contact, agent, .. }) => {
                    self.dispatched(*contact, *agent, Seen::Offered(*agent));
                }
                Output::Command(Command::DialCallback { contact, agent, .. }) => {
                    self.dispatched(*contact, *agent, Seen::Dialing(*agent));
                }
                Output::Command(Command::CancelOffer { contact, agent, .. }) => {
                    // An offer, or a dial withdrawn because its agent was removed.
                    let s = self.stage(*contact);
                    assert!(
                        s == Some(Seen::Offered(*agent)) || s == Some(Seen::Dialing(*agent)),
                        "{contact:?} cancelled from {s:?}"
                    );
                    self.set(*contact, &[|_| true], Seen::Waiting);
                    self.offers_resolved += 1;
                }
                Output::Event(event) => self.event(event),
                Output::Timeout(_) => unreachable!("drain keeps the timeout apart"),
            }
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Queued {
                contact,
                scheduled_for,
                ..
            } => {
                let to = scheduled_for.map_or(Seen::Waiting, Seen::Scheduled);
                self.set(*contact, &[|s| s == Seen::Arriving], to);
            }
            Event::Refused { contact, .. } => {
                assert!(self.refused.insert(*contact));
            }
            Event::Waiting { contact, .. } => {
                assert_eq!(self.stage(*contact), Some(Seen::Waiting));
            }
            Event::Declined { contact, agent } => {
                assert_eq!(self.stage(*contact), Some(Seen::Offered(*agent)));
                self.set(*contact, &[|_| true], Seen::Waiting);
                self.offers_resolved += 1;
            }
            Event::OfferTimedOut { contact, .. } => {
                // The cancel command came first and resolved it.
                assert_eq!(self.stage(*contact), Some(Seen::Waiting));
            }
            Event::Assigned { contact, agent } => {
                let s = self.stage(*contact);
                assert!(
                    s == Some(Seen::Offered(*agent)) || s == Some(Seen::Dialing(*agent)),
                    "{contact:?} assigned from {s:?}"
                );
                self.offers_resolved += 1;
                self.set(*contact, &[|_| true], Seen::Held(*agent));
            }
            Event::CallbackAttemptFailed {
                contact, retry_at, ..
            } => {
                assert!(matches!(self.stage(*contact), Some(Seen::Dialing(_))));
                self.offers_resolved += 1;
                // Without a retry it leaves next.
                let to = retry_at.map_or(Seen::Waiting, Seen::Scheduled);
                self.set(*contact, &[|_| true], to);
            }
            Event::WrapUpEnded { contact, agent, .. } => {
                let set = self.wrapping.entry(*agent).or_default();
                assert!(set.remove(contact), "{contact:?} was not in wrap-up");
            }
            Event::Left { contact, outcome } => {
                let Some(t) = self.contacts.get(contact) else {
                    panic!("{contact:?} left but never came");
                };
                assert_ne!(t.stage, Seen::Left, "{contact:?} left twice");
                if let Seen::Held(a) = t.stage {
                    assert_eq!(*outcome, Outcome::Answered);
                    if self.agents.contains(&a) {
                        self.wrapping.entry(a).or_default().insert(*contact);
                    }
                } else if t.stage == Seen::Orphan {
                    assert_eq!(*outcome, Outcome::Answered);
                } else {
                    assert_ne!(*outcome, Outcome::Answered);
                    assert!(
                        !matches!(t.stage, Seen::Offered(_)),
                        "left while offered: cancel first"
                    );
                }
                assert_eq!(
                    *outcome == Outcome::Refused,
                    self.refused.contains(contact),
                    "Refused outcome iff refused"
                );
                if let Seen::Dialing(_) = t.stage {
                    self.offers_resolved += 1;
                }
                self.set(*contact, &[|_| true], Seen::Left);
            }
            Event::AgentStateChanged { .. }
            | Event::Overflowed { .. }
            | Event::PreferenceExpired { .. }
            | Event::Offered { .. }
            | Event::QueueStatus { .. }
            | Event::Ignored { .. } => {}
        }
    }

    /// The core's own views agree with the observer.
    fn check_views(&self, sim: &Sim) {
        for view in sim.acd.agents() {
            assert!(self.agents.contains(&view.agent));
            assert_eq!(view.offered, self.pending_of(view.agent));
            let held: BTreeSet<_> = view.assigned.iter().copied().collect();
            assert_eq!(held, self.held_by(view.agent));
            let wrapping: BTreeSet<_> = view.wrapping_up.iter().copied().collect();
            assert_eq!(
                wrapping,
                self.wrapping.get(&view.agent).cloned().unwrap_or_default()
            );
            let total = view.assigned.len() + view.wrapping_up.len();
            let cap = view.capacity.of(Media::Chat).max(1) as usize;
            assert!(total <= cap, "{:?} over capacity", view.agent);
            let any_call = view
                .assigned
                .iter()
                .any(|c| self.contacts.get(c).is_some_and(|t| t.media.is_call()));
            if any_call {
                assert_eq!(view.assigned.len(), 1, "a call takes the agent whole");
            }
            if view.offered.is_some() && view.state != AgentState::Offline {
                assert!(
                    matches!(view.state, AgentState::Reserved | AgentState::NotReady(_)),
                    "{:?}",
                    view.state
                );
            }
        }
        for (c, t) in &self.contacts {
            let view = sim.acd.contact(*c);
            let expect = match t.stage {
                Seen::Left => None,
                Seen::Arriving => Some("arriving"),
                Seen::Scheduled(_) => Some("scheduled"),
                Seen::Waiting => Some("waiting"),
                Seen::Offered(_) => Some("offered"),
                Seen::Dialing(_) => Some("dialing"),
                Seen::Held(_) | Seen::Orphan => Some("held"),
            };
            let got = view.map(|v| match v.stage {
                ContactStage::Scheduled { .. } => "scheduled",
                ContactStage::Waiting => "waiting",
                ContactStage::Offered { .. } => "offered",
                ContactStage::Dialing { .. } => "dialing",
                ContactStage::Assigned { .. } => "held",
            });
            assert_eq!(got, expect, "{c:?}");
        }
        for q in 1..=QUEUES {
            let queue = QueueId(q);
            let waiting = self
                .contacts
                .values()
                .filter(|t| t.queue == queue && t.stage == Seen::Waiting)
                .count();
            assert_eq!(sim.acd.queue_status(queue).waiting as usize, waiting);
        }
    }
}

fn feed(sim: &mut Sim, seen: &mut Observer, input: Input) -> Drained {
    let out = sim.input(input);
    seen.follow(&out);
    seen.check_views(sim);
    out
}

fn pick(list: &[ContactId], pick: Index) -> ContactId {
    if list.is_empty() {
        ContactId(-1)
    } else {
        list[pick.index(list.len())]
    }
}

fn apply(sim: &mut Sim, seen: &mut Observer, op: Op) {
    match op {
        Op::Define { agent, skills } => {
            let spec = AgentSpec {
                agent: AgentId(agent),
                tenant: TENANT,
                center: CENTER,
                skills: skills.into_iter().map(|(s, l)| (SkillId(s), l)).collect(),
                capacity: capacity_of(agent),
            };
            seen.agents.insert(AgentId(agent));
            feed(sim, seen, Input::AgentDefined(spec));
        }
        Op::Remove { agent } => {
            let agent = AgentId(agent);
            let out = feed(sim, seen, Input::AgentRemoved { agent });
            assert_eq!(out.ignored().is_empty(), seen.agents.contains(&agent));
            seen.agents.remove(&agent);
            seen.wrapping.remove(&agent);
            for t in seen.contacts.values_mut() {
                if t.stage == Seen::Held(agent) {
                    t.stage = Seen::Orphan;
                }
            }
            seen.check_views(sim);
        }
        Op::Online { agent } => {
            feed(
                sim,
                seen,
                Input::AgentOnline {
                    agent: AgentId(agent),
                },
            );
        }
        Op::Offline { agent } => {
            feed(
                sim,
                seen,
                Input::AgentOffline {
                    agent: AgentId(agent),
                },
            );
        }
        Op::Ready { agent } => {
            feed(
                sim,
                seen,
                Input::AgentReady {
                    agent: AgentId(agent),
                },
            );
        }
        Op::NotReady { agent } => {
            let agent = AgentId(agent);
            feed(
                sim,
                seen,
                Input::AgentNotReady {
                    agent,
                    reason: "break".into(),
                },
            );
        }
        Op::Arrive { queue, media } => {
            let contact = ContactId(seen.next_contact);
            seen.next_contact += 1;
            let media = media_of(media);
            seen.contacts.insert(
                contact,
                Tracked {
                    queue: QueueId(queue),
                    media,
                    order: seen.arrivals,
                    stage: Seen::Arriving,
                },
            );
            seen.arrivals += 1;
            let mut spec = ContactSpec::new(contact, QueueId(queue), media, sim.now);
            spec.callback = Some(CallbackPlan {
                max_attempts: 2,
                retry_delay: Duration::from_secs(30),
            });
            let out = feed(sim, seen, Input::ContactArrived(Box::new(spec)));
            // Queued or refused, nothing else.
            assert!(out.ignored().is_empty());
            let t = &seen.contacts[&contact];
            assert!(
                t.stage != Seen::Arriving,
                "{contact:?} neither queued nor refused"
            );
        }
        Op::Leave { pick: p } => {
            let c = pick(&seen.live(), p);
            let held = matches!(seen.stage(c), Some(Seen::Held(_) | Seen::Orphan));
            let out = feed(sim, seen, Input::ContactLeft { contact: c });
            assert_eq!(out.ignored().is_empty(), c.0 >= 0 && !held);
        }
        Op::Accept { pick: p, wrong } | Op::Decline { pick: p, wrong } => {
            let offered = seen.in_stage(|s| matches!(s, Seen::Offered(_)));
            let c = pick(&offered, p);
            let agent = match seen.stage(c) {
                Some(Seen::Offered(a)) => a,
                _ => AgentId(0),
            };
            let agent = if wrong { AgentId(agent.0 + 100) } else { agent };
            let input = if matches!(op, Op::Accept { .. }) {
                Input::OfferAccepted { contact: c, agent }
            } else {
                Input::OfferDeclined { contact: c, agent }
            };
            let out = feed(sim, seen, input);
            assert_eq!(!out.ignored().is_empty(), offered.is_empty() || wrong);
        }
        Op::End { pick: p } => {
            let held = seen.in_stage(|s| matches!(s, Seen::Held(_) | Seen::Orphan));
            let c = pick(&held, p);
            let out = feed(sim, seen, Input::ContactEnded { contact: c });
            assert_eq!(out.ignored().is_empty(), !held.is_empty());
        }
        Op::WrapDone { pick: p } => {
            let wrapping: Vec<ContactId> = seen.wrapping.values().flatten().copied().collect();
            let c = pick(&wrapping, p);
            let out = feed(sim, seen, Input::WrapUpDone { contact: c });
            assert_eq!(out.ignored().is_empty(), !wrapping.is_empty());
        }
        Op::ToCallback { pick: p } => {
            let waiting = seen.in_stage(|s| s == Seen::Waiting);
            let c = pick(&waiting, p);
            let plan = CallbackPlan {
                max_attempts: 2,
                retry_delay: Duration::from_secs(30),
            };
            // It becomes a callback before anything is routed.
            if let Some(t) = seen.contacts.get_mut(&c) {
                t.media = Media::Callback;
            }
            let out = feed(sim, seen, Input::ToCallback { contact: c, plan });
            assert_eq!(out.ignored().is_empty(), !waiting.is_empty());
        }
        Op::Connected { pick: p } | Op::Failed { pick: p } => {
            let dialing = seen.in_stage(|s| matches!(s, Seen::Dialing(_)));
            let c = pick(&dialing, p);
            let input = if matches!(op, Op::Connected { .. }) {
                Input::CallbackConnected { contact: c }
            } else {
                Input::CallbackFailed { contact: c }
            };
            let out = feed(sim, seen, input);
            assert_eq!(out.ignored().is_empty(), !dialing.is_empty());
        }
        Op::Wait { ms } => sim.step(Duration::from_millis(ms)),
        Op::Timeout => {
            if let Some(t) = sim.timeout {
                sim.now = sim.now.max(t);
            }
            // Retries due now enter the line before anything is routed.
            for t in seen.contacts.values_mut() {
                if let Seen::Scheduled(at) = t.stage
                    && at <= sim.now
                {
                    t.stage = Seen::Waiting;
                }
            }
            let out = sim.input(Input::Timeout);
            seen.follow(&out);
            seen.check_views(sim);
        }
    }
}

/// Lets ringing offers time out, fails dials, then closes every contact.
fn wind_down(sim: &mut Sim, seen: &mut Observer) {
    for _ in 0..50 {
        let dialing = seen.in_stage(|s| matches!(s, Seen::Dialing(_)));
        for c in dialing {
            feed(sim, seen, Input::CallbackFailed { contact: c });
        }
        for c in seen.in_stage(|s| matches!(s, Seen::Waiting | Seen::Scheduled(_))) {
            feed(sim, seen, Input::ContactLeft { contact: c });
        }
        if seen
            .in_stage(|s| matches!(s, Seen::Offered(_) | Seen::Dialing(_)))
            .is_empty()
        {
            break;
        }
        sim.step(Duration::from_mins(1));
        apply(sim, seen, Op::Timeout);
    }
    for c in seen.live() {
        match seen.stage(c) {
            Some(Seen::Held(_) | Seen::Orphan) => {
                feed(sim, seen, Input::ContactEnded { contact: c });
            }
            _ => {
                feed(sim, seen, Input::ContactLeft { contact: c });
            }
        }
    }
    assert!(
        seen.live().is_empty(),
        "every contact left: {:?}",
        seen.live()
    );
    assert_eq!(
        seen.offers_made, seen.offers_resolved,
        "every offer resolved"
    );
    // Wrap-ups end by themselves.
    sim.step(Duration::from_hours(1));
    apply(sim, seen, Op::Timeout);
    for view in sim.acd.agents() {
        assert!(view.assigned.is_empty() && view.offered.is_none());
        assert!(view.wrapping_up.is_empty());
    }
}

/// A staffed start so that random inputs find something to route.
fn staffed() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop::collection::vec((0..2i64, 1..=10u8), 1..3),
        AGENTS as usize,
    )
    .prop_map(|skill_sets| {
        let mut ops = Vec::new();
        for (agent, skills) in (0..).zip(skill_sets) {
            ops.push(Op::Define { agent, skills });
            ops.push(Op::Online { agent });
            ops.push(Op::Ready { agent });
        }
        ops
    })
}

fn new_sim() -> Sim {
    let mut sim = Sim::new();
    sim.configure(setup(vec![queue_spec(1, Some(0)), queue_spec(2, Some(1))]));
    sim
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn routing_invariants_hold(ops in prop::collection::vec(op(), 0..80)) {
        let mut sim = new_sim();
        let mut seen = Observer::default();
        for op in ops {
            apply(&mut sim, &mut seen, op);
        }
        wind_down(&mut sim, &mut seen);
    }

    #[test]
    fn routing_invariants_hold_when_staffed(
        start in staffed(),
        ops in prop::collection::vec(op(), 0..150),
    ) {
        let mut sim = new_sim();
        let mut seen = Observer::default();
        for op in start.into_iter().chain(ops) {
            apply(&mut sim, &mut seen, op);
        }
        wind_down(&mut sim, &mut seen);
    }
}
