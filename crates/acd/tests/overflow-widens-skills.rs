//! DropSkill and LowerLevel overflow rules widen who may serve a waiting contact,
//! each at its own time, keeping the contact's place.

mod common;

use acd::{Capacity, Event, OverflowAction, OverflowRule};
use common::{Sim, agent, contact, queue_spec, req, secs, setup, skill};

#[test]
fn level_lowered_then_skill_dropped() {
    let mut sim = Sim::new();
    let mut q = queue_spec(1, None);
    q.required = vec![req(1, 8), req(2, 1)];
    q.overflow = vec![
        OverflowRule {
            after: secs(20),
            action: OverflowAction::LowerLevel {
                skill: skill(1),
                min_level: 5,
            },
        },
        OverflowRule {
            after: secs(40),
            action: OverflowAction::DropSkill(skill(2)),
        },
    ];
    sim.configure(setup(vec![q]));
    sim.define(common::agent_spec(
        9,
        &[(1, 9), (2, 1)],
        Capacity::default(),
    ));
    sim.ready_agent(1, &[(1, 5)], Capacity::default());
    let d = sim.arrive(1, 1);
    assert!(d.offers().is_empty());
    let d = sim.run_for(secs(20));
    assert!(d.has_event(&Event::Overflowed {
        contact: contact(1),
        rule: 0,
    }));
    assert!(
        d.offers().is_empty(),
        "level 5 is enough now but skill 2 missing"
    );
    let d = sim.run_for(secs(20));
    assert!(d.has_event(&Event::Overflowed {
        contact: contact(1),
        rule: 1,
    }));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
}
