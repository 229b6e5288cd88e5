//! The agent: listeners, request dispatch, the source gate and the public handle.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog::Dialog;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::SipMessage;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::CallIdFormat;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::endpoint::{EndpointOption, MessageInspector};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipAddr;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::udp::UdpConnection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::call::{self, Command};
use crate::canonical;
use crate::ratelimit::{RateLimiter, Verdict as Rate};
use crate::refusal::{Refusal, refused};
use crate::tcp;
use crate::validate::{self, Kind, Verdict};
use crate::{
    Dial, LocalMedia, SipCallId, SipConfig, SipError, SipEvent, TenantId, Transport, Trunk,
};

/// Sources tracked by the rate limiter at most.
const MAX_TRACKED_SOURCES: usize = 4096;
const EVENT_QUEUE: usize = 1024;

/// Cloneable handle to the running agent.
#[derive(Clone)]
pub struct SipAgent {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: SipConfig,
    pub local: SocketAddr,
    pub endpoint: EndpointInnerRef,
    pub dialogs: Arc<DialogLayer>,
    pub gate: Arc<Gate>,
    pub calls: Mutex<HashMap<SipCallId, mpsc::Sender<Command>>>,
    pub events: mpsc::Sender<SipEvent>,
    next_id: AtomicU64,
    pub cancel: CancellationToken,
    keepalive: Mutex<CancellationToken>,
}

impl Inner {
    pub fn emit(&self, event: SipEvent) {
        // A full or closed queue means the server is gone or stuck; dropping is the
        // only choice that keeps signalling running.
        if self.events.try_send(event).is_err() {
            warn!("SIP event queue full or closed; event dropped");
        }
    }

    pub fn new_call_id(&self) -> SipCallId {
        SipCallId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub fn forget(&self, call: SipCallId) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(&call);
        }
    }
}

/// A trunk and the addresses its INVITEs may come from.
pub(crate) struct TrunkEntry {
    pub trunk: Trunk,
    pub sources: Vec<IpAddr>,
}

/// Which sources may start calls, and how fast.
pub(crate) struct Gate {
    pub trunks: RwLock<Vec<TrunkEntry>>,
    /// INVITEs per trunk source: only trunk addresses are ever counted here,
    /// so no stranger's traffic can fill or evict it.
    trunk_limiter: Mutex<RateLimiter>,
    /// Every request from a source that is no trunk's.
    public_limiter: Mutex<RateLimiter>,
    /// `Server` header of our stateless answers; empty = none.
    server: String,
    /// REGISTERs go here ([`crate::registrar`]).
    pub registrar: Arc<crate::registrar::gate::Slot>,
}

pub(crate) enum Admission {
    Allowed {
        tenant: TenantId,
        trunk: String,
    },
    /// No trunk has this source address.
    Forbidden,
    /// Several tenants' trunks have it, and none lists the called number.
    UnknownNumber,
}

/// What the gate makes of one message from the network, before the stack.
pub(crate) enum Judgement {
    /// Hand the first `len` bytes to the stack as they are.
    Pass { len: usize },
    /// Hand this plain spelling of the message to the stack instead
    /// (folded lines, LWS, RFC 2543: see [`canonical`]).
    Rewritten(Vec<u8>),
    /// Answer statelessly with these bytes; the stack never sees it.
    Answer(Vec<u8>),
    /// Neither pass nor answer.
    Drop,
}

fn limit(limiter: &Mutex<RateLimiter>, ip: IpAddr) -> Rate {
    match limiter.lock() {
        Ok(mut l) => l.check(ip, Instant::now()),
        Err(_) => Rate::Allow,
    }
}

/// Whether a request's To header carries a tag: it belongs to a dialog.
fn in_dialog(data: &[u8]) -> bool {
    validate::parse(data)
        .and_then(|m| {
            m.one("to").map(|to| {
                to.split(';')
                    .skip(1)
                    .any(|p| p.trim().to_ascii_lowercase().starts_with("tag"))
            })
        })
        .unwrap_or(false)
}

