//! Replays the fuzz corpora of the server's targets (see docs/fuzzing.md)
//! through the same code the fuzzer runs, so every input that once crashed
//! stays fixed.

#[path = "../../../fuzz/targets/replay.rs"]
mod replay;
#[path = "../../../fuzz/targets/server.rs"]
mod targets;

#[test]
fn visitor_frame_corpus() {
    replay::replay("visitor_frame", targets::visitor_frame);
}

#[test]
fn agent_frame_corpus() {
    replay::replay("agent_frame", targets::agent_frame);
}

#[test]
fn identity_token_corpus() {
    replay::replay("identity_token", targets::identity_token);
}
