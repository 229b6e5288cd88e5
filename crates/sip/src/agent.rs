//! The agent: listeners, request dispatch, the source gate and the public handle.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog::Dialog;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::call::{self, Command};
use crate::canonical;
use crate::ratelimit::{RateLimiter, Verdict as Rate};
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
    limiter: Mutex<RateLimiter>,
}

pub(crate) enum Admission {
    Allowed { tenant: TenantId, trunk: String },
    Forbidden,
    Limited { retry_after: u64 },
    Silent,
}

impl Gate {
    pub fn trunk_for_source(&self, ip: IpAddr) -> Option<(TenantId, String)> {
        let trunks = self.trunks.read().ok()?;
        trunks
            .iter()
            .find(|t| t.sources.contains(&ip))
            .map(|t| (t.trunk.tenant, t.trunk.name.clone()))
    }

    pub fn trunk(&self, tenant: TenantId, name: &str) -> Option<Trunk> {
        let trunks = self.trunks.read().ok()?;
        trunks
            .iter()
            .find(|t| t.trunk.tenant == tenant && t.trunk.name == name)
            .map(|t| t.trunk.clone())
    }

    /// Source check first (a stranger gets 403 whatever its rate), then the limiter.
    pub fn admit(&self, ip: IpAddr) -> Admission {
        let Some((tenant, trunk)) = self.trunk_for_source(ip) else {
            return Admission::Forbidden;
        };
        let verdict = match self.limiter.lock() {
            Ok(mut l) => l.check(ip, Instant::now()),
            Err(_) => Rate::Allow,
        };
        match verdict {
            Rate::Allow => Admission::Allowed { tenant, trunk },
            Rate::Reject { retry_after } => Admission::Limited { retry_after },
            Rate::Drop => Admission::Silent,
        }
    }
}

/// The UDP socket rsipstack reads from: every datagram is judged before the stack
/// sees it (see [`validate`]).
struct GuardedUdp {
    socket: tokio::net::UdpSocket,
    gate: Arc<Gate>,
    user_agent: String,
}

impl GuardedUdp {
    async fn answer(
        &self,
        data: &[u8],
        to: SocketAddr,
        code: u16,
        reason: &str,
        extra: &[(&'static str, String)],
    ) {
        if let Some(resp) = validate::build_response(data, code, reason, extra, &self.user_agent)
            && let Err(e) = self.socket.send_to(&resp, to).await
        {
            debug!(error = %e, "could not send stateless response");
        }
    }
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
            match validate::check(data) {
                Verdict::Drop => debug!(%from, "datagram dropped by validation"),
                Verdict::Reply {
                    code,
                    reason,
                    extra,
                } => {
                    info!(code, "request refused by validation");
                    self.answer(data, from, code, reason, &extra).await;
                }
                Verdict::Pass { len, message } => {
                    if let Kind::Request {
                        initial_invite: true,
                        ..
                    } = message
                    {
                        match self.gate.admit(from.ip()) {
                            Admission::Allowed { .. } => {}
                            Admission::Forbidden => {
                                info!("INVITE from a source that is no trunk refused");
                                self.answer(data, from, 403, "Forbidden", &[]).await;
                                continue;
                            }
                            Admission::Limited { retry_after } => {
                                info!("INVITE rate limit reached for a source");
                                let extra = [("Retry-After", retry_after.to_string())];
                                self.answer(data, from, 503, "Service Unavailable", &extra)
                                    .await;
                                continue;
                            }
                            Admission::Silent => continue,
                        }
                    }
                    let data = &buf[..len];
                    if stack_takes(data) {
                        return Ok((len, from));
                    }
                    // Valid, but spelled in a way rsipstack does not take (folded
                    // lines, LWS, RFC 2543): hand on the plain spelling.
                    let plain = canonical::canonical(data)
                        .filter(|p| p.len() <= buf.len())
                        .filter(|p| rsipstack::sip::SipMessage::try_from(p.as_slice()).is_ok());
                    if let Some(plain) = plain {
                        debug!(%from, "message rewritten to plain form");
                        buf[..plain.len()].copy_from_slice(&plain);
                        return Ok((plain.len(), from));
                    }
                    // Answer rather than let it vanish.
                    debug!(%from, "message valid but not parseable by rsipstack");
                    if matches!(message, Kind::Request { .. }) {
                        self.answer(data, from, 400, "Bad Request", &[]).await;
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

/// rsipstack binds its TCP listener when the endpoint's serve task first runs,
/// after `start` has spawned it: wait until it accepts, so a carrier's first
/// TCP INVITE is not refused, and a port taken meanwhile is an error here
/// rather than a log line.
async fn wait_tcp_listening(local: SocketAddr) -> Result<(), SipError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match tokio::net::TcpStream::connect(local).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(SipError::Bind(e)),
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Binds UDP and TCP on one port; with port 0, retries until both get the same one.
fn bind_pair(bind: SocketAddr) -> Result<(std::net::UdpSocket, SocketAddr), SipError> {
    let mut last_err = None;
    for _ in 0..16 {
        let udp = std::net::UdpSocket::bind(bind).map_err(SipError::Bind)?;
        let local = udp.local_addr().map_err(SipError::Bind)?;
        // rsipstack binds the TCP listener itself (with SO_REUSEADDR); probing here
        // turns a taken port into an error now instead of a log line later.
        match std::net::TcpListener::bind(local) {
            Ok(probe) => {
                drop(probe);
                return Ok((udp, local));
            }
            Err(e) if bind.port() == 0 => last_err = Some(e),
            Err(e) => return Err(SipError::Bind(e)),
        }
    }
    Err(SipError::Bind(last_err.unwrap_or_else(|| {
        std::io::Error::other("no port free for both UDP and TCP")
    })))
}

impl SipAgent {
    pub async fn start(
        config: SipConfig,
    ) -> Result<(SipAgent, mpsc::Receiver<SipEvent>), SipError> {
        let (std_udp, local) = bind_pair(config.bind)?;
        std_udp.set_nonblocking(true).map_err(SipError::Bind)?;
        let socket = tokio::net::UdpSocket::from_std(std_udp).map_err(SipError::Bind)?;
        let announce = SocketAddr::new(config.announce, local.port());
        let gate = Arc::new(Gate {
            trunks: RwLock::new(Vec::new()),
            limiter: Mutex::new(RateLimiter::new(
                config.invite_rate_per_source,
                MAX_TRACKED_SOURCES,
            )),
        });
        let cancel = CancellationToken::new();
        let transport = TransportLayer::new(cancel.child_token());
        let guarded = GuardedUdp {
            socket,
            gate: gate.clone(),
            user_agent: config.user_agent.clone(),
        };
        let udp = UdpConnection::from_socket(
            Arc::new(guarded),
            Some(announce),
            Some(cancel.child_token()),
        )
        .await?;
        transport.add_transport(udp.into());
        let tcp = TcpListenerConnection::new(local, Some(announce)).await?;
        transport.add_transport(tcp.into());
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&config.user_agent)
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
        wait_tcp_listening(local).await?;
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
