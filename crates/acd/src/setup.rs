//! A tenant's routing setup (centers, queues, classes of service, media rules) and
//! the checks that reject an impossible one before it reaches the core.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::hours::{Calendar, Date, WeeklyHours};
use crate::{CenterId, Media, QueueId, SkillId, TenantId};

/// A required skill at a minimum level (1-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SkillReq {
    pub skill: SkillId,
    pub min_level: u8,
}

/// How a queue picks among the free qualified agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The agent idle longest (since their last contact ended or they became ready).
    #[default]
    LongestIdle,
    /// The highest summed level in the queue's required skills; ties by longest idle.
    MostSkilled,
    /// The fewest contacts held relative to capacity; ties by longest idle.
    LeastOccupied,
    /// Each in turn, by agent id, after the last one this queue offered to.
    RoundRobin,
}

/// How a queue picks a center for an arriving contact among the open ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CenterPolicy {
    /// The center with the least expected wait (load balancing).
    #[default]
    LeastWait,
    /// Spread by the centers' weights (smooth weighted round-robin).
    Weighted,
    /// The center in the visitor's region; else the one whose UTC offset is
    /// nearest the visitor's; else least wait.
    Nearest,
}

/// After `after` of waiting, widen what the contact may be served by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowRule {
    pub after: Duration,
    pub action: OverflowAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverflowAction {
    /// Stop requiring this skill.
    DropSkill(SkillId),
    /// Require this skill at `min_level` at most (lowering, never raising).
    LowerLevel { skill: SkillId, min_level: u8 },
    /// Agents of this center may serve the contact too.
    AddCenter(CenterId),
    /// Agents qualified for that queue (its skills, its centers) may serve the
    /// contact too. The contact keeps its place and its own queue.
    AddQueue(QueueId),
}

/// One call center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterSpec {
    pub center: CenterId,
    /// IANA time zone name, e.g. "Europe/Paris".
    pub time_zone: String,
    pub hours: WeeklyHours,
    /// Dates (in the center's time zone) when it is closed all day.
    pub holidays: Vec<Date>,
    pub region: Option<String>,
    /// Share for `CenterPolicy::Weighted` (0 = never chosen by weight).
    pub weight: u32,
    /// Most contacts the center takes at once (waiting for it or served by it);
    /// a full center is not chosen for new arrivals.
    pub capacity: Option<u32>,
}

/// One queue (one per link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub queue: QueueId,
    pub required: Vec<SkillReq>,
    /// Added to every contact's priority in this queue.
    pub priority: i32,
    pub strategy: Strategy,
    /// Centers that serve this queue; empty means all of the tenant's.
    pub centers: Vec<CenterId>,
    pub center_policy: CenterPolicy,
    /// Applied in order of `after`.
    pub overflow: Vec<OverflowRule>,
    /// How long a contact with a preferred agent waits for that agent only.
    pub preferred_agent_wait: Duration,
    /// How long an offer reserves an agent before it counts as missed.
    pub offer_timeout: Duration,
    /// Longest wrap-up after a contact ends; the slot frees then at the latest.
    pub wrap_up: Duration,
}

impl QueueSpec {
    /// A queue with defaults: longest idle, least wait, 20 s offers, 60 s wrap-up,
    /// 30 s for a preferred agent, no overflow.
    pub fn new(queue: QueueId, required: Vec<SkillReq>) -> QueueSpec {
        QueueSpec {
            queue,
            required,
            priority: 0,
            strategy: Strategy::default(),
            centers: Vec::new(),
            center_policy: CenterPolicy::default(),
            overflow: Vec::new(),
            preferred_agent_wait: Duration::from_secs(30),
            offer_timeout: Duration::from_secs(20),
            wrap_up: Duration::from_mins(1),
        }
    }
}

/// A class of service from a verified identity (e.g. "gold").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassOfService {
    pub name: String,
    /// Added to the contact's priority.
    pub priority_boost: i32,
}

/// `media` is for these classes of service only (e.g. video for "gold").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRule {
    pub media: Media,
    pub classes: Vec<String>,
}

/// Everything the core needs to know about one tenant, but its agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSetup {
    pub tenant: TenantId,
    pub centers: Vec<CenterSpec>,
    pub queues: Vec<QueueSpec>,
    pub classes: Vec<ClassOfService>,
    pub media_rules: Vec<MediaRule>,
}

