//! Voice and video contacts. A call is a contact like a chat (the routing core
//! queues and offers it), plus a media call: the visitor's leg joins at once,
//! the agent's when they accept, and a bridge in the media engine connects
//! them (DESIGN.md principle 3). This file starts calls, follows their legs,
//! holds, transfers, lets supervisors listen in, relays remote media control,
//! and keeps the figures the contact's record gets.

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

use media::{CallTag, LegId, LegRole, MediaEngine, MediaError, MediaEvent, MediaEventKind};

use self::recording::Recorder;
use super::{ConnId, DeskState, ListenError, Phase};
use crate::{
    ids::{ContactId, QueueId, TenantId, UserId},
    protocol::{self, CallState, ErrorCode, FrameError, MediaSettings, ToAgent, ToVisitor},
    store::{CallMedia, CallRecord, CallRoute, ContactWrite, Sender},
};

pub(super) mod recording;

/// Remote media control requests that may await a visitor's answer at once.
const MAX_PENDING_REQUESTS: usize = 4;
/// How long a transfer to a named agent waits for them before anyone
/// qualified in the queue may take the call.
const NAMED_TRANSFER_WAIT: Duration = Duration::from_mins(1);
/// How long a transfer to a queue keeps away from the agent who made it
/// (after that, they may get it back if nobody else is free).
const QUEUE_TRANSFER_EXCLUSION: Duration = Duration::from_secs(30);
/// Priority a transferred contact gains, so it goes ahead of new arrivals.
const TRANSFER_PRIORITY: i32 = 2;
/// How far back call attempts count against a visitor's hourly allowance.
const ATTEMPT_WINDOW: Duration = Duration::from_hours(1);

/// A live call's media and figures.
pub(super) struct LiveCall {
    pub(super) media: CallMedia,
    pub(super) handle: media::Call,
    tag: CallTag,
    /// The link records its calls (the visitor was told).
    pub(super) recording: bool,
    /// Where the recording stands (`recording.rs`).
    recorder: Recorder,
    /// The tenant lets agents ask for visitor media changes.
    media_control: bool,
    visitor_up: bool,
    agent_leg: Option<LegId>,
    agent_up: bool,
    pub(super) state: CallState,
    /// When the call was placed, Unix ms.
    pub(super) started_at: i64,
    talk_since: Option<Instant>,
    hold_since: Option<Instant>,
    record: CallRecord,
    pub(super) listeners: Vec<LegId>,
    next_request: u64,
    pending: VecDeque<u64>,
    /// The phone side, for a call over a SIP trunk (`phone.rs`).
    pub(super) phone: Option<Box<super::phone_leg::PhoneLeg>>,
    /// The routing point lent for this call, until the visitor's phone
    /// calls it (`dial_in.rs`).
    pub(super) dial_in: Option<String>,
}

impl LiveCall {
    pub(super) fn new(
        media: CallMedia,
        handle: media::Call,
        tag: CallTag,
        settings: &crate::store::TenantCalls,
        recording: bool,
    ) -> Self {
        Self {
            media,
            handle,
            tag,
            recording,
            recorder: Recorder::Off,
            media_control: settings.media_control,
            visitor_up: false,
            agent_leg: None,
            agent_up: false,
            state: CallState::Queued,
            started_at: super::now().as_millis(),
            talk_since: None,
            hold_since: None,
            record: CallRecord::default(),
            listeners: Vec::new(),
            next_request: 1,
            pending: VecDeque::new(),
            phone: None,
            dial_in: None,
        }
    }

    /// The visitor's keypad reaches the other party: a call center's phone
    /// (browser calls only; a caller on a phone has their own keypad).
    pub(super) fn keypad(&self) -> bool {
        self.phone
            .as_ref()
            .is_some_and(|p| p.record.direction == crate::store::PhoneDirection::Outbound)
    }

    /// The agent's media is connected.
    pub(super) fn agent_is_up(&self) -> bool {
        self.agent_up
    }

    /// Hold starts or ends: the running interval closes into the totals.
    pub(super) fn mark_hold(&mut self, on: bool, now: Instant) {
        self.settle(now);
        if on {
            self.hold_since = Some(now);
        } else {
            self.talk_since = Some(now);
        }
    }

