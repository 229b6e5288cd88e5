//! Calls by number between members (000 Fig. 6, PC to PC; 002 Fig. 17):
//! a caller's browser dials a member's permanent number; the member's signed-in
//! pages ring (all of them, or the newest, as the member chose) and one
//! accepts; when the member is offline, busy, declines or does not answer in
//! time, the caller leaves a voice or video message ([`super::mailbox`]).
//!
//! Each call is a task that owns its media call and its timers; the HTTP
//! handlers reach it through [`DirectCalls`] with commands on a bounded
//! channel. Pages learn what happens from [`Notice`]s, sent to one staff
//! user (every page of theirs, or one device), which the directory's event
//! stream forwards (`event: call`).
//!
//! Media: the caller's leg is the engine's visitor, the member's the agent;
//! so the bridge, the Ogg/Opus recorder and the IVF video recorder work as
//! for contacts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{info, warn};

use super::mailbox::{Caller, Mailbox};
use super::presence::{Presence, Status};
use crate::ids::{TenantId, UserId};
use crate::store::mailbox::RingMode;
use crate::store::{Member, MemberId, now_ms};

/// Calls by number one tenant may have at once.
const MAX_CALLS_PER_TENANT: usize = 200;
/// Pages one staff user may have ringing at once.
const MAX_DEVICES_PER_USER: usize = 8;
/// Notices a slow page may fall behind by (it then reloads).
const NOTICE_BUFFER: usize = 1024;
/// The presence device a member shows busy by while on a call.
const CALL_DEVICE: &str = "call";
/// The default greeting, when a member has set none.
pub const DEFAULT_GREETING: &str = "Not available. Leave a message after the tone.";

/// Something a page should know about a call.
#[derive(Debug, Clone)]
pub struct Notice {
    pub tenant: TenantId,
    pub user: UserId,
    /// One page only (a ring for the newest page); `None`: every page.
    pub device: Option<u64>,
    pub body: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("calls need the media engine, which is not running")]
    NoMedia,
    #[error("that is your own number")]
    OwnNumber,
    #[error("you are on a call already")]
    AlreadyOnCall,
    #[error("too many calls at once; try again shortly")]
    TooManyCalls,
    #[error("no such call")]
    NoCall,
    #[error("the call was answered or has ended")]
    NotRinging,
    #[error("{0}")]
    Media(#[from] media::MediaError),
}

/// The caller, as the member will see them.
#[derive(Debug, Clone)]
pub struct Party {
    pub user: UserId,
    pub member: Option<MemberId>,
    pub name: String,
    pub number: String,
}

/// What placing a call gives the caller's page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Placed {
    pub call: u64,
    pub sdp: String,
    /// `ringing` or `mailbox`.
    pub state: &'static str,
    pub greeting: String,
    pub limit_secs: u64,
}

enum Command {
    Accept {
        sdp: String,
        reply: oneshot::Sender<Result<String, CallError>>,
    },
    Decline,
    Hangup {
        user: UserId,
    },
}

struct Handle {
    tenant: TenantId,
    caller: UserId,
    callee: Option<UserId>,
    commands: mpsc::Sender<Command>,
}

#[derive(Default)]
struct State {
    /// Open directory pages per staff user: (device, signed in at), oldest first.
    devices: HashMap<(TenantId, UserId), Vec<(u64, i64)>>,
    calls: HashMap<u64, Handle>,
}

struct Shared {
    media: Option<media::MediaEngine>,
    mailbox: Mailbox,
    presence: Arc<dyn Presence>,
    notices: broadcast::Sender<Notice>,
    state: Mutex<State>,
    next_id: AtomicU64,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn notify(&self, tenant: TenantId, user: UserId, device: Option<u64>, body: serde_json::Value) {
        // No page open is no error: the mailbox keeps what matters.
        let _ = self.notices.send(Notice {
            tenant,
            user,
            device,
            body,
        });
    }
}

/// Calls by number: a cheap handle.
#[derive(Clone)]
pub struct DirectCalls {
    shared: Arc<Shared>,
}

/// A signed-in page that can ring; it stops ringing when dropped.
pub struct Device {
    shared: Arc<Shared>,
    key: (TenantId, UserId),
    pub id: u64,
}

impl Drop for Device {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        if let Some(list) = state.devices.get_mut(&self.key) {
            list.retain(|(d, _)| *d != self.id);
            if list.is_empty() {
                state.devices.remove(&self.key);
            }
        }
    }
}

