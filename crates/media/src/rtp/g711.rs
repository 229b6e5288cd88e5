//! G.711 (ITU-T G.711) µ-law and A-law, from the standard's segment
//! formulas: 13/14-bit linear PCM compressed to 8 bits per sample. Decoding
//! goes through 256-entry tables built at compile time; encoding is a few
//! shifts (cheaper than a 64K table in cache).

use super::G711;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32_635;

/// One linear sample to µ-law.
pub(crate) fn linear_to_ulaw(sample: i16) -> u8 {
    let mut x = i32::from(sample);
    let sign = if x < 0 {
        x = -x;
        0x80
    } else {
        0
    };
    // The bias puts the highest set bit in positions 7..=14: the segment.
    x = x.min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = (31 - x.leading_zeros() as i32) - 7;
    let mantissa = (x >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

const fn ulaw_to_linear_const(code: u8) -> i16 {
    let code = !code;
    let exponent = (code >> 4) & 0x07;
    let mantissa = (code & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if code & 0x80 == 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// One linear sample to A-law.
pub(crate) fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13 bits; the sign bit is set for positive values.
    let mut x = i32::from(sample) >> 3;
    let sign = if x >= 0 {
        0x80
    } else {
        x = -x - 1;
        0
    };
    let (exponent, mantissa) = if x < 32 {
        (0, x >> 1)
    } else {
        let exponent = (31 - x.leading_zeros() as i32) - 4;
        (exponent, (x >> exponent) & 0x0f)
    };
    ((sign | (exponent << 4) | mantissa) ^ 0x55) as u8
}

const fn alaw_to_linear_const(code: u8) -> i16 {
    let code = code ^ 0x55;
    let exponent = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if code & 0x80 == 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_to_linear_const(i as u8)
        } else {
            ulaw_to_linear_const(i as u8)
        };
        i += 1;
    }
    table
}

static ULAW: [i16; 256] = table(false);
static ALAW: [i16; 256] = table(true);

/// Decodes `payload` into `pcm` (cleared first).
pub(crate) fn decode(codec: G711, payload: &[u8], pcm: &mut Vec<i16>) {
    let table = match codec {
        G711::Pcmu => &ULAW,
        G711::Pcma => &ALAW,
    };
    pcm.clear();
    pcm.extend(payload.iter().map(|&b| table[usize::from(b)]));
}

/// Peak below which a frame counts as quiet (about -40 dBFS): a pause in
/// speech, where dropping the frame is not heard.
const QUIET_PEAK: i16 = 328;

/// Whether every sample of `payload` is below [`QUIET_PEAK`].
pub(crate) fn is_quiet(codec: G711, payload: &[u8]) -> bool {
    let table = match codec {
        G711::Pcmu => &ULAW,
        G711::Pcma => &ALAW,
    };
    payload
        .iter()
        .all(|&b| table[usize::from(b)].unsigned_abs() < QUIET_PEAK.unsigned_abs())
}

/// Encodes `pcm`, appending to `out`.
pub(crate) fn encode(codec: G711, pcm: &[i16], out: &mut Vec<u8>) {
    match codec {
        G711::Pcmu => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
        G711::Pcma => out.extend(pcm.iter().map(|&s| linear_to_alaw(s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_quiet_and_speech_level_is_not() {
        for codec in [G711::Pcmu, G711::Pcma] {
            let mut silence = Vec::new();
            encode(codec, &[0, 40, -40, 200, -200], &mut silence);
            assert!(is_quiet(codec, &silence), "{codec:?}");
            let mut loud = Vec::new();
            encode(codec, &[0, 0, 3000, 0], &mut loud);
            assert!(!is_quiet(codec, &loud), "{codec:?}");
        }
    }

    #[test]
    fn ulaw_known_values() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(ULAW[0xff], 0);
        assert_eq!(ULAW[0x7f], 0);
        assert_eq!(ULAW[0x80], 32_124);
        assert_eq!(ULAW[0x00], -32_124);
        // Segment 0 steps by 8 (0x8f..0xfe region): code 0xfe is 8.
        assert_eq!(ULAW[0xfe], 8);
        assert_eq!(linear_to_ulaw(1000), 0xce);
        assert_eq!(ULAW[0xce], 988);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
        assert_eq!(ALAW[0xd5], 8);
        assert_eq!(ALAW[0x55], -8);
        assert_eq!(ALAW[0xaa], 32_256);
        assert_eq!(ALAW[0x2a], -32_256);
        assert_eq!(linear_to_alaw(1000), 0xfa);
        assert_eq!(ALAW[0xfa], 1008);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(ALAW[usize::from(code)]),
                code,
                "A-law {code:#x}"
            );
            // µ-law has two zeros (0x7f, 0xff); both decode to 0, which encodes as 0xff.
            if code != 0x7f {
                assert_eq!(
                    linear_to_ulaw(ULAW[usize::from(code)]),
                    code,
                    "µ-law {code:#x}"
                );
            }
        }
    }

    #[test]
    fn quantization_error_is_small() {
        for codec in [G711::Pcmu, G711::Pcma] {
            let pcm: Vec<i16> = (-32_000..32_000).step_by(97).map(|x| x as i16).collect();
            let mut coded = Vec::new();
            encode(codec, &pcm, &mut coded);
            let mut back = Vec::new();
            decode(codec, &coded, &mut back);
            for (a, b) in pcm.iter().zip(&back) {
                let error = (i32::from(*a) - i32::from(*b)).abs();
                // Segment steps are at most 1/16 of the magnitude (plus the smallest step).
                assert!(
                    error <= i32::from(*a).abs() / 16 + 16,
                    "{codec:?} {a} -> {b}"
                );
            }
        }
    }
}
