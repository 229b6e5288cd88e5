//! Calls that come in from a trunk: to one of the tenant's numbers (a new
//! phone contact, its caller matched to a customer beside the desk) or to a
//! routing point lent to a visitor (their contact's phone leg).

use media::LegRole;

use super::{
    DeskState, LiveContact, Stored, VisitorHello, dial_in::ForeignCaller, phone_leg::PhoneLeg,
    screenpop, storage::DeskStorage, stored::Caller,
};
use crate::{
    ids::{ContactId, TenantId},
    protocol::PageContext,
    store::{CallMedia, ContactMedia, ContactWrite, Link, NewContact, Outcome, PhoneRecord},
};

impl DeskState {
    /// A caller dialled one of the tenant's numbers.
    pub(super) async fn inbound_call(&mut self, incoming: sip::IncomingCall) {
        let call = incoming.call;
        let tenant = TenantId::from(incoming.tenant);
        if !self.phone.has_agent() {
            return;
        }
        // A lent number called from a caller id not the visitor's: refused,
        // or asked for the visitor's PIN (`pin.rs`).
        let claimed = match self.claim_routing_point(tenant, &incoming.to, &incoming.from) {
            Ok(claimed) => claimed,
            Err(ForeignCaller::Refused(code)) => {
                self.phone.reject(call, code);
                return;
            }
            Err(ForeignCaller::AskPin(contact)) => {
                self.ask_pin(tenant, contact, incoming).await;
                return;
            }
        };
        if let Some(contact) = claimed {
            let record = PhoneRecord::inbound(
                incoming.trunk,
                incoming.from,
                incoming.to,
                incoming.sip_call_id,
            );
            if let Err(code) = self
                .routing_point_called(contact, call, record, incoming.media)
                .await
            {
                self.phone.reject(call, code);
            }
            return;
        }
        if self.phone.link_for_number(tenant, &incoming.to).is_none() {
            metrics::counter!("switchboard_phone_calls_refused_total", "reason" => "unknown_number")
                .increment(1);
            self.phone.reject(call, 404);
            return;
        }
        if self.calls.engine().is_none() {
            self.phone.reject(call, 503);
            return;
        }
        // The screen pop shows the customer the caller id matches: read it
        // beside the desk, which goes on routing meanwhile.
        self.phone.look_up(call);
        let store = self.store.clone();
        let tx = self.stored_tx.clone();
        tokio::spawn(async move {
            let caller = look_up_caller(&*store, tenant, &incoming.from)
                .await
                .map_err(|e| tracing::error!(error = %e, "looking up a caller failed"));
            let _ = tx.send(Stored::Caller {
                incoming: Box::new(incoming),
                caller,
            });
        });
    }

    /// The caller of an inbound call was looked up: its contact starts.
    pub(super) async fn caller_looked_up(
        &mut self,
        incoming: sip::IncomingCall,
        caller: Result<Caller, ()>,
    ) {
        let call = incoming.call;
        if !self.phone.looked_up(call) {
            // Hung up while we looked.
            return;
        }
        let tenant = TenantId::from(incoming.tenant);
        if !self.phone.has_agent() {
            return;
        }
        let Ok(caller) = caller else {
            self.phone.reject(call, 500);
            return;
        };
        // Looked up again: the tenant's numbers may have changed meanwhile.
        let link = self.phone.link_for_number(tenant, &incoming.to).cloned();
        let (Some(link), Some(engine)) = (link, self.calls.engine()) else {
            self.phone.reject(call, 404);
            return;
        };
        match self
            .start_inbound(tenant, &link, incoming, caller, &engine)
            .await
        {
            Ok(contact) => {
                self.phone.bind(call, contact);
                metrics::counter!("switchboard_phone_calls_total", "direction" => "inbound")
                    .increment(1);
                self.phone.ringing(call);
            }
            Err(code) => self.phone.reject(call, code),
        }
    }

