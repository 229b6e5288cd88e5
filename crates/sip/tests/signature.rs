//! What we send does not name the SIP library: Call-IDs are a random token at
//! our own host, and `User-Agent` / `Server` appear only when configured.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use sip::{SipAgent, SipConfig, Transport};
use tokio::net::UdpSocket;

async fn agent_named(user_agent: &str) -> SipAgent {
    let (agent, _rx) = SipAgent::start(SipConfig {
        bind: SocketAddr::new(LOOPBACK, 0),
        announce: LOOPBACK,
        user_agent: user_agent.into(),
        ..SipConfig::default()
    })
    .await
    .expect("agent starts");
    agent
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn recv_text(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 8192];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
        .await
        .expect("a message arrives")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The INVITE of an outbound call, as the trunk (a plain UDP socket) gets it,
/// and the answer to an OPTIONS from that trunk.
async fn what_the_trunk_sees(user_agent: &str) -> (String, String) {
    let far = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let agent = agent_named(user_agent).await;
    agent.set_trunks(vec![trunk(
        far.local_addr().unwrap().port(),
        Transport::Udp,
    )]);
    agent.dial(dial_to("+4930123456")).unwrap();
    let invite = loop {
        let m = recv_text(&far).await;
        if m.starts_with("INVITE ") {
            break m;
        }
    };
    let options = format!(
        "OPTIONS sip:127.0.0.1:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKsig\r\nFrom: <sip:t@127.0.0.1>;tag=s\r\nTo: <sip:127.0.0.1>\r\nCall-ID: sig-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        agent.local_addr().port(),
        far.local_addr().unwrap().port()
    );
    far.send_to(options.as_bytes(), agent.local_addr())
        .await
        .unwrap();
    let answer = loop {
        let m = recv_text(&far).await;
        if m.starts_with("SIP/2.0 200") && m.contains("sig-1") {
            break m;
        }
    };
    (invite, answer)
}

#[tokio::test]
async fn nothing_names_the_library_by_default() {
    let (invite, answer) = what_the_trunk_sees("").await;
    let call_id = header(&invite, "Call-ID").expect("Call-ID");
    assert!(call_id.ends_with("@127.0.0.1"), "{call_id}");
    let token = call_id.trim_end_matches("@127.0.0.1");
    assert!(token.len() >= 16, "{call_id}");
    for msg in [&invite, &answer] {
        assert!(!msg.to_ascii_lowercase().contains("restsend"), "{msg}");
        assert!(!msg.to_ascii_lowercase().contains("rsipstack"), "{msg}");
        assert_eq!(header(msg, "User-Agent"), None, "{msg}");
        assert_eq!(header(msg, "Server"), None, "{msg}");
    }
}

#[tokio::test]
async fn a_configured_name_is_sent_as_user_agent_and_server() {
    let (invite, answer) = what_the_trunk_sees("Acme PBX").await;
    assert_eq!(header(&invite, "User-Agent"), Some("Acme PBX"), "{invite}");
    assert_eq!(header(&answer, "Server"), Some("Acme PBX"), "{answer}");
    assert_eq!(header(&answer, "User-Agent"), None, "{answer}");
}

/// Stateless answers (here a 403 to a stranger's INVITE) follow the same setting.
#[tokio::test]
async fn stateless_answers_carry_no_server_by_default() {
    let agent = agent_named("").await;
    // No trunks: every source is a stranger.
    let sock = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let port = agent.local_addr().port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    let invite = format!(
        "INVITE sip:+4930123456@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKsig2\r\nFrom: <sip:+14155550100@127.0.0.1>;tag=x\r\nTo: <sip:+4930123456@127.0.0.1>\r\nCall-ID: sig-2\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:x@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    sock.send_to(invite.as_bytes(), agent.local_addr())
        .await
        .unwrap();
    let answer = recv_text(&sock).await;
    assert!(answer.starts_with("SIP/2.0 403"), "{answer}");
    assert_eq!(header(&answer, "Server"), None, "{answer}");
}
