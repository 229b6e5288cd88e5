//! A callback rebuilt after a restart between two attempts waits for the
//! retry time it had (not dialled at once), then goes ahead of callbacks
//! that arrived after it, with its attempt count continued.

mod common;

use acd::{CallbackPlan, ContactStage, Media};
use common::{Sim, agent, contact, secs};

#[test]
fn the_retry_time_holds_and_the_place_is_kept() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    sim.not_ready(1);
    let now = sim.now;
    // Rebuilt: arrived 10 min ago, one attempt made, next due in 30 s.
    let mut spec = sim.spec(1, 1, Media::Callback);
    spec.arrived = acd::Time(now.0 - 600_000);
    spec.callback = Some(CallbackPlan {
        max_attempts: 3,
        retry_delay: secs(60),
    });
    spec.attempts_made = 1;
    let retry_at = now.plus(secs(30));
    spec.retry_at = Some(retry_at);
    sim.arrive_spec(spec);
    assert_eq!(
        sim.contact_view(1).unwrap().stage,
        ContactStage::Scheduled { at: retry_at }
    );
    // A newer callback arrives meanwhile, and the agent is ready: it takes
    // the newer one, not the one whose retry is not due.
    let d = sim.arrive_spec(sim.spec(2, 1, Media::Callback));
    assert!(d.dials().is_empty());
    let d = sim.ready(1);
    assert_eq!(d.dials(), vec![(contact(2), agent(1), 1)]);
    sim.not_ready(1);
    sim.input(acd::Input::CallbackFailed {
        contact: contact(2),
    });
    sim.run_for(secs(30));
    assert_eq!(sim.contact_view(1).unwrap().stage, ContactStage::Waiting);
    // Due now, and ahead of contact 2 (which arrived later): attempt 2.
    let d = sim.ready(1);
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 2)]);
}

#[test]
fn a_retry_time_already_past_enters_at_once() {
    let mut sim = Sim::with_queues(&[(1, Some(1))]);
    sim.staff(1, 1);
    let mut spec = sim.spec(1, 1, Media::Callback);
    spec.attempts_made = 2;
    spec.retry_at = Some(acd::Time(sim.now.0 - 1_000));
    let d = sim.arrive_spec(spec);
    assert_eq!(d.dials(), vec![(contact(1), agent(1), 3)]);
}
