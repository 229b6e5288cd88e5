//! A small SDP builder and parser for the one case a trunk call needs: a single
//! audio stream, G.711 plus RFC 4733 telephone events.
//!
//! Hand-written rather than a general SDP crate because the whole of what we accept
//! is a handful of lines, and a strict small parser is easier to make total (every
//! input gives `Ok` or `Err`, never a panic) than to audit a general one.

use std::net::{IpAddr, SocketAddr};

/// Bodies larger than this are not SDP we want to read.
const MAX_SDP_LEN: usize = 16 * 1024;
/// Longer lines are refused rather than scanned.
const MAX_LINE_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer uses for an offer in this direction (RFC 3264 §6.1).
    #[must_use]
    pub fn answer_to(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
}

/// What the other side told us about its media.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteMedia {
    pub addr: SocketAddr,
    pub codec: Codec,
    pub payload_type: u8,
    pub dtmf_payload_type: Option<u8>,
    pub direction: Direction,
}

/// Where our RTP leg listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    pub addr: SocketAddr,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP body too large or line too long")]
    TooLong,
    #[error("SDP is not UTF-8 text")]
    NotText,
    #[error("no usable m=audio line")]
    NoAudio,
    #[error("bad port in m= line")]
    BadPort,
    #[error("no connection address (c=) for the audio stream")]
    NoConnection,
    #[error("bad connection address")]
    BadAddress,
    #[error("no common codec (need PCMU or PCMA)")]
    NoCodec,
}

/// Telephone-event payload type we always offer.
pub const DTMF_PT: u8 = 101;

/// Our offer: PCMU 0, PCMA 8, telephone-event/8000 101, ptime 20.
pub fn offer(local: LocalMedia, session_version: u64, direction: Direction) -> String {
    build(
        local,
        session_version,
        direction,
        &[Codec::Pcmu, Codec::Pcma],
        Some(DTMF_PT),
    )
}

/// Our answer to `remote`: the codec the parser picked, telephone events when offered,
/// and the direction that matches the offer's.
pub fn answer(local: LocalMedia, session_version: u64, remote: &RemoteMedia) -> String {
    let mut sdp = build_with_pt(
        local,
        session_version,
        remote.direction.answer_to(),
        &[(remote.codec, remote.payload_type)],
        remote.dtmf_payload_type,
    );
    sdp.shrink_to_fit();
    sdp
}

fn build(
    local: LocalMedia,
    session_version: u64,
    direction: Direction,
    codecs: &[Codec],
    dtmf: Option<u8>,
) -> String {
    let with_pt: Vec<(Codec, u8)> = codecs
        .iter()
        .map(|c| (*c, c.static_payload_type()))
        .collect();
    build_with_pt(local, session_version, direction, &with_pt, dtmf)
}

fn build_with_pt(
    local: LocalMedia,
    session_version: u64,
    direction: Direction,
    codecs: &[(Codec, u8)],
    dtmf: Option<u8>,
) -> String {
    use std::fmt::Write as _;
    let ip = local.addr.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut fmts: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    if let Some(pt) = dtmf {
        fmts.push(pt.to_string());
    }
    let mut s = String::with_capacity(256);
    // Writing into a String cannot fail; the results are ignored for that reason.
    let _ = write!(
        s,
        "v=0\r\no=switchboard {session_version} {session_version} IN {family} {ip}\r\ns=switchboard\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
        local.addr.port(),
        fmts.join(" ")
    );
    for (codec, pt) in codecs {
        let name = match codec {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        };
        let _ = write!(s, "a=rtpmap:{pt} {name}/8000\r\n");
    }
    if let Some(pt) = dtmf {
        let _ = write!(
            s,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        );
    }
    let _ = write!(s, "a=ptime:20\r\na={}\r\n", direction.attribute());
    s
}

struct AudioSection {
    port: u16,
    fmts: Vec<u8>,
    conn: Option<IpAddr>,
    direction: Option<Direction>,
    rtpmaps: Vec<(u8, String)>,
}

