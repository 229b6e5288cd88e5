//! An offer nobody answers is withdrawn at its expiry; the contact goes back to
//! the head of the line (same key) and the agent becomes NotReady(MissedOffer).

mod common;

use acd::{AgentState, CancelReason, Command, ContactStage, Event, NotReadyReason};
use common::{Sim, agent, contact, secs};

#[test]
fn unanswered_offer_times_out_and_the_contact_keeps_its_place() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    let d = sim.arrive(1, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
    // Offer timeout is 20 s (queue default).
    assert!(d.has_command(&Command::Offer {
        contact: contact(1),
        agent: agent(1),
        expires: common::START.plus(secs(20)),
    }));
    sim.step(secs(1));
    sim.arrive(2, 1);
    sim.arrive(3, 1);
    sim.hire(2, 1);
    let d = sim.run_for(secs(18));
    assert!(d.commands.is_empty(), "{:?}", d.commands);
    let d = sim.run_for(secs(1));
    assert!(d.has_command(&Command::CancelOffer {
        contact: contact(1),
        agent: agent(1),
        reason: CancelReason::Timeout,
    }));
    assert!(d.has_event(&Event::OfferTimedOut {
        contact: contact(1),
        agent: agent(1),
    }));
    assert_eq!(
        sim.state(1),
        AgentState::NotReady(NotReadyReason::MissedOffer)
    );
    let view = sim.contact_view(1).unwrap();
    assert_eq!(view.stage, ContactStage::Waiting);
    assert_eq!(view.position, Some(1));
    // A second agent gets contact 1 first, not 2 or 3.
    let d = sim.staff(2, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}
