//! One task per call. The task owns the rsipstack dialog and its state channel;
//! the agent's methods reach it as [`Command`]s.

use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::TerminatedReason;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, TransactionHandle};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt as _;
use rsipstack::sip::{Header, Request, Response, StatusCode, StatusCodeKind, Uri};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipAddr;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::agent::{Admission, Inner};
use crate::sdp::{self, Direction, LocalMedia, RemoteMedia};
use crate::{Dial, IncomingCall, SipCallId, SipError, SipEvent, Transport, number};

pub(crate) type Reply = oneshot::Sender<Result<(), SipError>>;

pub(crate) enum Command {
    Ringing(Reply),
    Answer(LocalMedia, Reply),
    Reject(u16, Reply),
    Hold(bool, Reply),
    Hangup(Reply),
}

fn sdp_header() -> Header {
    Header::ContentType("application/sdp".into())
}

fn sip_transport(t: Transport) -> rsipstack::sip::Transport {
    match t {
        Transport::Udp => rsipstack::sip::Transport::Udp,
        Transport::Tcp => rsipstack::sip::Transport::Tcp,
    }
}

fn parse_uri(s: &str) -> Result<Uri, SipError> {
    Uri::try_from(s).map_err(|e| SipError::Stack(e.to_string()))
}

/// Session version for our SDP `o=` line; bumped on every new offer of a call.
struct SdpState {
    local: LocalMedia,
    version: u64,
}

impl SdpState {
    fn next_offer(&mut self, direction: Direction) -> Vec<u8> {
        self.version += 1;
        sdp::offer(self.local, self.version, direction).into_bytes()
    }

    fn next_answer(&mut self, remote: &RemoteMedia) -> Vec<u8> {
        self.version += 1;
        sdp::answer(self.local, self.version, remote).into_bytes()
    }
}

/// Starts an outbound call. Only what needs no I/O happens before the id is
/// returned: the trunk's host is resolved (DNS may take seconds) and the
/// INVITE sent in the call's own task, so the caller never waits on the
/// network. A failure there comes back as `Failed` (503) like any other.
pub(crate) fn dial(inner: &Arc<Inner>, dial: Dial) -> Result<SipCallId, SipError> {
    if !number::is_e164(&dial.to) || !number::is_e164(&dial.from) {
        return Err(SipError::BadNumber);
    }
    let trunk = inner
        .gate
        .trunk(dial.tenant, &dial.trunk)
        .ok_or(SipError::UnknownTrunk)?;
    let call = inner.new_call_id();
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    if let Ok(mut calls) = inner.calls.lock() {
        calls.insert(call, cmd_tx);
    }
    debug!(?call, to = %dial.to, "dialing");
    let inner = inner.clone();
    tokio::spawn(async move {
        match send_invite(&inner, &trunk, dial).await {
            Ok(invite) => outbound(inner, call, invite, cmd_rx).await,
            Err(e) => {
                debug!(?call, error = %e, "the INVITE could not be sent");
                inner.forget(call);
                inner.emit(SipEvent::Failed {
                    call,
                    code: 503,
                    reason: e.to_string(),
                });
            }
        }
    });
    Ok(call)
}

/// An INVITE on its way: the dialog, the transaction that ends in its final
/// response, the dialog's state changes, and our side of the SDP.
struct Invite {
    dialog: InviteDialog,
    join: tokio::task::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
    states: DialogStateReceiver,
    sdp_state: SdpState,
}

