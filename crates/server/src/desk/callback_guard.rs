//! What keeps "call me back" from being turned against the tenant: which
//! numbers may be called back, and how many callbacks one number or one
//! client address may ask for in a day.
//!
//! A callback costs the tenant a call (premium-rate and international ranges
//! cost it a lot) and a stranger's phone a ring, so unlike a chat it is
//! bounded per day, not per minute.

use std::{collections::HashMap, net::IpAddr};

use crate::{
    ids::TenantId,
    phone::country::{RISKY_BY_DEFAULT, country_code},
    protocol::{ErrorCode, FrameError},
    store::TenantCalls,
};

const DAY_MS: i64 = 86_400_000;

/// Requests counted today (UTC), per number and per address.
#[derive(Default)]
pub(super) struct CallbackQuota {
    day: i64,
    per_number: HashMap<(TenantId, String), u32>,
    per_ip: HashMap<(TenantId, IpAddr), u32>,
}

impl CallbackQuota {
    /// Counts a request for `number` from `ip`, or says which cap it is over
    /// (then nothing is counted).
    pub(super) fn admit(
        &mut self,
        now_ms: i64,
        tenant: TenantId,
        number: &str,
        ip: IpAddr,
        policy: &TenantCalls,
    ) -> Result<(), FrameError> {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            // A new day: yesterday's counts go, so the maps stay bounded by
            // one day's requests.
            self.day = day;
            self.per_number.clear();
            self.per_ip.clear();
        }
        let by_ip = self.per_ip.get(&(tenant, ip)).copied().unwrap_or(0);
        if by_ip >= policy.callbacks_per_ip_per_day {
            return Err(refused(
                "too_many_from_address",
                ErrorCode::RateLimited,
                "too many callbacks asked for today; please chat with us instead",
            ));
        }
        let key = (tenant, number.to_owned());
        let by_number = self.per_number.get(&key).copied().unwrap_or(0);
        if by_number >= policy.callbacks_per_number_per_day {
            return Err(refused(
                "too_many_for_number",
                ErrorCode::RateLimited,
                "this number has been asked for too often today; please chat with us instead",
            ));
        }
        *self.per_ip.entry((tenant, ip)).or_default() += 1;
        *self.per_number.entry(key).or_default() += 1;
        Ok(())
    }
}

/// Whether `number` may be called back under the tenant's `policy`; `own`
/// are the tenant's own numbers, whose countries are the destinations when
/// the policy names none.
pub(super) fn destination_allowed<'a>(
    number: &str,
    policy: &TenantCalls,
    own: impl Iterator<Item = &'a str>,
) -> Result<(), FrameError> {
    let Some(country) = country_code(number) else {
        return Err(refused(
            "not_international",
            ErrorCode::Invalid,
            "give your number with its country code, such as +1 555 123 4567",
        ));
    };
    let listed = |prefixes: &[String]| prefixes.iter().any(|p| number.starts_with(p.as_str()));
    if listed(&policy.callback_blocked) {
        return Err(not_here());
    }
    if !policy.callback_destinations.is_empty() {
        return if listed(&policy.callback_destinations) {
            Ok(())
        } else {
            Err(not_here())
        };
    }
    if RISKY_BY_DEFAULT.iter().any(|p| number.starts_with(p)) {
        return Err(not_here());
    }
    let countries: Vec<&str> = own.filter_map(country_code).collect();
    // A tenant with no numbers of its own (chat and browser calls only) has
    // no country to go by: any country but the risky ranges.
    if countries.is_empty() || countries.contains(&country) {
        Ok(())
    } else {
        Err(not_here())
    }
}

fn not_here() -> FrameError {
    refused(
        "destination",
        ErrorCode::Invalid,
        "we cannot call this number back; please chat with us instead",
    )
}

fn refused(reason: &'static str, code: ErrorCode, message: &str) -> FrameError {
    metrics::counter!("switchboard_callbacks_refused_total", "reason" => reason).increment(1);
    FrameError::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> TenantCalls {
        TenantCalls::default()
    }

    #[test]
    fn destinations_default_to_the_countries_of_the_tenants_numbers() {
        let own = ["+15125550100", "+15125550900"];
        assert!(destination_allowed("+15551234567", &policy(), own.into_iter()).is_ok());
        assert!(destination_allowed("+442079460000", &policy(), own.into_iter()).is_err());
        // Satellite and international networks are never a default.
        assert!(destination_allowed("+8821234567", &policy(), [].into_iter()).is_err());
        assert!(destination_allowed("+19005551234", &policy(), own.into_iter()).is_err());
        // No numbers of its own: any country but the risky ranges.
        assert!(destination_allowed("+442079460000", &policy(), [].into_iter()).is_ok());
        // A number without its country code cannot be judged.
        assert!(destination_allowed("5551234567", &policy(), own.into_iter()).is_err());
    }

    #[test]
    fn listed_destinations_and_blocks_win() {
        let mut p = policy();
        p.callback_destinations = vec!["+44".into(), "+8821".into()];
        p.callback_blocked = vec!["+449".into()];
        let own = ["+15125550100"];
        assert!(destination_allowed("+442079460000", &p, own.into_iter()).is_ok());
        assert!(destination_allowed("+8821234567", &p, own.into_iter()).is_ok());
        assert!(destination_allowed("+449091234567", &p, own.into_iter()).is_err());
        assert!(destination_allowed("+15551234567", &p, own.into_iter()).is_err());
    }

    #[test]
    fn a_day_allows_so_many_per_number_and_per_address_then_starts_again() {
        let mut quota = CallbackQuota::default();
        let p = TenantCalls {
            callbacks_per_number_per_day: 2,
            callbacks_per_ip_per_day: 3,
            ..policy()
        };
        let t = TenantId(1);
        let (a, b): (IpAddr, IpAddr) = ([127, 0, 0, 1].into(), [127, 0, 0, 2].into());
        let day = 20_000 * DAY_MS;
        assert!(quota.admit(day, t, "+1555", a, &p).is_ok());
        assert!(quota.admit(day, t, "+1555", b, &p).is_ok());
        // The number is at its cap, whoever asks.
        assert!(quota.admit(day, t, "+1555", b, &p).is_err());
        assert!(quota.admit(day, t, "+1666", a, &p).is_ok());
        assert!(quota.admit(day, t, "+1777", a, &p).is_ok());
        // The address is at its cap, whatever number.
        assert!(quota.admit(day, t, "+1888", a, &p).is_err());
        // Another tenant counts apart.
        assert!(quota.admit(day, TenantId(2), "+1555", a, &p).is_ok());
        // The next day starts again.
        assert!(quota.admit(day + DAY_MS, t, "+1555", a, &p).is_ok());
    }
}
