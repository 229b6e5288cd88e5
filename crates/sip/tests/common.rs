//! Shared test helpers: an agent on loopback, event waits with timeouts, and sipp
//! as a peer.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sip::{Codec, Dial, LocalMedia, SipAgent, SipCallId, SipConfig, SipEvent, Transport, Trunk};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::Receiver;

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub async fn agent(rate: u32, no_answer: Duration) -> (SipAgent, Receiver<SipEvent>) {
    SipAgent::start(SipConfig {
        bind: SocketAddr::new(LOOPBACK, 0),
        announce: LOOPBACK,
        invite_rate_per_source: rate,
        user_agent: "switchboard-test".into(),
        no_answer_timeout: no_answer,
        ..SipConfig::default()
    })
    .await
    .expect("agent starts")
}

pub fn trunk(port: u16, transport: Transport) -> Trunk {
    Trunk {
        tenant: sip::TenantId(1),
        name: "main".into(),
        host: "127.0.0.1".into(),
        port,
        transport,
        username: None,
        password: None,
        caller_id: None,
        allowed_sources: vec![],
        options_interval: None,
        numbers: vec![],
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

pub const SIPP: &str = "/usr/bin/sipp";

/// Whether sipp can run here. Without it a test skips with a printed reason,
/// unless `CI` is set, where it fails.
pub fn sipp_available() -> bool {
    if Path::new(SIPP).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "sipp missing at {SIPP} and CI is set"
    );
    eprintln!("skipping: sipp not installed at {SIPP}");
    false
}

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(format!("{name}.xml"))
}

/// A running sipp, killed on drop.
pub struct Sipp {
    child: Child,
    pub port: u16,
    transport: Transport,
}

impl Sipp {
    /// sipp on a free loopback port for one call (`-m 1`), `extra` appended to its
    /// arguments.
    pub fn spawn(name: &str, transport: Transport, extra: &[&str]) -> Sipp {
        Sipp::spawn_on(free_port(), name, transport, extra)
    }

    /// The same on a given port (a peer that comes back where it was).
    pub fn spawn_on(port: u16, name: &str, transport: Transport, extra: &[&str]) -> Sipp {
        let t = match transport {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
        };
        let child = Command::new(SIPP)
            .arg("-sf")
            .arg(scenario(name))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                t,
                "-m",
                "1",
            ])
            .args(["-nostdin", "-timeout", "30s", "-timeout_error"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sipp");
        Sipp {
            child,
            port,
            transport,
        }
    }

    /// Returns once sipp holds its port (UDP socket or TCP listener), so a peer can
    /// send to it; gives up after two seconds and lets the test's own waits fail.
    pub async fn wait_listening(&self) {
        for _ in 0..100 {
            let taken = match self.transport {
                Transport::Udp => std::net::UdpSocket::bind((LOOPBACK, self.port)).is_err(),
                Transport::Tcp => std::net::TcpListener::bind((LOOPBACK, self.port)).is_err(),
            };
            if taken {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for sipp to finish; true on exit code 0 (all calls successful).
    pub async fn success(mut self) -> bool {
        match tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }
}

/// sipp calls the agent: `-s` is the dialled DID.
pub fn sipp_uac(name: &str, agent_port: u16, transport: Transport) -> Sipp {
    let target = format!("127.0.0.1:{agent_port}");
    Sipp::spawn(name, transport, &["-s", "4930123456", &target])
}

pub fn dial_to(to: &str) -> Dial {
    Dial {
        tenant: sip::TenantId(1),
        trunk: "main".into(),
        to: to.into(),
        from: "+14155550199".into(),
        media: media(),
    }
}

/// Waits for the `Incoming` event of a call from sipp and checks what it says.
pub async fn incoming(rx: &mut Receiver<SipEvent>) -> SipCallId {
    let ev = wait_for(rx, "Incoming", |e| matches!(e, SipEvent::Incoming(_))).await;
    let SipEvent::Incoming(sip::IncomingCall {
        call,
        tenant,
        trunk,
        from,
        to,
        sip_call_id,
        media,
    }) = ev
    else {
        unreachable!()
    };
    assert_eq!((tenant, trunk.as_str()), (sip::TenantId(1), "main"));
    assert_eq!(from, "+14155550100");
    assert_eq!(to, "+4930123456");
    assert!(!sip_call_id.is_empty());
    assert_eq!(media.addr, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(media.codec, Codec::Pcmu);
    call
}

/// sipp playing a trunk's far end with `scenario`, and an agent whose one
/// trunk points at it.
pub async fn agent_with_sipp_trunk(
    scenario: &str,
    transport: Transport,
) -> (Sipp, SipAgent, Receiver<SipEvent>) {
    let sipp = Sipp::spawn(scenario, transport, &[]);
    sipp.wait_listening().await;
    let (agent, rx) = agent(10, Duration::from_secs(10)).await;
    agent.set_trunks(vec![trunk(sipp.port, transport)]);
    (sipp, agent, rx)
}
