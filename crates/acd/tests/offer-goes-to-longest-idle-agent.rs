//! The head contact goes to the free qualified agent who has been idle longest:
//! idle since they became ready, accepted a contact or finished one.

mod common;

use acd::{Event, Outcome};
use common::{Sim, agent, contact, secs};

/// Agents 1, 2, 3 become ready one second apart on queue 1 (skill 10).
fn three_ready_agents() -> Sim {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    for a in 1..=3 {
        sim.ready_agent(a, &[10], 1);
        sim.step(secs(1));
    }
    sim
}

#[test]
fn first_ready_is_offered_first() {
    let mut sim = three_ready_agents();
    let out = sim.arrive(100, 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(1))]);
    assert!(out.has_event(&Event::Offered {
        contact: contact(100),
        agent: agent(1),
    }));
}

#[test]
fn finishing_a_contact_moves_the_agent_to_the_back() {
    let mut sim = three_ready_agents();
    sim.arrive(100, 1);
    sim.accept(100, 1);
    sim.arrive(101, 1);
    sim.accept(101, 2);
    sim.step(secs(30));
    let out = sim.finish(100);
    assert!(out.has_event(&Event::Left {
        contact: contact(100),
        outcome: Outcome::Answered,
    }));
    // Agent 1 is free again, but agent 3 has been idle since it became ready.
    assert_eq!(sim.arrive(102, 1).offers(), vec![(contact(102), agent(3))]);
    assert_eq!(sim.arrive(103, 1).offers(), vec![(contact(103), agent(1))]);
}

#[test]
fn pressing_ready_again_keeps_the_place() {
    let mut sim = three_ready_agents();
    let out = sim.ready(1);
    assert!(out.events.is_empty(), "already available: {out:?}");
    assert_eq!(sim.arrive(100, 1).offers(), vec![(contact(100), agent(1))]);
}

#[test]
fn ready_after_a_break_goes_to_the_back() {
    let mut sim = three_ready_agents();
    sim.input(acd::Input::AgentNotReady {
        agent: agent(1),
        reason: acd::NotReadyReason::Chosen("coffee".to_owned()),
    });
    sim.ready(1);
    assert_eq!(sim.arrive(100, 1).offers(), vec![(contact(100), agent(2))]);
}

#[test]
fn an_abandoned_offer_keeps_the_agents_place() {
    let mut sim = three_ready_agents();
    sim.arrive(100, 1);
    sim.step(secs(5));
    sim.leave(100);
    assert_eq!(sim.arrive(101, 1).offers(), vec![(contact(101), agent(1))]);
}

#[test]
fn only_agents_with_the_skill_are_considered() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[20], 1);
    sim.step(secs(1));
    sim.ready_agent(2, &[20, 10], 1);
    assert_eq!(sim.arrive(100, 1).offers(), vec![(contact(100), agent(2))]);
}

#[test]
fn ties_go_to_the_lower_agent_id() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(7, &[10], 1);
    sim.ready_agent(3, &[10], 1);
    assert_eq!(sim.arrive(100, 1).offers(), vec![(contact(100), agent(3))]);
}