    /// Closes the running talk or hold interval into the totals.
    fn settle(&mut self, now: Instant) {
        if let Some(t) = self.talk_since.take() {
            self.record.talk_ms += millis(now.saturating_duration_since(t));
        }
        if let Some(t) = self.hold_since.take() {
            self.record.hold_ms += millis(now.saturating_duration_since(t));
        }
    }

    pub(super) fn info(&self) -> protocol::CallInfo {
        protocol::CallInfo {
            media: self.media,
            state: self.state,
            keypad: self.keypad(),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The desk's side of the media engine: the engine, where its events go, which
/// contact owns each call, and the per-tenant and per-visitor limits.
pub(super) struct CallBook {
    engine: Option<MediaEngine>,
    events: mpsc::Sender<MediaEvent>,
    next_tag: i64,
    by_tag: HashMap<CallTag, ContactId>,
    per_tenant: HashMap<TenantId, u32>,
    /// Recent call attempts per client address and per verified identity.
    attempts: HashMap<String, VecDeque<Instant>>,
    attempts_swept: Option<Instant>,
}

impl CallBook {
    pub(super) fn new(engine: Option<MediaEngine>, events: mpsc::Sender<MediaEvent>) -> Self {
        Self {
            engine,
            events,
            next_tag: 1,
            by_tag: HashMap::new(),
            per_tenant: HashMap::new(),
            attempts: HashMap::new(),
            attempts_swept: None,
        }
    }

    fn track(&mut self, tenant: TenantId, tag: CallTag, contact: ContactId) {
        self.by_tag.insert(tag, contact);
        *self.per_tenant.entry(tenant).or_default() += 1;
    }

    /// Forgets a call and hangs up its media. The hang-up runs in its own task:
    /// it waits for the call task, which the desk must never do.
    pub(super) fn release(&mut self, tenant: TenantId, call: &LiveCall) {
        if self.by_tag.remove(&call.tag).is_some()
            && let Some(n) = self.per_tenant.get_mut(&tenant)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_tenant.remove(&tenant);
            }
        }
        let handle = call.handle.clone();
        tokio::spawn(async move { handle.hangup().await });
    }

    /// The contacts with a live call.
    pub(super) fn contacts(&self) -> impl Iterator<Item = ContactId> + '_ {
        self.by_tag.values().copied()
    }

    fn live(&self, tenant: TenantId) -> u32 {
        self.per_tenant.get(&tenant).copied().unwrap_or(0)
    }

    /// Whether the tenant may start another call under its limit.
    pub(super) fn has_room(&self, tenant: TenantId, max_concurrent: u32) -> bool {
        self.live(tenant) < max_concurrent
    }

    pub(super) fn engine(&self) -> Option<MediaEngine> {
        self.engine.clone()
    }

    /// A new media call with its tag (its events come back with it).
    pub(super) fn new_call(&mut self, engine: &MediaEngine) -> (media::Call, CallTag) {
        let tag = CallTag(self.next_tag);
        self.next_tag += 1;
        (engine.call(tag, self.events.clone()), tag)
    }

    /// Counts an attempt; false when the visitor used up the hour's allowance.
    /// Counts a call attempt against every one of `keys` (the client's
    /// address, and a verified visitor's identity), or refuses it when any of
    /// them has had `per_hour` already (then nothing is counted).
    fn attempt(&mut self, keys: &[String], per_hour: u32) -> bool {
        let now = Instant::now();
        for key in keys {
            let recent = self.attempts.entry(key.clone()).or_default();
            while recent
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= ATTEMPT_WINDOW)
            {
                recent.pop_front();
            }
            if recent.len() >= per_hour as usize {
                return false;
            }
        }
        for key in keys {
            self.attempts.entry(key.clone()).or_default().push_back(now);
        }
        true
    }

    /// Drops attempt histories older than the window, at most once a minute.
    pub(super) fn sweep_attempts(&mut self) {
        let now = Instant::now();
        if self
            .attempts_swept
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_mins(1))
        {
            return;
        }
        self.attempts_swept = Some(now);
        self.attempts.retain(|_, recent| {
            recent
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) < ATTEMPT_WINDOW)
        });
    }
}

/// A media engine failure as the client sees it.
fn media_error(e: &MediaError) -> FrameError {
    match e {
        MediaError::BadOffer(why) => FrameError::new(ErrorCode::Invalid, format!("sdp: {why}")),
        MediaError::CallEnded => FrameError::new(ErrorCode::BadState, "the call has ended"),
        MediaError::Io(_) | MediaError::Unavailable | MediaError::Rtp(_) => {
            tracing::error!(error = %e, "media engine failed");
            FrameError::new(
                ErrorCode::BadState,
                "calls are not available right now; please chat with us",
            )
        }
    }
}

