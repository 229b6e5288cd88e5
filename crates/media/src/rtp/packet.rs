//! RTP fixed header (RFC 3550 5.1): parsed without trusting any length in
//! it, and written for our own stream.

/// A parsed RTP packet; `payload` is the range of the datagram it occupies
/// (padding, CSRCs and header extension removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RtpPacket {
    pub(crate) marker: bool,
    pub(crate) payload_type: u8,
    pub(crate) seq: u16,
    pub(crate) timestamp: u32,
    pub(crate) ssrc: u32,
    pub(crate) payload: std::ops::Range<usize>,
}

pub(crate) const HEADER: usize = 12;

/// Parses `data`; `None` for anything that is not a well-formed RTP
/// version 2 packet.
pub(crate) fn parse(data: &[u8]) -> Option<RtpPacket> {
    if data.len() < HEADER || data[0] >> 6 != 2 {
        return None;
    }
    let csrcs = usize::from(data[0] & 0x0f);
    let mut start = HEADER + 4 * csrcs;
    if data[0] & 0x10 != 0 {
        // Header extension: 16-bit profile, 16-bit length in words.
        let words = data.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = data.len();
    if data[0] & 0x20 != 0 {
        let padding = usize::from(*data.last()?);
        if padding == 0 {
            return None;
        }
        end = end.checked_sub(padding)?;
    }
    if start > end {
        return None;
    }
    Some(RtpPacket {
        marker: data[1] & 0x80 != 0,
        payload_type: data[1] & 0x7f,
        seq: u16::from_be_bytes([data[2], data[3]]),
        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
        payload: start..end,
    })
}

/// Writes a header without CSRCs, extension or padding to `out` (cleared
/// first); the payload is appended by the caller.
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    marker: bool,
    payload_type: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
) {
    out.clear();
    out.push(0x80);
    out.push(u8::from(marker) << 7 | (payload_type & 0x7f));
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_headers_parse_back() {
        let mut out = Vec::new();
        write_header(&mut out, true, 101, 65_535, 0xdead_beef, 7);
        out.extend_from_slice(&[1, 2, 3]);
        let p = parse(&out).unwrap();
        assert!(p.marker);
        assert_eq!(
            (p.payload_type, p.seq, p.timestamp, p.ssrc),
            (101, 65_535, 0xdead_beef, 7)
        );
        assert_eq!(&out[p.payload], &[1, 2, 3]);
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut data = vec![0xb1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]; // P, X, one CSRC
        data.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        data.extend_from_slice(&[0xbe, 0xde, 0, 1, 5, 5, 5, 5]); // one-word extension
        data.extend_from_slice(&[0xaa, 0xbb, 0, 2]); // payload, two bytes of padding
        let p = parse(&data).unwrap();
        assert_eq!(&data[p.payload], &[0xaa, 0xbb]);
    }

    #[test]
    fn malformed_packets_are_refused_without_panicking() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x80; 11]), None); // truncated
        assert_eq!(parse(&[0x40; 20]), None); // version 1
        let mut many_csrcs = vec![0x8f; 12];
        many_csrcs.extend_from_slice(&[0; 8]); // claims 15 CSRCs, has 2
        assert_eq!(parse(&many_csrcs), None);
        let mut padding = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        padding.push(200); // padding beyond the packet
        assert_eq!(parse(&padding), None);
        padding.pop();
        padding.push(0); // zero padding count
        assert_eq!(parse(&padding), None);
        let mut extension = vec![0x90; 12];
        extension.extend_from_slice(&[0, 0, 0xff, 0xff]); // extension longer than the packet
        assert_eq!(parse(&extension), None);
        let mut cut_extension = vec![0x90; 12];
        cut_extension.push(0); // extension header cut short
        assert_eq!(parse(&cut_extension), None);
        // Every prefix and every single-byte corruption of a good packet.
        let mut good = Vec::new();
        write_header(&mut good, false, 0, 1, 2, 3);
        good.extend_from_slice(&[0x55; 40]);
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        for i in 0..HEADER {
            for b in [0x00, 0xff, 0xbf, 0xaf] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = parse(&bad);
            }
        }
    }
}
