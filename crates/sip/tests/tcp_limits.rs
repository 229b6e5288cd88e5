//! Inbound TCP: at most `tcp_max_connections_per_ip` connections per address
//! (more are closed as they are accepted), and a connection silent for
//! `tcp_idle_timeout` is closed, which gives its place back.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::*;
use sip::{SipAgent, SipConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PEER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

async fn connect(to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(IpAddr::V4(PEER), 0)).unwrap();
    sock.connect(to).await.unwrap()
}

/// Whether the agent closes `stream` within `within` (EOF or reset).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, closed).await.is_ok()
}

/// Whether the agent answers an OPTIONS on `stream`.
async fn answers_options(stream: &mut TcpStream, port: u16) -> bool {
    let req = format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.3:9;branch=z9hG4bKlim{}\r\nFrom: <sip:p@127.0.0.3>;tag=l\r\nTo: <sip:127.0.0.1>\r\nCall-ID: lim-{}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        rand_id(),
        rand_id()
    );
    if stream.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => buf[..n].starts_with(b"SIP/2.0 200"),
        _ => false,
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn connections_per_ip_are_capped_and_idle_ones_closed() {
    let idle = Duration::from_millis(700);
    let (agent, _rx) = SipAgent::start(SipConfig {
        bind: SocketAddr::new(LOOPBACK, 0),
        announce: LOOPBACK,
        tcp_max_connections_per_ip: 2,
        tcp_idle_timeout: idle,
        ..SipConfig::default()
    })
    .await
    .expect("agent starts");
    let addr = agent.local_addr();
    let port = addr.port();

    let mut first = connect(addr).await;
    let mut second = connect(addr).await;
    assert!(answers_options(&mut first, port).await);
    assert!(answers_options(&mut second, port).await);
    let mut third = connect(addr).await;
    assert!(
        closed_within(&mut third, Duration::from_secs(5)).await,
        "a third connection from one address is closed"
    );
    // Another address is not affected by this one's cap.
    let mut other = TcpStream::connect(addr).await.unwrap();
    assert!(answers_options(&mut other, port).await);

    // Silent past the idle time: closed, and the place is free again.
    assert!(
        closed_within(&mut first, idle * 10).await,
        "idle connection closed"
    );
    assert!(
        closed_within(&mut second, idle * 10).await,
        "idle connection closed"
    );
    let mut again = connect(addr).await;
    assert!(answers_options(&mut again, port).await);
}
