//! Waiting contacts are told their position and estimated wait on arrival and
//! whenever either changes: wait = ceil(position / online capacity) * average
//! handle time, with the average moving as contacts finish.

mod common;

use acd::{Config, Input, NotReadyReason};
use common::{Sim, agent, contact, queue, secs};

fn config() -> Config {
    Config {
        initial_handle_time: secs(100),
        handle_time_smoothing: 0.5,
        ..Config::default()
    }
}

#[test]
fn nobody_online_counts_whole_handle_times() {
    let mut sim = Sim::with_config(config());
    sim.define_queue(1, 10);
    let out = sim.arrive(100, 1);
    assert_eq!(out.waiting(), vec![(contact(100), 1, secs(100))]);
    let out = sim.arrive(101, 1);
    // Contact 100's estimate did not change, so it is not told again.
    assert_eq!(out.waiting(), vec![(contact(101), 2, secs(200))]);
    assert_eq!(out.queue_status(), vec![(false, secs(300), 2)]);
    assert_eq!(sim.acd.waiting_position(contact(101)), Some((2, secs(200))));
}

#[test]
fn online_capacity_shortens_the_estimate() {
    let mut sim = Sim::with_config(config());
    sim.define_queue(1, 10);
    for c in 100..=103 {
        sim.arrive(c, 1);
    }
    // Online (not ready yet) with two chats: the line moves two at a time.
    let out = sim.online(1, &[10], 2);
    assert_eq!(
        out.waiting(),
        vec![
            (contact(101), 2, secs(100)),
            (contact(102), 3, secs(200)),
            (contact(103), 4, secs(200)),
        ]
    );
    let out = sim.input(Input::AgentOffline { agent: agent(1) });
    assert_eq!(out.waiting().len(), 3, "back to one per round: {out:?}");
}

#[test]
fn positions_move_as_the_line_moves() {
    let mut sim = Sim::with_config(config());
    sim.define_queue(1, 10);
    for c in 100..=102 {
        sim.arrive(c, 1);
    }
    let out = sim.ready_agent(1, &[10], 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(1))]);
    assert_eq!(
        out.waiting(),
        vec![(contact(101), 1, secs(100)), (contact(102), 2, secs(200))]
    );
}

#[test]
fn handle_time_average_feeds_the_estimate() {
    let mut sim = Sim::with_config(config());
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 1);
    sim.arrive(100, 1);
    sim.step(secs(5));
    sim.accept(100, 1);
    sim.arrive(101, 1);
    sim.step(secs(20));
    sim.input(Input::AgentNotReady {
        agent: agent(1),
        reason: NotReadyReason::Chosen("wrap-up".to_owned()),
    });
    let out = sim.finish(100);
    // Handled 20 s (accept to finish): 0.5 * 100 + 0.5 * 20 = 60 s.
    assert_eq!(out.waiting(), vec![(contact(101), 1, secs(60))]);
    assert_eq!(sim.acd.queue_status(queue(1)).wait, secs(120));
}

#[test]
fn returning_to_the_line_is_announced_again() {
    let mut sim = Sim::with_config(config());
    sim.define_queue(1, 10);
    sim.arrive(100, 1);
    sim.ready_agent(1, &[10], 1);
    let out = sim.decline(100, 1);
    assert_eq!(out.waiting(), vec![(contact(100), 1, secs(100))]);
}
