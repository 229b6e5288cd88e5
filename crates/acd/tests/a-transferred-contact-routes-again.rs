//! A blind transfer: the holding agent lets go (ended, wrap-up done at once)
//! and the same contact arrives again in another queue, where an agent of that
//! queue is offered it.

mod common;

use acd::{Capacity, Input, Media, Outcome};
use common::{Sim, agent, contact, secs};

#[test]
fn the_same_contact_is_offered_in_the_new_queue() {
    let mut sim = Sim::with_queues(&[(1, Some(1)), (2, Some(2))]);
    sim.staff(1, 1);
    sim.staff(2, 2);
    let d = sim.arrive_spec(sim.spec(1, 1, Media::Voice));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
    sim.accept(1, 1);
    let d = sim.input(Input::ContactEnded {
        contact: contact(1),
    });
    assert_eq!(d.left(), vec![(contact(1), Outcome::Answered)]);
    sim.input(Input::WrapUpDone {
        contact: contact(1),
    });
    let d = sim.arrive_spec(sim.spec(1, 2, Media::Voice));
    assert!(d.ignored().is_empty(), "{:?}", d.ignored());
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}

/// Agent 1 serves both queues and transfers a call to queue 2 where it is the
/// longest idle: with itself excluded, agent 2 is offered it.
#[test]
fn the_transferring_agent_is_passed_over_for_a_while() {
    let mut sim = Sim::with_queues(&[(1, Some(1)), (2, Some(2))]);
    sim.ready_agent(1, &[(1, 5), (2, 5)], Capacity::NONE.with(Media::Voice, 1));
    let d = sim.arrive_spec(sim.spec(1, 1, Media::Voice));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
    sim.accept(1, 1);
    sim.step(secs(5));
    sim.staff(2, 2);
    sim.input(Input::ContactEnded {
        contact: contact(1),
    });
    sim.input(Input::WrapUpDone {
        contact: contact(1),
    });
    let mut spec = sim.spec(1, 2, Media::Voice);
    spec.excluded_agent = Some(agent(1));
    spec.preferred_wait = Some(secs(30));
    let d = sim.arrive_spec(spec);
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}

/// When the transferring agent is the only one who can take it, it waits for
/// the preference wait and then goes to them.
#[test]
fn the_exclusion_ends_with_the_preference_wait() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.ready_agent(1, &[(1, 5)], Capacity::NONE.with(Media::Voice, 1));
    let mut spec = sim.spec(1, 1, Media::Voice);
    spec.excluded_agent = Some(agent(1));
    spec.preferred_wait = Some(secs(30));
    let d = sim.arrive_spec(spec);
    assert!(d.offers().is_empty(), "agent 1 is excluded");
    let d = sim.run_for(secs(29));
    assert!(d.offers().is_empty());
    let d = sim.run_for(secs(1));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
}