impl Gate {
    /// Whose trunk an initial INVITE that passed [`Gate::judge`], from `ip`
    /// to `to` (E.164), came in on: the one
    /// trunk at that address, or the first by (tenant, name) when all of
    /// its trunks are one tenant's; when several tenants share it, the
    /// trunk listing `to` among its numbers (`tenant apply` keeps those
    /// apart). Never the order trunks were given in.
    pub fn admit(&self, ip: IpAddr, to: &str) -> Admission {
        let Ok(trunks) = self.trunks.read() else {
            return Admission::Forbidden;
        };
        let mut at: Vec<&Trunk> = trunks
            .iter()
            .filter(|t| t.sources.contains(&ip))
            .map(|t| &t.trunk)
            .collect();
        at.sort_by(|a, b| (a.tenant.0, &a.name).cmp(&(b.tenant.0, &b.name)));
        let Some(first) = at.first() else {
            return Admission::Forbidden;
        };
        let shared = at.iter().any(|t| t.tenant != first.tenant);
        let chosen = if shared {
            at.iter().find(|t| t.numbers.iter().any(|n| n == to))
        } else {
            Some(first)
        };
        match chosen {
            Some(t) => Admission::Allowed {
                tenant: t.tenant,
                trunk: t.name.clone(),
            },
            None => Admission::UnknownNumber,
        }
    }

    fn is_trunk_source(&self, ip: IpAddr) -> bool {
        self.trunks
            .read()
            .is_ok_and(|t| t.iter().any(|t| t.sources.contains(&ip)))
    }

    pub fn trunk(&self, tenant: TenantId, name: &str) -> Option<Trunk> {
        let trunks = self.trunks.read().ok()?;
        trunks
            .iter()
            .find(|t| t.trunk.tenant == tenant && t.trunk.name == name)
            .map(|t| t.trunk.clone())
    }

