//! Shared test helpers: an agent on loopback, event waits with timeouts.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sip::{LocalMedia, SipAgent, SipConfig, SipEvent, Transport, Trunk};
use tokio::sync::mpsc::Receiver;

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub async fn agent(rate: u32, no_answer: Duration) -> (SipAgent, Receiver<SipEvent>) {
    SipAgent::start(SipConfig {
        bind: SocketAddr::new(LOOPBACK, 0),
        announce: LOOPBACK,
        invite_rate_per_source: rate,
        user_agent: "switchboard-test".into(),
        no_answer_timeout: no_answer,
    })
    .await
    .expect("agent starts")
}

pub fn trunk(port: u16, transport: Transport) -> Trunk {
    Trunk {
        tenant: 1,
        name: "main".into(),
        host: "127.0.0.1".into(),
        port,
        transport,
        username: None,
        password: None,
        caller_id: None,
        allowed_sources: vec![],
        options_interval: None,
    }
}

pub fn media() -> LocalMedia {
    LocalMedia {
        addr: "127.0.0.1:40000".parse().unwrap(),
    }
}

/// Waits for the first event matching `pred`, skipping others.
pub async fn wait_for(
    rx: &mut Receiver<SipEvent>,
    what: &str,
    pred: impl Fn(&SipEvent) -> bool,
) -> SipEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(_)) => {}
            Ok(None) => panic!("event channel closed waiting for {what}"),
            Err(elapsed) => panic!("timed out waiting for {what}: {elapsed}"),
        }
    }
}

/// A free port on loopback for both UDP and TCP (probed, then released).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind((LOOPBACK, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}
