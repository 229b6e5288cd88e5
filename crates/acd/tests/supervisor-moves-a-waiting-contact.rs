//! A supervisor moves a waiting contact (`Input::Requeue`): to another queue,
//! where that queue's agent is offered it, or ahead in its own line by a higher
//! priority. A contact that is not waiting, or a queue nobody can serve, is
//! left alone: a move never ends a contact.

mod common;

use acd::{ContactStage, Input, Media};
use common::{Sim, agent, contact, queue, secs};

#[test]
fn a_contact_moved_to_another_queue_is_offered_there() {
    let mut sim = Sim::with_queues(&[(1, Some(1)), (2, Some(2))]);
    sim.hire(1, 1); // queue 1's agent, not signed in: the contact waits
    let arrived = sim.spec(1, 1, Media::Chat);
    sim.arrive_spec(arrived.clone());
    sim.step(secs(10));
    sim.staff(2, 2);
    let mut moved = arrived;
    moved.queue = queue(2);
    let d = sim.input(Input::Requeue(Box::new(moved)));
    assert!(d.ignored().is_empty(), "{:?}", d.ignored());
    assert!(d.left().is_empty(), "a move is no outcome");
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}

#[test]
fn a_higher_priority_moves_a_contact_ahead_in_its_line() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1);
    sim.arrive(1, 1);
    sim.step(secs(5));
    let later = sim.spec(2, 1, Media::Chat);
    sim.arrive_spec(later.clone());
    assert_eq!(sim.acd.contact(contact(2)).unwrap().position, Some(2));
    let mut ahead = later;
    ahead.priority = 10;
    let d = sim.input(Input::Requeue(Box::new(ahead)));
    assert!(d.ignored().is_empty(), "{:?}", d.ignored());
    assert_eq!(sim.acd.contact(contact(2)).unwrap().position, Some(1));
    assert_eq!(sim.acd.contact(contact(1)).unwrap().position, Some(2));
    // The agent signs in: the moved contact is offered first.
    sim.input(Input::AgentOnline { agent: agent(1) });
    let d = sim.ready(1);
    assert_eq!(d.offers()[0], (contact(2), agent(1)));
}

#[test]
fn only_a_waiting_contact_into_a_servable_queue_moves() {
    let mut sim = Sim::with_queues(&[(1, Some(1)), (2, Some(2)), (3, Some(3))]);
    sim.staff(1, 1);
    sim.hire(2, 2);
    let offered = sim.spec(1, 1, Media::Chat);
    sim.arrive_spec(offered.clone());
    let mut moved = offered;
    moved.queue = queue(2);
    let d = sim.input(Input::Requeue(Box::new(moved)));
    assert_eq!(d.ignored(), vec!["only a waiting contact can be moved"]);

    // Queue 3 has nobody at all: the waiting contact stays in queue 2's line.
    let waiting = sim.spec(2, 2, Media::Chat);
    sim.arrive_spec(waiting.clone());
    let mut nowhere = waiting;
    nowhere.queue = queue(3);
    // Queue 3's plain requirement is learnt by an arrival first.
    sim.arrive(3, 3);
    let d = sim.input(Input::Requeue(Box::new(nowhere)));
    assert_eq!(d.ignored(), vec!["nobody can serve that queue"]);
    let view = sim.acd.contact(contact(2)).unwrap();
    assert_eq!(view.queue, queue(2));
    assert_eq!(view.stage, ContactStage::Waiting);
}