fn not_a_call() -> FrameError {
    FrameError::new(ErrorCode::BadState, "this contact is not a call")
}

impl DeskState {
    /// Counts a call (or a lent number) a visitor asks for, per client
    /// address and per verified identity: not per resume token, which the
    /// visitor chooses and can change at will.
    pub(super) fn call_attempt(&mut self, conn: ConnId) -> Result<(), FrameError> {
        let Some(v) = self.conns.visitor(conn) else {
            return Ok(());
        };
        let mut keys = vec![format!("{}/ip/{}", v.tenant.0, v.ip)];
        if let Some(sub) = v
            .hello
            .identity
            .sub
            .as_ref()
            .filter(|_| v.hello.identity.verified)
        {
            keys.push(format!("{}/sub/{sub}", v.tenant.0));
        }
        let per_hour = v.calls.attempts_per_hour;
        if self.calls.attempt(&keys, per_hour) {
            return Ok(());
        }
        metrics::counter!("switchboard_calls_refused_total", "reason" => "attempts").increment(1);
        Err(FrameError::new(
            ErrorCode::RateLimited,
            "too many calls in a short time; please chat with us instead",
        ))
    }

    /// A visitor places a call: checks, the visitor's media leg from their
    /// offer (answered at once so media connects while they wait), then the
    /// contact enters the queue like a chat.
    pub(super) async fn visitor_call(
        &mut self,
        conn: ConnId,
        media: CallMedia,
        sdp: &str,
    ) -> Result<(), FrameError> {
        let sdp = protocol::sdp_offer(sdp)?;
        let Some(v) = self.conns.visitor(conn) else {
            return Ok(());
        };
        let (tenant_id, link_calls, settings, link, region) = (
            v.tenant,
            v.link.calls.clone(),
            v.calls.clone(),
            v.link.clone(),
            v.hello.region.clone(),
        );
        if !link_calls.media.contains(&media) {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                format!("{} calls are not offered here", media.name()),
            ));
        }
        let Some(engine) = self.calls.engine.clone() else {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "calls are not available on this server; please chat with us",
            ));
        };
        if self.calls.live(tenant_id) >= settings.max_concurrent {
            metrics::counter!("switchboard_calls_refused_total", "reason" => "busy").increment(1);
            return Err(FrameError::new(
                ErrorCode::RateLimited,
                "all our lines are busy; please try again shortly or chat with us",
            ));
        }
        self.call_attempt(conn)?;
        // A call to a call center's phone: which center, which caller id.
        let plan = if link_calls.route_to == CallRoute::Phone {
            Some(self.plan_center_call(tenant_id, &link, region.as_deref())?)
        } else {
            None
        };
        let (handle, tag) = self.calls.new_call(&engine);
        let mut call = LiveCall::new(media, handle.clone(), tag, &settings, link_calls.record);
        let legs = async {
            let (_, answer) = handle.add_webrtc(LegRole::Visitor, sdp).await?;
            let phone = match &plan {
                Some((center, caller_id)) => {
                    Some(Self::center_leg(&handle, center, caller_id.clone()).await?)
                }
                None => None,
            };
            Ok::<_, MediaError>((answer, phone))
        };
        let (answer, phone) = match legs.await {
            Ok(x) => x,
            Err(e) => {
                handle.hangup().await;
                if let Some((_, caller_id)) = &plan {
                    self.unplan_center_call(tenant_id, caller_id);
                }
                return Err(media_error(&e));
            }
        };
        if let Some(phone) = phone {
            // The center's RTP leg plays the agent's part in the bridge.
            call.agent_leg = Some(phone.leg);
            call.phone = Some(Box::new(phone));
        }
        self.send_visitor(conn, ToVisitor::CallAnswer { sdp: answer });
        let started = self.visitor_start(conn, None, None, Some(Box::new(call)));
        if started.is_err() {
            handle.hangup().await;
            if let Some((_, caller_id)) = &plan {
                self.unplan_center_call(tenant_id, caller_id);
            }
        }
        started
    }

    /// Called by `visitor_start` once a call's contact exists.
    pub(super) fn call_created(&mut self, tenant: TenantId, contact: ContactId) {
        let Some(tag) = self.contacts.call(contact).map(|c| c.tag) else {
            return;
        };
        self.calls.track(tenant, tag, contact);
        metrics::counter!("switchboard_calls_started_total").increment(1);
        self.announce_call(contact, None);
    }

    /// Tells the visitor's tabs and the agent where the call stands.
    pub(super) fn announce_call(&mut self, contact: ContactId, reason: Option<&'static str>) {
        let Some(live) = self.contacts.get(contact) else {
            return;
        };
        let Some(call) = live.call.as_ref() else {
            return;
        };
        let (state, media, recording, agent) = (call.state, call.media, call.recording, live.agent);
        let keypad = call.keypad();
        self.send_contact_visitors(
            contact,
            &ToVisitor::CallState {
                state,
                media,
                recording,
                reason,
                keypad,
            },
        );
        if let Some(agent) = agent {
            self.send_agent(
                agent,
                &ToAgent::CallState {
                    contact: contact.0,
                    state,
                    recording,
                },
            );
        }
    }

    /// Moves a call to `state` (when it has one) and says so.
    pub(super) fn set_call_state(&mut self, contact: ContactId, state: CallState) {
        let Some(call) = self.contacts.call_mut(contact) else {
            return;
        };
        if call.state == state {
            return;
        }
        call.state = state;
        self.announce_call(contact, None);
    }

    /// Ends a contact's media: totals stored on the record, both sides told,
    /// the media engine's call hung up. Nothing happens for a chat or a call
    /// already finished.
    pub(super) fn finish_call(&mut self, contact: ContactId, reason: &'static str) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        let Some(mut call) = live.call.take() else {
            return;
        };
        let tenant = live.tenant;
        call.settle(Instant::now());
        call.state = CallState::Ended;
        let (media, recording, agent) = (call.media, call.recording, live.agent);
        if let Some(phone) = call.phone.as_deref_mut() {
            self.finish_phone(tenant, contact, phone);
        }
        if let Some(number) = call.dial_in.take() {
            self.return_routing_point(tenant, &number);
        }
        self.send_contact_visitors(
            contact,
            &ToVisitor::CallState {
                state: CallState::Ended,
                media,
                recording,
                reason: Some(reason),
                keypad: false,
            },
        );
        if let Some(agent) = agent {
            self.send_agent(
                agent,
                &ToAgent::CallState {
                    contact: contact.0,
                    state: CallState::Ended,
                    recording,
                },
            );
        }
        if call.recorder == Recorder::Linking {
            // The recorder never started: the record names no files.
            call.record.recording = None;
        }
        let figures = call.record.clone();
        self.writer.write(ContactWrite::Call {
            tenant,
            contact,
            call: figures,
        });
        self.calls.release(tenant, &call);
        metrics::counter!("switchboard_calls_ended_total", "reason" => reason).increment(1);
    }

    /// What the media engine reports about a call's legs.
    pub(super) fn media_event(&mut self, event: MediaEvent) {
        let Some(&contact) = self.calls.by_tag.get(&event.tag) else {
            return;
        };
        let Some(call) = self.contacts.call_mut(contact) else {
            return;
        };
        match event.kind {
            MediaEventKind::Connected { leg, role } => {
                match role {
                    LegRole::Visitor => call.visitor_up = true,
                    LegRole::Agent if call.agent_leg == Some(leg) => call.agent_up = true,
                    LegRole::Agent | LegRole::Listener => return,
                }
                if role == LegRole::Agent {
                    // An inbound phone call is answered once an agent is there.
                    self.answer_inbound(contact);
                }
                self.call_progress(contact);
            }
            MediaEventKind::Dtmf { leg, digit, .. } => self.phone_digit(contact, leg, digit),
            MediaEventKind::Progress { progress, .. } => self.callback_progress(contact, progress),
            MediaEventKind::LegFailed { leg, role, reason } => {
                tracing::debug!(contact = contact.0, ?role, reason, "call leg failed");
                match role {
                    LegRole::Listener => call.listeners.retain(|l| *l != leg),
                    LegRole::Agent if call.agent_leg != Some(leg) => {}
                    LegRole::Visitor | LegRole::Agent => {
                        metrics::counter!("switchboard_call_legs_failed_total").increment(1);
                        if self.callback_media_failed(contact) {
                            return;
                        }
                        self.finish_call(contact, "media_failed");
                        self.end_contact(contact, Sender::System);
                    }
                }
            }
        }
    }

    /// Both parties' media are up: the call is connected (and recorded when
    /// the link says so, once the record names the files: `recording.rs`).
    pub(super) fn call_progress(&mut self, contact: ContactId) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        let tenant = live.tenant;
        let Some(call) = live.call.as_mut() else {
            return;
        };
        if !(call.visitor_up && call.agent_up && call.state == CallState::Connecting) {
            return;
        }
        call.state = CallState::Connected;
        call.talk_since = Some(Instant::now());
        if call.recording && call.recorder == Recorder::Off {
            self.link_recording(tenant, contact);
        }
        self.announce_call(contact, None);
    }

    /// The agent's browser joins the call it was assigned.
    pub(super) async fn agent_call_sdp(
        &mut self,
        conn: ConnId,
        user: UserId,
        contact: i64,
        sdp: &str,
    ) -> Result<(), FrameError> {
        let contact = match ContactId(contact) {
            // A callback being dialled: the agent hears the phone ring.
            c if self.dialer.dialling_for(c, user) => c,
            c => self.held_by(user, c, Phase::Connected)?,
        };
        let sdp = protocol::sdp_offer(sdp)?;
        let handle = self
            .contacts
            .call(contact)
            .map(|c| c.handle.clone())
            .ok_or_else(not_a_call)?;
        let (leg, answer) = handle
            .add_webrtc(LegRole::Agent, sdp)
            .await
            .map_err(|e| media_error(&e))?;
        if let Some(call) = self.contacts.call_mut(contact) {
            // A second offer (a console reload) replaces the agent's leg.
            call.agent_leg = Some(leg);
            call.agent_up = false;
            if call.state == CallState::Connected {
                call.state = CallState::Connecting;
            }
        }
        self.reply(
            conn,
            ToAgent::CallAnswer {
                contact: contact.0,
                sdp: answer,
            },
        );
        Ok(())
    }

    /// The visitor keys digits for the call center's phone (its menu, an
    /// extension): RFC 4733 events on the phone leg.
    pub(super) fn visitor_dtmf(
        &mut self,
        contact: ContactId,
        digits: &str,
    ) -> Result<(), FrameError> {
        let digits = protocol::dtmf_digits(digits)?;
        let call = self.contacts.call(contact).ok_or_else(not_a_call)?;
        let Some(leg) = call.phone.as_ref().filter(|_| call.keypad()).map(|p| p.leg) else {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "this call has no phone to send digits to",
            ));
        };
        let handle = call.handle.clone();
        // Keying takes a few hundred ms per digit: never in the desk's task.
        tokio::spawn(async move {
            if let Err(e) = handle.send_dtmf(leg, digits).await {
                tracing::debug!(error = %e, "sending digits to a phone failed");
            }
        });
        Ok(())
    }

    /// Hold stops both directions in the bridge; the visitor's call window
    /// shows it and plays its hold tone.
    pub(super) async fn agent_hold(
        &mut self,
        user: UserId,
        contact: i64,
        on: bool,
    ) -> Result<(), FrameError> {
        let contact = self.held_by(user, ContactId(contact), Phase::Connected)?;
        let call = self.contacts.call_mut(contact).ok_or_else(not_a_call)?;
        let now = Instant::now();
        let next = match (on, call.state) {
            (true, CallState::Connected) => {
                call.settle(now);
                call.hold_since = Some(now);
                CallState::OnHold
            }
            (false, CallState::OnHold) => {
                call.settle(now);
                call.talk_since = Some(now);
                CallState::Connected
            }
            (_, CallState::Connected | CallState::OnHold) => return Ok(()),
            _ => {
                return Err(FrameError::new(
                    ErrorCode::BadState,
                    "the call is not connected yet",
                ));
            }
        };
        call.handle.set_hold(on).await;
        self.phone_hold(contact, on);
        self.set_call_state(contact, next);
        Ok(())
    }

    /// Blind transfer: the agent lets go and the contact waits again, in
    /// another queue or for a named agent (then, after a minute, for anyone in
    /// its queue). The screen pop goes with it. Works for chats too.
    pub(super) async fn agent_transfer(
        &mut self,
        user: UserId,
        contact: i64,
        queue: Option<String>,
        agent: Option<String>,
    ) -> Result<(), FrameError> {
        let contact = self.held_by(user, ContactId(contact), Phase::Connected)?;
        let Some(live) = self.contacts.get(contact) else {
            return Ok(());
        };
        let (tenant, link_queue) = (live.tenant, live.link.queue);
        let media = self
            .acd
            .contact(contact)
            .map_or(acd::Media::Chat, |c| c.media);
        let current = self.acd.contact(contact).map_or(link_queue, |c| c.queue);
        let (queue, to_agent) = match (queue, agent) {
            (Some(name), None) => (self.queue_named(tenant, &name)?, None),
            (None, Some(name)) => {
                let to = self.signed_in_agent(tenant, &name, user)?;
                (
                    self.queue_served_by(tenant, to, media, current, &name)?,
                    Some(to),
                )
            }
            _ => {
                return Err(FrameError::new(
                    ErrorCode::Invalid,
                    "name exactly one of queue or agent",
                ));
            }
        };
        // The routing the contact started with: each transfer adds to it,
        // not to the previous transfer's.
        let Some(mut routing) = self.contacts.get(contact).map(|c| c.routing.clone()) else {
            return Err(FrameError::new(
                ErrorCode::BadState,
                "the transfer failed; try again",
            ));
        };
        // The transferring agent's part ends here.
        let mut figures = None;
        if let Some(call) = self.contacts.call_mut(contact) {
            call.settle(Instant::now());
            call.record.transfers += 1;
            call.state = CallState::Transferring;
            if let Some(leg) = call.agent_leg.take() {
                call.handle.remove_leg(leg).await;
            }
            call.agent_up = false;
            call.handle.set_hold(false).await;
            figures = Some(call.record.clone());
        }
        if let Some(figures) = figures {
            self.writer.write(ContactWrite::Call {
                tenant,
                contact,
                call: figures,
            });
        }
        let at = super::now();
        self.acd
            .handle_input(at, acd::Input::ContactEnded { contact });
        self.acd
            .handle_input(at, acd::Input::WrapUpDone { contact });
        self.send_agent(user, &ToAgent::Wrapped { contact: contact.0 });
        if let Some(live) = self.contacts.get_mut(contact) {
            live.phase = Phase::Waiting;
            live.agent = None;
            live.agent_name = None;
        }
        self.writer
            .write(ContactWrite::Requeued { tenant, contact });
        routing.priority += TRANSFER_PRIORITY;
        routing.preferred_agent = to_agent.map(|u| u.0);
        routing.excluded_agent = to_agent.is_none().then_some(user.0);
        routing.preferred_wait_secs = Some(if to_agent.is_some() {
            NAMED_TRANSFER_WAIT.as_secs()
        } else {
            QUEUE_TRANSFER_EXCLUSION.as_secs()
        });
        self.acd.handle_input(
            at,
            acd::Input::ContactArrived(Box::new(routing.spec(contact, queue, at))),
        );
        metrics::counter!("switchboard_transfers_total").increment(1);
        self.announce_call(contact, None);
        Ok(())
    }

    fn queue_named(&self, tenant: TenantId, name: &str) -> Result<QueueId, FrameError> {
        self.tenants
            .queue_named(tenant, name)
            .ok_or_else(|| FrameError::new(ErrorCode::Invalid, format!("no queue named {name:?}")))
    }

    /// The queue a transfer to a named agent goes through: the contact's own
    /// when the agent serves it, else the first (by name) they do serve. The
    /// routing core only offers a preferred agent who qualifies for the queue.
    fn queue_served_by(
        &self,
        tenant: TenantId,
        agent: UserId,
        media: acd::Media,
        current: QueueId,
        name: &str,
    ) -> Result<QueueId, FrameError> {
        let refused = || {
            FrameError::new(
                ErrorCode::Invalid,
                format!("{name:?} does not take this kind of contact in any queue"),
            )
        };
        let spec = self.tenants.agent_spec(agent).ok_or_else(refused)?;
        if spec.capacity.of(media) == 0 {
            return Err(refused());
        }
        let setup = self.tenants.setup(tenant).ok_or_else(refused)?;
        let serves = |q: &acd::QueueSpec| {
            q.required.iter().all(|r| {
                spec.skills
                    .iter()
                    .any(|(s, level)| *s == r.skill && *level >= r.min_level)
            })
        };
        let mut served: Vec<&acd::QueueSpec> = setup.queues.iter().filter(|q| serves(q)).collect();
        if served.iter().any(|q| q.queue == current) {
            return Ok(current);
        }
        served.sort_by_key(|q| self.tenants.queue_name(q.queue));
        served.first().map(|q| q.queue).ok_or_else(refused)
    }

    fn signed_in_agent(
        &self,
        tenant: TenantId,
        name: &str,
        from: UserId,
    ) -> Result<UserId, FrameError> {
        let found = self
            .conns
            .seats()
            .find(|(_, s)| s.tenant == tenant && s.name == name && !s.conns.is_empty())
            .map(|(id, _)| *id);
        match found {
            Some(id) if id == from => Err(FrameError::new(
                ErrorCode::Invalid,
                "you already hold this contact",
            )),
            Some(id) => Ok(id),
            None => Err(FrameError::new(
                ErrorCode::Invalid,
                format!("{name:?} is not signed in"),
            )),
        }
    }

    /// An agent asks the visitor's browser to change its audio settings; the
    /// visitor allows or refuses.
    pub(super) fn agent_media_control(
        &mut self,
        user: UserId,
        contact: i64,
        settings: MediaSettings,
    ) -> Result<(), FrameError> {
        let contact = self.held_by(user, ContactId(contact), Phase::Connected)?;
        settings.check()?;
        let call = self.contacts.call_mut(contact).ok_or_else(not_a_call)?;
        if !call.media_control {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                "remote media control is switched off for this tenant",
            ));
        }
        if call.pending.len() >= MAX_PENDING_REQUESTS {
            return Err(FrameError::new(
                ErrorCode::RateLimited,
                "wait for the visitor to answer the earlier requests",
            ));
        }
        let id = call.next_request;
        call.next_request += 1;
        call.pending.push_back(id);
        self.send_contact_visitors(contact, &ToVisitor::MediaControl { id, settings });
        Ok(())
    }

    /// The visitor's answer to a media control request goes to the agent.
    pub(super) fn visitor_media_result(
        &mut self,
        contact: ContactId,
        id: u64,
        accepted: bool,
        applied: MediaSettings,
    ) -> Result<(), FrameError> {
        let Some(live) = self.contacts.get_mut(contact) else {
            return Ok(());
        };
        let agent = live.agent;
        let call = live.call.as_mut().ok_or_else(not_a_call)?;
        let Some(at) = call.pending.iter().position(|p| *p == id) else {
            return Err(FrameError::new(
                ErrorCode::Invalid,
                "no media control request with that id",
            ));
        };
        call.pending.remove(at);
        if let Some(agent) = agent {
            self.send_agent(
                agent,
                &ToAgent::MediaControlResult {
                    contact: contact.0,
                    id,
                    accepted,
                    applied,
                },
            );
        }
        Ok(())
    }

    /// Housekeeping on the desk's tick.
    ///
    /// A call does not end when its window's socket drops: the media runs on
    /// its own, the window reconnects (and sends `end` when it closes), and a
    /// window that vanished without a word is caught by the media engine,
    /// whose leg fails when the browser stops answering.
    pub(super) fn sweep_calls(&mut self) {
        self.calls.sweep_attempts();
    }

    /// A supervisor joins a tenant's live call, receive-only.
    pub(super) async fn listen(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        sdp: &str,
    ) -> Result<(LegId, String), ListenError> {
        let handle = self
            .contacts
            .get(contact)
            .filter(|c| c.tenant == tenant)
            .and_then(|c| c.call.as_ref())
            .map(|c| c.handle.clone())
            .ok_or(ListenError::NoCall)?;
        let sdp = protocol::sdp_offer(sdp).map_err(|e| ListenError::BadOffer(e.message))?;
        let (leg, answer) =
            handle
                .add_webrtc(LegRole::Listener, sdp)
                .await
                .map_err(|e| match e {
                    MediaError::BadOffer(why) => ListenError::BadOffer(why),
                    _ => ListenError::NoCall,
                })?;
        if let Some(call) = self.contacts.call_mut(contact) {
            call.listeners.push(leg);
        }
        metrics::counter!("switchboard_listen_ins_total").increment(1);
        Ok((leg, answer))
    }

    pub(super) async fn stop_listening(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        leg: LegId,
    ) {
        let Some(call) = self
            .contacts
            .get_mut(contact)
            .filter(|c| c.tenant == tenant)
            .and_then(|c| c.call.as_mut())
        else {
            return;
        };
        if let Some(at) = call.listeners.iter().position(|l| *l == leg) {
            call.listeners.remove(at);
            call.handle.remove_leg(leg).await;
        }
    }
}