    fn answer(
        &self,
        data: &[u8],
        code: u16,
        reason: &str,
        extra: &[(&'static str, String)],
    ) -> Judgement {
        match validate::build_response(data, code, reason, extra, &self.server) {
            Some(resp) => Judgement::Answer(resp),
            None => Judgement::Drop,
        }
    }

    /// Judges one message from `from` (a datagram, or one message framed
    /// from a TCP stream): the RFC 3261 checks ([`validate`]), then the source:
    /// a trunk's initial INVITEs count against the trunk limit; anything from
    /// elsewhere counts against the public limit and, unless it belongs to a
    /// dialog, is answered here without a transaction (INVITE 403, OPTIONS
    /// 200, the rest 481). Every refusal is counted and logged ([`refusal`]).
    pub fn judge(&self, data: &[u8], from: SocketAddr) -> Judgement {
        self.judge_on(data, from, Transport::Udp)
    }

    /// [`Gate::judge`] for a message that came over `transport`.
    pub fn judge_on(&self, data: &[u8], from: SocketAddr, transport: Transport) -> Judgement {
        let (len, message) = match validate::check(data) {
            Verdict::Drop => {
                debug!(%from, "message dropped by validation");
                return Judgement::Drop;
            }
            Verdict::Reply {
                code,
                reason,
                extra,
            } => {
                debug!(%from, code, "request refused by validation");
                refused(Refusal::Invalid);
                return self.answer(data, code, reason, &extra);
            }
            Verdict::Pass { len, message } => (len, message),
        };
        let data = &data[..len];
        if let Kind::Request {
            method,
            initial_invite,
        } = &message
        {
            if method == "REGISTER" {
                return match self.registrar.handle(data, from, transport, &self.server) {
                    Some(answer) => Judgement::Answer(answer),
                    None => Judgement::Drop,
                };
            }
            let rate = |refusal, verdict| match verdict {
                Rate::Allow => None,
                Rate::Reject { retry_after } => {
                    debug!(%from, "request rate limit reached");
                    refused(refusal);
                    let extra = [("Retry-After", retry_after.to_string())];
                    Some(self.answer(data, 503, "Service Unavailable", &extra))
                }
                Rate::Drop => {
                    refused(refusal);
                    Some(Judgement::Drop)
                }
            };
            if self.is_trunk_source(from.ip()) {
                if *initial_invite
                    && let Some(j) = rate(Refusal::TrunkRate, limit(&self.trunk_limiter, from.ip()))
                {
                    return j;
                }
            } else {
                if let Some(j) = rate(Refusal::PublicRate, limit(&self.public_limiter, from.ip())) {
                    return j;
                }
                if *initial_invite {
                    debug!(%from, "INVITE from a source that is no trunk");
                    refused(Refusal::NotTrunk);
                    return self.answer(data, 403, "Forbidden: not a trunk", &[]);
                }
                if !matches!(method.as_str(), "ACK" | "CANCEL") && !in_dialog(data) {
                    if method == "OPTIONS" {
                        let extra = [
                            ("Allow", validate::ALLOWED.to_string()),
                            ("Accept", "application/sdp".to_string()),
                        ];
                        return self.answer(data, 200, "OK", &extra);
                    }
                    refused(Refusal::NoDialog);
                    return self.answer(data, 481, "Call/Transaction Does Not Exist", &[]);
                }
            }
        }
        if stack_takes(data) {
            return Judgement::Pass { len };
        }
        // Valid, but spelled in a way rsipstack does not take (folded lines,
        // LWS, RFC 2543): hand on the plain spelling.
        let plain = canonical::canonical(data)
            .filter(|p| p.len() <= MAX_MESSAGE)
            .filter(|p| rsipstack::sip::SipMessage::try_from(p.as_slice()).is_ok());
        if let Some(plain) = plain {
            debug!(%from, "message rewritten to plain form");
            return Judgement::Rewritten(plain);
        }
        // Answer rather than let it vanish.
        debug!(%from, "message valid but not parseable by rsipstack");
        if matches!(message, Kind::Request { .. }) {
            refused(Refusal::Invalid);
            return self.answer(data, 400, "Bad Request", &[]);
        }
        Judgement::Drop
    }
}

/// The largest message we pass on.
const MAX_MESSAGE: usize = 64 * 1024;

/// The UDP socket rsipstack reads from: every datagram is judged before the stack
/// sees it ([`Gate::judge`]).
struct GuardedUdp {
    socket: tokio::net::UdpSocket,
    gate: Arc<Gate>,
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for GuardedUdp {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            let data = &buf[..n];
            if data.iter().all(u8::is_ascii_whitespace) {
                // CRLF keepalives are the stack's business (RFC 5626 §4.4.1).
                return Ok((n, from));
            }
            match self.gate.judge(data, from) {
                Judgement::Pass { len } => return Ok((len, from)),
                Judgement::Rewritten(plain) if plain.len() <= buf.len() => {
                    buf[..plain.len()].copy_from_slice(&plain);
                    return Ok((plain.len(), from));
                }
                Judgement::Rewritten(_) | Judgement::Drop => {}
                Judgement::Answer(resp) => {
                    // UDP sends do not wait on the peer.
                    if let Err(e) = self.socket.send_to(&resp, from).await {
                        debug!(error = %e, "could not send stateless response");
                    }
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        // What we send an RFC 2543 peer carries its own From again.
        if let Some(plain) = canonical::strip_synthetic_tag(buf) {
            self.socket.send_to(&plain, addr).await?;
            return Ok(buf.len());
        }
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}

/// rsipstack takes this message as it is: it parses, and the transaction key
/// can be built from it (a typed top Via and, for a request, a From tag).
/// Anything else goes through [`canonical`] first.
fn stack_takes(data: &[u8]) -> bool {
    use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
    match rsipstack::sip::SipMessage::try_from(data) {
        Ok(rsipstack::sip::SipMessage::Request(req)) => {
            req.top_via_header().is_ok_and(|v| v.typed().is_ok())
                && req
                    .from_header()
                    .is_ok_and(|f| f.tag().is_ok_and(|t| t.is_some()))
        }
        Ok(rsipstack::sip::SipMessage::Response(_)) => true,
        Err(_) => false,
    }
}

/// Binds UDP and TCP on one port; with port 0, retries until both get the same one.
fn bind_pair(
    bind: SocketAddr,
) -> Result<(std::net::UdpSocket, std::net::TcpListener, SocketAddr), SipError> {
    let mut last_err = None;
    for _ in 0..16 {
        let udp = std::net::UdpSocket::bind(bind).map_err(SipError::Bind)?;
        let local = udp.local_addr().map_err(SipError::Bind)?;
        match std::net::TcpListener::bind(local) {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(e) if bind.port() == 0 => last_err = Some(e),
            Err(e) => return Err(SipError::Bind(e)),
        }
    }
    Err(SipError::Bind(last_err.unwrap_or_else(|| {
        std::io::Error::other("no port free for both UDP and TCP")
    })))
}

/// An address as the host part of a SIP URI or Call-ID.
pub(crate) fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// Our name on what we send, or none. rsipstack puts its `User-Agent` on every
/// message; requests keep it only when one is configured, responses carry it
/// as `Server` (RFC 3261 §20.35, §20.41).
struct Signature(String);

impl MessageInspector for Signature {
    fn before_send(&self, msg: SipMessage, _: Option<&SipAddr>) -> SipMessage {
        match msg {
            SipMessage::Request(mut req) => {
                req.headers.retain(|h| !matches!(h, Header::UserAgent(_)));
                if !self.0.is_empty() {
                    req.headers.push(Header::UserAgent(self.0.clone().into()));
                }
                SipMessage::Request(req)
            }
            SipMessage::Response(mut resp) => {
                resp.headers
                    .retain(|h| !matches!(h, Header::UserAgent(_) | Header::Server(_)));
                if !self.0.is_empty() {
                    resp.headers.push(Header::Server(self.0.clone().into()));
                }
                SipMessage::Response(resp)
            }
        }
    }

    fn after_received(&self, msg: SipMessage, _: Option<&SipAddr>) -> SipMessage {
        msg
    }
}

impl SipAgent {
    pub async fn start(
        config: SipConfig,
    ) -> Result<(SipAgent, mpsc::Receiver<SipEvent>), SipError> {
        let (std_udp, std_tcp, local) = bind_pair(config.bind)?;
        std_udp.set_nonblocking(true).map_err(SipError::Bind)?;
        std_tcp.set_nonblocking(true).map_err(SipError::Bind)?;
        let socket = tokio::net::UdpSocket::from_std(std_udp).map_err(SipError::Bind)?;
        let tcp = tokio::net::TcpListener::from_std(std_tcp).map_err(SipError::Bind)?;
        let announce = SocketAddr::new(config.announce, local.port());
        let gate = Arc::new(Gate {
            trunks: RwLock::new(Vec::new()),
            trunk_limiter: Mutex::new(RateLimiter::new(
                config.invite_rate_per_source,
                MAX_TRACKED_SOURCES,
            )),
            public_limiter: Mutex::new(RateLimiter::new(
                config.public_rate_per_source,
                MAX_TRACKED_SOURCES,
            )),
            server: config.user_agent.clone(),
            registrar: Arc::default(),
        });
        let cancel = CancellationToken::new();
        let transport = TransportLayer::new(cancel.child_token());
        let guarded = GuardedUdp {
            socket,
            gate: gate.clone(),
        };
        let udp = UdpConnection::from_socket(
            Arc::new(guarded),
            Some(announce),
            Some(cancel.child_token()),
        )
        .await?;
        transport.add_transport(udp.into());
        let option = EndpointOption {
            // A random token at our own host: nothing names the SIP library.
            callid_suffix: Some(host_text(config.announce)),
            callid_format: CallIdFormat::UuidWithSuffix,
            ..EndpointOption::default()
        };
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&config.user_agent)
            .with_option(option)
            .with_inspector(Box::new(Signature(config.user_agent.clone())))
            .with_transport_layer(transport)
            .with_cancel_token(cancel.clone())
            .build();
        let incoming = endpoint.incoming_transactions()?;
        let endpoint_inner = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = endpoint_inner.serve().await {
                warn!(error = %e, "SIP endpoint stopped");
            }
        });
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        let inner = Arc::new(Inner {
            config,
            local,
            endpoint: endpoint.inner.clone(),
            dialogs,
            gate,
            calls: Mutex::new(HashMap::new()),
            events,
            next_id: AtomicU64::new(1),
            cancel: cancel.clone(),
            keepalive: Mutex::new(cancel.child_token()),
        });
        // The endpoint must outlive this function; its task ends with `cancel`.
        tokio::spawn({
            let cancel = cancel.clone();
            async move {
                cancel.cancelled().await;
                drop(endpoint);
            }
        });
        tokio::spawn(dispatch(Arc::downgrade(&inner), incoming));
        let limits = tcp::Limits {
            per_ip: inner.config.tcp_max_connections_per_ip.max(1),
            idle: inner.config.tcp_idle_timeout,
            write_timeout: inner.config.tcp_write_timeout,
            max_queued: crate::TCP_MAX_QUEUED_BYTES,
        };
        tokio::spawn(tcp::serve(
            tcp,
            inner.endpoint.clone(),
            inner.gate.clone(),
            limits,
            cancel.child_token(),
        ));
        info!(port = local.port(), "SIP agent listening");
        Ok((SipAgent { inner }, rx))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Replaces all trunks (and restarts their keepalives).
    pub fn set_trunks(&self, trunks: Vec<Trunk>) {
        let entries: Vec<TrunkEntry> = trunks
            .into_iter()
            .map(|trunk| {
                let sources = if trunk.allowed_sources.is_empty() {
                    trunk
                        .host
                        .parse::<IpAddr>()
                        .map(|ip| vec![ip])
                        .unwrap_or_default()
                } else {
                    trunk.allowed_sources.clone()
                };
                TrunkEntry { trunk, sources }
            })
            .collect();
        // Trunks named by host name: resolve in the background and fill in.
        for e in &entries {
            if e.sources.is_empty() {
                let gate = self.inner.gate.clone();
                let (host, port, tenant, name) = (
                    e.trunk.host.clone(),
                    e.trunk.port,
                    e.trunk.tenant,
                    e.trunk.name.clone(),
                );
                tokio::spawn(async move {
                    if let Ok(addrs) = tokio::net::lookup_host((host.as_str(), port)).await {
                        let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                        if let Ok(mut trunks) = gate.trunks.write()
                            && let Some(t) = trunks
                                .iter_mut()
                                .find(|t| t.trunk.tenant == tenant && t.trunk.name == name)
                        {
                            t.sources = ips;
                        }
                    }
                });
            }
        }
        let keepalive_trunks: Vec<Trunk> = entries
            .iter()
            .filter(|e| e.trunk.options_interval.is_some())
            .map(|e| e.trunk.clone())
            .collect();
        if let Ok(mut t) = self.inner.gate.trunks.write() {
            *t = entries;
        }
        let token = self.inner.cancel.child_token();
        if let Ok(mut old) = self.inner.keepalive.lock() {
            old.cancel();
            *old = token.clone();
        }
        for trunk in keepalive_trunks {
            tokio::spawn(crate::keepalive::run(
                Arc::downgrade(&self.inner),
                trunk,
                token.clone(),
            ));
        }
    }

    /// Turns the registrar on: REGISTERs are answered from now on, at most
    /// `register_rate_per_source` per 10 s per source address, and each change
    /// of a member's bindings comes out of the returned channel.
    pub fn enable_registrar(
        &self,
        config: crate::registrar::RegistrarConfig,
        register_rate_per_source: u32,
    ) -> mpsc::Receiver<crate::registrar::Registration> {
        self.inner.gate.registrar.enable(
            config,
            register_rate_per_source,
            self.inner.cancel.child_token(),
        )
    }

    /// Replaces the registrar's digest accounts (all tenants).
    pub fn set_sip_accounts(&self, accounts: Vec<crate::registrar::SipAccount>) {
        self.inner.gate.registrar.set_accounts(accounts);
    }

    /// A handle on the registrar alone: it does not keep the agent running.
    pub fn registrar(&self) -> crate::registrar::RegistrarHandle {
        crate::registrar::RegistrarHandle(self.inner.gate.registrar.clone())
    }

    /// Where a member's SIP devices are registered now.
    pub fn registered_contacts(
        &self,
        tenant: TenantId,
        member: i64,
    ) -> Vec<crate::registrar::Binding> {
        self.inner.gate.registrar.bindings(tenant, member)
    }

    /// Places a call: returns at once (nothing here waits on the network),
    /// the INVITE goes out from the call's own task, progress comes as events.
    pub fn dial(&self, dial: Dial) -> Result<SipCallId, SipError> {
        call::dial(&self.inner, dial)
    }

    /// Inbound: 180 Ringing.
    pub async fn ringing(&self, call: SipCallId) -> Result<(), SipError> {
        self.command(call, Command::Ringing).await
    }

    /// Inbound: 200 OK with our SDP answer.
    pub async fn answer(&self, call: SipCallId, media: LocalMedia) -> Result<(), SipError> {
        self.command(call, |reply| Command::Answer(media, reply))
            .await
    }

    /// Inbound: a final error response (404, 486, 480...).
    pub async fn reject(&self, call: SipCallId, code: u16) -> Result<(), SipError> {
        if !(300..700).contains(&code) {
            return Err(SipError::BadCode);
        }
        self.command(call, |reply| Command::Reject(code, reply))
            .await
    }

    /// re-INVITE with `a=sendonly` (on) or `a=sendrecv` (off).
    pub async fn hold(&self, call: SipCallId, on: bool) -> Result<(), SipError> {
        self.command(call, |reply| Command::Hold(on, reply)).await
    }

    /// BYE if confirmed, CANCEL if outbound early, 480 if inbound early. Idempotent.
    pub async fn hangup(&self, call: SipCallId) {
        let _ = self.command(call, Command::Hangup).await;
    }

    async fn command(
        &self,
        call: SipCallId,
        make: impl FnOnce(oneshot::Sender<Result<(), SipError>>) -> Command,
    ) -> Result<(), SipError> {
        let sender = self
            .inner
            .calls
            .lock()
            .ok()
            .and_then(|c| c.get(&call).cloned())
            .ok_or(SipError::NoSuchCall)?;
        let (tx, rx) = oneshot::channel();
        sender
            .send(make(tx))
            .await
            .map_err(|_| SipError::NoSuchCall)?;
        rx.await.map_err(|_| SipError::NoSuchCall)?
    }
}

/// Routes each new server transaction: initial INVITEs start calls, in-dialog
/// requests go to their dialog, OPTIONS is answered here.
async fn dispatch(
    inner: std::sync::Weak<Inner>,
    mut incoming: rsipstack::transaction::TransactionReceiver,
) {
    while let Some(mut tx) = incoming.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        if let Some(Dialog::Invite(mut dialog)) = inner.dialogs.match_dialog(&tx) {
            tokio::spawn(async move {
                if let Err(e) = dialog.handle(&mut tx).await {
                    debug!(error = %e, "in-dialog request failed");
                }
            });
            continue;
        }
        let has_to_tag = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        match tx.original.method {
            Method::Invite if !has_to_tag => call::incoming(&inner, tx).await,
            Method::Options => {
                let headers = vec![
                    Header::Allow(validate::ALLOWED.into()),
                    Header::Accept("application/sdp".into()),
                ];
                if let Err(e) = tx.reply_with(StatusCode::OK, headers, None).await {
                    debug!(error = %e, "OPTIONS reply failed");
                }
            }
            Method::Ack => {}
            _ => {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
        }
    }
}

pub(crate) fn source_of(tx: &Transaction) -> Option<(SocketAddr, Transport)> {
    let conn = tx.connection.as_ref()?;
    let remote = conn.get_remote_addr()?.get_socketaddr().ok()?;
    let transport = if conn.is_reliable() {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    Some((remote, transport))
}

use rsipstack::sip::prelude::HeadersExt as _;
