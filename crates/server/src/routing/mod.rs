//! A tenant's routing rules as operators write them (tenant file, stored as JSON
//! with names), and their translation into the routing core's setup (ids).
//!
//! The same translation runs when a tenant file is applied (so a mistake is
//! reported at load, naming the center, queue or skill) and when the desk loads a
//! tenant, so what was accepted is what runs.

mod build;
mod hours;

pub(crate) use build::center as center_spec;
pub use build::{AgentRouting, BuildError, DEFAULT_CENTER, Names, QueueInput, build_setup};
pub use hours::parse_hours;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tenant-wide rules: call centers and classes of service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TenantRouting {
    #[serde(default)]
    pub centers: Vec<CenterDoc>,
    #[serde(default)]
    pub classes: Vec<ClassDoc>,
    #[serde(default)]
    pub media_rules: Vec<MediaRuleDoc>,
}

/// One call center. With no `[[centers]]` a tenant has one, always open, in UTC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CenterDoc {
    pub name: String,
    /// IANA name, e.g. "Europe/Paris".
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Weekday (`mon`..`sun`, or `weekdays` for Monday to Friday) to opening
    /// spans such as "09:00-12:00, 13:00-17:30", or "closed". No table means
    /// always open.
    #[serde(default)]
    pub hours: Option<BTreeMap<String, String>>,
    /// "YYYY-MM-DD" dates, closed all day in the center's time zone.
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub capacity: Option<u32>,
    /// The center's phone number (E.164), for links whose calls go to centers
    /// over the telephone network rather than to agents in a browser.
    #[serde(default)]
    pub phone: Option<String>,
    /// The `[[phone.trunks]]` entry such calls leave by.
    #[serde(default)]
    pub trunk: Option<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn one() -> u32 {
    1
}

/// A class of service carried in a verified identity's `entitlements`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClassDoc {
    pub name: String,
    #[serde(default)]
    pub priority_boost: i32,
}

/// `media` is for these classes only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MediaRuleDoc {
    pub media: MediaName,
    pub classes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum MediaName {
    Chat,
    Voice,
    Video,
    Callback,
}

impl MediaName {
    pub fn acd(self) -> acd::Media {
        match self {
            MediaName::Chat => acd::Media::Chat,
            MediaName::Voice => acd::Media::Voice,
            MediaName::Video => acd::Media::Video,
            MediaName::Callback => acd::Media::Callback,
        }
    }
}

/// One queue's rules beyond its main skill.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueueRouting {
    /// Skill name to minimum level (1-10), on top of the queue's `skill` at level 1.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub strategy: StrategyName,
    /// Center names; empty means all.
    #[serde(default)]
    pub centers: Vec<String>,
    #[serde(default)]
    pub center_policy: PolicyName,
    #[serde(default)]
    pub overflow: Vec<OverflowDoc>,
    pub preferred_agent_wait_secs: Option<u64>,
    pub offer_timeout_secs: Option<u64>,
    pub wrap_up_secs: Option<u64>,
    /// When the wallboard shows the queue amber or red (`[queues.wallboard]`).
    #[serde(default)]
    pub wallboard: Option<WallboardThresholds>,
}

/// A queue's wallboard alerts: amber at the first limit reached, red at the
/// second; by contacts waiting and by the longest wait. Checked at parse
/// (`check`): red never below amber, service-level target above zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WallboardThresholds {
    pub amber_waiting: Option<u32>,
    pub red_waiting: Option<u32>,
    pub amber_wait_secs: Option<u64>,
    pub red_wait_secs: Option<u64>,
    /// The answer time the service level counts against (default 20 s).
    pub service_level_secs: Option<u64>,
}

