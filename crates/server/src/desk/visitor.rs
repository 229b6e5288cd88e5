//! Visitor side of the desk: hello (new or resumed), starting a chat, messages,
//! typing, navigation, ending, and visitors who drop off.

use tokio::time::Instant;

use super::{
    ConnId, DeskState, LiveContact, Outbox, Phase, VisitorConn, VisitorHello, callback_guard,
    screenpop, stored::busy,
};
use crate::{
    auth,
    ids::ContactId,
    protocol::{self, ErrorCode, FrameError, ToAgent, ToVisitor, VisitorFrame, VisitorState},
    store::{ContactMedia, ContactWrite, NewContact, Outcome, Sender, to_json},
};

impl DeskState {
    pub(super) fn visitor_hello(
        &mut self,
        conn: ConnId,
        arrival: super::VisitorArrival,
        frame: VisitorFrame,
        outbox: Outbox<ToVisitor>,
    ) {
        let super::VisitorArrival {
            tenant,
            link,
            identity,
            ip,
        } = arrival;
        let VisitorFrame::Hello {
            context,
            attributes,
            resume,
            ..
        } = frame
        else {
            return;
        };
        let context = screenpop::bounded_context(context, &tenant.share);
        let region = attributes
            .as_ref()
            .and_then(|a| a.region.as_deref())
            .map(|r| r.trim().chars().take(64).collect::<String>())
            .filter(|r| !r.is_empty());
        // A resume token the visitor kept from an earlier connection brings back
        // their live conversation on this link; otherwise they get a fresh token.
        let resume_token = resume
            .filter(|r| r.len() <= 64 && !r.is_empty())
            .unwrap_or_else(auth::random_token);
        let resume_hash = auth::token_hash(&resume_token);
        let matching = self
            .contacts
            .resumed_by(&resume_hash)
            .filter(|(_, c)| c.tenant == tenant.id && c.link.id == link.id)
            .map(|(id, c)| (id, c.phase));
        // A conversation that already ended (the agent is wrapping up) is shown
        // as ended; the visitor is free to start a new one.
        let resumed = matching.and_then(|(id, phase)| (phase != Phase::WrapUp).then_some(id));
        let ended = matching.is_some() && resumed.is_none();

        let status = self.acd.queue_status(link.queue);
        let mut welcome_state = VisitorState::Idle;
        let mut transcript = Vec::new();
        let mut agent_name = None;
        let mut call = None;
        if let Some(contact) = resumed {
            if let Some(live) = self.contacts.get_mut(contact) {
                transcript.clone_from(&live.transcript);
                live.visitors.push(conn);
                live.orphaned_since = None;
                agent_name.clone_from(&live.agent_name);
                call = live.call.as_ref().map(|c| c.info());
                welcome_state = match live.phase {
                    Phase::Waiting | Phase::Offered(_) => VisitorState::Queued,
                    Phase::Connected => VisitorState::Connected,
                    Phase::WrapUp => VisitorState::Ended,
                };
            }
        } else {
            if ended {
                welcome_state = VisitorState::Ended;
            }
            self.conns.watch(link.queue, conn);
        }
        let callback_form = link.calls.callback.form.then_some(tenant.id);
        let welcome = ToVisitor::Welcome {
            resume: resume_token,
            link_name: link.name.clone(),
            available: status.available,
            wait_seconds: status.wait.as_secs(),
            open: status.open,
            next_open: status.next_open.map(acd::Time::as_millis),
            state: welcome_state,
            transcript,
            agent_name,
            calls: link.calls.media.clone(),
            recording: link.calls.record,
            call,
            dial_in: link.calls.dial_in,
            share: tenant.share.clone(),
        };
        let link = self.tenants.shared_link(link);
        let (calls, share) = self.tenants.shared_settings(&tenant);
        self.conns.add_visitor(
            conn,
            VisitorConn {
                tenant: tenant.id,
                link,
                resume_hash,
                hello: VisitorHello {
                    context: context.clone(),
                    identity,
                    region,
                },
                outbox,
                contact: resumed,
                ip,
                calls,
                share,
                profile: None,
            },
        );
        // What a new contact of this tenant needs, without a read.
        self.tenants.keep_row(tenant);
        self.send_visitor(conn, welcome);
        if let Some(tenant) = callback_form {
            let countries = self.callback_countries(tenant);
            self.send_visitor(conn, ToVisitor::CallbackOffer { countries });
        }
        if let Some(contact) = resumed {
            if let Some(view) = self.acd.contact(contact)
                && let (Some(position), Some(wait)) = (view.position, view.wait)
            {
                self.send_visitor(
                    conn,
                    ToVisitor::Status {
                        available: status.available,
                        wait_seconds: wait.as_secs(),
                        position: Some(position),
                        open: status.open,
                        next_open: status.next_open.map(acd::Time::as_millis),
                    },
                );
            }
            // The reload may have been a navigation: show the agent the new page.
            self.visitor_page(contact, context);
        }
    }

