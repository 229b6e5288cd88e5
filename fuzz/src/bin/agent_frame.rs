fn main() {
    afl::fuzz!(|data: &[u8]| {
        switchboard_fuzz::server_targets::agent_frame(data);
    });
}
