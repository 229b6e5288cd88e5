//! RFC 4475 torture messages: (a) through the validation layer, (b) over UDP to a
//! running agent whose trunk source is loopback, which must still answer OPTIONS
//! afterwards. The messages are read from `../../../shared/testdata/rfc4475/`
//! relative to this crate and never copied into the repository.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use sip::Transport;
use sip::validate::{self, Verdict};

/// What a case must produce: a response code from a set, or no response.
#[derive(Clone, Copy, Debug)]
enum Want {
    Code(&'static [u16]),
    Silence,
}

/// Per RFC 4475 and RFC 3261 §8.2. A valid INVITE gets 100 Trying (the server then
/// decides); valid requests for methods we do not serve get 405 / 501.
const CASES: &[(&str, Want)] = &[
    // 3.1.1 valid
    // Its To tag names a dialog we do not have: 481 (RFC 3261 §12.2.2), once
    // parsed in spite of the folding and LWS.
    ("wsinv", Want::Code(&[100, 481])),
    ("intmeth", Want::Code(&[501])),
    ("esc01", Want::Code(&[100])),
    ("escnull", Want::Code(&[405])),
    ("esc02", Want::Code(&[501])),
    ("lwsdisp", Want::Code(&[200])),
    ("longreq", Want::Code(&[100])),
    ("dblreq", Want::Code(&[405])),
    ("semiuri", Want::Code(&[200])),
    ("transports", Want::Code(&[200])),
    ("mpart01", Want::Code(&[405])),
    ("unreason", Want::Silence),
    ("noreason", Want::Silence),
    // 3.1.2 invalid
    ("badinv01", Want::Code(&[400])),
    ("clerr", Want::Code(&[400])),
    ("ncl", Want::Code(&[400])),
    ("scalar02", Want::Code(&[400])),
    ("scalarlg", Want::Silence),
    ("quotbal", Want::Code(&[400])),
    ("ltgtruri", Want::Code(&[400])),
    ("lwsruri", Want::Code(&[400])),
    ("lwsstart", Want::Code(&[400])),
    ("trws", Want::Code(&[400])),
    ("escruri", Want::Code(&[400])),
    ("baddate", Want::Code(&[400])),
    ("regbadct", Want::Code(&[400])),
    ("badaspec", Want::Code(&[400])),
    ("baddn", Want::Code(&[400])),
    ("badvers", Want::Code(&[505])),
    ("mismatch01", Want::Code(&[400])),
    ("mismatch02", Want::Code(&[400, 501])),
    ("bigcode", Want::Silence),
    // 3.2 transaction layer
    ("badbranch", Want::Code(&[200])),
    // 3.3 application layer
    ("insuf", Want::Code(&[400])),
    ("unkscm", Want::Code(&[416])),
    ("novelsc", Want::Code(&[416])),
    ("unksm2", Want::Code(&[400, 405])),
    ("bext01", Want::Code(&[420])),
    ("invut", Want::Code(&[415])),
    ("regaut01", Want::Code(&[401, 405])),
    ("multi01", Want::Code(&[400])),
    ("mcl01", Want::Code(&[400])),
    ("bcast", Want::Silence),
    ("zeromf", Want::Code(&[483])),
    ("cparam01", Want::Code(&[405])),
    ("cparam02", Want::Code(&[405])),
    ("regescrt", Want::Code(&[405])),
    ("sdp01", Want::Code(&[400, 406])),
    // 4 backward compatibility
    ("inv2543", Want::Code(&[100])),
];

fn dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc4475");
    if d.is_dir() {
        return Some(d);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "RFC 4475 data missing at {} and CI is set",
        d.display()
    );
    eprintln!("skipping: RFC 4475 data not found at {}", d.display());
    None
}

fn load(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!("{name}.dat"))).expect("torture file")
}

