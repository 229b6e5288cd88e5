use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::*;
use crate::validate;

const ALICE_NUMBER: &str = "234512345678";

fn registrar(now: Instant) -> Registrar {
    // Both algorithms, so that both are tested (the default offers MD5 alone).
    let config = RegistrarConfig {
        algorithms: vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
        ..RegistrarConfig::default()
    };
    let mut r = Registrar::new(config, now);
    let account = |username: &str, member| SipAccount {
        tenant: TenantId(1),
        domain: "demo".into(),
        member,
        username: username.into(),
        ha1_md5: ha1_md5(username, "secret"),
        ha1_sha256: ha1_sha256(username, "secret"),
    };
    r.set_accounts(vec![
        account("alice", 10),
        account(ALICE_NUMBER, 10),
        account("bob", 11),
    ]);
    r
}

fn source() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

struct Req<'a> {
    aor: &'a str,
    contacts: Vec<&'a str>,
    expires: Option<&'a str>,
    auth: Option<String>,
    cseq: u32,
}

impl<'a> Req<'a> {
    fn new(aor: &'a str) -> Self {
        Req {
            aor,
            contacts: vec!["<sip:alice@127.0.0.1:5070>"],
            expires: None,
            auth: None,
            cseq: 1,
        }
    }

    fn text(&self) -> String {
        let mut s = format!(
            "REGISTER sip:demo SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{}\r\n\
             From: <{}>;tag=1\r\nTo: <{}>\r\nCall-ID: reg-1\r\nCSeq: {} REGISTER\r\nMax-Forwards: 70\r\n",
            self.cseq, self.aor, self.aor, self.cseq
        );
        for c in &self.contacts {
            let _ = write!(s, "Contact: {c}\r\n");
        }
        if let Some(e) = self.expires {
            let _ = write!(s, "Expires: {e}\r\n");
        }
        if let Some(a) = &self.auth {
            let _ = write!(s, "Authorization: {a}\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }
}

fn send(r: &mut Registrar, req: &Req<'_>, now: Instant) -> (Reply, Option<Registration>) {
    let text = req.text();
    let parsed = validate::parse(text.as_bytes()).unwrap();
    r.register(&parsed, source(), Transport::Udp, now)
}

fn nonce_of(reply: &Reply, alg: &str) -> String {
    let ch = reply
        .headers
        .iter()
        .find(|(n, v)| *n == "WWW-Authenticate" && v.contains(&format!("algorithm={alg}")))
        .map(|(_, v)| v.clone())
        .expect("a challenge");
    ch.split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

fn md5_auth(user: &str, password: &str, nonce: &str) -> String {
    let resp = crate::digest::response(&crate::digest::DigestInput {
        username: user,
        password,
        realm: REALM,
        method: "REGISTER",
        uri: "sip:demo",
        nonce,
        qop_auth: Some(("00000001", "abc")),
    });
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:demo\", \
         response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\""
    )
}

fn sha256_auth(user: &str, password: &str, nonce: &str) -> String {
    let ha1 = sha256_hex(&format!("{user}:{REALM}:{password}"));
    let ha2 = sha256_hex("REGISTER:sip:demo");
    let resp = sha256_hex(&format!("{ha1}:{nonce}:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:demo\", \
         response=\"{resp}\", algorithm=SHA-256"
    )
}

/// Challenge, then answer it with MD5.
fn register_alice(
    r: &mut Registrar,
    mut req: Req<'_>,
    now: Instant,
) -> (Reply, Option<Registration>) {
    let (challenge, _) = send(r, &req, now);
    assert_eq!(challenge.code, 401);
    req.auth = Some(md5_auth("alice", "secret", &nonce_of(&challenge, "MD5")));
    send(r, &req, now)
}

#[test]
fn a_register_without_credentials_is_challenged_alike_for_anyone() {
    let now = Instant::now();
    let mut r = registrar(now);
    let (known, _) = send(&mut r, &Req::new("sip:alice@demo"), now);
    let (unknown, _) = send(&mut r, &Req::new("sip:nobody@nowhere"), now);
    assert_eq!(known.code, 401);
    assert_eq!(unknown.code, 401);
    let names = |r: &Reply| {
        r.headers
            .iter()
            .map(|(n, v)| (*n, v.contains("realm=\"switchboard\"")))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&known), names(&unknown));
    assert!(
        known.headers[0].1.contains("algorithm=MD5"),
        "MD5 first, for devices that read one challenge"
    );
    assert!(known.headers[1].1.contains("algorithm=SHA-256"));
    let default =
        Registrar::new(RegistrarConfig::default(), now).challenge(source().ip(), now, false);
    assert_eq!(default.headers.len(), 1, "MD5 alone by default");
}

#[test]
fn md5_and_sha256_credentials_bind_the_contact() {
    let now = Instant::now();
    let mut r = registrar(now);
    let (ok, change) = register_alice(&mut r, Req::new("sip:alice@demo"), now);
    assert_eq!(ok.code, 200, "{ok:?}");
    assert_eq!(
        ok.headers,
        vec![(
            "Contact",
            "<sip:alice@127.0.0.1:5070>;expires=3600".to_owned()
        )]
    );
    assert_eq!(
        change,
        Some(Registration {
            tenant: TenantId(1),
            member: 10,
            contacts: 1
        })
    );

    // By number, with SHA-256, a second device.
    let mut req = Req::new("sip:234512345678@127.0.0.1");
    req.contacts = vec!["<sip:234512345678@10.0.0.2:5060;transport=udp>;expires=120"];
    let (challenge, _) = send(&mut r, &req, now);
    req.auth = Some(sha256_auth(
        ALICE_NUMBER,
        "secret",
        &nonce_of(&challenge, "SHA-256"),
    ));
    let (ok, change) = send(&mut r, &req, now);
    assert_eq!(ok.code, 200, "{ok:?}");
    assert_eq!(ok.headers.len(), 2);
    assert_eq!(change.map(|c| c.contacts), Some(2));
    assert_eq!(r.bindings(TenantId(1), 10).len(), 2);
    assert_eq!(r.binding_count(), 2);
}

#[test]
fn wrong_password_and_unknown_member_get_the_same_answer_then_throttle() {
    let now = Instant::now();
    let mut r = registrar(now);
    let mut answers = Vec::new();
    for user in ["alice", "nobody"] {
        let mut req = Req::new("sip:alice@demo");
        let (challenge, _) = send(&mut r, &req, now);
        req.auth = Some(md5_auth(user, "guess", &nonce_of(&challenge, "MD5")));
        answers.push(send(&mut r, &req, now).0);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].code, 403);
    // Eight more failures from this source reach the limit of ten.
    for _ in 0..8 {
        let mut req = Req::new("sip:alice@demo");
        let (challenge, _) = send(&mut r, &req, now);
        req.auth = Some(md5_auth("bob", "guess", &nonce_of(&challenge, "MD5")));
        assert_eq!(send(&mut r, &req, now).0.code, 403);
    }
    // Now even the right password is refused from here, until the window passes.
    let (refused, _) = register_alice(&mut r, Req::new("sip:alice@demo"), now);
    assert_eq!(refused.code, 503);
    assert!(refused.headers.iter().any(|(n, _)| *n == "Retry-After"));
    let later = now + Duration::from_secs(11);
    let (ok, _) = register_alice(&mut r, Req::new("sip:alice@demo"), later);
    assert_eq!(ok.code, 200);
}

#[test]
fn a_member_cannot_register_someone_elses_address() {
    let now = Instant::now();
    let mut r = registrar(now);
    let (reply, change) = register_alice(&mut r, Req::new("sip:bob@demo"), now);
    assert_eq!(reply.code, 403);
    assert_eq!(change, None);
}

#[test]
fn expiry_limits_refresh_unregister_and_wildcard() {
    let now = Instant::now();
    let mut r = registrar(now);
    let mut brief = Req::new("sip:alice@demo");
    brief.expires = Some("30");
    let (reply, _) = register_alice(&mut r, brief, now);
    assert_eq!(reply.code, 423);
    assert!(reply.headers.contains(&("Min-Expires", "60".into())));

    let mut long = Req::new("sip:alice@demo");
    long.expires = Some("86400");
    let (reply, _) = register_alice(&mut r, long, now);
    assert_eq!(
        reply.headers[0].1, "<sip:alice@127.0.0.1:5070>;expires=3600",
        "cut to the maximum"
    );

    // A refresh with the same Call-ID needs a higher CSeq.
    let (reply, _) = register_alice(&mut r, Req::new("sip:alice@demo"), now);
    assert_eq!(reply.code, 500);
    let mut refresh = Req::new("sip:alice@demo");
    refresh.cseq = 2;
    refresh.expires = Some("60");
    let (reply, change) = register_alice(&mut r, refresh, now);
    assert_eq!(reply.code, 200);
    assert_eq!(change, None, "a refresh changes no presence");
    assert!(r.expire(now + Duration::from_secs(59)).is_empty());
    let gone = r.expire(now + Duration::from_secs(61));
    assert_eq!(
        gone,
        vec![Registration {
            tenant: TenantId(1),
            member: 10,
            contacts: 0
        }]
    );
    assert_eq!(r.binding_count(), 0);

    // Two contacts, one unregistered by Expires: 0, the rest by `*`.
    let mut two = Req::new("sip:alice@demo");
    two.cseq = 3;
    two.contacts = vec!["<sip:a@10.0.0.1>", "<sip:b@10.0.0.2>;expires=600"];
    assert_eq!(
        register_alice(&mut r, two, now).1.map(|c| c.contacts),
        Some(2)
    );
    let mut one_off = Req::new("sip:alice@demo");
    one_off.cseq = 4;
    one_off.contacts = vec!["<sip:a@10.0.0.1>;expires=0"];
    assert_eq!(
        register_alice(&mut r, one_off, now).1.map(|c| c.contacts),
        Some(1)
    );
    let mut star_without_zero = Req::new("sip:alice@demo");
    star_without_zero.cseq = 5;
    star_without_zero.contacts = vec!["*"];
    assert_eq!(register_alice(&mut r, star_without_zero, now).0.code, 400);
    let mut star = Req::new("sip:alice@demo");
    star.cseq = 6;
    star.contacts = vec!["*"];
    star.expires = Some("0");
    assert_eq!(
        register_alice(&mut r, star, now).1.map(|c| c.contacts),
        Some(0)
    );
    assert_eq!(r.binding_count(), 0);
}

#[test]
fn the_newest_devices_win_beyond_the_contact_cap() {
    let now = Instant::now();
    let mut r = registrar(now);
    for i in 0..7u32 {
        let contact = format!("<sip:dev{i}@10.0.0.{i}>");
        let mut req = Req::new("sip:alice@demo");
        req.cseq = i + 1;
        req.contacts = vec![&contact];
        let at = now + Duration::from_secs(u64::from(i));
        assert_eq!(register_alice(&mut r, req, at).0.code, 200);
    }
    let contacts: Vec<&str> = r
        .bindings(TenantId(1), 10)
        .iter()
        .map(|b| b.contact.as_str())
        .collect();
    assert_eq!(
        contacts,
        [
            "sip:dev2@10.0.0.2",
            "sip:dev3@10.0.0.3",
            "sip:dev4@10.0.0.4",
            "sip:dev5@10.0.0.5",
            "sip:dev6@10.0.0.6"
        ]
    );
    assert_eq!(r.binding_count(), 5);
}

#[test]
fn stale_and_forged_nonces() {
    let now = Instant::now();
    let mut r = registrar(now);
    let mut req = Req::new("sip:alice@demo");
    let (challenge, _) = send(&mut r, &req, now);
    req.auth = Some(md5_auth("alice", "secret", &nonce_of(&challenge, "MD5")));
    let (stale, _) = send(&mut r, &req, now + Duration::from_secs(301));
    assert_eq!(stale.code, 401);
    assert!(stale.headers[0].1.contains("stale=true"));
    req.auth = Some(md5_auth(
        "alice",
        "secret",
        "0.00112233445566778899aabbccddeeff",
    ));
    let (forged, _) = send(&mut r, &req, now);
    assert_eq!(forged.code, 401);
    assert!(!forged.headers[0].1.contains("stale"));
}

#[test]
fn malformed_registers_get_400() {
    let now = Instant::now();
    let mut r = registrar(now);
    let mut bad_contact = Req::new("sip:alice@demo");
    bad_contact.contacts = vec!["<http://x>"];
    assert_eq!(register_alice(&mut r, bad_contact, now).0.code, 400);
    let mut bad_expires = Req::new("sip:alice@demo");
    bad_expires.expires = Some("soon");
    assert_eq!(register_alice(&mut r, bad_expires, now).0.code, 400);
    let mut bad_param = Req::new("sip:alice@demo");
    bad_param.contacts = vec!["<sip:a@h>;expires=-1"];
    assert_eq!(register_alice(&mut r, bad_param, now).0.code, 400);
    let mut bad_auth = Req::new("sip:alice@demo");
    bad_auth.auth = Some("Digest username=\"alice\"".into());
    assert_eq!(send(&mut r, &bad_auth, now).0.code, 400);
    bad_auth.auth = Some("Basic YWxpY2U6c2VjcmV0".into());
    assert_eq!(send(&mut r, &bad_auth, now).0.code, 400);
    let no_user = Req::new("sip:demo");
    assert_eq!(send(&mut r, &no_user, now).0.code, 400);
    assert_eq!(r.binding_count(), 0);
}

/// Mutated REGISTERs (bytes flipped, cut, duplicated) never panic the
/// registrar and never bind anything without valid credentials.
#[test]
fn mutated_registers_never_panic() {
    let now = Instant::now();
    let mut r = registrar(now);
    let mut bound = registrar(now);
    let mut req = Req::new("sip:alice@demo");
    req.contacts = vec!["\"A, B\" <sip:a@10.0.0.1;x=\"y\">;expires=60, <sip:b@[::1]:5060>"];
    req.expires = Some("120");
    req.auth = Some(md5_auth("alice", "secret", "0.00"));
    let base = req.text().into_bytes();
    let interesting = b"<>,;=\":@[]*\r\n 0\xff";
    // A small linear congruential generator: reproducible without a dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    for _ in 0..20_000 {
        let mut msg = base.clone();
        for _ in 0..=(next() % 4) {
            let at = next() % msg.len();
            match next() % 3 {
                0 => msg[at] = interesting[next() % interesting.len()],
                1 => {
                    msg.remove(at);
                }
                _ => {
                    let end = (at + next() % 16).min(msg.len());
                    let copy = msg[at..end].to_vec();
                    msg.splice(at..at, copy);
                }
            }
        }
        if let Some(parsed) = validate::parse(&msg) {
            let (reply, change) = r.register(&parsed, source(), Transport::Udp, now);
            assert_ne!(reply.code, 200, "{}", String::from_utf8_lossy(&msg));
            assert!(change.is_none());
            // And past authentication: the Contact/Expires handling alone.
            let _ = bound.apply(&parsed, TenantId(1), 10, source(), Transport::Udp, now);
            assert!(bound.bindings(TenantId(1), 10).len() <= 5);
        }
    }
    assert_eq!(r.binding_count(), 0);
    assert_eq!(bound.binding_count(), bound.bindings(TenantId(1), 10).len());
}

fn md5_auth_nc(user: &str, nonce: &str, nc: &str) -> String {
    let resp = crate::digest::response(&crate::digest::DigestInput {
        username: user,
        password: "secret",
        realm: REALM,
        method: "REGISTER",
        uri: "sip:demo",
        nonce,
        qop_auth: Some((nc, "abc")),
    });
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:demo\", \
         response=\"{resp}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"abc\""
    )
}

