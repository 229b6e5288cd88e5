//! HTTP Digest (RFC 2617 / RFC 7616, MD5, `qop=auth`) as SIP uses it (RFC 3261 §22).
//!
//! rsipstack answers INVITE challenges itself (it ACKs the 401/407, bumps the CSeq and
//! resends with Authorization / Proxy-Authorization), so the agent hands it the trunk's
//! credentials. This module is the independent computation we check that against in
//! tests, and what the agent uses to answer challenges to its OPTIONS keepalives.

use std::fmt::Write as _;

use md5::{Digest, Md5};

fn md5_hex(input: &str) -> String {
    let digest = Md5::digest(input.as_bytes());
    let mut out = String::with_capacity(32);
    for b in digest {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The parts of a digest computation.
pub struct DigestInput<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub realm: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub nonce: &'a str,
    /// `(nc, cnonce)` when the challenge offered `qop=auth`.
    pub qop_auth: Option<(&'a str, &'a str)>,
}

/// The `response=` value.
pub fn response(input: &DigestInput<'_>) -> String {
    let ha1 = md5_hex(&format!(
        "{}:{}:{}",
        input.username, input.realm, input.password
    ));
    let ha2 = md5_hex(&format!("{}:{}", input.method, input.uri));
    match input.qop_auth {
        Some((nc, cnonce)) => md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", input.nonce)),
        None => md5_hex(&format!("{ha1}:{}:{ha2}", input.nonce)),
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` Digest challenge.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub qop_auth: bool,
}

/// Parses a Digest challenge; `None` for other schemes or without realm/nonce.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, params) = value.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut ch = Challenge::default();
    for (k, v) in split_params(params) {
        match k.to_ascii_lowercase().as_str() {
            "realm" => ch.realm = v,
            "nonce" => ch.nonce = v,
            "opaque" => ch.opaque = Some(v),
            "qop" => ch.qop_auth = v.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")),
            "algorithm" if !v.eq_ignore_ascii_case("md5") => return None,
            _ => {}
        }
    }
    (!ch.nonce.is_empty()).then_some(ch)
}

/// Builds the `Authorization` header value answering `ch` for `method uri`.
pub fn authorization(
    ch: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> String {
    let nc = "00000001";
    let resp = response(&DigestInput {
        username,
        password,
        realm: &ch.realm,
        method,
        uri,
        nonce: &ch.nonce,
        qop_auth: ch.qop_auth.then_some((nc, cnonce)),
    });
    let mut out = format!(
        "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5",
        ch.realm, ch.nonce
    );
    if ch.qop_auth {
        let _ = write!(out, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
    }
    if let Some(opaque) = &ch.opaque {
        let _ = write!(out, ", opaque=\"{opaque}\"");
    }
    out
}

/// Splits `k=v, k="v, with comma"` pairs, honouring quotes.
pub(crate) fn split_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            value = quoted[..end].to_string();
            rest = quoted.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 2617 §3.5.
    #[test]
    fn rfc2617_example() {
        let r = response(&DigestInput {
            username: "Mufasa",
            password: "Circle Of Life",
            realm: "testrealm@host.com",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop_auth: Some(("00000001", "0a4f113b")),
        });
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn challenge_parsing() {
        let ch = parse_challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert_eq!(ch.realm, "testrealm@host.com");
        assert!(ch.qop_auth);
        assert_eq!(
            ch.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert!(parse_challenge("Basic realm=\"x\"").is_none());
        assert!(parse_challenge("Digest realm=\"x\"").is_none());
        assert!(parse_challenge("Digest nonce=\"n\", algorithm=SHA-256").is_none());
        assert!(parse_challenge("Digest nonce=\"unterminated").is_some());
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn authorization_contains_expected_response() {
        let ch = parse_challenge(
            r#"Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#,
        )
        .unwrap();
        let h = authorization(
            &ch,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
        );
        assert!(
            h.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{h}"
        );
        assert!(h.contains("qop=auth, nc=00000001"));
    }
}
