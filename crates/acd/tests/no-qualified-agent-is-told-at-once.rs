//! A contact whose required skills no configured agent has is refused at once;
//! configured agents count even when offline or their center is closed.

mod common;

use acd::{Capacity, Media, Refusal, SkillReq, WeeklyHours};
use common::{Sim, center, contact, queue_spec, req, setup, skill};

#[test]
fn refused_when_nobody_has_the_skill() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 2);
    let d = sim.arrive(1, 1);
    assert_eq!(d.refusal(contact(1)), Some(Refusal::NoQualifiedAgents));
    assert_eq!(d.left(), vec![(contact(1), acd::Outcome::Refused)]);
}

#[test]
fn refused_when_the_level_is_too_low_or_the_media_not_taken() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.define(common::agent_spec(
        1,
        &[(1, 3)],
        Capacity::NONE.with(Media::Chat, 2),
    ));
    let mut spec = sim.spec(1, 1, Media::Chat);
    spec.skills = vec![SkillReq {
        skill: skill(1),
        min_level: 4,
    }];
    let d = sim.arrive_spec(spec);
    assert_eq!(d.refusal(contact(1)), Some(Refusal::NoQualifiedAgents));
    let d = sim.call(2, 1);
    assert_eq!(d.refusal(contact(2)), Some(Refusal::NoQualifiedAgents));
    let d = sim.arrive(3, 1);
    assert_eq!(d.refusal(contact(3)), None, "offline but configured counts");
}

#[test]
fn an_agent_in_a_closed_center_counts() {
    let mut sim = Sim::new();
    let mut s = setup(vec![queue_spec(1, None)]);
    let mut closed = center(2);
    closed.hours = WeeklyHours::default();
    s.centers.push(closed);
    s.queues[0].required = vec![req(7, 1)];
    sim.configure(s);
    let mut spec = common::agent_spec(1, &[(7, 5)], Capacity::default());
    spec.center = acd::CenterId(2);
    sim.define(spec);
    let d = sim.arrive(1, 1);
    assert_eq!(d.refusal(contact(1)), None);
}
