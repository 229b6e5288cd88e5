//! The agent against sipp as the real peer. Without sipp these tests skip with a
//! printed reason, unless `CI` is set, where they fail.

mod common;

use std::time::Duration;

use common::*;
use sip::{Codec, Direction, SipEvent, Transport};

async fn outbound_answered(transport: Transport) {
    if !sipp_available() {
        return;
    }
    let (sipp, agent, mut rx) = agent_with_sipp_trunk("uas_answer", transport).await;
    let call = agent.dial(dial_to("+4930123456")).unwrap();
    let ev = wait_for(&mut rx, "Answered", |e| {
        matches!(e, SipEvent::Answered { .. } | SipEvent::Failed { .. })
    })
    .await;
    let SipEvent::Answered { call: c, media, .. } = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(c, call);
    assert_eq!(media.addr, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(media.codec, Codec::Pcmu);
    assert_eq!(media.dtmf_payload_type, Some(101));
    agent.hangup(call).await;
    wait_for(&mut rx, "Ended", |e| {
        matches!(
            e,
            SipEvent::Ended {
                by_remote: false,
                ..
            }
        )
    })
    .await;
    assert!(sipp.success().await, "sipp saw the BYE");
}

#[tokio::test]
async fn outbound_answered_udp() {
    outbound_answered(Transport::Udp).await;
}

#[tokio::test]
async fn outbound_answered_tcp() {
    outbound_answered(Transport::Tcp).await;
}

async fn outbound_fails(scen: &str, want: u16, no_answer: Duration) {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::spawn(scen, Transport::Udp, &[]);
    sipp.wait_listening().await;
    let (agent, mut rx) = agent(10, no_answer).await;
    agent.set_trunks(vec![trunk(sipp.port, Transport::Udp)]);
    let call = agent.dial(dial_to("+4930123456")).unwrap();
    let ev = wait_for(&mut rx, "Failed", |e| {
        matches!(e, SipEvent::Failed { .. } | SipEvent::Answered { .. })
    })
    .await;
    let SipEvent::Failed { call: c, code, .. } = ev else {
        panic!("{ev:?}")
    };
    assert_eq!((c, code), (call, want));
    assert!(sipp.success().await, "sipp scenario {scen} completed");
}

#[tokio::test]
async fn outbound_busy_486() {
    outbound_fails("uas_busy", 486, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn outbound_unavailable_503() {
    outbound_fails("uas_unavailable", 503, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn outbound_no_answer_cancels_408() {
    outbound_fails("uas_no_answer", 408, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn outbound_digest_auth() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::spawn("uas_auth", Transport::Udp, &[]);
    sipp.wait_listening().await;
    let (agent, mut rx) = agent(10, Duration::from_secs(10)).await;
    let mut t = trunk(sipp.port, Transport::Udp);
    t.username = Some("alice".into());
    t.password = Some("s3cret".into());
    agent.set_trunks(vec![t]);
    let call = agent.dial(dial_to("+4930123456")).unwrap();
    let ev = wait_for(&mut rx, "Answered", |e| {
        matches!(e, SipEvent::Answered { .. } | SipEvent::Failed { .. })
    })
    .await;
    assert!(matches!(ev, SipEvent::Answered { .. }), "{ev:?}");
    agent.hangup(call).await;
    assert!(sipp.success().await);
}

#[tokio::test]
async fn outbound_early_media_then_answer() {
    if !sipp_available() {
        return;
    }
    let (sipp, agent, mut rx) = agent_with_sipp_trunk("uas_early_media", Transport::Udp).await;
    let call = agent.dial(dial_to("+4930123456")).unwrap();
    let ev = wait_for(&mut rx, "Progress", |e| {
        matches!(e, SipEvent::Progress { .. })
    })
    .await;
    let SipEvent::Progress { code, media, .. } = ev else {
        unreachable!()
    };
    assert_eq!(code, 183);
    assert_eq!(media.expect("early media").addr.port(), 6000);
    wait_for(&mut rx, "Answered", |e| {
        matches!(e, SipEvent::Answered { .. })
    })
    .await;
    agent.hangup(call).await;
    assert!(sipp.success().await);
}

#[tokio::test]
async fn inbound_call_answered_then_remote_bye() {
    if !sipp_available() {
        return;
    }
    let (agent, mut rx) = agent(10, Duration::from_secs(10)).await;
    agent.set_trunks(vec![trunk(5060, Transport::Udp)]);
    let sipp = sipp_uac("uac_call", agent.local_addr().port(), Transport::Udp);
    let call = incoming(&mut rx).await;
    agent.ringing(call).await.unwrap();
    agent.answer(call, media_local()).await.unwrap();
    let ev = wait_for(&mut rx, "Ended", |e| matches!(e, SipEvent::Ended { .. })).await;
    assert!(
        matches!(
            ev,
            SipEvent::Ended {
                by_remote: true,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(sipp.success().await);
}

fn media_local() -> sip::LocalMedia {
    media()
}

#[tokio::test]
async fn inbound_from_stranger_gets_403() {
    if !sipp_available() {
        return;
    }
    let (agent, mut rx) = agent(10, Duration::from_secs(10)).await;
    let mut t = trunk(5060, Transport::Udp);
    t.allowed_sources = vec!["192.0.2.1".parse().unwrap()];
    agent.set_trunks(vec![t]);
    let sipp = sipp_uac("uac_forbidden", agent.local_addr().port(), Transport::Udp);
    assert!(sipp.success().await, "sipp got 403");
    assert!(rx.try_recv().is_err(), "no event for a stranger");
}

#[tokio::test]
async fn remote_hold_reinvite() {
    if !sipp_available() {
        return;
    }
    let (agent, mut rx) = agent(10, Duration::from_secs(10)).await;
    agent.set_trunks(vec![trunk(5060, Transport::Udp)]);
    let sipp = sipp_uac("uac_remote_hold", agent.local_addr().port(), Transport::Udp);
    let SipEvent::Incoming(sip::IncomingCall { call, .. }) =
        wait_for(&mut rx, "Incoming", |e| matches!(e, SipEvent::Incoming(_))).await
    else {
        unreachable!()
    };
    agent.answer(call, media()).await.unwrap();
    let ev = wait_for(&mut rx, "RemoteHold", |e| {
        matches!(e, SipEvent::RemoteHold { .. })
    })
    .await;
    let SipEvent::RemoteHold { media, .. } = ev else {
        unreachable!()
    };
    assert_eq!(media.direction, Direction::SendOnly);
    wait_for(&mut rx, "Ended", |e| matches!(e, SipEvent::Ended { .. })).await;
    assert!(sipp.success().await);
}