impl WallboardThresholds {
    /// The first thing wrong with the limits, said as the tenant file says it.
    pub fn check(&self) -> Result<(), String> {
        let order = |name: &str, amber: Option<u64>, red: Option<u64>| match (amber, red) {
            (Some(a), Some(r)) if r < a => Err(format!(
                "red_{name} ({r}) is below amber_{name} ({a}); red must be the higher limit"
            )),
            _ => Ok(()),
        };
        order(
            "waiting",
            self.amber_waiting.map(u64::from),
            self.red_waiting.map(u64::from),
        )?;
        order("wait_secs", self.amber_wait_secs, self.red_wait_secs)?;
        if self.service_level_secs == Some(0) {
            return Err("service_level_secs must be above 0".to_owned());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyName {
    #[default]
    LongestIdle,
    MostSkilled,
    LeastOccupied,
    RoundRobin,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyName {
    #[default]
    LeastWait,
    Weighted,
    Nearest,
}

/// After `after_secs` of waiting, exactly one widening.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OverflowDoc {
    pub after_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_skill: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_level: Option<LowerLevelDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_queue: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LowerLevelDoc {
    pub skill: String,
    pub level: u8,
}

/// How many contacts of each media an agent takes at once.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CapacityDoc {
    pub chat: u32,
    pub voice: u32,
    pub video: u32,
    pub callback: u32,
}

impl CapacityDoc {
    /// `chats` chats, one call of any kind.
    pub fn with_chats(chats: u32) -> CapacityDoc {
        CapacityDoc {
            chat: chats,
            voice: 1,
            video: 1,
            callback: 1,
        }
    }

    pub fn acd(self) -> acd::Capacity {
        acd::Capacity::NONE
            .with(acd::Media::Chat, self.chat)
            .with(acd::Media::Voice, self.voice)
            .with(acd::Media::Video, self.video)
            .with(acd::Media::Callback, self.callback)
    }
}

/// What routing knows about one contact, stored with it so a waiting contact is
/// routed the same way after a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContactRouting {
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub utc_offset_minutes: Option<i32>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub preferred_agent: Option<i64>,
    /// Set for a web callback request.
    #[serde(default)]
    pub callback: Option<CallbackRequest>,
    /// Set for a voice or video call.
    #[serde(default)]
    pub call: Option<crate::store::CallMedia>,
    /// How long `preferred_agent` is waited for (and `excluded_agent` kept
    /// away) instead of the queue's preference wait: set by transfers.
    #[serde(default)]
    pub preferred_wait_secs: Option<u64>,
    /// The agent who transferred the contact to a queue: not offered it again
    /// during the wait.
    #[serde(default)]
    pub excluded_agent: Option<i64>,
}

/// A visitor's request to be called back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallbackRequest {
    pub phone: String,
    /// Not before this time (Unix ms); `None` as soon as possible.
    #[serde(default)]
    pub not_before: Option<i64>,
}

impl ContactRouting {
    /// The core's view of a chat contact that arrived at `arrived`.
    pub fn spec(
        &self,
        contact: acd::ContactId,
        queue: acd::QueueId,
        arrived: acd::Time,
    ) -> acd::ContactSpec {
        let media = match (&self.callback, self.call) {
            (Some(_), _) => acd::Media::Callback,
            (None, Some(call)) => call.acd(),
            (None, None) => acd::Media::Chat,
        };
        let mut spec = acd::ContactSpec::new(contact, queue, media, arrived);
        spec.not_before = self
            .callback
            .as_ref()
            .and_then(|c| c.not_before)
            .map(acd::Time);
        spec.priority = self.priority;
        spec.preferred_agent = self.preferred_agent.map(acd::AgentId);
        spec.excluded_agent = self.excluded_agent.map(acd::AgentId);
        spec.preferred_wait = self.preferred_wait_secs.map(std::time::Duration::from_secs);
        spec.attributes = acd::Attributes {
            region: self.region.clone(),
            utc_offset_minutes: self.utc_offset_minutes,
            class: self.class.clone(),
            language: self.language.clone(),
        };
        spec
    }
}
