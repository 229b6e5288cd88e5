//! Replays the `sdp` fuzz corpus (see docs/fuzzing.md) through the browser
//! offer target, so every offer that once crashed stays fixed.

#[path = "../../../fuzz/targets/replay.rs"]
mod replay;

#[test]
fn sdp_corpus_as_browser_offers() {
    replay::replay("sdp", media::fuzzing::webrtc_offer);
}
