//! Checks on a raw datagram before rsipstack sees it.
//!
//! rsipstack's parser is lenient in places RFC 3261 wants a 400 (it reads a
//! `Content-Length` larger than the datagram, `SIP/7.0`, a `Max-Forwards` of 0...),
//! and it drops what it cannot parse without answering. This layer answers those
//! cases the way RFC 3261 §8.2 and RFC 4475 expect, in §8.2's order: syntax (400,
//! 505), loop (483), method (405, 501), URI scheme (416), extensions (420), body
//! (415, 406). Everything else passes through, cut to its `Content-Length`.
//!
//! It is a line-oriented reader over bytes and never panics: every index is checked.

use std::fmt::Write as _;

/// What to do with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the first `len` bytes to the stack.
    Pass { len: usize, message: Kind },
    /// Answer with this status and extra headers; do not pass it on.
    Reply {
        code: u16,
        reason: &'static str,
        extra: Vec<(&'static str, String)>,
    },
    /// Silently discard (an invalid response, or garbage we cannot answer).
    Drop,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Response,
    Request {
        method: String,
        /// An INVITE without a To tag: a new call, subject to the source gate.
        initial_invite: bool,
    },
}

/// Methods the agent handles (directly or through rsipstack's dialogs).
pub const ALLOWED: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO";
const HANDLED: &[&str] = &[
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "PRACK", "UPDATE", "INFO",
    // The gate answers it: the registrar, or 405 while that is off.
    "REGISTER",
];
/// Standard methods we know but do not serve (405 rather than 501).
const KNOWN_UNSERVED: &[&str] = &["SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "PUBLISH"];
/// Option tags we support in Require.
const SUPPORTED_EXTENSIONS: &[&str] = &["100rel", "timer", "replaces"];

const MAX_MESSAGE: usize = 64 * 1024;

/// A parsed header section: compact forms expanded, names lower-case, lines unfolded.
pub struct Parsed<'a> {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Parsed<'_> {
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn one<'s>(&'s self, name: &'s str) -> Option<&'s str> {
        self.all(name).next()
    }
}

fn expand(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let full = match lower.as_str() {
        "i" => "call-id",
        "m" => "contact",
        "e" => "content-encoding",
        "l" => "content-length",
        "c" => "content-type",
        "f" => "from",
        "s" => "subject",
        "k" => "supported",
        "t" => "to",
        "v" => "via",
        "o" => "event",
        "r" => "refer-to",
        "u" => "allow-events",
        _ => return lower,
    };
    full.to_string()
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Splits a datagram into start line, unfolded headers and body.
/// `None` when the head is not text or a header line has no colon.
pub fn parse(data: &[u8]) -> Option<Parsed<'_>> {
    let (head_end, body_start) = find_head_end(data);
    let head = std::str::from_utf8(data.get(..head_end)?).ok()?;
    let body = data.get(body_start..).unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with([' ', '\t']) && !lines.is_empty() {
            // Folded continuation (RFC 3261 §7.3.1): joins the previous line with one SP.
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim_start());
            }
        } else {
            lines.push(line.to_string());
        }
    }
    let mut iter = lines.into_iter();
    let start = iter.next()?;
    let mut headers = Vec::new();
    for line in iter {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':')?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return None;
        }
        headers.push((expand(name), value.trim().to_string()));
    }
    Some(Parsed {
        start,
        headers,
        body,
    })
}

fn find_head_end(data: &[u8]) -> (usize, usize) {
    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        return (i, i + 4);
    }
    if let Some(i) = data.windows(2).position(|w| w == b"\n\n") {
        return (i, i + 2);
    }
    (data.len(), data.len())
}

/// Whether the next message in a TCP stream's buffer may go to rsipstack's
/// codec: `false` when its head is complete and its first `Content-Length`
/// (the header the codec frames by) is larger than any message we take. The
/// codec adds that number to an index unchecked: near `usize::MAX` it
/// overflows (a panic with overflow checks, a wrong frame without).
pub fn stream_length_ok(buf: &[u8]) -> bool {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return true;
    };
    for line in buf[..head_end].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            // What the codec cannot parse it refuses itself.
            return std::str::from_utf8(&line[colon + 1..])
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_none_or(|n| n <= MAX_MESSAGE as u64);
        }
    }
    true
}

fn bad(reason: &'static str) -> Verdict {
    Verdict::Reply {
        code: 400,
        reason,
        extra: Vec::new(),
    }
}

