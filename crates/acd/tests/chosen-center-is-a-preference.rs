//! The center a queue's policy picks is preferred, not exclusive: its free agents
//! are offered the contact first, ahead of longer-idle agents elsewhere, but a
//! contact never waits for a busy center while another center has a free agent.

mod common;

use acd::{Capacity, CenterId, CenterPolicy, Media, WeeklyHours};
use common::{Sim, agent, agent_spec, center, contact, queue_spec, setup};

fn sim() -> Sim {
    let mut sim = Sim::new();
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    s.queues[0].center_policy = CenterPolicy::Nearest;
    s.centers = [(1, "eu"), (2, "us")]
        .iter()
        .map(|&(id, region)| {
            let mut c = center(id);
            c.hours = WeeklyHours::always();
            c.region = Some(region.into());
            c
        })
        .collect();
    sim.configure(s);
    // Agent 2 (us) becomes ready first, so is the longest idle.
    for (a, c) in [(2, 2), (1, 1)] {
        let mut spec = agent_spec(a, &[(1, 5)], Capacity::NONE.with(Media::Voice, 1));
        spec.center = CenterId(c);
        sim.define(spec);
        sim.input(acd::Input::AgentOnline { agent: agent(a) });
        sim.ready(a);
        sim.step(common::secs(1));
    }
    sim
}

fn call_from(sim: &mut Sim, c: i64, region: &str) -> common::Drained {
    let mut spec = sim.spec(c, 1, Media::Voice);
    spec.attributes.region = Some(region.into());
    sim.arrive_spec(spec)
}

#[test]
fn the_preferred_centers_agent_goes_first_then_any_free_agent() {
    let mut sim = sim();
    let d = call_from(&mut sim, 1, "eu");
    assert_eq!(d.queued(), vec![(contact(1), Some(CenterId(1)))]);
    assert_eq!(
        d.offers(),
        vec![(contact(1), agent(1))],
        "eu agent, though us idled longer"
    );

    // The eu agent is ringing: the next eu caller does not wait for them.
    let d = call_from(&mut sim, 2, "eu");
    assert_eq!(d.queued(), vec![(contact(2), Some(CenterId(1)))]);
    assert_eq!(d.offers(), vec![(contact(2), agent(2))]);
}
