//! Contacts rebuilt after a restart with arrival times in the past keep their
//! order, even when fed in another order, and overflow timers count from then.

mod common;

use acd::{Event, Media, OverflowAction, OverflowRule};
use common::{Sim, agent, contact, queue_spec, secs, setup, skill};

#[test]
fn past_arrivals_are_ordered_by_arrival() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1);
    let now = sim.now;
    for (c, ago) in [(1, 30), (2, 90), (3, 60)] {
        let mut spec = sim.spec(c, 1, Media::Chat);
        spec.arrived = common::START.plus(secs(0));
        spec.arrived = acd::Time(now.0 - ago * 1000);
        sim.arrive_spec(spec);
    }
    assert_eq!(sim.contact_view(2).unwrap().position, Some(1));
    let mut order = Vec::new();
    sim.staff(1, 1);
    for _ in 0..3 {
        let v = sim.view(1);
        let c = v.offered.expect("an offer");
        order.push(c);
        sim.accept(c.0, 1);
        sim.end(c.0);
        sim.input(acd::Input::WrapUpDone { contact: c });
    }
    assert_eq!(order, vec![contact(2), contact(3), contact(1)]);
    assert!(sim.view(1).offered.is_none());
    let _ = agent(1);
}

#[test]
fn overflow_already_due_applies_at_the_next_wake_up() {
    let mut sim = Sim::new();
    let mut q = queue_spec(1, None);
    q.required = vec![common::req(1, 1), common::req(2, 1)];
    q.overflow = vec![OverflowRule {
        after: secs(30),
        action: OverflowAction::DropSkill(skill(2)),
    }];
    sim.configure(setup(vec![q]));
    sim.define(common::agent_spec(
        9,
        &[(1, 1), (2, 1)],
        acd::Capacity::default(),
    ));
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Chat);
    spec.arrived = acd::Time(sim.now.0 - 60_000);
    sim.arrive_spec(spec);
    assert_eq!(sim.timeout, Some(acd::Time(sim.now.0 - 30_000)));
    let d = sim.advance_to_next_timeout();
    assert!(d.has_event(&Event::Overflowed {
        contact: contact(1),
        rule: 0,
    }));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
}
