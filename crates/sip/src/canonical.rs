//! Rewrites a message that passed [`validate::check`](crate::validate::check)
//! into the plainest form RFC 3261 allows, for the two kinds of legal input
//! rsipstack's parser or transaction layer does not take as they come:
//!
//! * unusual but valid syntax (RFC 4475 §3.1.1.1 "wsinv"): folded lines, LWS
//!   around colons, slashes, semicolons and equals signs, compact header names,
//!   leading zeros in numbers;
//! * RFC 2543 requests (RFC 4475 §4 "inv2543"): no `branch` in the top Via (the
//!   stack then keys the transaction by the Via's host, as RFC 3261 §17.2.3
//!   allows), no From tag, no `Max-Forwards`, no `Content-Length` over UDP.
//!
//! The rewrite keeps every header and the body; it only changes spelling, and
//! gives a From without a tag one, because the stack keys transactions and
//! dialogs by it. That tag is derived from the Call-ID and the From URI, so the
//! peer's retransmissions, ACK, CANCEL and BYE all get the same one, and
//! [`strip_synthetic_tag`] takes it out of everything we send back: the peer
//! never sees it.

use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::validate::{self, split_outside_quotes};

/// Prefix of the From tags made up here, followed by 16 hex digits.
const SYNTHETIC: &str = ";tag=2543.";

/// The rewritten message, or `None` when the input does not parse at all.
pub fn canonical(data: &[u8]) -> Option<Vec<u8>> {
    let msg = validate::parse(data)?;
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str(&collapse(&msg.start));
    out.push_str("\r\n");
    let is_request = !msg.start.starts_with("SIP/");
    let mut saw_max_forwards = false;
    for (name, value) in &msg.headers {
        match name.as_str() {
            // Recomputed below from the body actually handed on.
            "content-length" => continue,
            "via" => {
                for hop in split_outside_quotes(value, ',') {
                    let _ = write!(out, "Via: {}\r\n", via_hop(hop));
                }
                continue;
            }
            "from" if is_request && param(value, "tag").is_empty() => {
                let _ = write!(
                    out,
                    "From: {}{SYNTHETIC}{:016x}\r\n",
                    tidy(value),
                    rfc2543_tag(&msg, value)
                );
                continue;
            }
            "cseq" => {
                let mut parts = value.split_ascii_whitespace();
                let number: u32 = parts.next()?.parse().ok()?;
                let method = parts.next()?;
                let _ = write!(out, "CSeq: {number} {method}\r\n");
                continue;
            }
            "max-forwards" => {
                saw_max_forwards = true;
                let hops: u32 = value.trim().parse().ok()?;
                let _ = write!(out, "Max-Forwards: {hops}\r\n");
                continue;
            }
            _ => {}
        }
        let _ = write!(out, "{}: {}\r\n", header_name(name), tidy(value));
    }
    if is_request && !saw_max_forwards {
        out.push_str("Max-Forwards: 70\r\n");
    }
    // RFC 2543 let an INVITE leave out Contact; its From then named where the
    // call's later requests go, which is what the dialog needs as its target.
    if msg.start.starts_with("INVITE ")
        && msg.one("contact").is_none()
        && let Some(uri) = msg.one("from").and_then(addr_spec)
    {
        let _ = write!(out, "Contact: <{uri}>\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", msg.body.len());
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(msg.body);
    Some(bytes)
}

/// Removes a From tag made up by [`canonical`] from a message we send (the
/// From of a response, the To of our own in-dialog request); `None` when
/// there is none.
pub fn strip_synthetic_tag(data: &[u8]) -> Option<Vec<u8>> {
    let marker = SYNTHETIC.as_bytes();
    let at = data.windows(marker.len()).position(|w| w == marker)?;
    let end = data[at + marker.len()..]
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .map_or(data.len(), |n| at + marker.len() + n);
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&data[..at]);
    out.extend_from_slice(&data[end..]);
    Some(out)
}

/// The same for every request of one RFC 2543 call leg: its Call-ID and From
/// address (RFC 2543 told call legs apart by those and the To tag).
fn rfc2543_tag(msg: &validate::Parsed<'_>, from: &str) -> u64 {
    let mut h = DefaultHasher::new();
    msg.one("call-id").unwrap_or_default().hash(&mut h);
    tidy(from).hash(&mut h);
    h.finish()
}

/// One Via hop without LWS: `SIP/2.0/UDP host:port;name=value`.
fn via_hop(hop: &str) -> String {
    let hop = hop.trim();
    // The protocol is three tokens around two slashes, LWS allowed between.
    let mut slashes = 0;
    let mut split = hop.len();
    for (i, c) in hop.char_indices() {
        if c == '/' {
            slashes += 1;
        } else if slashes == 2 && !c.is_whitespace() {
            // First character of the transport: the sent-by follows its end.
            split = hop[i..]
                .find(char::is_whitespace)
                .map_or(hop.len(), |n| i + n);
            break;
        }
    }
    let protocol: String = hop[..split]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    format!("{protocol} {}", tidy(&hop[split..]))
}

/// Collapses LWS outside quoted strings and `<...>`: none around `;` `=`,
/// one space elsewhere.
fn tidy(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut quoted = false;
    let mut escaped = false;
    let mut angle = false;
    let mut pending_space = false;
    for c in value.trim().chars() {
        if quoted || angle {
            out.push(c);
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if quoted && c == '"' {
                quoted = false;
            } else if angle && c == '>' {
                angle = false;
            }
            continue;
        }
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        let glue = matches!(c, ';' | '=') || out.ends_with([';', '=']);
        if pending_space && !glue && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
        match c {
            '"' => quoted = true,
            '<' => angle = true,
            _ => {}
        }
    }
    out
}

