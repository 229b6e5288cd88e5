//! A declined offer puts the contact back at its own place in line (ahead of later
//! arrivals), makes the decliner not-ready, and offers the contact to someone else.

mod common;

use acd::{AgentState, Event, NotReadyReason, Outcome};
use common::{Sim, agent, contact, queue, secs};

/// Contacts 100, 101, 102 wait in queue 1; agent 1 then gets 100 offered.
fn three_waiting_one_offered() -> Sim {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    for c in 100..=102 {
        sim.arrive(c, 1);
        sim.step(secs(1));
    }
    let out = sim.ready_agent(1, &[10], 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(1))]);
    sim
}

#[test]
fn declined_contact_is_first_again() {
    let mut sim = three_waiting_one_offered();
    assert_eq!(sim.acd.waiting_position(contact(100)), None);
    assert_eq!(sim.acd.waiting_position(contact(101)).map(|p| p.0), Some(1));

    let out = sim.decline(100, 1);
    assert_eq!(
        out.events[..2],
        [
            Event::Declined {
                contact: contact(100),
                agent: agent(1),
            },
            Event::AgentStateChanged {
                agent: agent(1),
                state: AgentState::NotReady(NotReadyReason::Declined),
            },
        ]
    );
    assert!(out.commands.is_empty(), "no one else to offer to: {out:?}");
    assert_eq!(sim.acd.waiting_position(contact(100)).map(|p| p.0), Some(1));
    assert_eq!(sim.acd.waiting_position(contact(101)).map(|p| p.0), Some(2));
    assert_eq!(sim.acd.waiting_position(contact(102)).map(|p| p.0), Some(3));
    // Everyone is told where they are now.
    let told: Vec<_> = out.waiting().iter().map(|w| (w.0, w.1)).collect();
    assert_eq!(
        told,
        vec![(contact(100), 1), (contact(101), 2), (contact(102), 3)]
    );
}

#[test]
fn next_ready_agent_gets_the_declined_contact_not_a_later_one() {
    let mut sim = three_waiting_one_offered();
    sim.decline(100, 1);
    let out = sim.ready_agent(2, &[10], 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(2))]);
}

#[test]
fn a_free_agent_gets_the_declined_contact_at_once() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 1);
    sim.ready_agent(2, &[10], 1);
    assert_eq!(sim.arrive(100, 1).offers(), vec![(contact(100), agent(1))]);
    let out = sim.decline(100, 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(2))]);
}

#[test]
fn the_decliner_is_not_offered_again_until_ready() {
    let mut sim = three_waiting_one_offered();
    sim.decline(100, 1);
    assert_eq!(sim.view(1).offered, None);
    let out = sim.ready(1);
    assert_eq!(out.offers(), vec![(contact(100), agent(1))]);
}

#[test]
fn leaving_after_a_decline_is_declined_all() {
    let mut sim = three_waiting_one_offered();
    sim.decline(100, 1);
    let out = sim.leave(100);
    assert!(out.has_event(&Event::Left {
        contact: contact(100),
        outcome: Outcome::DeclinedAll,
    }));
    assert_eq!(sim.acd.queue_status(queue(1)).waiting, 2);
}
