//! Ogg page framing (RFC 3533), only what the recorder needs: one logical
//! stream, whole packets per page.

/// Page header flag: first page of the stream.
pub(crate) const BEGIN_OF_STREAM: u8 = 0x02;
/// Page header flag: last page of the stream.
pub(crate) const END_OF_STREAM: u8 = 0x04;

/// Most lacing values one page can hold.
pub(crate) const MAX_SEGMENTS: usize = 255;

/// Ogg's CRC-32: polynomial 0x04c11db7, MSB first, initial value 0, no
/// final XOR (not the zlib CRC).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |crc, &byte| {
        (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ byte)]
    })
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 == 0 {
                r << 1
            } else {
                (r << 1) ^ 0x04c1_1db7
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

/// Lacing values a packet of `len` bytes takes: one per full 255 bytes, and
/// one (possibly 0) to end it.
pub(crate) fn segments(len: usize) -> usize {
    len / 255 + 1
}

/// One logical stream's page counter.
pub(crate) struct OggStream {
    serial: u32,
    sequence: u32,
}

impl OggStream {
    pub(crate) fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
        }
    }

    /// Frames `packets` (whole, at most [`MAX_SEGMENTS`] lacing values in
    /// all) as the next page, appended to `out`.
    pub(crate) fn page(&mut self, flags: u8, granule: u64, packets: &[&[u8]], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(b"OggS");
        out.push(0); // version
        out.push(flags);
        out.extend_from_slice(&granule.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        let crc_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let count_at = out.len();
        out.push(0);
        let mut count = 0usize;
        for packet in packets {
            let mut left = packet.len();
            while left >= 255 {
                out.push(255);
                left -= 255;
                count += 1;
            }
            out.push(left as u8);
            count += 1;
        }
        debug_assert!(count <= MAX_SEGMENTS, "the recorder keeps pages small");
        out[count_at] = count.min(MAX_SEGMENTS) as u8;
        for packet in packets {
            out.extend_from_slice(packet);
        }
        let crc = crc32(&out[start..]);
        out[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        self.sequence = self.sequence.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_known_input() {
        // Reference value of the Ogg CRC (CRC-32/MPEG-2 parameters with a
        // zero initial value, a.k.a. CRC-32/CKSUM without length or final
        // XOR): "123456789" gives 0x89A1897F.
        assert_eq!(crc32(b"123456789"), 0x89a1_897f);
    }

    #[test]
    fn page_lays_out_header_and_lacing() {
        let mut stream = OggStream::new(7);
        let mut out = Vec::new();
        let big = vec![1u8; 300];
        stream.page(BEGIN_OF_STREAM, 960, &[b"abc", &big], &mut out);
        assert_eq!(&out[..4], b"OggS");
        assert_eq!(out[5], BEGIN_OF_STREAM);
        assert_eq!(u64::from_le_bytes(out[6..14].try_into().unwrap()), 960);
        assert_eq!(u32::from_le_bytes(out[14..18].try_into().unwrap()), 7);
        assert_eq!(out[26], 3);
        assert_eq!(&out[27..30], &[3, 255, 45]);
        assert_eq!(out.len(), 30 + 3 + 300);
        let stored = u32::from_le_bytes(out[22..26].try_into().unwrap());
        let mut zeroed = out.clone();
        zeroed[22..26].fill(0);
        assert_eq!(crc32(&zeroed), stored);
    }
}
