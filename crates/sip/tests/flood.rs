//! An INVITE flood from one trunk source: 503 with Retry-After beyond the limit,
//! silence beyond twice the limit, and no events for the refused ones.

mod common;

use std::time::Duration;

use common::*;
use sip::{SipEvent, Transport};

fn invite(port: u16, n: u32) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:+4930123456@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKflood{n}\r\nFrom: <sip:+14155550100@127.0.0.1>;tag=f{n}\r\nTo: <sip:+4930123456@127.0.0.1>\r\nCall-ID: flood-{n}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:x@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

#[tokio::test]
async fn invite_flood_gets_503_after_limit() {
    let (agent, mut rx) = agent(5, Duration::from_secs(10)).await;
    agent.set_trunks(vec![trunk(5060, Transport::Udp)]);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = agent.local_addr().port();
    for n in 0..20 {
        sock.send_to(invite(port, n).as_bytes(), agent.local_addr())
            .await
            .unwrap();
    }
    let mut codes = Vec::new();
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((len, _))) =
        tokio::time::timeout(Duration::from_millis(700), sock.recv_from(&mut buf)).await
    {
        let text = String::from_utf8_lossy(&buf[..len]).to_string();
        let code: u16 = text.get(8..11).and_then(|c| c.parse().ok()).unwrap_or(0);
        if code == 503 {
            assert!(text.contains("Retry-After:"), "{text}");
        }
        codes.push(code);
    }
    let n503 = codes.iter().filter(|c| **c == 503).count();
    let n100 = codes.iter().filter(|c| **c == 100).count();
    assert_eq!(n100, 5, "{codes:?}");
    assert_eq!(n503, 5, "{codes:?}");
    let mut incoming = 0;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
        if matches!(ev, SipEvent::Incoming(_)) {
            incoming += 1;
        }
    }
    assert_eq!(incoming, 5);
}