    pub(super) async fn visitor_frame(&mut self, conn: ConnId, frame: VisitorFrame) {
        let Some(v) = self.conns.visitor(conn) else {
            return;
        };
        let contact = v.contact;
        let result = match (frame, contact) {
            (VisitorFrame::Ping, _) => {
                self.send_visitor(conn, ToVisitor::Pong);
                Ok(())
            }
            (VisitorFrame::Hello { .. }, _) => Err(FrameError::new(
                ErrorCode::BadState,
                "hello was already received",
            )),
            (VisitorFrame::Start { text }, None) => {
                self.visitor_start(conn, text.as_deref(), None, None)
            }
            (VisitorFrame::Call { media, sdp }, None) => self.visitor_call(conn, media, &sdp).await,
            (VisitorFrame::DialIn { phone }, None) => {
                self.visitor_dial_in(conn, phone.as_deref()).await
            }
            (VisitorFrame::Dtmf { digits }, Some(contact)) => self.visitor_dtmf(contact, &digits),
            (VisitorFrame::DialIn { .. }, Some(_)) => Err(FrameError::new(
                ErrorCode::BadState,
                "a conversation is already open; end it first",
            )),
            (VisitorFrame::Call { .. }, Some(_)) => Err(FrameError::new(
                ErrorCode::BadState,
                "a conversation is already open; end it before calling",
            )),
            (
                VisitorFrame::MediaControlResult {
                    id,
                    accepted,
                    applied,
                },
                Some(contact),
            ) => self.visitor_media_result(contact, id, accepted, applied),
            (VisitorFrame::CobrowseCode { code }, Some(contact)) => {
                self.visitor_cobrowse_answer(contact, Some(&code))
            }
            (VisitorFrame::CobrowseDeclined, Some(contact)) => {
                self.visitor_cobrowse_answer(contact, None)
            }
            (VisitorFrame::Callback { phone, at, reason }, None) => {
                self.visitor_callback(conn, &phone, at, reason.as_deref())
            }
            (VisitorFrame::Callback { phone, .. }, Some(contact)) => {
                self.waiting_to_callback(contact, &phone)
            }
            (VisitorFrame::CallbackSlots, _) => {
                self.visitor_callback_slots(conn);
                Ok(())
            }
            (VisitorFrame::CallbackChange { at }, _) => self.visitor_callback_change(
                conn,
                super::callbacks::schedule::CallbackAction::Reschedule { at },
            ),
            (VisitorFrame::CallbackCancel, _) => self
                .visitor_callback_change(conn, super::callbacks::schedule::CallbackAction::Cancel),
            (VisitorFrame::Start { .. }, Some(_)) => Err(FrameError::new(
                ErrorCode::BadState,
                "a conversation is already open",
            )),
            (VisitorFrame::Message { text }, Some(contact)) => {
                self.visitor_message(conn, contact, &text)
            }
            (VisitorFrame::Typing { active }, Some(contact)) => {
                if let Some(agent) = self
                    .contacts
                    .get(contact)
                    .and_then(|c| (c.phase == Phase::Connected).then_some(c.agent).flatten())
                {
                    self.send_agent(
                        agent,
                        &ToAgent::Typing {
                            contact: contact.0,
                            active,
                        },
                    );
                }
                Ok(())
            }
            (VisitorFrame::Page { context }, Some(contact)) => {
                if let Some(v) = self.conns.visitor(conn) {
                    let context = screenpop::bounded_context(context, &v.share);
                    self.visitor_page(contact, context);
                }
                Ok(())
            }
            (VisitorFrame::Page { context }, None) => {
                if let Some(v) = self.conns.visitor_mut(conn) {
                    v.hello.context = screenpop::bounded_context(context, &v.share);
                }
                Ok(())
            }
            (VisitorFrame::End, Some(contact)) => {
                self.end_contact(contact, Sender::Visitor);
                Ok(())
            }
            (
                VisitorFrame::Message { .. }
                | VisitorFrame::Typing { .. }
                | VisitorFrame::End
                | VisitorFrame::Dtmf { .. }
                | VisitorFrame::MediaControlResult { .. }
                | VisitorFrame::CobrowseCode { .. }
                | VisitorFrame::CobrowseDeclined,
                None,
            ) => Err(FrameError::new(
                ErrorCode::BadState,
                "no conversation is open; send start first",
            )),
        };
        if let Err(e) = result {
            self.send_visitor(
                conn,
                ToVisitor::Error {
                    code: e.code,
                    message: e.message,
                },
            );
        }
    }

