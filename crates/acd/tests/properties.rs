//! Random input sequences on a random clock, checked against an observer that
//! follows only the inputs fed and the outputs drained.
//!
//! Checked throughout: no contact is lost or duplicated (each arrived contact is in
//! exactly one of waiting/offered/assigned/left), no agent holds two offers or more
//! than its capacity, no contact is offered to two agents, offers within a queue go
//! in arrival order (a failed offer returns the contact to its old place), and the
//! core's views agree with the observer. At the end every offer has resolved and
//! every contact has left exactly once.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use acd::{
    AgentId, AgentState, Command, Config, ContactId, Event, Input, NotReadyReason, Outcome, Output,
    QueueId, SkillId,
};
use common::{Drained, Sim};
use proptest::prelude::*;
use proptest::sample::Index;

const QUEUES: i64 = 3;
const SKILLS: i64 = 3;
const AGENTS: i64 = 5;

/// Capacity is fixed per agent so "never above capacity" is a plain invariant;
/// agent 0 has none at all.
fn capacity_of(agent: i64) -> u32 {
    (agent % 3) as u32
}

#[derive(Debug, Clone)]
enum Op {
    Define { queue: i64, skill: i64 },
    Online { agent: i64, skills: Vec<i64> },
    Offline { agent: i64 },
    Ready { agent: i64 },
    NotReady { agent: i64 },
    Arrive { queue: i64 },
    Leave { pick: Index },
    Accept { pick: Index, wrong: bool },
    Decline { pick: Index, wrong: bool },
    Finish { pick: Index },
    Wait { ms: u64 },
    Timeout,
}

fn op() -> impl Strategy<Value = Op> {
    // Queues 0..=QUEUES so that arrivals into an undefined queue happen too.
    prop_oneof![
        1 => (0..=QUEUES, 0..SKILLS).prop_map(|(queue, skill)| Op::Define { queue, skill }),
        2 => (0..AGENTS, prop::collection::vec(0..SKILLS, 0..4))
            .prop_map(|(agent, skills)| Op::Online { agent, skills }),
        1 => (0..AGENTS).prop_map(|agent| Op::Offline { agent }),
        3 => (0..AGENTS).prop_map(|agent| Op::Ready { agent }),
        1 => (0..AGENTS).prop_map(|agent| Op::NotReady { agent }),
        4 => (0..=QUEUES).prop_map(|queue| Op::Arrive { queue }),
        1 => any::<Index>().prop_map(|pick| Op::Leave { pick }),
        3 => (any::<Index>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong)| Op::Accept { pick, wrong }),
        1 => (any::<Index>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong)| Op::Decline { pick, wrong }),
        2 => any::<Index>().prop_map(|pick| Op::Finish { pick }),
        3 => (0..40_000u64).prop_map(|ms| Op::Wait { ms }),
        1 => Just(Op::Timeout),
    ]
}

/// What the outputs so far say the core's state is.
#[derive(Debug, Default)]
struct Observer {
    queues: BTreeMap<QueueId, SkillId>,
    states: HashMap<AgentId, AgentState>,
    /// Arrival order: index = place in line within its queue relative to others.
    arrivals: Vec<(ContactId, QueueId)>,
    arrival_of: HashMap<ContactId, usize>,
    offered: BTreeMap<ContactId, (AgentId, Instant)>,
    assigned: BTreeMap<ContactId, AgentId>,
    left: BTreeSet<ContactId>,
    offers_made: usize,
    offers_resolved: usize,
    next_contact: i64,
}

impl Observer {
    fn is_waiting(&self, contact: ContactId) -> bool {
        self.arrival_of.contains_key(&contact)
            && !self.offered.contains_key(&contact)
            && !self.assigned.contains_key(&contact)
            && !self.left.contains(&contact)
    }

    fn load(&self, agent: AgentId) -> usize {
        self.assigned.values().filter(|a| **a == agent).count()
    }

    fn offer_of(&self, agent: AgentId) -> Option<ContactId> {
        self.offered
            .iter()
            .find(|(_, (a, _))| *a == agent)
            .map(|(c, _)| *c)
    }