/// Judges one datagram.
pub fn check(data: &[u8]) -> Verdict {
    if data.len() > MAX_MESSAGE {
        return Verdict::Drop;
    }
    let Some(msg) = parse(data) else {
        // A request we can still read the start line of gets a 400; anything else is
        // dropped because we could not address a response.
        return if data.starts_with(b"SIP/") {
            Verdict::Drop
        } else {
            bad("Bad Request")
        };
    };
    if msg.start.starts_with("SIP/") {
        return check_response(&msg, data.len());
    }
    check_request(&msg, data.len())
}

fn check_response(msg: &Parsed<'_>, total: usize) -> Verdict {
    let mut parts = msg.start.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    let valid_code = code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
        && code.parse::<u16>().is_ok_and(|c| (100..700).contains(&c));
    if !version.eq_ignore_ascii_case("SIP/2.0") || !valid_code {
        return Verdict::Drop;
    }
    match common_headers(msg, total) {
        Ok(len) => Verdict::Pass {
            len,
            message: Kind::Response,
        },
        Err(_) => Verdict::Drop,
    }
}

/// Checks shared by requests and responses; returns the length to pass on.
fn common_headers(msg: &Parsed<'_>, total: usize) -> Result<usize, &'static str> {
    for name in ["via", "from", "to", "call-id", "cseq"] {
        if msg.one(name).is_none() {
            return Err("Missing Mandatory Header");
        }
    }
    for name in [
        "from",
        "to",
        "call-id",
        "cseq",
        "content-length",
        "max-forwards",
    ] {
        if msg.all(name).count() > 1 {
            return Err("Duplicate Header");
        }
    }
    let cseq = msg.one("cseq").unwrap_or_default();
    let mut cseq_parts = cseq.split_ascii_whitespace();
    let (Some(num), Some(_), None) = (cseq_parts.next(), cseq_parts.next(), cseq_parts.next())
    else {
        return Err("Bad CSeq");
    };
    // RFC 3261 §8.1.1.5: the sequence number is below 2**31.
    if !num.parse::<u32>().is_ok_and(|n| n < 1 << 31) {
        return Err("Bad CSeq");
    }
    for via in msg.all("via") {
        for hop in split_outside_quotes(via, ',') {
            let hop = hop.trim();
            // LWS may sit around the slashes ("SIP  /  2.0 / UDP", RFC 4475 wsinv).
            let protocol: String = hop.chars().filter(|c| !c.is_whitespace()).collect();
            if !protocol.to_ascii_uppercase().starts_with("SIP/2.0/")
                || hop.split(';').skip(1).any(|p| p.trim().is_empty())
            {
                return Err("Bad Via");
            }
        }
    }
    for name in ["from", "to", "contact"] {
        for value in msg.all(name) {
            if value == "*" && name == "contact" {
                continue;
            }
            check_name_addr(value)?;
        }
    }
    for name in ["expires", "max-forwards"] {
        if let Some(v) = msg.one(name)
            && v.parse::<u32>().is_err()
        {
            return Err("Bad Number");
        }
    }
    if msg
        .one("max-forwards")
        .is_some_and(|v| v.parse::<u32>().unwrap_or(0) > 255)
    {
        return Err("Bad Max-Forwards");
    }
    if let Some(date) = msg.one("date")
        && !date.ends_with("GMT")
    {
        return Err("Bad Date");
    }
    let body_len = msg.body.len();
    let head_len = total - body_len;
    match msg.one("content-length") {
        Some(v) => {
            let cl: usize = v
                .parse::<u32>()
                .map_err(|_| "Bad Content-Length")?
                .try_into()
                .map_err(|_| "Bad Content-Length")?;
            if cl > body_len {
                return Err("Content-Length Too Large");
            }
            // Octets beyond Content-Length in a datagram are discarded (RFC 3261 §18.3).
            Ok(head_len + cl)
        }
        None => Ok(total),
    }
}

pub(crate) fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut angle = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle += 1,
            '>' if !quoted => angle -= 1,
            c if c == sep && !quoted && angle == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// From / To / Contact: `"quoted" <uri>;params`, `token token <uri>`, or a bare
/// addr-spec without `?`, `,` or whitespace.
fn check_name_addr(value: &str) -> Result<(), &'static str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut lt = None;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted && lt.is_none() => lt = Some(i),
            _ => {}
        }
    }
    if quoted {
        return Err("Unbalanced Quotes");
    }
    if let Some(lt) = lt {
        let display = value[..lt].trim();
        let display_ok = display.is_empty()
            || (display.starts_with('"') && display.ends_with('"') && display.len() >= 2)
            || display.split_ascii_whitespace().all(is_token);
        if !display_ok {
            return Err("Bad Display Name");
        }
        let rest = &value[lt + 1..];
        let gt = rest.find('>').ok_or("Bad Address")?;
        let uri = &rest[..gt];
        if uri.is_empty() || uri.trim() != uri || uri.contains(char::is_whitespace) {
            return Err("Bad Address");
        }
        Ok(())
    } else {
        // LWS may come before the parameters ("sip:a@b ;tag=1", RFC 4475 wsinv).
        let uri = value.split(';').next().unwrap_or_default().trim();
        if uri.contains(['?', ',', '"', ' ', '\t', '>']) || !uri.contains(':') {
            return Err("Bad Address");
        }
        Ok(())
    }
}

