//! An offer nobody answers expires at its deadline: the offer is cancelled, the
//! agent is marked as having missed it, and the contact goes back to its place.

mod common;

use acd::{AgentState, CancelReason, Command, Config, Event, NotReadyReason, Output};
use common::{Sim, agent, contact, secs};

fn offered() -> Sim {
    let mut sim = Sim::with_config(Config {
        offer_timeout: secs(15),
        ..Config::default()
    });
    sim.define_queue(1, 10);
    sim.arrive(100, 1);
    sim.step(secs(1));
    sim.arrive(101, 1);
    sim.ready_agent(1, &[10], 1);
    sim
}

#[test]
fn the_core_asks_to_wake_at_the_expiry() {
    let mut sim = offered();
    let out = sim.arrive(102, 1);
    assert_eq!(out.timeout, Some(sim.now + secs(15)));
}

#[test]
fn a_timer_before_expiry_changes_nothing() {
    let mut sim = offered();
    sim.step(secs(14));
    let out = sim.input(acd::Input::Timeout);
    assert!(out.outputs.is_empty(), "{out:?}");
    assert_eq!(sim.view(1).offered, Some(contact(100)));
}

#[test]
fn expiry_cancels_and_requeues_in_order() {
    let mut sim = offered();
    let expires = sim.now + secs(15);
    let out = sim.advance_to_next_timeout();
    assert_eq!(sim.now, expires);
    assert_eq!(
        out.outputs[..3],
        [
            Output::Command(Command::CancelOffer {
                contact: contact(100),
                agent: agent(1),
                reason: CancelReason::Timeout,
            }),
            Output::Event(Event::OfferTimedOut {
                contact: contact(100),
                agent: agent(1),
            }),
            Output::Event(Event::AgentStateChanged {
                agent: agent(1),
                state: AgentState::NotReady(NotReadyReason::MissedOffer),
            }),
        ]
    );
    assert_eq!(sim.acd.waiting_position(contact(100)).map(|p| p.0), Some(1));
    assert_eq!(sim.acd.waiting_position(contact(101)).map(|p| p.0), Some(2));
    assert_eq!(sim.view(1).offered, None);
}

#[test]
fn expired_contact_is_offered_to_the_next_agent_at_once() {
    let mut sim = offered();
    sim.ready_agent(2, &[10], 1);
    // Agent 2 was free too, so contact 101 went to them already.
    assert_eq!(sim.view(2).offered, Some(contact(101)));
    sim.ready_agent(3, &[10], 1);
    let out = sim.advance_to_next_timeout();
    assert_eq!(out.offers(), vec![(contact(100), agent(3))]);
}

#[test]
fn a_late_answer_before_the_timer_fires_still_counts() {
    let mut sim = offered();
    sim.step(secs(20));
    let out = sim.accept(100, 1);
    assert!(out.has_event(&Event::Assigned {
        contact: contact(100),
        agent: agent(1),
    }));
    let out = sim.advance_to_next_timeout();
    assert!(out.commands.is_empty(), "{out:?}");
}
