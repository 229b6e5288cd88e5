//! Centers open by their own local hours and holidays: a contact arriving while
//! Paris is closed but New York is open goes to New York; when all are closed it
//! is refused with the next opening.

mod common;

use acd::{Capacity, CenterId, Date, Refusal, Time, WeeklyHours};
use common::{Sim, agent_spec, center, contact, queue_spec, setup};

const WEEKDAYS: [usize; 5] = [0, 1, 2, 3, 4];

/// ms of an UTC date-time.
fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> Time {
    // Days from 1970-01-01 (civil-from-days inverse, Howard Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Time(((days * 24 + h) * 60 + mi) * 60_000)
}

fn sim_at(now: Time, paris_holiday: bool) -> Sim {
    let mut sim = Sim::at(acd::Config::default(), now);
    let mut s = setup(vec![queue_spec(1, Some(1))]);
    let mut paris = center(1);
    paris.time_zone = "Europe/Paris".into();
    paris.hours = WeeklyHours::on(&WEEKDAYS, 9 * 60, 17 * 60);
    if paris_holiday {
        paris.holidays = vec![Date {
            year: 2026,
            month: 1,
            day: 5,
        }];
    }
    let mut ny = center(2);
    ny.time_zone = "America/New_York".into();
    ny.hours = WeeklyHours::on(&WEEKDAYS, 9 * 60, 17 * 60);
    s.centers = vec![paris, ny];
    sim.configure(s);
    for c in 1..=2 {
        let mut spec = agent_spec(c, &[(1, 5)], Capacity::default());
        spec.center = CenterId(c);
        sim.define(spec);
    }
    sim
}

#[test]
fn paris_closed_new_york_open_goes_to_new_york() {
    // Monday 2026-01-05 17:30 UTC: Paris 18:30 (closed), New York 12:30 (open).
    let mut sim = sim_at(utc(2026, 1, 5, 17, 30), false);
    let d = sim.arrive(1, 1);
    assert_eq!(d.queued(), vec![(contact(1), Some(CenterId(2)))]);
}

#[test]
fn both_open_either_is_fine_but_paris_holiday_sends_to_new_york() {
    // Monday 14:30 UTC: Paris 15:30, New York 09:30; Paris on holiday.
    let mut sim = sim_at(utc(2026, 1, 5, 14, 30), true);
    let d = sim.arrive(1, 1);
    assert_eq!(d.queued(), vec![(contact(1), Some(CenterId(2)))]);
}

#[test]
fn all_closed_is_refused_with_the_next_opening() {
    // Monday 23:00 UTC: Paris 00:00 Tue (closed), New York 18:00 (closed).
    let mut sim = sim_at(utc(2026, 1, 5, 23, 0), false);
    let d = sim.arrive(1, 1);
    assert_eq!(
        d.refusal(contact(1)),
        Some(Refusal::Closed {
            // Paris opens Tuesday 09:00 local = 08:00 UTC.
            next_open: Some(utc(2026, 1, 6, 8, 0)),
        })
    );
    assert_eq!(d.left(), vec![(contact(1), acd::Outcome::Refused)]);
}

#[test]
fn queue_status_follows_the_hours() {
    // Friday 2026-01-09 21:30 UTC: New York 16:30 open, closes at 22:00 UTC.
    let mut sim = sim_at(utc(2026, 1, 9, 21, 30), false);
    assert!(sim.acd.queue_status(common::queue(1)).open);
    let d = sim.run_for(std::time::Duration::from_mins(31));
    let last = d.statuses().pop().expect("status pushed at closing");
    assert!(!last.open);
    // Next opening: Monday 09:00 Paris = 08:00 UTC.
    assert_eq!(last.next_open, Some(utc(2026, 1, 12, 8, 0)));
}