/// Parses an offer or answer into the audio stream we would use.
///
/// Picks PCMU, else PCMA (by static payload type or rtpmap name), and the
/// telephone-event payload type when present. `c=0.0.0.0` (RFC 2543 hold) reads as
/// `sendonly` from the remote's point of view.
pub fn parse(body: &[u8]) -> Result<RemoteMedia, SdpError> {
    if body.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLong);
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut session_conn: Option<IpAddr> = None;
    let mut session_dir: Option<Direction> = None;
    let mut audio: Option<AudioSection> = None;
    // Only the first audio section counts; later m= lines (video...) are skipped.
    let mut in_first_audio = false;
    let mut seen_media = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > MAX_LINE_LEN {
            return Err(SdpError::TooLong);
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "m" => {
                seen_media = true;
                in_first_audio = false;
                if audio.is_none() && (value == "audio" || value.starts_with("audio ")) {
                    let mut parts = value.split_ascii_whitespace().skip(1);
                    let port_text = parts.next().ok_or(SdpError::BadPort)?;
                    // "port/count" is allowed by RFC 4566; the count is irrelevant here.
                    let port_text = port_text.split('/').next().unwrap_or(port_text);
                    let port: u16 = port_text.parse().map_err(|_| SdpError::BadPort)?;
                    let proto = parts.next().unwrap_or_default();
                    if !proto.starts_with("RTP/AVP") {
                        continue;
                    }
                    let fmts = parts.filter_map(|f| f.parse::<u8>().ok()).collect();
                    audio = Some(AudioSection {
                        port,
                        fmts,
                        conn: None,
                        direction: None,
                        rtpmaps: Vec::new(),
                    });
                    in_first_audio = true;
                }
            }
            "c" => {
                let ip = parse_connection(value)?;
                if !seen_media {
                    session_conn = Some(ip);
                } else if in_first_audio && let Some(a) = audio.as_mut() {
                    a.conn = Some(ip);
                }
            }
            "a" => {
                let dir = match value {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                if !seen_media {
                    if dir.is_some() {
                        session_dir = dir;
                    }
                } else if in_first_audio && let Some(a) = audio.as_mut() {
                    if dir.is_some() {
                        a.direction = dir;
                    } else if let Some(map) = value.strip_prefix("rtpmap:")
                        && let Some((pt, enc)) = map.split_once(' ')
                        && let Ok(pt) = pt.trim().parse::<u8>()
                    {
                        a.rtpmaps.push((pt, enc.trim().to_ascii_lowercase()));
                    }
                }
            }
            _ => {}
        }
    }
    let audio = audio.ok_or(SdpError::NoAudio)?;
    if audio.port == 0 {
        // A zero port rejects the stream (RFC 3264 §6).
        return Err(SdpError::NoAudio);
    }
    let ip = audio.conn.or(session_conn).ok_or(SdpError::NoConnection)?;
    let name_of = |pt: u8| -> Option<&str> {
        audio
            .rtpmaps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, n)| n.as_str())
    };
    let is_codec = |pt: u8, codec: Codec| match name_of(pt) {
        Some(name) => {
            let want = match codec {
                Codec::Pcmu => "pcmu/8000",
                Codec::Pcma => "pcma/8000",
            };
            name == want || name.starts_with(&format!("{want}/"))
        }
        None => pt == codec.static_payload_type(),
    };
    let (codec, payload_type) = [Codec::Pcmu, Codec::Pcma]
        .into_iter()
        .find_map(|c| {
            audio
                .fmts
                .iter()
                .find(|pt| is_codec(**pt, c))
                .map(|pt| (c, *pt))
        })
        .ok_or(SdpError::NoCodec)?;
    let dtmf_payload_type = audio
        .fmts
        .iter()
        .copied()
        .find(|pt| name_of(*pt).is_some_and(|n| n.starts_with("telephone-event/8000")));
    let mut direction = audio
        .direction
        .or(session_dir)
        .unwrap_or(Direction::SendRecv);
    if ip.is_unspecified() && direction == Direction::SendRecv {
        direction = Direction::SendOnly;
    }
    Ok(RemoteMedia {
        addr: SocketAddr::new(ip, audio.port),
        codec,
        payload_type,
        dtmf_payload_type,
        direction,
    })
}

fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut parts = value.split_ascii_whitespace();
    let (Some("IN"), Some(_family), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SdpError::BadAddress);
    };
    // Multicast "addr/ttl" forms are not used by trunks; the suffix is ignored.
    let addr = addr.split('/').next().unwrap_or(addr);
    addr.parse().map_err(|_| SdpError::BadAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalMedia {
        LocalMedia {
            addr: "192.0.2.10:40000".parse().unwrap(),
        }
    }

    #[test]
    fn offer_round_trips() {
        let sdp = offer(local(), 7, Direction::SendRecv);
        assert!(sdp.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"));
        assert!(sdp.contains("a=fmtp:101 0-16\r\n"));
        assert!(sdp.contains("a=ptime:20\r\n"));
        let parsed = parse(sdp.as_bytes()).unwrap();
        assert_eq!(parsed.addr, local().addr);
        assert_eq!(parsed.codec, Codec::Pcmu);
        assert_eq!(parsed.dtmf_payload_type, Some(101));
        assert_eq!(parsed.direction, Direction::SendRecv);
    }

    #[test]
    fn answer_matches_offer() {
        let remote = parse(
            b"v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\na=sendonly\r\n",
        )
        .unwrap();
        assert_eq!(remote.codec, Codec::Pcma);
        assert_eq!(remote.payload_type, 8);
        assert_eq!(remote.dtmf_payload_type, Some(96));
        assert_eq!(remote.direction, Direction::SendOnly);
        let ans = answer(local(), 1, &remote);
        assert!(ans.contains("m=audio 40000 RTP/AVP 8 96\r\n"));
        assert!(ans.contains("a=recvonly\r\n"));
        assert!(!ans.contains("PCMU"));
    }

    #[test]
    fn prefers_pcmu_and_reads_media_level_connection() {
        let r = parse(b"v=0\nc=IN IP4 10.0.0.1\nm=audio 7000 RTP/AVP 8 0\nc=IN IP4 10.0.0.2\n")
            .unwrap();
        assert_eq!(r.codec, Codec::Pcmu);
        assert_eq!(r.addr, "10.0.0.2:7000".parse().unwrap());
    }

    #[test]
    fn old_style_hold_is_sendonly() {
        let r = parse(b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 7000 RTP/AVP 0\r\n").unwrap();
        assert_eq!(r.direction, Direction::SendOnly);
    }

    #[test]
    fn malformed_sdp_is_refused() {
        let cases: &[(&[u8], SdpError)] = &[
            (
                b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 31\r\n",
                SdpError::NoAudio,
            ),
            (b"", SdpError::NoAudio),
            (
                b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 99999 RTP/AVP 0\r\n",
                SdpError::BadPort,
            ),
            (
                b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio -1 RTP/AVP 0\r\n",
                SdpError::BadPort,
            ),
            (
                b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio\r\n",
                SdpError::BadPort,
            ),
            (b"v=0\r\nm=audio 5000 RTP/AVP 0\r\n", SdpError::NoConnection),
            (
                b"v=0\r\nc=IN IP4 nonsense\r\nm=audio 5000 RTP/AVP 0\r\n",
                SdpError::BadAddress,
            ),
            (
                b"v=0\r\nc=IN\r\nm=audio 5000 RTP/AVP 0\r\n",
                SdpError::BadAddress,
            ),
            (
                b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5000 RTP/AVP 18\r\n",
                SdpError::NoCodec,
            ),
            (
                b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n",
                SdpError::NoAudio,
            ),
            (b"\xff\xfe", SdpError::NotText),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn huge_input_is_refused() {
        let mut long_line = b"v=0\r\na=".to_vec();
        long_line.extend(std::iter::repeat_n(b'x', 5000));
        assert_eq!(parse(&long_line), Err(SdpError::TooLong));
        let big = vec![b'a'; MAX_SDP_LEN + 1];
        assert_eq!(parse(&big), Err(SdpError::TooLong));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u32 = 12345;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"v=cm audio0123456789 IN IP4.:/\r\na=rtpmap"[(seed >> 16) as usize % 40]
                })
                .collect();
            let _ = parse(&bytes);
        }
    }
}
