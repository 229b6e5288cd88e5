//! What the desk knows of each tenant's setup, owned in one place: the tenant's
//! settings row, its queues (names and owner), its classes of service, the
//! routing setup the core last received and each agent's skills and capacity.
//! Filled when a tenant loads (`DeskState::load_tenant`) and refreshed by each
//! visitor hello; read by routing, transfers and the supervisor's view.

use std::{collections::HashMap, sync::Arc};

use crate::{
    ids::{LinkId, QueueId, TenantId, UserId},
    store::{ContextShare, Link, StoredQueue, Tenant, TenantCalls},
};

#[derive(Default)]
pub(super) struct Tenants {
    /// Each tenant as last read (wrap-up codes, identity settings, call limits).
    rows: HashMap<TenantId, Arc<Tenant>>,
    /// Each queue's tenant and name.
    queues: HashMap<QueueId, (TenantId, String)>,
    /// Each tenant's classes of service by name, with their priority boost, to
    /// pick a visitor's class from their verified entitlements.
    classes: HashMap<TenantId, Vec<(String, i32)>>,
    /// The setup each tenant's routing last received.
    setups: HashMap<TenantId, acd::TenantSetup>,
    /// Each agent's skills and capacity as last defined, to find a queue an
    /// agent can serve (transfers by name).
    agent_specs: HashMap<UserId, acd::AgentSpec>,
    /// Each link as last read at a visitor's hello, shared by the records of
    /// the visitors on it rather than copied into each.
    links: HashMap<LinkId, Arc<Link>>,
    /// Each tenant's call limits and page-context sharing as last read at a
    /// visitor's hello, shared likewise.
    visitor_settings: HashMap<TenantId, (Arc<TenantCalls>, Arc<ContextShare>)>,
}

impl Tenants {
    pub(super) fn row(&self, tenant: TenantId) -> Option<Arc<Tenant>> {
        self.rows.get(&tenant).cloned()
    }

    /// Keeps the newest read of a tenant's settings.
    pub(super) fn keep_row(&mut self, tenant: Tenant) {
        self.rows.insert(tenant.id, Arc::new(tenant));
    }

    /// The link as read at a visitor's hello, as one shared copy: the one
    /// kept if it is the same, else this one, kept for the next visitors.
    /// Records already holding an older copy keep it (as they kept their own).
    pub(super) fn shared_link(&mut self, link: Link) -> Arc<Link> {
        match self.links.get(&link.id) {
            Some(kept) if **kept == link => Arc::clone(kept),
            _ => {
                let link = Arc::new(link);
                self.links.insert(link.id, Arc::clone(&link));
                link
            }
        }
    }

    /// A tenant's call limits and page-context sharing as read at a visitor's
    /// hello, as shared copies (each kept one if the same, else the new one).
    pub(super) fn shared_settings(
        &mut self,
        tenant: &Tenant,
    ) -> (Arc<TenantCalls>, Arc<ContextShare>) {
        let kept = self.visitor_settings.entry(tenant.id).or_insert_with(|| {
            (
                Arc::new(tenant.calls.clone()),
                Arc::new(tenant.share.clone()),
            )
        });
        if *kept.0 != tenant.calls {
            kept.0 = Arc::new(tenant.calls.clone());
        }
        if *kept.1 != tenant.share {
            kept.1 = Arc::new(tenant.share.clone());
        }
        (Arc::clone(&kept.0), Arc::clone(&kept.1))
    }

    /// Learns a tenant's queues and classes of service as loaded.
    pub(super) fn learn(
        &mut self,
        tenant: TenantId,
        queues: &[StoredQueue],
        classes: impl IntoIterator<Item = (String, i32)>,
    ) {
        for q in queues {
            self.queues.insert(q.id, (tenant, q.name.clone()));
        }
        self.classes.insert(tenant, classes.into_iter().collect());
    }

    /// Whether `setup` differs from what the core last received for the
    /// tenant (reconfiguring walks every contact of the tenant).
    pub(super) fn setup_changed(&self, tenant: TenantId, setup: &acd::TenantSetup) -> bool {
        self.setups.get(&tenant) != Some(setup)
    }

