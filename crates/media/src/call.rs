//! The per-call task: owns the call's legs and bridge, and its recording.
//!
//! It waits on three things: commands from [`Call`](super::Call) handles,
//! datagrams the receive task routed to one of its legs, and the earliest
//! timer (a leg's str0m timeout, a connect deadline, the once-a-second
//! housekeeping). Whatever it does to a leg is followed by draining that leg
//! (str0m's run-loop contract); what draining yields (frames, keyframe
//! requests, state changes) is routed by the bridge, which may write to and
//! drain other legs in turn, until nothing is left to route.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use str0m::media::{Frequency, KeyframeRequestKind, MediaData};
use tokio::sync::{mpsc, oneshot};

use super::{
    CallTag, LegId, LegRole, LegStats, MediaError, MediaEvent, MediaEventKind, RecordingFiles,
    Shared,
    ivf::IvfFile,
    leg::{LegOutput, Offer, SILENCE_LIMIT, WebrtcLeg},
    legs::Leg,
    recorder::Recording,
    rtp::{self, RtpError, RtpLeg, RtpPeer},
    socket::{CALL_QUEUE, Inbound, RouteCommand},
};

/// How often liveness and recording pages are looked at.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// Datagrams handled in one go before commands and timers get a look.
const BATCH: usize = 64;

