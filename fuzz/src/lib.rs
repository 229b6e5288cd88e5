//! The fuzz targets' entry points. The files under `targets/` are shared with
//! the corpus replay tests (`crates/sip/tests/fuzz_corpora.rs`,
//! `crates/server/tests/fuzz_corpora.rs`), which include them by path, so the
//! fuzzer and CI run the same code on the same inputs.

#[path = "../targets/sip.rs"]
pub mod sip_targets;

#[path = "../targets/server.rs"]
pub mod server_targets;

/// A trunk's SDP body and a browser's offer: the same bytes to both parsers.
pub fn sdp(data: &[u8]) {
    sip_targets::sdp(data);
    media::fuzzing::webrtc_offer(data);
}
