//! Priority ages with wait: a high-priority newcomer goes ahead of a low-priority
//! contact only if that one has waited less than the aging period per level.

mod common;

use acd::{Config, Media};
use common::{Sim, agent, contact, queue_spec, secs, setup};

fn sim() -> Sim {
    let mut sim = Sim::with_config(Config {
        priority_aging: secs(60),
        ..Config::default()
    });
    sim.configure(setup(vec![queue_spec(1, Some(1))]));
    sim.hire(1, 1);
    sim
}

fn arrive(sim: &mut Sim, c: i64, priority: i32) {
    let mut spec = sim.spec(c, 1, Media::Chat);
    spec.priority = priority;
    sim.arrive_spec(spec);
}

#[test]
fn an_old_low_priority_contact_is_served_before_a_new_high_priority_one() {
    let mut sim = sim();
    arrive(&mut sim, 1, 0);
    sim.step(secs(61));
    arrive(&mut sim, 2, 1);
    let d = sim.staff(1, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
}

#[test]
fn a_recent_low_priority_contact_lets_a_high_priority_one_pass() {
    let mut sim = sim();
    arrive(&mut sim, 1, 0);
    sim.step(secs(59));
    arrive(&mut sim, 2, 1);
    let d = sim.staff(1, 1);
    assert_eq!(d.offers(), vec![(contact(2), agent(1))]);
}
