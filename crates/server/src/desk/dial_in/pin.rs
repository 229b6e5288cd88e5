//! A lent number's PIN (issue 13): when the tenant sets
//! `phone.routing_point_pin`, the visitor is shown a short PIN with the lent
//! number, and a call to it from another caller id (or none) is not refused
//! at once. It is answered on a screened leg of the contact's media call
//! (bridged to nobody: the caller hears two beeps and nothing of the agent,
//! the agent nothing of the caller) and connects to the reserved agent once
//! the digits keyed (RFC 4733) are the PIN. A wrong PIN, or none keyed within
//! `PIN_WAIT`, uses up one of the lent number's `PIN_TRIES`; when they are
//! gone the caller is hung up and further strangers get 403, while the
//! number stays lent and the visitor's own caller id still connects. One
//! caller is screened at a time per number (another gets 486). Keyed digits
//! are never logged.

use std::{net::SocketAddr, time::Duration};

use media::LegId;
use rand::Rng;
use tokio::time::Instant;

use crate::desk::{
    DeskState,
    phone_leg::{PhoneLeg, rtp_peer},
};
use crate::{
    ids::{ContactId, TenantId},
    store::{ContactWrite, PhoneRecord},
};

/// Wrong PINs (or calls that keyed none in time) a lent number takes in all.
pub(in crate::desk) const PIN_TRIES: u8 = 3;

/// How long a screened caller has to key the PIN after the answer.
pub(in crate::desk) const PIN_WAIT: Duration = Duration::from_secs(15);

/// A caller being asked for the PIN of a lent number.
pub(in crate::desk) struct Screening {
    pub(in crate::desk) call: sip::SipCallId,
    pub(in crate::desk) leg: LegId,
    local: SocketAddr,
    record: PhoneRecord,
    media: sip::RemoteMedia,
    keyed: String,
    until: Instant,
}

/// What one more keyed digit comes to.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::desk) enum Keyed {
    /// Not as many digits as the PIN has yet.
    Partial,
    Right,
    /// As many digits as the PIN, not it (the digits are forgotten).
    Wrong,
}