#[test]
fn validation_layer_classifies_each_message() {
    let Some(dir) = dir() else { return };
    assert_eq!(CASES.len(), 49);
    let mut failures = Vec::new();
    for (name, want) in CASES {
        let verdict = validate::check(&load(&dir, name));
        let ok = match (want, &verdict) {
            (
                Want::Silence,
                Verdict::Drop
                | Verdict::Pass {
                    message: validate::Kind::Response,
                    ..
                },
            ) => true,
            (Want::Code(codes), Verdict::Reply { code, .. }) => codes.contains(code),
            // REGISTER is the gate's (the registrar, 405 while it is off):
            // checked over the wire below.
            (
                Want::Code(_),
                Verdict::Pass {
                    message: validate::Kind::Request { method, .. },
                    ..
                },
            ) if method == "REGISTER" => true,
            // Passed on: the stack answers (100 / 200), checked over the wire below.
            (
                Want::Code(codes),
                Verdict::Pass {
                    message: validate::Kind::Request { .. },
                    ..
                },
            ) => codes.iter().any(|c| *c < 300),
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: want {want:?}, got {verdict:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

const OPTIONS_PROBE: &str = "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKprobe1\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: probe-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

async fn first_code(sock: &tokio::net::UdpSocket, wait: Duration) -> Option<u16> {
    let mut buf = vec![0u8; 65536];
    let (len, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    std::str::from_utf8(&buf[..len])
        .ok()?
        .get(8..11)?
        .parse()
        .ok()
}

#[tokio::test]
async fn agent_answers_each_message_over_udp() {
    let Some(dir) = dir() else { return };
    let (agent, _rx) = agent(1000, Duration::from_secs(10)).await;
    agent.set_trunks(vec![trunk(5060, Transport::Udp)]);
    let mut failures = Vec::new();
    let mut table = String::new();
    for (name, want) in CASES {
        // A fresh socket per case so a late retransmission cannot be misattributed.
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(&load(&dir, name), agent.local_addr())
            .await
            .unwrap();
        let got = first_code(&sock, Duration::from_millis(400)).await;
        let ok = match want {
            Want::Silence => got.is_none(),
            Want::Code(codes) => got.is_some_and(|c| codes.contains(&c)),
        };
        let _ = writeln!(
            table,
            "{name:<11} want {want:?} got {got:?} {}",
            if ok { "ok" } else { "MISMATCH" }
        );
        if !ok {
            failures.push(*name);
        }
    }
    println!("{table}");
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(OPTIONS_PROBE.as_bytes(), agent.local_addr())
        .await
        .unwrap();
    assert_eq!(
        first_code(&sock, Duration::from_secs(2)).await,
        Some(200),
        "agent alive"
    );
    assert!(failures.is_empty(), "{failures:?}\n{table}");
}

/// RFC 4475 §4: the RFC 2543 INVITE (no branch, no From tag, no Contact, no
/// Content-Length) becomes a call, and the peer gets its own From back: the
/// tag the agent gives it internally never leaves.
#[tokio::test]
async fn an_rfc2543_invite_becomes_a_call_and_gets_its_own_from_back() {
    let Some(dir) = dir() else { return };
    let (agent, mut events) = agent(1000, Duration::from_secs(10)).await;
    agent.set_trunks(vec![trunk(5060, Transport::Udp)]);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&load(&dir, "inv2543"), agent.local_addr())
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..len]).to_string();
    assert!(text.starts_with("SIP/2.0 100 "), "{text}");
    assert!(
        text.contains("\r\nFrom: <sip:+13035551111@ift.client.example.net;user=phone>\r\n"),
        "{text}"
    );
    let incoming = wait_for(&mut events, "the call", |e| {
        matches!(e, sip::SipEvent::Incoming(_))
    })
    .await;
    let sip::SipEvent::Incoming(sip::IncomingCall {
        from, sip_call_id, ..
    }) = incoming
    else {
        unreachable!()
    };
    assert_eq!(from, "+13035551111");
    assert_eq!(sip_call_id, "inv2543.1717@ift.client.example.com");
}