/// Resolves the trunk and sends the INVITE with our SDP offer.
async fn send_invite(
    inner: &Arc<Inner>,
    trunk: &crate::Trunk,
    dial: Dial,
) -> Result<Invite, SipError> {
    let dest = tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(SipError::Resolve)?;
    let transport_param = match trunk.transport {
        Transport::Udp => "",
        Transport::Tcp => ";transport=tcp",
    };
    let host = &inner.config.announce;
    let port = inner.local.port();
    let host_text = match host {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let trunk_host = if trunk.host.contains(':') {
        format!("[{}]", trunk.host)
    } else {
        trunk.host.clone()
    };
    let caller = parse_uri(&format!("sip:{}@{host_text}", dial.from))?;
    let callee = parse_uri(&format!(
        "sip:{}@{trunk_host}:{}{transport_param}",
        dial.to, trunk.port
    ))?;
    let contact = parse_uri(&format!(
        "sip:{}@{host_text}:{port}{transport_param}",
        dial.from
    ))?;
    let credential = match (&trunk.username, &trunk.password) {
        (Some(u), Some(p)) => Some(Credential {
            username: u.clone(),
            password: p.clone(),
            realm: None,
            auth_username: None,
        }),
        _ => None,
    };
    let mut sdp_state = SdpState {
        local: dial.media,
        version: 0,
    };
    let offer = sdp_state.next_offer(Direction::SendRecv);
    let option = InviteOption {
        caller,
        callee,
        contact,
        destination: Some(SipAddr {
            r#type: Some(sip_transport(trunk.transport)),
            addr: dest.into(),
        }),
        content_type: Some("application/sdp".into()),
        offer: Some(offer),
        credential,
        // We accept reliable provisionals (PRACK) but never require them.
        support_prack: true,
        ..Default::default()
    };
    let (state_tx, state_rx) = inner.dialogs.new_dialog_state_channel();
    let (dialog, join) = inner.dialogs.do_invite_async(option, state_tx)?;
    Ok(Invite {
        dialog,
        join,
        states: state_rx,
        sdp_state,
    })
}

async fn outbound(
    inner: Arc<Inner>,
    call: SipCallId,
    invite: Invite,
    mut commands: mpsc::Receiver<Command>,
) {
    let Invite {
        dialog,
        mut join,
        mut states,
        mut sdp_state,
    } = invite;
    let deadline = tokio::time::Instant::now() + inner.config.no_answer_timeout;
    let mut early_answers = EarlyAnswers::default();
    let mut answered = false;
    let mut invite_done = false;
    let mut timed_out = false;
    let mut hung_up = false;
    loop {
        tokio::select! {
            result = &mut join, if !invite_done => {
                invite_done = true;
                // The provisionals reach us on the state channel, the final response
                // here: take what is queued first, so a 2xx never overtakes the 1xx
                // before it (its Progress, or the answer a reliable 183 delivered).
                while let Ok(state) = states.try_recv() {
                    match state {
                        DialogState::Early(_, resp) => early_answers.progress(&inner, call, &resp),
                        DialogState::Updated(_, req, handle) => {
                            remote_reinvite(&inner, call, &req, &handle, &mut sdp_state).await;
                        }
                        _ => {}
                    }
                }
                match result {
                    Ok(Ok((_, Some(resp)))) if resp.status_code.kind() == StatusCodeKind::Successful => {
                        match early_answers.answer_in(&resp) {
                            Ok(media) if !hung_up => {
                                answered = true;
                                let sip_call_id = resp.call_id_header().map(|c| c.value().to_string()).unwrap_or_default();
                                inner.emit(SipEvent::Answered { call, sip_call_id, media });
                            }
                            Ok(_) => {
                                // Our CANCEL lost the race against the 200: end it.
                                let _ = dialog.bye().await;
                                inner.emit(SipEvent::Ended { call, by_remote: false, code: None });
                                break;
                            }
                            Err(e) => {
                                debug!(error = %e, "answer SDP unusable");
                                let _ = dialog.bye().await;
                                inner.emit(SipEvent::Failed { call, code: 488, reason: "unusable SDP answer".into() });
                                break;
                            }
                        }
                    }
                    Ok(Ok((_, resp))) => {
                        let code = resp.as_ref().map(|r| r.status_code.code());
                        if timed_out {
                            inner.emit(SipEvent::Failed { call, code: 408, reason: "no answer".into() });
                        } else if hung_up {
                            inner.emit(SipEvent::Ended { call, by_remote: false, code });
                        } else {
                            let (code, reason) = match &resp {
                                Some(r) => (r.status_code.code(), r.status_code.to_string()),
                                None => (408, "no final response".into()),
                            };
                            inner.emit(SipEvent::Failed { call, code, reason });
                        }
                        break;
                    }
                    Ok(Err(e)) => {
                        debug!(error = %e, "INVITE failed");
                        inner.emit(SipEvent::Failed { call, code: 503, reason: "trunk unreachable".into() });
                        break;
                    }
                    Err(_) => {
                        inner.emit(SipEvent::Failed { call, code: 503, reason: "INVITE task ended".into() });
                        break;
                    }
                }
            }
            state = states.recv() => match state {
                Some(DialogState::Early(_, resp)) if !answered => {
                    early_answers.progress(&inner, call, &resp);
                }
                Some(DialogState::Updated(_, req, handle)) => {
                    remote_reinvite(&inner, call, &req, &handle, &mut sdp_state).await;
                }
                Some(DialogState::Terminated(..)) if answered => {
                    inner.emit(SipEvent::Ended { call, by_remote: true, code: None });
                    break;
                }
                None if invite_done => break,
                _ => {}
            },
            () = tokio::time::sleep_until(deadline), if !answered && !invite_done && !timed_out => {
                timed_out = true;
                if let Err(e) = dialog.cancel().await {
                    debug!(error = %e, "CANCEL failed");
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    Command::Hangup(reply) => {
                        if answered {
                            let _ = dialog.bye().await;
                            inner.emit(SipEvent::Ended { call, by_remote: false, code: None });
                            let _ = reply.send(Ok(()));
                            break;
                        }
                        if !hung_up {
                            hung_up = true;
                            let _ = dialog.cancel().await;
                        }
                        let _ = reply.send(Ok(()));
                    }
                    Command::Hold(on, reply) => {
                        if !answered {
                            let _ = reply.send(Err(SipError::WrongState));
                            continue;
                        }
                        let dir = if on { Direction::SendOnly } else { Direction::SendRecv };
                        let body = sdp_state.next_offer(dir);
                        let result = dialog.reinvite(Some(vec![sdp_header()]), Some(body)).await;
                        let _ = reply.send(reinvite_result(result));
                    }
                    Command::Ringing(reply) | Command::Answer(_, reply) | Command::Reject(_, reply) => {
                        let _ = reply.send(Err(SipError::WrongState));
                    }
                }
            }
        }
    }
    inner.forget(call);
    inner.dialogs.remove_dialog(&dialog.id());
}

/// SDP answers that reliable provisionals delivered, by the To tag of their early
/// dialog. With 100rel the offer/answer exchange can complete in a 183 (RFC 3262
/// section 5, RFC 3264): the 2xx that follows then carries no SDP, or the same.
#[derive(Default)]
struct EarlyAnswers(Vec<(String, RemoteMedia)>);

fn to_tag(resp: &Response) -> Option<String> {
    let tag = resp.to_header().ok()?.tag().ok()??;
    Some(tag.value().to_string())
}

impl EarlyAnswers {
    /// A provisional response: reported as `Progress`; a reliable one's SDP kept.
    fn progress(&mut self, inner: &Inner, call: SipCallId, resp: &Response) {
        let code = resp.status_code.code();
        let media = if resp.body.is_empty() {
            None
        } else {
            sdp::parse(&resp.body).ok()
        };
        if let Some(m) = &media
            && resp.header_contains_token("Require", "100rel")
            && let Some(tag) = to_tag(resp)
            && !self.0.iter().any(|(t, _)| *t == tag)
        {
            // Only the first SDP of an early dialog is the answer; later ones repeat it.
            self.0.push((tag, m.clone()));
        }
        inner.emit(SipEvent::Progress { call, code, media });
    }

    /// The remote media of a 2xx to our INVITE: its own SDP, or else the answer a
    /// reliable provisional of the same dialog delivered.
    fn answer_in(&self, resp: &Response) -> Result<RemoteMedia, sdp::SdpError> {
        if resp.body.is_empty()
            && let Some(tag) = to_tag(resp)
            && let Some((_, media)) = self.0.iter().find(|(t, _)| *t == tag)
        {
            return Ok(media.clone());
        }
        sdp::parse(&resp.body)
    }
}

fn reinvite_result(
    result: rsipstack::Result<Option<rsipstack::sip::Response>>,
) -> Result<(), SipError> {
    match result {
        Ok(Some(resp)) if resp.status_code.kind() == StatusCodeKind::Successful => Ok(()),
        Ok(Some(resp)) => Err(SipError::Stack(format!(
            "re-INVITE answered {}",
            resp.status_code.code()
        ))),
        Ok(None) => Err(SipError::WrongState),
        Err(e) => Err(e.into()),
    }
}

/// A re-INVITE from the peer: tell the server, answer with a matching direction.
async fn remote_reinvite(
    inner: &Inner,
    call: SipCallId,
    req: &Request,
    handle: &TransactionHandle,
    sdp_state: &mut SdpState,
) {
    if req.body.is_empty() {
        // An offerless re-INVITE: we offer our current session.
        let body = sdp_state.next_offer(Direction::SendRecv);
        let _ = handle
            .respond(StatusCode::OK, Some(vec![sdp_header()]), Some(body))
            .await;
        return;
    }
    match sdp::parse(&req.body) {
        Ok(media) => {
            let body = sdp_state.next_answer(&media);
            inner.emit(SipEvent::RemoteHold { call, media });
            let _ = handle
                .respond(StatusCode::OK, Some(vec![sdp_header()]), Some(body))
                .await;
        }
        Err(_) => {
            let _ = handle.reply(StatusCode::NotAcceptableHere).await;
        }
    }
}

/// A new INVITE from the network.
pub(crate) async fn incoming(inner: &Arc<Inner>, mut tx: Transaction) {
    let Some((source, transport)) = crate::agent::source_of(&tx) else {
        let _ = tx.reply(StatusCode::ServerInternalError).await;
        return;
    };
    let from = tx
        .original
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .and_then(|u| u.auth.map(|a| a.user))
        .map(|u| number::normalise(&u))
        .unwrap_or_default();
    let to_user = tx
        .original
        .uri
        .auth
        .as_ref()
        .map(|a| a.user.clone())
        .or_else(|| {
            tx.original
                .to_header()
                .ok()
                .and_then(|t| t.uri().ok())
                .and_then(|u| u.auth.map(|a| a.user))
        })
        .unwrap_or_default();
    let to = number::normalise(&to_user);
    // Judged and rate counted before the stack (`Gate::judge`); here only
    // whose trunk it is (by source, and by called number when tenants share
    // the address). A trunk removed meanwhile is refused the same way.
    let (tenant, trunk) = match inner.gate.admit(source.ip(), &to) {
        Admission::Allowed { tenant, trunk } => (tenant, trunk),
        Admission::Forbidden => {
            let _ = tx.reply(StatusCode::Forbidden).await;
            return;
        }
        Admission::UnknownNumber => {
            let _ = tx.reply(StatusCode::NotFound).await;
            return;
        }
    };
    let media = match sdp::parse(&tx.original.body) {
        Ok(m) => m,
        Err(e) => {
            debug!(error = %e, "INVITE offer unusable");
            let _ = tx.reply(StatusCode::NotAcceptableHere).await;
            return;
        }
    };
    let sip_call_id = tx
        .original
        .call_id_header()
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let host_text = match inner.config.announce {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let transport_param = if transport == Transport::Tcp {
        ";transport=tcp"
    } else {
        ""
    };
    let contact = parse_uri(&format!(
        "sip:{host_text}:{}{transport_param}",
        inner.local.port()
    ))
    .ok();
    let reliable = Reliable::required_by(&tx.original);
    let (state_tx, state_rx) = inner.dialogs.new_dialog_state_channel();
    let dialog = match inner
        .dialogs
        .get_or_create_server_invite(&tx, state_tx, None, contact)
    {
        Ok(d) => d,
        Err(e) => {
            debug!(error = %e, "cannot create server dialog");
            let _ = tx.reply(StatusCode::ServerInternalError).await;
            return;
        }
    };
    let call = inner.new_call_id();
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    if let Ok(mut calls) = inner.calls.lock() {
        calls.insert(call, cmd_tx);
    }
    // The dialog's own loop answers 100 Trying at once, then waits for our final
    // response, the ACK or a CANCEL.
    let mut uas = dialog.clone();
    tokio::spawn(async move {
        if let Err(e) = uas.handle(&mut tx).await {
            debug!(error = %e, "inbound INVITE transaction ended with error");
        }
    });
    debug!(?call, %from, %to, "incoming call");
    inner.emit(SipEvent::Incoming(IncomingCall {
        call,
        tenant,
        trunk,
        from,
        to,
        sip_call_id,
        media: media.clone(),
    }));
    tokio::spawn(inbound(
        inner.clone(),
        call,
        dialog,
        media,
        reliable,
        state_rx,
        cmd_rx,
    ));
}

/// RFC 3262 timer T1, and how long an unacknowledged reliable provisional is
/// retransmitted (64*T1) before the INVITE is refused.
const T1: Duration = Duration::from_millis(500);
const RELIABLE_GIVE_UP: Duration = Duration::from_secs(32);

/// Our reliable provisionals (RFC 3262) on an inbound call whose INVITE has
/// `Require: 100rel`: the 180 then carries `Require: 100rel` and an RSeq, and is
/// sent again at T1, 2*T1, 4*T1... until the PRACK arrives. A second one waits for
/// the PRACK of the first (section 3).
struct Reliable {
    invite_cseq: u32,
    next_rseq: u32,
    pending: Option<Pending>,
}

/// A reliable provisional not yet known to be acknowledged.
struct Pending {
    rseq: u32,
    /// The peer's highest CSeq when it went out.
    floor: u32,
    interval: Duration,
    next: tokio::time::Instant,
    give_up: tokio::time::Instant,
}

impl Reliable {
    /// Only when the caller requires it: with `Supported: 100rel` alone an
    /// unreliable 180 is the interoperable choice.
    fn required_by(invite: &Request) -> Option<Reliable> {
        if !invite.header_contains_token("Require", "100rel") {
            return None;
        }
        Some(Reliable {
            invite_cseq: invite.cseq_header().ok()?.seq().ok()?,
            // The first RSeq is random in 1..2^31 (section 3).
            next_rseq: rand::random_range(1..1u32 << 31),
            pending: None,
        })
    }

    /// Whether the pending provisional was acknowledged. rsipstack answers the
    /// PRACK itself, without telling the dialog's owner, but records its CSeq: a
    /// request in the dialog with a higher CSeq than when the provisional went out
    /// means the peer has it (it needed its To tag).
    fn acknowledged(&self, dialog: &InviteDialog) -> bool {
        self.pending
            .as_ref()
            .is_none_or(|p| dialog.snapshot().remote_cseq > p.floor)
    }

    fn send(dialog: &InviteDialog, rseq: u32) -> Result<(), SipError> {
        let headers = vec![
            Header::Require("100rel".into()),
            Header::RSeq(rseq.to_string().into()),
        ];
        dialog.ringing(Some(headers), None).map_err(SipError::from)
    }

    /// The `ringing` command.
    fn ring(&mut self, dialog: &InviteDialog) -> Result<(), SipError> {
        if !self.acknowledged(dialog) {
            // Still being retransmitted; the peer will hear it.
            return Ok(());
        }
        let rseq = self.next_rseq;
        Self::send(dialog, rseq)?;
        self.next_rseq = rseq.wrapping_add(1);
        let now = tokio::time::Instant::now();
        self.pending = Some(Pending {
            rseq,
            floor: dialog.snapshot().remote_cseq.max(self.invite_cseq),
            interval: T1,
            next: now + T1,
            give_up: now + RELIABLE_GIVE_UP,
        });
        Ok(())
    }

    /// When the pending provisional is due again.
    fn due(&self) -> Option<tokio::time::Instant> {
        self.pending.as_ref().map(|p| p.next)
    }

    /// At `due`: done if acknowledged, else sent again. False once it is time to
    /// give up (no PRACK within 64*T1).
    fn retransmit(&mut self, dialog: &InviteDialog) -> bool {
        if self.acknowledged(dialog) {
            self.pending = None;
            return true;
        }
        let Some(p) = self.pending.as_mut() else {
            return true;
        };
        let now = tokio::time::Instant::now();
        if now >= p.give_up {
            self.pending = None;
            return false;
        }
        if let Err(e) = Self::send(dialog, p.rseq) {
            debug!(error = %e, "reliable provisional not sent again");
        }
        p.interval *= 2;
        p.next = now + p.interval;
        true
    }
}

async fn inbound(
    inner: Arc<Inner>,
    call: SipCallId,
    dialog: InviteDialog,
    offer: RemoteMedia,
    mut reliable: Option<Reliable>,
    mut states: DialogStateReceiver,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut sdp_state: Option<SdpState> = None;
    let mut answered = false;
    let mut finished = false;
    loop {
        let retransmit_at = reliable.as_ref().and_then(Reliable::due);
        tokio::select! {
            () = sleep_until_some(retransmit_at), if retransmit_at.is_some() => {
                let Some(r) = reliable.as_mut() else { continue };
                if !r.retransmit(&dialog) && !answered && !finished {
                    // No PRACK within 64*T1: RFC 3262 section 3 wants a 5xx.
                    debug!(?call, "reliable provisional never acknowledged");
                    let _ = dialog.reject(Some(StatusCode::ServerInternalError), None);
                    finished = true;
                    inner.emit(SipEvent::Ended { call, by_remote: false, code: Some(500) });
                }
            }
            state = states.recv() => match state {
                Some(DialogState::Updated(_, req, handle)) => {
                    if let Some(s) = sdp_state.as_mut() {
                        remote_reinvite(&inner, call, &req, &handle, s).await;
                    } else {
                        let _ = handle.reply(StatusCode::RequestPending).await;
                    }
                }
                Some(DialogState::Terminated(_, reason)) => {
                    if !finished {
                        let code = match reason {
                            TerminatedReason::UacCancel => Some(487),
                            TerminatedReason::Timeout => Some(408),
                            _ => None,
                        };
                        let by_remote = !matches!(reason, TerminatedReason::Timeout);
                        inner.emit(SipEvent::Ended { call, by_remote, code });
                    }
                    break;
                }
                None => break,
                _ => {}
            },
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    Command::Ringing(reply) => {
                        let r = if answered || finished {
                            Err(SipError::WrongState)
                        } else if let Some(r) = reliable.as_mut() {
                            r.ring(&dialog)
                        } else {
                            dialog.ringing(None, None).map_err(SipError::from)
                        };
                        let _ = reply.send(r);
                    }
                    Command::Answer(local, reply) => {
                        if answered || finished {
                            let _ = reply.send(Err(SipError::WrongState));
                            continue;
                        }
                        let mut s = SdpState { local, version: 0 };
                        let body = s.next_answer(&offer);
                        sdp_state = Some(s);
                        // The 180 carried no SDP, so the 200 need not wait for its
                        // PRACK (RFC 3262 section 3); a final response ends its
                        // retransmissions.
                        let r = dialog.accept(Some(vec![sdp_header()]), Some(body)).map_err(SipError::from);
                        answered = r.is_ok();
                        if answered && let Some(r) = reliable.as_mut() {
                            r.pending = None;
                        }
                        let _ = reply.send(r);
                    }
                    Command::Reject(code, reply) => {
                        if answered || finished {
                            let _ = reply.send(Err(SipError::WrongState));
                            continue;
                        }
                        let r = dialog.reject(Some(StatusCode::from(code)), None).map_err(SipError::from);
                        finished = true;
                        reliable = None;
                        inner.emit(SipEvent::Ended { call, by_remote: false, code: Some(code) });
                        let _ = reply.send(r);
                    }
                    Command::Hold(on, reply) => {
                        let Some(s) = sdp_state.as_mut().filter(|_| answered && !finished) else {
                            let _ = reply.send(Err(SipError::WrongState));
                            continue;
                        };
                        let dir = if on { Direction::SendOnly } else { Direction::SendRecv };
                        let body = s.next_offer(dir);
                        let result = dialog.reinvite(Some(vec![sdp_header()]), Some(body)).await;
                        let _ = reply.send(reinvite_result(result));
                    }
                    Command::Hangup(reply) => {
                        if !finished {
                            if answered {
                                let _ = dialog.bye().await;
                                inner.emit(SipEvent::Ended { call, by_remote: false, code: None });
                            } else {
                                let _ = dialog.reject(Some(StatusCode::TemporarilyUnavailable), None);
                                inner.emit(SipEvent::Ended { call, by_remote: false, code: Some(480) });
                            }
                        }
                        let _ = reply.send(Ok(()));
                        break;
                    }
                }
            }
        }
    }
    inner.forget(call);
    inner.dialogs.remove_dialog(&dialog.id());
}

/// Sleeps until `at`; never returns for `None` (a disabled `select!` branch).
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
