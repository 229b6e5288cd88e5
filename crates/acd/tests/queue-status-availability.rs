//! A queue is `available` when at least one agent holding its skill is in the
//! `Available` state (whatever their load); its wait is zero while such an agent
//! could take an offer now, else the estimate for a newcomer.

mod common;

use acd::{Input, NotReadyReason, QueueStatus};
use common::{Sim, agent, queue, secs};

#[test]
fn status_follows_agents_and_line() {
    let mut sim = Sim::new();
    let out = sim.define_queue(1, 10);
    assert_eq!(out.queue_status(), vec![(false, secs(180), 0)]);

    // Online but not ready: capacity counts for the estimate, availability does not.
    let out = sim.online(1, &[10], 1);
    assert!(out.queue_status().is_empty(), "{out:?}");

    let out = sim.ready(1);
    assert_eq!(out.queue_status(), vec![(true, secs(0), 0)]);

    // The only agent is now ringing: still staffed, but a newcomer would wait.
    let arrived = sim.now;
    let out = sim.arrive(100, 1);
    assert_eq!(out.queue_status(), vec![(true, secs(180), 0)]);
    let out = sim.arrive(101, 1);
    assert_eq!(out.queue_status(), vec![(true, secs(360), 1)]);
    assert_eq!(
        sim.acd.queue_status(queue(1)),
        QueueStatus {
            available: true,
            wait: secs(360),
            waiting: 1,
            oldest_since: Some(arrived),
        }
    );

    let out = sim.input(Input::AgentNotReady {
        agent: agent(1),
        reason: NotReadyReason::Chosen("lunch".to_owned()),
    });
    assert_eq!(out.queue_status(), vec![(false, secs(360), 1)]);

    let out = sim.input(Input::AgentOffline { agent: agent(1) });
    // The ringing offer is withdrawn: two waiting, nobody online.
    assert_eq!(out.queue_status(), vec![(false, secs(540), 2)]);
}

#[test]
fn unknown_queue_shows_unstaffed() {
    let sim = Sim::new();
    let status = sim.acd.queue_status(queue(7));
    assert!(!status.available);
    assert_eq!(status.waiting, 0);
    assert_eq!(status.wait, secs(180));
    assert_eq!(status.oldest_since, None);
}

#[test]
fn redefining_the_skill_moves_availability() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[20], 1);
    assert!(!sim.acd.queue_status(queue(1)).available);
    let out = sim.define_queue(1, 20);
    assert_eq!(out.queue_status(), vec![(true, secs(0), 0)]);
}
