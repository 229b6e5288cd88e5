//! A visitor or a supervisor moves a callback: a scheduled one waits for its
//! new time, a waiting one leaves the line until then, and one moved to now
//! enters at once; anything but a waiting or scheduled callback is left alone.

mod common;

use acd::{ContactStage, Input, Media};
use common::{Sim, agent, contact, secs};

#[test]
fn a_scheduled_callback_moves_to_its_new_time() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Callback);
    spec.not_before = Some(sim.now.plus(secs(600)));
    sim.arrive_spec(spec);
    let later = sim.now.plus(secs(1200));
    sim.input(Input::Reschedule {
        contact: contact(1),
        at: later,
    });
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        ContactStage::Scheduled { at: later }
    );
    // The old time passes without a dial (its timer is stale).
    let d = sim.run_for(secs(1199));
    assert!(d.dials().is_empty());
    let d = sim.run_for(secs(1));
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 1)]);
}

#[test]
fn a_waiting_callback_leaves_the_line_until_its_time_or_enters_now() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1); // nobody ready: callbacks wait
    sim.arrive_spec(sim.spec(1, 1, Media::Callback));
    sim.arrive_spec(sim.spec(2, 1, Media::Callback));
    assert_eq!(sim.contact_view(2).unwrap().position, Some(2));
    let at = sim.now.plus(secs(300));
    sim.input(Input::Reschedule {
        contact: contact(1),
        at,
    });
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        ContactStage::Scheduled { at }
    );
    assert_eq!(sim.contact_view(2).unwrap().position, Some(1));
    // Moved back to now: it enters the line behind the one that waited.
    let now = sim.now;
    sim.input(Input::Reschedule {
        contact: contact(1),
        at: now,
    });
    assert_eq!(sim.contact_view(1).unwrap().stage, ContactStage::Waiting);
    assert_eq!(sim.contact_view(1).unwrap().position, Some(2));
}

#[test]
fn chats_and_offered_callbacks_are_left_alone() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1);
    sim.arrive(1, 1);
    let at = sim.now.plus(secs(60));
    let d = sim.input(Input::Reschedule {
        contact: contact(1),
        at,
    });
    assert_eq!(d.ignored(), vec!["only a callback can be rescheduled"]);
    sim.leave(1);
    sim.arrive_spec(sim.spec(2, 1, Media::Callback));
    let mut d = sim.input(Input::AgentOnline { agent: agent(1) });
    d.extend(sim.ready(1));
    assert_eq!(d.dials(), vec![(contact(2), agent(1), 1)]);
    let d = sim.input(Input::Reschedule {
        contact: contact(2),
        at,
    });
    assert_eq!(
        d.ignored(),
        vec!["only a waiting or scheduled callback can be rescheduled"]
    );
    let d = sim.input(Input::Reschedule {
        contact: contact(9),
        at,
    });
    assert_eq!(d.ignored(), vec!["unknown contact"]);
}
