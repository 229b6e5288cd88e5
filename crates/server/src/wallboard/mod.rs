//! The supervisors' wallboard: per queue waiting, longest and estimated wait,
//! today's offered, answered and abandoned contacts and service level, agents
//! available and the queue's alert (amber/red at its `[queues.wallboard]`
//! limits); per agent activity, since when, and current contacts.
//!
//! One task follows the desk's stat events (`Desk::stat_events`) and folds
//! them into each tenant's day (`today.rs`); a tenant that a supervisor
//! watches is marked changed, and a second task rebuilds its board from the
//! desk's live view and publishes it on a `watch` channel. A `watch` keeps
//! only the latest board: a slow supervisor socket skips boards it had no
//! time for, and neither the desk nor the other sockets ever wait for it.
//! Rebuilds of a tenant are at most every `MIN_REBUILD`, and every
//! `WAIT_TICK` while someone waits (longest waits grow without events).

mod today;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, watch};

use crate::{
    desk::{Desk, LiveView},
    ids::TenantId,
    routing::{DEFAULT_CENTER, WallboardThresholds},
    store::{Store, now_ms},
};
use today::{Seen, Today};

/// Rebuilds of one tenant's board are at least this far apart (bursts coalesce).
const MIN_REBUILD: Duration = Duration::from_millis(100);
/// How often a board with contacts waiting is rebuilt without events.
const WAIT_TICK: Duration = Duration::from_secs(1);
/// How often a watched tenant's queues, centers and limits are read again.
const SETUP_EVERY: Duration = Duration::from_mins(1);
/// The most stored events read for the hours before the server started.
const HISTORY_LIMIT: i64 = 200_000;
/// The answer time the service level counts against when a queue sets none.
pub const DEFAULT_SERVICE_LEVEL_SECS: u64 = 20;

/// Cloneable handle to the wallboard's tasks.
#[derive(Clone)]
pub struct Wallboard {
    shared: Arc<Shared>,
}

struct Shared {
    store: Store,
    desk: Desk,
    state: Mutex<State>,
    changed: Notify,
    /// Events before this (Unix ms) are read from the store; after, followed live.
    started_at: i64,
}

#[derive(Default)]
struct State {
    days: HashMap<TenantId, Today>,
    boards: HashMap<TenantId, Board>,
}

/// A tenant someone watches.
struct Board {
    tx: watch::Sender<Arc<Snapshot>>,
    setup: Arc<Setup>,
    changed: bool,
    read_at: tokio::time::Instant,
    built_at: Option<tokio::time::Instant>,
}

/// What the board needs from the tenant's configuration.
#[derive(Default)]
struct Setup {
    centers: Vec<String>,
    queues: HashMap<i64, QueueSetup>,
    agents: HashMap<i64, AgentSetup>,
}

struct QueueSetup {
    name: String,
    centers: Vec<String>,
    skill: String,
    limits: WallboardThresholds,
}

struct AgentSetup {
    center: String,
    skills: Vec<String>,
}

/// One tenant's wallboard at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// When it was built, Unix ms.
    pub at: i64,
    pub centers: Vec<String>,
    pub queues: Vec<QueueBoard>,
    pub agents: Vec<AgentBoard>,
    /// Calls in progress (a supervisor may listen in).
    pub calls: Vec<crate::desk::LiveCallView>,
    /// Contacts waiting in line, longest waiting first (a supervisor may
    /// move them).
    pub waiting: Vec<crate::desk::LiveWaiting>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueBoard {
    pub queue: i64,
    pub name: String,
    /// The centers serving it (empty: all).
    pub centers: Vec<String>,
    pub waiting: u32,
    pub longest_wait_seconds: u64,
    pub estimated_wait_seconds: u64,
    pub open: bool,
    pub available_agents: u32,
    pub offered_today: u32,
    pub answered_today: u32,
    pub abandoned_today: u32,
    /// Answered within `service_level_secs` over answered plus abandoned,
    /// today, 0 to 1; `None` before any contact ended.
    pub service_level: Option<f64>,
    pub service_level_secs: u64,
    /// `ok`, `amber` or `red` by the queue's limits.
    pub alert: &'static str,
    pub limits: WallboardThresholds,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentBoard {
    pub name: String,
    pub display_name: String,
    pub center: String,
    /// Names of the queues whose skill the agent has.
    pub queues: Vec<String>,
    /// available, reserved, busy, wrap_up, not_ready, offline.
    pub activity: &'static str,
    pub reason: Option<String>,
    /// When the activity began, Unix ms (`None` if not seen today).
    pub since: Option<i64>,
    pub contacts: Vec<i64>,
    pub offered: Option<i64>,
}

/// What one supervisor's board shows: one center's and/or one queue's part.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub center: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
}