    /// Opens a contact: a chat (the visitor's tabs join it), with `call` a
    /// voice or video call (`calls.rs` made its media), or, with `callback`, a
    /// callback request that lives on without the visitor.
    pub(super) fn visitor_start(
        &mut self,
        conn: ConnId,
        text: Option<&str>,
        callback: Option<&crate::routing::CallbackRequest>,
        call: Option<Box<super::calls::LiveCall>>,
    ) -> Result<(), FrameError> {
        let first = text
            .filter(|t| !t.trim().is_empty())
            .map(protocol::chat_text)
            .transpose()?;
        let Some(v) = self.conns.visitor(conn) else {
            return Ok(());
        };
        let (tenant_id, link, resume_hash, hello) = (
            v.tenant,
            crate::store::Link::clone(&v.link),
            v.resume_hash.clone(),
            v.hello.clone(),
        );
        let Some(tenant) = self.tenants.row(tenant_id) else {
            return Err(FrameError::new(ErrorCode::UnknownTenant, "tenant is gone"));
        };
        if !self.writer.admits(tenant_id) {
            return Err(busy());
        }
        let Some(contact) = self.next_contact_id() else {
            return Err(busy());
        };
        let profile = self.conns.visitor_mut(conn).and_then(|v| v.profile.take());
        let context = &hello.context;
        let mut routing = self.contact_routing(
            tenant_id,
            &hello,
            profile.as_ref().and_then(|p| p.last_agent),
        );
        routing.callback = callback.cloned();
        routing.call = call.as_ref().map(|c| c.media);
        let new = NewContact {
            tenant: tenant_id,
            link: link.id,
            media: match (&callback, &call) {
                (Some(_), _) => ContactMedia::Callback,
                (None, Some(call)) => call.media.into(),
                (None, None) => ContactMedia::Chat,
            },
            resume_hash: resume_hash.clone(),
            page_url: context.url.clone(),
            page_title: context.title.clone(),
            referrer: context.referrer.clone(),
            pages_json: to_json(&context.pages),
            language: context.language.clone(),
            timezone: context.timezone.clone(),
            shared_json: to_json(&context.shared),
            verified: hello.identity.verified,
            customer_ref: hello
                .identity
                .sub
                .clone()
                .filter(|_| hello.identity.verified),
            identity_json: to_json(&hello.identity),
            routing_json: to_json(&routing),
        };
        let mut screenpop =
            screenpop::build(&link, contact, &hello.identity, context, profile.as_deref());
        // A routing point: the agent is reserved before the visitor's phone
        // rings, and should know which number the call will come in on.
        if let Some(number) = call.as_ref().and_then(|c| c.dial_in.as_deref()) {
            screenpop["dial_in"] = serde_json::json!({ "number": number });
        }
        let (queue, link_id) = (link.queue, link.id);
        let live = LiveContact::waiting(
            tenant_id,
            link,
            resume_hash,
            screenpop,
            hello.context.clone(),
            tenant.wrapup_codes.clone(),
            routing.clone(),
        );
        if let Some(request) = callback {
            let live = LiveContact {
                // The visitor hears `callback_scheduled` instead.
                queued_sent: true,
                callback_phone: Some(request.phone.clone()),
                ..live
            };
            return self.start_callback(contact, live, &new, conn);
        }
        self.conns.unwatch(queue, conn);
        // Other tabs of the same visitor on this link join the conversation too.
        let tabs = self.conns.idle_tabs(&live.resume_hash, link_id);
        for tab in &tabs {
            if let Some(v) = self.conns.visitor_mut(*tab) {
                v.contact = Some(contact);
            }
            self.conns.unwatch(queue, *tab);
        }
        let is_call = call.is_some();
        self.insert_contact(
            contact,
            LiveContact {
                visitors: tabs,
                call,
                ..live
            },
        );
        self.store_contact(contact, new, None);
        if is_call {
            self.call_created(tenant_id, contact);
        }
        if self.is_center_call(contact) {
            // Answered by a call center's phone, not by our agents: no queue.
            metrics::counter!("switchboard_contacts_started_total").increment(1);
            self.dial_center(contact);
            return Ok(());
        }
        metrics::counter!("switchboard_contacts_started_total").increment(1);
        tracing::info!(contact = contact.0, tenant = %tenant.slug, "contact queued");
        let first_pending = first.is_some();
        if let Some(text) = first {
            // The visitor sees their first message's echo before the queue
            // position: `queued` waits for it (`stored.rs`).
            if let Some(live) = self.contacts.get_mut(contact) {
                live.first_pending = true;
            }
            self.store_message(contact, Sender::Visitor, text, super::Author::Start);
        }
        let at = super::now();
        self.acd.handle_input(
            at,
            acd::Input::ContactArrived(Box::new(routing.spec(contact, queue, at))),
        );
        if !first_pending {
            self.tell_queued(contact);
        }
        Ok(())
    }

