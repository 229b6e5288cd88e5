//! The registrar over real sockets: sipp registers and unregisters with digest
//! authentication over UDP and TCP, a wrong password is refused, and malformed
//! or unexpected REGISTERs get clear answers.

mod common;

use std::time::Duration;

use common::{LOOPBACK, Sipp, agent, sipp_available};
use sip::Transport;
use sip::registrar::{
    DigestAlgorithm, RegistrarConfig, Registration, SipAccount, ha1_md5, ha1_sha256,
};
use tokio::sync::mpsc::Receiver;

const TENANT: sip::TenantId = sip::TenantId(7);

fn account(username: &str, member: i64, password: &str) -> SipAccount {
    SipAccount {
        tenant: TENANT,
        domain: "demo".into(),
        member,
        username: username.into(),
        ha1_md5: ha1_md5(username, password),
        ha1_sha256: ha1_sha256(username, password),
    }
}

async fn registrar() -> (sip::SipAgent, Receiver<Registration>) {
    let (agent, _events) = agent(20, Duration::from_secs(5)).await;
    // sipp 3.6 answers only MD5 challenges, and only the first one it reads.
    let config = RegistrarConfig {
        algorithms: vec![DigestAlgorithm::Md5],
        ..RegistrarConfig::default()
    };
    let changes = agent.enable_registrar(config, 1000);
    agent.set_sip_accounts(vec![
        account("alice", 1, "demo-sip-alice"),
        account("234500000001", 1, "demo-sip-alice"),
        account("bob", 2, "demo-sip-bob"),
    ]);
    (agent, changes)
}

/// sipp on `local_port` registers `user` under `demo` for `expires` seconds
/// with `password`; its contact is `user@127.0.0.1:local_port`.
fn sipp_register(
    local_port: u16,
    scenario: &str,
    agent_port: u16,
    transport: Transport,
    user: &str,
    password: &str,
    expires: u32,
) -> Sipp {
    let target = format!("127.0.0.1:{agent_port}");
    let expires = expires.to_string();
    Sipp::spawn_on(
        local_port,
        scenario,
        transport,
        &[
            "-s", user, "-au", user, "-ap", password, "-key", "domain", "demo", "-key", "expires",
            &expires, &target,
        ],
    )
}

async fn next_change(rx: &mut Receiver<Registration>) -> Registration {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("a registration change in time")
        .expect("channel open")
}

#[tokio::test]
async fn sipp_registers_and_unregisters_over_udp_and_tcp() {
    if !sipp_available() {
        return;
    }
    let (agent, mut changes) = registrar().await;
    let port = agent.local_addr().port();
    for transport in [Transport::Udp, Transport::Tcp] {
        let device = common::free_port();
        let sipp = sipp_register(
            device,
            "registrar_register",
            port,
            transport,
            "alice",
            "demo-sip-alice",
            120,
        );
        assert!(sipp.success().await, "sipp registers over {transport:?}");
        let change = next_change(&mut changes).await;
        assert_eq!(
            (change.tenant, change.member, change.contacts),
            (TENANT, 1, 1)
        );
        let bindings = agent.registered_contacts(TENANT, 1);
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].transport, transport);
        assert_eq!(bindings[0].source.ip(), LOOPBACK);
        let left = bindings[0].expires_at - std::time::Instant::now();
        assert!(left > Duration::from_secs(100) && left <= Duration::from_mins(2));

        let sipp = sipp_register(
            device,
            "registrar_register",
            port,
            transport,
            "alice",
            "demo-sip-alice",
            0,
        );
        assert!(sipp.success().await, "sipp unregisters over {transport:?}");
        assert_eq!(next_change(&mut changes).await.contacts, 0);
        assert!(agent.registered_contacts(TENANT, 1).is_empty());
    }
}

#[tokio::test]
async fn a_number_registers_like_a_name() {
    if !sipp_available() {
        return;
    }
    let (agent, mut changes) = registrar().await;
    let port = agent.local_addr().port();
    let sipp = sipp_register(
        common::free_port(),
        "registrar_register",
        port,
        Transport::Udp,
        "234500000001",
        "demo-sip-alice",
        300,
    );
    assert!(sipp.success().await);
    assert_eq!(next_change(&mut changes).await.member, 1);
}

#[tokio::test]
async fn wrong_password_and_unknown_member_are_refused_alike() {
    if !sipp_available() {
        return;
    }
    let (agent, mut changes) = registrar().await;
    let port = agent.local_addr().port();
    for (user, password) in [("alice", "wrong"), ("mallory", "anything")] {
        let sipp = sipp_register(
            common::free_port(),
            "registrar_refused",
            port,
            Transport::Udp,
            user,
            password,
            120,
        );
        assert!(sipp.success().await, "{user} gets 403");
    }
    assert!(changes.try_recv().is_err(), "nothing was bound");
}

/// Sends one datagram and returns the status line of the answer.
async fn exchange(port: u16, message: &str) -> String {
    let socket = tokio::net::UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    socket
        .send_to(message.as_bytes(), (LOOPBACK, port))
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

fn register(to: &str, extra: &str) -> String {
    format!(
        "REGISTER sip:demo SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbad{}\r\n\
         From: <sip:alice@demo>;tag=1\r\nTo: {to}\r\nCall-ID: bad-{}\r\nCSeq: 1 REGISTER\r\n\
         Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n",
        rand_token(),
        rand_token()
    )
}

fn rand_token() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

#[tokio::test]
async fn malformed_registers_get_clear_answers() {
    let (agent, _changes) = registrar().await;
    let port = agent.local_addr().port();
    let cases = [
        (register("<sip:demo>", ""), "SIP/2.0 400 Bad To Header"),
        (register("<sip:alice@demo", ""), "SIP/2.0 400 Bad Address"),
        (
            register(
                "<sip:alice@demo>",
                "Authorization: Digest username=\"alice\"\r\n",
            ),
            "SIP/2.0 400 Bad Authorization Header",
        ),
        (
            register("<sip:alice@demo>", "Authorization: Basic YWxpY2U6eA==\r\n"),
            "SIP/2.0 400 Bad Authorization Header",
        ),
        (register("<sip:alice@demo>", ""), "SIP/2.0 401 Unauthorized"),
        (
            register("<sip:alice@demo>", "CSeq: 2 INVITE\r\n"),
            "SIP/2.0 400 Duplicate Header",
        ),
    ];
    for (message, want) in cases {
        assert_eq!(exchange(port, &message).await, want, "{message}");
    }
    // Garbage after the headers, a huge header: still one clear answer each.
    let huge = register(
        "<sip:alice@demo>",
        &format!("X-Pad: {}\r\n", "a".repeat(70_000)),
    );
    let socket = tokio::net::UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let _ = socket
        .send_to(&huge.as_bytes()[..60_000], (LOOPBACK, port))
        .await;
    assert_eq!(
        exchange(port, &register("<sip:alice@demo>", "")).await,
        "SIP/2.0 401 Unauthorized",
        "the registrar still answers"
    );
}

#[tokio::test]
async fn register_is_405_until_the_registrar_is_enabled() {
    let (agent, _events) = agent(20, Duration::from_secs(5)).await;
    let port = agent.local_addr().port();
    assert_eq!(
        exchange(port, &register("<sip:alice@demo>", "")).await,
        "SIP/2.0 405 Method Not Allowed"
    );
}
