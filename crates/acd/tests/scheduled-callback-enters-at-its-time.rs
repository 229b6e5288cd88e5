//! A callback scheduled for later is accepted whatever the hours, waits in a
//! schedule, and enters the line at its time with a place based on that time.

mod common;

use acd::{ContactStage, Event, Media, WeeklyHours};
use common::{Sim, agent, contact, queue, queue_spec, secs, setup};

#[test]
fn scheduled_callback_waits_then_enters() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    let at = sim.now.plus(secs(600));
    let mut spec = sim.spec(1, 1, Media::Callback);
    spec.not_before = Some(at);
    let d = sim.arrive_spec(spec);
    assert!(d.has_event(&Event::Queued {
        contact: contact(1),
        queue: queue(1),
        center: Some(common::CENTER),
        scheduled_for: Some(at),
    }));
    assert!(d.dials().is_empty());
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        ContactStage::Scheduled { at }
    );
    let d = sim.run_for(secs(599));
    assert!(d.dials().is_empty());
    let d = sim.run_for(secs(1));
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 1)]);
}

#[test]
fn scheduled_callback_is_accepted_while_closed_and_ordered_by_its_time() {
    let mut sim = common::Sim::new();
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    s.centers[0].hours = WeeklyHours::default(); // never open
    sim.configure(s);
    sim.hire(1, 1);
    // A plain chat is refused: closed.
    let d = sim.arrive(9, 1);
    assert!(d.refusal(contact(9)).is_some());
    // Two callbacks: the one scheduled earlier goes first though it arrived later.
    let mut late = sim.spec(1, 1, Media::Callback);
    late.not_before = Some(sim.now.plus(secs(200)));
    sim.arrive_spec(late);
    let mut early = sim.spec(2, 1, Media::Callback);
    early.not_before = Some(sim.now.plus(secs(100)));
    sim.arrive_spec(early);
    sim.run_for(secs(300));
    // Hours are not re-checked at entry: both wait in line.
    assert_eq!(sim.contact_view(1).unwrap().stage, ContactStage::Waiting);
    assert_eq!(sim.contact_view(2).unwrap().position, Some(1));
    let d = sim.staff(1, 1);
    assert_eq!(d.dials(), vec![(contact(2), agent(1), 1)]);
}
