//! After a contact ends, the agent's slot stays taken in wrap-up until the agent
//! says done or the queue's wrap-up time runs out.

mod common;

use acd::{AgentState, Event, Input, Outcome};
use common::{Sim, agent, contact, secs};

#[test]
fn wrap_up_times_out() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.call(1, 1);
    sim.accept(1, 1);
    sim.call(2, 1);
    let d = sim.end(1);
    assert_eq!(d.left(), vec![(contact(1), Outcome::Answered)]);
    assert_eq!(
        sim.state(1),
        AgentState::WrapUp {
            until: sim.now.plus(secs(60))
        }
    );
    assert_eq!(sim.view(1).wrapping_up, vec![contact(1)]);
    let d = sim.run_for(secs(59));
    assert!(d.offers().is_empty());
    let d = sim.run_for(secs(1));
    assert!(d.has_event(&Event::WrapUpEnded {
        contact: contact(1),
        agent: agent(1),
        timed_out: true,
    }));
    assert_eq!(d.offers(), vec![(contact(2), agent(1))]);
}

#[test]
fn wrap_up_done_early_frees_the_slot() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.call(1, 1);
    sim.accept(1, 1);
    sim.end(1);
    sim.step(secs(5));
    let d = sim.input(Input::WrapUpDone {
        contact: contact(1),
    });
    assert!(d.has_event(&Event::WrapUpEnded {
        contact: contact(1),
        agent: agent(1),
        timed_out: false,
    }));
    assert_eq!(sim.state(1), AgentState::Available);
    // Done twice is out of place.
    let d = sim.input(Input::WrapUpDone {
        contact: contact(1),
    });
    assert_eq!(d.ignored().len(), 1);
    // The expired wrap-up timer does nothing.
    let d = sim.run_for(secs(120));
    assert!(
        !d.events
            .iter()
            .any(|e| matches!(e, Event::WrapUpEnded { .. }))
    );
}
