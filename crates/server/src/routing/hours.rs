//! Opening hours as operators write them: `{ weekdays = "09:00-17:00",
//! sat = "10:00-13:00" }`.

use std::collections::BTreeMap;

use acd::WeeklyHours;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Weekly hours from a day-to-spans table; `None` is always open. A named day
/// overrides `weekdays`. Errors name the day and the span.
pub fn parse_hours(table: Option<&BTreeMap<String, String>>) -> Result<WeeklyHours, String> {
    let Some(table) = table else {
        return Ok(WeeklyHours::always());
    };
    let mut hours = WeeklyHours::default();
    for (key, spans) in table {
        if key != "weekdays" && !DAYS.contains(&key.as_str()) {
            return Err(format!(
                "hours key {key:?} is not a day (mon..sun or weekdays)"
            ));
        }
        // Validate everything, even days a named day will override.
        parse_spans(spans).map_err(|e| format!("hours.{key}: {e}"))?;
    }
    for (index, day) in DAYS.iter().enumerate() {
        let spans = table
            .get(*day)
            .or_else(|| (index < 5).then(|| table.get("weekdays")).flatten());
        if let Some(spans) = spans {
            hours.days[index] = parse_spans(spans)?;
        }
    }
    Ok(hours)
}

fn parse_spans(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|span| {
            let (open, close) = span
                .trim()
                .split_once('-')
                .ok_or_else(|| format!("{span:?} should look like 09:00-17:00"))?;
            let (open, close) = (clock(open)?, clock(close)?);
            if open >= close {
                return Err(format!("{span:?} closes before it opens"));
            }
            Ok((open, close))
        })
        .collect()
}

/// "HH:MM" to minutes since midnight; "24:00" is the end of the day.
fn clock(text: &str) -> Result<u16, String> {
    let bad = || format!("{text:?} is not a time like 09:30");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn weekdays_and_overrides() {
        let h = parse_hours(Some(&table(&[
            ("weekdays", "09:00-17:00"),
            ("fri", "09:00-12:00, 13:00-15:30"),
            ("sat", "closed"),
        ])))
        .unwrap();
        assert_eq!(h.days[0], vec![(540, 1020)]);
        assert_eq!(h.days[4], vec![(540, 720), (780, 930)]);
        assert!(h.days[5].is_empty() && h.days[6].is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse_hours(Some(&table(&[("mon", "17:00-09:00")]))).unwrap_err();
        assert!(
            e.contains("hours.mon") && e.contains("closes before"),
            "{e}"
        );
        let e = parse_hours(Some(&table(&[("funday", "09:00-10:00")]))).unwrap_err();
        assert!(e.contains("funday"), "{e}");
        let e = parse_hours(Some(&table(&[("tue", "9-5")]))).unwrap_err();
        assert!(e.contains("hours.tue"), "{e}");
        assert!(parse_hours(Some(&table(&[("wed", "00:00-24:00")]))).is_ok());
        assert!(parse_hours(Some(&table(&[("wed", "00:00-24:30")]))).is_err());
    }
}
