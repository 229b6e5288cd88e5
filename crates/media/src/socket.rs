//! The receive task: reads every datagram of the shared socket and hands it
//! to the call that owns its leg.
//!
//! Routing (RFC 7983 first-byte demultiplexing):
//! * STUN (first byte 0-3) with a USERNAME goes to the leg whose local ufrag
//!   it names. If its MESSAGE-INTEGRITY checks out with that leg's password,
//!   its source address is learned for the leg.
//! * DTLS (20-63) and RTP/RTCP (128-191) go to the leg their source address
//!   was learned for.
//! * Everything else, and anything from an unknown source, is dropped and
//!   counted. So is a datagram for a call whose queue is full: media is late
//!   anyway by then, and the receive task never waits on one call.
//!
//! The maps are this task's alone; call tasks change them through the
//! bounded control channel (register before the answer leaves, unregister
//! when a leg goes).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use bytes::{Bytes, BytesMut};
use metrics::Counter;
use str0m::{crypto::Sha1HmacProvider, ice::StunMessage};
use tokio::{
    net::UdpSocket,
    sync::mpsc::{self, error::TrySendError},
};

use super::LegId;

/// Control messages a call task may have queued.
pub(crate) const CONTROL_QUEUE: usize = 1024;

/// Datagrams a call task may have queued before new ones are dropped
/// (about half a second of a video call's packets).
pub(crate) const CALL_QUEUE: usize = 256;

/// Largest datagram read; WebRTC keeps well under 1,500 bytes.
const MAX_DATAGRAM: usize = 2048;

/// Receive buffer block: datagrams are split off it without copying.
const BLOCK: usize = 64 * 1024;

/// Source addresses remembered per leg (a browser uses one; ICE may try a
/// few before it settles).
const MAX_SOURCES: usize = 8;

/// Socket buffers asked of the kernel (best effort: Linux caps them at
/// `net.core.rmem_max`/`wmem_max`).
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// One datagram for a call task.
pub(crate) struct Inbound {
    pub(crate) leg: LegId,
    pub(crate) source: SocketAddr,
    pub(crate) at: Instant,
    pub(crate) data: Bytes,
    /// From an RTP leg's RTCP port.
    pub(crate) rtcp: bool,
}

pub(crate) enum RouteCommand {
    /// STUN naming `ufrag` is the leg's; its integrity is checked with `pass`.
    Register {
        leg: LegId,
        ufrag: String,
        pass: String,
        to: mpsc::Sender<Inbound>,
    },
    /// The leg is gone: forget its ufrag and addresses.
    Unregister { leg: LegId },
}

