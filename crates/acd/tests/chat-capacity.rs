//! An agent takes chats up to its chat capacity, counting chats in wrap-up.

mod common;

use acd::{AgentState, Capacity, Media};
use common::{Sim, agent, contact};

#[test]
fn chats_fill_the_agent_up_to_capacity() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.ready_agent(1, &[(1, 3)], Capacity::NONE.with(Media::Chat, 2));
    let d = sim.arrive(1, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
    sim.accept(1, 1);
    assert_eq!(sim.state(1), AgentState::Busy);
    let d = sim.arrive(2, 1);
    assert_eq!(d.offers(), vec![(contact(2), agent(1))]);
    sim.accept(2, 1);
    let d = sim.arrive(3, 1);
    assert!(d.offers().is_empty(), "two chats is the capacity");
    // Ending one puts it in wrap-up: the slot is still taken.
    let d = sim.end(1);
    assert!(d.offers().is_empty());
    let d = sim.input(acd::Input::WrapUpDone {
        contact: contact(1),
    });
    assert_eq!(d.offers(), vec![(contact(3), agent(1))]);
    assert_eq!(sim.view(1).offered, Some(contact(3)));
    assert_eq!(sim.view(1).assigned, vec![contact(2)]);
}

#[test]
fn an_agent_without_chat_capacity_gets_no_chat() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.ready_agent(1, &[(1, 3)], Capacity::NONE.with(Media::Voice, 1));
    sim.ready_agent(2, &[(1, 3)], Capacity::default());
    let d = sim.arrive(1, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}