fn check_request(msg: &Parsed<'_>, total: usize) -> Verdict {
    let parts: Vec<&str> = msg.start.split(' ').collect();
    let [method, uri, version] = parts.as_slice() else {
        return bad("Bad Request-Line");
    };
    if !is_token(method) || uri.is_empty() || version.is_empty() {
        return bad("Bad Request-Line");
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        // `get`: a multi-byte character may straddle byte 4 ("SIPé").
        if version.len() > 4
            && version
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
        {
            return Verdict::Reply {
                code: 505,
                reason: "Version Not Supported",
                extra: Vec::new(),
            };
        }
        return bad("Bad Request-Line");
    }
    if uri.contains(['<', '>', '"']) {
        return bad("Bad Request-URI");
    }
    let Some((scheme, _)) = uri.split_once(':') else {
        return bad("Bad Request-URI");
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return bad("Bad Request-URI");
    }
    let scheme = scheme.to_ascii_lowercase();
    // A user part may hold '?' (user-unreserved, RFC 4475 intmeth); only a
    // '?' after the host starts header components.
    let host_part = uri.rsplit_once('@').map_or(*uri, |(_, host)| host);
    if (scheme == "sip" || scheme == "sips") && host_part.contains('?') {
        // Header components are not allowed in a Request-URI (RFC 3261 §19.1.5).
        return bad("Bad Request-URI");
    }
    let len = match common_headers(msg, total) {
        Ok(len) => len,
        Err(reason) => return bad(reason),
    };
    let cseq_method = msg
        .one("cseq")
        .and_then(|c| c.split_ascii_whitespace().nth(1))
        .unwrap_or_default();
    if cseq_method != *method {
        return bad("CSeq Method Mismatch");
    }
    if msg.one("max-forwards").is_some_and(|v| v == "0") {
        return Verdict::Reply {
            code: 483,
            reason: "Too Many Hops",
            extra: Vec::new(),
        };
    }
    if !HANDLED.contains(method) {
        let (code, reason) = if KNOWN_UNSERVED.contains(method) {
            (405, "Method Not Allowed")
        } else {
            (501, "Not Implemented")
        };
        return Verdict::Reply {
            code,
            reason,
            extra: vec![("Allow", ALLOWED.to_string())],
        };
    }
    if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
        return Verdict::Reply {
            code: 416,
            reason: "Unsupported URI Scheme",
            extra: Vec::new(),
        };
    }
    let unsupported: Vec<&str> = msg
        .all("require")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| {
            !t.is_empty()
                && !SUPPORTED_EXTENSIONS
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t))
        })
        .collect();
    if !unsupported.is_empty() && *method != "ACK" && *method != "CANCEL" {
        return Verdict::Reply {
            code: 420,
            reason: "Bad Extension",
            extra: vec![("Unsupported", unsupported.join(", "))],
        };
    }
    if let Some(v) = body_check(msg, method, len - (total - msg.body.len())) {
        return v;
    }
    let initial_invite = *method == "INVITE"
        && !msg.one("to").is_some_and(|to| {
            to.split(';')
                .skip(1)
                .any(|p| p.trim().to_ascii_lowercase().starts_with("tag"))
        });
    Verdict::Pass {
        len,
        message: Kind::Request {
            method: (*method).to_string(),
            initial_invite,
        },
    }
}

fn body_check(msg: &Parsed<'_>, method: &str, body_len: usize) -> Option<Verdict> {
    let accept_sdp = || vec![("Accept", "application/sdp".to_string())];
    if let Some(enc) = msg.one("content-encoding")
        && !enc.is_empty()
        && !enc.eq_ignore_ascii_case("identity")
    {
        return Some(Verdict::Reply {
            code: 415,
            reason: "Unsupported Media Type",
            extra: vec![("Accept-Encoding", "identity".to_string())],
        });
    }
    if body_len > 0 && matches!(method, "INVITE" | "ACK" | "PRACK" | "UPDATE") {
        let ct = msg.one("content-type").unwrap_or_default();
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/sdp") {
            return Some(Verdict::Reply {
                code: 415,
                reason: "Unsupported Media Type",
                extra: accept_sdp(),
            });
        }
    }
    if method == "INVITE"
        && let Some(accept) = msg.one("accept")
    {
        let ok = accept.is_empty()
            || accept.split(',').any(|a| {
                let a = a.split(';').next().unwrap_or_default().trim();
                a.eq_ignore_ascii_case("application/sdp")
                    || a == "*/*"
                    || a.eq_ignore_ascii_case("application/*")
            });
        if !ok {
            return Some(Verdict::Reply {
                code: 406,
                reason: "Not Acceptable",
                extra: Vec::new(),
            });
        }
    }
    None
}