impl DirectCalls {
    pub fn new(
        media: Option<media::MediaEngine>,
        mailbox: Mailbox,
        presence: Arc<dyn Presence>,
    ) -> Self {
        DirectCalls {
            shared: Arc::new(Shared {
                media,
                mailbox,
                presence,
                notices: broadcast::channel(NOTICE_BUFFER).0,
                state: Mutex::new(State::default()),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    pub fn mailbox(&self) -> &Mailbox {
        &self.shared.mailbox
    }

    /// Notices from now on (each page filters its own).
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.shared.notices.subscribe()
    }

    /// A page of `user` opens: it rings for their calls while it lives. The
    /// oldest of too many pages stops ringing.
    pub fn sign_in(&self, tenant: TenantId, user: UserId) -> Device {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut state = self.shared.state();
        let list = state.devices.entry((tenant, user)).or_default();
        if list.len() >= MAX_DEVICES_PER_USER {
            list.remove(0);
        }
        list.push((id, now_ms()));
        Device {
            shared: Arc::clone(&self.shared),
            key: (tenant, user),
            id,
        }
    }

    /// Tells one user's pages something (a new message, say).
    pub fn notify(&self, tenant: TenantId, user: UserId, body: serde_json::Value) {
        self.shared.notify(tenant, user, None, body);
    }

    /// Places a call from `caller`'s browser (`offer`) to `callee`: rings
    /// their pages, or goes to the mailbox at once.
    pub async fn place(
        &self,
        tenant: TenantId,
        caller: Party,
        callee: &Member,
        ring_mode: RingMode,
        greeting: &str,
        offer: &str,
    ) -> Result<Placed, CallError> {
        if caller.member == Some(callee.id) {
            return Err(CallError::OwnNumber);
        }
        let engine = self.shared.media.clone().ok_or(CallError::NoMedia)?;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (commands, rx) = mpsc::channel(8);
        let ring: Vec<u64> = {
            let mut state = self.shared.state();
            if state.calls.values().any(|h| {
                h.tenant == tenant && (h.caller == caller.user || h.callee == Some(caller.user))
            }) {
                return Err(CallError::AlreadyOnCall);
            }
            if state.calls.values().filter(|h| h.tenant == tenant).count() >= MAX_CALLS_PER_TENANT {
                return Err(CallError::TooManyCalls);
            }
            state.calls.insert(
                id,
                Handle {
                    tenant,
                    caller: caller.user,
                    callee: callee.user,
                    commands,
                },
            );
            let pages = callee
                .user
                .and_then(|u| state.devices.get(&(tenant, u)))
                .map(|list| list.iter().map(|(d, _)| *d).collect::<Vec<_>>())
                .unwrap_or_default();
            match ring_mode {
                RingMode::All => pages,
                RingMode::Last => pages.last().copied().into_iter().collect(),
            }
        };
        let (events_tx, events) = mpsc::channel(16);
        let call = engine.call(
            media::CallTag(i64::try_from(id).unwrap_or(i64::MAX)),
            events_tx,
        );
        let answer = match call.add_webrtc(media::LegRole::Visitor, offer).await {
            Ok((_, answer)) => answer,
            Err(e) => {
                call.hangup().await;
                self.shared.state().calls.remove(&id);
                return Err(e.into());
            }
        };
        let status = self.shared.presence.get(tenant, callee.id).status;
        let reachable = !ring.is_empty() && matches!(status, Status::Online | Status::Away);
        let greeting = if greeting.trim().is_empty() {
            DEFAULT_GREETING.to_owned()
        } else {
            greeting.to_owned()
        };
        let task = CallTask {
            shared: Arc::clone(&self.shared),
            id,
            tenant,
            caller,
            callee: callee.clone(),
            call,
            events,
            commands: rx,
            ring: if reachable { ring } else { Vec::new() },
            greeting: greeting.clone(),
            caller_connected: None,
        };
        info!(
            call = id,
            tenant = tenant.0,
            ringing = reachable,
            "call by number placed"
        );
        tokio::spawn(task.run());
        Ok(Placed {
            call: id,
            sdp: answer,
            state: if reachable { "ringing" } else { "mailbox" },
            greeting,
            limit_secs: self.shared.mailbox.settings.max_message_secs,
        })
    }

    fn handle(
        &self,
        tenant: TenantId,
        call: u64,
        user: UserId,
        callee_only: bool,
    ) -> Result<mpsc::Sender<Command>, CallError> {
        let state = self.shared.state();
        let handle = state
            .calls
            .get(&call)
            .filter(|h| h.tenant == tenant)
            .filter(|h| h.callee == Some(user) || (!callee_only && h.caller == user))
            .ok_or(CallError::NoCall)?;
        Ok(handle.commands.clone())
    }

    /// The called member's page answers with its offer; the SDP answer.
    pub async fn accept(
        &self,
        tenant: TenantId,
        call: u64,
        user: UserId,
        offer: String,
    ) -> Result<String, CallError> {
        let commands = self.handle(tenant, call, user, true)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Accept { sdp: offer, reply })
            .await
            .map_err(|_| CallError::NotRinging)?;
        answer.await.map_err(|_| CallError::NotRinging)?
    }

    /// The called member declines: the caller goes to the mailbox.
    pub async fn decline(
        &self,
        tenant: TenantId,
        call: u64,
        user: UserId,
    ) -> Result<(), CallError> {
        let commands = self.handle(tenant, call, user, true)?;
        commands
            .send(Command::Decline)
            .await
            .map_err(|_| CallError::NotRinging)
    }

    /// Either party hangs up (a caller leaving a message: it is kept).
    pub async fn hangup(&self, tenant: TenantId, call: u64, user: UserId) -> Result<(), CallError> {
        let commands = self.handle(tenant, call, user, false)?;
        // A call that ended meanwhile has nothing left to hang up.
        let _ = commands.send(Command::Hangup { user }).await;
        Ok(())
    }
}

/// How a stage of the call ended.
enum Next {
    Mailbox,
    Connected,
    Over,
}

struct CallTask {
    shared: Arc<Shared>,
    id: u64,
    tenant: TenantId,
    caller: Party,
    callee: Member,
    call: media::Call,
    events: mpsc::Receiver<media::MediaEvent>,
    commands: mpsc::Receiver<Command>,
    /// The member's pages that ring; none: straight to the mailbox.
    ring: Vec<u64>,
    greeting: String,
    caller_connected: Option<Instant>,
}

impl CallTask {
    async fn run(mut self) {
        let next = if self.ring.is_empty() {
            Next::Mailbox
        } else {
            self.ringing().await
        };
        match next {
            Next::Mailbox => self.mailbox().await,
            Next::Connected => self.connected().await,
            Next::Over => {}
        }
        self.call.hangup().await;
        self.shared.state().calls.remove(&self.id);
        info!(call = self.id, "call by number ended");
    }

    fn to_caller(&self, body: serde_json::Value) {
        self.shared
            .notify(self.tenant, self.caller.user, None, body);
    }

    fn to_callee(&self, body: &serde_json::Value) {
        let Some(user) = self.callee.user else { return };
        for &device in &self.ring {
            self.shared
                .notify(self.tenant, user, Some(device), body.clone());
        }
    }

    /// Whether a media event means the caller's (or with `either`, any)
    /// leg is gone; remembers when the caller connected.
    fn leg_gone(&mut self, event: Option<media::MediaEvent>, either: bool) -> bool {
        let Some(event) = event else { return true };
        match event.kind {
            media::MediaEventKind::Connected {
                role: media::LegRole::Visitor,
                ..
            } => {
                self.caller_connected.get_or_insert_with(Instant::now);
                false
            }
            media::MediaEventKind::LegFailed { role, .. } => {
                either || role == media::LegRole::Visitor
            }
            _ => false,
        }
    }

    async fn ringing(&mut self) -> Next {
        let ring = json!({
            "kind": "ring",
            "call": self.id,
            "from": self.caller.name,
            "number": self.caller.number,
        });
        self.to_callee(&ring);
        let timeout = Duration::from_secs(self.shared.mailbox.settings.ring_timeout_secs);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Accept { sdp, reply }) => {
                        match self.call.add_webrtc(media::LegRole::Agent, &sdp).await {
                            Ok((_, answer)) => {
                                let _ = reply.send(Ok(answer));
                                self.to_caller(json!({"kind": "answered", "call": self.id}));
                                // The other pages stop ringing.
                                self.to_callee(&json!({"kind": "taken", "call": self.id}));
                                return Next::Connected;
                            }
                            Err(e) => {
                                let _ = reply.send(Err(e.into()));
                            }
                        }
                    }
                    Some(Command::Hangup { user }) if user == self.caller.user => {
                        self.to_callee(&json!({"kind": "ended", "call": self.id, "reason": "cancelled"}));
                        return Next::Over;
                    }
                    // The member declines or hangs up while it rings.
                    Some(Command::Decline | Command::Hangup { .. }) => break,
                    None => return Next::Over,
                },
                event = self.events.recv() => {
                    if self.leg_gone(event, false) {
                        self.to_callee(&json!({"kind": "ended", "call": self.id, "reason": "cancelled"}));
                        return Next::Over;
                    }
                }
                () = &mut deadline => break,
            }
        }
        self.to_callee(&json!({"kind": "ended", "call": self.id, "reason": "missed"}));
        Next::Mailbox
    }

    async fn connected(&mut self) {
        let now = now_ms();
        let members = [self.caller.member, Some(self.callee.id)];
        for member in members.into_iter().flatten() {
            self.shared
                .presence
                .set(self.tenant, member, CALL_DEVICE, Status::Busy, now, None);
        }
        let ended = json!({"kind": "ended", "call": self.id, "reason": "hangup"});
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Hangup { .. }) | None => break,
                    Some(Command::Accept { reply, .. }) => {
                        let _ = reply.send(Err(CallError::NotRinging));
                    }
                    Some(Command::Decline) => {}
                },
                event = self.events.recv() => {
                    if self.leg_gone(event, true) {
                        break;
                    }
                }
            }
        }
        self.to_caller(ended.clone());
        if let Some(user) = self.callee.user {
            self.shared.notify(self.tenant, user, None, ended);
        }
        let now = now_ms();
        for member in members.into_iter().flatten() {
            self.shared
                .presence
                .set(self.tenant, member, CALL_DEVICE, Status::Offline, now, None);
        }
    }

    async fn mailbox(&mut self) {
        let settings = self.shared.mailbox.settings.clone();
        let recording = self.shared.mailbox.recording(self.tenant, self.id);
        if let Err(e) = self
            .call
            .record(recording.dir.clone(), recording.stem.clone())
            .await
        {
            warn!(call = self.id, error = %e, "cannot record a message");
            self.to_caller(
                json!({"kind": "ended", "call": self.id, "reason": "mailbox_unavailable"}),
            );
            return;
        }
        if let Err(e) = self.call.record_video(recording.video()).await {
            // Audio still makes a message.
            warn!(call = self.id, error = %e, "cannot record a message's video");
        }
        let started = Instant::now();
        self.to_caller(json!({
            "kind": "mailbox",
            "call": self.id,
            "greeting": self.greeting,
            "limit_secs": settings.max_message_secs,
        }));
        let limit = tokio::time::sleep(Duration::from_secs(settings.max_message_secs));
        tokio::pin!(limit);
        let mut size_check = tokio::time::interval(Duration::from_secs(1));
        let mut cut = None;
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Hangup { user }) if user == self.caller.user => break,
                    None => break,
                    Some(Command::Accept { reply, .. }) => {
                        let _ = reply.send(Err(CallError::NotRinging));
                    }
                    Some(_) => {}
                },
                event = self.events.recv() => {
                    if self.leg_gone(event, false) {
                        break;
                    }
                }
                () = &mut limit => {
                    cut = Some(format!(
                        "Your message reached the {} s limit and was cut there.",
                        settings.max_message_secs
                    ));
                    break;
                }
                _ = size_check.tick() => {
                    if recording.bytes() >= settings.max_message_bytes {
                        cut = Some("Your message reached the size limit and was cut there.".to_owned());
                        break;
                    }
                }
            }
        }
        if let Some(reason) = &cut {
            self.to_caller(json!({"kind": "cut", "call": self.id, "reason": reason}));
        }
        // The recorder finishes its files when the call hangs up.
        self.call.hangup().await;
        let from = self.caller_connected.map_or(started, |c| c.max(started));
        let duration_ms = i64::try_from(from.elapsed().as_millis()).unwrap_or(i64::MAX);
        let caller = Caller {
            name: &self.caller.name,
            number: &self.caller.number,
        };
        let kept = self
            .shared
            .mailbox
            .keep(
                self.tenant,
                self.callee.id,
                &recording,
                &caller,
                duration_ms,
                cut.is_some(),
            )
            .await;
        match kept {
            Ok(Some(message)) => {
                self.to_caller(json!({"kind": "saved", "call": self.id}));
                self.shared.mailbox.email_notice(self.tenant, &message);
                if let Some(user) = self.callee.user {
                    self.shared.notify(
                        self.tenant,
                        user,
                        None,
                        json!({"kind": "mail", "message": message}),
                    );
                }
                info!(call = self.id, message = message.id, "message left");
            }
            Ok(None) => {
                self.to_caller(json!({"kind": "ended", "call": self.id, "reason": "too_short"}));
            }
            Err(e) => {
                warn!(call = self.id, error = %e, "cannot index a message");
                self.to_caller(
                    json!({"kind": "ended", "call": self.id, "reason": "mailbox_unavailable"}),
                );
            }
        }
    }
}