#[test]
fn a_replayed_response_is_challenged_again_and_nonces_are_bounded() {
    let now = Instant::now();
    let mut r = registrar(now);
    let mut req = Req::new("sip:alice@demo");
    let (challenge, _) = send(&mut r, &req, now);
    let nonce = nonce_of(&challenge, "MD5");
    req.auth = Some(md5_auth_nc("alice", &nonce, "00000001"));
    assert_eq!(send(&mut r, &req, now).0.code, 200);
    // The same response again (a captured packet): a fresh, stale challenge.
    req.cseq = 2;
    let (replay, _) = send(&mut r, &req, now);
    assert_eq!(replay.code, 401);
    assert!(replay.headers[0].1.contains("stale=true"), "{replay:?}");
    // The device counting on: taken.
    req.auth = Some(md5_auth_nc("alice", &nonce, "00000002"));
    req.cseq = 3;
    assert_eq!(send(&mut r, &req, now).0.code, 200);
    // Without qop a nonce is good once.
    let mut bob = Req::new("sip:bob@demo");
    bob.contacts = vec!["<sip:bob@127.0.0.1:5070>"];
    let (challenge, _) = send(&mut r, &bob, now);
    let ha1 = md5_hex(&format!("bob:{REALM}:secret"));
    let nonce = nonce_of(&challenge, "MD5");
    let resp = md5_hex(&format!("{ha1}:{nonce}:{}", md5_hex("REGISTER:sip:demo")));
    bob.auth = Some(format!(
        "Digest username=\"bob\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:demo\", \
         response=\"{resp}\", algorithm=MD5"
    ));
    assert_eq!(send(&mut r, &bob, now).0.code, 200);
    bob.cseq = 2;
    assert_eq!(send(&mut r, &bob, now).0.code, 401);

    // Two nonces remembered at most: a third sign-in waits for them to lapse.
    let mut small = Registrar::new(
        RegistrarConfig {
            max_tracked_nonces: 2,
            ..RegistrarConfig::default()
        },
        now,
    );
    small.set_accounts(vec![SipAccount {
        tenant: TenantId(1),
        domain: "demo".into(),
        member: 10,
        username: "alice".into(),
        ha1_md5: ha1_md5("alice", "secret"),
        ha1_sha256: ha1_sha256("alice", "secret"),
    }]);
    let mut at = now;
    for (i, want) in [(1, 200), (2, 200), (3, 503)] {
        at += Duration::from_secs(1);
        let mut req = Req::new("sip:alice@demo");
        req.cseq = i * 10;
        let (challenge, _) = send(&mut small, &req, at);
        req.auth = Some(md5_auth_nc(
            "alice",
            &nonce_of(&challenge, "MD5"),
            "00000001",
        ));
        req.cseq += 1;
        assert_eq!(send(&mut small, &req, at).0.code, want, "sign-in {i}");
    }
    let later = at + Duration::from_mins(6);
    small.expire(later);
    let mut req = Req::new("sip:alice@demo");
    req.cseq = 100;
    let (challenge, _) = send(&mut small, &req, later);
    req.auth = Some(md5_auth_nc(
        "alice",
        &nonce_of(&challenge, "MD5"),
        "00000001",
    ));
    req.cseq = 101;
    assert_eq!(send(&mut small, &req, later).0.code, 200);
}