    fn live(&self) -> Vec<ContactId> {
        self.arrivals
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| !self.left.contains(c))
            .collect()
    }

    /// Follows one drained batch, checking each output against what came before.
    fn follow(&mut self, now: Instant, timeout: Duration, out: &Drained) {
        for output in &out.outputs {
            match output {
                Output::Command(Command::Offer {
                    contact,
                    agent,
                    expires,
                }) => self.offer(now, timeout, *contact, *agent, *expires),
                Output::Command(Command::CancelOffer { contact, agent, .. }) => {
                    assert_eq!(self.offered.remove(contact).map(|o| o.0), Some(*agent));
                    self.offers_resolved += 1;
                }
                Output::Event(event) => self.event(event),
                Output::Timeout(_) => unreachable!("drain keeps the timeout apart"),
            }
        }
        let next_expiry = self.offered.values().map(|o| o.1).min();
        if let Some(expiry) = next_expiry {
            assert_eq!(
                out.timeout,
                Some(expiry),
                "wake-up is the next offer expiry"
            );
        }
    }

    fn offer(&mut self, now: Instant, timeout: Duration, c: ContactId, a: AgentId, exp: Instant) {
        assert!(self.is_waiting(c), "{c:?} offered but not waiting");
        assert_eq!(self.offer_of(a), None, "{a:?} would hold two offers");
        assert_eq!(self.states.get(&a), Some(&AgentState::Available));
        assert!(
            self.load(a) < capacity_of(a.0) as usize,
            "{a:?} has no room"
        );
        assert_eq!(exp, now + timeout);
        let index = self.arrival_of[&c];
        let queue = self.arrivals[index].1;
        for (earlier, q) in &self.arrivals[..index] {
            assert!(
                *q != queue || !self.is_waiting(*earlier),
                "{c:?} offered while {earlier:?} waits ahead of it"
            );
        }
        self.offered.insert(c, (a, exp));
        self.offers_made += 1;
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::AgentStateChanged { agent, state } => {
                self.states.insert(*agent, state.clone());
            }
            Event::Waiting { contact, .. } => assert!(self.is_waiting(*contact)),
            Event::Offered { contact, agent } => {
                assert_eq!(self.offered.get(contact).map(|o| o.0), Some(*agent));
            }
            Event::Declined { contact, agent } => {
                assert_eq!(self.offered.remove(contact).map(|o| o.0), Some(*agent));
                self.offers_resolved += 1;
            }
            Event::OfferTimedOut { contact, .. } => {
                // The cancel command came first and resolved it.
                assert!(!self.offered.contains_key(contact));
            }
            Event::Assigned { contact, agent } => {
                assert_eq!(self.offered.remove(contact).map(|o| o.0), Some(*agent));
                self.offers_resolved += 1;
                self.assigned.insert(*contact, *agent);
                assert!(self.load(*agent) <= capacity_of(agent.0) as usize);
            }
            Event::Left { contact, outcome } => {
                assert!(
                    self.arrival_of.contains_key(contact),
                    "{contact:?} never came"
                );
                assert!(self.left.insert(*contact), "{contact:?} left twice");
                assert!(!self.offered.contains_key(contact), "left while offered");
                let was_assigned = self.assigned.remove(contact).is_some();
                assert_eq!(was_assigned, *outcome == Outcome::Answered);
            }
            Event::QueueStatus { .. } | Event::Ignored { .. } => {}
        }
    }

    /// The core's own views agree with the observer.
    fn check_views(&self, sim: &Sim) {
        for view in sim.acd.agents() {
            assert_eq!(view.offered, self.offer_of(view.agent));
            let mine: BTreeSet<_> = self
                .assigned
                .iter()
                .filter(|(_, a)| **a == view.agent)
                .map(|(c, _)| *c)
                .collect();
            assert_eq!(view.assigned.iter().copied().collect::<BTreeSet<_>>(), mine);
            assert!(view.assigned.len() <= view.capacity as usize);
            assert_eq!(Some(&view.state), self.states.get(&view.agent));
        }
        for (contact, _) in &self.arrivals {
            let stages = [
                sim.acd.waiting_position(*contact).is_some(),
                self.offered.contains_key(contact),
                self.assigned.contains_key(contact),
                self.left.contains(contact),
            ];
            assert_eq!(
                stages.iter().filter(|s| **s).count(),
                1,
                "{contact:?} is in {stages:?}"
            );
            assert_eq!(stages[0], self.is_waiting(*contact));
        }
        for queue in self.queues.keys() {
            // Positions 1..=n follow arrival order: returns went back to their place.
            let line: Vec<_> = self
                .arrivals
                .iter()
                .filter(|(c, q)| q == queue && self.is_waiting(*c))
                .map(|(c, _)| *c)
                .collect();
            for (index, contact) in line.iter().enumerate() {
                let position = sim.acd.waiting_position(*contact).map(|p| p.0);
                assert_eq!(position, Some(index as u32 + 1));
            }
            assert_eq!(sim.acd.queue_status(*queue).waiting as usize, line.len());
        }
    }
}

/// Feeds `input`, follows the outputs and checks the views.
fn feed(sim: &mut Sim, seen: &mut Observer, input: Input) -> Drained {
    let out = sim.input(input);
    seen.follow(sim.now, Config::default().offer_timeout, &out);
    seen.check_views(sim);
    out
}