/// Binds the shared socket with large kernel buffers, so a burst is not
/// lost while the engine's thread is busy.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(SOCKET_BUFFER) {
        tracing::debug!(error = %e, "media socket receive buffer left as is");
    }
    if let Err(e) = socket.set_send_buffer_size(SOCKET_BUFFER) {
        tracing::debug!(error = %e, "media socket send buffer left as is");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

struct Route {
    leg: LegId,
    to: mpsc::Sender<Inbound>,
}

struct LegRoutes {
    ufrag: String,
    pass: String,
    to: mpsc::Sender<Inbound>,
    addrs: Vec<SocketAddr>,
}

#[derive(Default)]
struct Routes {
    by_ufrag: HashMap<String, LegId>,
    by_addr: HashMap<SocketAddr, Route>,
    legs: HashMap<LegId, LegRoutes>,
}

/// Why a datagram was dropped (the `reason` label of the counter).
struct Drops {
    total: Arc<AtomicU64>,
    unknown_source: Counter,
    malformed: Counter,
    bad_integrity: Counter,
    call_busy: Counter,
}

impl Drops {
    fn new(total: Arc<AtomicU64>) -> Self {
        let counter = |reason: &'static str| metrics::counter!("media_packets_dropped_total", "reason" => reason);
        Self {
            total,
            unknown_source: counter("unknown_source"),
            malformed: counter("malformed"),
            bad_integrity: counter("bad_integrity"),
            call_busy: counter("call_busy"),
        }
    }

    fn count(&self, counter: &Counter) {
        self.total.fetch_add(1, Ordering::Relaxed);
        counter.increment(1);
    }
}

/// Runs until every holder of the control channel's sender is gone.
pub(crate) async fn run(
    socket: Arc<UdpSocket>,
    mut control: mpsc::Receiver<RouteCommand>,
    hmac: &'static dyn Sha1HmacProvider,
    dropped: Arc<AtomicU64>,
) {
    let mut routes = Routes::default();
    let drops = Drops::new(dropped);
    let mut buf = BytesMut::with_capacity(BLOCK);
    loop {
        if buf.capacity() < MAX_DATAGRAM {
            // Reuses the block if every datagram split off it is gone,
            // else starts a new one.
            buf.reserve(BLOCK);
        }
        tokio::select! {
            // Registrations first: a leg is registered before its answer
            // leaves, so its first STUN always finds it.
            biased;
            command = control.recv() => match command {
                Some(command) => routes.apply(command),
                None => break,
            },
            received = socket.recv_buf_from(&mut buf) => match received {
                Ok((_, source)) => {
                    let data = buf.split().freeze();
                    routes.deliver(source, data, hmac, &drops);
                }
                // Linux reports ICMP errors of earlier sends here; they
                // concern one peer, not the socket.
                Err(e) => tracing::debug!(error = %e, "media socket receive error"),
            },
        }
    }
    tracing::debug!("media receive task ended");
}

impl Routes {
    fn apply(&mut self, command: RouteCommand) {
        match command {
            RouteCommand::Register {
                leg,
                ufrag,
                pass,
                to,
            } => {
                self.by_ufrag.insert(ufrag.clone(), leg);
                self.legs.insert(
                    leg,
                    LegRoutes {
                        ufrag,
                        pass,
                        to,
                        addrs: Vec::new(),
                    },
                );
            }
            RouteCommand::Unregister { leg } => self.forget(leg),
        }
    }

    fn forget(&mut self, leg: LegId) {
        if let Some(routes) = self.legs.remove(&leg) {
            self.by_ufrag.remove(&routes.ufrag);
            for addr in routes.addrs {
                self.by_addr.remove(&addr);
            }
        }
    }

    fn deliver(
        &mut self,
        source: SocketAddr,
        data: Bytes,
        hmac: &'static dyn Sha1HmacProvider,
        drops: &Drops,
    ) {
        let Some(&first) = data.first() else {
            drops.count(&drops.malformed);
            return;
        };
        let (leg, to) = match first {
            0..=3 => match self.route_stun(source, &data, hmac) {
                Ok(route) => route,
                Err(StunDrop::Malformed) => return drops.count(&drops.malformed),
                Err(StunDrop::Unknown) => return drops.count(&drops.unknown_source),
                Err(StunDrop::Integrity) => return drops.count(&drops.bad_integrity),
            },
            20..=63 | 128..=191 => match self.by_addr.get(&source) {
                Some(route) => (route.leg, route.to.clone()),
                None => return drops.count(&drops.unknown_source),
            },
            _ => return drops.count(&drops.malformed),
        };
        let inbound = Inbound {
            leg,
            source,
            at: Instant::now(),
            data,
            rtcp: false,
        };
        match to.try_send(inbound) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => drops.count(&drops.call_busy),
            // The call task is gone without unregistering (it panicked):
            // free its maps now.
            Err(TrySendError::Closed(_)) => {
                drops.count(&drops.unknown_source);
                self.forget(leg);
            }
        }
    }

    fn route_stun(
        &mut self,
        source: SocketAddr,
        data: &[u8],
        hmac: &'static dyn Sha1HmacProvider,
    ) -> Result<(LegId, mpsc::Sender<Inbound>), StunDrop> {
        let message = StunMessage::parse(data).map_err(|_| StunDrop::Malformed)?;
        let Some((local, _remote)) = message.split_username() else {
            // Responses and indications carry no username: by address.
            return self
                .by_addr
                .get(&source)
                .map(|r| (r.leg, r.to.clone()))
                .ok_or(StunDrop::Unknown);
        };
        let leg = *self.by_ufrag.get(local).ok_or(StunDrop::Unknown)?;
        let known = self.by_addr.get(&source).is_some_and(|r| r.leg == leg);
        let routes = self.legs.get(&leg).ok_or(StunDrop::Unknown)?;
        let to = routes.to.clone();
        if known {
            return Ok((leg, to));
        }
        if !message.verify(routes.pass.as_bytes(), |key, parts| {
            hmac.sha1_hmac(key, parts)
        }) {
            return Err(StunDrop::Integrity);
        }
        self.learn(source, leg, to.clone());
        Ok((leg, to))
    }

    /// `source` now belongs to `leg` (a browser whose address changed, or a
    /// second candidate pair). A source another leg had is taken from it.
    fn learn(&mut self, source: SocketAddr, leg: LegId, to: mpsc::Sender<Inbound>) {
        tracing::debug!(leg = leg.0, %source, "media source learned");
        if let Some(previous) = self.by_addr.insert(source, Route { leg, to })
            && let Some(routes) = self.legs.get_mut(&previous.leg)
        {
            routes.addrs.retain(|a| *a != source);
        }
        if let Some(routes) = self.legs.get_mut(&leg) {
            if routes.addrs.len() == MAX_SOURCES {
                let oldest = routes.addrs.remove(0);
                self.by_addr.remove(&oldest);
            }
            routes.addrs.push(source);
        }
    }
}

enum StunDrop {
    Malformed,
    Unknown,
    Integrity,
}
