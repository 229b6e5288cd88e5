//! Calls over SIP trunks (the documents' PSTN gateway, Figs 7-13).
//!
//! * **Browser to a call center's phone** (`route_calls_to = "phone"`): the
//!   visitor's call does not queue for agents. A center is chosen by the
//!   routing rules (open, below capacity, region, load per weight), a caller
//!   id is taken from the tenant's pool so this call is the only live one
//!   presenting it, the destination is checked against the tenant's allowed
//!   prefixes, and the trunk is dialled with an RTP leg of the media call as
//!   the "agent". The center's CRM can then ask `/api/v1/calls/lookup` by
//!   that caller id. Digits the center keys are matched against the tenant's
//!   push codes.
//! * **A caller to one of the tenant's numbers** (DID): the RTP leg is the
//!   "visitor" and the contact queues for agents like a browser call; the
//!   caller hears ringing until an agent's media is up, then the call is
//!   answered. The caller id is matched against the CRM by phone number.
//!   How such a call starts (and a call to a lent routing point) is in
//!   `inbound.rs`; this file keeps the SIP side of every call.
//!
//! The SIP user agent is the `sip` crate's; nothing here parses SIP.

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use tokio::sync::{broadcast, mpsc};

use media::{LegId, LegRole, RtpPeer};

use super::{
    DeskState,
    phone_leg::{PhoneLeg, rtp_peer},
};
use crate::{
    ids::{ContactId, QueueId, TenantId},
    phone::{
        TenantPhone,
        centers::{PhoneCenter, choose, phone_centers},
        codes::{Heard, Keyed},
        pool::NumberPool,
    },
    protocol::{CallState, ErrorCode, FrameError, ToVisitor},
    store::{ContactWrite, Link, Outcome, PhoneDirection, PhoneRecord, Sender},
};

/// What one tenant's phone settings come to at run time.
pub(super) struct TenantLines {
    pub(super) doc: TenantPhone,
    centers: Vec<PhoneCenter>,
    /// Each queue's center names (empty: any center).
    queue_centers: HashMap<QueueId, Vec<String>>,
    links: HashMap<String, Link>,
}

/// The desk's side of the SIP user agent.
pub(super) struct PhoneBook {
    agent: Option<sip::SipAgent>,
    tenants: HashMap<TenantId, TenantLines>,
    by_sip: HashMap<sip::SipCallId, ContactId>,
    /// Inbound calls whose caller is being looked up in the customer records
    /// (off the desk's loop); one that hangs up meanwhile is dropped here.
    looking_up: HashSet<sip::SipCallId>,
    caller_ids: NumberPool,
    /// Routing points lent to visitors (`dial_in.rs`).
    pub(super) routing_points: NumberPool,
    pub(super) reserved: HashMap<(TenantId, String), super::dial_in::Reservation>,
    /// Live calls per (tenant, center name), for capacity and load.
    center_calls: HashMap<(TenantId, String), u32>,
    /// Keeps the event channel open when there is no SIP agent, so the desk's
    /// select loop does not see it close.
    _idle: Option<mpsc::Sender<sip::SipEvent>>,
    /// Push codes keyed, for the visitor's shared co-browse session
    /// (`cobrowse::Hub::follow_desk`), which the desk does not hold.
    pub(super) pushes: broadcast::Sender<PagePush>,
    /// Co-browse sessions a caller shared during a call no agent holds (a
    /// center's desk phone), for the hub to bind to the call's contact.
    pub(super) shares: broadcast::Sender<CobrowseShare>,
}

/// A visitor on a call no agent holds shared their page: the co-browse
/// session of `code` belongs to `contact` (docs/cobrowse.md).
#[derive(Debug, Clone)]
pub struct CobrowseShare {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub code: String,
}

/// A push code keyed on the phone side of a contact's call.
#[derive(Debug, Clone)]
pub struct PagePush {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub code: String,
    pub url: String,
}

/// Pushes a slow co-browse hub may lag before it skips ahead.
const PUSH_BACKLOG: usize = 64;

impl PhoneBook {
    /// The tenant's own numbers: its centers', its DIDs and caller ids.
    pub(super) fn own_numbers(&self, tenant: TenantId) -> impl Iterator<Item = &str> {
        self.tenants.get(&tenant).into_iter().flat_map(|lines| {
            lines
                .centers
                .iter()
                .map(|c| c.number.as_str())
                .chain(lines.doc.numbers.iter().map(|n| n.number.as_str()))
                .chain(lines.doc.caller_ids.iter().map(String::as_str))
        })
    }

