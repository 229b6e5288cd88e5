//! Names to ids: a tenant's routing documents become an `acd::TenantSetup`.

use std::collections::HashMap;
use std::time::Duration;

use super::{
    CapacityDoc, CenterDoc, OverflowDoc, PolicyName, QueueRouting, StrategyName, TenantRouting,
    parse_hours,
};

/// A mistake in the routing rules, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// Ids of the tenant's skills and queues by name.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub skills: HashMap<String, acd::SkillId>,
    pub queues: HashMap<String, acd::QueueId>,
}

/// A queue as stored: id, name, main skill (required at level 1) and rules.
pub struct QueueInput<'a> {
    pub id: acd::QueueId,
    pub name: &'a str,
    pub skill: &'a str,
    pub routing: &'a QueueRouting,
}

/// An agent as stored.
#[derive(Debug, Clone)]
pub struct AgentRouting {
    pub agent: acd::AgentId,
    pub center: Option<String>,
    pub skills: Vec<(acd::SkillId, u8)>,
    pub capacity: CapacityDoc,
}

/// The center a tenant without `[[centers]]` gets: always open, in UTC.
pub const DEFAULT_CENTER: &str = "main";

/// Builds and checks the whole setup, and the agents placed in their centers.
///
/// # Errors
/// The first unknown name or impossible rule, named as the operator wrote it.
pub fn build_setup(
    tenant: acd::TenantId,
    routing: &TenantRouting,
    queues: &[QueueInput<'_>],
    agents: &[AgentRouting],
    names: &Names,
) -> Result<(acd::TenantSetup, Vec<acd::AgentSpec>), BuildError> {
    let default_center = [CenterDoc {
        name: DEFAULT_CENTER.to_owned(),
        time_zone: "UTC".to_owned(),
        hours: None,
        holidays: Vec::new(),
        region: None,
        weight: 1,
        capacity: None,
        phone: None,
        trunk: None,
    }];
    let center_docs: &[CenterDoc] = if routing.centers.is_empty() {
        &default_center
    } else {
        &routing.centers
    };
    let mut centers = HashMap::new();
    let mut center_specs = Vec::new();
    for (i, c) in center_docs.iter().enumerate() {
        let id = acd::CenterId(i64::try_from(i).unwrap_or(i64::MAX) + 1);
        if centers.insert(c.name.clone(), id).is_some() {
            return Err(BuildError(format!("center {:?} is defined twice", c.name)));
        }
        center_specs.push(center(id, c)?);
    }
    let center_id = |name: &str, whose: &str| {
        centers
            .get(name)
            .copied()
            .ok_or_else(|| BuildError(format!("{whose} names unknown center {name:?}")))
    };
    let skill_id = |name: &str, whose: &str| {
        names
            .skills
            .get(name)
            .copied()
            .ok_or_else(|| BuildError(format!("{whose} names unknown skill {name:?}")))
    };
    let mut queue_specs = Vec::new();
    for q in queues {
        let whose = format!("queue {:?}", q.name);
        let r = q.routing;
        let mut required = vec![acd::SkillReq {
            skill: skill_id(q.skill, &whose)?,
            min_level: 1,
        }];
        for (skill, level) in &r.skills {
            let skill = skill_id(skill, &whose)?;
            required.retain(|s| s.skill != skill);
            required.push(acd::SkillReq {
                skill,
                min_level: *level,
            });
        }
        let mut spec = acd::QueueSpec::new(q.id, required);
        spec.priority = r.priority;
        spec.strategy = match r.strategy {
            StrategyName::LongestIdle => acd::Strategy::LongestIdle,
            StrategyName::MostSkilled => acd::Strategy::MostSkilled,
            StrategyName::LeastOccupied => acd::Strategy::LeastOccupied,
            StrategyName::RoundRobin => acd::Strategy::RoundRobin,
        };
        spec.center_policy = match r.center_policy {
            PolicyName::LeastWait => acd::CenterPolicy::LeastWait,
            PolicyName::Weighted => acd::CenterPolicy::Weighted,
            PolicyName::Nearest => acd::CenterPolicy::Nearest,
        };
        spec.centers = r
            .centers
            .iter()
            .map(|c| center_id(c, &whose))
            .collect::<Result<_, _>>()?;
        for o in &r.overflow {
            spec.overflow
                .push(overflow(o, &whose, &skill_id, &center_id, names)?);
        }
        spec.overflow.sort_by_key(|o| o.after);
        if let Some(s) = r.preferred_agent_wait_secs {
            spec.preferred_agent_wait = Duration::from_secs(s);
        }
        if let Some(s) = r.offer_timeout_secs {
            spec.offer_timeout = Duration::from_secs(s);
        }
        if let Some(s) = r.wrap_up_secs {
            spec.wrap_up = Duration::from_secs(s);
        }
        queue_specs.push(spec);
    }
    let setup = acd::TenantSetup {
        tenant,
        centers: center_specs,
        queues: queue_specs,
        classes: routing
            .classes
            .iter()
            .map(|c| acd::ClassOfService {
                name: c.name.clone(),
                priority_boost: c.priority_boost,
            })
            .collect(),
        media_rules: routing
            .media_rules
            .iter()
            .map(|r| acd::MediaRule {
                media: r.media.acd(),
                classes: r.classes.clone(),
            })
            .collect(),
    };
    setup
        .validate()
        .map_err(|e| BuildError(describe(&e, queues, center_docs)))?;
    let first_center = acd::CenterId(1);
    let agents = agents
        .iter()
        .map(|a| {
            let center = match &a.center {
                Some(name) => center_id(name, "an agent")?,
                None => first_center,
            };
            Ok(acd::AgentSpec {
                agent: a.agent,
                tenant,
                center,
                skills: a.skills.clone(),
                capacity: a.capacity.acd(),
            })
        })
        .collect::<Result<_, BuildError>>()?;
    Ok((setup, agents))
}

pub(crate) fn center(id: acd::CenterId, c: &CenterDoc) -> Result<acd::CenterSpec, BuildError> {
    let whose = format!("center {:?}", c.name);
    let hours = parse_hours(c.hours.as_ref()).map_err(|e| BuildError(format!("{whose}: {e}")))?;
    let holidays = c
        .holidays
        .iter()
        .map(|d| {
            parse_date(d).ok_or_else(|| {
                BuildError(format!("{whose}: holiday {d:?} is not a YYYY-MM-DD date"))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(acd::CenterSpec {
        center: id,
        time_zone: c.time_zone.clone(),
        hours,
        holidays,
        region: c.region.clone(),
        weight: c.weight,
        capacity: c.capacity,
    })
}

fn parse_date(text: &str) -> Option<acd::Date> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Some(acd::Date { year, month, day })
}

fn overflow(
    o: &OverflowDoc,
    whose: &str,
    skill_id: &dyn Fn(&str, &str) -> Result<acd::SkillId, BuildError>,
    center_id: &dyn Fn(&str, &str) -> Result<acd::CenterId, BuildError>,
    names: &Names,
) -> Result<acd::OverflowRule, BuildError> {
    let set = [
        o.drop_skill.is_some(),
        o.lower_level.is_some(),
        o.add_center.is_some(),
        o.add_queue.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(BuildError(format!(
            "{whose}: each overflow rule needs exactly one of drop_skill, lower_level, add_center, add_queue"
        )));
    }
    let whose = format!("{whose} overflow");
    let action = if let Some(s) = &o.drop_skill {
        acd::OverflowAction::DropSkill(skill_id(s, &whose)?)
    } else if let Some(l) = &o.lower_level {
        acd::OverflowAction::LowerLevel {
            skill: skill_id(&l.skill, &whose)?,
            min_level: l.level,
        }
    } else if let Some(c) = &o.add_center {
        acd::OverflowAction::AddCenter(center_id(c, &whose)?)
    } else {
        let name = o.add_queue.as_deref().unwrap_or_default();
        acd::OverflowAction::AddQueue(
            names
                .queues
                .get(name)
                .copied()
                .ok_or_else(|| BuildError(format!("{whose} names unknown queue {name:?}")))?,
        )
    };
    Ok(acd::OverflowRule {
        after: Duration::from_secs(o.after_secs),
        action,
    })
}

/// The core's error, with ids turned back into the names the operator wrote.
fn describe(e: &acd::SetupError, queues: &[QueueInput<'_>], centers: &[CenterDoc]) -> String {
    let queue = |id: acd::QueueId| {
        queues
            .iter()
            .find(|q| q.id == id)
            .map_or_else(|| id.0.to_string(), |q| format!("{:?}", q.name))
    };
    let center = |id: acd::CenterId| {
        usize::try_from(id.0 - 1)
            .ok()
            .and_then(|i| centers.get(i))
            .map_or_else(|| id.0.to_string(), |c| format!("{:?}", c.name))
    };
    match e {
        acd::SetupError::OverflowLoop { queues: path } => {
            let path: Vec<String> = path.iter().map(|q| queue(*q)).collect();
            format!("overflow loop between queues {}", path.join(" -> "))
        }
        acd::SetupError::LevelOutOfRange {
            queue: q, level, ..
        } => {
            format!("queue {}: skill level {level} is outside 1-10", queue(*q))
        }
        acd::SetupError::ZeroTimeout { queue: q, what } => {
            format!("queue {}: {what} must be longer than zero", queue(*q))
        }
        acd::SetupError::BadTimeZone { center: c, zone } => {
            format!("center {}: unknown time zone {zone:?}", center(*c))
        }
        acd::SetupError::BadHours { center: c, why } => format!("center {}: {why}", center(*c)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{LowerLevelDoc, OverflowDoc};

    fn names() -> Names {
        let mut n = Names::default();
        n.skills.insert("sales".into(), acd::SkillId(1));
        n.skills.insert("french".into(), acd::SkillId(2));
        n.queues.insert("sales".into(), acd::QueueId(10));
        n.queues.insert("support".into(), acd::QueueId(11));
        n
    }

    fn build(
        routing: &TenantRouting,
        sales: &QueueRouting,
        support: &QueueRouting,
    ) -> Result<(), BuildError> {
        let queues = [
            QueueInput {
                id: acd::QueueId(10),
                name: "sales",
                skill: "sales",
                routing: sales,
            },
            QueueInput {
                id: acd::QueueId(11),
                name: "support",
                skill: "sales",
                routing: support,
            },
        ];
        build_setup(acd::TenantId(1), routing, &queues, &[], &names()).map(|_| ())
    }

    fn to(queue: &str) -> OverflowDoc {
        OverflowDoc {
            after_secs: 30,
            drop_skill: None,
            lower_level: None,
            add_center: None,
            add_queue: Some(queue.into()),
        }
    }

    #[test]
    fn default_center_and_defaults_build() {
        build(
            &TenantRouting::default(),
            &QueueRouting::default(),
            &QueueRouting::default(),
        )
        .unwrap();
    }

    #[test]
    fn overflow_loop_is_named_by_queue_names() {
        let sales = QueueRouting {
            overflow: vec![to("support")],
            ..QueueRouting::default()
        };
        let support = QueueRouting {
            overflow: vec![to("sales")],
            ..QueueRouting::default()
        };
        let e = build(&TenantRouting::default(), &sales, &support).unwrap_err();
        assert_eq!(
            e.0,
            r#"overflow loop between queues "sales" -> "support" -> "sales""#
        );
    }

    #[test]
    fn unknown_names_and_levels_are_named() {
        let q = QueueRouting {
            centers: vec!["mars".into()],
            ..QueueRouting::default()
        };
        let e = build(&TenantRouting::default(), &q, &QueueRouting::default()).unwrap_err();
        assert!(e.0.contains(r#"unknown center "mars""#), "{e}");
        let mut q = QueueRouting::default();
        q.skills.insert("klingon".into(), 3);
        let e = build(&TenantRouting::default(), &q, &QueueRouting::default()).unwrap_err();
        assert!(e.0.contains(r#"unknown skill "klingon""#), "{e}");
        let mut q = QueueRouting::default();
        q.overflow.push(OverflowDoc {
            lower_level: Some(LowerLevelDoc {
                skill: "french".into(),
                level: 11,
            }),
            add_queue: None,
            ..to("x")
        });
        let e = build(&TenantRouting::default(), &q, &QueueRouting::default()).unwrap_err();
        assert!(
            e.0.contains(r#"queue "sales""#) && e.0.contains("11"),
            "{e}"
        );
        let q = QueueRouting {
            offer_timeout_secs: Some(0),
            ..QueueRouting::default()
        };
        let e = build(&TenantRouting::default(), &q, &QueueRouting::default()).unwrap_err();
        assert!(e.0.contains("offer_timeout"), "{e}");
    }
}
