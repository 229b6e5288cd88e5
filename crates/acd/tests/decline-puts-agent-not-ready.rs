//! A declined offer puts the agent NotReady(Declined) and returns the contact to
//! its place, without a CancelOffer (the agent already knows).

mod common;

use acd::{AgentState, Event, NotReadyReason, Outcome};
use common::{Sim, agent, contact, secs};

#[test]
fn decline_requeues_at_the_same_place_and_agent_is_not_ready() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.arrive(1, 1);
    sim.step(secs(1));
    sim.arrive(2, 1);
    let d = sim.decline(1, 1);
    assert!(d.has_event(&Event::Declined {
        contact: contact(1),
        agent: agent(1),
    }));
    assert!(d.commands.is_empty(), "no offer is cancelled or remade");
    assert_eq!(sim.state(1), AgentState::NotReady(NotReadyReason::Declined));
    let d = sim.staff(2, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
    // A declined agent who becomes ready again gets the next one.
    let d = sim.ready(1);
    assert_eq!(d.offers(), vec![(contact(2), agent(1))]);
    // Declined once: leaving now (offer to agent 2 ringing) counts as DeclinedAll.
    let d = sim.leave(1);
    assert_eq!(d.left(), vec![(contact(1), Outcome::DeclinedAll)]);
}

#[test]
fn a_wrong_decline_is_ignored() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.arrive(1, 1);
    let d = sim.decline(1, 2);
    assert_eq!(d.ignored().len(), 1);
    assert_eq!(sim.state(1), AgentState::Reserved);
}
