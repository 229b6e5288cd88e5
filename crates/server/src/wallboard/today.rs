//! Today's counts per queue (offered, answered, abandoned, answer waits) and
//! each agent's state with when it began, folded from stat events: the live
//! ones as the desk emits them, and, for what happened before this server
//! started, the stored ones. Every count is kept per contact id, so an event
//! seen both ways counts once.
//!
//! "Today" is the UTC day; it starts again at midnight UTC.

use std::collections::{HashMap, HashSet};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The UTC midnight that starts the day of `at` (Unix ms).
pub fn midnight(at: i64) -> i64 {
    at.div_euclid(DAY_MS) * DAY_MS
}

/// One stat event as the wallboard reads it (live or stored).
pub struct Seen<'a> {
    pub at: i64,
    pub kind: &'a str,
    pub contact: Option<i64>,
    pub agent: Option<i64>,
    pub queue: Option<i64>,
    pub detail: &'a serde_json::Value,
}

/// One queue's day so far.
#[derive(Debug, Default, Clone)]
pub struct QueueDay {
    /// Contacts that entered the queue.
    pub offered: u32,
    pub answered: u32,
    pub abandoned: u32,
    /// How long each answered contact waited, ms (for the service level).
    answer_waits: Vec<i64>,
}

impl QueueDay {
    /// Answered within `target_ms` over answered plus abandoned; `None`
    /// before any contact ended either way.
    pub fn service_level(&self, target_ms: i64) -> Option<f64> {
        let ended = self.answered + self.abandoned;
        if ended == 0 {
            return None;
        }
        let within = self
            .answer_waits
            .iter()
            .filter(|w| **w <= target_ms)
            .count();
        #[allow(clippy::cast_precision_loss)] // counts of a day fit f64 exactly
        Some(within as f64 / f64::from(ended))
    }
}

/// An agent's activity (`available`, `busy`, ...) and since when (Unix ms).
#[derive(Debug, Clone)]
pub struct AgentSince {
    pub activity: String,
    pub since: i64,
}

/// One tenant's day.
#[derive(Debug, Default)]
pub struct Today {
    day_start: i64,
    queues: HashMap<i64, QueueDay>,
    /// Contacts waiting now: their queue and when they were queued.
    waiting_since: HashMap<i64, i64>,
    queued: HashSet<i64>,
    answered: HashSet<i64>,
    abandoned: HashSet<i64>,
    agents: HashMap<i64, AgentSince>,
}

impl Today {
    pub fn queue(&self, queue: i64) -> QueueDay {
        self.queues.get(&queue).cloned().unwrap_or_default()
    }

    pub fn agent(&self, agent: i64) -> Option<&AgentSince> {
        self.agents.get(&agent)
    }

    /// Starts a new day at `at`'s midnight when `at` is past the current one.
    /// Contacts still waiting and agents' states carry over.
    pub fn roll(&mut self, at: i64) {
        let start = midnight(at);
        if start > self.day_start {
            self.day_start = start;
            self.queues.clear();
            self.queued.clear();
            self.answered.clear();
            self.abandoned.clear();
        }
    }

    pub fn apply(&mut self, e: &Seen<'_>) {
        if e.kind == "agent_state" {
            let (Some(agent), Some(activity)) = (e.agent, e.detail["state"].as_str()) else {
                return;
            };
            let newer = self.agents.get(&agent).is_none_or(|a| a.since <= e.at);
            if newer {
                self.agents.insert(
                    agent,
                    AgentSince {
                        activity: activity.to_owned(),
                        since: e.at,
                    },
                );
            }
            return;
        }
        if e.at < self.day_start {
            return; // yesterday's, read from the store after midnight
        }
        self.roll(e.at);
        let (Some(contact), Some(queue)) = (e.contact, e.queue) else {
            return;
        };
        match e.kind {
            "queued" => {
                if self.queued.insert(contact) {
                    self.queues.entry(queue).or_default().offered += 1;
                }
                if !self.answered.contains(&contact) && !self.abandoned.contains(&contact) {
                    self.waiting_since.entry(contact).or_insert(e.at);
                }
            }
            "assigned" => {
                let since = self.waiting_since.remove(&contact);
                if self.answered.insert(contact) {
                    let day = self.queues.entry(queue).or_default();
                    day.answered += 1;
                    if let Some(since) = since {
                        day.answer_waits.push((e.at - since).max(0));
                    }
                }
            }
            "left" => {
                self.waiting_since.remove(&contact);
                if e.detail["outcome"].as_str() == Some("abandoned")
                    && self.abandoned.insert(contact)
                {
                    self.queues.entry(queue).or_default().abandoned += 1;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen<'a>(at: i64, kind: &'a str, contact: i64, detail: &'a serde_json::Value) -> Seen<'a> {
        Seen {
            at,
            kind,
            contact: Some(contact),
            agent: None,
            queue: Some(7),
            detail,
        }
    }

    #[test]
    fn counts_each_contact_once_and_service_level_at_target() {
        let none = serde_json::json!({});
        let abandoned = serde_json::json!({ "outcome": "abandoned" });
        let base = 10 * DAY_MS;
        let mut t = Today::default();
        for e in [
            seen(base + 1_000, "queued", 1, &none),
            seen(base + 1_000, "queued", 1, &none), // also read from the store
            seen(base + 6_000, "assigned", 1, &none), // 5 s
            seen(base + 2_000, "queued", 2, &none),
            seen(base + 40_000, "assigned", 2, &none), // 38 s
            seen(base + 3_000, "queued", 3, &none),
            seen(base + 9_000, "left", 3, &abandoned),
            seen(base + 9_000, "left", 3, &abandoned),
        ] {
            t.apply(&e);
        }
        let q = t.queue(7);
        assert_eq!((q.offered, q.answered, q.abandoned), (3, 2, 1));
        // One of three ended contacts answered within 20 s.
        assert!((q.service_level(20_000).unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(q.service_level(60_000), Some(2.0 / 3.0));
        // The next UTC day starts from nothing.
        t.apply(&seen(base + DAY_MS + 5, "queued", 4, &none));
        assert_eq!(t.queue(7).offered, 1);
        assert_eq!(t.queue(7).service_level(20_000), None);
    }
}
