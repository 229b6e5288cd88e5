//! Routing points (the documents' 001: a reserved number as a semaphore). A
//! visitor on a `dial_in` link who prefers their own phone is lent one of the
//! tenant's `routing_points` numbers. Their contact queues like a voice call,
//! so an agent is reserved for them and sees the web session's screen pop;
//! a call to that number from a trunk within the hold time becomes the
//! contact's phone leg and connects to that agent. The number goes back to
//! the pool when the call arrives, when the contact ends, or when the hold
//! time passes without a call (then the contact ends as `expired`).
//!
//! `pin.rs` lets a caller from another caller id in with the PIN the visitor
//! was shown, when the tenant sets `phone.routing_point_pin`.

mod pin;

use tokio::time::Instant;

use self::pin::{PIN_TRIES, Screening, new_pin};

use super::{ConnId, DeskState, calls::LiveCall};
use crate::{
    ids::{ContactId, TenantId},
    protocol::{self, ErrorCode, FrameError, ToVisitor},
    store::{CallMedia, Sender},
};

/// A lent routing point: whose contact it connects to, until when, and who
/// may call it: anyone (when the tenant allows it), the caller id the visitor
/// gave, or a caller keying the PIN the visitor was shown (`pin.rs`).
pub(super) struct Reservation {
    pub(super) contact: ContactId,
    pub(super) until: Instant,
    pub(super) any_caller: bool,
    pub(super) caller: Option<String>,
    pub(super) pin: Option<String>,
    /// Wrong PINs still taken before strangers are refused outright.
    pub(super) tries_left: u8,
    /// The stranger being asked for the PIN now, if any.
    pub(super) screening: Option<Screening>,
}

/// A call to a routing point from a caller id other than the visitor's.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ForeignCaller {
    /// Refused with this SIP status.
    Refused(u16),
    /// To be answered and asked for the PIN (the contact's).
    AskPin(ContactId),
}

/// Whether caller id `from` is the number the visitor gave: the same digits,
/// or one ending with the other (a carrier may send the national form,
/// without the country code), with at least 7 digits either way.
fn same_caller(from: &str, given: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(from), digits(given));
    a.len() >= 7 && b.len() >= 7 && (a.ends_with(&b) || b.ends_with(&a))
}

impl DeskState {
    /// The visitor asks for a number to call from their own phone.
    pub(super) async fn visitor_dial_in(
        &mut self,
        conn: ConnId,
        phone: Option<&str>,
    ) -> Result<(), FrameError> {
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
        let (pool, hold, any_caller, pin_digits) = (
            lines.doc.routing_points.clone(),
            lines.doc.routing_point_hold(),
            lines.doc.routing_point_any_caller,
            lines.doc.routing_point_pin(),
        );
        let caller = phone.map(protocol::phone_number).transpose()?;
        // With a PIN the visitor may call from a number they do not know
        // (a withheld caller id, a switchboard's).
        if caller.is_none() && !any_caller && pin_digits.is_none() {
            return Err(FrameError::new(
                ErrorCode::Invalid,
                "give the number of the phone you will call from",
            ));
        }
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
        let pin = pin_digits.filter(|_| !any_caller).map(new_pin);
        self.phone.reserved.insert(
            (tenant, number.clone()),
            Reservation {
                contact,
                until: Instant::now() + hold,
                any_caller,
                caller,
                pin: pin.clone(),
                tries_left: PIN_TRIES,
                screening: None,
            },
        );
        metrics::counter!("switchboard_routing_points_lent_total").increment(1);
        self.send_contact_visitors(
            contact,
            &ToVisitor::DialIn {
                number,
                expires_in_seconds: hold.as_secs(),
                pin,
            },
        );
        Ok(())
    }

    /// The routing point `number` was called from `from`: the contact it was
    /// lent to, if still waiting (the number is free again), or
    /// `ForeignCaller` when the caller id is not the visitor's (the number
    /// stays lent to them): refused, or asked for the PIN.
    pub(super) fn claim_routing_point(
        &mut self,
        tenant: TenantId,
        number: &str,
        from: &str,
    ) -> Result<Option<ContactId>, ForeignCaller> {
        let key = (tenant, number.to_owned());
        let Some(reservation) = self.phone.reserved.get(&key) else {
            return Ok(None);
        };
        let known = reservation.any_caller
            || reservation
                .caller
                .as_deref()
                .is_some_and(|given| same_caller(from, given));
        if !known {
            let contact = reservation.contact;
            let (reason, refused) = match (&reservation.pin, &reservation.screening) {
                (None, _) => ("caller_id", ForeignCaller::Refused(403)),
                (Some(_), _) if reservation.tries_left == 0 => {
                    ("pin_tries", ForeignCaller::Refused(403))
                }
                // One stranger keys at a time.
                (Some(_), Some(_)) => ("pin_busy", ForeignCaller::Refused(486)),
                (Some(_), None) => return Err(ForeignCaller::AskPin(contact)),
            };
            metrics::counter!("switchboard_routing_points_refused_total", "reason" => reason)
                .increment(1);
            tracing::info!(
                contact = contact.0,
                reason,
                "a lent number was called from another caller id; refused"
            );
            return Err(refused);
        }
        let Some(mut reservation) = self.phone.reserved.remove(&key) else {
            return Ok(None);
        };
        // The visitor's own call wins over a stranger still keying.
        if let Some(screening) = reservation.screening.take() {
            self.end_screening(reservation.contact, &screening);
        }
        self.phone.routing_points.release(tenant, number);
        if let Some(call) = self.contacts.call_mut(reservation.contact) {
            call.dial_in = None;
        }
        Ok(Some(reservation.contact))
    }

    /// A contact that ends before its routing point was called gives the
    /// number back (called from `finish_call`).
    pub(super) fn return_routing_point(&mut self, tenant: TenantId, number: &str) {
        if let Some(r) = self.phone.reserved.remove(&(tenant, number.to_owned()))
            && let Some(screening) = r.screening
        {
            self.end_screening(r.contact, &screening);
        }
        self.phone.routing_points.release(tenant, number);
    }

    /// Ends the contacts whose routing point was not called in time (on the
    /// desk's one-second tick).
    pub(super) fn expire_routing_points(&mut self) {
        self.expire_screenings();
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

#[cfg(test)]
mod tests {
    use super::same_caller;

    #[test]
    fn the_visitors_number_in_any_carrier_form_is_the_same_caller() {
        assert!(same_caller("+15125557001", "+15125557001"));
        assert!(same_caller("15125557001", "+1 512 555 7001"));
        assert!(same_caller("5125557001", "+15125557001"));
        assert!(!same_caller("+15125557002", "+15125557001"));
        assert!(!same_caller("+15125557777", "+15125557001"));
        // Too few digits to tell anyone apart.
        assert!(!same_caller("7001", "+15125557001"));
        assert!(!same_caller("", "+15125557001"));
        assert!(!same_caller("anonymous", "+15125557001"));
    }
}