    /// Tells the visitor the contact is in line, even when an agent is free
    /// and the offer goes out at once. A contact the core refused is
    /// explained when its events are drained; one already answered is past
    /// the line.
    pub(super) fn tell_queued(&mut self, contact: ContactId) {
        let Some(view) = self.acd.contact(contact) else {
            return;
        };
        let (position, wait) = (
            view.position.unwrap_or(1),
            view.wait.unwrap_or(std::time::Duration::ZERO),
        );
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        if live.queued_sent || !matches!(live.phase, Phase::Waiting | Phase::Offered(_)) {
            return;
        }
        live.queued_sent = true;
        self.send_contact_visitors(
            contact,
            &ToVisitor::Queued {
                position,
                wait_seconds: wait.as_secs(),
            },
        );
    }

    /// A callback request enters the routing core (scheduled for its time) and
    /// the visitor is told when to expect the call; the visitor stays free to
    /// chat and may leave.
    fn start_callback(
        &mut self,
        contact: ContactId,
        live: LiveContact,
        new: &NewContact,
        conn: ConnId,
    ) -> Result<(), FrameError> {
        let queue = live.link.queue;
        let routing = live.routing.clone();
        let plan = live.link.calls.callback.plan();
        self.insert_contact(contact, live);
        metrics::counter!("switchboard_callbacks_requested_total").increment(1);
        let at = super::now();
        let mut spec = routing.spec(contact, queue, at);
        spec.callback = Some(plan);
        self.acd
            .handle_input(at, acd::Input::ContactArrived(Box::new(spec)));
        if self.acd.contact(contact).is_none() {
            // Refused (no agent for this link at all): its record is closed
            // when the core's events are drained, after it is stored.
            self.store_contact(contact, new.clone(), None);
            return Err(FrameError::new(
                ErrorCode::Invalid,
                "nobody here can call you back for this; please leave a message",
            ));
        }
        let when = routing
            .callback
            .as_ref()
            .and_then(|c| c.not_before)
            .unwrap_or(at.as_millis());
        // The visitor hears of it once it is stored.
        self.store_contact(contact, new.clone(), Some((conn, when)));
        Ok(())
    }