impl Snapshot {
    /// The part of the board a filter keeps. A center keeps the queues it
    /// serves and its agents; a queue keeps itself and the agents with its skill.
    #[must_use]
    pub fn filtered(&self, filter: &Filter) -> Snapshot {
        let queues = self
            .queues
            .iter()
            .filter(|q| {
                filter
                    .center
                    .as_ref()
                    .is_none_or(|c| q.centers.is_empty() || q.centers.contains(c))
                    && filter.queue.as_ref().is_none_or(|n| &q.name == n)
            })
            .cloned()
            .collect::<Vec<QueueBoard>>();
        let agents = self
            .agents
            .iter()
            .filter(|a| {
                filter.center.as_ref().is_none_or(|c| &a.center == c)
                    && filter.queue.as_ref().is_none_or(|n| a.queues.contains(n))
            })
            .cloned()
            .collect::<Vec<AgentBoard>>();
        let queues_shown: Vec<&str> = queues
            .iter()
            .map(|q: &QueueBoard| q.name.as_str())
            .collect();
        let filtered = filter.center.is_some() || filter.queue.is_some();
        let calls = self
            .calls
            .iter()
            .filter(|c| {
                !filtered
                    || c.agent
                        .as_ref()
                        .is_some_and(|name| agents.iter().any(|a| &a.display_name == name))
            })
            .cloned()
            .collect();
        let waiting = self
            .waiting
            .iter()
            .filter(|w| queues_shown.contains(&w.queue.as_str()))
            .cloned()
            .collect();
        Snapshot {
            at: self.at,
            centers: self.centers.clone(),
            queues,
            agents,
            calls,
            waiting,
        }
    }
}

/// `amber` or `red` when waiting or the longest wait reaches a limit.
fn alert(limits: &WallboardThresholds, waiting: u32, longest_secs: u64) -> &'static str {
    let reached = |count: Option<u32>, secs: Option<u64>| {
        count.is_some_and(|n| waiting >= n && waiting > 0)
            || secs.is_some_and(|s| longest_secs >= s && waiting > 0)
    };
    if reached(limits.red_waiting, limits.red_wait_secs) {
        "red"
    } else if reached(limits.amber_waiting, limits.amber_wait_secs) {
        "amber"
    } else {
        "ok"
    }
}

