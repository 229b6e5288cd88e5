//! Contacts of one queue are offered in arrival order; across queues the contact
//! that arrived first is offered first.

mod common;

use common::{Sim, agent, contact, secs};

#[test]
fn offers_follow_arrival_order() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    for c in [105, 101, 103, 102, 104] {
        sim.arrive(c, 1);
        sim.step(secs(1));
    }
    let mut offered = Vec::new();
    for a in 1..=5 {
        offered.extend(sim.ready_agent(a, &[10], 1).offers());
    }
    let contacts: Vec<_> = offered.iter().map(|o| o.0).collect();
    assert_eq!(contacts, [105, 101, 103, 102, 104].map(contact).to_vec());
}

#[test]
fn one_agent_serves_the_line_in_order() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    for c in 1..=4 {
        sim.arrive(c, 1);
    }
    let mut offered = sim.ready_agent(1, &[10], 1).offers();
    for c in 1..=4 {
        sim.accept(c, 1);
        offered.extend(sim.finish(c).offers());
    }
    assert_eq!(
        offered,
        vec![
            (contact(1), agent(1)),
            (contact(2), agent(1)),
            (contact(3), agent(1)),
            (contact(4), agent(1)),
        ]
    );
}

#[test]
fn oldest_head_first_across_queues() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.define_queue(2, 20);
    sim.arrive(200, 2);
    sim.step(secs(1));
    sim.arrive(100, 1);
    let out = sim.ready_agent(1, &[10, 20], 1);
    assert_eq!(out.offers(), vec![(contact(200), agent(1))]);
}

#[test]
fn a_queue_without_agents_does_not_block_another() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.define_queue(2, 20);
    sim.arrive(100, 1);
    sim.arrive(200, 2);
    let out = sim.ready_agent(1, &[20], 1);
    assert_eq!(out.offers(), vec![(contact(200), agent(1))]);
}