pub(crate) enum Command {
    AddWebrtc {
        role: LegRole,
        offer: Offer,
        reply: oneshot::Sender<Result<(LegId, String), MediaError>>,
    },
    AddRtp {
        role: LegRole,
        screened: bool,
        reply: oneshot::Sender<Result<(LegId, SocketAddr), MediaError>>,
    },
    Admit {
        leg: LegId,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    SetRtpPeer {
        leg: LegId,
        peer: RtpPeer,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    SendDtmf {
        leg: LegId,
        digits: String,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    DetectProgress {
        leg: LegId,
        stage: crate::cpd::Stage,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    RemoveLeg {
        leg: LegId,
        reply: oneshot::Sender<()>,
    },
    SetHold {
        on: bool,
        reply: oneshot::Sender<()>,
    },
    Record {
        dir: PathBuf,
        stem: String,
        reply: oneshot::Sender<Result<RecordingFiles, MediaError>>,
    },
    RecordVideo {
        path: PathBuf,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    Stats {
        reply: oneshot::Sender<Vec<LegStats>>,
    },
    Hangup {
        reply: oneshot::Sender<()>,
    },
}

pub(crate) struct CallTask {
    shared: Arc<Shared>,
    tag: CallTag,
    events: mpsc::Sender<MediaEvent>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Receiver<Inbound>,
    /// Given to the receive task with each leg's registration.
    inbound_tx: mpsc::Sender<Inbound>,
    legs: Vec<Leg>,
    /// Phone legs not yet admitted as a party: bridged to nobody, their
    /// digits reported, their connecting and failing not (`Call::admit`).
    screened: Vec<LegId>,
    hold: bool,
    recording: Option<Recording>,
    /// The visitor's VP8 video, for a mailbox message (`ivf`).
    video: Option<IvfFile>,
    /// Events waiting to be sent to the desk.
    pending_events: Vec<MediaEventKind>,
    next_housekeeping: Instant,
    /// Scratch space reused for each leg's outputs, and for the bridge's
    /// work queue (no allocation per datagram).
    scratch: Vec<LegOutput>,
    work: VecDeque<Routed>,
}

/// Work for the bridge: what leg `from` produced.
struct Routed {
    from: LegId,
    output: LegOutput,
}

impl CallTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        tag: CallTag,
        events: mpsc::Sender<MediaEvent>,
        commands: mpsc::Receiver<Command>,
    ) -> Self {
        let (inbound_tx, inbound) = mpsc::channel(CALL_QUEUE);
        Self {
            shared,
            tag,
            events,
            commands,
            inbound,
            inbound_tx,
            legs: Vec::new(),
            screened: Vec::new(),
            hold: false,
            recording: None,
            video: None,
            pending_events: Vec::new(),
            next_housekeeping: Instant::now() + HOUSEKEEPING,
            scratch: Vec::new(),
            work: VecDeque::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep_until(on_tokio_clock(self.next_deadline()));
        tokio::pin!(sleep);
        let mut armed = Some(self.next_deadline());
        loop {
            let deadline = self.next_deadline();
            if armed != Some(deadline) {
                sleep.as_mut().reset(on_tokio_clock(deadline));
                armed = Some(deadline);
            }
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::Hangup { reply }) => {
                        self.end().await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(command) => self.on_command(command).await,
                    // Every `Call` handle is gone.
                    None => break,
                },
                // Due timers before new datagrams, so a busy call still
                // sends its reports and notices failures. But a batch of
                // those already queued goes first: when the task ran late,
                // they are the packets its RTP legs' late ticks are due to
                // play (not yet in a jitter buffer, they would be concealed
                // now and held as extra delay after).
                () = &mut sleep => {
                    self.take_queued(BATCH);
                    self.on_timer(Instant::now());
                    // Arm again even if nothing moved the deadline: a fired
                    // sleep stays ready.
                    armed = None;
                }
                Some(first) = self.inbound.recv() => {
                    self.on_datagram(&first);
                    self.take_queued(BATCH - 1);
                }
            }
            self.settle().await;
        }
        self.end().await;
    }

    /// The earliest instant something is due.
    fn next_deadline(&self) -> Instant {
        self.legs
            .iter()
            .map(|l| l.connect_by().map_or(l.timeout(), |c| c.min(l.timeout())))
            .fold(self.next_housekeeping, Instant::min)
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::AddWebrtc { role, offer, reply } => {
                let result = self.add_webrtc(role, offer).await;
                let _ = reply.send(result);
            }
            Command::AddRtp {
                role,
                screened,
                reply,
            } => {
                let result = self.add_rtp(role, screened).await;
                let _ = reply.send(result);
            }
            Command::Admit { leg, reply } => {
                let _ = reply.send(self.admit(leg).await);
            }
            Command::SetRtpPeer { leg, peer, reply } => {
                let result = self.rtp_leg(leg).map(|l| l.set_peer(peer, Instant::now()));
                let _ = reply.send(result);
            }
            Command::DetectProgress { leg, stage, reply } => {
                let result = self
                    .rtp_leg(leg)
                    .map(|l| crate::cpd::apply(&mut l.progress, stage));
                let _ = reply.send(result);
            }
            Command::SendDtmf { leg, digits, reply } => {
                let result = self
                    .rtp_leg(leg)
                    .and_then(|l| l.send_dtmf(&digits).map_err(MediaError::from));
                let _ = reply.send(result);
            }
            Command::RemoveLeg { leg, reply } => {
                self.remove(leg).await;
                let _ = reply.send(());
            }
            Command::SetHold { on, reply } => {
                self.set_hold(on);
                let _ = reply.send(());
            }
            Command::Record { dir, stem, reply } => {
                let _ = reply.send(self.record(&dir, &stem));
            }
            Command::RecordVideo { path, reply } => {
                let _ = reply.send(self.record_video(&path));
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.legs.iter().map(Leg::stats).collect());
            }
            // Handled by the run loop: it ends the task.
            Command::Hangup { reply } => {
                let _ = reply.send(());
            }
        }
    }

    async fn add_webrtc(
        &mut self,
        role: LegRole,
        offer: Offer,
    ) -> Result<(LegId, String), MediaError> {
        let id = self.shared.next_leg_id();
        let now = Instant::now();
        let (leg, answer) = WebrtcLeg::from_offer(
            &self.shared.setup,
            id,
            role,
            offer,
            self.shared.connect_timeout,
            now,
        )?;
        self.replace_party(role).await;
        // Registered before the answer leaves: the browser's first STUN
        // must find the leg.
        let registered = self
            .shared
            .routes
            .send(RouteCommand::Register {
                leg: id,
                ufrag: leg.ufrag.clone(),
                pass: leg.pass.clone(),
                to: self.inbound_tx.clone(),
            })
            .await;
        if registered.is_err() {
            return Err(MediaError::Unavailable);
        }
        tracing::info!(tag = self.tag.0, leg = id.0, ?role, "media leg added");
        self.legs.push(Leg::Webrtc(leg));
        Ok((id, answer))
    }

