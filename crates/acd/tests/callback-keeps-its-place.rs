//! A waiting contact switched to a callback keeps its place in line; at its turn
//! an agent is reserved and the customer dialled (no offer step).

mod common;

use acd::{AgentState, CallbackPlan, ContactStage, Event, Input, Media};
use common::{Sim, agent, contact, secs};

#[test]
fn callback_is_dialled_at_its_original_turn() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1);
    sim.arrive(1, 1);
    sim.step(secs(1));
    sim.arrive(2, 1);
    let d = sim.input(Input::ToCallback {
        contact: contact(1),
        plan: CallbackPlan::default(),
    });
    assert!(d.ignored().is_empty());
    assert_eq!(sim.contact_view(1).unwrap().media, Media::Callback);
    let d = sim.staff(1, 1);
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 1)]);
    assert!(d.offers().is_empty(), "a callback is not offered");
    assert_eq!(sim.state(1), AgentState::Reserved);
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        ContactStage::Dialing { agent: agent(1) }
    );
    let d = sim.input(Input::CallbackConnected {
        contact: contact(1),
    });
    assert!(d.has_event(&Event::Assigned {
        contact: contact(1),
        agent: agent(1),
    }));
    assert_eq!(sim.state(1), AgentState::Busy);
}

#[test]
fn only_a_waiting_contact_can_become_a_callback() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.arrive(1, 1);
    let d = sim.input(Input::ToCallback {
        contact: contact(1),
        plan: CallbackPlan::default(),
    });
    assert_eq!(d.ignored().len(), 1, "it is being offered");
}
