//! Which call center's number a browser call goes to. The same rules as the
//! routing core applies to agents' centers: the center must be open (hours,
//! holidays, in its own time zone) and below its capacity; one in the
//! visitor's region comes first; among the rest, the least loaded for its
//! weight.

use crate::routing::CenterDoc;

/// A center reachable by phone.
#[derive(Debug, Clone)]
pub struct PhoneCenter {
    pub name: String,
    /// E.164.
    pub number: String,
    pub trunk: String,
    region: Option<String>,
    weight: u32,
    capacity: Option<u32>,
    calendar: Option<acd::Calendar>,
}

impl PhoneCenter {
    pub fn is_open(&self, at: acd::Time) -> bool {
        self.calendar.as_ref().is_some_and(|c| c.is_open(at))
    }
}

/// The centers of a tenant's routing document that have a number and a trunk.
pub fn phone_centers(docs: &[CenterDoc]) -> Vec<PhoneCenter> {
    docs.iter()
        .filter_map(|doc| {
            let (number, trunk) = (doc.phone.clone()?, doc.trunk.clone()?);
            let spec = crate::routing::center_spec(acd::CenterId(0), doc).ok()?;
            Some(PhoneCenter {
                name: doc.name.clone(),
                number,
                trunk,
                region: doc.region.clone(),
                weight: doc.weight,
                capacity: doc.capacity,
                calendar: acd::Calendar::of(&spec),
            })
        })
        .collect()
}

/// Picks the center for one call. `allowed` are the queue's center names
/// (empty: any), `load` says how many live calls a center has.
pub fn choose<'a>(
    centers: &'a [PhoneCenter],
    allowed: &[String],
    region: Option<&str>,
    at: acd::Time,
    load: impl Fn(&str) -> u32,
) -> Option<&'a PhoneCenter> {
    let open = centers.iter().filter(|c| {
        (allowed.is_empty() || allowed.contains(&c.name))
            && c.is_open(at)
            && c.capacity.is_none_or(|cap| load(&c.name) < cap)
    });
    // Sort key: not in the visitor's region, then load per weight (a weight of
    // 0 is a last resort), then name for a stable choice.
    open.min_by(|a, b| {
        let key = |c: &PhoneCenter| {
            let away = region.is_none_or(|r| c.region.as_deref() != Some(r));
            let share = if c.weight == 0 {
                f64::INFINITY
            } else {
                f64::from(load(&c.name)) / f64::from(c.weight)
            };
            (away, share)
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then_with(|| a.name.cmp(&b.name))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    fn doc(name: &str, region: &str, hours: Option<&str>, weight: u32) -> CenterDoc {
        CenterDoc {
            name: name.into(),
            time_zone: "UTC".into(),
            hours: hours.map(|h| BTreeMap::from([("weekdays".to_owned(), h.to_owned())])),
            holidays: Vec::new(),
            region: Some(region.into()),
            weight,
            capacity: Some(2),
            phone: Some(format!("+1512555{:04}", name.len())),
            trunk: Some("carrier".into()),
        }
    }

    /// Monday 2026-11-23 10:00 UTC.
    const MONDAY_10: acd::Time = acd::Time(1_795_428_000_000);

    #[test]
    fn closed_full_and_unlisted_centers_are_passed_over() {
        let centers = phone_centers(&[
            doc("night", "us", Some("20:00-23:00"), 1),
            doc("day", "us", Some("09:00-17:00"), 1),
            doc("eu", "eu", None, 1),
        ]);
        let none: HashMap<&str, u32> = HashMap::new();
        let load = |n: &str| none.get(n).copied().unwrap_or(0);
        let pick = choose(&centers, &[], Some("us"), MONDAY_10, load).unwrap();
        assert_eq!(pick.name, "day", "the open center of the visitor's region");
        let full = HashMap::from([("day", 2)]);
        let pick = choose(&centers, &[], Some("us"), MONDAY_10, |n| {
            full.get(n).copied().unwrap_or(0)
        })
        .unwrap();
        assert_eq!(pick.name, "eu", "day is at capacity, night is closed");
        assert!(choose(&centers, &["night".into()], None, MONDAY_10, load).is_none());
    }

    #[test]
    fn load_is_shared_by_weight() {
        let centers = phone_centers(&[doc("a", "us", None, 1), doc("b", "us", None, 3)]);
        let loads = HashMap::from([("a", 1), ("b", 1)]);
        let pick = choose(&centers, &[], None, MONDAY_10, |n| {
            loads.get(n).copied().unwrap_or(0)
        })
        .unwrap();
        assert_eq!(pick.name, "b", "1/3 is less than 1/1");
    }

    #[test]
    fn centers_without_a_number_are_not_phone_centers() {
        let mut d = doc("a", "us", None, 1);
        d.trunk = None;
        assert!(phone_centers(&[d]).is_empty());
    }
}
