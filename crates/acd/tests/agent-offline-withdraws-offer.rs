//! An agent whose console goes away loses a ringing offer (the contact goes back to
//! its place) but keeps the contacts already assigned until they finish.

mod common;

use acd::{AgentState, CancelReason, Command, Event, Input, Outcome};
use common::{Sim, agent, contact, login};

fn offline(a: i64) -> Input {
    Input::AgentOffline { agent: agent(a) }
}

#[test]
fn ringing_offer_is_cancelled_and_contact_requeued() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.arrive(100, 1);
    sim.arrive(101, 1);
    sim.ready_agent(1, &[10], 1);
    let out = sim.input(offline(1));
    assert_eq!(
        out.commands,
        vec![Command::CancelOffer {
            contact: contact(100),
            agent: agent(1),
            reason: CancelReason::AgentOffline,
        }]
    );
    assert!(out.has_event(&Event::AgentStateChanged {
        agent: agent(1),
        state: AgentState::Offline,
    }));
    assert_eq!(sim.acd.waiting_position(contact(100)).map(|p| p.0), Some(1));
    assert_eq!(sim.view(1).offered, None);
    // The agent went away; the contact did not refuse anything.
    let out = sim.leave(100);
    assert!(out.has_event(&Event::Left {
        contact: contact(100),
        outcome: Outcome::Abandoned,
    }));
}

#[test]
fn assigned_contacts_stay_until_finished() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 2);
    sim.arrive(100, 1);
    sim.accept(100, 1);
    sim.input(offline(1));
    assert_eq!(sim.view(1).assigned, vec![contact(100)]);
    // The visitor leaving does not take the contact from the agent (wrap-up).
    assert!(sim.leave(100).outputs.is_empty());
    assert_eq!(sim.view(1).assigned, vec![contact(100)]);

    let out = sim.online(1, &[10], 2);
    assert!(out.has_event(&Event::AgentStateChanged {
        agent: agent(1),
        state: login(),
    }));
    assert_eq!(sim.view(1).assigned, vec![contact(100)]);
    let out = sim.finish(100);
    assert!(out.has_event(&Event::Left {
        contact: contact(100),
        outcome: Outcome::Answered,
    }));
    assert!(sim.view(1).assigned.is_empty());
}

#[test]
fn withdrawn_contact_goes_to_another_agent() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 1);
    sim.arrive(100, 1);
    sim.online(2, &[10], 1);
    let out = sim.ready(2);
    assert!(out.offers().is_empty(), "agent 1 holds the offer");
    let out = sim.input(offline(1));
    assert_eq!(out.offers(), vec![(contact(100), agent(2))]);
}

#[test]
fn going_offline_twice_is_ignored() {
    let mut sim = Sim::new();
    sim.online(1, &[10], 1);
    sim.input(offline(1));
    assert_eq!(
        sim.input(offline(1)).ignored(),
        vec!["agent already offline"]
    );
}
