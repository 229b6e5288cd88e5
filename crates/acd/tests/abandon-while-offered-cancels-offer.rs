//! A visitor who leaves while their contact rings at an agent: the offer is
//! withdrawn, the contact leaves as abandoned, and the agent stays free.

mod common;

use acd::{AgentState, CancelReason, Command, Event, Outcome, Output};
use common::{Sim, agent, contact, queue};

fn ringing() -> Sim {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 1);
    let out = sim.arrive(100, 1);
    assert_eq!(out.offers(), vec![(contact(100), agent(1))]);
    sim
}

#[test]
fn cancel_comes_before_left() {
    let mut sim = ringing();
    let out = sim.leave(100);
    assert_eq!(
        out.outputs[..2],
        [
            Output::Command(Command::CancelOffer {
                contact: contact(100),
                agent: agent(1),
                reason: CancelReason::Abandoned,
            }),
            Output::Event(Event::Left {
                contact: contact(100),
                outcome: Outcome::Abandoned,
            }),
        ]
    );
}

#[test]
fn agent_stays_available_and_takes_the_next_one() {
    let mut sim = ringing();
    sim.leave(100);
    let view = sim.view(1);
    assert_eq!(view.state, AgentState::Available);
    assert_eq!(view.offered, None);
    assert_eq!(sim.arrive(101, 1).offers(), vec![(contact(101), agent(1))]);
}

#[test]
fn no_timeout_is_left_behind() {
    let mut sim = ringing();
    sim.leave(100);
    let out = sim.advance_to_next_timeout();
    assert!(out.outputs.is_empty(), "{out:?}");
}

#[test]
fn leaving_a_second_time_is_ignored() {
    let mut sim = ringing();
    sim.leave(100);
    assert_eq!(sim.leave(100).ignored(), vec!["unknown contact"]);
}

#[test]
fn waiting_contact_leaves_and_those_behind_move_up() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.arrive(100, 1);
    sim.arrive(101, 1);
    let out = sim.leave(100);
    assert!(out.has_event(&Event::Left {
        contact: contact(100),
        outcome: Outcome::Abandoned,
    }));
    assert_eq!(
        out.waiting().iter().map(|w| (w.0, w.1)).collect::<Vec<_>>(),
        vec![(contact(101), 1)]
    );
    assert_eq!(sim.acd.queue_status(queue(1)).waiting, 1);
}