    /// What routing needs about this visitor: class of service from verified
    /// entitlements, where they are, and the agent who served them last.
    pub(super) fn contact_routing(
        &self,
        tenant: crate::ids::TenantId,
        hello: &VisitorHello,
        last_agent: Option<crate::ids::UserId>,
    ) -> crate::routing::ContactRouting {
        let identity = &hello.identity;
        let class = if identity.verified {
            self.tenants.class_of(tenant, &identity.entitlements)
        } else {
            None
        };
        let preferred_agent = last_agent.filter(|_| identity.verified).map(|u| u.0);
        let context = &hello.context;
        crate::routing::ContactRouting {
            priority: 0,
            class,
            region: hello.region.clone(),
            utc_offset_minutes: acd::utc_offset_minutes(&context.timezone, super::now()),
            language: Some(context.language.clone()).filter(|l| !l.is_empty()),
            preferred_agent,
            callback: None,
            call: None,
            preferred_wait_secs: None,
            excluded_agent: None,
        }
    }

    /// Virtual hold: a chat waiting in line becomes a callback that keeps its
    /// place; the visitor's tabs are free again and told when to expect the call.
    fn waiting_to_callback(&mut self, contact: ContactId, phone: &str) -> Result<(), FrameError> {
        let phone = protocol::phone_number(phone)?;
        let not_waiting = || {
            FrameError::new(
                ErrorCode::BadState,
                "only a chat still waiting in line can become a call back",
            )
        };
        let waiting = self
            .acd
            .contact(contact)
            .is_some_and(|v| v.stage == acd::ContactStage::Waiting && v.media == acd::Media::Chat);
        let Some(live) = self.contacts.get_mut(contact).filter(|_| waiting) else {
            return Err(not_waiting());
        };
        if live.phase != Phase::Waiting || live.callback_phone.is_some() {
            return Err(not_waiting());
        }
        let tenant = live.tenant;
        live.routing.callback = Some(crate::routing::CallbackRequest {
            phone: phone.clone(),
            not_before: None,
        });
        let routing_json = to_json(&live.routing);
        live.callback_phone = Some(phone);
        live.orphaned_since = None;
        // The place in line is kept at once; the visitor hears of the call
        // back (and is let go) once it is stored (`stored.rs`).
        self.acd.handle_input(
            super::now(),
            acd::Input::ToCallback {
                contact,
                plan: live.link.calls.callback.plan(),
            },
        );
        metrics::counter!("switchboard_callbacks_requested_total").increment(1);
        let at = super::now().as_millis();
        let tx = self.stored_tx.clone();
        let write = ContactWrite::Callback {
            tenant,
            contact,
            routing_json,
        };
        self.writer.write_then(write, move |result| {
            let ok = result.is_ok();
            let _ = tx.send(super::Stored::CallbackMade { contact, at, ok });
        });
        Ok(())
    }