/// One space between the start line's three parts.
fn collapse(line: &str) -> String {
    line.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The URI of a name-addr (`"x" <sip:a@b>;tag=1`) or addr-spec (`sip:a@b;tag=1`).
fn addr_spec(value: &str) -> Option<&str> {
    let uri = match value.split_once('<') {
        Some((_, rest)) => rest.split_once('>')?.0,
        None => value.split(';').next()?,
    };
    let uri = uri.trim();
    (!uri.is_empty() && !uri.contains(char::is_whitespace)).then_some(uri)
}

fn param<'a>(value: &'a str, name: &str) -> &'a str {
    let params = value.rsplit_once('>').map_or(value, |(_, rest)| rest);
    params
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.trim())
}

/// `call-id` → `Call-ID`, `max-forwards` → `Max-Forwards`.
fn header_name(lower: &str) -> String {
    match lower {
        "call-id" => return "Call-ID".into(),
        "cseq" => return "CSeq".into(),
        "www-authenticate" => return "WWW-Authenticate".into(),
        "mime-version" => return "MIME-Version".into(),
        _ => {}
    }
    lower
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLDED: &str = "INVITE sip:a@example.com;unknownparam SIP/2.0\r\nTO :\r\n sip:a@example.com ;   tag    = 1918\r\nfrom   : \"J R \\\\\\\"\"       <sip:j@example.com>\r\n  ;\r\n  tag = 98a\r\nMaX-fOrWaRdS: 0068\r\nCall-ID: ws.1@192.0.2.1\r\nContent-Length   : 4\r\ncseq: 0009\r\n  INVITE\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\nv:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\nm:\"Quoted \\\"\\\"\" <sip:j@example.com> ; newparam =\r\n      newvalue ;\r\n  q = 0.33\r\n\r\nbody";

    #[test]
    fn folded_lws_everywhere_becomes_plain() {
        let out = String::from_utf8(canonical(FOLDED.as_bytes()).unwrap()).unwrap();
        assert!(out.starts_with("INVITE sip:a@example.com;unknownparam SIP/2.0\r\n"));
        assert!(
            out.contains("\r\nTo: sip:a@example.com;tag=1918\r\n"),
            "{out}"
        );
        assert!(
            out.contains("\r\nFrom: \"J R \\\\\\\"\" <sip:j@example.com>;tag=98a\r\n"),
            "{out}"
        );
        assert!(out.contains("\r\nMax-Forwards: 68\r\n"), "{out}");
        assert!(out.contains("\r\nCSeq: 9 INVITE\r\n"), "{out}");
        assert!(
            out.contains("\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=390skdjuw\r\n"),
            "{out}"
        );
        assert!(
            out.contains("\r\nVia: SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8\r\n"),
            "{out}"
        );
        assert!(
            out.contains("\r\nVia: SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239\r\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "\r\nContact: \"Quoted \\\"\\\"\" <sip:j@example.com>;newparam=newvalue;q=0.33\r\n"
            ),
            "{out}"
        );
        assert!(out.ends_with("\r\nContent-Length: 4\r\n\r\nbody"), "{out}");
    }

    const RFC2543: &str = "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP gw.example.com\r\nFrom: <sip:+1303@example.net;user=phone>\r\nTo: sip:+1650@example.net;user=phone\r\nCall-ID: 2543.1@example.com\r\nCSeq: 56 INVITE\r\n\r\nv=0\r\n";

    #[test]
    fn an_rfc2543_request_gets_a_from_tag_contact_max_forwards_and_length() {
        let out = String::from_utf8(canonical(RFC2543.as_bytes()).unwrap()).unwrap();
        assert!(
            out.contains("\r\nVia: SIP/2.0/UDP gw.example.com\r\n"),
            "{out}"
        );
        let from = out.lines().find(|l| l.starts_with("From: ")).unwrap();
        assert!(
            from.starts_with("From: <sip:+1303@example.net;user=phone>;tag=2543."),
            "{out}"
        );
        assert!(out.contains("\r\nMax-Forwards: 70\r\n"), "{out}");
        assert!(
            out.contains("\r\nContact: <sip:+1303@example.net;user=phone>\r\n"),
            "{out}"
        );
        assert!(out.ends_with("Content-Length: 5\r\n\r\nv=0\r\n"), "{out}");
        // The ACK for a final response (and any later request of the call)
        // gets the same tag.
        let ack = RFC2543
            .replace("INVITE sip", "ACK sip")
            .replace("56 INVITE", "56 ACK")
            .replace("user=phone\r\nCall", "user=phone;tag=x\r\nCall");
        let ack = String::from_utf8(canonical(ack.as_bytes()).unwrap()).unwrap();
        assert_eq!(ack.lines().find(|l| l.starts_with("From: ")).unwrap(), from);
        // The made-up tag leaves what we send back.
        let resp = format!("SIP/2.0 100 Trying\r\n{from}\r\nContent-Length: 0\r\n\r\n");
        let back = String::from_utf8(strip_synthetic_tag(resp.as_bytes()).unwrap()).unwrap();
        assert!(
            back.contains("\r\nFrom: <sip:+1303@example.net;user=phone>\r\nContent"),
            "{back}"
        );
        assert!(strip_synthetic_tag(b"SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\n\r\n").is_none());
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "\r\n",
            "INVITE",
            "INVITE sip:a SIP/2.0\r\nCSeq: x\r\n\r\n",
            "SIP/2.0 200\r\nVia: ,,,\r\n\r\n",
            "X y z\r\nVia: SIP / / /\r\n\r\n",
        ] {
            let _ = canonical(text.as_bytes());
            let _ = strip_synthetic_tag(text.as_bytes());
        }
    }
}
