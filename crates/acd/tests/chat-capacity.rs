//! An agent holds up to `capacity` chats at once, and at most one offer rings at a
//! time: offers stop while one is pending or the agent is full.

mod common;

use acd::Event;
use common::{Sim, agent, contact};

#[test]
fn one_offer_at_a_time_up_to_capacity() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 2);
    let out = sim.arrive(100, 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(1))]);
    // Room for one more, but an offer is already ringing.
    assert!(sim.arrive(101, 1).offers().is_empty());
    sim.arrive(102, 1);

    let out = sim.accept(100, 1);
    assert_eq!(out.offers(), vec![(contact(101), agent(1))]);
    let out = sim.accept(101, 1);
    assert!(out.offers().is_empty(), "full: {out:?}");
    let view = sim.view(1);
    assert_eq!(view.assigned, vec![contact(100), contact(101)]);
    assert_eq!(view.capacity, 2);

    let out = sim.finish(100);
    assert_eq!(out.offers(), vec![(contact(102), agent(1))]);
    assert!(out.has_event(&Event::Offered {
        contact: contact(102),
        agent: agent(1),
    }));
}

#[test]
fn the_least_recently_busied_agent_gets_the_next_chat() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 3);
    sim.step(common::secs(1));
    sim.ready_agent(2, &[10], 3);
    sim.arrive(100, 1);
    sim.step(common::secs(1));
    sim.accept(100, 1);
    // Agent 1 just took a chat; agent 2 has been idle longer.
    assert_eq!(sim.arrive(101, 1).offers(), vec![(contact(101), agent(2))]);
}

#[test]
fn zero_capacity_gets_nothing() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 0);
    assert!(sim.arrive(100, 1).offers().is_empty());
}

#[test]
fn lowered_capacity_applies_to_new_offers() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 2);
    sim.arrive(100, 1);
    sim.accept(100, 1);
    sim.arrive(101, 1);
    sim.accept(101, 1);
    sim.online(1, &[10], 1);
    sim.arrive(102, 1);
    // Finishing one leaves the agent at its new capacity of one: still full.
    assert!(sim.finish(100).offers().is_empty());
    assert_eq!(sim.finish(101).offers(), vec![(contact(102), agent(1))]);
}