    /// A visitor called the routing point lent to them: their phone joins
    /// their contact's call (answered now if the reserved agent's media is up
    /// already, else when it is).
    async fn routing_point_called(
        &mut self,
        contact: ContactId,
        call: sip::SipCallId,
        record: PhoneRecord,
        media: sip::RemoteMedia,
    ) -> Result<(), u16> {
        let Some(live) = self.contacts.get(contact) else {
            return Err(404);
        };
        let tenant = live.tenant;
        let Some(handle) = live.call.as_ref().map(|c| c.handle.clone()) else {
            return Err(404);
        };
        let (leg, local) = match handle.add_rtp(LegRole::Visitor).await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "opening an RTP leg failed");
                return Err(503);
            }
        };
        self.writer.write(ContactWrite::Phone {
            tenant,
            contact,
            record: record.clone(),
        });
        let Some(live_call) = self.contacts.call_mut(contact) else {
            return Err(404);
        };
        live_call.phone = Some(Box::new(PhoneLeg::inbound(call, leg, local, record, media)));
        let agent_up = live_call.agent_is_up();
        self.phone.bind(call, contact);
        metrics::counter!("switchboard_phone_calls_total", "direction" => "routing_point")
            .increment(1);
        tracing::info!(contact = contact.0, "routing point called");
        if agent_up {
            self.answer_inbound(contact);
        } else {
            self.phone.ringing(call);
        }
        Ok(())
    }

    /// The contact and media of an inbound call; a SIP code when refused.
    async fn start_inbound(
        &mut self,
        tenant: TenantId,
        link: &Link,
        incoming: sip::IncomingCall,
        caller: Caller,
        engine: &media::MediaEngine,
    ) -> Result<ContactId, u16> {
        let sip::IncomingCall {
            call,
            from,
            to,
            trunk,
            sip_call_id,
            media,
            ..
        } = incoming;
        let (from, to, trunk) = (from.as_str(), to.as_str(), trunk.as_str());
        let Some(tenant_row) = self.tenants.row(tenant) else {
            return Err(404);
        };
        if !self.calls.has_room(tenant, tenant_row.calls.max_concurrent) {
            return Err(486);
        }
        let Caller { customer, record } = caller;
        // A caller id is no proof of identity: the match is shown, unverified.
        let identity = screenpop::Identity::default();
        let context = PageContext {
            title: format!("Phone call to {}", link.name),
            ..PageContext::default()
        };
        let hello = VisitorHello {
            context: context.clone(),
            identity: identity.clone(),
            region: None,
        };
        let mut routing = self.contact_routing(tenant, &hello, None);
        routing.call = Some(CallMedia::Voice);
        let new = NewContact {
            // No visitor token: nobody can resume a phone call from a browser.
            resume_hash: crate::auth::random_token(),
            page_title: context.title.clone(),
            customer_ref: customer.clone(),
            identity_json: serde_json::to_string(&identity).unwrap_or_default(),
            routing_json: serde_json::to_string(&routing).unwrap_or_default(),
            ..NewContact::unknown(tenant, link.id, ContactMedia::Voice)
        };
        let Some(contact) = self.next_contact_id() else {
            return Err(503);
        };
        let mut pop = screenpop::build(link, contact, &identity, &context, None);
        if customer.is_some() {
            pop["customer"] = serde_json::to_value(record).unwrap_or_default();
        }
        let resume_hash = new.resume_hash.clone();
        self.store_contact(contact, new, None);
        pop["phone"] = serde_json::json!({
            "from": from,
            "to": to,
            "customer_matched_by": customer.as_ref().map(|_| "caller_id"),
        });
        let record = PhoneRecord::inbound(
            trunk.to_owned(),
            from.to_owned(),
            to.to_owned(),
            sip_call_id,
        );
        self.writer.write(ContactWrite::Phone {
            tenant,
            contact,
            record: record.clone(),
        });
        let (handle, tag) = self.calls.new_call(engine);
        let (leg, local) = match handle.add_rtp(LegRole::Visitor).await {
            Ok(x) => x,
            Err(e) => {
                handle.hangup().await;
                self.writer.write(ContactWrite::Ended {
                    tenant,
                    contact,
                    outcome: Outcome::Refused,
                    awaiting_wrapup: false,
                });
                tracing::error!(error = %e, "opening an RTP leg failed");
                return Err(503);
            }
        };
        let phone = PhoneLeg::inbound(call, leg, local, record, media);
        // The link's `record_calls` holds however the call came in. Switchboard
        // plays no announcement to a phone caller: the tenant's carrier or IVR
        // must say the call is recorded (README, "Telephone network").
        let mut live_call = super::calls::LiveCall::new(
            CallMedia::Voice,
            handle,
            tag,
            &tenant_row.calls,
            link.calls.record,
        );
        live_call.phone = Some(Box::new(phone));
        self.insert_contact(
            contact,
            // Nobody's browser is attached, and none will be: the caller is
            // on the line until the SIP dialog ends.
            LiveContact {
                queued_sent: true,
                call: Some(Box::new(live_call)),
                ..LiveContact::waiting(
                    tenant,
                    link.clone(),
                    resume_hash,
                    pop,
                    context,
                    tenant_row.wrapup_codes.clone(),
                    routing.clone(),
                )
            },
        );
        self.call_created(tenant, contact);
        let at = super::now();
        self.acd.handle_input(
            at,
            acd::Input::ContactArrived(Box::new(routing.spec(contact, link.queue, at))),
        );
        tracing::info!(contact = contact.0, tenant = %tenant_row.slug, "phone call queued");
        Ok(contact)
    }
}

async fn look_up_caller(
    store: &dyn DeskStorage,
    tenant: TenantId,
    from: &str,
) -> Result<Caller, crate::store::StoreError> {
    let customer = store.customer_ref_by_phone(tenant, from).await?;
    let record = match &customer {
        Some(external) => store.customer(tenant, external).await?,
        None => None,
    };
    Ok(Caller { customer, record })
}