    /// A call-back request: at the time asked, or when the link's center opens
    /// if it is closed now, or as soon as an agent is free. One per visitor
    /// and per number on a link (a second one changes the number of the
    /// first), to a destination the tenant allows, within its horizon and
    /// the link's hours, and so many a day per number and per address.
    fn visitor_callback(
        &mut self,
        conn: ConnId,
        phone: &str,
        at: Option<i64>,
        reason: Option<&str>,
    ) -> Result<(), FrameError> {
        let phone = protocol::phone_number(phone)?;
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(super::callbacks::schedule::callback_reason)
            .transpose()?;
        let Some(v) = self.conns.visitor(conn) else {
            return Ok(());
        };
        let (tenant, queue, link, ip) = (v.tenant, v.link.queue, v.link.id, v.ip);
        let settings = v.link.calls.callback;
        let policy = v.calls.clone();
        let resume_hash = v.resume_hash.clone();
        let now = super::now().as_millis();
        if let Some(pending) = self.pending_callback(tenant, link, &resume_hash, &phone) {
            return self.update_callback(conn, pending, &phone, at);
        }
        callback_guard::destination_allowed(&phone, &policy, self.phone.own_numbers(tenant))?;
        if let Some(t) = at {
            self.check_slot(tenant, queue, &policy, t)?;
        }
        if settings.form && settings.dial != crate::store::CallbackDial::Agent {
            self.can_dial_callbacks(tenant)?;
        }
        self.callback_quota
            .admit(now, tenant, &phone, ip, &policy)?;
        let status = self.acd.queue_status(queue);
        let not_before = match at {
            Some(t) if t > now => Some(t),
            _ if !status.open => status.next_open.map(acd::Time::as_millis),
            _ => None,
        };
        self.visitor_start(
            conn,
            None,
            Some(&crate::routing::CallbackRequest {
                phone: phone.clone(),
                not_before,
            }),
            None,
        )?;
        if let Some(reason) = reason
            && let Some(contact) = self.pending_callback(tenant, link, &resume_hash, &phone)
        {
            self.callback_reason(contact, reason);
        }
        Ok(())
    }

    /// The callback this visitor, or this number, already waits for on `link`.
    fn pending_callback(
        &self,
        tenant: crate::ids::TenantId,
        link: crate::ids::LinkId,
        resume_hash: &str,
        phone: &str,
    ) -> Option<ContactId> {
        self.contacts
            .iter()
            .find(|(_, c)| {
                c.tenant == tenant
                    && c.link.id == link
                    && c.phase == Phase::Waiting
                    && c.callback_phone
                        .as_deref()
                        .is_some_and(|p| p == phone || c.resume_hash == resume_hash)
            })
            .map(|(id, _)| *id)
    }

