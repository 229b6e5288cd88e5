//! More of the agent against sipp as the real peer: reliable provisionals
//! (RFC 3262) both ways, OPTIONS keepalives and `TrunkStatus`, and an inbound call
//! over TCP. Without sipp these tests skip with a printed reason, unless `CI` is
//! set, where they fail.

mod common;

use std::time::Duration;

use common::*;
use sip::{Codec, SipAgent, SipCallId, SipEvent, Transport};
use tokio::sync::mpsc::Receiver;

/// Outbound: sipp answers with a reliable 183 carrying the SDP answer and insists on
/// the PRACK (its RAck must name RSeq 1 and the INVITE's CSeq, else sipp fails),
/// then sends a 200 without SDP. The call is answered with the 183's media.
async fn outbound_reliable_183(transport: Transport) {
    if !sipp_available() {
        return;
    }
    let (sipp, agent, mut rx) = agent_with_sipp_trunk("uas_100rel", transport).await;
    let call = agent.dial(dial_to("+4930123456")).unwrap();
    let ev = wait_for(&mut rx, "Progress 183", |e| {
        matches!(
            e,
            SipEvent::Progress { .. } | SipEvent::Answered { .. } | SipEvent::Failed { .. }
        )
    })
    .await;
    let SipEvent::Progress {
        call: c,
        code,
        media,
    } = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!((c, code), (call, 183));
    let early = media.expect("the reliable 183 carries SDP");
    assert_eq!(early.addr, "127.0.0.1:6000".parse().unwrap());
    let ev = wait_for(&mut rx, "Answered", |e| {
        matches!(e, SipEvent::Answered { .. } | SipEvent::Failed { .. })
    })
    .await;
    let SipEvent::Answered {
        call: c,
        sip_call_id,
        media,
    } = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(c, call);
    assert!(!sip_call_id.is_empty());
    // The 200 has no SDP: the answer is the one the reliable 183 delivered.
    assert_eq!(media.addr, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(media.codec, Codec::Pcmu);
    assert_eq!(media.dtmf_payload_type, Some(101));
    agent.hangup(call).await;
    let ev = wait_for(&mut rx, "Ended", |e| matches!(e, SipEvent::Ended { .. })).await;
    assert!(
        matches!(
            ev,
            SipEvent::Ended {
                by_remote: false,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(
        sipp.success().await,
        "sipp got its PRACK, the ACK and the BYE"
    );
}

#[tokio::test]
async fn outbound_reliable_183_is_pracked_udp() {
    outbound_reliable_183(Transport::Udp).await;
}

#[tokio::test]
async fn outbound_reliable_183_is_pracked_tcp() {
    outbound_reliable_183(Transport::Tcp).await;
}

/// sipp calls the agent with `scen`; the agent rings and answers, sipp hangs up.
async fn inbound_answered_then_remote_bye(scen: &str, transport: Transport) {
    if !sipp_available() {
        return;
    }
    let (agent, mut rx) = agent(10, Duration::from_secs(10)).await;
    // `SipAgent::start` returns once its TCP listener accepts: sipp may connect at once.
    agent.set_trunks(vec![trunk(5060, transport)]);
    let sipp = sipp_uac(scen, agent.local_addr().port(), transport);
    let call = incoming(&mut rx).await;
    agent.ringing(call).await.unwrap();
    agent.answer(call, media()).await.unwrap();
    let ev = wait_for(&mut rx, "Ended", |e| matches!(e, SipEvent::Ended { .. })).await;
    assert!(
        matches!(
            ev,
            SipEvent::Ended {
                call: c,
                by_remote: true,
                code: None,
            } if c == call
        ),
        "{ev:?}"
    );
    assert!(sipp.success().await, "sipp scenario {scen} completed");
    assert_no_call_left(&agent, call).await;
}

/// After `Ended` the call is gone from the agent.
async fn assert_no_call_left(agent: &SipAgent, call: SipCallId) {
    assert!(matches!(
        agent.answer(call, media()).await,
        Err(sip::SipError::NoSuchCall)
    ));
}

/// The caller offers 100rel (`Supported`) without requiring it: an ordinary call,
/// and the 180 must not demand a PRACK that will never come.
#[tokio::test]
async fn inbound_offering_100rel_answered() {
    inbound_answered_then_remote_bye("uac_100rel_supported", Transport::Udp).await;
}

/// The caller requires 100rel, which the agent accepts: its 180 must be reliable
/// (Require: 100rel, RSeq), the PRACK is answered 200, then the call proceeds.
#[tokio::test]
async fn inbound_requiring_100rel_answered() {
    inbound_answered_then_remote_bye("uac_100rel_required", Transport::Udp).await;
}

/// The same as `inbound_call_answered_then_remote_bye` in sipp.rs, over TCP.
#[tokio::test]
async fn inbound_call_over_tcp() {
    inbound_answered_then_remote_bye("uac_call", Transport::Tcp).await;
}

/// Waits for the next `TrunkStatus` and returns whether it says up.
async fn trunk_status(rx: &mut Receiver<SipEvent>, what: &str) -> bool {
    let ev = wait_for(rx, what, |e| matches!(e, SipEvent::TrunkStatus { .. })).await;
    let SipEvent::TrunkStatus { tenant, trunk, up } = ev else {
        unreachable!()
    };
    assert_eq!((tenant, trunk.as_str()), (sip::TenantId(1), "main"));
    up
}

/// OPTIONS keepalive: sipp answers one OPTIONS with 200 and exits, so the trunk is
/// reported up, then down when the next probes go unanswered, then up again when a
/// new sipp answers on the same port. Only changes are reported.
#[tokio::test]
async fn keepalive_reports_trunk_up_down_up() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::spawn("uas_options", Transport::Udp, &[]);
    sipp.wait_listening().await;
    let port = sipp.port;
    let (agent, mut rx) = agent(10, Duration::from_secs(10)).await;
    let mut t = trunk(port, Transport::Udp);
    t.options_interval = Some(Duration::from_millis(300));
    agent.set_trunks(vec![t]);
    assert!(
        trunk_status(&mut rx, "TrunkStatus up").await,
        "first status is up"
    );
    assert!(sipp.success().await, "sipp answered an OPTIONS");
    assert!(
        !trunk_status(&mut rx, "TrunkStatus down").await,
        "the next status change is down"
    );
    let sipp = Sipp::spawn_on(port, "uas_options", Transport::Udp, &[]);
    sipp.wait_listening().await;
    assert!(
        trunk_status(&mut rx, "TrunkStatus up again").await,
        "the trunk is back up"
    );
    assert!(sipp.success().await, "the second sipp answered an OPTIONS");
}
