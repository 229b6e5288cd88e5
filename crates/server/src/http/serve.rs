//! The accept loop of both listeners: connection caps per client address and
//! in all (each listener its own), and a deadline on every request's headers.
//!
//! `axum::serve` has neither: 2,000 connections that never sent a byte were
//! all still open 35 s later. Here each accepted socket first takes a place
//! (per address and in all; none left: it is closed at once and counted), and
//! hyper closes a connection whose request headers take longer than the
//! deadline, which also ends an idle keep-alive connection. The place is held
//! by the socket itself, so a WebSocket keeps its place for as long as it is
//! open.

use std::{
    collections::HashMap,
    convert::Infallible,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tower::ServiceExt;

/// How many connections the listeners take, per address and in all.
#[derive(Debug, Clone)]
pub struct ConnectionCaps {
    pub total: usize,
    pub per_ip: usize,
    /// Proxies whose connections carry many clients: held to the total only.
    pub trusted_proxies: Arc<[IpAddr]>,
    pub header_read_timeout: Duration,
}

/// Connections open now on one listener, per client address and in all.
pub struct Places {
    caps: ConnectionCaps,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One connection's place; given back when the socket is dropped.
pub struct Place {
    places: Arc<Places>,
    ip: IpAddr,
}

impl Places {
    pub fn new(caps: ConnectionCaps) -> Arc<Self> {
        Arc::new(Self {
            caps,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        // Plain counters: still good after a panic elsewhere.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a connection from `ip`, or why there is none.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Place, &'static str> {
        let mut open = self.lock();
        if open.0 >= self.caps.total {
            return Err("total");
        }
        let per_ip = open.1.entry(ip).or_default();
        if *per_ip >= self.caps.per_ip && !self.caps.trusted_proxies.contains(&ip) {
            return Err("per_ip");
        }
        *per_ip += 1;
        open.0 += 1;
        metrics::gauge!("switchboard_connections_open").increment(1.0);
        Ok(Place {
            places: self.clone(),
            ip,
        })
    }

    /// Connections open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.lock().1.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.places.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
        metrics::gauge!("switchboard_connections_open").decrement(1.0);
    }
}

/// A socket and its place: the place goes when the socket does, whether
/// hyper or an upgraded WebSocket holds it last.
struct Placed {
    tcp: TcpStream,
    _place: Place,
}

impl AsyncRead for Placed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Placed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `stop` turns true, then lets the
/// connections finish their requests (WebSockets are the caller's to end).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    places: Arc<Places>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, or a connection reset before accept:
                // back off a moment rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let place = match places.take(peer.ip()) {
            Ok(p) => p,
            Err(cap) => {
                metrics::counter!("switchboard_connections_refused_total", "cap" => cap)
                    .increment(1);
                tracing::debug!(cap, "connection refused: at its cap");
                continue;
            }
        };
        // Frames are small and come in bursts (an echo, then the agent's
        // copy): with Nagle's algorithm on, a frame written after another
        // waits for the peer's delayed ACK, a 40 ms floor under every round
        // trip (docs/benchmarks.md). Browsers turn it off on their side.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let io = TokioIo::new(Placed { tcp, _place: place });
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                Ok::<_, Infallible>(
                    router
                        .oneshot(req.map(axum::body::Body::new))
                        .await
                        .unwrap_or_else(|e| match e {}),
                )
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(places.caps.header_read_timeout)
            .serve_connection(io, service)
            .with_upgrades();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// Raises the open-file soft limit to the hard limit (each connection is a
/// descriptor) and returns the limit now in force; logs both.
pub fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: before.maximum,
        maximum: before.maximum,
    };
    if before.current != before.maximum
        && let Err(e) = setrlimit(Resource::Nofile, raised)
    {
        tracing::warn!(error = %e, "raising the open-file limit failed");
    }
    let now = getrlimit(Resource::Nofile);
    tracing::info!(
        soft = now.current.unwrap_or(u64::MAX),
        hard = now.maximum.unwrap_or(u64::MAX),
        was = before.current.unwrap_or(u64::MAX),
        "open-file limit"
    );
    now.current.unwrap_or(u64::MAX)
}

/// The default caps on connections in all, (public, agent): together three
/// quarters of the open-file limit, the rest kept for the database, SIP, RTP
/// legs and recordings; the staff listener gets a sixth of it, so a flood of
/// visitors cannot lock the staff out, nor the other way round.
pub fn default_totals(open_file_limit: u64) -> (usize, usize) {
    let all = usize::try_from(open_file_limit / 4 * 3)
        .unwrap_or(usize::MAX)
        .max(128);
    (all - all / 6, all / 6)
}

/// The client a request comes from: the peer, unless the peer is a trusted
/// proxy, then the nearest address in `X-Forwarded-For` that is not one
/// (the ones further left were written by the client and prove nothing).
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => {}
            Ok(ip) => return ip,
            // A hop we cannot read: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(total: usize, per_ip: usize, trusted: &[IpAddr]) -> Arc<Places> {
        Places::new(ConnectionCaps {
            total,
            per_ip,
            trusted_proxies: trusted.into(),
            header_read_timeout: Duration::from_secs(1),
        })
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let inner: IpAddr = [10, 0, 0, 2].into();
        let client: IpAddr = [203, 0, 113, 7].into();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.7, 10.0.0.2".parse().unwrap(),
        );
        // From a stranger the header is the stranger's word: ignored.
        assert_eq!(client_ip(client, &headers, &[proxy, inner]), client);
        // From the proxy: the nearest hop that is no proxy of ours, not the
        // left-most address, which the client wrote itself.
        assert_eq!(client_ip(proxy, &headers, &[proxy, inner]), client);
        assert_eq!(client_ip(proxy, &headers, &[proxy]), inner);
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[proxy]), proxy);
        assert_eq!(
            client_ip(proxy, &axum::http::HeaderMap::new(), &[proxy]),
            proxy
        );
    }

    #[test]
    fn an_address_gets_its_share_and_its_places_come_back() {
        let places = places(10, 2, &[]);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let first = places.take(a).unwrap();
        let _second = places.take(a).unwrap();
        assert_eq!(places.take(a).err(), Some("per_ip"));
        // Another address is not held back by the first one's cap.
        let _other = places.take(b).unwrap();
        drop(first);
        assert_eq!(places.open_from(a), 1);
        assert!(places.take(a).is_ok());
    }

    #[test]
    fn the_total_binds_everyone_and_a_trusted_proxy_only_by_it() {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let places = places(3, 1, &[proxy]);
        let held: Vec<_> = (0..3).map(|_| places.take(proxy).unwrap()).collect();
        assert_eq!(places.take([127, 0, 0, 9].into()).err(), Some("total"));
        drop(held);
        assert_eq!(places.open_from(proxy), 0);
        assert!(places.take([127, 0, 0, 9].into()).is_ok());
    }
}
