//! Replays the fuzz corpora of the SIP targets (see docs/fuzzing.md) through
//! the same code the fuzzer runs, so every input that once crashed stays fixed.

#[path = "../../../fuzz/targets/replay.rs"]
mod replay;
#[path = "../../../fuzz/targets/sip.rs"]
mod targets;

#[test]
fn sip_message_corpus() {
    replay::replay("sip_message", targets::sip_message);
}

#[test]
fn sdp_corpus() {
    replay::replay("sdp", targets::sdp);
}