    /// With no agent, returns the receiver of a channel nobody sends on.
    pub(super) fn new(
        agent: Option<(sip::SipAgent, mpsc::Receiver<sip::SipEvent>)>,
    ) -> (Self, mpsc::Receiver<sip::SipEvent>) {
        let (agent, events, idle) = if let Some((agent, events)) = agent {
            (Some(agent), events, None)
        } else {
            let (tx, rx) = mpsc::channel(1);
            (None, rx, Some(tx))
        };
        let book = Self {
            agent,
            tenants: HashMap::new(),
            by_sip: HashMap::new(),
            looking_up: HashSet::new(),
            caller_ids: NumberPool::default(),
            routing_points: NumberPool::default(),
            reserved: HashMap::new(),
            center_calls: HashMap::new(),
            _idle: idle,
            pushes: broadcast::channel(PUSH_BACKLOG).0,
            shares: broadcast::channel(PUSH_BACKLOG).0,
        };
        (book, events)
    }

    /// The link a dialled number of the tenant's reaches.
    pub(super) fn link_for_number(&self, tenant: TenantId, number: &str) -> Option<&Link> {
        let lines = self.tenants.get(&tenant)?;
        lines.links.get(lines.doc.link_for_number(number)?)
    }

    /// Refuses an incoming call with a SIP status, beside the desk.
    pub(super) fn reject(&self, call: sip::SipCallId, code: u16) {
        if let Some(agent) = self.agent.clone() {
            tokio::spawn(async move {
                let _ = agent.reject(call, code).await;
            });
        }
    }

    /// Tells an incoming call's caller it is ringing, beside the desk.
    pub(super) fn ringing(&self, call: sip::SipCallId) {
        if let Some(agent) = self.agent.clone() {
            tokio::spawn(async move {
                let _ = agent.ringing(call).await;
            });
        }
    }

    /// Hangs up a SIP call, beside the desk.
    pub(super) fn hang_up(&self, call: sip::SipCallId) {
        if let Some(agent) = self.agent.clone() {
            tokio::spawn(async move { agent.hangup(call).await });
        }
    }

