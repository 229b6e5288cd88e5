//! With Weighted, arrivals are spread over open centers by smooth weighted
//! round-robin; a center of weight zero is never chosen by weight.

mod common;

use acd::{Capacity, CenterId, CenterPolicy};
use common::{Sim, agent_spec, center, queue_spec, setup};

#[test]
fn arrivals_follow_the_weights_smoothly() {
    let mut sim = Sim::new();
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    s.queues[0].center_policy = CenterPolicy::Weighted;
    s.centers[0].weight = 5;
    let mut c2 = center(2);
    c2.weight = 1;
    let mut c3 = center(3);
    c3.weight = 1;
    let mut c4 = center(4);
    c4.weight = 0;
    s.centers.extend([c2, c3, c4]);
    sim.configure(s);
    for c in 1..=4 {
        let mut spec = agent_spec(c, &[(1, 5)], Capacity::default());
        spec.center = CenterId(c);
        sim.define(spec);
    }
    let mut got = Vec::new();
    for c in 0..14 {
        let d = sim.arrive(c, 1);
        got.extend(d.queued().into_iter().filter_map(|(_, c)| c).map(|c| c.0));
    }
    // nginx's smooth weighted round-robin for weights {5, 1, 1}.
    assert_eq!(got, vec![1, 1, 2, 1, 3, 1, 1, 1, 1, 2, 1, 3, 1, 1]);
    assert!(!got.contains(&4));
}
