//! Opus at 8 kHz for RTP legs, through `opus-rs` (pure Rust, so a build
//! needs only cargo: no libopus, no cmake).
//!
//! The phone side of a bridged call is narrowband G.711, so both directions
//! run at 8 kHz: the encoder takes 20 ms (160 samples) of the phone's audio
//! and makes SILK narrowband packets the browser decodes at 48 kHz as usual;
//! the decoder turns whatever the browser sends (SILK, CELT or hybrid, mono
//! or stereo, 10 to 60 ms) into 8 kHz mono, skipping the work of making
//! audio above 4 kHz that G.711 would discard.
//!
//! Packets come from the network, so a decoder panic (a bug in the codec on
//! a hostile packet) is caught and answered with silence and a fresh
//! decoder, never by taking the call task down.

use std::panic::{AssertUnwindSafe, catch_unwind};

use opus_rs::{Application, OpusDecoder, OpusEncoder};

/// The rate of both directions.
pub(crate) const RATE: i32 = 8000;
/// Samples in 20 ms at [`RATE`].
pub(crate) const FRAME: usize = 160;
/// Samples at [`RATE`] of the longest Opus packet (120 ms).
const MAX_PACKET_SAMPLES: usize = 960;
/// Bytes of the largest packet we make: SILK narrowband at the bitrate
/// below is about 60.
const MAX_ENCODED: usize = 400;
/// Narrowband SILK is transparent for telephone audio well below this.
const BITRATE: i32 = 16_000;
/// Encoder effort (0-10). The encoder is most of a bridged call's cost:
/// measured on one core, 20 ms at 8 kHz takes about 31 µs at 0, 109 µs at 5
/// and 205 µs at 10, while a 1 kHz tone decodes as cleanly at 0 (the input
/// went through G.711 already; there is little left to gain).
const COMPLEXITY: i32 = 0;

#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    #[error("opus codec: {0}")]
    Codec(&'static str),
}

/// Encodes 20 ms frames of 8 kHz mono.
pub(crate) struct Encoder {
    inner: OpusEncoder,
    out: Vec<u8>,
}

impl Encoder {
    pub(crate) fn new() -> Result<Self, OpusError> {
        let mut inner = OpusEncoder::new(RATE, 1, Application::Voip).map_err(OpusError::Codec)?;
        inner.bitrate_bps = BITRATE;
        inner.complexity = COMPLEXITY;
        Ok(Self {
            inner,
            out: vec![0; MAX_ENCODED],
        })
    }

    /// One Opus packet of `pcm` ([`FRAME`] samples); `None` if the encoder
    /// refused it (logged: it should not happen with a fixed frame size).
    pub(crate) fn encode(&mut self, pcm: &[i16]) -> Option<&[u8]> {
        match self.inner.encode_i16(pcm, FRAME, &mut self.out) {
            Ok(n) => self.out.get(..n),
            Err(e) => {
                tracing::debug!(error = e, "opus frame not encoded");
                None
            }
        }
    }
}

/// Decodes Opus packets to 8 kHz mono.
pub(crate) struct Decoder {
    inner: OpusDecoder,
    pcm: Vec<f32>,
}

impl Decoder {
    pub(crate) fn new() -> Result<Self, OpusError> {
        Ok(Self {
            inner: OpusDecoder::new(RATE, 1).map_err(OpusError::Codec)?,
            pcm: vec![0.0; MAX_PACKET_SAMPLES],
        })
    }

    /// Decodes `packet` (or conceals a lost 20 ms if it is empty), appending
    /// 16-bit samples to `out`.
    pub(crate) fn decode(&mut self, packet: &[u8], out: &mut Vec<i16>) {
        let frame_size = if packet.is_empty() {
            FRAME
        } else {
            MAX_PACKET_SAMPLES
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.inner.decode(packet, frame_size, &mut self.pcm)
        }));
        match result {
            Ok(Ok(n)) => out.extend(
                self.pcm[..n.min(self.pcm.len())]
                    .iter()
                    .map(|&s| (s * 32_768.0).clamp(-32_768.0, 32_767.0) as i16),
            ),
            Ok(Err(e)) => tracing::trace!(error = e, "opus packet not decoded"),
            Err(_) => {
                tracing::warn!("opus decoder panicked on a packet; decoder reset");
                if let Ok(fresh) = OpusDecoder::new(RATE, 1) {
                    self.inner = fresh;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Normalized Goertzel power of `hz` in `x` (about 1 for a pure tone).
    pub(crate) fn tone_power(x: &[i16], rate: f32, hz: f32) -> f32 {
        let w = 2.0 * std::f32::consts::PI * hz / rate;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &v in x {
            let s = f32::from(v) + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - c * s1 * s2;
        let energy: f32 = x.iter().map(|&v| f32::from(v) * f32::from(v)).sum();
        power / (energy * x.len() as f32 / 2.0).max(1.0)
    }

    pub(crate) fn tone(hz: f32, start: usize, n: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                ((2.0 * std::f32::consts::PI * hz * t).sin() * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn a_tone_survives_encoding_and_decoding() {
        let mut encoder = Encoder::new().unwrap();
        let mut decoder = Decoder::new().unwrap();
        let mut out = Vec::new();
        for f in 0..50 {
            let packet = encoder
                .encode(&tone(1000.0, f * FRAME, FRAME))
                .unwrap()
                .to_vec();
            out.clear();
            decoder.decode(&packet, &mut out);
            assert_eq!(out.len(), FRAME);
        }
        assert!(tone_power(&out, 8000.0, 1000.0) > 0.5);
        assert!(tone_power(&out, 8000.0, 440.0) < 0.05);
    }

    #[test]
    fn garbage_and_loss_decode_without_panicking() {
        let mut decoder = Decoder::new().unwrap();
        let mut out = Vec::new();
        decoder.decode(&[], &mut out);
        assert_eq!(out.len(), FRAME);
        for packet in [
            &[0xff_u8][..],
            &[0xfc, 0xff, 0xff],
            &[0x03, 0xff],
            &[0x7b; 300],
        ] {
            decoder.decode(packet, &mut out);
        }
        let mut state = 0x1234_5678u32;
        for len in 2..200 {
            let packet: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            decoder.decode(&packet, &mut out);
        }
    }
}