    /// A second request for a pending callback: its number changes (the
    /// place in line stays); a new time is not taken here.
    fn update_callback(
        &mut self,
        conn: ConnId,
        contact: ContactId,
        phone: &str,
        at: Option<i64>,
    ) -> Result<(), FrameError> {
        let Some(live) = self.contacts.get_mut(contact) else {
            return Ok(());
        };
        let when = live
            .routing
            .callback
            .as_ref()
            .and_then(|c| c.not_before)
            .unwrap_or_else(|| super::now().as_millis());
        if at.is_some_and(|t| t > super::now().as_millis() && t != when) {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "a callback is already booked for you; end it before picking another time",
            ));
        }
        metrics::counter!("switchboard_callbacks_updated_total").increment(1);
        if live.callback_phone.as_deref() != Some(phone) {
            live.callback_phone = Some(phone.to_owned());
            if let Some(request) = live.routing.callback.as_mut() {
                phone.clone_into(&mut request.phone);
            }
            let (tenant, routing) = (live.tenant, to_json(&live.routing));
            self.writer.write(ContactWrite::Callback {
                tenant,
                contact,
                routing_json: routing,
            });
        }
        let frame = self.callback_scheduled(contact, when);
        self.send_visitor(conn, frame);
        Ok(())
    }

    fn visitor_message(
        &mut self,
        conn: ConnId,
        contact: ContactId,
        text: &str,
    ) -> Result<(), FrameError> {
        let text = protocol::chat_text(text)?;
        let Some(live) = self.contacts.get(contact) else {
            return Ok(());
        };
        if live.phase == Phase::WrapUp {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "the conversation has ended",
            ));
        }
        if !self.writer.admits(live.tenant) {
            return Err(super::stored::busy());
        }
        self.store_message(contact, Sender::Visitor, text, super::Author::Visitor(conn));
        Ok(())
    }

    fn visitor_page(&mut self, contact: ContactId, context: protocol::PageContext) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        if context.url.is_empty() || context == live.context {
            return;
        }
        live.screenpop = screenpop::with_page(live.screenpop.take(), &context);
        let pages = serde_json::to_value(&context.pages).unwrap_or_default();
        let shared = serde_json::to_value(&context.shared).unwrap_or_default();
        live.context = context;
        let (tenant, agent, phase, screenpop) =
            (live.tenant, live.agent, live.phase, live.screenpop.clone());
        self.writer.write(ContactWrite::Pages {
            tenant,
            contact,
            pages,
            shared,
        });
        let holder = match phase {
            Phase::Offered(agent) => Some(agent),
            Phase::Connected | Phase::WrapUp => agent,
            Phase::Waiting => None,
        };
        if let Some(agent) = holder {
            self.send_agent(
                agent,
                &ToAgent::Screenpop {
                    contact: contact.0,
                    screenpop,
                },
            );
        }
    }

    /// A visitor connection closed. Their conversation waits `visitor_grace` for
    /// them to come back (page reload, network drop) before it ends.
    pub(super) fn visitor_gone(&mut self, conn: ConnId) {
        let Some(v) = self.conns.remove_visitor(conn) else {
            return;
        };
        if let Some(contact) = v.contact
            && let Some(live) = self.contacts.get_mut(contact)
        {
            live.visitors.retain(|c| *c != conn);
            if live.visitors.is_empty() {
                live.orphaned_since = Some(Instant::now());
            }
        }
    }

    /// Ends conversations whose visitor has been gone longer than the grace time.
    pub(super) fn sweep_orphans(&mut self) {
        let now = Instant::now();
        let expired: Vec<ContactId> = self
            .contacts
            .iter()
            .filter(|(_, c)| {
                c.phase != Phase::WrapUp
                    && c.callback_phone.is_none()
                    // A phone call goes on without the visitor's browser.
                    && !c
                        .call
                        .as_ref()
                        .is_some_and(|call| call.phone.is_some() || call.dial_in.is_some())
                    && c.orphaned_since.is_some_and(|t| {
                        now.saturating_duration_since(t) >= self.config.visitor_grace
                    })
            })
            .map(|(id, _)| *id)
            .collect();
        for contact in expired {
            self.end_contact(contact, Sender::System);
        }
        self.sweep_calls();
    }

    /// Ends a conversation from either side (or the system).
    ///
    /// Before an agent accepted, the routing core drops the contact and reports
    /// the outcome (`routing.rs` closes the record). After, the contact waits for
    /// the agent's wrap-up.
    pub(super) fn end_contact(&mut self, contact: ContactId, by: Sender) {
        if self.is_center_call(contact) {
            let reason = if by == Sender::Visitor {
                "hangup"
            } else {
                "ended"
            };
            let outcome = self.center_call_outcome(contact, Outcome::Abandoned);
            self.end_center_call(contact, reason, outcome);
            return;
        }
        let reason = if by == Sender::System {
            "ended"
        } else {
            "hangup"
        };
        self.finish_call(contact, reason);
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        match live.phase {
            Phase::Waiting | Phase::Offered(_) => {
                self.send_contact_visitors(contact, &ToVisitor::Ended { by });
                self.acd
                    .handle_input(super::now(), acd::Input::ContactLeft { contact });
            }
            Phase::Connected => {
                live.phase = Phase::WrapUp;
                self.acd
                    .handle_input(super::now(), acd::Input::ContactEnded { contact });
                let Some(live) = self.contacts.get_mut(contact) else {
                    return;
                };
                let (tenant, agent) = (live.tenant, live.agent);
                self.writer.write(ContactWrite::Ended {
                    tenant,
                    contact,
                    outcome: Outcome::Answered,
                    awaiting_wrapup: true,
                });
                self.send_contact_visitors(contact, &ToVisitor::Ended { by });
                if let Some(agent) = agent {
                    self.send_agent(
                        agent,
                        &ToAgent::Ended {
                            contact: contact.0,
                            by,
                        },
                    );
                }
                self.detach_visitors(contact);
            }
            Phase::WrapUp => {}
        }
    }

    /// After a conversation is over, its visitor tabs go back to watching the
    /// queue and may start a new chat.
    pub(super) fn detach_visitors(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        let tabs = std::mem::take(&mut live.visitors);
        let queue = live.link.queue;
        for tab in tabs {
            if let Some(v) = self.conns.visitor_mut(tab) {
                v.contact = None;
                self.conns.watch(queue, tab);
            }
        }
    }
}
