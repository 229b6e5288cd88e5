//! A failed callback attempt frees the agent (not penalised) and re-enters the
//! line after the retry delay at its original place; when attempts run out the
//! contact leaves with CallbackFailed.

mod common;

use acd::{AgentState, CallbackPlan, ContactStage, Event, Input, Media, Outcome};
use common::{Sim, agent, contact, secs};

#[test]
fn retries_keep_the_place_then_give_up() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Callback);
    spec.callback = Some(CallbackPlan {
        max_attempts: 2,
        retry_delay: secs(60),
    });
    let d = sim.arrive_spec(spec);
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 1)]);
    // Another callback arrives later; it waits behind.
    sim.step(secs(5));
    let d = sim.arrive_spec(sim.spec(2, 1, Media::Callback));
    assert!(d.dials().is_empty());
    let d = sim.input(Input::CallbackFailed {
        contact: contact(1),
    });
    let retry_at = sim.now.plus(secs(60));
    assert!(d.has_event(&Event::CallbackAttemptFailed {
        contact: contact(1),
        attempt: 1,
        retry_at: Some(retry_at),
    }));
    // The agent is free again (not penalised) and takes contact 2 meanwhile.
    assert_eq!(d.dials(), vec![(contact(2), agent(1), 1)]);
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        ContactStage::Scheduled { at: retry_at }
    );
    sim.input(Input::CallbackFailed {
        contact: contact(2),
    });
    // Contact 2 is scheduled too; nothing to dial until the retry time.
    assert_eq!(sim.state(1), AgentState::Available);
    let d = sim.run_for(secs(60));
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 2)]);
    let d = sim.input(Input::CallbackFailed {
        contact: contact(1),
    });
    assert!(d.has_event(&Event::CallbackAttemptFailed {
        contact: contact(1),
        attempt: 2,
        retry_at: None,
    }));
    assert_eq!(d.left(), vec![(contact(1), Outcome::CallbackFailed)]);
    assert!(sim.contact_view(1).is_none());
}

#[test]
fn a_retry_goes_ahead_of_later_arrivals() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    let d = sim.arrive_spec(sim.spec(1, 1, Media::Callback));
    assert_eq!(d.dials().len(), 1);
    sim.input(Input::CallbackFailed {
        contact: contact(1),
    });
    sim.not_ready(1);
    // Retry is due at +5 min; a newer callback arrives in between.
    sim.step(secs(60));
    sim.arrive_spec(sim.spec(2, 1, Media::Callback));
    sim.run_for(secs(300));
    assert_eq!(sim.contact_view(1).unwrap().stage, ContactStage::Waiting);
    let d = sim.ready(1);
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 2)]);
}