/// Adds `digit` to what was keyed so far; `*` or `#` starts again.
pub(in crate::desk) fn press(keyed: &mut String, digit: char, pin: &str) -> Keyed {
    if !digit.is_ascii_digit() {
        keyed.clear();
        return Keyed::Partial;
    }
    keyed.push(digit);
    if keyed.len() < pin.len() {
        return Keyed::Partial;
    }
    // Compared without an early exit: no timing tells a digit right.
    let differ = keyed
        .bytes()
        .zip(pin.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    keyed.clear();
    if differ == 0 {
        Keyed::Right
    } else {
        Keyed::Wrong
    }
}

/// A PIN of `digits` decimal digits from the thread's CSPRNG (the one
/// `auth::random_token` uses).
pub(in crate::desk) fn new_pin(digits: usize) -> String {
    let mut rng = rand::rng();
    (0..digits)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

impl DeskState {
    /// A stranger called the routing point `number` lent for `contact`:
    /// answer them on a screened leg and wait for the PIN.
    pub(in crate::desk) async fn ask_pin(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        incoming: sip::IncomingCall,
    ) {
        let call = incoming.call;
        let Some(handle) = self.contacts.call(contact).map(|c| c.handle.clone()) else {
            self.phone.reject(call, 404);
            return;
        };
        let (leg, local) = match handle.add_rtp_screened().await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "opening an RTP leg failed");
                self.phone.reject(call, 503);
                return;
            }
        };
        let key = (tenant, incoming.to.clone());
        let Some(reservation) = self.phone.reserved.get_mut(&key) else {
            tokio::spawn(async move { handle.remove_leg(leg).await });
            self.phone.reject(call, 404);
            return;
        };
        let record = PhoneRecord {
            sip_code: Some(200),
            answered_at: Some(crate::desk::now().0),
            ..PhoneRecord::inbound(
                incoming.trunk,
                incoming.from,
                incoming.to,
                incoming.sip_call_id,
            )
        };
        let peer = rtp_peer(&incoming.media);
        reservation.screening = Some(Screening {
            call,
            leg,
            local,
            record,
            media: incoming.media,
            keyed: String::new(),
            until: Instant::now() + PIN_WAIT,
        });
        metrics::counter!("switchboard_routing_points_pin_total", "result" => "asked").increment(1);
        tracing::info!(
            contact = contact.0,
            "a lent number was called from another caller id; asking for the PIN"
        );
        self.phone.answer_with(call, local, handle, leg, peer);
    }

    /// A digit on a screened leg: true when it was one (then it is taken
    /// here, never logged).
    pub(in crate::desk) fn pin_digit(
        &mut self,
        contact: ContactId,
        leg: LegId,
        digit: char,
    ) -> bool {
        let Some(key) = self
            .phone
            .reserved
            .iter()
            .find(|(_, r)| {
                r.contact == contact && r.screening.as_ref().is_some_and(|s| s.leg == leg)
            })
            .map(|(key, _)| key.clone())
        else {
            return false;
        };
        let Some(reservation) = self.phone.reserved.get_mut(&key) else {
            return true;
        };
        let (Some(pin), Some(screening)) = (&reservation.pin, reservation.screening.as_mut())
        else {
            return true;
        };
        match press(&mut screening.keyed, digit, pin) {
            Keyed::Partial => {}
            Keyed::Right => self.pin_right(key),
            Keyed::Wrong => {
                reservation.tries_left = reservation.tries_left.saturating_sub(1);
                let tries_left = reservation.tries_left;
                let spent = if tries_left == 0 {
                    reservation.screening.take()
                } else {
                    None
                };
                metrics::counter!("switchboard_routing_points_refused_total", "reason" => "pin")
                    .increment(1);
                tracing::info!(
                    contact = contact.0,
                    tries_left,
                    "a wrong PIN was keyed for a lent number"
                );
                if let Some(screening) = spent {
                    self.end_screening(contact, &screening);
                }
            }
        }
        true
    }

    /// The PIN was keyed: the screened caller is the contact's phone from
    /// now on, and the number goes back to the pool.
    fn pin_right(&mut self, key: (TenantId, String)) {
        let Some(reservation) = self.phone.reserved.remove(&key) else {
            return;
        };
        let (tenant, number) = key;
        self.phone.routing_points.release(tenant, &number);
        let contact = reservation.contact;
        let Some(screening) = reservation.screening else {
            return;
        };
        metrics::counter!("switchboard_routing_points_pin_total", "result" => "right").increment(1);
        let Some(live_call) = self.contacts.call_mut(contact) else {
            self.phone.hang_up(screening.call);
            return;
        };
        live_call.dial_in = None;
        let Screening {
            call,
            leg,
            local,
            record,
            media,
            ..
        } = screening;
        let mut phone = PhoneLeg::inbound(call, leg, local, record.clone(), media);
        // Answered already, to be asked for the PIN.
        phone.answered = true;
        live_call.phone = Some(Box::new(phone));
        let handle = live_call.handle.clone();
        self.phone.bind(call, contact);
        self.writer.write(ContactWrite::Phone {
            tenant,
            contact,
            record,
        });
        metrics::counter!("switchboard_phone_calls_total", "direction" => "routing_point")
            .increment(1);
        tracing::info!(contact = contact.0, "routing point called with the PIN");
        // The leg joins the bridge; its media flowing is reported then, and
        // the call connects as any phone leg does.
        tokio::spawn(async move {
            if let Err(e) = handle.admit(leg).await {
                tracing::warn!(error = %e, "admitting a caller who keyed the PIN failed");
            }
        });
    }

    /// Hangs up a screened caller and closes their leg.
    pub(in crate::desk) fn end_screening(&self, contact: ContactId, screening: &Screening) {
        self.phone.hang_up(screening.call);
        if let Some(handle) = self.contacts.call(contact).map(|c| c.handle.clone()) {
            let leg = screening.leg;
            tokio::spawn(async move { handle.remove_leg(leg).await });
        }
    }

    /// A screened caller hung up: true if `call` was one.
    pub(in crate::desk) fn screened_call_ended(&mut self, call: sip::SipCallId) -> bool {
        let Some(reservation) = self
            .phone
            .reserved
            .values_mut()
            .find(|r| r.screening.as_ref().is_some_and(|s| s.call == call))
        else {
            return false;
        };
        let contact = reservation.contact;
        if let Some(screening) = reservation.screening.take()
            && let Some(handle) = self.contacts.call(contact).map(|c| c.handle.clone())
        {
            tokio::spawn(async move { handle.remove_leg(screening.leg).await });
        }
        true
    }

    /// Screened callers who keyed no PIN in time are hung up, each using up
    /// a try (on the desk's one-second tick).
    pub(in crate::desk) fn expire_screenings(&mut self) {
        let now = Instant::now();
        let mut ended = Vec::new();
        for reservation in self.phone.reserved.values_mut() {
            if reservation
                .screening
                .as_ref()
                .is_some_and(|s| s.until <= now)
                && let Some(screening) = reservation.screening.take()
            {
                reservation.tries_left = reservation.tries_left.saturating_sub(1);
                ended.push((reservation.contact, screening));
            }
        }
        for (contact, screening) in ended {
            metrics::counter!("switchboard_routing_points_refused_total", "reason" => "pin_timeout")
                .increment(1);
            tracing::info!(contact = contact.0, "no PIN keyed in time; hung up");
            self.end_screening(contact, &screening);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Keyed, new_pin, press};

    #[test]
    fn keyed_digits_are_checked_once_there_are_as_many_as_the_pin() {
        let mut keyed = String::new();
        for d in "482".chars() {
            assert_eq!(press(&mut keyed, d, "4821"), Keyed::Partial);
        }
        assert_eq!(press(&mut keyed, '1', "4821"), Keyed::Right);
        assert!(keyed.is_empty());
        for d in "482".chars() {
            press(&mut keyed, d, "4821");
        }
        assert_eq!(press(&mut keyed, '2', "4821"), Keyed::Wrong);
        assert!(keyed.is_empty(), "a wrong PIN is forgotten");
        // * or # starts again: "48" then "*" then the whole PIN.
        press(&mut keyed, '4', "4821");
        press(&mut keyed, '8', "4821");
        assert_eq!(press(&mut keyed, '*', "4821"), Keyed::Partial);
        for d in "482".chars() {
            assert_eq!(press(&mut keyed, d, "4821"), Keyed::Partial);
        }
        assert_eq!(press(&mut keyed, '1', "4821"), Keyed::Right);
    }

    #[test]
    fn pins_are_decimal_of_the_asked_length_and_vary() {
        for digits in 4..=6 {
            let pin = new_pin(digits);
            assert_eq!(pin.len(), digits);
            assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
        }
        let pins: std::collections::HashSet<String> = (0..50).map(|_| new_pin(6)).collect();
        assert!(pins.len() > 40, "{pins:?}");
    }
}
