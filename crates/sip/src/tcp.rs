//! SIP over TCP, inbound: our own listener in front of rsipstack.
//!
//! rsipstack's TCP connections write inline under a lock, so a peer that never
//! reads stalls whoever sends to it next (the endpoint's loop, the dispatch
//! loop) and every call behind them. Here each accepted connection is two
//! tasks, and the stack only ever sees an in-memory channel
//! ([`ChannelConnection`]) whose sends never wait:
//!
//! * the reader frames messages, judges each ([`Gate::judge`]: the same checks
//!   and source gate as UDP, with stateless answers), and hands the rest to the
//!   stack; it closes the connection when the peer is silent for the idle time;
//! * the writer owns the socket's write half and a queue. A peer that takes
//!   nothing for the write timeout, or lets more than
//!   [`crate::TCP_MAX_QUEUED_BYTES`] pile up, is cut off; nobody else waits.
//!
//! The listener keeps at most `tcp_max_connections_per_ip` connections per
//! address and closes the rest as they are accepted.
//!
//! Outbound TCP (towards trunks we dial) stays rsipstack's own: those peers
//! are the trunks we configured.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use rsipstack::sip::SipMessage;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::stream::{SipCodec, SipCodecType};
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::agent::{Gate, Judgement};
use crate::refusal::{Refusal, refused};
use crate::validate;

/// The limits of inbound TCP, from [`crate::SipConfig`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub per_ip: usize,
    pub idle: Duration,
    pub write_timeout: Duration,
    pub max_queued: usize,
}

/// Open connections per peer address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerIp`], given back on drop.
struct Slot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(table: &Arc<PerIp>, ip: IpAddr, cap: usize) -> Option<Slot> {
        let mut map = table.0.lock().ok()?;
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.0.lock()
            && let Some(n) = map.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Accepts until `cancel`.
pub(crate) async fn serve(
    listener: TcpListener,
    endpoint: EndpointInnerRef,
    gate: Arc<Gate>,
    limits: Limits,
    cancel: CancellationToken,
) {
    let table = Arc::new(PerIp::default());
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: do not spin.
                debug!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = PerIp::take(&table, peer.ip(), limits.per_ip) else {
            debug!(%peer, "TCP connection above the per-IP cap closed");
            refused(Refusal::TcpPerIp);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connection(
            stream,
            peer,
            slot,
            &endpoint,
            gate.clone(),
            limits,
            cancel.child_token(),
        )
        .await;
    }
}

/// Wires one accepted connection to the stack and starts its two tasks.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    endpoint: &EndpointInnerRef,
    gate: Arc<Gate>,
    limits: Limits,
    token: CancellationToken,
) {
    let addr = SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tcp),
        addr: peer.into(),
    };
    // What the stack sends reaches the writer; what the reader passes on
    // reaches the stack. Both unbounded on the stack's side, so a send from
    // the stack never waits; the writer bounds what it holds.
    let (to_stack, from_reader) = mpsc::unbounded_channel();
    let (to_writer, from_stack) = mpsc::unbounded_channel();
    // Only builds a struct: nothing in it waits.
    let Ok(channel) = ChannelConnection::create_connection(
        from_reader,
        to_writer,
        addr.clone(),
        Some(token.clone()),
    )
    .await
    else {
        return;
    };
    let conn = SipConnection::Channel(channel);
    endpoint.transport_layer.add_connection(conn.clone());
    let (read, write) = stream.into_split();
    let (raw_tx, raw_rx) = mpsc::unbounded_channel();
    tokio::spawn(write_loop(write, from_stack, raw_rx, limits, token.clone()));
    tokio::spawn(async move {
        read_loop(
            read, peer, addr, conn, to_stack, raw_tx, &gate, limits, &token,
        )
        .await;
        token.cancel();
        drop(slot);
    });
}