impl Wallboard {
    /// Starts following the desk. Call before connections are served.
    pub fn start(store: Store, desk: Desk) -> Self {
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            started_at: now_ms(),
            desk,
        });
        let events = shared.desk.stat_events();
        tokio::spawn(follow(Arc::downgrade(&shared), events));
        tokio::spawn(rebuild(Arc::downgrade(&shared)));
        Self { shared }
    }

    /// The tenant's board, kept current. The first watcher of a tenant reads
    /// its setup and the day so far from the store.
    pub async fn watch(
        &self,
        tenant: TenantId,
    ) -> Result<watch::Receiver<Arc<Snapshot>>, crate::store::StoreError> {
        let existing = self.lock().boards.get(&tenant).map(|b| b.tx.subscribe());
        if let Some(rx) = existing {
            return Ok(rx);
        }
        let setup = read_setup(&self.shared.store, tenant).await?;
        let started = self.shared.started_at;
        let history = self
            .shared
            .store
            .wallboard_stat_events(tenant, today::midnight(started), started, HISTORY_LIMIT)
            .await?;
        let mut state = self.lock();
        if let Some(board) = state.boards.get(&tenant) {
            return Ok(board.tx.subscribe()); // another watcher got here first
        }
        let day = state.days.entry(tenant).or_default();
        day.roll(now_ms());
        for e in &history {
            day.apply(&Seen {
                at: e.at,
                kind: &e.kind,
                contact: e.contact,
                agent: e.agent,
                queue: e.queue,
                detail: &e.detail,
            });
        }
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        state.boards.insert(
            tenant,
            Board {
                tx,
                setup: Arc::new(setup),
                changed: true,
                read_at: tokio::time::Instant::now(),
                built_at: None,
            },
        );
        drop(state);
        self.shared.changed.notify_one();
        Ok(rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared)
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock leaves counts, not invariants, behind.
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Folds every stat event into its tenant's day; marks watched boards changed.
async fn follow(
    shared: std::sync::Weak<Shared>,
    mut events: broadcast::Receiver<crate::store::StatEvent>,
) {
    loop {
        let next = events.recv().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match next {
            Ok(e) => {
                let mut state = lock(&shared);
                state.days.entry(e.tenant).or_default().apply(&Seen {
                    at: e.at,
                    kind: e.kind,
                    contact: e.contact,
                    agent: e.agent,
                    queue: e.queue,
                    detail: &e.detail,
                });
                if let Some(board) = state.boards.get_mut(&e.tenant) {
                    board.changed = true;
                    shared.changed.notify_one();
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                // Today's counts miss these; the live part is rebuilt anyway.
                metrics::counter!("switchboard_wallboard_events_missed_total").increment(n);
                tracing::warn!(missed = n, "wallboard fell behind the desk's events");
                let mut state = lock(&shared);
                for board in state.boards.values_mut() {
                    board.changed = true;
                }
                shared.changed.notify_one();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Rebuilds watched boards that changed (or have contacts waiting), at most
/// every `MIN_REBUILD` each.
async fn rebuild(shared: std::sync::Weak<Shared>) {
    loop {
        {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let _ = tokio::time::timeout(WAIT_TICK, shared.changed.notified()).await;
        }
        tokio::time::sleep(MIN_REBUILD).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = tokio::time::Instant::now();
        let due: Vec<(TenantId, bool)> = {
            let mut state = lock(&shared);
            state
                .boards
                .retain(|_, b| !b.tx.is_closed() || b.built_at.is_none());
            state
                .boards
                .iter_mut()
                .filter(|(_, b)| {
                    let waiting = b.tx.borrow().queues.iter().any(|q| q.waiting > 0);
                    let stale = b.built_at.is_none_or(|t| now - t >= WAIT_TICK);
                    b.changed || (waiting && stale)
                })
                .map(|(t, b)| {
                    b.changed = false;
                    (*t, now - b.read_at >= SETUP_EVERY)
                })
                .collect()
        };
        for (tenant, reread) in due {
            if reread {
                match read_setup(&shared.store, tenant).await {
                    Ok(setup) => {
                        if let Some(b) = lock(&shared).boards.get_mut(&tenant) {
                            b.setup = Arc::new(setup);
                            b.read_at = now;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the wallboard's setup failed"),
                }
            }
            let Ok(live) = shared.desk.live(tenant).await else {
                return; // the desk stopped: so does the server
            };
            let mut state = lock(&shared);
            let State { days, boards } = &mut *state;
            let Some(board) = boards.get_mut(&tenant) else {
                continue;
            };
            let day = days.entry(tenant).or_default();
            day.roll(now_ms());
            let snapshot = build(&live, &board.setup, day);
            board.built_at = Some(now);
            board.tx.send_replace(Arc::new(snapshot));
        }
    }
}

async fn read_setup(store: &Store, tenant: TenantId) -> Result<Setup, crate::store::StoreError> {
    let inputs = store.routing_inputs(tenant, None).await?;
    let skill_names: HashMap<acd::SkillId, String> = inputs
        .skills
        .iter()
        .map(|(name, id)| (*id, name.clone()))
        .collect();
    let mut centers: Vec<String> = inputs
        .routing
        .centers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    if centers.is_empty() {
        centers.push(DEFAULT_CENTER.to_owned());
    }
    let first_center = centers[0].clone();
    Ok(Setup {
        queues: inputs
            .queues
            .iter()
            .map(|q| {
                (
                    q.id.0,
                    QueueSetup {
                        name: q.name.clone(),
                        centers: q.routing.centers.clone(),
                        skill: q.skill.clone(),
                        limits: q.routing.wallboard.clone().unwrap_or_default(),
                    },
                )
            })
            .collect(),
        agents: inputs
            .agents
            .iter()
            .map(|a| {
                (
                    a.agent.0,
                    AgentSetup {
                        center: a.center.clone().unwrap_or_else(|| first_center.clone()),
                        skills: a
                            .skills
                            .iter()
                            .filter_map(|(id, _)| skill_names.get(id).cloned())
                            .collect(),
                    },
                )
            })
            .collect(),
        centers,
    })
}

fn build(live: &LiveView, setup: &Setup, day: &Today) -> Snapshot {
    let at = now_ms();
    let queues = live
        .queues
        .iter()
        .map(|q| {
            let s = setup.queues.get(&q.queue);
            let limits = s.map(|s| s.limits.clone()).unwrap_or_default();
            let target = limits
                .service_level_secs
                .unwrap_or(DEFAULT_SERVICE_LEVEL_SECS);
            let counts = day.queue(q.queue);
            QueueBoard {
                queue: q.queue,
                name: s.map_or_else(|| format!("queue {}", q.queue), |s| s.name.clone()),
                centers: s.map(|s| s.centers.clone()).unwrap_or_default(),
                waiting: q.waiting,
                longest_wait_seconds: q.longest_wait_seconds,
                estimated_wait_seconds: q.wait_seconds,
                open: q.open,
                available_agents: q.available_agents,
                offered_today: counts.offered,
                answered_today: counts.answered,
                abandoned_today: counts.abandoned,
                service_level: counts
                    .service_level(i64::try_from(target.saturating_mul(1000)).unwrap_or(i64::MAX)),
                service_level_secs: target,
                alert: alert(&limits, q.waiting, q.longest_wait_seconds),
                limits,
            }
        })
        .collect();
    let agents = live
        .agents
        .iter()
        // Staff who take no contacts (supervisors with a console open) are
        // not the center's agents.
        .filter(|a| {
            setup
                .agents
                .get(&a.id)
                .is_some_and(|s| !s.skills.is_empty())
        })
        .map(|a| {
            let s = setup.agents.get(&a.id);
            let skills = s.map(|s| s.skills.as_slice()).unwrap_or_default();
            AgentBoard {
                name: a.name.clone(),
                display_name: a.display_name.clone(),
                center: s.map_or_else(|| DEFAULT_CENTER.to_owned(), |s| s.center.clone()),
                queues: setup
                    .queues
                    .values()
                    .filter(|q| skills.contains(&q.skill))
                    .map(|q| q.name.clone())
                    .collect(),
                activity: a.activity,
                reason: a.reason.clone(),
                since: day
                    .agent(a.id)
                    .filter(|d| d.activity == a.activity)
                    .map(|d| d.since),
                contacts: a.contacts.clone(),
                offered: a.offered,
            }
        })
        .collect();
    Snapshot {
        at,
        centers: setup.centers.clone(),
        queues,
        agents,
        calls: live.calls.clone(),
        waiting: live.waiting.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_at_the_queue_limits() {
        let limits = WallboardThresholds {
            amber_waiting: Some(2),
            red_waiting: Some(4),
            amber_wait_secs: Some(30),
            red_wait_secs: Some(90),
            service_level_secs: None,
        };
        assert_eq!(alert(&limits, 0, 0), "ok");
        assert_eq!(alert(&limits, 1, 10), "ok");
        assert_eq!(alert(&limits, 2, 10), "amber");
        assert_eq!(alert(&limits, 1, 30), "amber");
        assert_eq!(alert(&limits, 4, 10), "red");
        assert_eq!(alert(&limits, 1, 95), "red");
        assert_eq!(alert(&WallboardThresholds::default(), 50, 900), "ok");
    }
}
