//! Waiting contacts are told their position and estimate on entering the line and
//! whenever either changes, at most once per estimate interval, never frozen;
//! queue status is pushed when it changes.

mod common;

use acd::{Capacity, Config};
use common::{Sim, contact, queue, queue_spec, secs, setup};

fn sim() -> Sim {
    let mut sim = Sim::with_config(Config {
        initial_handle_time: secs(60),
        estimate_interval: secs(5),
        ..Config::default()
    });
    sim.configure(setup(vec![queue_spec(1, Some(1))]));
    sim
}

#[test]
fn position_and_estimate_on_entry() {
    let mut sim = sim();
    // Two online agents (on break): 2 × 3 chat slots staffed.
    for a in 1..=2 {
        sim.ready_agent(a, &[(1, 5)], Capacity::default());
        sim.not_ready(a);
    }
    let d = sim.arrive(1, 1);
    assert_eq!(d.waiting(), vec![(contact(1), 1, secs(10))]);
    let d = sim.arrive(2, 1);
    assert_eq!(d.waiting(), vec![(contact(2), 2, secs(20))]);
    let view = sim.contact_view(2).unwrap();
    assert_eq!(view.position, Some(2));
    assert_eq!(view.wait, Some(secs(20)));
    let status = sim.acd.queue_status(queue(1));
    assert_eq!(status.waiting, 2);
    assert_eq!(status.wait, secs(90), "3 × 60 s over two agents");
}

#[test]
fn moving_up_is_told_after_the_interval() {
    let mut sim = sim();
    sim.ready_agent(1, &[(1, 5)], Capacity::NONE.with(acd::Media::Chat, 1));
    sim.arrive(1, 1); // offered at once
    sim.arrive(2, 1);
    sim.arrive(3, 1);
    sim.accept(1, 1);
    sim.end(1);
    sim.step(secs(1));
    // Wrap-up done: contact 2 is offered, contact 3 moves to position 1.
    let d = sim.input(acd::Input::WrapUpDone {
        contact: contact(1),
    });
    assert_eq!(d.offers().len(), 1);
    assert!(d.waiting().is_empty(), "told less than 5 s ago");
    let d = sim.run_for(secs(4));
    let told: Vec<_> = d.waiting();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, contact(3));
    assert_eq!(told[0].1, 1);
}

#[test]
fn queue_status_is_pushed_on_change() {
    let mut sim = sim();
    let d = sim.ready_agent(1, &[(1, 5)], Capacity::default());
    let last = d.statuses().pop().expect("status pushed");
    assert!(last.available);
    assert_eq!(last.wait, secs(0));
    let d = sim.not_ready(1);
    let last = d.statuses().pop().expect("status pushed");
    assert!(!last.available);
    assert_eq!(last.wait, secs(60));
    // No change, nothing pushed.
    let d = sim.input(acd::Input::Timeout);
    assert!(d.statuses().is_empty());
}
