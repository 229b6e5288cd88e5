//! With Nearest, a contact goes to the center of its region, else to the center
//! whose UTC offset is nearest its own, else by least wait.

mod common;

use acd::{Capacity, CenterId, CenterPolicy, Media, WeeklyHours};
use common::{Sim, agent_spec, center, contact, queue_spec, setup};

fn sim() -> Sim {
    let mut sim = Sim::new();
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    s.queues[0].center_policy = CenterPolicy::Nearest;
    let zones = [
        (1, "Europe/Paris", "eu"),
        (2, "America/New_York", "us"),
        (3, "Asia/Tokyo", "apac"),
    ];
    s.centers = zones
        .iter()
        .map(|&(id, zone, region)| {
            let mut c = center(id);
            c.time_zone = zone.into();
            c.hours = WeeklyHours::always();
            c.region = Some(region.into());
            c
        })
        .collect();
    sim.configure(s);
    for c in 1..=3 {
        let mut spec = agent_spec(c, &[(1, 5)], Capacity::default());
        spec.center = CenterId(c);
        sim.define(spec);
    }
    sim
}

fn center_of(sim: &mut Sim, c: i64, region: Option<&str>, offset: Option<i32>) -> CenterId {
    let mut spec = sim.spec(c, 1, Media::Chat);
    spec.attributes.region = region.map(Into::into);
    spec.attributes.utc_offset_minutes = offset;
    let d = sim.arrive_spec(spec);
    assert_eq!(d.queued().len(), 1, "{:?}", d.events);
    assert_eq!(d.queued()[0].0, contact(c));
    d.queued()[0].1.unwrap()
}

#[test]
fn region_first() {
    let mut sim = sim();
    assert_eq!(center_of(&mut sim, 1, Some("us"), Some(540)), CenterId(2));
    assert_eq!(center_of(&mut sim, 2, Some("apac"), None), CenterId(3));
}

#[test]
fn then_nearest_offset() {
    let mut sim = sim();
    // January: Paris +60, New York -300, Tokyo +540.
    assert_eq!(center_of(&mut sim, 1, None, Some(-360)), CenterId(2));
    assert_eq!(center_of(&mut sim, 2, Some("mars"), Some(120)), CenterId(1));
    assert_eq!(center_of(&mut sim, 3, None, Some(600)), CenterId(3));
    // Circular: +13:00 is nearer Tokyo (+9) than New York (-5 = 18 h away).
    assert_eq!(center_of(&mut sim, 4, None, Some(780)), CenterId(3));
    // -11:00 is 4 h from Tokyo across the date line, 6 h from New York.
    assert_eq!(center_of(&mut sim, 5, None, Some(-660)), CenterId(3));
    // -08:00 is 3 h from New York.
    assert_eq!(center_of(&mut sim, 6, None, Some(-480)), CenterId(2));
}

#[test]
fn else_least_wait() {
    let mut sim = sim();
    // Nothing to go by: least wait, all equal, lowest id.
    assert_eq!(center_of(&mut sim, 1, None, None), CenterId(1));
}
