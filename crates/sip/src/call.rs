//! One task per call. The task owns the rsipstack dialog and its state channel;
//! the agent's methods reach it as [`Command`]s.

use std::sync::Arc;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::TerminatedReason;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, TransactionHandle};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt as _;
use rsipstack::sip::{Header, Request, StatusCode, StatusCodeKind, Uri};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipAddr;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::agent::{Admission, Inner};
use crate::sdp::{self, Direction, LocalMedia, RemoteMedia};
use crate::{Dial, SipCallId, SipError, SipEvent, Transport, number};

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
            Ok((dialog, join, states, sdp_state)) => {
                outbound(inner, call, dialog, join, states, cmd_rx, sdp_state).await;
            }
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

type Invite = (
    InviteDialog,
    tokio::task::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
    DialogStateReceiver,
    SdpState,
);

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
    Ok((dialog, join, state_rx, sdp_state))
}

#[allow(clippy::too_many_arguments)]
async fn outbound(
    inner: Arc<Inner>,
    call: SipCallId,
    dialog: InviteDialog,
    mut join: tokio::task::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
    mut states: DialogStateReceiver,
    mut commands: mpsc::Receiver<Command>,
    mut sdp_state: SdpState,
) {
    let deadline = tokio::time::Instant::now() + inner.config.no_answer_timeout;
    let mut answered = false;
    let mut invite_done = false;
    let mut timed_out = false;
    let mut hung_up = false;
    loop {
        tokio::select! {
            result = &mut join, if !invite_done => {
                invite_done = true;
                match result {
                    Ok(Ok((_, Some(resp)))) if resp.status_code.kind() == StatusCodeKind::Successful => {
                        match sdp::parse(&resp.body) {
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
                    let code = resp.status_code.code();
                    let media = if resp.body.is_empty() { None } else { sdp::parse(&resp.body).ok() };
                    inner.emit(SipEvent::Progress { call, code, media });
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
    // UDP INVITEs were gated (and rate counted) before the stack; TCP ones are here.
    let admission = match transport {
        Transport::Tcp => inner.gate.admit(source.ip()),
        Transport::Udp => match inner.gate.trunk_for_source(source.ip()) {
            Some((tenant, trunk)) => Admission::Allowed { tenant, trunk },
            None => Admission::Forbidden,
        },
    };
    let (tenant, trunk) = match admission {
        Admission::Allowed { tenant, trunk } => (tenant, trunk),
        Admission::Forbidden => {
            let _ = tx.reply(StatusCode::Forbidden).await;
            return;
        }
        Admission::Limited { retry_after } => {
            let headers = vec![Header::RetryAfter(retry_after.to_string().into())];
            let _ = tx
                .reply_with(StatusCode::ServiceUnavailable, headers, None)
                .await;
            return;
        }
        Admission::Silent => return,
    };
    let media = match sdp::parse(&tx.original.body) {
        Ok(m) => m,
        Err(e) => {
            debug!(error = %e, "INVITE offer unusable");
            let _ = tx.reply(StatusCode::NotAcceptableHere).await;
            return;
        }
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
    inner.emit(SipEvent::Incoming {
        call,
        tenant,
        trunk,
        from,
        to,
        sip_call_id,
        media: media.clone(),
    });
    tokio::spawn(inbound(
        inner.clone(),
        call,
        dialog,
        media,
        state_rx,
        cmd_rx,
    ));
}

async fn inbound(
    inner: Arc<Inner>,
    call: SipCallId,
    dialog: InviteDialog,
    offer: RemoteMedia,
    mut states: DialogStateReceiver,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut sdp_state: Option<SdpState> = None;
    let mut answered = false;
    let mut finished = false;
    loop {
        tokio::select! {
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
                        let r = if answered || finished { Err(SipError::WrongState) } else { dialog.ringing(None, None).map_err(SipError::from) };
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
                        let r = dialog.accept(Some(vec![sdp_header()]), Some(body)).map_err(SipError::from);
                        answered = r.is_ok();
                        let _ = reply.send(r);
                    }
                    Command::Reject(code, reply) => {
                        if answered || finished {
                            let _ = reply.send(Err(SipError::WrongState));
                            continue;
                        }
                        let r = dialog.reject(Some(StatusCode::from(code)), None).map_err(SipError::from);
                        finished = true;
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
