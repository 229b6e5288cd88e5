//! AddCenter overflow: after the rule's delay, agents of a backup center may
//! serve the contact too; it keeps its place.

mod common;

use acd::{Capacity, CenterId, Event, OverflowAction, OverflowRule};
use common::{Sim, agent, agent_spec, center, contact, queue_spec, secs, setup};

#[test]
fn backup_center_serves_after_the_delay() {
    let mut sim = Sim::new();
    let mut q = queue_spec(1, Some(1));
    q.centers = vec![CenterId(1)];
    q.overflow = vec![OverflowRule {
        after: secs(30),
        action: OverflowAction::AddCenter(CenterId(2)),
    }];
    let mut s = setup(vec![q]);
    s.centers.push(center(2));
    sim.configure(s);
    sim.hire(1, 1); // center 1, offline
    let mut backup = agent_spec(2, &[(1, 5)], Capacity::default());
    backup.center = CenterId(2);
    sim.define(backup);
    sim.input(acd::Input::AgentOnline { agent: agent(2) });
    let d = sim.ready(2);
    assert!(d.offers().is_empty());
    let d = sim.arrive(1, 1);
    assert_eq!(d.queued(), vec![(contact(1), Some(CenterId(1)))]);
    assert!(d.offers().is_empty(), "backup agent not allowed yet");
    let d = sim.run_for(secs(29));
    assert!(d.offers().is_empty());
    let d = sim.run_for(secs(1));
    assert!(d.has_event(&Event::Overflowed {
        contact: contact(1),
        rule: 0,
    }));
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}

#[test]
fn add_queue_lets_that_queues_agents_serve() {
    let mut sim = Sim::new();
    let mut q1 = queue_spec(1, Some(1));
    q1.overflow = vec![OverflowRule {
        after: secs(10),
        action: OverflowAction::AddQueue(common::queue(2)),
    }];
    sim.configure(setup(vec![q1, queue_spec(2, Some(2))]));
    sim.hire(1, 1);
    sim.staff(2, 2);
    let d = sim.arrive(1, 1);
    assert!(d.offers().is_empty());
    let d = sim.run_for(secs(10));
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}