/// What is wrong with a setup; the message names the offending item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupError {
    NoCenter,
    DuplicateCenter(CenterId),
    DuplicateQueue(QueueId),
    BadTimeZone {
        center: CenterId,
        zone: String,
    },
    BadHours {
        center: CenterId,
        why: String,
    },
    UnknownCenter {
        queue: QueueId,
        center: CenterId,
    },
    UnknownQueue {
        queue: QueueId,
        target: QueueId,
    },
    LevelOutOfRange {
        queue: QueueId,
        skill: SkillId,
        level: u8,
    },
    ZeroTimeout {
        queue: QueueId,
        what: &'static str,
    },
    OverflowLoop {
        queues: Vec<QueueId>,
    },
    UnknownClass {
        media: Media,
        class: String,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::NoCenter => write!(f, "a tenant needs at least one center"),
            SetupError::DuplicateCenter(c) => write!(f, "center {} is defined twice", c.0),
            SetupError::DuplicateQueue(q) => write!(f, "queue {} is defined twice", q.0),
            SetupError::BadTimeZone { center, zone } => {
                write!(f, "center {}: unknown time zone {zone:?}", center.0)
            }
            SetupError::BadHours { center, why } => write!(f, "center {}: {why}", center.0),
            SetupError::UnknownCenter { queue, center } => {
                write!(f, "queue {} names unknown center {}", queue.0, center.0)
            }
            SetupError::UnknownQueue { queue, target } => {
                write!(
                    f,
                    "queue {} overflows to unknown queue {}",
                    queue.0, target.0
                )
            }
            SetupError::LevelOutOfRange {
                queue,
                skill,
                level,
            } => write!(
                f,
                "queue {}: skill {} level {level} is outside 1-10",
                queue.0, skill.0
            ),
            SetupError::ZeroTimeout { queue, what } => {
                write!(f, "queue {}: {what} must be longer than zero", queue.0)
            }
            SetupError::OverflowLoop { queues } => {
                let path: Vec<String> = queues.iter().map(|q| q.0.to_string()).collect();
                write!(f, "overflow loop between queues {}", path.join(" -> "))
            }
            SetupError::UnknownClass { media, class } => {
                write!(f, "rule for {media:?} names unknown class {class:?}")
            }
        }
    }
}

impl std::error::Error for SetupError {}

