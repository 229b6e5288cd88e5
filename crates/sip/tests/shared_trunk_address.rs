//! Two tenants' trunks on one carrier address (issue 13 item 4): an INVITE
//! from that address goes to the trunk that lists its called number, never to
//! whichever trunk was given first; a number neither lists gets 404. The
//! INVITEs are real datagrams through the agent's parsing.

mod common;

use std::time::Duration;

use common::{agent, trunk, wait_for};
use sip::{SipEvent, TenantId, Transport, Trunk};

fn invite(to: &str, n: u32) -> String {
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{to}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKshared{n}\r\n\
         From: <sip:+14155550100@127.0.0.1>;tag=f{n}\r\n\
         To: <sip:{to}@127.0.0.1>\r\n\
         Call-ID: shared-{n}@test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@127.0.0.1:5999>\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn tenant_trunk(tenant: i64, numbers: &[&str]) -> Trunk {
    Trunk {
        tenant: TenantId(tenant),
        numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
        ..trunk(5060, Transport::Udp)
    }
}

/// The final status the agent answers an INVITE on `sock` with (skipping 100
/// and 18x), within a few seconds.
async fn final_code(sock: &tokio::net::UdpSocket) -> Option<u16> {
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (len, _) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        let code: u16 = std::str::from_utf8(&buf[..len])
            .ok()?
            .get(8..11)?
            .parse()
            .ok()?;
        if code >= 200 {
            return Some(code);
        }
    }
}

#[tokio::test]
async fn calls_from_a_shared_address_go_to_the_trunk_of_their_called_number() {
    let (agent, mut events) = agent(1000, Duration::from_secs(10)).await;
    // Tenant 2 first: the order given must not decide.
    agent.set_trunks(vec![
        tenant_trunk(2, &["+4930222222"]),
        tenant_trunk(1, &["+4930111111"]),
    ]);
    for (n, (to, tenant)) in [("+4930111111", 1), ("+4930222222", 2), ("+4930111111", 1)]
        .into_iter()
        .enumerate()
    {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let text = invite(to, u32::try_from(n).unwrap());
        sock.send_to(text.as_bytes(), agent.local_addr())
            .await
            .unwrap();
        let ev = wait_for(&mut events, "the call", |e| {
            matches!(e, SipEvent::Incoming(_))
        })
        .await;
        let SipEvent::Incoming(call) = ev else {
            unreachable!()
        };
        assert_eq!(call.to, to);
        assert_eq!(call.tenant, TenantId(tenant), "a call to {to}");
        agent.reject(call.call, 486).await.unwrap();
    }
    // A number neither trunk lists reaches neither tenant.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(invite("+4930999999", 9).as_bytes(), agent.local_addr())
        .await
        .unwrap();
    assert_eq!(final_code(&sock).await, Some(404));
}

#[tokio::test]
async fn one_tenants_trunks_on_one_address_take_any_number() {
    let (agent, mut events) = agent(1000, Duration::from_secs(10)).await;
    agent.set_trunks(vec![tenant_trunk(1, &[])]);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(invite("+4930999999", 1).as_bytes(), agent.local_addr())
        .await
        .unwrap();
    let ev = wait_for(&mut events, "the call", |e| {
        matches!(e, SipEvent::Incoming(_))
    })
    .await;
    let SipEvent::Incoming(call) = ev else {
        unreachable!()
    };
    assert_eq!(call.tenant, TenantId(1));
}
