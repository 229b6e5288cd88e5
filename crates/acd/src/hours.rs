//! Business hours: when a center is open, in its own time zone, holidays included.
//!
//! Times come in as UTC [`Time`] and are turned into the center's local date and
//! clock with the IANA database compiled into the binary (jiff's bundled tzdb), so
//! a fresh machine without `/usr/share/zoneinfo` behaves the same. Daylight-saving
//! gaps and folds are resolved the "compatible" way (a 02:30 that does not exist
//! means 03:30; one that exists twice means the first).

use jiff::civil;
use jiff::tz::TimeZone;

use crate::Time;

/// How far ahead `next_open` looks: two weeks covers any weekly pattern plus a
/// run of holidays.
const LOOKAHEAD_DAYS: i32 = 15;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// A calendar date (in a center's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    pub year: i16,
    pub month: i8,
    pub day: i8,
}

/// Opening intervals per weekday, Monday first, as minutes since local midnight
/// (`start < end <= 1440`). An empty day is closed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklyHours {
    pub days: [Vec<(u16, u16)>; 7],
}

impl WeeklyHours {
    /// Open all day, every day.
    pub fn always() -> WeeklyHours {
        WeeklyHours {
            days: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
        }
    }

    /// `open..close` (minutes) on the given weekdays (0 = Monday).
    pub fn on(weekdays: &[usize], open: u16, close: u16) -> WeeklyHours {
        let mut hours = WeeklyHours::default();
        for &d in weekdays {
            if let Some(day) = hours.days.get_mut(d) {
                day.push((open, close));
            }
        }
        hours
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CalendarError {
    TimeZone,
    Hours(String),
}

/// A center's hours, ready to answer "open at t?" and "next opening after t?".
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    hours: WeeklyHours,
    holidays: Vec<civil::Date>,
}

impl Calendar {
    /// A center's calendar, for callers outside the core that must know
    /// whether a center is open (the server picking a call center's phone
    /// number). `None` when the spec's time zone or hours are invalid, which
    /// [`crate::Config`] validation refuses anyway.
    pub fn of(spec: &crate::CenterSpec) -> Option<Calendar> {
        Calendar::new(&spec.time_zone, spec.hours.clone(), &spec.holidays).ok()
    }

