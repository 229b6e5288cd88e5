//! Routing points (the documents' 001: a reserved number as a semaphore). A
//! visitor on a `dial_in` link who prefers their own phone is lent one of the
//! tenant's `routing_points` numbers. Their contact queues like a voice call,
//! so an agent is reserved for them and sees the web session's screen pop;
//! a call to that number from a trunk within the hold time becomes the
//! contact's phone leg and connects to that agent. The number goes back to
//! the pool when the call arrives, when the contact ends, or when the hold
//! time passes without a call (then the contact ends as `expired`).

use tokio::time::Instant;

use super::{ConnId, DeskState, calls::LiveCall};
use crate::{
    ids::{ContactId, TenantId},
    protocol::{ErrorCode, FrameError, ToVisitor},
    store::{CallMedia, Sender},
};

/// A lent routing point: whose contact it connects to, until when.
pub(super) struct Reservation {
    pub(super) contact: ContactId,
    pub(super) until: Instant,
}

impl DeskState {
    /// The visitor asks for a number to call from their own phone.
    pub(super) async fn visitor_dial_in(&mut self, conn: ConnId) -> Result<(), FrameError> {
        let Some(v) = self.conns.visitor(conn) else {
            return Ok(());
        };
        let (tenant, link, settings) = (v.tenant, v.link.clone(), v.calls.clone());
        if !link.calls.dial_in {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                "calling from your own phone is not offered here",
            ));
        }
        let (Some(engine), Some(lines)) = (self.calls.engine(), self.phone.lines(tenant)) else {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "calls are not available right now; please chat with us",
            ));
        };
        let (pool, hold) = (
            lines.doc.routing_points.clone(),
            lines.doc.routing_point_hold(),
        );
        if !self.calls.has_room(tenant, settings.max_concurrent) {
            return Err(FrameError::new(
                ErrorCode::RateLimited,
                "all our lines are busy; please try again shortly or chat with us",
            ));
        }
        // A lent number is a call too: counted, so one client cannot hold
        // every routing point.
        self.call_attempt(conn)?;
        let number = self
            .phone
            .routing_points
            .take(tenant, &pool)
            .ok_or_else(|| {
                FrameError::new(
                    ErrorCode::RateLimited,
                    "all our numbers are in use; please try again shortly or chat with us",
                )
            })?;
        let (handle, tag) = self.calls.new_call(&engine);
        // Recorded like any call on the link; the widget said so in `welcome`.
        let mut call = LiveCall::new(
            CallMedia::Voice,
            handle.clone(),
            tag,
            &settings,
            link.calls.record,
        );
        call.dial_in = Some(number.clone());
        if let Err(e) = self.visitor_start(conn, None, None, Some(Box::new(call))) {
            handle.hangup().await;
            self.phone.routing_points.release(tenant, &number);
            return Err(e);
        }
        let Some(contact) = self.conns.visitor(conn).and_then(|v| v.contact) else {
            // Refused by routing (closed, nobody qualified): already told.
            self.phone.routing_points.release(tenant, &number);
            return Ok(());
        };
        self.phone.reserved.insert(
            (tenant, number.clone()),
            Reservation {
                contact,
                until: Instant::now() + hold,
            },
        );
        metrics::counter!("switchboard_routing_points_lent_total").increment(1);
        self.send_contact_visitors(
            contact,
            &ToVisitor::DialIn {
                number,
                expires_in_seconds: hold.as_secs(),
            },
        );
        Ok(())
    }

    /// The routing point `number` was called: the contact it was lent to, if
    /// still waiting. The number is free again either way.
    pub(super) fn claim_routing_point(
        &mut self,
        tenant: TenantId,
        number: &str,
    ) -> Option<ContactId> {
        let reservation = self.phone.reserved.remove(&(tenant, number.to_owned()))?;
        self.phone.routing_points.release(tenant, number);
        if let Some(call) = self.contacts.call_mut(reservation.contact) {
            call.dial_in = None;
        }
        Some(reservation.contact)
    }

    /// A contact that ends before its routing point was called gives the
    /// number back (called from `finish_call`).
    pub(super) fn return_routing_point(&mut self, tenant: TenantId, number: &str) {
        self.phone.reserved.remove(&(tenant, number.to_owned()));
        self.phone.routing_points.release(tenant, number);
    }

    /// Ends the contacts whose routing point was not called in time (on the
    /// desk's one-second tick).
    pub(super) fn expire_routing_points(&mut self) {
        let now = Instant::now();
        let expired: Vec<ContactId> = self
            .phone
            .reserved
            .values()
            .filter(|r| r.until <= now)
            .map(|r| r.contact)
            .collect();
        for contact in expired {
            metrics::counter!("switchboard_routing_points_expired_total").increment(1);
            self.finish_call(contact, "expired");
            self.end_contact(contact, Sender::System);
        }
    }
}