/// Builds a stateless response to a request we refuse before the stack sees it.
pub fn build_response(
    data: &[u8],
    code: u16,
    reason: &str,
    extra: &[(&'static str, String)],
    server: &str,
) -> Option<Vec<u8>> {
    let msg = parse(data)?;
    if msg.start.starts_with("SIP/") || msg.one("via").is_none() {
        return None;
    }
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for via in msg.all("via") {
        let _ = write!(out, "Via: {via}\r\n");
    }
    for (name, header) in [("From", "from"), ("Call-ID", "call-id"), ("CSeq", "cseq")] {
        if let Some(v) = msg.one(header) {
            let _ = write!(out, "{name}: {v}\r\n");
        }
    }
    if let Some(to) = msg.one("to") {
        let has_tag = to
            .split(';')
            .skip(1)
            .any(|p| p.trim().to_ascii_lowercase().starts_with("tag"));
        if has_tag {
            let _ = write!(out, "To: {to}\r\n");
        } else {
            let _ = write!(out, "To: {to};tag={:08x}\r\n", rand::random::<u32>());
        }
    }
    for (name, value) in extra {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if !server.is_empty() {
        let _ = write!(out, "Server: {server}\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    fn code(v: &Verdict) -> Option<u16> {
        match v {
            Verdict::Reply { code, .. } => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn passes_a_plain_options() {
        assert!(matches!(check(OPTIONS.as_bytes()), Verdict::Pass { .. }));
    }

    #[test]
    fn rejections() {
        let cases = [
            (OPTIONS.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"), 505),
            (OPTIONS.replace("Max-Forwards: 70", "Max-Forwards: 0"), 483),
            (
                OPTIONS.replace("Content-Length: 0", "Content-Length: 10"),
                400,
            ),
            (OPTIONS.replace("Call-ID: x\r\n", ""), 400),
            (
                OPTIONS.replace("sip:a@example.com SIP", "mailto:a@example.com SIP"),
                416,
            ),
            (OPTIONS.replace("Max-Forwards: 70", "Require: foo"), 420),
            (
                OPTIONS
                    .replace("OPTIONS sip", "SUBSCRIBE sip")
                    .replace("1 OPTIONS", "1 SUBSCRIBE"),
                405,
            ),
            (
                OPTIONS
                    .replace("OPTIONS sip", "FOO sip")
                    .replace("1 OPTIONS", "1 FOO"),
                501,
            ),
            (OPTIONS.replace("1 OPTIONS", "1 INVITE"), 400),
        ];
        for (msg, want) in cases {
            assert_eq!(code(&check(msg.as_bytes())), Some(want), "{msg}");
        }
    }

    #[test]
    fn a_stream_message_longer_than_we_take_is_refused_before_the_codec() {
        let head = |cl: &str| format!("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: {cl}\r\n\r\n");
        assert!(!stream_length_ok(head("18446744073709551615").as_bytes()));
        assert!(!stream_length_ok(head("65537").as_bytes()));
        assert!(stream_length_ok(head("65536").as_bytes()));
        assert!(stream_length_ok(head("x").as_bytes()));
        assert!(stream_length_ok(b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999"));
        assert!(!stream_length_ok(
            b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999\r\n\r\n"
        ));
    }

    #[test]
    fn a_version_cut_inside_a_character_is_a_bad_request() {
        let msg = OPTIONS.replace("SIP/2.0\r\nVia", "SIP\u{e9}x\r\nVia");
        assert_eq!(code(&check(msg.as_bytes())), Some(400));
    }

    #[test]
    fn response_builder_copies_headers() {
        let r = build_response(OPTIONS.as_bytes(), 400, "Bad Request", &[], "ua").unwrap();
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(r.contains("Call-ID: x\r\n"));
        assert!(r.contains("To: <sip:a@example.com>;tag="));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u32 = 7;
        let alphabet = b"SIP/2.0 INVITE sip:@;:<>\"\r\n\t,CSeq Via To From l: 0123456789\xff";
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    alphabet[(seed >> 16) as usize % alphabet.len()]
                })
                .collect();
            let _ = check(&bytes);
            let _ = build_response(&bytes, 400, "x", &[], "ua");
        }
    }
}