    /// One visitor and one agent at a time: a new one replaces the old
    /// (screened legs are no party yet, and stay).
    async fn replace_party(&mut self, role: LegRole) {
        if role == LegRole::Listener {
            return;
        }
        let old: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.role() == role && !self.screened.contains(&l.id()))
            .map(Leg::id)
            .collect();
        for old in old {
            self.remove(old).await;
        }
    }

    /// A screened leg becomes the visitor: the old visitor leg (if any) goes,
    /// and the bridge takes it from now on. Its `Connected` is reported now
    /// if its media flows already (it was held back while screened).
    async fn admit(&mut self, leg: LegId) -> Result<(), MediaError> {
        let Some(i) = self.index(leg) else {
            return Err(RtpError::NoSuchLeg.into());
        };
        if !self.screened.contains(&leg) {
            return Ok(());
        }
        let (role, connected) = (self.legs[i].role(), self.legs[i].connected());
        self.replace_party(role).await;
        self.screened.retain(|l| *l != leg);
        tracing::info!(
            tag = self.tag.0,
            leg = leg.0,
            ?role,
            "screened leg admitted"
        );
        if connected {
            self.pending_events
                .push(MediaEventKind::Connected { leg, role });
        }
        Ok(())
    }

    /// Opens a phone's leg on a fresh port pair; media flows once its
    /// address is set. A screened leg replaces no party and plays the
    /// prompt once its address is set.
    async fn add_rtp(
        &mut self,
        role: LegRole,
        screened: bool,
    ) -> Result<(LegId, SocketAddr), MediaError> {
        let (rtp_socket, rtcp_socket) = self.shared.ports.bind()?;
        let port = rtp_socket.local_addr()?.port();
        let id = self.shared.next_leg_id();
        let (rtp_socket, rtcp_socket) = (Arc::new(rtp_socket), Arc::new(rtcp_socket));
        let gate = rtp::Gate::new(id, self.shared.rtp_source);
        let receiver = self
            .shared
            .runtime
            .spawn(rtp::receive(
                id,
                Arc::clone(&rtp_socket),
                Arc::clone(&rtcp_socket),
                gate.clone(),
                Arc::clone(&self.shared.rtp_drops),
                self.inbound_tx.clone(),
            ))
            .abort_handle();
        let ports = rtp::PortPair {
            rtp: rtp_socket,
            rtcp: rtcp_socket,
            receiver: receiver.clone(),
            gate,
        };
        let mut leg = match RtpLeg::new(
            id,
            role,
            ports,
            self.shared.connect_timeout,
            Arc::clone(&self.shared.rtp_drops),
            Instant::now(),
        ) {
            Ok(leg) => leg,
            Err(e) => {
                receiver.abort();
                return Err(e.into());
            }
        };
        if screened {
            leg.queue_prompt();
            self.screened.push(id);
        } else {
            self.replace_party(role).await;
        }
        tracing::info!(
            tag = self.tag.0,
            leg = id.0,
            ?role,
            screened,
            "rtp leg added"
        );
        self.legs.push(Leg::Rtp(Box::new(leg)));
        Ok((id, SocketAddr::new(self.shared.announce, port)))
    }

    fn rtp_leg(&mut self, id: LegId) -> Result<&mut RtpLeg, MediaError> {
        match self.legs.iter_mut().find(|l| l.id() == id) {
            Some(Leg::Rtp(leg)) => Ok(leg),
            Some(Leg::Webrtc(_)) => Err(RtpError::NotRtp.into()),
            None => Err(RtpError::NoSuchLeg.into()),
        }
    }

    fn set_hold(&mut self, on: bool) {
        if self.hold == on {
            return;
        }
        self.hold = on;
        tracing::info!(tag = self.tag.0, on, "media hold");
        if on {
            if let Some(recording) = &mut self.recording {
                recording.pause();
            }
        } else {
            // Video resumes from a keyframe rather than a smear.
            let now = Instant::now();
            let parties: Vec<LegId> = self
                .legs
                .iter()
                .filter(|l| l.role() != LegRole::Listener)
                .map(Leg::id)
                .collect();
            for id in parties {
                self.keyframe_from(id, KeyframeRequestKind::Pli, true, now);
            }
        }
    }

    fn record(&mut self, dir: &std::path::Path, stem: &str) -> Result<RecordingFiles, MediaError> {
        if let Some(previous) = self.recording.take() {
            previous.finish();
        }
        match Recording::start(dir, stem) {
            Ok((recording, files)) => {
                tracing::info!(tag = self.tag.0, "recording started");
                self.recording = Some(recording);
                Ok(files)
            }
            Err(e) => {
                tracing::warn!(tag = self.tag.0, error = %e, "recording not started");
                Err(MediaError::Io(e))
            }
        }
    }

    /// Starts writing the visitor's VP8 video to `path`, from a keyframe
    /// asked for now (and again each housekeeping tick until one comes).
    fn record_video(&mut self, path: &std::path::Path) -> Result<(), MediaError> {
        if let Some(previous) = self.video.take() {
            previous.finish();
        }
        self.video = Some(IvfFile::create(path)?);
        self.visitor_keyframe();
        Ok(())
    }

    fn visitor_keyframe(&mut self) {
        let visitor = self
            .legs
            .iter()
            .find(|l| l.role() == LegRole::Visitor && !self.screened.contains(&l.id()))
            .map(Leg::id);
        if let Some(visitor) = visitor {
            self.keyframe_from(visitor, KeyframeRequestKind::Pli, true, Instant::now());
        }
    }

    fn index(&self, id: LegId) -> Option<usize> {
        self.legs.iter().position(|l| l.id() == id)
    }

    /// Handles up to `limit` datagrams already queued.
    fn take_queued(&mut self, limit: usize) {
        for _ in 0..limit {
            let Ok(next) = self.inbound.try_recv() else {
                break;
            };
            self.on_datagram(&next);
        }
    }

    fn on_datagram(&mut self, datagram: &Inbound) {
        let Some(i) = self.index(datagram.leg) else {
            return; // the leg was removed while this was queued
        };
        let destination = self.shared.setup.candidate;
        let mut out = std::mem::take(&mut self.scratch);
        self.legs[i].receive(datagram, destination, &self.shared.socket, &mut out);
        self.route(datagram.leg, out);
    }

    fn on_timer(&mut self, now: Instant) {
        let due: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.timeout() <= now)
            .map(Leg::id)
            .collect();
        for id in due {
            if let Some(i) = self.index(id) {
                let mut out = std::mem::take(&mut self.scratch);
                self.legs[i].tick(now, &self.shared.socket, &mut out);
                self.route(id, out);
            }
        }
        for i in 0..self.legs.len() {
            let leg = &mut self.legs[i];
            let mut out = Vec::new();
            if leg.connect_by().is_some_and(|by| now >= by) {
                leg.fail("not connected in time".into(), &mut out);
            } else if leg.connected()
                && now.saturating_duration_since(leg.last_rx()) >= SILENCE_LIMIT
            {
                leg.fail("no packets from the peer".into(), &mut out);
            }
            if !out.is_empty() {
                let id = leg.id();
                self.route(id, out);
            }
        }
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + HOUSEKEEPING;
            if let Some(recording) = &mut self.recording {
                recording.tick(now);
            }
            if self.video.as_ref().is_some_and(IvfFile::wants_keyframe) {
                self.visitor_keyframe();
            }
        }
    }

    /// The bridge: routes what legs produced until nothing is left.
    fn route(&mut self, from: LegId, mut first: Vec<LegOutput>) {
        // Re-entered (a keyframe request routed while routing) it starts
        // with an empty queue of its own.
        let mut work = std::mem::take(&mut self.work);
        work.extend(first.drain(..).map(|output| Routed { from, output }));
        self.scratch = first;
        while let Some(Routed { from, output }) = work.pop_front() {
            let Some(i) = self.index(from) else { continue };
            let role = self.legs[i].role();
            let mut out = std::mem::take(&mut self.scratch);
            match output {
                LegOutput::Media(data) => {
                    self.legs[i].count_frame_in();
                    self.forward(i, &data, &mut work, &mut out);
                }
                LegOutput::KeyframeRequest(kind) => {
                    if let Some(source) = self.party_opposite(role) {
                        self.keyframe_from(source, kind, true, Instant::now());
                    }
                }
                LegOutput::Connected if self.screened.contains(&from) => {
                    tracing::info!(tag = self.tag.0, leg = from.0, "screened leg connected");
                }
                LegOutput::Connected => {
                    tracing::info!(tag = self.tag.0, leg = from.0, ?role, "media leg connected");
                    self.pending_events
                        .push(MediaEventKind::Connected { leg: from, role });
                    // A party that just joined should see video at once.
                    if let Some(source) = self.party_opposite(role) {
                        self.keyframe_from(source, KeyframeRequestKind::Pli, true, Instant::now());
                    }
                }
                LegOutput::Progress(progress) => {
                    tracing::debug!(
                        tag = self.tag.0,
                        leg = from.0,
                        ?progress,
                        "call progress heard"
                    );
                    self.pending_events.push(MediaEventKind::Progress {
                        leg: from,
                        progress,
                    });
                }
                LegOutput::Dtmf(digit) => {
                    tracing::debug!(tag = self.tag.0, leg = from.0, "dtmf digit received");
                    self.pending_events.push(MediaEventKind::Dtmf {
                        leg: from,
                        role,
                        digit,
                    });
                }
                // Its owner gives up on it by its own deadline.
                LegOutput::Failed(reason) if self.screened.contains(&from) => {
                    tracing::info!(tag = self.tag.0, leg = from.0, %reason, "screened leg failed");
                }
                LegOutput::Failed(reason) => {
                    tracing::info!(tag = self.tag.0, leg = from.0, ?role, %reason, "media leg failed");
                    self.pending_events.push(MediaEventKind::LegFailed {
                        leg: from,
                        role,
                        reason,
                    });
                }
            }
            work.extend(out.drain(..).map(|output| Routed { from, output }));
            self.scratch = out;
        }
        self.work = work;
    }

    /// The party leg a frame from `role` goes to (visitor ↔ agent).
    fn party_opposite(&self, role: LegRole) -> Option<LegId> {
        let other = match role {
            LegRole::Visitor => LegRole::Agent,
            LegRole::Agent => LegRole::Visitor,
            LegRole::Listener => return None,
        };
        self.legs
            .iter()
            .find(|l| l.role() == other && !l.failed() && !self.screened.contains(&l.id()))
            .map(Leg::id)
    }

    /// Asks party leg `id` for a keyframe (its outputs are routed later).
    fn keyframe_from(&mut self, id: LegId, kind: KeyframeRequestKind, force: bool, now: Instant) {
        let Some(i) = self.index(id) else { return };
        let mut out = Vec::new();
        self.legs[i].request_keyframe(kind, force, now, &self.shared.socket, &mut out);
        if !out.is_empty() {
            self.route(id, out);
        }
    }

    /// Sends a frame from leg `i` where the bridge says; what the receiving
    /// legs produce while sending goes to `work`.
    fn forward(
        &mut self,
        i: usize,
        data: &MediaData,
        work: &mut VecDeque<Routed>,
        out: &mut Vec<LegOutput>,
    ) {
        let source = &self.legs[i];
        let (role, source_id) = (source.role(), source.id());
        if role == LegRole::Listener || self.hold || self.screened.contains(&source_id) {
            return; // a listener is heard by no one; on hold nobody is
        }
        let audio = data.params.spec().codec.is_audio();
        let now = Instant::now();
        if audio {
            if let Some(recording) = &mut self.recording {
                let rtp = data.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer();
                recording.push(role, source_id, rtp, &data.data, now);
            }
        } else if let Some(video) = self.video.as_mut().filter(|_| role == LegRole::Visitor)
            && data.params.spec().codec == str0m::format::Codec::Vp8
        {
            video.push(&data.data, data.network_time);
        }
        if !audio && !data.contiguous {
            // Frames were lost: the receivers need a keyframe to recover.
            let mut own = Vec::new();
            self.legs[i].request_keyframe(
                KeyframeRequestKind::Fir,
                false,
                now,
                &self.shared.socket,
                &mut own,
            );
            work.extend(own.into_iter().map(|output| Routed {
                from: source_id,
                output,
            }));
        }
        let socket = &self.shared.socket;
        for target in &mut self.legs {
            if target.id() == source_id
                || !target.takes_media()
                || self.screened.contains(&target.id())
            {
                continue;
            }
            let mid = match (role, target.role(), audio) {
                // A listener's first line carries the visitor, its second the agent.
                (LegRole::Visitor, LegRole::Agent | LegRole::Listener, true)
                | (LegRole::Agent, LegRole::Visitor, true) => target.audio_line(0),
                (LegRole::Visitor, LegRole::Agent, false)
                | (LegRole::Agent, LegRole::Visitor, false) => target.video_send(),
                (LegRole::Agent, LegRole::Listener, true) => target.audio_line(1),
                _ => None,
            };
            let Some(mid) = mid else { continue };
            target.write(mid, data, socket, out);
            let from = target.id();
            work.extend(out.drain(..).map(|output| Routed { from, output }));
        }
    }

    /// Removes failed legs and sends events to the desk.
    async fn settle(&mut self) {
        let failed: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.failed())
            .map(Leg::id)
            .collect();
        for id in failed {
            self.remove(id).await;
        }
        for kind in self.pending_events.drain(..) {
            // The desk reads its event channel; if it is gone nobody cares.
            let _ = self
                .events
                .send(MediaEvent {
                    tag: self.tag,
                    kind,
                })
                .await;
        }
    }

    /// Closes leg `id` and frees its routes.
    async fn remove(&mut self, id: LegId) {
        let Some(i) = self.index(id) else { return };
        let mut leg = self.legs.swap_remove(i);
        self.screened.retain(|l| *l != id);
        leg.close(&self.shared.socket);
        // If the receive task is gone, so are its maps.
        let _ = self
            .shared
            .routes
            .send(RouteCommand::Unregister { leg: id })
            .await;
        tracing::debug!(tag = self.tag.0, leg = id.0, "media leg removed");
    }

    /// Hangup, or every handle dropped: close all legs, finish recording.
    async fn end(&mut self) {
        self.settle().await;
        let ids: Vec<LegId> = self.legs.iter().map(Leg::id).collect();
        for id in ids {
            self.remove(id).await;
        }
        if let Some(recording) = self.recording.take() {
            recording.finish();
        }
        if let Some(video) = self.video.take() {
            video.finish();
        }
        tracing::info!(tag = self.tag.0, "media call ended");
    }
}

/// A deadline on the legs' clock as a point on tokio's: the same instant,
/// except where a test paused tokio's clock, where it is as far ahead of
/// tokio's now as of the real now (so a call's timers follow virtual time
/// instead of firing at once when virtual time has run ahead).
fn on_tokio_clock(deadline: Instant) -> tokio::time::Instant {
    tokio::time::Instant::now() + deadline.saturating_duration_since(Instant::now())
}