#[allow(clippy::too_many_arguments)]
async fn read_loop(
    mut read: OwnedReadHalf,
    peer: SocketAddr,
    addr: SipAddr,
    conn: SipConnection,
    to_stack: mpsc::UnboundedSender<TransportEvent>,
    raw: mpsc::UnboundedSender<Vec<u8>>,
    gate: &Gate,
    limits: Limits,
    token: &CancellationToken,
) {
    let mut codec = SipCodec::new();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let read = tokio::select! {
            () = token.cancelled() => return,
            r = tokio::time::timeout(limits.idle, read.read_buf(&mut buf)) => r,
        };
        match read {
            Err(_) => {
                debug!(%peer, "idle TCP connection closed");
                refused(Refusal::TcpIdle);
                return;
            }
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
        loop {
            if !validate::stream_length_ok(&buf) {
                debug!(%peer, "TCP message longer than we take; closed");
                refused(Refusal::TcpBadStream);
                return;
            }
            let msg = match codec.decode(&mut buf) {
                Ok(Some(SipCodecType::Message(msg))) => msg,
                Ok(Some(SipCodecType::KeepaliveRequest)) => {
                    // RFC 5626 §4.4.1: a CRLF answers a double CRLF.
                    let _ = raw.send(b"\r\n".to_vec());
                    continue;
                }
                Ok(Some(SipCodecType::KeepaliveResponse)) => continue,
                Ok(None) => break,
                Err(e) => {
                    debug!(%peer, error = %e, "TCP stream is no SIP; closed");
                    refused(Refusal::TcpBadStream);
                    return;
                }
            };
            let data = msg.to_bytes();
            let msg = match gate.judge_on(&data, peer, crate::Transport::Tcp) {
                Judgement::Pass { .. } => msg,
                Judgement::Rewritten(plain) => match SipMessage::try_from(plain.as_slice()) {
                    Ok(m) => m,
                    Err(_) => continue,
                },
                Judgement::Answer(resp) => {
                    let _ = raw.send(resp);
                    continue;
                }
                Judgement::Drop => continue,
            };
            let Ok(msg) =
                SipConnection::update_msg_received(msg, peer, rsipstack::sip::Transport::Tcp)
            else {
                continue;
            };
            if to_stack
                .send(TransportEvent::Incoming(msg, conn.clone(), addr.clone()))
                .is_err()
            {
                return;
            }
        }
    }
}

/// Writes what the stack and the reader queue, in order of arrival. A write
/// that makes no progress for the write timeout, or a queue above its bound,
/// ends the connection.
async fn write_loop(
    mut write: OwnedWriteHalf,
    mut from_stack: mpsc::UnboundedReceiver<TransportEvent>,
    mut raw: mpsc::UnboundedReceiver<Vec<u8>>,
    limits: Limits,
    token: CancellationToken,
) {
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut queued = 0usize;
    let mut written = 0usize;
    let mut stalled_since: Option<tokio::time::Instant> = None;
    loop {
        let deadline = stalled_since.map(|t| t + limits.write_timeout);
        let incoming = tokio::select! {
            biased;
            () = token.cancelled() => break,
            r = write.write(queue.front().map_or(&[][..], |f| &f[written..])), if !queue.is_empty() => {
                match r {
                    Ok(n) if n > 0 => {
                        written += n;
                        queued = queued.saturating_sub(n);
                        if queue.front().is_some_and(|f| written >= f.len()) {
                            queue.pop_front();
                            written = 0;
                        }
                        stalled_since = (!queue.is_empty()).then(tokio::time::Instant::now);
                    }
                    _ => break,
                }
                continue;
            }
            ev = from_stack.recv() => match ev {
                Some(TransportEvent::Incoming(msg, ..)) => msg.to_bytes(),
                Some(_) => continue,
                None => break,
            },
            bytes = raw.recv() => match bytes {
                Some(b) => b,
                None => break,
            },
            () = sleep_until(deadline), if deadline.is_some() => {
                debug!("TCP peer took nothing within the write timeout; closed");
                refused(Refusal::TcpSlowReader);
                break;
            }
        };
        queued += incoming.len();
        if queue.is_empty() {
            stalled_since = Some(tokio::time::Instant::now());
        }
        queue.push_back(incoming);
        if queued > limits.max_queued {
            debug!(queued, "TCP peer let too much pile up unread; closed");
            refused(Refusal::TcpSlowReader);
            break;
        }
    }
    token.cancel();
    let _ = tokio::time::timeout(limits.write_timeout, write.shutdown()).await;
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