impl TenantSetup {
    /// Checks the setup as a whole; the first problem found is returned.
    ///
    /// # Errors
    /// A [`SetupError`] naming the center, queue, skill or class at fault.
    pub fn validate(&self) -> Result<(), SetupError> {
        if self.centers.is_empty() {
            return Err(SetupError::NoCenter);
        }
        let mut centers = BTreeSet::new();
        for c in &self.centers {
            if !centers.insert(c.center) {
                return Err(SetupError::DuplicateCenter(c.center));
            }
            Calendar::new(&c.time_zone, c.hours.clone(), &c.holidays).map_err(|e| match e {
                crate::hours::CalendarError::TimeZone => SetupError::BadTimeZone {
                    center: c.center,
                    zone: c.time_zone.clone(),
                },
                crate::hours::CalendarError::Hours(why) => SetupError::BadHours {
                    center: c.center,
                    why,
                },
            })?;
        }
        let queues: BTreeSet<QueueId> = self.queues.iter().map(|q| q.queue).collect();
        if queues.len() != self.queues.len() {
            let mut seen = BTreeSet::new();
            for q in &self.queues {
                if !seen.insert(q.queue) {
                    return Err(SetupError::DuplicateQueue(q.queue));
                }
            }
        }
        for q in &self.queues {
            check_queue(q, &centers, &queues)?;
        }
        check_overflow_loops(&self.queues)?;
        for rule in &self.media_rules {
            for class in &rule.classes {
                if !self.classes.iter().any(|c| &c.name == class) {
                    return Err(SetupError::UnknownClass {
                        media: rule.media,
                        class: class.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn check_queue(
    q: &QueueSpec,
    centers: &BTreeSet<CenterId>,
    queues: &BTreeSet<QueueId>,
) -> Result<(), SetupError> {
    let level = |skill: SkillId, level: u8| {
        if (1..=10).contains(&level) {
            Ok(())
        } else {
            Err(SetupError::LevelOutOfRange {
                queue: q.queue,
                skill,
                level,
            })
        }
    };
    for r in &q.required {
        level(r.skill, r.min_level)?;
    }
    for c in &q.centers {
        if !centers.contains(c) {
            return Err(SetupError::UnknownCenter {
                queue: q.queue,
                center: *c,
            });
        }
    }
    if q.offer_timeout.is_zero() {
        return Err(SetupError::ZeroTimeout {
            queue: q.queue,
            what: "offer_timeout",
        });
    }
    for rule in &q.overflow {
        match &rule.action {
            OverflowAction::LowerLevel { skill, min_level } => level(*skill, *min_level)?,
            OverflowAction::AddCenter(c) if !centers.contains(c) => {
                return Err(SetupError::UnknownCenter {
                    queue: q.queue,
                    center: *c,
                });
            }
            OverflowAction::AddQueue(target) if !queues.contains(target) => {
                return Err(SetupError::UnknownQueue {
                    queue: q.queue,
                    target: *target,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Depth-first search with an explicit path; setups are small.
fn visit(
    q: QueueId,
    edges: &BTreeMap<QueueId, Vec<QueueId>>,
    path: &mut Vec<QueueId>,
    done: &mut BTreeSet<QueueId>,
) -> Result<(), SetupError> {
    if let Some(start) = path.iter().position(|p| *p == q) {
        let mut queues = path[start..].to_vec();
        queues.push(q);
        return Err(SetupError::OverflowLoop { queues });
    }
    if done.contains(&q) {
        return Ok(());
    }
    path.push(q);
    for t in edges.get(&q).into_iter().flatten() {
        visit(*t, edges, path, done)?;
    }
    path.pop();
    done.insert(q);
    Ok(())
}

/// Rejects `AddQueue` chains that come back to where they started (a queue adding
/// itself included): they would widen forever in a circle and say nothing.
fn check_overflow_loops(queues: &[QueueSpec]) -> Result<(), SetupError> {
    let edges: BTreeMap<QueueId, Vec<QueueId>> = queues
        .iter()
        .map(|q| {
            let targets = q
                .overflow
                .iter()
                .filter_map(|r| match r.action {
                    OverflowAction::AddQueue(t) => Some(t),
                    _ => None,
                })
                .collect();
            (q.queue, targets)
        })
        .collect();
    let mut done = BTreeSet::new();
    for q in edges.keys() {
        visit(*q, &edges, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> TenantSetup {
        TenantSetup {
            tenant: TenantId(1),
            centers: vec![CenterSpec {
                center: CenterId(1),
                time_zone: "Europe/Paris".into(),
                hours: WeeklyHours::always(),
                holidays: Vec::new(),
                region: None,
                weight: 1,
                capacity: None,
            }],
            queues: vec![
                QueueSpec::new(
                    QueueId(1),
                    vec![SkillReq {
                        skill: SkillId(1),
                        min_level: 3,
                    }],
                ),
                QueueSpec::new(QueueId(2), Vec::new()),
            ],
            classes: Vec::new(),
            media_rules: Vec::new(),
        }
    }

    #[test]
    fn a_sound_setup_passes() {
        assert_eq!(setup().validate(), Ok(()));
    }

    #[test]
    fn overflow_loops_are_named() {
        let mut s = setup();
        s.queues[0].overflow.push(OverflowRule {
            after: Duration::from_secs(10),
            action: OverflowAction::AddQueue(QueueId(2)),
        });
        s.queues[1].overflow.push(OverflowRule {
            after: Duration::from_secs(10),
            action: OverflowAction::AddQueue(QueueId(1)),
        });
        let err = s.validate().unwrap_err();
        assert_eq!(
            err,
            SetupError::OverflowLoop {
                queues: vec![QueueId(1), QueueId(2), QueueId(1)]
            }
        );
        assert_eq!(err.to_string(), "overflow loop between queues 1 -> 2 -> 1");
    }

    #[test]
    fn levels_above_ten_are_refused() {
        let mut s = setup();
        s.queues[0].required[0].min_level = 11;
        assert!(matches!(
            s.validate(),
            Err(SetupError::LevelOutOfRange { level: 11, .. })
        ));
    }

    #[test]
    fn unknown_names_are_refused() {
        let mut s = setup();
        s.queues[1].centers.push(CenterId(9));
        assert!(matches!(
            s.validate(),
            Err(SetupError::UnknownCenter { .. })
        ));
        let mut s = setup();
        s.centers[0].time_zone = "Mars/Olympus".into();
        assert!(matches!(s.validate(), Err(SetupError::BadTimeZone { .. })));
        let mut s = setup();
        s.media_rules.push(MediaRule {
            media: Media::Video,
            classes: vec!["gold".into()],
        });
        assert!(matches!(s.validate(), Err(SetupError::UnknownClass { .. })));
    }

    #[test]
    fn zero_offer_timeout_is_refused() {
        let mut s = setup();
        s.queues[0].offer_timeout = Duration::ZERO;
        assert!(matches!(s.validate(), Err(SetupError::ZeroTimeout { .. })));
    }
}
