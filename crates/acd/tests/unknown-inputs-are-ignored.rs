//! Inputs naming unknown agents, contacts or queues, or coming out of place, are
//! reported as Ignored (or refused, for an unknown queue) and change nothing.

mod common;

use acd::{AgentState, CallbackPlan, Event, Input, Outcome, Refusal, Time};
use common::{Sim, agent, contact, secs};

#[test]
fn unknown_names_are_ignored() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    let inputs = vec![
        Input::AgentOnline { agent: agent(9) },
        Input::AgentOffline { agent: agent(9) },
        Input::AgentReady { agent: agent(9) },
        Input::AgentNotReady {
            agent: agent(9),
            reason: "x".into(),
        },
        Input::AgentRemoved { agent: agent(9) },
        Input::ContactLeft {
            contact: contact(9),
        },
        Input::OfferAccepted {
            contact: contact(9),
            agent: agent(9),
        },
        Input::OfferDeclined {
            contact: contact(9),
            agent: agent(9),
        },
        Input::ToCallback {
            contact: contact(9),
            plan: CallbackPlan::default(),
        },
        Input::CallbackConnected {
            contact: contact(9),
        },
        Input::CallbackFailed {
            contact: contact(9),
        },
        Input::ContactEnded {
            contact: contact(9),
        },
        Input::WrapUpDone {
            contact: contact(9),
        },
    ];
    for input in inputs {
        let d = sim.input(input.clone());
        assert_eq!(d.ignored().len(), 1, "{input:?}: {:?}", d.events);
        assert!(d.commands.is_empty());
    }
    let d = sim.arrive(1, 42);
    assert_eq!(d.refusal(contact(1)), Some(Refusal::UnknownQueue));
    assert_eq!(d.left(), vec![(contact(1), Outcome::Refused)]);
}

#[test]
fn out_of_place_inputs_are_ignored() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.hire(1, 1);
    let d = sim.ready(1);
    assert_eq!(d.ignored(), vec!["agent is offline"]);
    sim.staff(1, 1);
    sim.hire(2, 1);
    sim.arrive(1, 1);
    // Accepting someone else's offer, ending a contact not held, a duplicate id.
    assert_eq!(sim.accept(1, 2).ignored().len(), 1);
    assert_eq!(sim.end(1).ignored().len(), 1);
    assert_eq!(sim.arrive(1, 1).ignored().len(), 1);
    sim.accept(1, 1);
    assert_eq!(sim.leave(1).ignored().len(), 1, "held: end it instead");
    assert_eq!(sim.accept(1, 1).ignored().len(), 1);
    assert_eq!(sim.state(1), AgentState::Busy);
}

#[test]
fn time_never_goes_backwards() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.step(secs(100));
    sim.arrive(1, 1);
    let expires = sim.now.plus(secs(20));
    // An input stamped earlier is taken at the latest time seen.
    sim.acd.handle_input(Time(0), Input::Timeout);
    let d = common::drain(&mut sim.acd);
    assert!(d.timeout.unwrap() >= sim.now);
    // The offer still expires at its time.
    sim.acd.handle_input(expires, Input::Timeout);
    let d = common::drain(&mut sim.acd);
    assert!(d.has_event(&Event::OfferTimedOut {
        contact: contact(1),
        agent: agent(1),
    }));
}

#[test]
fn agent_offline_withdraws_the_offer() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.arrive(1, 1);
    let d = sim.offline(1);
    assert!(d.has_command(&acd::Command::CancelOffer {
        contact: contact(1),
        agent: agent(1),
        reason: acd::CancelReason::AgentOffline,
    }));
    assert_eq!(sim.state(1), AgentState::Offline);
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        acd::ContactStage::Waiting
    );
}

#[test]
fn leaving_while_offered_cancels_the_offer() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.arrive(1, 1);
    let d = sim.leave(1);
    assert!(d.has_command(&acd::Command::CancelOffer {
        contact: contact(1),
        agent: agent(1),
        reason: acd::CancelReason::Abandoned,
    }));
    assert_eq!(d.left(), vec![(contact(1), Outcome::Abandoned)]);
    assert_eq!(sim.state(1), AgentState::Available);
}

#[test]
fn extreme_values_do_not_panic() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    let huge = acd::Capacity([u32::MAX; 4]);
    sim.ready_agent(1, &[(1, 200)], huge);
    sim.ready_agent(2, &[(1, 0)], huge);
    let mut spec = sim.spec(1, 1, acd::Media::Callback);
    spec.priority = i32::MAX;
    spec.attempts_made = u32::MAX;
    spec.arrived = Time(i64::MIN);
    spec.skills = vec![common::req(1, 255)];
    let d = sim.arrive_spec(spec);
    assert_eq!(
        d.dials().len(),
        1,
        "level 255 is clamped to 10: {:?}",
        d.events
    );
    let mut spec = sim.spec(2, 1, acd::Media::Chat);
    spec.priority = i32::MIN;
    spec.not_before = Some(Time(i64::MAX));
    let d = sim.arrive_spec(spec);
    assert_eq!(d.queued().len(), 1);
    sim.input(Input::CallbackFailed {
        contact: contact(1),
    });
    assert!(sim.acd.contact(contact(1)).is_none(), "no attempts left");
}