    /// Answers an incoming call whose media is `leg` of `handle` (at
    /// `local`), the caller's at `peer`, beside the desk.
    pub(super) fn answer_with(
        &self,
        call: sip::SipCallId,
        local: std::net::SocketAddr,
        handle: media::Call,
        leg: LegId,
        peer: RtpPeer,
    ) {
        let Some(agent) = self.agent.clone() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = handle.set_rtp_peer(leg, peer).await {
                tracing::warn!(error = %e, "setting up an inbound call's media failed");
            }
            if let Err(e) = agent.answer(call, sip::LocalMedia { addr: local }).await {
                tracing::warn!(error = %e, "answering an inbound call failed");
            }
        });
    }

    pub(super) fn has_agent(&self) -> bool {
        self.agent.is_some()
    }

    /// The SIP user agent, for callbacks (`callbacks/`).
    pub(super) fn sip_agent(&self) -> Option<sip::SipAgent> {
        self.agent.clone()
    }

    /// The contact a SIP call belongs to from now on.
    pub(super) fn bind(&mut self, call: sip::SipCallId, contact: ContactId) {
        self.by_sip.insert(call, contact);
    }

    /// An inbound call whose caller is being looked up.
    pub(super) fn look_up(&mut self, call: sip::SipCallId) {
        self.looking_up.insert(call);
    }

    /// Whether `call` was still being looked up (false: it hung up meanwhile).
    pub(super) fn looked_up(&mut self, call: sip::SipCallId) -> bool {
        self.looking_up.remove(&call)
    }

    pub(super) fn lines(&self, tenant: TenantId) -> Option<&TenantLines> {
        self.tenants.get(&tenant)
    }

    fn center_load(&self, tenant: TenantId, center: &str) -> u32 {
        self.center_calls
            .get(&(tenant, center.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every tenant's trunks to the SIP agent (after any tenant reloads).
    fn push_trunks(&self) {
        if let Some(agent) = &self.agent {
            let trunks = self
                .tenants
                .iter()
                .flat_map(|(id, lines)| lines.doc.sip_trunks((*id).into()))
                .collect();
            agent.set_trunks(trunks);
        }
    }
}

/// A failed outbound call's SIP status as the visitor's `call_state` reason.
fn failure_reason(code: u16) -> &'static str {
    match code {
        486 | 600 => "busy",
        408 | 480 | 487 => "no_answer",
        _ => "unavailable",
    }
}

fn unavailable(message: &str) -> FrameError {
    FrameError::new(ErrorCode::BadState, message)
}

impl DeskState {
    /// (Re)reads a tenant's phone settings: its centers with numbers, its
    /// numbers' links, and its trunks for the SIP agent.
    pub(super) fn load_phone(&mut self, tenant: TenantId, inputs: &crate::store::RoutingInputs) {
        let doc = inputs.phone.clone();
        let links = inputs
            .links
            .iter()
            .map(|l| (l.slug.clone(), l.clone()))
            .collect();
        let lines = TenantLines {
            centers: phone_centers(&inputs.routing.centers),
            queue_centers: inputs
                .queues
                .iter()
                .map(|q| (q.id, q.routing.centers.clone()))
                .collect(),
            links,
            doc,
        };
        self.phone.tenants.insert(tenant, lines);
        self.phone.push_trunks();
    }

    /// Before a browser call to a call center is placed: the center, the
    /// caller id and the destination check. Nothing is dialled yet.
    pub(super) fn plan_center_call(
        &mut self,
        tenant: TenantId,
        link: &Link,
        region: Option<&str>,
    ) -> Result<(PhoneCenter, String), FrameError> {
        if self.phone.agent.is_none() {
            return Err(unavailable(
                "calls to our call center are not available right now; please chat with us",
            ));
        }
        let Some(lines) = self.phone.tenants.get(&tenant) else {
            return Err(unavailable(
                "calls are not set up here; please chat with us",
            ));
        };
        let allowed = lines
            .queue_centers
            .get(&link.queue)
            .cloned()
            .unwrap_or_default();
        let center = choose(&lines.centers, &allowed, region, super::now(), |name| {
            self.phone.center_load(tenant, name)
        })
        .cloned()
        .ok_or_else(|| {
            FrameError::new(
                ErrorCode::RateLimited,
                "our call center is closed or busy right now; please chat with us or try later",
            )
        })?;
        if !lines.doc.may_dial(&center.number) || lines.doc.trunk(&center.trunk).is_none() {
            // The tenant file checks this; a hand-edited database may not.
            tracing::warn!(
                tenant = tenant.0,
                center = %center.name,
                "a call center's number is not an allowed destination; call refused"
            );
            return Err(unavailable(
                "calls are not available right now; please chat with us",
            ));
        }
        let caller_id = match self.phone.caller_ids.take(tenant, &lines.doc.caller_ids) {
            Some(id) => id,
            // Every pooled caller id is on a live call. The trunk's own number
            // still connects the visitor; the center's CRM just cannot look this
            // call up (the lookup answers only for pooled ids).
            None => lines
                .doc
                .trunk(&center.trunk)
                .and_then(|t| t.caller_id.clone())
                .inspect(|_| {
                    tracing::info!(
                        tenant = tenant.0,
                        "caller id pool exhausted; the call presents the trunk's number"
                    );
                })
                .ok_or_else(|| {
                    FrameError::new(
                        ErrorCode::RateLimited,
                        "all our lines are busy; please try again shortly or chat with us",
                    )
                })?,
        };
        Ok((center, caller_id))
    }

    /// Gives back what `plan_center_call` took when the call never started.
    pub(super) fn unplan_center_call(&mut self, tenant: TenantId, caller_id: &str) {
        self.phone.caller_ids.release(tenant, caller_id);
    }

    /// The phone side of a planned browser-to-center call: its RTP leg.
    pub(super) async fn center_leg(
        handle: &media::Call,
        center: &PhoneCenter,
        caller_id: String,
    ) -> Result<PhoneLeg, media::MediaError> {
        let (leg, local) = handle.add_rtp(LegRole::Agent).await?;
        Ok(PhoneLeg {
            sip: None,
            leg,
            local,
            record: PhoneRecord {
                direction: PhoneDirection::Outbound,
                trunk: center.trunk.clone(),
                center: Some(center.name.clone()),
                from: caller_id.clone(),
                to: center.number.clone(),
                sip_call_id: None,
                sip_code: None,
                answered_at: None,
            },
            caller_id: Some(caller_id),
            keyed: Keyed::default(),
            answered: false,
            remote: None,
        })
    }

    /// Whether a contact is a browser call to a call center (no agents, no
    /// routing core).
    pub(super) fn is_center_call(&self, contact: ContactId) -> bool {
        self.contacts
            .call(contact)
            .and_then(|c| c.phone.as_ref())
            .is_some_and(|p| {
                p.record.direction == PhoneDirection::Outbound && p.record.center.is_some()
            })
    }

    /// How a browser-to-center call ends up in the record: answered if the
    /// center ever picked up, else `unanswered`.
    pub(super) fn center_call_outcome(&self, contact: ContactId, unanswered: Outcome) -> Outcome {
        let answered = self
            .contacts
            .call(contact)
            .and_then(|c| c.phone.as_ref())
            .is_some_and(|p| p.answered);
        if answered {
            Outcome::Answered
        } else {
            unanswered
        }
    }

    /// Dials the center once the contact exists.
    pub(super) fn dial_center(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        let tenant = live.tenant;
        let Some(phone) = live.call.as_ref().and_then(|c| c.phone.as_ref()) else {
            return;
        };
        let dial = sip::Dial {
            tenant: tenant.into(),
            trunk: phone.record.trunk.clone(),
            to: phone.record.to.clone(),
            from: phone.record.from.clone(),
            media: sip::LocalMedia { addr: phone.local },
        };
        let center = phone.record.center.clone().unwrap_or_default();
        let record = phone.record.clone();
        self.writer.write(ContactWrite::Phone {
            tenant,
            contact,
            record,
        });
        let Some(agent) = self.phone.agent.clone() else {
            return;
        };
        match agent.dial(dial) {
            Ok(id) => {
                self.phone.by_sip.insert(id, contact);
                *self.phone.center_calls.entry((tenant, center)).or_default() += 1;
                if let Some(p) = self.phone_leg_mut(contact) {
                    p.sip = Some(id);
                }
                metrics::counter!("switchboard_phone_calls_total", "direction" => "outbound")
                    .increment(1);
                self.set_call_state(contact, CallState::Ringing);
            }
            Err(e) => {
                tracing::warn!(contact = contact.0, error = %e, "dialling a call center failed");
                if let Some(p) = self.phone_leg_mut(contact) {
                    p.record.sip_code = Some(503);
                }
                self.end_center_call(contact, "unavailable", Outcome::Refused);
            }
        }
    }

    fn phone_leg_mut(&mut self, contact: ContactId) -> Option<&mut PhoneLeg> {
        self.contacts
            .get_mut(contact)?
            .call
            .as_mut()?
            .phone
            .as_deref_mut()
    }

    /// Ends a browser-to-center call and its contact (no routing core, no
    /// wrap-up: the center's agent is not ours).
    pub(super) fn end_center_call(
        &mut self,
        contact: ContactId,
        reason: &'static str,
        outcome: Outcome,
    ) {
        self.finish_call(contact, reason);
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        let tenant = live.tenant;
        self.writer.write(ContactWrite::Ended {
            tenant,
            contact,
            outcome,
            awaiting_wrapup: false,
        });
        let by = if reason == "hangup" {
            Sender::Visitor
        } else {
            Sender::System
        };
        self.send_contact_visitors(contact, &ToVisitor::Ended { by });
        self.detach_visitors(contact);
        self.remove_contact(contact);
    }

    /// The phone side of `finish_call`: hang up the SIP dialog, give back the
    /// caller id and the center's slot, store the phone record.
    pub(super) fn finish_phone(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        phone: &mut PhoneLeg,
    ) {
        if let Some(id) = phone.sip.take() {
            self.phone.by_sip.remove(&id);
            if let Some(agent) = self.phone.agent.clone() {
                tokio::spawn(async move { agent.hangup(id).await });
            }
            if let Some(center) = &phone.record.center
                && let Some(n) = self.phone.center_calls.get_mut(&(tenant, center.clone()))
            {
                *n = n.saturating_sub(1);
            }
        }
        if let Some(id) = phone.caller_id.take() {
            self.phone.caller_ids.release(tenant, &id);
        }
        if phone.record.sip_code.is_none() {
            // Given up before any final answer: the caller cancelled.
            phone.record.sip_code = Some(487);
        }
        let record = phone.record.clone();
        self.writer.write(ContactWrite::Phone {
            tenant,
            contact,
            record,
        });
    }

    /// A digit keyed on the phone side: push codes open pages for the visitor.
    pub(super) fn phone_digit(&mut self, contact: ContactId, leg: LegId, digit: char) {
        // A stranger keying a lent number's PIN (`dial_in/pin.rs`).
        if self.pin_digit(contact, leg, digit) {
            return;
        }
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        let tenant = live.tenant;
        let Some(phone) = live.call.as_mut().and_then(|c| c.phone.as_mut()) else {
            return;
        };
        if phone.leg != leg {
            return;
        }
        let Some(lines) = self.phone.tenants.get(&tenant) else {
            return;
        };
        match phone.keyed.push(digit, &lines.doc.push_codes) {
            Heard::Code { code, url } => {
                tracing::info!(contact = contact.0, code = %code, "push code keyed");
                metrics::counter!("switchboard_push_codes_total").increment(1);
                // No receiver (no co-browse hub) is no error.
                let _ = self.phone.pushes.send(PagePush {
                    tenant,
                    contact,
                    code: code.clone(),
                    url: url.to_owned(),
                });
                let frame = ToVisitor::PushPage {
                    url: url.to_owned(),
                    code,
                };
                self.send_contact_visitors(contact, &frame);
            }
            Heard::Partial => {}
            Heard::Unknown { digits } => {
                tracing::info!(
                    contact = contact.0,
                    "keyed digits match no push code; ignored"
                );
                tracing::debug!(contact = contact.0, digits = %digits, "the digits keyed");
            }
        }
    }

    /// The agent's media joined an inbound phone call: answer it, now that
    /// someone is there to talk.
    pub(super) fn answer_inbound(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        let tenant = live.tenant;
        let Some(call) = live.call.as_mut() else {
            return;
        };
        let handle = call.handle.clone();
        let Some(phone) = call.phone.as_mut() else {
            return;
        };
        if phone.record.direction != PhoneDirection::Inbound || phone.answered {
            return;
        }
        let (Some(id), Some(remote)) = (phone.sip, phone.remote.clone()) else {
            return;
        };
        phone.answered = true;
        phone.record.sip_code = Some(200);
        phone.record.answered_at = Some(super::now().0);
        let (leg, local, record) = (phone.leg, phone.local, phone.record.clone());
        self.writer.write(ContactWrite::Phone {
            tenant,
            contact,
            record,
        });
        let Some(agent) = self.phone.agent.clone() else {
            return;
        };
        // The media peer is set only now: the caller's phone sends nothing
        // before it is answered, and the leg's connect timer starts here.
        tokio::spawn(async move {
            if let Err(e) = handle.set_rtp_peer(leg, rtp_peer(&remote)).await {
                tracing::warn!(error = %e, "setting up an inbound call's media failed");
            }
            if let Err(e) = agent.answer(id, sip::LocalMedia { addr: local }).await {
                tracing::warn!(error = %e, "answering an inbound call failed");
            }
        });
    }

    /// Hold from our side (an agent's hold on an inbound call): tell the
    /// caller's phone with a re-INVITE.
    pub(super) fn phone_hold(&self, contact: ContactId, on: bool) {
        let Some(id) = self
            .contacts
            .call(contact)
            .and_then(|c| c.phone.as_ref())
            .and_then(|p| p.sip)
        else {
            return;
        };
        if let Some(agent) = self.phone.agent.clone() {
            tokio::spawn(async move {
                if let Err(e) = agent.hold(id, on).await {
                    tracing::warn!(error = %e, "telling the phone about hold failed");
                }
            });
        }
    }

    /// What the SIP user agent reports.
    pub(super) async fn sip_event(&mut self, event: sip::SipEvent) {
        use sip::SipEvent as E;
        let Some(event) = self.callback_sip_event(event).await else {
            return;
        };
        match event {
            E::Incoming(incoming) => self.inbound_call(incoming).await,
            E::Progress { call, code, media } => {
                let Some(&contact) = self.phone.by_sip.get(&call) else {
                    return;
                };
                tracing::debug!(contact = contact.0, code, "call center ringing");
                if let Some(media) = media {
                    self.set_peer(contact, &media).await;
                }
            }
            E::Answered {
                call,
                sip_call_id,
                media,
            } => {
                let Some(&contact) = self.phone.by_sip.get(&call) else {
                    return;
                };
                self.set_peer(contact, &media).await;
                if let Some(p) = self.phone_leg_mut(contact) {
                    p.answered = true;
                    p.record.sip_code = Some(200);
                    p.record.sip_call_id = Some(sip_call_id);
                    p.record.answered_at = Some(super::now().0);
                }
                self.set_call_state(contact, CallState::Connecting);
                self.call_progress(contact);
            }
            E::Failed { call, code, reason } => {
                let Some(contact) = self.phone.by_sip.remove(&call) else {
                    return;
                };
                tracing::info!(contact = contact.0, code, reason = %reason, "call center did not answer");
                if let Some(p) = self.phone_leg_mut(contact) {
                    p.record.sip_code = Some(code);
                    // Already over in SIP: nothing to hang up.
                    p.sip = None;
                }
                self.release_center_slot(contact);
                if self.is_center_call(contact) {
                    self.end_center_call(contact, failure_reason(code), Outcome::Refused);
                } else {
                    self.end_contact(contact, Sender::System);
                }
            }
            E::RemoteHold { call, media } => {
                let Some(&contact) = self.phone.by_sip.get(&call) else {
                    return;
                };
                let on = media.direction != sip::Direction::SendRecv;
                self.remote_hold(contact, on).await;
            }
            E::Ended {
                call, by_remote, ..
            } => {
                self.phone.looking_up.remove(&call);
                if self.screened_call_ended(call) {
                    return;
                }
                let Some(contact) = self.phone.by_sip.remove(&call) else {
                    return;
                };
                if !by_remote {
                    return;
                }
                if let Some(p) = self.phone_leg_mut(contact) {
                    p.sip = None;
                }
                self.release_center_slot(contact);
                if self.is_center_call(contact) {
                    let outcome = self.center_call_outcome(contact, Outcome::Refused);
                    self.end_center_call(contact, "remote_hangup", outcome);
                } else {
                    self.end_contact(contact, Sender::Visitor);
                }
            }
            E::TrunkStatus { tenant, trunk, up } => {
                // Trunk names are the tenant's own: two tenants may both
                // have a "carrier", so the gauge names the tenant too.
                let tenant = self
                    .tenants
                    .row(TenantId::from(tenant))
                    .map_or_else(|| tenant.0.to_string(), |t| t.slug.clone());
                tracing::info!(tenant = %tenant, trunk = %trunk, up, "trunk status changed");
                metrics::gauge!("switchboard_trunk_up", "tenant" => tenant, "trunk" => trunk)
                    .set(f64::from(u8::from(up)));
            }
        }
    }

    /// A SIP dialog that ended on its own no longer holds its center's slot.
    fn release_center_slot(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        let tenant = live.tenant;
        if let Some(center) = live
            .call
            .as_ref()
            .and_then(|c| c.phone.as_ref())
            .and_then(|p| p.record.center.clone())
            && let Some(n) = self.phone.center_calls.get_mut(&(tenant, center))
        {
            *n = n.saturating_sub(1);
        }
    }

    async fn set_peer(&mut self, contact: ContactId, media: &sip::RemoteMedia) {
        let Some(call) = self.contacts.call(contact) else {
            return;
        };
        let Some(phone) = call.phone.as_ref() else {
            return;
        };
        if let Err(e) = call.handle.set_rtp_peer(phone.leg, rtp_peer(media)).await {
            tracing::warn!(contact = contact.0, error = %e, "setting a phone leg's media failed");
        }
    }

    /// The phone side put the call on hold (or resumed it) with a re-INVITE.
    async fn remote_hold(&mut self, contact: ContactId, on: bool) {
        let Some(call) = self.contacts.call_mut(contact) else {
            return;
        };
        let next = match (on, call.state) {
            (true, CallState::Connected) => CallState::OnHold,
            (false, CallState::OnHold) => CallState::Connected,
            _ => return,
        };
        call.mark_hold(on, Instant::now());
        call.handle.set_hold(on).await;
        self.set_call_state(contact, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_failures_read_as_reasons() {
        assert_eq!(failure_reason(486), "busy");
        assert_eq!(failure_reason(600), "busy");
        assert_eq!(failure_reason(408), "no_answer");
        assert_eq!(failure_reason(503), "unavailable");
        assert_eq!(failure_reason(404), "unavailable");
    }
}
