//! A blind transfer: the holding agent lets go (ended, wrap-up done at once)
//! and the same contact arrives again in another queue, where an agent of that
//! queue is offered it.

mod common;

use acd::{Input, Media, Outcome};
use common::{Sim, agent, contact};

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
