//! Presence: who is reachable now, per device, with last seen (002's
//! dynamic directory). Soft state: rebuilt from registrations and
//! heartbeats after a restart, never stored.
//!
//! [`Presence`] is the port a shared store implements for many nodes (a KV
//! bucket with TTL, DESIGN.md principle 8); its methods do not wait, so such
//! an implementation keeps a local view fed by the bucket's watch and writes
//! behind. [`MemoryPresence`] is the one-node implementation.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::ids::TenantId;
use crate::store::MemberId;

/// What a member shows, strongest first when devices disagree: a busy
/// device makes the member busy; else any online device, else away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Offline,
    Away,
    Online,
    Busy,
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "online" => Ok(Status::Online),
            "busy" => Ok(Status::Busy),
            "away" => Ok(Status::Away),
            "offline" => Ok(Status::Offline),
            other => Err(format!(
                "unknown status {other:?} (expected online, busy, away or offline)"
            )),
        }
    }
}

/// A member's presence as the directory shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PresenceState {
    pub status: Status,
    /// Unix milliseconds the member was last seen on any device; `None` never.
    pub last_seen: Option<i64>,
    pub devices: usize,
}

impl PresenceState {
    const UNKNOWN: PresenceState = PresenceState {
        status: Status::Offline,
        last_seen: None,
        devices: 0,
    };
}

/// One member's presence changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PresenceChange {
    #[serde(skip)]
    pub tenant: TenantId,
    pub member: MemberId,
    #[serde(flatten)]
    pub state: PresenceState,
}

/// The presence port.
pub trait Presence: Send + Sync {
    /// `device` of `member` is in `status` (`Offline` removes the device).
    /// With `expires_at` (Unix ms) the device goes offline then unless set
    /// again before: a heartbeat.
    fn set(
        &self,
        tenant: TenantId,
        member: MemberId,
        device: &str,
        status: Status,
        now: i64,
        expires_at: Option<i64>,
    );
    fn get(&self, tenant: TenantId, member: MemberId) -> PresenceState;
    /// Changes of one tenant's members from now on.
    fn watch(&self, tenant: TenantId) -> PresenceWatch;
    /// Drops devices whose heartbeat has lapsed.
    fn expire(&self, now: i64);
}

/// A subscription to one tenant's presence changes.
pub struct PresenceWatch {
    tenant: TenantId,
    rx: broadcast::Receiver<PresenceChange>,
}

