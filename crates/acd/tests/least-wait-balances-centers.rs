//! With LeastWait, arrivals go to the center with the least expected wait
//! (waiting per ready qualified agent); a full center is skipped.

mod common;

use acd::{Capacity, CenterId, CenterPolicy};
use common::{Sim, agent_spec, center, contact, queue_spec, setup};

fn sim(capacity: Option<u32>) -> Sim {
    let mut sim = Sim::new();
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    s.queues[0].center_policy = CenterPolicy::LeastWait;
    let mut c2 = center(2);
    c2.capacity = capacity;
    s.centers.push(c2);
    sim.configure(s);
    // Center 1: one agent; center 2: two agents. All on break, so contacts wait.
    for (a, c) in [(1, 1), (2, 2), (3, 2)] {
        let mut spec = agent_spec(a, &[(1, 5)], Capacity::default());
        spec.center = CenterId(c);
        sim.define(spec);
        sim.input(acd::Input::AgentOnline {
            agent: common::agent(a),
        });
    }
    for a in 1..=3 {
        sim.ready(a);
        sim.not_ready(a);
    }
    sim
}

#[test]
fn arrivals_spread_by_expected_wait() {
    let mut sim = sim(None);
    for a in 1..=3 {
        sim.ready(a);
    }
    let mut centers = Vec::new();
    for c in 1..=9 {
        let d = sim.arrive(c, 1);
        centers.extend(d.queued().into_iter().filter_map(|(_, c)| c).map(|c| c.0));
    }
    // (waiting + 1) / ready agents: center 2 has two ready agents, center 1 one;
    // ties go to the higher weight, then the lower id. Offered contacts no
    // longer wait. The choice is a preference: contact 3 prefers center 2, whose
    // agents are both ringing, and is offered at once to center 1's free agent,
    // so it never waits for center 2 and center 2 is chosen again for contact 4.
    assert_eq!(centers, vec![2, 2, 2, 2, 1, 2, 2, 1, 2]);
    let in_two = centers.iter().filter(|c| **c == 2).count();
    assert_eq!(in_two, 7);
}

#[test]
fn a_full_center_is_skipped_until_all_are_full() {
    let mut sim = sim(Some(1));
    for a in 1..=3 {
        sim.ready(a);
    }
    // Center 2 (two ready agents) is chosen first, then it is full.
    let d = sim.arrive(1, 1);
    assert_eq!(d.queued(), vec![(contact(1), Some(CenterId(2)))]);
    let d = sim.arrive(2, 1);
    assert_eq!(d.queued(), vec![(contact(2), Some(CenterId(1)))]);
}
