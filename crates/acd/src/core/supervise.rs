//! A supervisor moving a waiting contact (`Input::Requeue`): to another queue
//! of its tenant, or to another priority in its own.

use super::{Acd, Stage, Timer};
use crate::ContactSpec;

impl Acd {
    /// The contact leaves the line without an outcome and arrives again as
    /// `spec` says, its place counted from `spec.arrived`. Left alone
    /// (`Event::Ignored`) when it is not waiting, when the queue is not one
    /// of its tenant's, or when nobody at all can serve that queue (a move
    /// must not turn into a refusal that ends the contact).
    pub(super) fn move_waiting(&mut self, spec: &ContactSpec) {
        let id = spec.contact;
        let Some(c) = self.contacts.get(&id) else {
            self.ignored("unknown contact");
            return;
        };
        if !matches!(c.stage, Stage::Waiting(_)) {
            self.ignored("only a waiting contact can be moved");
            return;
        }
        let tenant = c.tenant;
        let Some(queue) = self
            .queue_ref(spec.queue)
            .filter(|_| self.queue_tenant.get(&spec.queue) == Some(&tenant))
        else {
            self.ignored("no such queue in the contact's tenant");
            return;
        };
        // The queue's plain requirement for this media, when known: someone
        // must be configured for it (else arrival would refuse the contact).
        let probe = queue.probes[spec.media.index()];
        if probe.is_some_and(|g| self.groups[g].configured.values().all(|n| *n == 0)) {
            self.ignored("nobody can serve that queue");
            return;
        }
        self.leave_line(id);
        // Its old queue's overflow and preference timers end with it.
        self.timers.retain(|(_, _, timer)| {
            !matches!(timer, Timer::Overflow(c, _) | Timer::Preference(c) if *c == id)
        });
        if let Some(c) = self.contacts.remove(&id)
            && let Some(center) = c.center
            && let Some(center) = self.center_mut(c.tenant, center)
        {
            center.load = center.load.saturating_sub(1);
        }
        self.arrive(spec);
    }
}