impl PresenceWatch {
    /// The next change of the tenant's members; `None` when presence is gone.
    /// A watcher that fell behind skips what it missed (it may reload the list).
    pub async fn next(&mut self) -> Option<PresenceChange> {
        loop {
            match self.rx.recv().await {
                Ok(change) if change.tenant == self.tenant => return Some(change),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Devices one member may show at once; more replace the oldest.
const MAX_DEVICES: usize = 16;
/// Changes a slow watcher may fall behind by.
const WATCH_BUFFER: usize = 1024;

struct Device {
    name: String,
    status: Status,
    expires_at: Option<i64>,
}

#[derive(Default)]
struct Entry {
    devices: Vec<Device>,
    last_seen: Option<i64>,
}

impl Entry {
    fn state(&self) -> PresenceState {
        PresenceState {
            status: self
                .devices
                .iter()
                .map(|d| d.status)
                .max()
                .unwrap_or(Status::Offline),
            last_seen: self.last_seen,
            devices: self.devices.len(),
        }
    }
}

/// Presence in this process's memory.
pub struct MemoryPresence {
    members: Mutex<HashMap<(TenantId, MemberId), Entry>>,
    changes: broadcast::Sender<PresenceChange>,
}

impl Default for MemoryPresence {
    fn default() -> Self {
        MemoryPresence {
            members: Mutex::new(HashMap::new()),
            changes: broadcast::channel(WATCH_BUFFER).0,
        }
    }
}

impl MemoryPresence {
    fn publish(
        &self,
        tenant: TenantId,
        member: MemberId,
        before: PresenceState,
        after: PresenceState,
    ) {
        if before.status != after.status || before.devices != after.devices {
            // No watcher is no error.
            let _ = self.changes.send(PresenceChange {
                tenant,
                member,
                state: after,
            });
        }
    }
}

impl Presence for MemoryPresence {
    fn set(
        &self,
        tenant: TenantId,
        member: MemberId,
        device: &str,
        status: Status,
        now: i64,
        expires_at: Option<i64>,
    ) {
        let Ok(mut members) = self.members.lock() else {
            return;
        };
        let entry = members.entry((tenant, member)).or_default();
        let before = entry.state();
        entry.devices.retain(|d| d.name != device);
        if status != Status::Offline {
            if entry.devices.len() >= MAX_DEVICES {
                entry.devices.remove(0);
            }
            entry.devices.push(Device {
                name: device.to_owned(),
                status,
                expires_at,
            });
        }
        // Seen now: signing off is the last moment they were there.
        entry.last_seen = Some(now);
        let after = entry.state();
        drop(members);
        self.publish(tenant, member, before, after);
    }

    fn get(&self, tenant: TenantId, member: MemberId) -> PresenceState {
        self.members
            .lock()
            .ok()
            .and_then(|m| m.get(&(tenant, member)).map(Entry::state))
            .unwrap_or(PresenceState::UNKNOWN)
    }

    fn watch(&self, tenant: TenantId) -> PresenceWatch {
        PresenceWatch {
            tenant,
            rx: self.changes.subscribe(),
        }
    }

    fn expire(&self, now: i64) {
        let mut changed = Vec::new();
        if let Ok(mut members) = self.members.lock() {
            for (&(tenant, member), entry) in members.iter_mut() {
                let lapsed: Vec<i64> = entry
                    .devices
                    .iter()
                    .filter_map(|d| d.expires_at.filter(|&at| at <= now))
                    .collect();
                if lapsed.is_empty() {
                    continue;
                }
                let before = entry.state();
                entry
                    .devices
                    .retain(|d| d.expires_at.is_none_or(|at| at > now));
                // Last seen at the last heartbeat's end, not at this sweep.
                entry.last_seen = lapsed.into_iter().max().or(entry.last_seen);
                changed.push((tenant, member, before, entry.state()));
            }
        }
        for (tenant, member, before, after) in changed {
            self.publish(tenant, member, before, after);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TenantId = TenantId(1);
    const M: MemberId = MemberId(5);

    #[tokio::test]
    async fn devices_merge_into_one_mark_and_watchers_see_changes() {
        let p = MemoryPresence::default();
        let mut watch = p.watch(T);
        let mut other_tenant = p.watch(TenantId(2));
        assert_eq!(p.get(T, M), PresenceState::UNKNOWN);
        p.set(T, M, "sip", Status::Online, 1_000, None);
        p.set(T, M, "console", Status::Busy, 2_000, Some(10_000));
        assert_eq!(p.get(T, M).status, Status::Busy);
        assert_eq!(watch.next().await.unwrap().state.status, Status::Online);
        assert_eq!(watch.next().await.unwrap().state.status, Status::Busy);
        // The console's heartbeat lapses: online by SIP still.
        p.expire(10_000);
        assert_eq!(p.get(T, M).status, Status::Online);
        assert_eq!(p.get(T, M).last_seen, Some(10_000));
        p.set(T, M, "sip", Status::Offline, 12_000, None);
        let last = watch.next().await.unwrap();
        let last = match last.state.status {
            Status::Online => watch.next().await.unwrap(),
            _ => last,
        };
        assert_eq!(
            last.state,
            PresenceState {
                status: Status::Offline,
                last_seen: Some(12_000),
                devices: 0
            }
        );
        // Another tenant's watcher saw none of it: it ends with presence.
        drop(p);
        assert!(other_tenant.next().await.is_none());
    }
}