    pub(crate) fn new(
        zone: &str,
        hours: WeeklyHours,
        holidays: &[Date],
    ) -> Result<Calendar, CalendarError> {
        let zone = TimeZone::get(zone).map_err(|_| CalendarError::TimeZone)?;
        for (d, intervals) in hours.days.iter().enumerate() {
            for &(start, end) in intervals {
                if start >= end || end > MINUTES_PER_DAY {
                    return Err(CalendarError::Hours(format!(
                        "opening {} is not a span within day {d} (0 = Monday)",
                        clock(start, end)
                    )));
                }
            }
        }
        let holidays = holidays
            .iter()
            .map(|h| {
                civil::Date::new(h.year, h.month, h.day).map_err(|_| {
                    CalendarError::Hours(format!(
                        "holiday {}-{}-{} is not a date",
                        h.year, h.month, h.day
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Calendar {
            zone,
            hours,
            holidays,
        })
    }

    /// Whether the center is open at `t`.
    pub fn is_open(&self, t: Time) -> bool {
        let Some(local) = self.local(t) else {
            return false;
        };
        let date = local.date();
        if self.holidays.contains(&date) {
            return false;
        }
        let minute = minute_of_day(local.time());
        self.day(date)
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    /// The first opening at or after `t` within two weeks (`t` itself if open).
    pub fn next_open(&self, t: Time) -> Option<Time> {
        if self.is_open(t) {
            return Some(t);
        }
        self.transitions(t)
            .find(|&(_, opens)| opens)
            .map(|(at, _)| at)
    }

    /// The first moment after `t` when the center opens or closes, if within two
    /// weeks: the core wakes then to tell newcomers.
    pub fn next_change(&self, t: Time) -> Option<Time> {
        let open = self.is_open(t);
        self.transitions(t)
            .find(|&(at, opens)| at > t && opens != open)
            .map(|(at, _)| at)
    }

    /// The center's offset from UTC at `t`, in minutes.
    pub fn utc_offset_minutes(&self, t: Time) -> i32 {
        jiff::Timestamp::from_millisecond(t.0)
            .map_or(0, |ts| self.zone.to_offset(ts).seconds() / 60)
    }

    fn local(&self, t: Time) -> Option<civil::DateTime> {
        let ts = jiff::Timestamp::from_millisecond(t.0).ok()?;
        Some(ts.to_zoned(self.zone.clone()).datetime())
    }

    fn day(&self, date: civil::Date) -> &[(u16, u16)] {
        let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        &self.hours.days[index]
    }

    /// Openings (`true`) and closings (`false`) from the start of `t`'s local day
    /// onwards, in time order, holidays skipped. Adjacent intervals (one closing
    /// when the next opens, midnight included) are not merged; callers compare
    /// against the current state, so a close-then-open at the same instant is
    /// harmless.
    fn transitions(&self, t: Time) -> impl Iterator<Item = (Time, bool)> + '_ {
        let start = self.local(t).map(civil::DateTime::date);
        (0..LOOKAHEAD_DAYS)
            .filter_map(move |offset| start?.checked_add(jiff::Span::new().days(offset)).ok())
            .filter(|date| !self.holidays.contains(date))
            .flat_map(move |date| {
                self.day(date)
                    .iter()
                    .flat_map(move |&(open, close)| {
                        [(self.at(date, open), true), (self.at(date, close), false)]
                    })
                    .collect::<Vec<_>>()
            })
            .filter_map(|(at, opens)| Some((at?, opens)))
            .filter(move |&(at, _)| at >= t)
    }

    /// The instant of `minute` past local midnight on `date`.
    fn at(&self, date: civil::Date, minute: u16) -> Option<Time> {
        let base = date.to_datetime(civil::Time::midnight());
        let local = base
            .checked_add(jiff::Span::new().minutes(i64::from(minute)))
            .ok()?;
        let zoned = self.zone.to_ambiguous_zoned(local).compatible().ok()?;
        Some(Time(zoned.timestamp().as_millisecond()))
    }
}

/// The UTC offset, in minutes, of the IANA zone `zone` at `t`; `None` for an
/// unknown zone. Owners use it to place a visitor (the widget reports its zone).
pub fn utc_offset_minutes(zone: &str, t: Time) -> Option<i32> {
    let zone = TimeZone::get(zone).ok()?;
    let ts = jiff::Timestamp::from_millisecond(t.0).ok()?;
    Some(zone.to_offset(ts).seconds() / 60)
}

fn minute_of_day(t: civil::Time) -> u16 {
    u16::try_from(i32::from(t.hour()) * 60 + i32::from(t.minute())).unwrap_or(0)
}

fn clock(start: u16, end: u16) -> String {
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Time {
        let ts: jiff::Timestamp = s.parse().unwrap();
        Time(ts.as_millisecond())
    }

    fn weekdays_9_to_17(zone: &str, holidays: &[Date]) -> Calendar {
        Calendar::new(
            zone,
            WeeklyHours::on(&[0, 1, 2, 3, 4], 9 * 60, 17 * 60),
            holidays,
        )
        .unwrap()
    }

    #[test]
    fn open_in_local_time() {
        // Paris is UTC+1 in winter: 08:30 UTC is 09:30 there.
        let paris = weekdays_9_to_17("Europe/Paris", &[]);
        assert!(paris.is_open(utc("2026-11-23T08:30:00Z"))); // a Monday
        assert!(!paris.is_open(utc("2026-11-23T07:30:00Z")));
        assert!(!paris.is_open(utc("2026-11-23T16:00:00Z")));
        // Same instant, New York (UTC-5) is still closed.
        let ny = weekdays_9_to_17("America/New_York", &[]);
        assert!(!ny.is_open(utc("2026-11-23T08:30:00Z")));
        assert!(ny.is_open(utc("2026-11-23T15:00:00Z")));
    }

    #[test]
    fn next_open_skips_weekend_and_holiday() {
        let holiday = Date {
            year: 2026,
            month: 11,
            day: 23,
        };
        let paris = weekdays_9_to_17("Europe/Paris", &[holiday]);
        // Saturday evening: Monday is a holiday, so Tuesday 09:00 Paris = 08:00 UTC.
        assert_eq!(
            paris.next_open(utc("2026-11-21T18:00:00Z")),
            Some(utc("2026-11-24T08:00:00Z"))
        );
        assert_eq!(
            paris.next_change(utc("2026-11-24T08:00:00Z")),
            Some(utc("2026-11-24T16:00:00Z"))
        );
    }

    #[test]
    fn daylight_saving_moves_the_utc_opening() {
        let paris = weekdays_9_to_17("Europe/Paris", &[]);
        // Summer: UTC+2, so 09:00 local is 07:00 UTC.
        assert_eq!(
            paris.next_open(utc("2026-07-06T05:00:00Z")),
            Some(utc("2026-07-06T07:00:00Z"))
        );
        assert_eq!(paris.utc_offset_minutes(utc("2026-07-06T05:00:00Z")), 120);
    }

    #[test]
    fn bad_spans_and_zones_are_refused() {
        assert_eq!(
            Calendar::new("Nowhere/Town", WeeklyHours::always(), &[]).unwrap_err(),
            CalendarError::TimeZone
        );
        assert!(matches!(
            Calendar::new("UTC", WeeklyHours::on(&[0], 600, 500), &[]),
            Err(CalendarError::Hours(_))
        ));
    }

    #[test]
    fn never_open_has_no_next_opening() {
        let closed = Calendar::new("UTC", WeeklyHours::default(), &[]).unwrap();
        assert_eq!(closed.next_open(utc("2026-11-23T08:30:00Z")), None);
    }
}