fn apply(sim: &mut Sim, seen: &mut Observer, op: Op) {
    match op {
        Op::Define { queue, skill } => {
            let (queue, skill) = (QueueId(queue), SkillId(skill));
            seen.queues.insert(queue, skill);
            feed(sim, seen, Input::QueueDefined { queue, skill });
        }
        Op::Online { agent, skills } => {
            let input = Input::AgentOnline {
                agent: AgentId(agent),
                skills: skills.into_iter().map(SkillId).collect(),
                capacity: capacity_of(agent),
            };
            feed(sim, seen, input);
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
            let reason = NotReadyReason::Chosen("break".to_owned());
            let agent = AgentId(agent);
            feed(sim, seen, Input::AgentNotReady { agent, reason });
        }
        Op::Arrive { queue } => {
            let (contact, queue) = (ContactId(seen.next_contact), QueueId(queue));
            seen.next_contact += 1;
            let known = seen.queues.contains_key(&queue);
            if known {
                seen.arrival_of.insert(contact, seen.arrivals.len());
                seen.arrivals.push((contact, queue));
            }
            let out = feed(sim, seen, Input::ContactArrived { contact, queue });
            assert_eq!(out.ignored().is_empty(), known);
        }
        Op::Leave { pick } => {
            let live = seen.live();
            let contact = if live.is_empty() {
                ContactId(-1)
            } else {
                live[pick.index(live.len())]
            };
            feed(sim, seen, Input::ContactLeft { contact });
        }
        Op::Accept { pick, wrong } | Op::Decline { pick, wrong } => {
            let offers: Vec<_> = seen.offered.iter().map(|(c, o)| (*c, o.0)).collect();
            let (contact, agent) = if offers.is_empty() {
                (ContactId(-1), AgentId(0))
            } else {
                offers[pick.index(offers.len())]
            };
            let agent = if wrong { AgentId(agent.0 + 1) } else { agent };
            let input = if matches!(op, Op::Accept { .. }) {
                Input::OfferAccepted { contact, agent }
            } else {
                Input::OfferDeclined { contact, agent }
            };
            let expect_ignored = offers.is_empty() || wrong;
            let out = feed(sim, seen, input);
            assert_eq!(!out.ignored().is_empty(), expect_ignored);
        }
        Op::Finish { pick } => {
            let live = seen.live();
            let contact = if live.is_empty() {
                ContactId(-1)
            } else {
                live[pick.index(live.len())]
            };
            let assigned = seen.assigned.contains_key(&contact);
            let out = feed(sim, seen, Input::ContactFinished { contact });
            assert_eq!(out.ignored().is_empty(), assigned);
        }
        Op::Wait { ms } => sim.step(Duration::from_millis(ms)),
        Op::Timeout => {
            let out = sim.advance_to_next_timeout();
            seen.follow(sim.now, Config::default().offer_timeout, &out);
            seen.check_views(sim);
        }
    }
}

/// Lets every ringing offer time out, then closes every contact.
fn wind_down(sim: &mut Sim, seen: &mut Observer) {
    // Each missed offer makes an agent not-ready and nobody becomes ready here, so
    // offers run out within one round per agent.
    for _ in 0..=AGENTS {
        if seen.offered.is_empty() {
            break;
        }
        apply(sim, seen, Op::Timeout);
    }
    assert!(
        seen.offered.is_empty(),
        "offers still ringing: {:?}",
        seen.offered
    );
    for contact in seen.live() {
        if seen.assigned.contains_key(&contact) {
            feed(sim, seen, Input::ContactFinished { contact });
        } else {
            feed(sim, seen, Input::ContactLeft { contact });
        }
    }
    assert!(seen.assigned.is_empty());
    assert_eq!(
        seen.left.len(),
        seen.arrivals.len(),
        "every contact left once"
    );
    assert_eq!(
        seen.offers_made, seen.offers_resolved,
        "every offer resolved"
    );
    for view in sim.acd.agents() {
        assert!(view.assigned.is_empty() && view.offered.is_none());
    }
}

/// A staffed start, so that random inputs find something to route: every queue
/// defined (queue `SKILLS` stays undefined), every agent online with one to three
/// skills and ready. The random inputs that follow may undo any of it.
fn staffed() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(prop::collection::vec(0..SKILLS, 1..4), AGENTS as usize).prop_map(
        |skill_sets| {
            let mut ops: Vec<Op> = (0..QUEUES)
                .map(|queue| Op::Define {
                    queue,
                    skill: queue % SKILLS,
                })
                .collect();
            for (agent, skills) in (0..).zip(skill_sets) {
                ops.push(Op::Online { agent, skills });
                ops.push(Op::Ready { agent });
            }
            ops
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn routing_invariants_hold(ops in prop::collection::vec(op(), 0..80)) {
        let mut sim = Sim::new();
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
        let mut sim = Sim::new();
        let mut seen = Observer::default();
        for op in start.into_iter().chain(ops) {
            apply(&mut sim, &mut seen, op);
        }
        wind_down(&mut sim, &mut seen);
    }
}
