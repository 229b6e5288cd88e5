//! Pools of the tenant's numbers lent one at a time: caller ids and routing
//! points.
//!
//! The pseudo-ANI pool: each live outbound call presents a caller id no other
//! live call of its tenant presents, so the call center's CRM can tell which
//! web session is on the line by the number it sees (the documents' gateway
//! port / pseudo-ANI). A released id rests as long as possible before reuse
//! (least recently released first), so a lookup shortly after a call still
//! finds that call's session rather than a newer one. Routing points (numbers
//! a visitor calls from their own phone) are lent the same way, one visitor
//! per number at a time.

use std::collections::{HashMap, HashSet};

use crate::ids::TenantId;

#[derive(Debug, Default)]
pub struct NumberPool {
    in_use: HashMap<TenantId, HashSet<String>>,
    /// When each id was last released, by a counter (no clock needed).
    released: HashMap<(TenantId, String), u64>,
    releases: u64,
}

impl NumberPool {
    /// A free id from the tenant's `pool`, now in use; `None` when every id
    /// is on a live call.
    pub fn take(&mut self, tenant: TenantId, pool: &[String]) -> Option<String> {
        let used = self.in_use.entry(tenant).or_default();
        let id = pool
            .iter()
            .filter(|id| !used.contains(id.as_str()))
            .min_by_key(|id| {
                self.released
                    .get(&(tenant, (*id).clone()))
                    .copied()
                    .unwrap_or(0)
            })?
            .clone();
        used.insert(id.clone());
        Some(id)
    }

    pub fn release(&mut self, tenant: TenantId, id: &str) {
        let Some(used) = self.in_use.get_mut(&tenant) else {
            return;
        };
        if used.remove(id) {
            self.releases += 1;
            self.released.insert((tenant, id.to_owned()), self.releases);
        }
        if used.is_empty() {
            self.in_use.remove(&tenant);
        }
    }

    /// Ids in use for a tenant (live view, tests).
    pub fn in_use(&self, tenant: TenantId) -> usize {
        self.in_use.get(&tenant).map_or(0, HashSet::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Vec<String> {
        vec!["+15125550900".into(), "+15125550901".into()]
    }

    #[test]
    fn live_calls_never_share_an_id() {
        let mut ids = NumberPool::default();
        let t = TenantId(1);
        let a = ids.take(t, &pool()).unwrap();
        let b = ids.take(t, &pool()).unwrap();
        assert_ne!(a, b);
        assert_eq!(ids.take(t, &pool()), None, "pool exhausted");
        // Another tenant's pool is its own.
        assert!(ids.take(TenantId(2), &pool()).is_some());
        ids.release(t, &a);
        assert_eq!(ids.take(t, &pool()), Some(a));
    }

    #[test]
    fn the_longest_rested_id_is_reused_first() {
        let mut ids = NumberPool::default();
        let t = TenantId(1);
        let a = ids.take(t, &pool()).unwrap();
        let b = ids.take(t, &pool()).unwrap();
        ids.release(t, &b);
        ids.release(t, &a);
        assert_eq!(ids.take(t, &pool()), Some(b), "b was released first");
        assert_eq!(ids.in_use(t), 1);
    }
}
