//! A media reserved to some classes of service is refused to others; a class's
//! priority boost moves its contacts ahead.

mod common;

use acd::{ClassOfService, Config, Media, MediaRule, Refusal};
use common::{Sim, agent, contact, queue_spec, secs, setup};

fn sim() -> Sim {
    let mut sim = Sim::with_config(Config {
        priority_aging: secs(60),
        ..Config::default()
    });
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    s.classes = vec![
        ClassOfService {
            name: "gold".into(),
            priority_boost: 2,
        },
        ClassOfService {
            name: "silver".into(),
            priority_boost: 0,
        },
    ];
    s.media_rules = vec![MediaRule {
        media: Media::Video,
        classes: vec!["gold".into()],
    }];
    sim.configure(s);
    sim.hire(1, 1);
    sim
}

#[test]
fn video_is_for_gold_only() {
    let mut sim = sim();
    let mut spec = sim.spec(1, 1, Media::Video);
    spec.attributes.class = Some("silver".into());
    let d = sim.arrive_spec(spec);
    assert_eq!(
        d.refusal(contact(1)),
        Some(Refusal::NotEntitled {
            media: Media::Video,
            allowed: vec!["gold".into()],
        })
    );
    assert_eq!(d.left(), vec![(contact(1), acd::Outcome::Refused)]);
    let d = sim.arrive_spec(sim.spec(2, 1, Media::Video));
    assert!(d.refusal(contact(2)).is_some(), "no class at all");
    let mut spec = sim.spec(3, 1, Media::Video);
    spec.attributes.class = Some("gold".into());
    let d = sim.arrive_spec(spec);
    assert_eq!(d.refusal(contact(3)), None);
    // Chat has no rule: anyone.
    let d = sim.arrive(4, 1);
    assert_eq!(d.refusal(contact(4)), None);
}

#[test]
fn gold_boost_goes_ahead() {
    let mut sim = sim();
    sim.arrive(1, 1);
    sim.step(secs(90));
    let mut spec = sim.spec(2, 1, Media::Chat);
    spec.attributes.class = Some("gold".into());
    sim.arrive_spec(spec);
    // Boost 2 × 60 s beats 90 s of waiting.
    let d = sim.staff(1, 1);
    assert_eq!(d.offers(), vec![(contact(2), agent(1))]);
}