    pub(super) fn keep_setup(&mut self, tenant: TenantId, setup: acd::TenantSetup) {
        self.setups.insert(tenant, setup);
    }

    pub(super) fn keep_agent(&mut self, spec: acd::AgentSpec) {
        self.agent_specs.insert(UserId(spec.agent.0), spec);
    }

    pub(super) fn tenant_of_queue(&self, queue: QueueId) -> Option<TenantId> {
        self.queues.get(&queue).map(|(tenant, _)| *tenant)
    }

    pub(super) fn queue_name(&self, queue: QueueId) -> Option<&str> {
        self.queues.get(&queue).map(|(_, name)| name.as_str())
    }

    /// A tenant's queues with their names.
    pub(super) fn queues_of(&self, tenant: TenantId) -> impl Iterator<Item = (QueueId, &str)> {
        self.queues
            .iter()
            .filter(move |(_, (t, _))| *t == tenant)
            .map(|(id, (_, name))| (*id, name.as_str()))
    }

    pub(super) fn queue_named(&self, tenant: TenantId, name: &str) -> Option<QueueId> {
        self.queues_of(tenant)
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id)
    }

    /// The class of service among a verified visitor's entitlements that the
    /// tenant knows, the one with the highest boost.
    pub(super) fn class_of(&self, tenant: TenantId, entitlements: &[String]) -> Option<String> {
        self.classes
            .get(&tenant)?
            .iter()
            .filter(|(name, _)| entitlements.contains(name))
            .max_by_key(|(_, boost)| *boost)
            .map(|(name, _)| name.clone())
    }

    pub(super) fn agent_spec(&self, agent: UserId) -> Option<&acd::AgentSpec> {
        self.agent_specs.get(&agent)
    }

    pub(super) fn setup(&self, tenant: TenantId) -> Option<&acd::TenantSetup> {
        self.setups.get(&tenant)
    }

    /// The calendars of the centers serving `queue` (none: always open),
    /// built once for a run of checks such as a callback's slots.
    pub(super) fn queue_calendars(&self, tenant: TenantId, queue: QueueId) -> Vec<acd::Calendar> {
        let Some(setup) = self.setups.get(&tenant) else {
            return Vec::new();
        };
        let Some(spec) = setup.queues.iter().find(|q| q.queue.0 == queue.0) else {
            return Vec::new();
        };
        setup
            .centers
            .iter()
            .filter(|c| spec.centers.is_empty() || spec.centers.contains(&c.center))
            .filter_map(acd::Calendar::of)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitors_share_a_link_until_it_changes() {
        let mut tenants = Tenants::default();
        let link = Link {
            id: LinkId(7),
            tenant: TenantId(1),
            slug: "support".to_owned(),
            name: "Support".to_owned(),
            queue: QueueId(3),
            queue_name: "general".to_owned(),
            calls: crate::store::LinkCalls::default(),
        };
        let first = tenants.shared_link(link.clone());
        let second = tenants.shared_link(link.clone());
        assert!(Arc::ptr_eq(&first, &second));
        let renamed = Link {
            name: "Help".to_owned(),
            ..link
        };
        let third = tenants.shared_link(renamed.clone());
        assert_eq!(*third, renamed);
        assert_eq!(first.name, "Support");
        assert!(Arc::ptr_eq(&third, &tenants.shared_link(renamed)));
    }

    #[test]
    fn the_class_with_the_highest_boost_among_the_entitlements_wins() {
        let mut tenants = Tenants::default();
        let t = TenantId(1);
        tenants.learn(t, &[], [("silver".to_owned(), 1), ("gold".to_owned(), 3)]);
        let held = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            tenants.class_of(t, &held(&["silver", "gold"])),
            Some("gold".to_owned())
        );
        assert_eq!(
            tenants.class_of(t, &held(&["silver"])),
            Some("silver".to_owned())
        );
        assert_eq!(tenants.class_of(t, &held(&["platinum"])), None);
        assert_eq!(tenants.class_of(TenantId(2), &held(&["gold"])), None);
    }
}
