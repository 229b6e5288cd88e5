//! The telephone network as a tenant sets it up (`[phone]` in the tenant file):
//! SIP trunks, the numbers callers dial (DIDs) and the link each reaches, the
//! caller ids presented to call centers (the pseudo-ANI pool), the destinations
//! calls may go to (toll-fraud guard) and the DTMF push codes.
//!
//! The SIP signalling itself is the `sip` crate's; the desk runs the calls
//! (`desk/phone.rs`). This module holds the settings and the small pieces of
//! policy the desk applies: which center number a call goes to
//! (`centers.rs`), which caller id it presents (`pool.rs`), what keyed digits
//! mean (`codes.rs`).

pub mod centers;
pub mod codes;
pub mod country;
pub mod pool;

use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// A tenant's telephone settings, stored as JSON on the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantPhone {
    pub trunks: Vec<TrunkDoc>,
    /// E.164 prefixes calls may be placed to, e.g. "+1512". A dial string that
    /// matches none is refused before any INVITE leaves (toll fraud).
    pub allowed_destinations: Vec<String>,
    /// Caller ids presented to call centers, one per live call, so the
    /// center's CRM can ask who is calling (`/api/v1/calls/lookup`).
    pub caller_ids: Vec<String>,
    /// Digits a phone-side agent keys (e.g. "*76") to the page the visitor's
    /// widget then opens.
    pub push_codes: BTreeMap<String, String>,
    /// The tenant's numbers (DIDs) and the link whose queue each reaches.
    pub numbers: Vec<NumberDoc>,
    /// How long after a call its caller id still finds the web session.
    pub lookup_window_secs: Option<u64>,
    /// Numbers (DIDs) lent to one visitor at a time for `dial_in` links: a
    /// call to one connects to the agent reserved for that visitor.
    pub routing_points: Vec<String>,
    /// How long a lent number waits for the visitor's call.
    pub routing_point_hold_secs: Option<u64>,
    /// Whoever calls a lent number in time gets the reserved agent (who sees
    /// the visitor's identity). Off by default: the visitor gives the number
    /// they will call from, and only that caller id connects.
    pub routing_point_any_caller: bool,
    /// A caller from another caller id (or none) is answered and may key the
    /// short PIN the visitor's widget shows instead; it connects if the PIN
    /// matches. Off by default: answering a stranger's call costs the tenant
    /// (a toll-free number is billed once answered) and opens a guessing door.
    pub routing_point_pin: bool,
    /// The PIN's length, 4 to 6 digits (default 4).
    pub routing_point_pin_digits: Option<u8>,
}

/// How long a routing point waits for the visitor's call, by default.
pub const DEFAULT_ROUTING_POINT_HOLD: Duration = Duration::from_mins(3);

/// How many digits a lent number's PIN has, by default.
pub const DEFAULT_PIN_DIGITS: u8 = 4;

/// How long a caller id finds its web session after the call, by default.
pub const DEFAULT_LOOKUP_WINDOW: Duration = Duration::from_hours(1);

/// One SIP trunk (`[[phone.trunks]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkDoc {
    pub name: String,
    pub host: String,
    #[serde(default = "sip_port")]
    pub port: u16,
    #[serde(default)]
    pub transport: TransportName,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// The From number when every pooled caller id is on a live call (E.164):
    /// the call still connects, but the center's CRM cannot look it up.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Addresses INVITEs from this trunk come from; the host's when empty.
    #[serde(default)]
    pub allowed_sources: Vec<IpAddr>,
    /// OPTIONS keepalive towards the trunk, seconds (none when absent).
    #[serde(default)]
    pub options_interval_secs: Option<u64>,
    /// The called numbers this trunk carries (of `numbers` and
    /// `routing_points`). Needed when another tenant's trunk has the same
    /// address: calls from it are then told apart by called number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numbers: Vec<String>,
}

impl TrunkDoc {
    /// The addresses calls from this trunk come from, as compared between
    /// tenants: IPs in their canonical form, a host name in lower case.
    fn sources(&self) -> Vec<String> {
        if self.allowed_sources.is_empty() {
            let host = self.host.trim_start_matches('[').trim_end_matches(']');
            vec![
                host.parse::<IpAddr>()
                    .map_or_else(|_| host.to_ascii_lowercase(), |ip| ip.to_string()),
            ]
        } else {
            self.allowed_sources
                .iter()
                .map(ToString::to_string)
                .collect()
        }
    }
}

