//! A call is offered only to an agent holding nothing, and nothing is offered to
//! an agent on a call.

mod common;

use acd::{AgentState, Capacity};
use common::{Sim, agent, contact};

#[test]
fn a_call_waits_for_an_agent_with_no_chats() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.ready_agent(1, &[(1, 3)], Capacity::default());
    sim.arrive(1, 1);
    sim.accept(1, 1);
    let d = sim.call(2, 1);
    assert!(d.offers().is_empty(), "agent holds a chat");
    sim.end(1);
    let d = sim.input(acd::Input::WrapUpDone {
        contact: contact(1),
    });
    assert_eq!(d.offers(), vec![(contact(2), agent(1))]);
}

#[test]
fn nothing_is_offered_to_an_agent_on_a_call() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.ready_agent(1, &[(1, 3)], Capacity::default());
    sim.call(1, 1);
    sim.accept(1, 1);
    assert_eq!(sim.state(1), AgentState::Busy);
    let d = sim.arrive(2, 1);
    assert!(
        d.offers().is_empty(),
        "chat not offered to an agent on a call"
    );
    let d = sim.call(3, 1);
    assert!(d.offers().is_empty());
    let d = sim.end(1);
    assert!(matches!(sim.state(1), AgentState::WrapUp { .. }));
    assert!(
        d.offers().is_empty(),
        "the call's wrap-up still takes the agent"
    );
}
