//! Each queue strategy picks among free qualified agents as documented.

mod common;

use acd::{Capacity, Media, Strategy};
use common::{Sim, agent, contact, queue_spec, req, secs, setup};

fn sim(strategy: Strategy) -> Sim {
    let mut sim = Sim::new();
    let mut q = queue_spec(1, None);
    q.required = vec![req(1, 1), req(2, 1)];
    q.strategy = strategy;
    sim.configure(setup(vec![q]));
    sim
}

#[test]
fn longest_idle_takes_the_agent_ready_first() {
    let mut sim = sim(Strategy::LongestIdle);
    sim.ready_agent(2, &[(1, 1), (2, 1)], Capacity::default());
    sim.step(secs(1));
    sim.ready_agent(1, &[(1, 1), (2, 1)], Capacity::default());
    let d = sim.arrive(1, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(2))]);
}

#[test]
fn most_skilled_takes_the_highest_level_sum() {
    let mut sim = sim(Strategy::MostSkilled);
    sim.ready_agent(1, &[(1, 5), (2, 5)], Capacity::default());
    sim.step(secs(1));
    sim.ready_agent(2, &[(1, 9), (2, 4), (3, 10)], Capacity::default());
    sim.step(secs(1));
    sim.ready_agent(3, &[(1, 2), (2, 2)], Capacity::default());
    let d = sim.arrive(1, 1);
    assert_eq!(
        d.offers(),
        vec![(contact(1), agent(2))],
        "13 beats 10 and 4"
    );
}

#[test]
fn least_occupied_takes_the_emptiest_relative_to_capacity() {
    let mut sim = sim(Strategy::LeastOccupied);
    let chats = |n| Capacity::NONE.with(Media::Chat, n);
    sim.ready_agent(1, &[(1, 1), (2, 1)], chats(4));
    sim.step(secs(1));
    sim.ready_agent(2, &[(1, 1), (2, 1)], chats(2));
    // Both take one chat: agent 1 first (longest idle), then agent 2.
    let d = sim.arrive(1, 1);
    assert_eq!(d.offers(), vec![(contact(1), agent(1))]);
    sim.accept(1, 1);
    let d = sim.arrive(2, 1);
    assert_eq!(d.offers(), vec![(contact(2), agent(2))]);
    sim.accept(2, 2);
    // 1/4 < 1/2: agent 1 again.
    let d = sim.arrive(3, 1);
    assert_eq!(d.offers(), vec![(contact(3), agent(1))]);
}

#[test]
fn round_robin_goes_by_agent_id_after_the_last() {
    let mut sim = sim(Strategy::RoundRobin);
    for a in [3, 1, 2] {
        sim.ready_agent(a, &[(1, 1), (2, 1)], Capacity::NONE.with(Media::Chat, 5));
    }
    let mut got = Vec::new();
    for c in 1..=5 {
        let d = sim.arrive(c, 1);
        got.extend(d.offers().into_iter().map(|(_, a)| a.0));
        sim.accept(c, got[got.len() - 1]);
    }
    assert_eq!(got, vec![1, 2, 3, 1, 2]);
}