fn sip_port() -> u16 {
    5060
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    #[default]
    Udp,
    Tcp,
}

/// A number callers dial (`[[phone.numbers]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NumberDoc {
    pub number: String,
    /// The link whose queue calls to this number join.
    pub link: String,
}

impl TenantPhone {
    /// Checks what the tenant file cannot express by type: numbers in E.164,
    /// trunk names unique, codes made of keypad digits, URLs http(s). `links`
    /// are the file's link slugs. Errors name the field.
    pub fn check(&self, links: &[&str]) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for t in &self.trunks {
            if t.name.is_empty() || t.name.len() > 64 || !names.insert(t.name.as_str()) {
                return Err(format!(
                    "phone.trunks name {:?} must be 1-64 characters and unique",
                    t.name
                ));
            }
            if t.host.is_empty() || t.host.len() > 253 || t.host.contains(char::is_whitespace) {
                return Err(format!(
                    "phone.trunks {:?}: host {:?} is not a host",
                    t.name, t.host
                ));
            }
            if let Some(id) = &t.caller_id
                && !sip::is_e164(id)
            {
                return Err(format!(
                    "phone.trunks {:?}: caller_id {id:?} must be E.164, like +15125550100",
                    t.name
                ));
            }
            // A pooled id identifies one live call; the trunk's number is shared.
            if let Some(id) = &t.caller_id
                && self.caller_ids.contains(id)
            {
                return Err(format!(
                    "phone.trunks {:?}: caller_id {id:?} is also in phone.caller_ids; \
                     a trunk's number is shared by calls, a pooled one is not",
                    t.name
                ));
            }
            if t.username.is_some() != t.password.is_some() {
                return Err(format!(
                    "phone.trunks {:?}: username and password go together",
                    t.name
                ));
            }
        }
        for prefix in &self.allowed_destinations {
            let digits = prefix.strip_prefix('+').unwrap_or("");
            if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!(
                    "phone.allowed_destinations entry {prefix:?} must be + and 1-15 digits"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for id in &self.caller_ids {
            if !sip::is_e164(id) || !seen.insert(id.as_str()) {
                return Err(format!(
                    "phone.caller_ids entry {id:?} must be E.164 (like +15125550100) and listed once"
                ));
            }
        }
        for (code, url) in &self.push_codes {
            let keypad = |c: char| c.is_ascii_digit() || c == '*' || c == '#';
            if code.is_empty() || code.len() > 8 || !code.chars().all(keypad) {
                return Err(format!(
                    "phone.push_codes key {code:?} must be 1-8 of 0-9, * and #"
                ));
            }
            let ok = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok || url.len() > 2000 {
                return Err(format!(
                    "phone.push_codes {code:?}: {url:?} is not an http(s) URL"
                ));
            }
        }
        if let Some(n) = self.routing_point_pin_digits
            && !(4..=6).contains(&n)
        {
            return Err(format!(
                "phone.routing_point_pin_digits {n} must be 4, 5 or 6"
            ));
        }
        let mut numbers = std::collections::HashSet::new();
        for n in &self.routing_points {
            if !sip::is_e164(n) || !numbers.insert(n.as_str()) {
                return Err(format!(
                    "phone.routing_points entry {n:?} must be E.164 (like +15125550100) and listed once"
                ));
            }
        }
        for n in &self.numbers {
            if !sip::is_e164(&n.number) || !numbers.insert(n.number.as_str()) {
                return Err(format!(
                    "phone.numbers entry {:?} must be E.164 (like +15125550100) and listed once",
                    n.number
                ));
            }
            if !links.contains(&n.link.as_str()) {
                return Err(format!(
                    "phone.numbers {:?}: link {:?} is not one of the [[links]] in this file",
                    n.number, n.link
                ));
            }
        }
        for t in &self.trunks {
            let mut seen = std::collections::HashSet::new();
            for n in &t.numbers {
                if !numbers.contains(n.as_str()) || !seen.insert(n.as_str()) {
                    return Err(format!(
                        "phone.trunks {:?}: numbers entry {n:?} must be one of phone.numbers \
                         or phone.routing_points, listed once",
                        t.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses a trunk with the address of `other` tenant's (slug) trunk
    /// unless both list the called numbers they carry and none is in both:
    /// calls from a shared address are told apart by called number only.
    /// Addresses compare as the SIP agent matches them: the trunk's
    /// `allowed_sources`, else its `host` (a host name as written; one that
    /// resolves to another tenant's address is not seen here, and calls
    /// from it then reach neither tenant unless their numbers tell them
    /// apart). Port and transport do not tell calls apart.
    pub fn check_shared_addresses(&self, other_slug: &str, other: &Self) -> Result<(), String> {
        for mine in &self.trunks {
            for theirs in &other.trunks {
                let (a, b) = (mine.sources(), theirs.sources());
                let Some(address) = a.iter().find(|x| b.contains(x)) else {
                    continue;
                };
                let overlap = mine.numbers.iter().find(|n| theirs.numbers.contains(n));
                let why = if mine.numbers.is_empty() || theirs.numbers.is_empty() {
                    "both trunks must list the called numbers they carry (phone.trunks numbers)"
                        .to_owned()
                } else if let Some(n) = overlap {
                    format!("both list {n}; each called number may be one trunk's only")
                } else {
                    continue;
                };
                return Err(format!(
                    "phone.trunks {:?}: address {address} is also tenant {other_slug:?}'s trunk \
                     {:?}; calls from one address are told apart by called number, so {why}",
                    mine.name, theirs.name
                ));
            }
        }
        Ok(())
    }

    pub fn trunk(&self, name: &str) -> Option<&TrunkDoc> {
        self.trunks.iter().find(|t| t.name == name)
    }

    /// The link slug a dialled number reaches.
    pub fn link_for_number(&self, number: &str) -> Option<&str> {
        self.numbers
            .iter()
            .find(|n| n.number == number)
            .map(|n| n.link.as_str())
    }

    /// Whether calls may go to `number`: E.164 and under an allowed prefix.
    pub fn may_dial(&self, number: &str) -> bool {
        sip::is_e164(number)
            && self
                .allowed_destinations
                .iter()
                .any(|prefix| number.starts_with(prefix.as_str()))
    }

    pub fn routing_point_hold(&self) -> Duration {
        self.routing_point_hold_secs
            .map_or(DEFAULT_ROUTING_POINT_HOLD, Duration::from_secs)
    }

    /// The PIN length when callers may key one, else `None`.
    pub fn routing_point_pin(&self) -> Option<usize> {
        self.routing_point_pin.then(|| {
            usize::from(
                self.routing_point_pin_digits
                    .unwrap_or(DEFAULT_PIN_DIGITS)
                    .clamp(4, 6),
            )
        })
    }

    pub fn lookup_window(&self) -> Duration {
        self.lookup_window_secs
            .map_or(DEFAULT_LOOKUP_WINDOW, Duration::from_secs)
    }

    /// The trunks as the SIP user agent takes them.
    pub fn sip_trunks(&self, tenant: sip::TenantId) -> Vec<sip::Trunk> {
        self.trunks
            .iter()
            .map(|t| sip::Trunk {
                tenant,
                name: t.name.clone(),
                host: t.host.clone(),
                port: t.port,
                transport: match t.transport {
                    TransportName::Udp => sip::Transport::Udp,
                    TransportName::Tcp => sip::Transport::Tcp,
                },
                username: t.username.clone(),
                password: t.password.as_ref().map(|p| p.expose().to_owned()),
                caller_id: t.caller_id.clone(),
                allowed_sources: t.allowed_sources.clone(),
                options_interval: t.options_interval_secs.map(Duration::from_secs),
                numbers: t.numbers.clone(),
            })
            .collect()
    }
}

/// A number as people write it ("+1 (512) 555-0100") in E.164 ("+15125550100"),
/// or `None` when it is not one.
pub fn normalize_number(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let digits: String = trimmed
        .strip_prefix('+')?
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let number = format!("+{digits}");
    sip::is_e164(&number).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(toml_text: &str) -> TenantPhone {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn numbers_normalise_to_e164() {
        assert_eq!(
            normalize_number("+1 (512) 555-0100").as_deref(),
            Some("+15125550100")
        );
        assert_eq!(normalize_number("5125550100"), None);
        assert_eq!(normalize_number("+0125550100"), None);
        assert_eq!(normalize_number("+1512abc0100"), None);
    }

    #[test]
    fn destinations_are_checked_against_prefixes() {
        let p = phone("allowed_destinations = [\"+1512\", \"+35121\"]");
        assert!(p.may_dial("+15125550100"));
        assert!(p.may_dial("+351210000001"));
        assert!(!p.may_dial("+882355550100"), "premium satellite range");
        assert!(!p.may_dial("+1512"), "too short for E.164");
        assert!(
            !TenantPhone::default().may_dial("+15125550100"),
            "nothing allowed by default"
        );
    }

    #[test]
    fn a_shared_trunk_address_needs_disjoint_numbers() {
        let with = |numbers: &str| {
            phone(&format!(
                "routing_points = [\"+15125550130\"]\n\
                 [[numbers]]\nnumber = \"+15125550123\"\nlink = \"sales\"\n\
                 [[numbers]]\nnumber = \"+15125550124\"\nlink = \"sales\"\n\
                 [[trunks]]\nname = \"carrier\"\nhost = \"192.0.2.7\"\nnumbers = [{numbers}]"
            ))
        };
        let a = with("\"+15125550123\"");
        a.check(&["sales"]).unwrap();
        let none = with("");
        let e = none.check_shared_addresses("acme", &a).unwrap_err();
        assert!(e.contains("\"acme\"") && e.contains("192.0.2.7"), "{e}");
        assert!(e.contains("must list the called numbers"), "{e}");
        let e = a.check_shared_addresses("acme", &none).unwrap_err();
        assert!(e.contains("must list the called numbers"), "{e}");
        let same = with("\"+15125550123\", \"+15125550130\"");
        let e = same.check_shared_addresses("acme", &a).unwrap_err();
        assert!(e.contains("both list +15125550123"), "{e}");
        let apart = with("\"+15125550124\", \"+15125550130\"");
        apart.check_shared_addresses("acme", &a).unwrap();
        // The same host given as an allowed source is the same address.
        let mut by_source = none.clone();
        by_source.trunks[0].host = "sip.carrier.example".into();
        by_source.trunks[0].allowed_sources = vec!["192.0.2.7".parse().unwrap()];
        assert!(by_source.check_shared_addresses("acme", &a).is_err());
        // Elsewhere: nothing to tell apart.
        let mut elsewhere = none;
        elsewhere.trunks[0].host = "192.0.2.8".into();
        elsewhere.check_shared_addresses("acme", &a).unwrap();
        // A trunk's numbers are the tenant's own.
        let foreign = with("\"+15125550199\"");
        let e = foreign.check(&["sales"]).unwrap_err();
        assert!(e.contains("numbers entry \"+15125550199\""), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        let cases = [
            ("caller_ids = [\"12345\"]", "caller_ids"),
            ("allowed_destinations = [\"1512\"]", "allowed_destinations"),
            (
                "push_codes = { \"*7a\" = \"https://x.example/\" }",
                "push_codes",
            ),
            (
                "push_codes = { \"*76\" = \"javascript:alert(1)\" }",
                "push_codes",
            ),
            (
                "[[numbers]]\nnumber = \"+15125550100\"\nlink = \"nope\"",
                "link",
            ),
            (
                "[[trunks]]\nname = \"t\"\nhost = \"127.0.0.1\"\nusername = \"u\"",
                "username and password",
            ),
            ("routing_point_pin_digits = 3", "routing_point_pin_digits"),
            ("routing_point_pin_digits = 8", "routing_point_pin_digits"),
            (
                "caller_ids = [\"+15125550900\"]\n[[trunks]]\nname = \"t\"\nhost = \"127.0.0.1\"\ncaller_id = \"+15125550900\"",
                "also in phone.caller_ids",
            ),
        ];
        for (text, expect) in cases {
            let e = phone(text).check(&["sales"]).unwrap_err();
            assert!(e.contains(expect), "{text}: {e}");
        }
    }
}
