//! Inputs that name something the core does not know, or that are out of place,
//! are reported as `Event::Ignored` and change nothing.

mod common;

use acd::{Acd, Config, Input, NotReadyReason, Output};
use common::{Sim, agent, contact, queue};

/// Feeds `input` and checks it produced exactly one `Ignored` with `reason`.
fn assert_ignored(sim: &mut Sim, input: Input, reason: &str) {
    let before = sim.acd.agents();
    let shown = format!("{input:?}");
    let out = sim.input(input);
    assert_eq!(out.ignored(), vec![reason], "{shown} gave {out:?}");
    assert_eq!(out.outputs.len(), 1, "{shown} gave {out:?}");
    assert_eq!(sim.acd.agents(), before, "{shown} changed agents");
}

#[test]
fn unknown_names() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    let a = agent(9);
    let c = contact(9);
    assert_ignored(&mut sim, Input::AgentOffline { agent: a }, "unknown agent");
    assert_ignored(&mut sim, Input::AgentReady { agent: a }, "unknown agent");
    assert_ignored(
        &mut sim,
        Input::AgentNotReady {
            agent: a,
            reason: NotReadyReason::Declined,
        },
        "unknown agent",
    );
    assert_ignored(
        &mut sim,
        Input::ContactArrived {
            contact: c,
            queue: queue(2),
        },
        "unknown queue",
    );
    assert_ignored(
        &mut sim,
        Input::ContactLeft { contact: c },
        "unknown contact",
    );
    assert_ignored(
        &mut sim,
        Input::ContactFinished { contact: c },
        "unknown contact",
    );
    assert_ignored(
        &mut sim,
        Input::OfferAccepted {
            contact: c,
            agent: a,
        },
        "no such offer",
    );
    assert_ignored(
        &mut sim,
        Input::OfferDeclined {
            contact: c,
            agent: a,
        },
        "no such offer",
    );
}

#[test]
fn out_of_place_inputs() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.online(1, &[10], 1);
    sim.input(Input::AgentOffline { agent: agent(1) });
    assert_ignored(
        &mut sim,
        Input::AgentReady { agent: agent(1) },
        "agent offline",
    );

    sim.ready_agent(2, &[10], 1);
    sim.arrive(100, 1);
    sim.arrive(101, 1);
    // 100 rings at agent 2; 101 waits.
    let wrong_agent = Input::OfferAccepted {
        contact: contact(100),
        agent: agent(1),
    };
    assert_ignored(&mut sim, wrong_agent, "no such offer");
    let not_offered = Input::OfferDeclined {
        contact: contact(101),
        agent: agent(2),
    };
    assert_ignored(&mut sim, not_offered, "no such offer");
    let not_assigned = Input::ContactFinished {
        contact: contact(101),
    };
    assert_ignored(&mut sim, not_assigned, "contact not assigned");
    let again = Input::ContactArrived {
        contact: contact(101),
        queue: queue(1),
    };
    assert_ignored(&mut sim, again, "contact already known");

    sim.accept(100, 2);
    let accepted_twice = Input::OfferAccepted {
        contact: contact(100),
        agent: agent(2),
    };
    assert_ignored(&mut sim, accepted_twice, "no such offer");
}

#[test]
fn polling_before_any_input_returns_a_timeout() {
    let start = std::time::Instant::now();
    let mut acd = Acd::new(Config::default(), start);
    assert!(matches!(acd.poll_output(), Output::Timeout(t) if t > start));
}

#[test]
fn time_going_backwards_does_not_panic() {
    let mut sim = Sim::new();
    sim.define_queue(1, 10);
    sim.ready_agent(1, &[10], 1);
    sim.arrive(100, 1);
    sim.now -= common::secs(60);
    let out = sim.accept(100, 1);
    assert!(out.ignored().is_empty());
    sim.now -= common::secs(60);
    let out = sim.finish(100);
    assert!(out.ignored().is_empty());
}
