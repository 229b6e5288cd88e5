//! A contact with a preferred agent waits for that agent only, for the queue's
//! preferred_agent_wait; then anyone qualified may take it.

mod common;

use acd::{Event, Media};
use common::{Sim, agent, contact, secs};

#[test]
fn waits_for_the_preferred_agent_then_falls_back() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(7, 1);
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Chat);
    spec.preferred_agent = Some(agent(7));
    let d = sim.arrive_spec(spec);
    assert!(d.offers().is_empty(), "agent 1 is free but not preferred");
    let d = sim.run_for(secs(29));
    assert!(d.offers().is_empty());
    let d = sim.run_for(secs(1));
    assert!(d.has_event(&Event::PreferenceExpired {
        contact: contact(1),
    }));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
}

#[test]
fn the_preferred_agent_gets_it_when_ready() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(7, 1);
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Chat);
    spec.preferred_agent = Some(agent(7));
    sim.arrive_spec(spec);
    sim.step(secs(10));
    let d = sim.staff(7, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(7))]);
}

#[test]
fn an_unknown_or_unqualified_preference_is_skipped() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(8, 2);
    sim.staff(1, 1);
    for (c, preferred) in [(1, 99), (2, 8)] {
        let mut spec = sim.spec(c, 1, Media::Chat);
        spec.preferred_agent = Some(agent(preferred));
        let d = sim.arrive_spec(spec);
        assert_eq!(d.offers(), vec![(contact(c), agent(1))]);
        sim.accept(c, 1);
    }
}

/// A transfer to a named agent sets its own wait instead of the queue's.
#[test]
fn a_contact_may_set_its_own_preference_wait() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(7, 1);
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Voice);
    spec.preferred_agent = Some(agent(7));
    spec.preferred_wait = Some(secs(60));
    sim.arrive_spec(spec);
    let d = sim.run_for(secs(59));
    assert!(d.offers().is_empty(), "still waiting for agent 7 at 59 s");
    let d = sim.run_for(secs(1));
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
}
