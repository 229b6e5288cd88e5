//! An invalid setup is ignored as a whole and the previous one stays; a valid
//! one replaces it, refusing contacts waiting in queues that disappeared.

mod common;

use acd::{Event, Outcome, Refusal};
use common::{Sim, contact, queue_spec, setup};

#[test]
fn invalid_setup_keeps_the_old_one() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1);
    let mut bad = setup(vec![queue_spec(2, Some(1))]);
    bad.centers[0].time_zone = "Mars/Olympus".into();
    let d = sim.configure(bad);
    assert_eq!(d.ignored(), vec!["invalid setup"]);
    let d = sim.arrive(1, 1);
    assert_eq!(d.refusal(contact(1)), None, "queue 1 still there");
    let d = sim.arrive(2, 2);
    assert_eq!(d.refusal(contact(2)), Some(Refusal::UnknownQueue));
}

#[test]
fn a_new_setup_refuses_contacts_of_vanished_queues() {
    let mut sim = Sim::with_queues(&[(1, Some(1)), (2, Some(1))]);
    sim.hire(1, 1);
    sim.arrive(1, 1);
    sim.arrive(2, 2);
    let d = sim.configure(setup(vec![queue_spec(2, Some(1))]));
    assert!(d.has_event(&Event::Refused {
        contact: contact(1),
        reason: Refusal::UnknownQueue,
    }));
    assert_eq!(d.left(), vec![(contact(1), Outcome::Refused)]);
    assert!(sim.contact_view(2).is_some());
    assert_eq!(sim.acd.queue_status(common::queue(2)).waiting, 1);
}
